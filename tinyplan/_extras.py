"""Optional extras: a package that needs one checks for it before importing anything that would fail without it."""

from __future__ import annotations

from importlib.util import find_spec

__all__ = ["require_extra"]


def require_extra(package: str, extra: str, modules: tuple[str, ...]) -> None:
    """Check that an extra's modules are importable, before the package that needs them imports them.

    Args:
        package: The tinyplan package that needs the extra, e.g. ``"tinyplan.rag"``.
        extra: The extra's name in ``pyproject.toml``, e.g. ``"rag"``.
        modules: Top-level modules the extra installs, e.g. ``("numpy",)``.

    Raises:
        ImportError: Some of ``modules`` are missing; the message names them and the install command.
    """
    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise ImportError(
            f"{package} needs the {extra} extra ({', '.join(missing)} missing): pip install 'tinyplan[{extra}]'"
        )
