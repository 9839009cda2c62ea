"""MkDocs hooks for the API reference (docs/reference/).

* The build fails when a public module of tinyplan has no reference page. A module is public when no part of its
  dotted name starts with an underscore; `PAGELESS` names those described elsewhere. A reference page is a file
  under docs/reference/ with a ``::: module`` line.
* Each ``::: module`` block lists exactly the module's ``__all__``, in its order (read statically, nothing imported),
  documented or not: a block gets ``options: members: [...]``. A page must not set ``members`` itself.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

PAGELESS = {"tinyplan.cli"}  # the command line: docs/cli.md
_BLOCK = re.compile(r"^::: *(?P<name>[\w.]+)[ \t]*(?:\n|\Z)(?P<options>    options:[ \t]*(?:\n|\Z))?", re.MULTILINE)


def public_modules(root: Path) -> set[str]:
    """The dotted names of the public modules and packages under `root` (the `tinyplan` package directory)."""
    names = set()
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return names


def module_all(name: str, root: Path) -> list[str] | None:
    """The literal ``__all__`` of module ``name`` (a dotted name under `root`'s parent), None when it has none."""
    base = root.parent.joinpath(*name.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    if not path.is_file():
        return None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            return [str(n) for n in ast.literal_eval(node.value)]
    return None


def on_config(config: Any) -> Any:
    """Check that every public module has a reference page before anything is built."""
    docs = Path(config["docs_dir"])
    documented = {
        match["name"]
        for page in (docs / "reference").glob("*.md")
        for match in _BLOCK.finditer(page.read_text("utf-8"))
    }
    missing = sorted(public_modules(docs.parent / "tinyplan") - documented - PAGELESS)
    if missing:
        raise PluginError(f"public modules without a page in docs/reference/ (add one, and to the nav): {missing}")
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Give each ``::: module`` block of a reference page the module's ``__all__`` as its members."""
    if not page.file.src_uri.startswith("reference/"):
        return markdown
    root = Path(config["docs_dir"]).parent / "tinyplan"

    def with_members(match: re.Match[str]) -> str:
        names = module_all(match["name"], root)
        if names is None:
            return match[0]
        return f"::: {match['name']}\n    options:\n      members: {json.dumps(names)}\n"

    return _BLOCK.sub(with_members, markdown)
