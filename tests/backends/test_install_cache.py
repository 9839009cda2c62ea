"""The install-time prompt cache: ``tinyplan model install`` stores the default run's static prefix, the first
``tinyplan run`` restores it; a changed template, toolset or llama.cpp is a miss; a damaged file is rebuilt.

The tiny SmolLM2-135M stands in for the default model (``$TINYPLAN_MODEL``): these are properties of the cache, not
of the model, and the tiny model evaluates the Mac toolset's ~3.5k-token prefix in seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from tinyplan import Backend, CompletionRequest, PromptRenderer, complete
from tinyplan.backends import LlamaCppBackend, PromptCacheWarning
from tinyplan.backends._default_run import default_run_backend, default_run_planner, warm_default_run
from tinyplan.backends._gguf import tiny_model_path
from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny() -> Path:
    pytest.importorskip("llama_cpp")
    try:
        return tiny_model_path()
    except Exception as exc:
        pytest.skip(f"the tiny model is not installed: {exc}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return copy_sample_home(tmp_path / "home")


def run_request(
    home: Path, renderer: PromptRenderer | None = None, tools: list[str] | None = None
) -> CompletionRequest:
    """The default run's planning request (Mac toolset), optionally with another template or fewer tools."""
    planner = default_run_planner(Backend(), mac_toolset(home, tools=tools), grammar=None)
    if renderer is not None:
        planner.renderer = renderer
    return planner.render_prompt("Text Sid that I am late").request(chat=planner.chat, max_tokens=8)


def test_model_install_warms_the_cache_that_the_first_run_uses(tiny: Path, tmp_path: Path) -> None:
    env = {**os.environ, "TINYPLAN_MODEL": str(tiny), "TINYPLAN_PROMPT_CACHE": str(tmp_path / "pc")}
    install = subprocess.run(
        [sys.executable, "-m", "tinyplan", "model", "install"], env=env, capture_output=True, text=True, timeout=300
    )
    assert install.returncode == 0, install.stderr
    found = re.search(r"the default run's ([\d,]+)-token prefix, built in", install.stdout)
    assert found, install.stdout
    static = int(found.group(1).replace(",", ""))
    assert static > 2000  # the Mac toolset's rules, tools and examples
    assert len(list((tmp_path / "pc").glob("*.kv"))) == 1

    run = subprocess.run(
        [sys.executable, "-m", "tinyplan", "run", "Text Sid and Lutfi that the meeting moved to 3pm", "--home",
         str(tmp_path / "my-home"), "--json", "--join", "observations", "--max-replans", "0",
         "--no-self-check", "--bank", "none"],  # one planner request: no repair continuation, no bank examples
        env=env, capture_output=True, text=True, timeout=900,  # up to 512 grammar-checked tokens on a busy machine
    )  # fmt: skip
    usage = json.loads(run.stdout)["usage"]
    assert usage["cached_tokens"] == static  # the whole static prefix came from the install-time file
    assert 0 < usage["prompt_tokens"] - usage["cached_tokens"] < 40  # only the date and the question were evaluated
    assert "damaged" not in run.stderr

    again = subprocess.run(
        [sys.executable, "-m", "tinyplan", "model", "install"], env=env, capture_output=True, text=True, timeout=300
    )
    assert f"the default run's {static:,}-token prefix, already there" in again.stdout


@pytest.mark.anyio
async def test_a_changed_template_toolset_or_llama_cpp_does_not_hit_the_old_file(
    tiny: Path, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "pc"
    warmed = await warm_default_run(tiny, prompt_cache=cache)
    assert warmed.built and warmed.path is not None and warmed.path.is_file()
    assert not (await warm_default_run(tiny, prompt_cache=cache)).built  # the same prompt: found

    planner_template = jinja2.PackageLoader("tinyplan", "templates").get_source(jinja2.Environment(), "planner.jinja2")
    edited = planner_template[0].replace("Rules:", "Guidelines:", 1)
    assert edited != planner_template[0]
    other_template = PromptRenderer(
        jinja2.ChoiceLoader([jinja2.DictLoader({"planner.jinja2": edited}), jinja2.PackageLoader("tinyplan")])
    )
    changed = {
        "template": run_request(home, renderer=other_template),
        "toolset": run_request(home, tools=["get_phone_number", "send_sms", "create_note"]),
    }
    for what, request in changed.items():
        assert request.cache_prefix != run_request(home).cache_prefix, what
        backend = default_run_backend(tiny, prompt_cache=cache)  # a new process: nothing in memory
        result = await complete(backend, request)
        await backend.aclose()
        assert result.usage.cached_tokens == 0, what  # evaluated, not restored from the default run's file
    files = set(cache.glob("*.kv"))
    assert warmed.path in files and len(files) == 3  # the old file is kept, each new prompt has its own

    import llama_cpp

    monkeypatch.setattr(llama_cpp, "__version__", "0.0.0-another-build")
    backend = default_run_backend(tiny, prompt_cache=cache)
    result = await complete(backend, run_request(home))
    await backend.aclose()
    assert result.usage.cached_tokens == 0  # another llama.cpp: a miss, stored under a new key
    assert len(set(cache.glob("*.kv"))) == 4


STATIC = "You plan tool calls.\n" + "".join(
    f"{i}. tool_{i}(arg: str) -> str\n - Does thing number {i} with the argument.\n" for i in range(1, 40)
)
REQUEST = CompletionRequest(prompt=f"{STATIC}\nQuestion: Use tool 7.\n", max_tokens=12, cache_prefix=STATIC)


def truncate_header(data: bytes) -> bytes:
    return data[:20]


def truncate_state(data: bytes) -> bytes:
    return data[: len(data) // 2]


def flip_state_bytes(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 64]) + data[middle + 64 :]


def garbage(data: bytes) -> bytes:
    return b"not a prompt cache file" * 10


def empty(data: bytes) -> bytes:
    return b""


def extra_bytes(data: bytes) -> bytes:
    return data + b"\0" * 16


@pytest.mark.anyio
@pytest.mark.parametrize("damage", [truncate_header, truncate_state, flip_state_bytes, garbage, empty, extra_bytes])
async def test_a_damaged_file_is_ignored_with_a_warning_and_rebuilt(tiny: Path, tmp_path: Path, damage: object) -> None:
    assert callable(damage)
    cache = tmp_path / "pc"
    backend = LlamaCppBackend(tiny, prompt_cache=cache)
    fresh = await complete(backend, REQUEST)
    await backend.aclose()
    (path,) = cache.glob("*.kv")
    path.write_bytes(damage(path.read_bytes()))

    backend = LlamaCppBackend(tiny, prompt_cache=cache)
    with pytest.warns(PromptCacheWarning, match="damaged prompt-cache file"):
        again = await complete(backend, REQUEST)
    await backend.aclose()
    assert again.text == fresh.text
    assert again.usage.cached_tokens == 0  # evaluated from scratch, not from the damaged file

    backend = LlamaCppBackend(tiny, prompt_cache=cache)
    restored = await complete(backend, REQUEST)  # the file was rebuilt: a plain hit, no warning
    await backend.aclose()
    assert restored.text == fresh.text
    assert restored.usage.cached_tokens is not None and restored.usage.cached_tokens >= 256
