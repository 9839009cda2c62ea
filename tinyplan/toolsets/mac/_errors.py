"""Errors the Mac toolset's tools raise. The task fetching unit turns them into error observations."""

from __future__ import annotations

from tinyplan._errors import TinyplanError

__all__ = [
    "AppleScriptError",
    "AppleScriptValueError",
    "ContactNotFoundError",
    "DateFormatError",
    "MacToolError",
    "NoteNotFoundError",
    "ToolFileNotFoundError",
    "ToolInputError",
    "ZoomError",
]


class MacToolError(TinyplanError):
    """Base class of every error a Mac toolset tool raises on purpose. The message is written for the model to read."""


class ToolInputError(MacToolError):
    """An argument has a value the tool cannot use (an unknown transport mode, a priority out of range, ...)."""


class DateFormatError(ToolInputError):
    """A date is not ISO ``YYYY-MM-DD HH:MM:SS`` (or ``YYYY-MM-DD``), or an end comes before its start."""


class ContactNotFoundError(MacToolError):
    """No contact matches a name, or the contact has no phone number / email address."""


class ToolFileNotFoundError(MacToolError):
    """No file matches a name (Spotlight on macOS, the home folder in the portable driver)."""


class NoteNotFoundError(MacToolError):
    """No note matches a name."""


class AppleScriptValueError(MacToolError):
    """A value cannot be placed in an AppleScript source (it holds a NUL character, which osascript cannot carry)."""


class AppleScriptError(MacToolError):
    """``osascript`` (or another macOS command) failed.

    Attributes:
        returncode: The command's exit status.
        stderr: What it wrote to standard error.
    """

    def __init__(self, message: str, *, returncode: int = 1, stderr: str = "") -> None:
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)


class ZoomError(MacToolError):
    """The Zoom REST API cannot be used: no access token, the request failed, or the answer has no join URL."""
