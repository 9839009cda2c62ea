"""Griffe extension for the API reference: a ``#:`` comment documents the attribute it sits on or above.

tinyplan documents constants and type aliases with Sphinx's ``#:`` comments, on the line or lines above the
assignment or at its end; griffe reads only string docstrings, so without this such names would be undocumented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import griffe


class CommentDocstrings(griffe.Extension):
    """Give an attribute without a docstring the text of its ``#:`` comments as docstring."""

    def on_attribute_instance(self, *, node: Any, attr: griffe.Attribute, agent: Any, **kwargs: Any) -> None:
        """Read the ``#:`` lines right above the attribute, else a trailing ``#:`` on its own line."""
        if attr.docstring is not None or attr.lineno is None or not isinstance(attr.filepath, Path):
            return
        try:
            lines = attr.lines_collection[attr.filepath]
        except KeyError:
            return
        above: list[str] = []
        number = attr.lineno - 1  # the line above, 1-based
        while number >= 1 and lines[number - 1].strip().startswith("#:"):
            above.insert(0, lines[number - 1].strip()[2:].strip())
            number -= 1
        text = "\n".join(above)
        if not text and "#:" in lines[attr.lineno - 1]:
            text = lines[attr.lineno - 1].split("#:", 1)[1].strip()
        if text:
            attr.docstring = griffe.Docstring(
                text,
                lineno=attr.lineno,
                parent=attr,
                parser=getattr(agent, "docstring_parser", None),
                parser_options=getattr(agent, "docstring_options", None),
            )
