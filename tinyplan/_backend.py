"""The language-model backend protocol and the request/response data every backend speaks.

Shaped like httpx's transport: one narrow async method, ``stream(request)``, that adapters implement (llama.cpp
in-process, llama.cpp server, OpenAI-compatible HTTP). Everything above it (prompts, parsing, execution, joining) is
backend-agnostic.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Self

__all__ = [
    "Backend",
    "Chunk",
    "Completion",
    "CompletionRequest",
    "Message",
    "Usage",
    "complete",
    "truncate_at_stop",
]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What to generate.

    Exactly one of ``prompt`` (plain completion) and ``messages`` (chat) is set.

    Attributes:
        prompt: The full prompt text for a completion.
        messages: Chat messages; the backend applies the model's chat template.
        stop: Stop strings; generation ends before the first one, which is not included in the output.
        max_tokens: At most this many generated tokens.
        temperature: Sampling temperature; 0 is greedy.
        grammar: A GBNF grammar (llama.cpp's format) constraining the output, or None. Backends that cannot apply a
            grammar raise `BackendError` when one is given (check `Backend.supports_grammar` first).
        cache_prefix: The leading text of ``prompt`` (for chat: of the first message) that repeats across requests,
            such as the planner's static part. Backends that can keep a prompt cache outside memory (e.g. on disk,
            see `LlamaCppBackend`) key it on this prefix; others ignore it.
    """

    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int = 512
    temperature: float = 0.0
    grammar: str | None = None
    cache_prefix: str | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("CompletionRequest needs exactly one of prompt= or messages=")
        if self.cache_prefix is not None:
            head = self.prompt if self.prompt is not None else (self.messages[0].content if self.messages else "")
            if not head.startswith(self.cache_prefix):
                raise ValueError("cache_prefix must be the start of the prompt (or of the first message)")

    @property
    def text(self) -> str:
        """The prompt as one text (messages joined as ``role: content``), for logging and token counts."""
        if self.prompt is not None:
            return self.prompt
        assert self.messages is not None
        return "\n\n".join(f"{m.role}: {m.content}" for m in self.messages)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request. ``cached_tokens`` is the part of the prompt reused from a cache, when known."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        cached = None
        if self.cached_tokens is not None or other.cached_tokens is not None:
            cached = (self.cached_tokens or 0) + (other.cached_tokens or 0)
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens, cached)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a streamed completion (text may be "").

    Any chunk may carry ``usage``: the counts so far, so the latest one wins (the in-process llama.cpp backend sends
    them with every token, HTTP backends with the last chunk). The last chunk may carry ``finish_reason``.
    """

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


class Backend:
    """Base class of the language-model backends, shaped like httpx's ``AsyncBaseTransport``.

    A backend implements one method, `stream`; the rest have defaults a backend overrides when it can do more.
    tinyplan ships `tinyplan.backends.LlamaCppBackend`, `LlamaServerBackend`, `OpenAICompatibleBackend` and the fake
    `ScriptedBackend`; subclass it for another model server. Every backend is an async context manager that closes
    itself (``async with LlamaCppBackend() as backend: ...``).

    Attributes:
        supports_grammar: Whether ``CompletionRequest.grammar`` is honoured (default False).
        context_length: The model's context size in tokens, when known (default None; a read-only property); the
            planner refuses a request that does not fit before sending it.
    """

    supports_grammar: bool = False

    @property
    def context_length(self) -> int | None:
        """The model's context size in tokens, when known (default None)."""
        return None

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Generate text for ``request``, chunk by chunk.

        Raises:
            BackendError: Any failure, as one of its subclasses (`BackendUnavailableError`, `BackendTimeoutError`,
                `BackendStreamError`). Never a transport library's own exception.
            NotImplementedError: The subclass does not implement it.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement stream()")

    async def count_tokens(self, text: str) -> int | None:
        """``text``'s length in the model's own tokens, or None when the backend has no tokenizer (the default)."""
        return None

    async def aclose(self) -> None:
        """Release connections, processes or models (the default has nothing to release)."""
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished completion: the text, usage, and the finish reason if the backend gave one."""

    text: str
    usage: Usage
    finish_reason: str | None = None


async def complete(backend: Backend, request: CompletionRequest) -> Completion:
    """Run a request to the end and return the whole text (for sub-agents and joiners that need no streaming)."""
    parts: list[str] = []
    usage = Usage()
    reason: str | None = None
    async for chunk in backend.stream(request):
        parts.append(chunk.text)
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.finish_reason is not None:
            reason = chunk.finish_reason
    return Completion("".join(parts), usage, reason)


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the first stop string. Returns the text and whether a stop string was found."""
    cut = len(text)
    for s in stop:
        if s:
            at = text.find(s)
            if 0 <= at < cut:
                cut = at
    return text[:cut], cut < len(text)


@contextlib.asynccontextmanager
async def closing_stream(stream: AsyncIterator[Chunk]) -> AsyncIterator[AsyncIterator[Chunk]]:
    """Close a backend's stream when the reader stops early.

    Async generators have ``aclose``; other iterators need nothing.
    """
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
