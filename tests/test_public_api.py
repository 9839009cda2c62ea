"""The curated public API: `__all__` lists exactly the public names `tinyplan/__init__.py` defines."""

from __future__ import annotations

import tinyplan


def test_all_is_in_sync_with_the_module() -> None:
    public = {name for name in vars(tinyplan) if not name.startswith("_")}
    submodules = {name for name, value in vars(tinyplan).items() if type(value).__name__ == "module"}
    assert sorted(tinyplan.__all__) == sorted(public - submodules)
    assert len(tinyplan.__all__) == len(set(tinyplan.__all__))
    for name in tinyplan.__all__:
        assert getattr(tinyplan, name) is not None


def test_every_error_is_a_tinyplan_error() -> None:
    errors = [getattr(tinyplan, n) for n in tinyplan.__all__ if n.endswith("Error") and n != "ToolArgumentError"]
    assert errors
    for err in errors:
        assert issubclass(err, tinyplan.TinyplanError)
