"""The exception tree drawn in ``tinyplan._errors``' docstring is the real one: every exception and warning class
the package defines is drawn, under its real base class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import tinyplan
from tinyplan import _errors

OPTIONAL = ("tinyplan.mcp", "tinyplan.voice", "tinyplan.rag", "tinyplan.finetune")  # extras: skipped when not installed


def package_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(tinyplan.__path__, "tinyplan."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            if info.name.startswith(OPTIONAL):
                continue
            raise
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith("tinyplan")
                and not name.startswith("_")
            ):
                found[name] = obj
    return found


def drawn_tree() -> dict[str, str | None]:
    """Class name → the name it is drawn under (None at the root), from the docstring's box drawing."""
    doc = _errors.__doc__ or ""
    block = doc.split("```")[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        m = re.match(r"^([│ ├└─]*)([A-Z][A-Za-z]+(?:Error|Warning))\b", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4 if m.group(1) else 0
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[m.group(2)] = stack[-1][1] if stack else None
        stack.append((depth, m.group(2)))
    return parents


def test_every_error_class_is_drawn_under_its_base() -> None:
    classes = package_classes()
    drawn = drawn_tree()
    assert "TinyplanError" in drawn and drawn["TinyplanError"] is None
    errors = {n: c for n, c in classes.items() if not issubclass(c, Warning)}
    missing = sorted(set(errors) - set(drawn))
    assert not missing, f"not drawn in tinyplan/_errors.py: {missing}"
    for name, cls in errors.items():
        parent = drawn[name]
        if parent is None:
            continue
        assert parent in {b.__name__ for b in cls.__bases__}, (
            f"{name} is drawn under {parent}, but its bases are {cls.__bases__}"
        )
        assert issubclass(cls, _errors.TinyplanError), name


def test_every_warning_class_is_named() -> None:
    doc = _errors.__doc__ or ""
    warnings = [n for n, c in package_classes().items() if issubclass(c, Warning)]
    assert warnings
    for name in warnings:
        assert name in doc, name


@pytest.mark.parametrize("name", ["ToolArgumentError", "GrammarError", "RequestError"])
def test_misuse_errors_are_also_value_errors(name: str) -> None:
    assert issubclass(package_classes()[name], ValueError)


def test_the_concepts_page_shows_the_same_tree() -> None:
    drawing = (_errors.__doc__ or "").split("```\n", 2)[1].split("```", 1)[0]
    page = (Path(__file__).resolve().parents[1] / "docs" / "concepts.md").read_text(encoding="utf-8")
    assert "```text\n" + drawing + "```" in page
