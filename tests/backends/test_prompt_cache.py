"""The on-disk prompt cache of `LlamaCppBackend`: a static prefix's KV state survives the process (tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyplan import CompletionRequest, Message, complete
from tinyplan.backends import LlamaCppBackend
from tinyplan.backends._gguf import tiny_model_path
from tinyplan.backends._prompt_cache import PromptCache, PromptCacheWarning

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

STATIC = "You plan tool calls.\n" + "".join(
    f"{i}. tool_{i}(arg: str) -> str\n - Does thing number {i} with the argument.\n" for i in range(1, 60)
)


def request(question: str, *, chat: bool = False) -> CompletionRequest:
    if chat:
        return CompletionRequest(
            messages=(Message("system", STATIC), Message("user", question)), max_tokens=12, cache_prefix=STATIC
        )
    return CompletionRequest(prompt=f"{STATIC}\nQuestion: {question}\n", max_tokens=12, cache_prefix=STATIC)


@pytest.fixture
def tiny() -> Path:
    try:
        return tiny_model_path()
    except Exception as exc:
        pytest.skip(f"the tiny model is not installed: {exc}")


@pytest.mark.parametrize("chat", [False, True], ids=["prompt", "chat"])
async def test_prefix_state_is_stored_then_restored_by_a_fresh_model(tiny: Path, tmp_path: Path, chat: bool) -> None:
    cache = tmp_path / "cache"
    first = LlamaCppBackend(tiny, prompt_cache=cache)
    a = await complete(first, request("Use tool 7.", chat=chat))
    await first.aclose()  # unloads the model: the next backend starts from nothing in memory
    files = list(cache.glob("*.kv"))
    assert len(files) == 1
    assert a.usage.cached_tokens == 0

    second = LlamaCppBackend(tiny, prompt_cache=cache)
    b = await complete(second, request("Use tool 7.", chat=chat))
    c = await complete(second, request("Now use tool 12.", chat=chat))  # in memory now: no disk needed
    await second.aclose()
    assert b.text == a.text  # the restored state computes exactly what a fresh evaluation did
    assert b.usage.cached_tokens is not None and b.usage.cached_tokens >= 256
    assert b.usage.prompt_tokens - b.usage.cached_tokens < 20  # only the question was evaluated
    assert c.usage.cached_tokens is not None and c.usage.cached_tokens >= b.usage.cached_tokens


async def test_corrupt_file_is_a_miss_and_is_rewritten(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    backend = LlamaCppBackend(tiny, prompt_cache=cache)
    a = await complete(backend, request("Use tool 3."))
    await backend.aclose()
    (path,) = cache.glob("*.kv")
    path.write_bytes(b"not a llama.cpp session file")
    backend = LlamaCppBackend(tiny, prompt_cache=cache)
    with pytest.warns(PromptCacheWarning):
        b = await complete(backend, request("Use tool 3."))
    await backend.aclose()
    assert b.text == a.text
    assert b.usage.cached_tokens == 0
    assert path.stat().st_size > 1000  # stored again, properly


async def test_short_prefixes_and_disabled_cache_store_nothing(tiny: Path, tmp_path: Path) -> None:
    short = CompletionRequest(prompt="Say hi.\nHi", max_tokens=4, cache_prefix="Say hi.\n")
    backend = LlamaCppBackend(tiny, prompt_cache=tmp_path / "a")
    await complete(backend, short)
    await backend.aclose()
    assert not (tmp_path / "a").exists()
    backend = LlamaCppBackend(tiny, prompt_cache=False)
    await complete(backend, request("Use tool 1."))
    await backend.aclose()
    assert backend.prompt_cache is None


def test_eviction_keeps_the_most_recent_files(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path, max_files=2)
    for i in range(4):
        p = tmp_path / f"{i}.kv"
        p.write_bytes(b"x")
        import os

        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "old.session").write_bytes(b"x")  # the previous format's files are dropped
    cache._evict()
    assert sorted(p.name for p in tmp_path.glob("*.kv")) == ["2.kv", "3.kv"]
    assert not (tmp_path / "old.session").exists()
    with pytest.raises(ValueError, match="max_files"):
        PromptCache(tmp_path, max_files=0)
