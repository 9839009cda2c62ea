"""LlamaCppBackend: in-process llama.cpp. Tests that run a model are slow-marked (the tiny SmolLM2-135M for plumbing,
the default Qwen2.5-Coder-1.5B for real plans)."""

from __future__ import annotations

import re
import sys
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest
from backend_fakes import (
    PLAN_GRAMMAR,
    PLAN_GRAMMAR_RE,
    PLANNER_QUESTION,
    PLANNER_SYSTEM,
    PLANNER_TOOLS,
    assert_sms_plan,
)

from tinyplan import (
    BackendStreamError,
    BackendUnavailableError,
    Chunk,
    CompletionRequest,
    Message,
    ModelError,
    complete,
    parse_plan,
)
from tinyplan.backends import LlamaCppBackend
from tinyplan.backends._gguf import default_model_path, tiny_model_path
from tinyplan.backends._llama_cpp import _SLOT

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------------- no model needed
async def test_without_llama_cpp_python_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    backend = LlamaCppBackend(model)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'tinyplan\[llama\]'.*install-llama\.sh"):
        await complete(backend, CompletionRequest(prompt="hi"))
    with pytest.raises(BackendUnavailableError, match="llama-cpp-python is not installed"):
        await backend.count_tokens("hi")


async def test_missing_model_file_is_a_model_error(tmp_path: Path) -> None:
    backend = LlamaCppBackend(tmp_path / "absent.gguf")
    with pytest.raises(ModelError, match="does not exist"):
        await complete(backend, CompletionRequest(prompt="hi"))


async def test_a_file_that_is_not_a_model_is_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a GGUF file" * 100)
    with pytest.raises(BackendUnavailableError, match="cannot load"):
        await complete(LlamaCppBackend(junk), CompletionRequest(prompt="hi"))
    assert _SLOT.lock.acquire(blocking=False)  # the failure left the process lock free
    _SLOT.lock.release()


def test_defaults() -> None:
    backend = LlamaCppBackend("x.gguf")
    assert backend.supports_grammar is True
    assert backend.repeat_penalty == 1.0
    assert backend.n_threads >= 1
    assert "x.gguf" in repr(backend)


# --------------------------------------------------------------------------------------------- tiny model
@pytest.fixture(scope="module")
def tiny_model() -> Path:
    pytest.importorskip("llama_cpp")
    try:
        return tiny_model_path()
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def tiny(tiny_model: Path) -> LlamaCppBackend:
    return LlamaCppBackend(tiny_model, n_ctx=1024)


def lock_is_free() -> bool:
    if _SLOT.lock.acquire(blocking=False):
        _SLOT.lock.release()
        return True
    return False


@pytest.mark.slow
async def test_streams_tokens_with_usage_and_reuses_the_prompt_cache(tiny: LlamaCppBackend) -> None:
    prompt = "The list of the days of the week: Monday, Tuesday,"
    request = CompletionRequest(prompt=prompt, max_tokens=12)
    first = [c async for c in tiny.stream(request)]
    assert len(first) > 3  # token by token, not one blob
    n_prompt = await tiny.count_tokens(prompt)
    # every token carries the counts so far, so a reader that stops early still knows them
    assert [(c.usage.prompt_tokens, c.usage.completion_tokens) for c in first[:-1] if c.usage] == [
        (n_prompt, i) for i in range(1, 13)
    ]
    assert all(c.finish_reason is None for c in first[:-1])
    final = first[-1]
    assert final.usage is not None
    assert final.finish_reason == "length"
    assert final.usage.prompt_tokens == n_prompt  # SmolLM2 adds no BOS
    assert final.usage.completion_tokens == 12
    second = [c async for c in tiny.stream(request)]
    assert "".join(c.text for c in second) == "".join(c.text for c in first)  # greedy: same text
    assert second[-1].usage is not None
    assert second[-1].usage.cached_tokens == n_prompt - 1  # all but the last prompt token reused
    longer = CompletionRequest(prompt=prompt + " Wednesday, Thursday,", max_tokens=4)
    done = await complete(tiny, longer)
    assert done.usage.cached_tokens is not None
    assert done.usage.cached_tokens >= n_prompt - 1


@pytest.mark.slow
async def test_stop_strings_cut_the_text(tiny: LlamaCppBackend) -> None:
    done = await complete(tiny, CompletionRequest(prompt="Count: 1, 2, 3, 4,", max_tokens=30, stop=(" 7",)))
    assert " 7" not in done.text
    assert done.finish_reason == "stop"
    assert done.text.strip().startswith("5")


@pytest.mark.slow
async def test_grammar_constrains_the_output_and_a_bad_grammar_is_an_error(tiny: LlamaCppBackend) -> None:
    done = await complete(tiny, CompletionRequest(prompt="Plan:\n", max_tokens=40, grammar=PLAN_GRAMMAR))
    if done.finish_reason == "stop":
        assert re.fullmatch(PLAN_GRAMMAR_RE, done.text), done.text
    else:  # the tiny model may ramble inside the free-text argument until max_tokens: still only a prefix
        assert re.match(r"1\. [a-z_]+(\(|$)", done.text), done.text
    with pytest.raises(BackendStreamError, match="grammar does not parse"):
        await complete(tiny, CompletionRequest(prompt="Plan:\n", grammar="root ::= undefined_rule"))
    assert lock_is_free()
    again = await complete(tiny, CompletionRequest(prompt="Plan:\n", max_tokens=3))  # still usable
    assert again.usage.completion_tokens == 3


@pytest.mark.slow
async def test_chat_uses_the_gguf_template(tiny: LlamaCppBackend) -> None:
    request = CompletionRequest(messages=(Message("system", "Answer briefly."), Message("user", "Hi!")), max_tokens=8)
    done = await complete(tiny, request)
    assert done.text
    assert "<|im_start|>" not in done.text
    # the template wraps every message: many more tokens than the two contents
    assert done.usage.prompt_tokens > await tiny.count_tokens("Answer briefly. Hi!") + 6


@pytest.mark.slow
async def test_breaking_out_stops_generation_and_frees_the_model(tiny: LlamaCppBackend) -> None:
    request = CompletionRequest(prompt="Once upon a time", max_tokens=400)
    async with aclosing(tiny.stream(request)) as chunks:
        async for _chunk in chunks:
            break
    assert lock_is_free()  # closing waited for the worker thread: nothing keeps generating
    # a plain `break` leaves closing to the garbage collector: the next request waits for it, then runs
    async for _chunk in tiny.stream(request):
        break
    done = await complete(tiny, CompletionRequest(prompt="Once upon a time", max_tokens=5))
    assert done.usage.completion_tokens == 5


@pytest.mark.slow
async def test_cancelling_the_consumer_stops_generation(tiny: LlamaCppBackend) -> None:
    received: list[Chunk] = []
    with anyio.move_on_after(0.5) as scope:
        async for chunk in tiny.stream(CompletionRequest(prompt="Once upon a time", max_tokens=1000)):
            received.append(chunk)
    assert scope.cancelled_caught
    assert all(c.finish_reason is None for c in received)  # it did not run to the end
    assert lock_is_free()
    done = await complete(tiny, CompletionRequest(prompt="Hello", max_tokens=3))
    assert done.usage.completion_tokens == 3


@pytest.mark.slow
async def test_concurrent_requests_are_serialised_and_the_loop_stays_free(tiny: LlamaCppBackend) -> None:
    prompts = ["Monday, Tuesday,", "January, February,"]
    alone = [(await complete(tiny, CompletionRequest(prompt=p, max_tokens=16))).text for p in prompts]
    results: dict[int, str] = {}
    ticks = 0

    async def run(i: int) -> None:
        results[i] = (await complete(tiny, CompletionRequest(prompt=prompts[i], max_tokens=16))).text

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.005)
            ticks += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        async with anyio.create_task_group() as inner:
            for i in range(2):
                inner.start_soon(run, i)
        tg.cancel_scope.cancel()
    assert [results[0], results[1]] == alone  # no interleaving, same greedy text
    assert ticks > 10  # the event loop ran while llama.cpp worked in a thread


@pytest.mark.slow
async def test_prompt_longer_than_the_context_is_refused(tiny: LlamaCppBackend) -> None:
    with pytest.raises(BackendStreamError, match="context holds 1024"):
        await complete(tiny, CompletionRequest(prompt="word " * 2000))


@pytest.mark.slow
async def test_one_model_per_process(tiny_model: Path) -> None:
    a = LlamaCppBackend(tiny_model, n_ctx=1024)
    b = LlamaCppBackend(tiny_model, n_ctx=512)  # other settings: a different llama.cpp context
    await a.load()
    first = _SLOT.llm
    await complete(b, CompletionRequest(prompt="Hi", max_tokens=2))
    assert _SLOT.llm is not first  # b replaced a's model
    await complete(a, CompletionRequest(prompt="Hi", max_tokens=2))  # a reloads transparently
    await a.aclose()
    assert _SLOT.llm is None
    await b.aclose()  # not b's model any more: nothing to do


# --------------------------------------------------------------------------------------------- default model
@pytest.fixture(scope="module")
def default_model() -> Path:
    pytest.importorskip("llama_cpp")
    try:
        return default_model_path()
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
async def test_default_model_writes_a_plan_that_parses(default_model: Path) -> None:
    backend = LlamaCppBackend(default_model)
    request = CompletionRequest(
        messages=(Message("system", PLANNER_SYSTEM), Message("user", PLANNER_QUESTION)),
        stop=("<END_OF_PLAN>",),
        max_tokens=120,
    )
    text = "".join([c.text async for c in backend.stream(request)])
    tasks = parse_plan(text, tools=PLANNER_TOOLS)
    assert tasks[-1].is_join
    assert_sms_plan(tasks)
    # same static prefix, another question: the system prompt comes from the cache
    other = CompletionRequest(
        messages=(Message("system", PLANNER_SYSTEM), Message("user", "Question: Text Ann that I am home.")),
        stop=("<END_OF_PLAN>",),
        max_tokens=80,
    )
    done = await complete(backend, other)
    parse_plan(done.text, tools=PLANNER_TOOLS)
    assert done.usage.cached_tokens is not None
    assert done.usage.cached_tokens > await backend.count_tokens(PLANNER_SYSTEM) - 5
    # the grammar holds the 1.5B model to the shape
    grammar = await complete(
        backend,
        CompletionRequest(prompt=PLANNER_SYSTEM + "\n" + PLANNER_QUESTION + "\n", max_tokens=60, grammar=PLAN_GRAMMAR),
    )
    assert re.fullmatch(PLAN_GRAMMAR_RE, grammar.text), grammar.text
    # cancel mid-plan; the next request starts at once
    async with aclosing(backend.stream(request)) as chunks:
        async for _chunk in chunks:
            break
    assert lock_is_free()
    assert (await complete(backend, CompletionRequest(prompt="1 + 1 =", max_tokens=2))).usage.completion_tokens == 2
    await backend.aclose()
