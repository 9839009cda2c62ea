"""Recording until silence (on synthetic blocks), ``tinyplan listen`` without a microphone, and ``tinyplan run
--audio`` through a whisper.cpp server stand-in and a scripted llama-server."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from backend_fakes import FakeServer
from click.testing import CliRunner
from stt_fakes import FakeSTT
from test_cli import one_line_error, scripted_llama_server

from tinyplan.cli import main
from tinyplan.voice import VoiceError, until_silence, wav_bytes

RATE = 16_000
BLOCK = 480  # 30 ms


def blocks(*parts: tuple[str, float]) -> list[np.ndarray]:
    """30 ms blocks of ("quiet" | "speech", seconds) parts: quiet is faint noise, speech a loud tone."""
    rng = np.random.default_rng(0)
    out: list[np.ndarray] = []
    t = 0
    for kind, seconds in parts:
        for _ in range(round(seconds * RATE / BLOCK)):
            if kind == "quiet":
                out.append((rng.standard_normal(BLOCK) * 0.001).astype(np.float32))
            else:
                n = np.arange(t, t + BLOCK)
                out.append((0.3 * np.sin(2 * np.pi * 300 * n / RATE)).astype(np.float32))
            t += BLOCK
    return out


def test_recording_starts_with_speech_and_ends_after_a_pause() -> None:
    audio = until_silence(blocks(("quiet", 1.0), ("speech", 1.5), ("quiet", 0.3), ("speech", 0.5), ("quiet", 3.0)))
    seconds = len(audio) / RATE
    # 0.3 s before the speech, 1.5 + 0.3 + 0.5 s of request, then 1 s of silence ends it
    assert 3.4 <= seconds <= 3.8, seconds
    loud = np.abs(audio) > 0.1
    assert not loud[: int(0.25 * RATE)].any() and loud[int(0.4 * RATE) : int(0.5 * RATE)].any()


def test_recording_stops_at_max_seconds_and_refuses_silence() -> None:
    audio = until_silence(blocks(("quiet", 0.5), ("speech", 20.0)), max_seconds=5.0)
    assert 5.0 <= len(audio) / RATE <= 5.5
    with pytest.raises(VoiceError, match="heard nothing for 2 s"):
        until_silence(blocks(("quiet", 10.0)), start_timeout=2.0)
    with pytest.raises(VoiceError, match="ended before anyone spoke"):
        until_silence(blocks(("quiet", 1.0)))


def has_microphone() -> bool:
    try:
        import sounddevice

        sounddevice.query_devices(kind="input")
    except Exception:
        return False
    return True


def test_listen_without_a_microphone_is_one_clear_error() -> None:
    if has_microphone():
        pytest.skip("this machine has a microphone")
    res = CliRunner().invoke(main, ["listen", "--home", "never-used"])
    line = one_line_error(res)
    assert "no microphone" in line and "tinyplan: error:" in line


OWN_TOOLS = '''
from tinyplan import tool


@tool
def lookup(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return {"Sid": "+1 510 555 0101", "Lutfi": "+1 510 555 0102"}[name]


@tool(side_effects=True)
def send_text(numbers: list[str], message: str) -> str:
    """Send a text message.

    Args:
        numbers: Phone numbers.
        message: The text.
    """
    return f"Drafted a text to {', '.join(numbers)}: {message}"


tools = [lookup, send_text]
'''


@pytest.fixture
def own_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "voice_cli_tools.py").write_text(OWN_TOOLS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "voice_cli_tools", raising=False)
    return "voice_cli_tools:tools"


def spoken(tmp_path: Path) -> Path:
    t = np.arange(RATE) / RATE
    path = tmp_path / "request.wav"
    path.write_bytes(wav_bytes((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)))
    return path


def test_run_audio_shows_the_transcript_and_plans_it(
    stt: FakeSTT, fake_server: FakeServer, own_tools: str, tmp_path: Path
) -> None:
    stt.answer = lambda u: (200, {"text": " Text Sid and Lutfi that the meeting moved to 3 p.m."})
    plan = '1. lookup("Sid")\n2. lookup("Lutfi")\n3. send_text(["$1", "$2"], "moved to 3 p.m.")\n4. join()<END_OF_PLAN>'
    prompts = scripted_llama_server(fake_server, plan)
    audio = spoken(tmp_path)
    args = ["run", "--audio", str(audio), "--whisper-server", stt.url, "--server", fake_server.url]
    res = CliRunner().invoke(main, [*args, "--toolset", own_tools], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "─ heard ─" in out and "Text Sid and Lutfi that the meeting moved to 3 p.m." in out
    assert out.index("─ heard ─") < out.index("─ plan ─") < out.index("─ answer ─")
    assert "Drafted a text to +1 510 555 0101, +1 510 555 0102" in out
    # the transcript is the request the planner saw; the names prompt held the tools' words (own toolset: no contacts)
    assert "Question: Text Sid and Lutfi that the meeting moved to 3 p.m." in prompts[0]
    assert stt.uploads[0].fields["prompt"] == "Lookup, send."

    as_json = CliRunner().invoke(main, [*args, "--toolset", own_tools, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert as_json.stdout.lstrip().startswith("{")  # stdout stays JSON; the transcript goes to stderr
    assert "heard: Text Sid and Lutfi" in as_json.stderr


def test_run_audio_takes_the_contact_names_of_the_mac_home(
    stt: FakeSTT, fake_server: FakeServer, tmp_path: Path
) -> None:
    stt.answer = lambda u: (200, {"text": "What is Lutfi's number?"})
    scripted_llama_server(fake_server, '1. get_phone_number("Lutfi")\n2. join()<END_OF_PLAN>')
    home = tmp_path / "home"
    res = CliRunner().invoke(
        main,
        ["run", "--audio", str(spoken(tmp_path)), "--whisper-server", stt.url, "--server", fake_server.url,
         "--home", str(home), "--dry-run"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    prompt = stt.uploads[0].fields["prompt"]
    assert prompt.startswith("Sid, Lutfi, Amir, Maya") and "sms" in prompt.lower()


def test_audio_and_query_errors_are_one_line(stt: FakeSTT, tmp_path: Path, own_tools: str) -> None:
    audio = spoken(tmp_path)
    both = CliRunner().invoke(main, ["run", "Text Sid", "--audio", str(audio), "--toolset", own_tools])
    assert both.exit_code == 2 and "give QUERY or --audio, not both" in both.output
    neither = CliRunner().invoke(main, ["run", "--toolset", own_tools, "--dry-run"])
    assert "the request is empty" in one_line_error(neither)
    stt.answer = lambda u: (200, {"text": "  "})
    silent = CliRunner().invoke(
        main, ["run", "--audio", str(audio), "--whisper-server", stt.url, "--toolset", own_tools]
    )
    assert f"heard no words in {audio}" in one_line_error(silent)
    missing = CliRunner().invoke(main, ["run", "--audio", str(tmp_path / "nope.wav"), "--toolset", own_tools])
    assert missing.exit_code == 2 and "does not exist" in missing.output
