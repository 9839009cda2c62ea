"""The language-model backend protocol, and `ScriptedBackend`, the fake one shipped for tests and examples.

Shaped like httpx's transport: one narrow async method, ``stream(request)``, that adapters implement (llama.cpp
in-process, llama.cpp server, OpenAI-compatible HTTP). Everything above it (prompts, parsing, execution, joining) is
backend-agnostic.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import anyio

from tinyplan._errors import BackendError, BackendStreamError

__all__ = [
    "Backend",
    "Chunk",
    "Completion",
    "CompletionRequest",
    "Message",
    "ScriptedBackend",
    "ScriptedFailure",
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


@runtime_checkable
class Backend(Protocol):
    """What tinyplan needs from a language model.

    Attributes:
        supports_grammar: Whether ``CompletionRequest.grammar`` is honoured.
    """

    supports_grammar: bool

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Generate text for ``request``, chunk by chunk.

        Raises:
            BackendError: Any failure, as one of its subclasses (`BackendUnavailableError`, `BackendTimeoutError`,
                `BackendStreamError`). Never a transport library's own exception.
        """
        ...

    async def aclose(self) -> None:
        """Release connections, processes or models."""
        ...


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


# ----------------------------------------------------------------------------------------------- scripted backend
@dataclass(frozen=True)
class ScriptedFailure:
    """A scripted response that streams ``text`` and then raises ``error`` (a backend dying mid-stream)."""

    text: str
    error: BaseException = field(default_factory=lambda: BackendStreamError("scripted failure: the stream was cut"))


ScriptedResponse = str | ScriptedFailure | BaseException | Callable[[CompletionRequest], "str | ScriptedFailure"]

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def _token_pieces(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


class ScriptedBackend:
    """A backend that replays scripted responses, for tests and examples (like httpx's ``MockTransport``).

    Each call to `stream` takes the next response: a string to stream, a `ScriptedFailure` (stream some text, then
    raise), an exception (raise at once), or a function of the request returning either. Stop strings are honoured
    as a real backend would: the text is cut before the first one.

    Args:
        responses: The responses, in order. When they run out, `stream` raises `BackendError`.
        chunk_size: Stream in pieces of this many characters; None streams token-like pieces (words, punctuation).
        delay: Seconds to sleep before each chunk (simulates generation speed).
        supports_grammar: What to claim; the grammar is recorded in ``requests`` but not enforced.
        context_length: The context size to claim, in the token-like pieces `count_tokens` counts (None: unknown,
            as for a remote server that does not say).

    Attributes:
        requests: Every `CompletionRequest` received, in order.
    """

    def __init__(
        self,
        responses: Iterable[ScriptedResponse],
        *,
        chunk_size: int | None = None,
        delay: float = 0.0,
        supports_grammar: bool = True,
        context_length: int | None = None,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self._responses = list(responses)
        self.chunk_size = chunk_size
        self.delay = delay
        self.supports_grammar = supports_grammar
        self.context_length = context_length
        self.requests: list[CompletionRequest] = []
        self.closed = False

    @property
    def prompts(self) -> list[str]:
        """The text of every request received."""
        return [r.text for r in self.requests]

    @property
    def remaining(self) -> int:
        """Responses not yet used."""
        return len(self._responses)

    def _pieces(self, text: str) -> list[str]:
        if self.chunk_size is None:
            return _token_pieces(text)
        return [text[i : i + self.chunk_size] for i in range(0, len(text), self.chunk_size)]

    def count_tokens(self, text: str) -> int:
        """Token-like pieces (words, punctuation, whitespace runs) in ``text``: the unit of this backend's `Usage`."""
        return len(_token_pieces(text))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Stream the next scripted response (see the class docs)."""
        self.requests.append(request)
        if not self._responses:
            raise BackendError(f"ScriptedBackend has no response left for request #{len(self.requests)}")
        response = self._responses.pop(0)
        if callable(response) and not isinstance(response, BaseException):
            response = response(request)
        if isinstance(response, BaseException):
            raise response
        failure: BaseException | None = None
        if isinstance(response, ScriptedFailure):
            text, failure = response.text, response.error
        else:
            text = response
        text, stopped = truncate_at_stop(text, request.stop)
        pieces = self._pieces(text)
        for piece in pieces:
            if self.delay:
                await anyio.sleep(self.delay)
            yield Chunk(piece)
        if failure is not None:
            raise failure
        usage = Usage(prompt_tokens=self.count_tokens(request.text), completion_tokens=len(pieces))
        yield Chunk("", usage=usage, finish_reason="stop" if stopped or failure is None else "length")

    async def aclose(self) -> None:
        """Mark the backend closed (nothing to release)."""
        self.closed = True


@contextlib.asynccontextmanager
async def closing_stream(stream: AsyncIterator[Chunk]) -> AsyncIterator[AsyncIterator[Chunk]]:
    """Close a backend's stream when the reader stops early (async generators have ``aclose``; other iterators need
    nothing)."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
