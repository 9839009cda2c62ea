"""Every module's export list, checked by walking the package (issue 16's API hygiene rules).

* every public module (no ``_`` in its dotted path) declares ``__all__``;
* every ``__all__`` (public or private module) is sorted the way ruff's RUF022 sorts it (isort style:
  SCREAMING_SNAKE_CASE names, then CamelCase, then the rest, each group in natural order), has no duplicates and names
  only attributes that exist;
* every tinyplan class that appears in the signature of a public name is itself exported by a public module, so a
  user can import every type they are handed or asked for.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest

import tinyplan


def _all_modules() -> Iterator[types.ModuleType]:
    yield tinyplan
    for info in pkgutil.walk_packages(tinyplan.__path__, prefix="tinyplan."):
        if info.name == "tinyplan.__main__":
            continue
        try:
            yield importlib.import_module(info.name)
        except ImportError as exc:  # an extra that is not installed here: its own tests cover the hint
            if "pip install" not in str(exc) and "No module named" not in str(exc):
                raise


MODULES = list(_all_modules())
PUBLIC = [m for m in MODULES if not any(part.startswith("_") for part in m.__name__.split("."))]


def _natural(name: str) -> list[Any]:
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", name)]


def _isort_key(name: str) -> tuple[int, list[Any]]:
    if name.isupper() or (name.upper() == name and "_" in name):
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    return group, _natural(name)


def test_the_walk_sees_the_whole_package() -> None:
    names = {m.__name__ for m in MODULES}
    for expected in ("tinyplan", "tinyplan._types", "tinyplan._fetcher", "tinyplan._joiner", "tinyplan.backends"):
        assert expected in names


@pytest.mark.parametrize("module", PUBLIC, ids=lambda m: m.__name__)
def test_every_public_module_declares_all(module: types.ModuleType) -> None:
    assert isinstance(getattr(module, "__all__", None), list), f"{module.__name__} has no __all__ list"
    assert module.__all__, f"{module.__name__}.__all__ is empty"


@pytest.mark.parametrize("module", [m for m in MODULES if hasattr(m, "__all__")], ids=lambda m: m.__name__)
def test_every_all_is_sorted_unique_and_resolves(module: types.ModuleType) -> None:
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{module.__name__}.__all__ has duplicates"
    assert exported == sorted(exported, key=_isort_key), f"{module.__name__}.__all__ is not sorted (RUF022)"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module.__name__}.__all__ names missing attributes: {missing}"


def _exported_objects() -> dict[int, str]:
    found: dict[int, str] = {}
    for module in PUBLIC:
        for name in getattr(module, "__all__", ()):
            found.setdefault(id(getattr(module, name)), f"{module.__name__}.{name}")
    return found


def _classes_in(hint: Any) -> Iterator[type]:
    if isinstance(hint, type):
        yield hint
    for arg in typing.get_args(hint):
        yield from _classes_in(arg)
    origin = typing.get_origin(hint)
    if isinstance(origin, type):
        yield origin


def _namespace() -> dict[str, Any]:
    """Every class and alias any tinyplan module defines or imports, for hints written under TYPE_CHECKING."""
    import collections.abc

    ns: dict[str, Any] = dict(vars(collections.abc))
    ns.update({k: v for k, v in vars(typing).items() if not k.startswith("_")})
    for module in MODULES:
        ns.update({k: v for k, v in vars(module).items() if isinstance(v, type) or k in ("ApproveFn", "GrammarLevel")})
    return ns


NAMESPACE = _namespace()


def _hints(obj: Any) -> dict[str, Any]:
    """``obj``'s annotations, each evaluated on its own (one naming an optional extra's type is left out)."""
    owner = obj
    raw: dict[str, Any] = {}
    for klass in reversed(obj.__mro__) if inspect.isclass(obj) else [obj]:
        raw.update(getattr(klass, "__annotations__", {}))
    module = vars(importlib.import_module(owner.__module__)) if getattr(owner, "__module__", None) else {}
    hints: dict[str, Any] = {}
    for name, annotation in raw.items():

        def probe() -> None: ...

        probe.__annotations__ = {"value": annotation}
        try:
            hints[name] = typing.get_type_hints(probe, globalns={**NAMESPACE, **module})["value"]
        except (NameError, TypeError, AttributeError):  # e.g. nx.DiGraph[int], or an optional extra's type
            continue
    return hints


def _signature_owners(obj: Any) -> Iterator[tuple[str, Any]]:
    if inspect.isclass(obj):
        yield "fields", obj
        for name, member in vars(obj).items():
            if name.startswith("_") and name != "__init__":
                continue
            target = member.fget if isinstance(member, property) else member
            if isinstance(target, (staticmethod, classmethod)):
                target = target.__func__
            if inspect.isfunction(target):
                yield name, target
    elif inspect.isfunction(obj):
        yield obj.__name__, obj


def test_every_tinyplan_type_in_a_public_signature_is_exported() -> None:
    exported = _exported_objects()
    unexported: set[str] = set()
    for module in PUBLIC:
        for name in getattr(module, "__all__", ()):
            for where, owner in _signature_owners(getattr(module, name)):
                for hint in _hints(owner).values():
                    for cls in _classes_in(hint):
                        home = getattr(cls, "__module__", "")
                        if home.startswith("tinyplan") and id(cls) not in exported:
                            unexported.add(f"{cls.__module__}.{cls.__qualname__} (in {module.__name__}.{name}.{where})")
    assert not unexported, "types in public signatures that no public module exports:\n" + "\n".join(sorted(unexported))


def test_type_aliases_of_public_signatures_are_exported() -> None:
    for name in ("ApproveFn", "GrammarLevel"):
        assert name in tinyplan.__all__, name
