"""The wheel as a user installs it: ``pip install tinyplan`` without extras imports and plans; an extra's package
without the extra fails with the install command; the ``mac`` extra alone brings the Mac toolset.

Builds the wheel and a fresh virtual environment (core dependencies from the package index), so it is slow.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import anyio
    import tinyplan
    from tinyplan import Planner, ScriptedBackend, tool

    @tool
    def add(a: int, b: int) -> int:
        '''Add two numbers.'''
        return a + b

    backend = ScriptedBackend(["1. add(1, 2)\\n2. add($1, 3)\\n3. join()<END_OF_PLAN>", "Action: Finish(6)"])
    result = anyio.run(Planner(backend, [add]).run, "add 1 and 2, then 3")
    assert [t.observation for t in result.plans[0].results if t.task.name == "add"] == [3, 6], result
    print("planned", result.answer)
    for name in ("tinyplan.backends", "tinyplan.data", "tinyplan.eval", "tinyplan.adapters", "tinyplan.cli"):
        __import__(name)
    for name in ("tinyplan.rag", "tinyplan.toolsets.mac", "tinyplan.voice", "tinyplan.mcp"):
        try:
            __import__(name)
        except ImportError as exc:
            print(name, "->", exc)
        else:
            print(name, "-> imported")
    """
)


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh virtual environment with the wheel installed without extras; returns (python, wheel)."""
    where = tmp_path_factory.mktemp("bare")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", where / "dist", ROOT, cwd=where)
    (wheel,) = (where / "dist").glob("tinyplan-*.whl")
    run(sys.executable, "-m", "venv", where / "venv", cwd=where)
    python = where / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel, cwd=where)
    return python, wheel


def test_the_wheel_without_extras_imports_plans_and_names_the_missing_extras(
    venv: tuple[Path, Path], tmp_path: Path
) -> None:
    python, _ = venv
    (tmp_path / "probe.py").write_text(PROBE)
    out = run(python, tmp_path / "probe.py", cwd=tmp_path)  # outside the checkout: the installed wheel is imported
    assert "planned" in out
    assert "tinyplan.rag -> tinyplan.rag needs the rag extra (numpy missing): pip install 'tinyplan[rag]'" in out
    assert "tinyplan.toolsets.mac -> tinyplan.toolsets.mac needs the mac extra" in out
    assert "pip install 'tinyplan[mac]'" in out
    assert "tinyplan.voice -> tinyplan.voice needs the voice extra (numpy missing)" in out
    assert "pip install 'tinyplan[mcp]'" in out
    assert "Usage: tinyplan" in run(python.parent / "tinyplan", "--help", cwd=tmp_path)


def test_the_mac_extra_alone_brings_the_mac_toolset(venv: tuple[Path, Path], tmp_path: Path) -> None:
    python, wheel = venv
    run(python, "-m", "pip", "install", "-q", f"tinyplan[mac] @ {wheel.as_uri()}", cwd=tmp_path)
    code = (
        "from pathlib import Path; from tinyplan.toolsets.mac import copy_sample_home, mac_toolset;"
        f"tools = mac_toolset(copy_sample_home(Path({str(tmp_path / 'home')!r})));"
        "print(len(tools), tools['get_phone_number'].function('Sid'))"
    )
    out = run(python, "-c", code, cwd=tmp_path)
    assert out.split()[0] == "16"
