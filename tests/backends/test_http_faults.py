"""HTTP backends against real (scripted) servers on 127.0.0.1: protocol details and every network fault."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from backend_fakes import FakeHandler, FakeServer

from tinyplan import (
    BackendError,
    BackendStreamError,
    BackendTimeoutError,
    BackendUnavailableError,
    CompletionRequest,
    Message,
    Usage,
    complete,
)
from tinyplan.backends import LlamaServerBackend, LlamaServerProcess, OpenAICompatibleBackend, llama_server_binary
from tinyplan.backends._http import map_http_error

pytestmark = pytest.mark.anyio

PLAN = ['1. get_phone_number("Sid")\n', "2. join()", "<END_OF_PLAN>"]


def llama_server_events(handler: FakeHandler, body: Any) -> None:
    handler.start_sse()
    for piece in PLAN[:2]:
        handler.send_event({"content": piece, "stop": False})
    handler.write_chunk(b": keep-alive ping\n\n")
    handler.send_event(
        {
            "content": "",
            "stop": True,
            "stop_type": "word",
            "stopping_word": "<END_OF_PLAN>",
            "tokens_predicted": 14,
            "tokens_evaluated": 120,
            "tokens_cached": 100,
            "timings": {"prompt_n": 20, "cache_n": 100, "predicted_n": 14},
        }
    )
    handler.end_sse()


def openai_events(handler: FakeHandler, body: Any) -> None:
    handler.start_sse()
    chat = "messages" in body
    for piece in PLAN[:2]:
        choice = {"delta": {"content": piece}} if chat else {"text": piece}
        handler.send_event({"choices": [{**choice, "index": 0, "finish_reason": None}]})
    last = {"delta": {}} if chat else {"text": ""}
    handler.send_event({"choices": [{**last, "index": 0, "finish_reason": "stop"}]})
    handler.send_event(
        {
            "choices": [],
            "usage": {"prompt_tokens": 120, "completion_tokens": 14, "prompt_tokens_details": {"cached_tokens": 96}},
        }
    )
    handler.send_event("[DONE]")
    handler.end_sse()


def make_backend(kind: str, url: str, **options: Any) -> LlamaServerBackend | OpenAICompatibleBackend:
    if kind == "llama-server":
        return LlamaServerBackend(url, **options)
    return OpenAICompatibleBackend(url + "/v1", model="qwen", **options)


BOTH = pytest.mark.parametrize("kind", ["llama-server", "openai"])
REQUEST = CompletionRequest(
    prompt="Question: call Sid\n", stop=("<END_OF_PLAN>",), max_tokens=64, grammar="root ::= [a-z]+"
)


# --------------------------------------------------------------------------------------------- happy paths
async def test_llama_server_stream_body_and_usage(fake_server: FakeServer) -> None:
    fake_server.respond = llama_server_events
    async with LlamaServerBackend(fake_server.url) as backend:
        chunks = [c async for c in backend.stream(REQUEST)]
    assert "".join(c.text for c in chunks) == "".join(PLAN[:2])
    assert chunks[-1].usage == Usage(prompt_tokens=120, completion_tokens=14, cached_tokens=100)
    assert chunks[-1].finish_reason == "stop"
    method, path, body, _ = fake_server.requests[0]
    assert (method, path) == ("POST", "/completion")
    assert body == {
        "prompt": "Question: call Sid\n",
        "stream": True,
        "n_predict": 64,
        "temperature": 0.0,
        "repeat_penalty": 1.0,
        "cache_prompt": True,
        "stop": ["<END_OF_PLAN>"],
        "grammar": "root ::= [a-z]+",
    }


async def test_llama_server_limit_is_length_and_old_usage_fields(fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        h.send_event({"content": "1. a(", "stop": False})
        h.send_event(
            {
                "content": "",
                "stop": True,
                "stop_type": "limit",
                "tokens_predicted": 3,
                "tokens_evaluated": 9,
                "tokens_cached": 4,
            }
        )
        h.end_sse()

    fake_server.respond = respond
    async with LlamaServerBackend(fake_server.url) as backend:
        done = await complete(backend, CompletionRequest(prompt="x", max_tokens=3))
    assert done.text == "1. a("
    assert done.finish_reason == "length"
    assert done.usage == Usage(prompt_tokens=9, completion_tokens=3, cached_tokens=4)


async def test_llama_server_chat_goes_through_apply_template(fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        if h.path == "/apply-template":
            prompt = "".join(f"<|{m['role']}|>{m['content']}\n" for m in body["messages"]) + "<|assistant|>"
            h.send_json(200, {"prompt": prompt})
        else:
            llama_server_events(h, body)

    fake_server.respond = respond
    request = CompletionRequest(messages=(Message("system", "Plan."), Message("user", "Text Sid")))
    async with LlamaServerBackend(fake_server.url) as backend:
        done = await complete(backend, request)
    assert done.text == "".join(PLAN[:2])
    assert [r[1] for r in fake_server.requests] == ["/apply-template", "/completion"]
    assert fake_server.requests[1][2]["prompt"] == "<|system|>Plan.\n<|user|>Text Sid\n<|assistant|>"


async def test_llama_server_health_and_count_tokens(fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        if h.path == "/health":
            h.send_json(200, {"status": "ok"})
        else:
            h.send_json(200, {"tokens": list(range(len(body["content"].split())))})

    fake_server.respond = respond
    async with LlamaServerBackend(fake_server.url, api_key="sekret") as backend:
        assert await backend.health() is True
        assert await backend.count_tokens("one two three") == 3
    assert fake_server.requests[1][2] == {"content": "one two three", "add_special": False}
    assert fake_server.requests[0][3]["Authorization"] == "Bearer sekret"


@pytest.mark.parametrize("chat", [False, True])
async def test_openai_stream_body_and_usage(fake_server: FakeServer, chat: bool) -> None:
    fake_server.respond = openai_events
    if chat:
        request = CompletionRequest(messages=(Message("user", "Text Sid"),), stop=("<END_OF_PLAN>",), max_tokens=64)
    else:
        request = CompletionRequest(prompt="Text Sid\n", stop=("<END_OF_PLAN>",), max_tokens=64)
    async with OpenAICompatibleBackend(fake_server.url + "/v1", model="qwen", api_key="k") as backend:
        done = await complete(backend, request)
    assert done.text == "".join(PLAN[:2])
    assert done.usage == Usage(prompt_tokens=120, completion_tokens=14, cached_tokens=96)
    assert done.finish_reason == "stop"
    _, path, body, headers = fake_server.requests[0]
    assert path == ("/v1/chat/completions" if chat else "/v1/completions")
    assert headers["Authorization"] == "Bearer k"
    expected = {
        "model": "qwen",
        "stream": True,
        "max_tokens": 64,
        "temperature": 0.0,
        "stop": ["<END_OF_PLAN>"],
        "repeat_penalty": 1.0,
        "stream_options": {"include_usage": True},
    }
    expected.update({"messages": [{"role": "user", "content": "Text Sid"}]} if chat else {"prompt": "Text Sid\n"})
    assert body == expected


async def test_openai_without_usage_counts_events(fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        for piece in ("1. a()", "\n", "2. join()"):
            h.send_event({"choices": [{"text": piece, "finish_reason": None}]})
        h.send_event({"choices": [{"text": "", "finish_reason": "length"}]})
        h.send_event("[DONE]")
        h.end_sse()

    fake_server.respond = respond
    async with OpenAICompatibleBackend(fake_server.url + "/v1", grammar_field="guided_grammar") as backend:
        done = await complete(backend, CompletionRequest(prompt="p", grammar="root ::= [a-z]+"))
    assert done.text == "1. a()\n2. join()"
    assert done.usage == Usage(prompt_tokens=0, completion_tokens=3)
    assert done.finish_reason == "length"
    assert fake_server.requests[0][2]["guided_grammar"] == "root ::= [a-z]+"
    assert "model" not in fake_server.requests[0][2]


async def test_openai_hosted_settings_send_no_extras_and_refuse_grammar(fake_server: FakeServer) -> None:
    fake_server.respond = openai_events
    backend = OpenAICompatibleBackend(fake_server.url + "/v1", repeat_penalty=None, grammar_field=None)
    assert backend.supports_grammar is False
    with pytest.raises(BackendError, match="takes no grammar"):
        await complete(backend, REQUEST)
    assert fake_server.requests == []  # refused before sending anything
    done = await complete(backend, CompletionRequest(prompt="p", temperature=0.7))
    assert done.text == "".join(PLAN[:2])
    body = fake_server.requests[0][2]
    assert "repeat_penalty" not in body
    assert "grammar" not in body
    assert body["temperature"] == 0.7
    await backend.aclose()


# --------------------------------------------------------------------------------------------- faults
@BOTH
async def test_connection_refused_is_unavailable(kind: str, closed_port: int) -> None:
    async with make_backend(kind, f"http://127.0.0.1:{closed_port}") as backend:
        with pytest.raises(BackendUnavailableError, match="cannot reach"):
            await complete(backend, REQUEST)


@BOTH
async def test_server_that_never_answers_times_out(kind: str, silent_server: str) -> None:
    async with make_backend(kind, silent_server, timeout=0.3) as backend:
        started = time.monotonic()
        with pytest.raises(BackendTimeoutError, match="timed out"):
            await complete(backend, REQUEST)
        assert time.monotonic() - started < 5


@BOTH
async def test_http_500_keeps_the_servers_message(kind: str, fake_server: FakeServer) -> None:
    fake_server.respond = lambda h, body: h.send_json(
        500, {"error": {"code": 500, "message": "failed to parse grammar", "type": "server_error"}}
    )
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendStreamError, match=r"HTTP 500.*failed to parse grammar"):
            await complete(backend, REQUEST)


@BOTH
@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"detail": "Not Found"}), (503, {"error": {"code": 503, "message": "Loading model"}})],
)
async def test_404_and_503_are_unavailable(kind: str, fake_server: FakeServer, status: int, body: Any) -> None:
    fake_server.respond = lambda h, _: h.send_json(status, body)
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendUnavailableError, match=f"HTTP {status}"):
            await complete(backend, REQUEST)


@BOTH
async def test_error_status_with_plain_text_body(kind: str, fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        payload = b"upstream exploded"
        h.send_response(502)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    fake_server.respond = respond
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendStreamError, match=r"HTTP 502.*upstream exploded"):
            await complete(backend, REQUEST)


def first_event(kind: str) -> Any:
    return {"content": PLAN[0], "stop": False} if kind == "llama-server" else {"choices": [{"text": PLAN[0]}]}


@BOTH
async def test_stream_cut_mid_event(kind: str, fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        h.send_event(first_event(kind))
        h.write_chunk(b'data: {"content": "2. jo')  # half an event, then the connection dies
        h.cut()

    fake_server.respond = respond
    received: list[str] = []
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendStreamError, match=r"cut|ended"):  # noqa: PT012
            async for chunk in backend.stream(REQUEST):
                received.append(chunk.text)
    assert received == [PLAN[0]]  # what arrived before the cut was delivered


@BOTH
async def test_stream_closed_cleanly_before_final_event(kind: str, fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        h.send_event(first_event(kind))
        h.end_sse()

    fake_server.respond = respond
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendStreamError, match="ended before its final event"):
            await complete(backend, REQUEST)


@BOTH
@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("{not json", "malformed event"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"error": {"code": 500, "message": "KV cache full"}}), "mid-stream.*KV cache full"),
    ],
)
async def test_malformed_and_error_events(kind: str, fake_server: FakeServer, event: str, message: str) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        h.send_event(first_event(kind))
        h.send_event(event)
        h.end_sse()

    fake_server.respond = respond
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendStreamError, match=message):
            await complete(backend, REQUEST)


@BOTH
async def test_wrong_field_types_are_stream_errors(kind: str, fake_server: FakeServer) -> None:
    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        h.send_event({"content": 42, "stop": False} if kind == "llama-server" else {"choices": [{"text": 42}]})
        h.end_sse()

    fake_server.respond = respond
    async with make_backend(kind, fake_server.url) as backend:
        with pytest.raises(BackendStreamError, match="malformed event"):
            await complete(backend, REQUEST)


@BOTH
async def test_stopping_early_closes_the_connection(kind: str, fake_server: FakeServer) -> None:
    """The consumer stops after one chunk: the server sees the connection go away and stops writing."""
    wrote: list[int] = []
    finished: list[bool] = []

    def respond(h: FakeHandler, body: Any) -> None:
        h.start_sse()
        try:
            for i in range(400):
                h.send_event(first_event(kind))
                wrote.append(i)
                time.sleep(0.005)
        finally:
            finished.append(True)

    fake_server.respond = respond
    async with make_backend(kind, fake_server.url) as backend:
        async for _chunk in backend.stream(REQUEST):
            break
    with anyio.fail_after(5):
        while not finished:  # noqa: ASYNC110 (set by the server's thread)
            await anyio.sleep(0.02)
    assert len(wrote) < 400  # the server noticed the disconnect and gave up
    assert fake_server.disconnects == [fake_server.requests[0][1]]


async def test_invalid_url_is_unavailable() -> None:
    async with LlamaServerBackend("ftp://127.0.0.1:1") as backend:
        with pytest.raises(BackendUnavailableError):
            await complete(backend, REQUEST)


def test_map_http_error_covers_the_httpx_tree() -> None:
    req = httpx.Request("GET", "http://x")
    assert isinstance(map_http_error(httpx.ConnectError("refused", request=req), url="u"), BackendUnavailableError)
    assert isinstance(map_http_error(httpx.ReadTimeout("slow", request=req), url="u"), BackendTimeoutError)
    assert isinstance(map_http_error(httpx.PoolTimeout("busy", request=req), url="u"), BackendTimeoutError)
    assert isinstance(map_http_error(httpx.RemoteProtocolError("cut", request=req), url="u"), BackendStreamError)
    assert isinstance(map_http_error(httpx.DecodingError("gzip", request=req), url="u"), BackendStreamError)


def test_missing_llama_server_binary_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYPLAN_LLAMA_SERVER", str(tmp_path / "llama-server"))
    with pytest.raises(BackendUnavailableError, match=r"build-llama-server\.sh"):
        llama_server_binary()
    with pytest.raises(BackendUnavailableError, match=r"build-llama-server\.sh"):
        LlamaServerProcess(tmp_path / "m.gguf").command()


def test_all_backends_implement_the_protocol() -> None:
    from tinyplan import Backend
    from tinyplan.backends import LlamaCppBackend

    for backend in (
        LlamaCppBackend("m.gguf"),
        LlamaServerBackend("http://127.0.0.1:1"),
        OpenAICompatibleBackend("http://127.0.0.1:1/v1"),
    ):
        assert isinstance(backend, Backend)
        assert backend.supports_grammar is True
