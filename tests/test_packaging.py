"""The wheel as a user installs it: ``pip install tinyplan`` without extras imports and plans; an extra's package
without the extra fails with the install command; each of the ``mac``, ``llama`` and ``rag`` extras alone brings its
own modules.

Builds the wheel and a fresh virtual environment (core dependencies from the package index), so it is slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinyplan import tiny_model_path

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


def _with_wheelhouse() -> dict[str, str]:
    """The environment with scripts/install-llama.sh's wheelhouse added to pip's find-links (as setup.sh does)."""
    env = dict(os.environ)
    wheelhouse = os.environ.get("TINYPLAN_WHEELHOUSE") or str(Path.home() / ".cache" / "tinyplan" / "wheels")
    env["PIP_FIND_LINKS"] = " ".join(filter(None, [os.environ.get("PIP_FIND_LINKS"), wheelhouse]))
    return env


@pytest.fixture
def fresh_venv(venv: tuple[Path, Path], tmp_path: Path) -> Path:
    """Another fresh virtual environment with nothing installed: each extra is tried alone."""
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    return tmp_path / "venv" / "bin" / "python"


def test_the_llama_extra_alone_runs_the_in_process_backend(
    venv: tuple[Path, Path], fresh_venv: Path, tmp_path: Path
) -> None:
    _, wheel = venv
    done = subprocess.run(
        [str(fresh_venv), "-m", "pip", "install", "-q", f"tinyplan[llama] @ {wheel.as_uri()}"],
        capture_output=True,
        text=True,
        timeout=900,
        env=_with_wheelhouse(),
    )
    assert done.returncode == 0, done.stderr
    code = textwrap.dedent(
        f"""
        import anyio
        from tinyplan import CompletionRequest, complete
        from tinyplan.backends import LlamaCppBackend

        async def main():
            backend = LlamaCppBackend({str(tiny_model_path())!r}, n_ctx=512, prompt_cache=False)
            try:
                done = await complete(backend, CompletionRequest(prompt="1, 2, 3,", max_tokens=4))
            finally:
                await backend.aclose()
            print("completion tokens", done.usage.completion_tokens)

        anyio.run(main)
        try:
            import tinyplan.toolsets.mac
        except ImportError as exc:
            print("mac ->", exc)
        """
    )
    out = run(fresh_venv, "-c", code, cwd=tmp_path)
    assert "completion tokens 4" in out
    assert "mac -> tinyplan.toolsets.mac needs the mac extra" in out  # the llama extra brings only its own modules


def test_the_rag_extra_alone_imports_toolrag(venv: tuple[Path, Path], fresh_venv: Path, tmp_path: Path) -> None:
    _, wheel = venv
    # torch first, pinned, as scripts/setup.sh does: this machine kind carries its CPU build in pip's find-links
    run(fresh_venv, "-m", "pip", "install", "-q", "torch==2.13.0", cwd=tmp_path)
    run(fresh_venv, "-m", "pip", "install", "-q", f"tinyplan[rag] @ {wheel.as_uri()}", cwd=tmp_path)
    code = (
        "import tinyplan.rag as rag; from tinyplan import ToolRetriever;"
        "print(sorted(n for n in rag.__all__ if 'Retriever' in n or 'Classifier' in n));"
        "import tinyplan.backends;"
        "from tinyplan.backends import LlamaCppBackend\n"
        "try:\n    import llama_cpp\nexcept ImportError:\n    print('no llama_cpp')"
    )
    out = run(fresh_venv, "-c", code, cwd=tmp_path)
    assert "Retriever" in out
    assert "no llama_cpp" in out  # the rag extra does not pull the llama one
