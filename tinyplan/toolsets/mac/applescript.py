r"""AppleScript string literals and the command runner the macOS driver uses.

TinyAgent's macOS tools (Erdogan et al. 2024) build AppleScript sources by pasting text between quotes, escaping at
most the double quote; a contact name or an email body holding ``" & (do shell script "...") & "`` runs arbitrary
code. Here every value goes through `applescript_string`, which always yields exactly one string-literal token:
the AppleScript lexer ends a string only at an unescaped ``"``, and both ``"`` and ``\`` are escaped.

Commands run through an injectable `Runner` (an async callable taking an argv list), so the driver is testable on any
platform by recording the scripts it would run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio

from tinyplan.toolsets.mac._errors import AppleScriptError, AppleScriptValueError

__all__ = [
    "CommandResult",
    "Runner",
    "SubprocessRunner",
    "applescript_list",
    "applescript_string",
    "run_osascript",
]

# The escapes AppleScript understands inside a string literal. Nothing else needs escaping to stay one token: the
# lexer reads raw characters (line separators and other control characters included) until an unescaped quote.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def applescript_string(value: str) -> str:
    r"""Write ``value`` as one AppleScript string literal, e.g. ``'say "hi"'`` → ``"say \"hi\""``.

    Backslashes and double quotes are escaped, line feeds, carriage returns and tabs become ``\n``, ``\r``,
    ``\t`` (so the script's line structure stays intact). AppleScript has no escape for other control characters;
    they are kept verbatim inside the quotes, where they cannot end the literal.

    Raises:
        AppleScriptValueError: ``value`` contains a NUL character (it cannot be passed to ``osascript``).
    """
    if "\x00" in value:
        raise AppleScriptValueError("text with a NUL character cannot be passed to AppleScript")
    return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'


def applescript_list(values: Iterable[str]) -> str:
    """Write strings as an AppleScript list literal, e.g. ``{"a@x.org", "b@y.org"}`` (``{}`` when empty).

    Raises:
        AppleScriptValueError: A value contains a NUL character.
    """
    return "{" + ", ".join(applescript_string(v) for v in values) + "}"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command: exit status and decoded output."""

    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs one command (argv list, no shell) and returns its `CommandResult`; never raises for a non-zero exit."""

    async def __call__(self, argv: Sequence[str]) -> CommandResult:
        """Run ``argv`` and wait for it to finish."""
        ...


class SubprocessRunner:
    """The real runner: starts the command with `anyio.run_process` (no shell is involved)."""

    def __init__(self, timeout: float | None = 60.0) -> None:
        """A runner that stops a command after ``timeout`` seconds.

        Args:
            timeout: Seconds a command may take; None waits forever.
        """
        self.timeout = timeout

    async def __call__(self, argv: Sequence[str]) -> CommandResult:
        """Run ``argv``.

        Raises:
            AppleScriptError: The program cannot be started (e.g. ``osascript`` outside macOS) or timed out.
        """
        try:
            with anyio.fail_after(self.timeout):
                done = await anyio.run_process(list(argv), check=False)
        except TimeoutError:
            raise AppleScriptError(f"{argv[0]} did not finish within {self.timeout:g} s") from None
        except OSError as exc:
            raise AppleScriptError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        return CommandResult(
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )


async def run_osascript(runner: Runner, script: str) -> str:
    """Run an AppleScript source with ``osascript -e`` and return its result text (stdout without the final newline).

    Raises:
        AppleScriptError: ``osascript`` exited with a non-zero status (its stderr is in the message).
    """
    result = await runner(["osascript", "-e", script])
    if result.returncode != 0:
        raise AppleScriptError(
            f"AppleScript failed (exit {result.returncode}): {result.stderr.strip() or 'no error text'}",
            returncode=result.returncode,
            stderr=result.stderr,
        )
    return result.stdout.removesuffix("\n")
