"""The whisper.cpp server and OpenAI-compatible transcribers against a real HTTP server on 127.0.0.1 that reads the
multipart upload the way those servers do."""

from __future__ import annotations

import io
import socket
import wave
from pathlib import Path

import numpy as np
import pytest
from stt_fakes import FakeSTT

from tinyplan.voice import (
    OpenAITranscriber,
    Transcriber,
    TranscriberUnavailableError,
    TranscriptionError,
    WhisperCppServerTranscriber,
    wav_bytes,
)


def speech_like(seconds: float = 0.5, rate: int = 22_050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_whisper_cpp_gets_a_16_khz_wav_with_the_names_prompt(stt: FakeSTT, tmp_path: Path) -> None:
    wav = tmp_path / "request.wav"
    wav.write_bytes(wav_bytes(speech_like(), rate=22_050))  # a 22.05 kHz file, as espeak-ng writes
    transcriber = WhisperCppServerTranscriber(stt.url, prompt="Sid Jha, Lutfi Eren Erdogan.")
    assert isinstance(transcriber, Transcriber)
    assert transcriber.transcribe(wav) == "Text Sid and Lutfi."
    [upload] = stt.uploads
    assert upload.path == "/inference"
    assert upload.fields == {
        "response_format": "json",
        "temperature": "0.0",
        "language": "en",
        "prompt": "Sid Jha, Lutfi Eren Erdogan.",
    }
    filename, content_type, data = upload.files["file"]
    assert filename.endswith(".wav") and content_type == "audio/wav"
    with wave.open(io.BytesIO(data)) as w:  # what a whisper.cpp server without --convert needs
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16_000, 1, 2)
        assert w.getnframes() == 8_000
    # an array at 16 kHz goes the same way
    transcriber.transcribe(speech_like(rate=16_000))
    assert len(stt.uploads) == 2
    transcriber.close()


def test_openai_transcriptions_get_the_model_key_and_prompt(
    stt: FakeSTT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    transcriber = OpenAITranscriber(stt.url + "/v1", model="whisper-large-v3", prompt="Lutfi.")
    assert transcriber.transcribe(speech_like(rate=16_000)) == "Text Sid and Lutfi."
    [upload] = stt.uploads
    assert upload.path == "/v1/audio/transcriptions"
    assert upload.headers["Authorization"] == "Bearer sk-test"
    assert upload.fields["model"] == "whisper-large-v3" and upload.fields["prompt"] == "Lutfi."
    assert upload.fields["response_format"] == "json"
    # a file in another format goes as it is: the API decodes it
    mp3 = tmp_path / "request.mp3"
    mp3.write_bytes(b"ID3\x03" + b"\x01" * 64)
    transcriber.transcribe(mp3)
    assert stt.uploads[-1].files["file"] == ("request.mp3", "application/octet-stream", mp3.read_bytes())


def test_server_failures_are_transcription_errors(stt: FakeSTT) -> None:
    transcriber = WhisperCppServerTranscriber(stt.url)
    stt.answer = lambda u: (500, {"error": "failed to read WAV file"})
    with pytest.raises(TranscriptionError, match=r"HTTP 500.*failed to read WAV"):
        transcriber.transcribe(speech_like(rate=16_000))
    stt.answer = lambda u: (200, {"error": "no audio"})
    with pytest.raises(TranscriptionError, match="failed: no audio"):
        transcriber.transcribe(speech_like(rate=16_000))
    stt.answer = lambda u: (200, "<html>not json</html>")
    with pytest.raises(TranscriptionError, match="not JSON"):
        transcriber.transcribe(speech_like(rate=16_000))


def test_a_server_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TranscriberUnavailableError, match=r"cannot reach the whisper\.cpp server"):
        WhisperCppServerTranscriber(f"http://127.0.0.1:{port}").transcribe(speech_like(rate=16_000))
