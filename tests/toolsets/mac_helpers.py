"""Helpers shared by the Mac toolset tests (imported by module name: tests/toolsets is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tinyplan import Toolset
from tinyplan.toolsets.mac import CommandResult


async def call(toolset: Toolset, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a tool the way the task fetching unit does: validate, then call."""
    tool = toolset[name]
    return await tool.call(tool.validate(args, kwargs))


class RecordingRunner:
    """A runner that records every argv and answers from a script of replies (stdout texts or CommandResults)."""

    def __init__(self, replies: Sequence[str | CommandResult] | Callable[[list[str]], str | CommandResult] = ()):
        self.calls: list[list[str]] = []
        self._replies = replies if callable(replies) else list(replies)

    async def __call__(self, argv: Sequence[str]) -> CommandResult:
        self.calls.append(list(argv))
        if callable(self._replies):
            reply = self._replies(list(argv))
        elif self._replies:
            reply = self._replies.pop(0)
        else:
            reply = ""
        return reply if isinstance(reply, CommandResult) else CommandResult(0, reply, "")

    @property
    def scripts(self) -> list[str]:
        return [c[2] for c in self.calls if c[:2] == ["osascript", "-e"]]
