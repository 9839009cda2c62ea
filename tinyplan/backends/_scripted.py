"""`ScriptedBackend`: the fake backend shipped beside the real ones, for tests and examples.

Like httpx's ``MockTransport``: it replays scripted responses through the same `Backend` protocol, with the same
stop-string, token-limit, usage and failure behaviour as a real backend, so code above it cannot tell the difference.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import anyio

from tinyplan._backend import Backend, Chunk, CompletionRequest, Usage, truncate_at_stop
from tinyplan._errors import BackendError, BackendStreamError

__all__ = ["ScriptedBackend", "ScriptedFailure", "ScriptedResponse", "token_pieces"]


@dataclass(frozen=True)
class ScriptedFailure:
    """A scripted response that streams ``text`` and then raises ``error`` (a backend dying mid-stream)."""

    text: str
    error: BaseException = field(default_factory=lambda: BackendStreamError("scripted failure: the stream was cut"))


ScriptedResponse = str | ScriptedFailure | BaseException | Callable[[CompletionRequest], "str | ScriptedFailure"]

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def token_pieces(text: str) -> list[str]:
    """``text`` cut into token-like pieces (words with their leading space, punctuation, whitespace runs)."""
    return _TOKEN_RE.findall(text)


class ScriptedBackend(Backend):
    """A backend that replays scripted responses, for tests and examples (like httpx's ``MockTransport``).

    Each call to `stream` takes the next response: a string to stream, a `ScriptedFailure` (stream some text, then
    raise), an exception (raise at once), or a function of the request returning either. Stop strings and
    ``max_tokens`` are honoured as a real backend would: the text is cut before the first stop string
    (``finish_reason="stop"``), and after ``max_tokens`` streamed pieces (``finish_reason="length"``).

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
        self._context_length = context_length
        self.requests: list[CompletionRequest] = []
        self.closed = False

    @property
    def context_length(self) -> int | None:
        """The context size this backend claims (``context_length=``), or None."""
        return self._context_length

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
            return token_pieces(text)
        return [text[i : i + self.chunk_size] for i in range(0, len(text), self.chunk_size)]

    async def count_tokens(self, text: str) -> int:
        """Token-like pieces (words, punctuation, whitespace runs) in ``text``: the unit of this backend's `Usage`."""
        return len(token_pieces(text))

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
        text, _ = truncate_at_stop(text, request.stop)
        pieces = self._pieces(text)
        finish = "stop"
        if failure is None and request.max_tokens is not None and len(pieces) > request.max_tokens:
            pieces, finish = pieces[: request.max_tokens], "length"  # one token per piece: where a backend stops
        for piece in pieces:
            if self.delay:
                await anyio.sleep(self.delay)
            yield Chunk(piece)
        if failure is not None:
            raise failure
        usage = Usage(prompt_tokens=len(token_pieces(request.text)), completion_tokens=len(pieces))
        yield Chunk("", usage=usage, finish_reason=finish)

    async def aclose(self) -> None:
        """Mark the backend closed (nothing to release)."""
        self.closed = True
