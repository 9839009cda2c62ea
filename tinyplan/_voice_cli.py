"""The command line's voice parts: ``tinyplan run --audio FILE`` and ``tinyplan listen``.

``tinyplan run --audio FILE`` transcribes before planning; ``tinyplan listen`` records from the microphone until the
speaker stops, then runs ``tinyplan run --audio`` on the recording.

Imports of the voice extra happen inside the functions, so ``tinyplan --help`` needs none of it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from tinyplan._tools import Toolset

__all__ = ["hear", "listen_command", "transcribe_request"]


def transcribe_request(audio: Path, tools: Toolset, home: Path | None, *, server: str | None = None) -> tuple[str, str]:
    """Transcribe a spoken request with the names prompt (the home's contact names, the tools' words).

    Args:
        audio: A WAV file (or, with ``server``, any file the server reads).
        tools: The toolset the request will be planned with.
        home: The Mac toolset's home folder whose contacts are the names to expect; None: no contact names.
        server: A whisper.cpp server's URL; None: the bundled Whisper tiny.en in this process.

    Returns:
        ``(text, note)``: the transcript, and a line saying how long it took.

    Raises:
        VoiceError: The audio cannot be read, or the transcriber is missing or failed (with an install hint).
    """
    from tinyplan.voice import FasterWhisperTranscriber, WhisperCppServerTranscriber, contact_names, names_prompt
    from tinyplan.voice import tool_words as words_of

    prompt = names_prompt(contact_names(home) if home is not None else [], words_of(tools))
    started = time.perf_counter()
    if server:
        remote = WhisperCppServerTranscriber(server, prompt=prompt)
        try:
            text = remote.transcribe(audio)
        finally:
            remote.close()
        return text, f"transcribed by {server} in {time.perf_counter() - started:.2f} s"
    local = FasterWhisperTranscriber(prompt=prompt)
    text = local.transcribe(audio)
    return text, (
        f"transcribed with Whisper tiny.en in {local.last_seconds or 0.0:.2f} s "
        f"(model loaded in {local.load_seconds or 0.0:.2f} s)"
    )


def hear(audio: Path, tools: Toolset, *, mac_home: Path | None, mac: bool, server: str | None, quiet: bool) -> str:
    """``tinyplan run --audio``: transcribe, show the transcript (on stderr with ``--json``), return it.

    Args:
        audio: The recording.
        tools: The toolset the request will be planned with.
        mac_home: The Mac toolset's ``--home`` (None: its default home); its contacts are the names to expect.
        mac: Whether ``tools`` is the Mac toolset (else no contact names are looked up).
        server: ``--whisper-server``.
        quiet: Print the transcript as one line on stderr instead of a panel on stdout.

    Raises:
        VoiceError: The audio cannot be read, nothing was heard, or the transcriber is missing or failed.
    """
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

    from tinyplan.voice import VoiceError

    home = None
    if mac:
        from tinyplan.toolsets.mac._home import default_home

        home = mac_home if mac_home is not None else default_home()
    text, note = transcribe_request(audio, tools, home, server=server)
    if not text.strip():
        raise VoiceError(f"heard no words in {audio}")
    if quiet:
        click.echo(f"tinyplan: heard: {text} ({note})", err=True)
    else:
        console = Console(highlight=False)
        console.print(Panel(Text(text), title="heard", title_align="left", border_style="magenta"))
        console.print(Text(note, style="dim"))
    return text


@click.command(
    "listen",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["-h", "--help"]},
)
@click.option("--silence", default=1.0, show_default=True, type=click.FloatRange(0.2, 10.0),
              help="Seconds of quiet that end the request.")  # fmt: skip
@click.option("--max-seconds", default=15.0, show_default=True, type=click.FloatRange(1.0, 120.0),
              help="The longest request recorded.")  # fmt: skip
@click.option("--device", metavar="DEVICE", help="Input device, index or name (default: the default microphone).")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="Keep the recording as a WAV file.")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def listen_command(
    ctx: click.Context,
    silence: float,
    max_seconds: float,
    device: str | None,
    save: Path | None,
    run_args: tuple[str, ...],
) -> None:
    """Record a request from the microphone until you stop speaking, then run it like `tinyplan run --audio`.

    RUN_ARGS are `tinyplan run` options, e.g. `tinyplan listen --home ./my-home -v`. Needs a microphone and the
    voice extra (pip install 'tinyplan[voice]').
    """
    from tinyplan.cli import _guard, run

    recording: list[Path] = []

    def record() -> None:
        from tinyplan.voice import record_until_silence, wav_bytes

        chosen: int | str | None = int(device) if device is not None and device.isdigit() else device
        samples = record_until_silence(
            silence=silence,
            max_seconds=max_seconds,
            device=chosen,
            on_ready=lambda: click.echo("tinyplan: listening (speak now; a pause ends the request)", err=True),
        )
        if save is not None:
            path = save
        else:
            fd, name = tempfile.mkstemp(prefix="tinyplan-listen-", suffix=".wav")
            os.close(fd)
            path = Path(name)
        path.write_bytes(wav_bytes(samples))
        recording.append(path)

    _guard("--debug" in run_args, record)
    path = recording[0]
    try:
        with run.make_context("run", ["--audio", str(path), *run_args], parent=ctx) as sub:
            run.invoke(sub)
    finally:
        if save is None:
            path.unlink(missing_ok=True)
