"""The sample home folder shipped as package data, and the per-user default home."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tinyplan.toolsets.mac._errors import MacToolError

__all__ = ["copy_sample_home", "default_home", "sample_home_path"]

#: Environment variable naming the home folder used when ``mac_toolset(home=None)``.
HOME_ENV = "TINYPLAN_MAC_HOME"


def sample_home_path() -> Path:
    """The sample home inside the installed package (read it, do not write to it; see `copy_sample_home`)."""
    return Path(__file__).resolve().parent / "sample_home"


def copy_sample_home(dest: str | os.PathLike[str]) -> Path:
    """Copy the sample home (contacts, PDFs, notes, an inbox) to ``dest`` and return its absolute path.

    Raises:
        MacToolError: ``dest`` exists and is not an empty folder (nothing is overwritten).
    """
    target = Path(dest).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise MacToolError(f"{target} already exists and is not an empty folder; not overwriting it")
    shutil.copytree(sample_home_path(), target, dirs_exist_ok=True)
    return target


def default_home() -> Path:
    """The home folder used when none is given, created from the sample home on first use.

    ``$TINYPLAN_MAC_HOME`` if set, else ``$XDG_DATA_HOME/tinyplan/home`` (``~/.local/share/tinyplan/home``).
    """
    configured = os.environ.get(HOME_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
    else:
        data = os.environ.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
        path = Path(data).expanduser() / "tinyplan" / "home"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        copy_sample_home(path)
    return path.resolve()
