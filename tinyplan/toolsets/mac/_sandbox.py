"""Where the Mac tools may read files from: a home folder plus the folders the user allows. One check for every path.

Plans are written by a model, so every path in them is untrusted input: ``open_and_get_file_path("/etc/passwd")``,
``"../../.ssh/id_rsa"`` as an attachment, or a symlink in the home that points elsewhere must not read (or attach, or
summarize) a file outside the folders the user chose. `FileSandbox.check` is the one place that decides; both
drivers and the tools call it for every path they read, attach or search.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from tinyplan.toolsets.mac._errors import ToolInputError

__all__ = ["SLASH_LOOKALIKES", "FileSandbox"]

#: Characters that look like ``/`` or ``\`` (U+2215 division slash, U+2044 fraction slash, U+29F8 big solidus, ...),
#: beyond those NFKC already turns into ASCII (U+FF0F fullwidth solidus, U+FF3C fullwidth reverse solidus). A path is
#: also checked as it *looks* with these read as ``/``; none of them is ever used as a separator.
SLASH_LOOKALIKES = "\\\u2044\u2215\u2571\u2572\u27cb\u27cd\u29f5\u29f8\u29f9\u2afb\u2afd\u3033\u30ce\u31d3\ufe68"
_AS_SLASH = str.maketrans(dict.fromkeys(SLASH_LOOKALIKES, "/"))


def _looks(path: str) -> str:
    """How ``path`` reads to a person: NFKC (U+2025 is ``..``, U+FF0F is ``/``) with slash look-alikes as ``/``."""
    return unicodedata.normalize("NFKC", path).translate(_AS_SLASH)


def _real(path: str | os.PathLike[str]) -> Path:
    """The real path: ``~`` expanded, every ``..`` and symlink resolved (the part that exists; the rest appended)."""
    return Path(os.path.realpath(Path(path).expanduser()))


class FileSandbox:
    r"""The folders files may be read from: ``home`` and the explicitly allowed roots, nothing else.

    The rule, for a path given as text (relative paths are relative to ``home``):

    * the **real file** must be inside a root: the path is resolved (``~`` expanded, ``..`` and every symlink
      followed, with `os.path.realpath`) and the result must be `Path.is_relative_to` a resolved root. This refuses
      absolute paths elsewhere, ``..`` escapes and symlinks (or symlinked folders) that point out;
    * the path must also **look** inside: read with NFKC compatibility forms (U+2025 two dot leader is ``..``,
      U+FF0F fullwidth solidus is ``/``) and every slash look-alike (`SLASH_LOOKALIKES`: U+2215 division slash,
      U+2044 fraction slash, ``\``, ...) as ``/``, it must resolve inside a root too. So ``..`` + U+2215 +
      ``etc`` (which looks like ``../etc``) is refused rather than searched for as a file name.

    The path is never normalised into a different file: what is read, attached or searched is the real path of the
    text as given, and only that. Containment compares path components exactly (no case folding or Unicode
    normalisation), so on a case-insensitive file system a differently spelled root fails closed.

    The check and the read are separate system calls; someone who can change the allowed folders' symlinks between
    the two could still redirect a read. That is outside this sandbox's threat model (untrusted *plans*, not
    untrusted local users), and the real path (without symlinks) is what is read.

    Args:
        home: The home folder: the first root, and the base of relative paths.
        allow: More roots (folders, or single files) the user allows explicitly.
        home_label: How messages name ``home`` (e.g. "the home folder", "your home folder").

    Attributes:
        home: The resolved home.
        allowed: The resolved extra roots, without duplicates.
    """

    def __init__(
        self,
        home: str | os.PathLike[str],
        allow: Iterable[str | os.PathLike[str]] = (),
        *,
        home_label: str = "the home folder",
    ) -> None:
        self.home = _real(home)
        extra: list[Path] = []
        for root in allow if not isinstance(allow, str | os.PathLike) else [allow]:
            real = _real(root)
            if real != self.home and real not in extra:
                extra.append(real)
        self.allowed = tuple(extra)
        self.home_label = home_label

    def __repr__(self) -> str:
        return f"FileSandbox(home={str(self.home)!r}, allow={[str(p) for p in self.allowed]!r})"

    @property
    def roots(self) -> tuple[Path, ...]:
        """The home, then the allowed roots."""
        return (self.home, *self.allowed)

    def describe(self) -> str:
        """Where files may come from, for messages: ``the home folder /h and the allowed folders /a, /b``."""
        where = f"{self.home_label} {self.home}"
        if len(self.allowed) == 1:
            where += f" and the allowed folder {self.allowed[0]}"
        elif self.allowed:
            where += f" and the allowed folders {', '.join(str(p) for p in self.allowed)}"
        return where

    def contains(self, real: Path) -> bool:
        """Whether an already resolved path is one of the roots or inside one."""
        return any(real.is_relative_to(root) for root in self.roots)

    def _resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return _real(candidate if candidate.is_absolute() else self.home / candidate)

    def check(self, path: str | os.PathLike[str], what: str = "the path") -> Path:
        """The real path of ``path`` if it is inside the sandbox (see the class docs); it need not exist.

        Args:
            path: An absolute path, a path relative to the home, or ``~/...``.
            what: What the path is, for the message (``"pdf_path"``, ``"attachment 2"``). The path itself is not
                repeated in the message, so nothing outside the sandbox is echoed back.

        Raises:
            ToolInputError: The path leads (or looks like it leads) outside the home and the allowed roots, or it is
                not a usable path (a NUL character, undecodable text).
        """
        text = os.fspath(path)
        try:
            real = self._resolve(text)
            looks = _looks(text)
            seen = real if looks == text else self._resolve(looks)
        except (OSError, ValueError, RuntimeError):  # NUL, unencodable text, no home for "~user"
            raise ToolInputError(f"{what} is not a usable path (a NUL or an undecodable character)") from None
        if not (self.contains(real) and self.contains(seen)):
            raise ToolInputError(
                f"{what} leads outside the folders files may come from: {self.describe()}; use a file inside them "
                "(other folders must be allowed explicitly, with allow=[...])"
            )
        return real

    def allows(self, path: str | os.PathLike[str]) -> bool:
        """Whether `check` accepts ``path``."""
        try:
            self.check(path)
        except ToolInputError:
            return False
        return True

    def existing_file(self, path: str | os.PathLike[str], what: str = "the path") -> Path | None:
        """The real path of ``path`` when it is inside the sandbox and a regular file; None when no such file exists.

        Raises:
            ToolInputError: As `check`: the path is outside the sandbox (whether or not a file is there).
        """
        real = self.check(path, what)
        try:
            return real if real.is_file() else None
        except OSError:  # a name too long, a permission error on a folder on the way
            return None

    def walk(self) -> list[tuple[Path, Path]]:
        """Every visible file under the roots, home first, as (the path found, its real path), all inside the sandbox.

        Hidden files and folders (a leading dot) are skipped; symlinked folders are not entered, and a symlinked
        file is kept only when its target is inside the sandbox.
        """
        found: list[tuple[Path, Path]] = []
        seen: set[Path] = set()
        for i, root in enumerate(self.roots):
            if any(root.is_relative_to(earlier) for earlier in self.roots[:i]):
                continue  # walked already, as part of an earlier root
            if root.is_file():
                if root not in seen:
                    seen.add(root)
                    found.append((root, root))
                continue
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    path = Path(folder) / name
                    real = _real(path) if path.is_symlink() else path
                    if real not in seen and self.contains(real):
                        seen.add(real)
                        found.append((path, real))
        return found
