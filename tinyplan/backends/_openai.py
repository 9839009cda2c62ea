"""A backend for any OpenAI-compatible HTTP server: vLLM, Ollama, LM Studio, llama-cpp-python's server, llama-server's
``/v1`` API, hosted APIs.

Completion requests (``prompt``) go to ``POST {base_url}/completions``, chat requests (``messages``) to
``POST {base_url}/chat/completions``, both with ``stream: true`` (server-sent events, ``data: [DONE]`` at the end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from tinyplan._backend import Chunk, CompletionRequest, Usage
from tinyplan._errors import BackendError, BackendStreamError
from tinyplan.backends._http import DONE, HttpBackendBase, iter_sse_json

__all__ = ["OpenAICompatibleBackend", "usage_from_openai"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from_openai(event: Mapping[str, Any]) -> Usage | None:
    """`Usage` from an OpenAI-style event's ``usage`` object (with ``prompt_tokens_details.cached_tokens`` when
    given), completed by llama-server's ``timings.cache_n``; None if the event has no usage."""
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

    The defaults suit local servers (llama-cpp-python's server, llama-server, vLLM, Ollama, LM Studio): greedy
    decoding comes from ``CompletionRequest.temperature`` (0 by default), ``repeat_penalty: 1.0`` is sent because
    llama-cpp-python's server otherwise applies 1.1, which changes plans, and a grammar is sent as ``grammar``
    (llama.cpp's GBNF; vLLM calls the field ``guided_grammar``). For a hosted API that rejects unknown fields,
    pass ``repeat_penalty=None, grammar_field=None``.

    Args:
        base_url: The API root including its version prefix, e.g. ``http://127.0.0.1:8000/v1``,
            ``http://localhost:11434/v1`` (Ollama), ``https://api.openai.com/v1``.
        model: The ``model`` field; omitted when None (single-model local servers do not need it).
        api_key: Sent as ``Authorization: Bearer <key>``.
        timeout: Seconds to wait for each read (the first token waits for prompt processing); None: forever.
        connect_timeout: Seconds to wait for the connection.
        repeat_penalty: Sent as ``repeat_penalty`` unless None.
        grammar_field: The body field that carries a GBNF grammar, or None if the server takes none (then
            `supports_grammar` is False and a request with a grammar raises `BackendError`).
        include_usage: Ask for a final usage event (``stream_options.include_usage``). Servers that ignore it
            (llama-cpp-python's) give no counts: then `Usage.completion_tokens` counts the streamed events and
            `Usage.prompt_tokens` is 0.
        extra_body: More fields for every request body (e.g. ``{"top_k": 1}``); request fields win.
        client: An httpx client to use (not closed by `aclose`).

    Attributes:
        supports_grammar: True when ``grammar_field`` is set.

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
        include_usage: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        super().__init__(base_url, timeout=timeout, connect_timeout=connect_timeout, headers=headers, client=client)
        self.model = model
        self.repeat_penalty = repeat_penalty
        self.grammar_field = grammar_field
        self.supports_grammar = grammar_field is not None
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
            if self.grammar_field is None:
                raise BackendError(f"{self!r} takes no grammar (grammar_field=None); check supports_grammar first")
            body[self.grammar_field] = request.grammar
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
