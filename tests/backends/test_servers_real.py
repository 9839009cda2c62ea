"""The HTTP backends against real servers: the native llama-server (started by `LlamaServerProcess`) and
llama-cpp-python's OpenAI-compatible server. All slow: they start servers and run models."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import httpx
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
    CompletionRequest,
    Message,
    ModelError,
    complete,
    parse_plan,
)
from tinyplan.backends import LlamaServerProcess, OpenAICompatibleBackend, llama_server_binary
from tinyplan.backends._gguf import default_model_path, tiny_model_path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PLAN_REQUEST = CompletionRequest(
    messages=(Message("system", PLANNER_SYSTEM), Message("user", PLANNER_QUESTION)),
    stop=("<END_OF_PLAN>",),
    max_tokens=120,
)


def _binary() -> Path:
    try:
        return llama_server_binary()
    except BackendUnavailableError:
        pytest.skip("llama-server not built: run scripts/build-llama-server.sh")


def _model(which: str) -> Path:
    try:
        return tiny_model_path() if which == "tiny" else default_model_path()
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def tiny_server() -> Iterator[LlamaServerProcess]:
    _binary()
    with LlamaServerProcess(_model("tiny"), ctx_size=2048) as server:
        yield server


# --------------------------------------------------------------------------------------------- llama-server
async def test_llama_server_process_lifecycle(tmp_path: Path) -> None:
    _binary()
    server = LlamaServerProcess(_model("tiny"), ctx_size=1024, threads=2)
    cmd = server.command()
    assert cmd[1:3] == ["--model", str(server.model)]
    assert cmd[cmd.index("--threads") : cmd.index("--threads") + 2] == ["--threads", "2"]
    with pytest.raises(BackendUnavailableError, match="not started"):
        _ = server.url
    async with server:
        assert server.running
        url = server.url
        async with server.backend() as backend:
            assert await backend.health()
    assert not server.running
    async with OpenAICompatibleBackend(url) as gone:  # nothing listens any more
        with pytest.raises(BackendUnavailableError, match="cannot reach"):
            await complete(gone, CompletionRequest(prompt="hi"))
    server.stop()  # twice is fine


async def test_llama_server_that_cannot_load_reports_its_log(tmp_path: Path) -> None:
    _binary()
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model" * 100)
    with pytest.raises(BackendUnavailableError, match=r"exited with code \d+ while starting; last output"):
        LlamaServerProcess(junk).start()
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        LlamaServerProcess(tmp_path / "absent.gguf").start()


async def test_llama_server_streams_caches_and_applies_grammar(tiny_server: LlamaServerProcess) -> None:
    async with tiny_server.backend() as backend:
        prompt = "The list of the days of the week: Monday, Tuesday,"
        request = CompletionRequest(prompt=prompt, max_tokens=12)
        chunks = [c async for c in backend.stream(request)]
        assert len(chunks) > 3
        first = chunks[-1]
        assert first.usage is not None
        assert first.finish_reason == "length"
        assert first.usage.completion_tokens == 12
        assert first.usage.prompt_tokens == await backend.count_tokens(prompt)
        again = await complete(backend, request)
        assert again.text == "".join(c.text for c in chunks)
        assert again.usage.cached_tokens is not None
        assert again.usage.cached_tokens >= first.usage.prompt_tokens - 1  # the prompt came from the KV cache

        done = await complete(backend, CompletionRequest(prompt="Plan:\n", max_tokens=40, grammar=PLAN_GRAMMAR))
        if done.finish_reason == "stop":
            assert re.fullmatch(PLAN_GRAMMAR_RE, done.text), done.text
        else:
            assert re.match(r"1\. [a-z_]+(\(|$)", done.text), done.text
        with pytest.raises(BackendStreamError, match=r"HTTP 400.*grammar"):
            await complete(backend, CompletionRequest(prompt="Plan:\n", grammar="root ::= undefined_rule"))

        chat = await complete(backend, CompletionRequest(messages=(Message("user", "Hi!"),), max_tokens=8))
        assert chat.text
        assert "<|im_start|>" not in chat.text

        async with aclosing(backend.stream(CompletionRequest(prompt="Once upon a time", max_tokens=2000))) as it:
            async for _chunk in it:
                break
        after = await complete(backend, CompletionRequest(prompt="Hello", max_tokens=3))
        assert after.usage.completion_tokens == 3


async def test_llama_server_default_model_plans() -> None:
    _binary()
    async with LlamaServerProcess(_model("default"), ctx_size=4096) as server, server.backend() as backend:
        text = "".join([c.text async for c in backend.stream(PLAN_REQUEST)])
        tasks = parse_plan(text, tools=PLANNER_TOOLS)
        assert tasks[-1].is_join
        assert_sms_plan(tasks)
        grammar = await complete(
            backend,
            CompletionRequest(
                prompt=PLANNER_SYSTEM + "\n" + PLANNER_QUESTION + "\n", max_tokens=60, grammar=PLAN_GRAMMAR
            ),
        )
        assert re.fullmatch(PLAN_GRAMMAR_RE, grammar.text), grammar.text


# --------------------------------------------------------------------------------------------- llama_cpp.server
def _start_llama_cpp_server(model: Path) -> tuple[subprocess.Popen[bytes], str]:
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_threads", "2", "--n_ctx", "4096"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("llama_cpp.server did not start")


@pytest.fixture(params=["tiny", "default"])
def llama_cpp_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    proc, url = _start_llama_cpp_server(_model(request.param))
    try:
        yield request.param, url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_openai_backend_against_llama_cpp_server(llama_cpp_server: tuple[str, str]) -> None:
    which, url = llama_cpp_server
    async with OpenAICompatibleBackend(url) as backend:
        if which == "default":
            text = "".join([c.text async for c in backend.stream(PLAN_REQUEST)])
            tasks = parse_plan(text, tools=PLANNER_TOOLS)
            assert tasks[-1].is_join
            assert_sms_plan(tasks)
            grammar = await complete(
                backend,
                CompletionRequest(
                    prompt=PLANNER_SYSTEM + "\n" + PLANNER_QUESTION + "\n", max_tokens=60, grammar=PLAN_GRAMMAR
                ),
            )
            assert re.fullmatch(PLAN_GRAMMAR_RE, grammar.text), grammar.text
            return
        chunks = [c async for c in backend.stream(CompletionRequest(prompt="Monday, Tuesday,", max_tokens=10))]
        assert len(chunks) > 3
        assert chunks[-1].finish_reason == "length"
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 10  # llama_cpp.server sends no usage: streamed events counted
        chat = await complete(backend, CompletionRequest(messages=(Message("user", "Hi!"),), max_tokens=8))
        assert chat.text
        stopped = await complete(backend, CompletionRequest(prompt="Count: 1, 2, 3, 4,", max_tokens=30, stop=(" 7",)))
        assert " 7" not in stopped.text
        assert stopped.finish_reason == "stop"
        async with aclosing(backend.stream(CompletionRequest(prompt="Once upon a time", max_tokens=2000))) as it:
            async for _chunk in it:
                break
        after = await complete(backend, CompletionRequest(prompt="Hello", max_tokens=3))
        assert after.usage.completion_tokens == 3
