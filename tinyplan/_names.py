"""Plan-safe tool names for tools imported from elsewhere (MCP servers, OpenAI schemas, other frameworks).

A plan calls a tool by a Python identifier (``send_sms``), while MCP allows ``.`` and ``-`` in up to 128 characters
(``notes.add-entry``) and OpenAI allows ``-``. `plan_names` maps each source name to an identifier and keeps the
mapping, so every plan name leads back to exactly one source name; two source names that would share an identifier
are an error naming both.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

from tinyplan._errors import ToolsetError

__all__ = ["plan_name", "plan_names"]

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_RESERVED = frozenset({"join"})


def plan_name(name: str, prefix: str | None = None) -> str:
    """The identifier a plan calls ``name`` by.

    Every character but ASCII letters, digits and ``_`` becomes ``_``; ``prefix`` (sanitised the same way) is put
    before it with a ``_``; a leading digit gets a ``_`` prefix; a Python keyword or ``join`` gets a ``_`` suffix.

    Example: ``plan_name("notes.add-entry", "fs")`` is ``"fs_notes_add_entry"``.
    """
    out = _INVALID.sub("_", name)
    if prefix:
        out = f"{_INVALID.sub('_', prefix)}_{out}"
    if not out or out[0].isdigit():
        out = "_" + out
    if keyword.iskeyword(out) or out in _RESERVED:
        out += "_"
    return out


def plan_names(names: Iterable[str], prefix: str | None = None, *, source: str = "tool") -> dict[str, str]:
    """Plan names for ``names``, in order: ``{plan name: source name}``.

    Args:
        names: The source names (duplicates are an error too).
        prefix: Put before every plan name (e.g. one per MCP server).
        source: What the names are, for error messages (``"MCP tool"``).

    Raises:
        ToolsetError: Two source names map to the same plan name; the message names both.
    """
    mapping: dict[str, str] = {}
    for name in names:
        safe = plan_name(name, prefix)
        if safe in mapping:
            other = mapping[safe]
            same = " (listed twice)" if other == name else ""
            raise ToolsetError(
                f"{source}s {other!r} and {name!r}{same} both map to the plan name {safe!r}; "
                "import them from separate sources with different prefixes, or rename one"
            )
        mapping[safe] = name
    return mapping
