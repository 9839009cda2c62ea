"""A backend for any OpenAI-compatible HTTP server.

Such as vLLM, SGLang, Ollama, LM Studio, llama-cpp-python's server, llama-server's ``/v1`` API and hosted APIs.

Completion requests (``prompt``) go to ``POST {base_url}/completions``, chat requests (``messages``) to
``POST {base_url}/chat/completions``, both with ``stream: true`` (server-sent events, ``data: [DONE]`` at the end).

A grammar (GBNF text, `tinyplan._grammar.plan_grammar`) goes into the body field that the server reads
(`GRAMMAR_FIELDS`); every server listed there takes llama.cpp's GBNF as it is, so the text is never converted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, get_args

import httpx

from tinyplan._backend import Chunk, CompletionRequest, Usage
from tinyplan._errors import BackendError, BackendStreamError
from tinyplan.backends._http import DONE, HttpBackendBase, iter_sse_json

__all__ = ["GRAMMAR_FIELDS", "GrammarFormat", "OpenAICompatibleBackend", "usage_from_openai"]

GrammarFormat = Literal["llama.cpp", "vllm", "vllm-guided", "sglang"]
"""The kinds of server `OpenAICompatibleBackend` knows how to send a grammar to (its ``grammar_format``)."""

#: Where each kind of server reads a GBNF grammar in the request body, as a path of keys (all of them read llama.cpp's
#: GBNF with the start rule ``root``):
#:
#: * ``"llama.cpp"``: ``grammar`` — llama-cpp-python's server (``llama_cpp/server/types.py``) and llama-server's
#:   ``/v1`` API (``tools/server/README.md``).
#: * ``"vllm"``: ``structured_outputs.grammar`` — vLLM 0.10.2 and later (``StructuredOutputsParams``; vLLM's
#:   "Structured Outputs" docs, https://docs.vllm.ai/en/latest/features/structured_outputs/). Its backends read GBNF
#:   as it is: xgrammar (converts only what looks like Lark) and guidance (``llguidance.grammar_from("grammar", ...)``,
#:   ``vllm/v1/structured_output/backend_guidance.py``).
#: * ``"vllm-guided"``: ``guided_grammar`` — vLLM before 0.12 (deprecated in 0.10.2, removed in 0.12.0).
#: * ``"sglang"``: ``ebnf`` — SGLang's ``CompletionRequest`` and ``ChatCompletionRequest``
#:   (``python/sglang/srt/entrypoints/openai/protocol.py``); its xgrammar backend reads it as GBNF, its llguidance
#:   backend through ``llguidance.grammar_from("ebnf", ...)`` (``python/sglang/srt/constrained/llguidance_backend.py``).
GRAMMAR_FIELDS: dict[str, tuple[str, ...]] = {
    "llama.cpp": ("grammar",),
    "vllm": ("structured_outputs", "grammar"),
    "vllm-guided": ("guided_grammar",),
    "sglang": ("ebnf",),
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _put(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set ``value`` at ``path`` in ``body``, copying the objects on the way.

    An object from ``extra_body`` (a ``structured_outputs`` with other options) keeps its other keys and is not
    changed itself.
    """
    node = body
    for key in path[:-1]:
        inner = node.get(key)
        node[key] = dict(inner) if isinstance(inner, Mapping) else {}
        node = node[key]
    node[path[-1]] = value


def usage_from_openai(event: Mapping[str, Any]) -> Usage | None:
    """`Usage` from an OpenAI-style event's ``usage`` object; None if the event has no usage.

    ``prompt_tokens_details.cached_tokens`` is read when given, else llama-server's ``timings.cache_n``.
    """
    usage = event.get("usage")
    if not isinstance(usage, dict):
        return None
    cached: int | None = None
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict):
        cached = _int(details.get("cached_tokens"))
    timings = event.get("timings")
    if cached is None and isinstance(timings, dict):
        cached = _int(timings.get("cache_n"))
    return Usage(
        prompt_tokens=_int(usage.get("prompt_tokens")) or 0,
        completion_tokens=_int(usage.get("completion_tokens")) or 0,
        cached_tokens=cached,
    )


class OpenAICompatibleBackend(HttpBackendBase):
    """An OpenAI-compatible server, through ``/completions`` and ``/chat/completions`` with streaming.

    The defaults suit local servers (llama-cpp-python's server, llama-server, vLLM, SGLang, Ollama, LM Studio):
    greedy decoding comes from ``CompletionRequest.temperature`` (0 by default), ``repeat_penalty: 1.0`` is sent
    because llama-cpp-python's server otherwise applies 1.1, which changes plans (vLLM and SGLang ignore the field;
    their ``repetition_penalty`` is 1.0 already), and a grammar is sent as ``grammar`` (llama.cpp's GBNF). For vLLM
    or SGLang pass ``grammar_format="vllm"`` or ``"sglang"`` (`GRAMMAR_FIELDS` has where each server reads it). For
    a hosted API that rejects unknown fields, pass ``repeat_penalty=None, grammar_field=None``.

    Args:
        base_url: The API root including its version prefix, e.g. ``http://127.0.0.1:8000/v1``,
            ``http://localhost:11434/v1`` (Ollama), ``https://api.openai.com/v1``.
        model: The ``model`` field; omitted when None (single-model local servers do not need it).
        api_key: Sent as ``Authorization: Bearer <key>``.
        timeout: Seconds to wait for each read (the first token waits for prompt processing); None: forever.
        connect_timeout: Seconds to wait for the connection.
        repeat_penalty: Sent as ``repeat_penalty`` unless None.
        grammar_field: The top-level body field that carries a GBNF grammar, or None if the server takes none
            (then `supports_grammar` is False and a request with a grammar raises `BackendError`). For a server
            that `grammar_format` does not name.
        grammar_format: The kind of server, which says where the grammar goes: ``"llama.cpp"`` (``grammar``),
            ``"vllm"`` (``structured_outputs: {"grammar": ...}``, vLLM 0.10.2 and later), ``"vllm-guided"``
            (``guided_grammar``, vLLM before 0.12) or ``"sglang"`` (``ebnf``); see `GRAMMAR_FIELDS`. None: use
            ``grammar_field``. Given with a ``grammar_field`` other than the default ``"grammar"``, it raises
            ``ValueError``.
        include_usage: Ask for a final usage event (``stream_options.include_usage``). Servers that ignore it
            (llama-cpp-python's) give no counts: then `Usage.completion_tokens` counts the streamed events and
            `Usage.prompt_tokens` is 0.
        extra_body: More fields for every request body (e.g. ``{"top_k": 1}``); request fields win.
        client: An httpx client to use (not closed by `aclose`).

    Attributes:
        supports_grammar: True when the grammar has a field (``grammar_format`` or ``grammar_field`` set).
        grammar_field: The top-level body field of the grammar (``"structured_outputs"`` for vLLM), or None.
        grammar_path: The keys under which the grammar goes in the body (``("structured_outputs", "grammar")`` for
            vLLM), or None.

    Raises (from `stream`):
        BackendUnavailableError: Connection refused, or HTTP 404 (wrong URL or model) / 503.
        BackendTimeoutError: No answer within the timeout.
        BackendStreamError: HTTP error status (with the server's message), cut stream, malformed event, an error
            event mid-stream.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float | None = 300.0,
        connect_timeout: float = 10.0,
        repeat_penalty: float | None = 1.0,
        grammar_field: str | None = "grammar",
        grammar_format: GrammarFormat | None = None,
        include_usage: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        super().__init__(base_url, timeout=timeout, connect_timeout=connect_timeout, headers=headers, client=client)
        if grammar_format is not None:
            if grammar_format not in GRAMMAR_FIELDS:
                known = ", ".join(repr(k) for k in get_args(GrammarFormat))
                raise ValueError(f"unknown grammar_format {grammar_format!r}: use one of {known} or None")
            if grammar_field != "grammar":
                raise ValueError(
                    f"grammar_format={grammar_format!r} already says where the grammar goes: "
                    f"leave out grammar_field={grammar_field!r}"
                )
        self.model = model
        self.repeat_penalty = repeat_penalty
        self.grammar_format = grammar_format
        self.grammar_path: tuple[str, ...] | None = (
            GRAMMAR_FIELDS[grammar_format]
            if grammar_format is not None
            else (grammar_field,)
            if grammar_field is not None
            else None
        )
        self.grammar_field = self.grammar_path[0] if self.grammar_path else None
        self.supports_grammar = self.grammar_path is not None
        self.include_usage = include_usage
        self.extra_body = dict(extra_body or {})

    def __repr__(self) -> str:
        return f"OpenAICompatibleBackend({self.base_url!r}, model={self.model!r})"

    def request_body(self, request: CompletionRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body for ``request``.

        Raises:
            BackendError: The request has a grammar and this server takes none.
        """
        body: dict[str, Any] = {**self.extra_body}
        if self.model is not None:
            body["model"] = self.model
        if request.prompt is not None:
            path = "/completions"
            body["prompt"] = request.prompt
        else:
            assert request.messages is not None
            path = "/chat/completions"
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        body.update(stream=True, max_tokens=request.max_tokens, temperature=request.temperature)
        if request.stop:
            body["stop"] = list(request.stop)
        if self.repeat_penalty is not None:
            body["repeat_penalty"] = self.repeat_penalty
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        if request.grammar is not None:
            if self.grammar_path is None:
                raise BackendError(f"{self!r} takes no grammar (grammar_field=None); check supports_grammar first")
            _put(body, self.grammar_path, request.grammar)
        return path, body

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Stream the completion of ``request``; the last chunk carries `Usage` and the finish reason.

        Stopping the iteration early (or cancelling) closes the connection.

        Raises:
            BackendError: See the class docs.
        """
        path, body = self.request_body(request)
        chat = request.messages is not None
        url = self._url(path)
        usage: Usage | None = None
        reason: str | None = None
        events = 0
        async with self._open_stream("POST", path, body) as response:
            async for event in iter_sse_json(response, url=url):
                if event == DONE:
                    break
                assert isinstance(event, dict)
                usage = usage_from_openai(event) or usage
                choices = event.get("choices")
                if not choices:
                    continue  # the usage-only event, or a keep-alive
                if not isinstance(choices, list) or not isinstance(choices[0], dict):
                    raise BackendStreamError(f"malformed event from {url}: 'choices' is not a list of objects")
                choice = choices[0]
                if chat:
                    delta = choice.get("delta")
                    text = delta.get("content") if isinstance(delta, dict) else None
                else:
                    text = choice.get("text")
                if text is not None and not isinstance(text, str):
                    raise BackendStreamError(
                        f"malformed event from {url}: the text is not a string: {str(event)[:200]}"
                    )
                if text:
                    events += 1
                    yield Chunk(text)
                if choice.get("finish_reason"):
                    reason = str(choice["finish_reason"])
            else:
                if reason is None:
                    raise BackendStreamError(f"the stream from {url} ended before its final event")
        yield Chunk("", usage=usage or Usage(completion_tokens=events), finish_reason=reason)
