"""OpenTelemetry spans of a run, after the GenAI semantic conventions, and the timing of every model request.

tinyplan depends on ``opentelemetry-api`` only: without an SDK every span here is a no-op that costs a few
microseconds. Install ``opentelemetry-sdk`` and an exporter, set a tracer provider, and a run becomes this tree
(see docs/observability.md)::

    invoke_agent tinyplan                     one per Planner.run / Planner.stream
    ├── plan                                  one per planning round (round 0, then each replan)
    │   ├── text_completion <model>           the relevance check, the plan stream, each repair's continuation
    ├── execute_tool get_phone_number         one per task, siblings under the agent span (they overlap the plan)
    └── text_completion <model>               the joiner, when a model call decides

Model requests carry ``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
``gen_ai.usage.output_tokens``, ``gen_ai.usage.cache_read.input_tokens`` (when the backend reports it),
``gen_ai.response.time_to_first_chunk`` (seconds) and ``gen_ai.response.finish_reasons``; tool spans
``gen_ai.tool.name``, ``gen_ai.tool.call.id`` (``"<round>.<task index>"``) and ``error.type`` when the task did not
succeed. What no convention covers is under ``tinyplan.``: ``tinyplan.task.index``, ``tinyplan.task.dependencies``,
``tinyplan.task.state``, ``tinyplan.task.wait`` (seconds from ready — every dependency done — to the tool call
starting: the concurrency limit, the approval), ``tinyplan.task.dependency_wait`` (seconds from parsed to ready),
``tinyplan.task.reused``, ``tinyplan.plan.round``,
``tinyplan.grammar.level``, ``tinyplan.request.kind`` (``planner``, ``joiner``, ``relevance``).

Content — the request, prompts, model output, tool arguments and results, the answer — is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true`` (the GenAI instrumentations' opt-in switch).

`traced` also records each request's timing in a `ModelCall` on its `Plan` (``Plan.requests``), which the Chrome
trace and the terminal timeline draw (see `tinyplan._trace`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from tinyplan._backend import Backend, Chunk, CompletionRequest, Usage

if TYPE_CHECKING:
    from tinyplan._events import Event
    from tinyplan._planner import Planner
    from tinyplan._types import Plan, TaskResult

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "ModelCall",
    "RequestKind",
    "capture_content",
    "invoke_agent",
    "plan_span",
    "tool_span",
    "traced",
]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""Set to ``true`` to record prompts, outputs, tool arguments and results on the spans (off by default)."""

RequestKind = Literal["planner", "joiner", "relevance"]

_TRACER_NAME = "tinyplan"
_AGENT_NAME = "tinyplan"
_CONTENT_CHARS = 20_000  # at most this many characters of one content attribute


def capture_content() -> bool:
    """Whether content attributes are recorded: ``$OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _tracer() -> trace.Tracer:
    # Looked up at each use, so a tracer provider set after tinyplan was imported is honoured.
    return trace.get_tracer(_TRACER_NAME)


@dataclass(slots=True)
class ModelCall:
    """One request to a language model, timed with `time.perf_counter` (seconds, the clock of `TaskResult`).

    Attributes:
        kind: ``"planner"`` (a plan stream, or its continuation after a repair), ``"joiner"`` or ``"relevance"``.
        round: The planning round it belongs to.
        started_at: When the request was sent.
        first_chunk_at: When the first text arrived (None: none did).
        finished_at: When the stream ended or was closed (None while it runs).
        usage: The token counts the backend reported last; when the stream was closed before the backend reported
            any, an estimate (the planner prompt's tokens, or 0 for the joiner; one token per text chunk). None: no
            text and no counts.
        finish_reason: The backend's finish reason; ``"stop"`` when tinyplan closed the stream itself (the plan
            reached ``join()``, or a line is to be written again); None when it failed.
        error: The exception's class name when the request failed, else None.
    """

    kind: RequestKind
    round: int
    started_at: float
    first_chunk_at: float | None = None
    finished_at: float | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    error: str | None = None


# ------------------------------------------------------------------------------------------------- backend facts
_PROVIDERS = {
    "LlamaCppBackend": "llama.cpp",
    "LlamaServerBackend": "llama.cpp",
    "OpenAICompatibleBackend": "openai",
    "ScriptedBackend": "tinyplan.scripted",
}


def provider_name(backend: Backend) -> str:
    """``gen_ai.provider.name`` of a backend.

    That is its ``provider_name`` attribute, else one known by class or base class (``llama.cpp``, ``openai``), else
    the class name.
    """
    given = getattr(backend, "provider_name", None)
    if isinstance(given, str) and given:
        return given
    for cls in type(backend).__mro__:  # a subclass of a known backend is still that provider
        if cls.__name__ in _PROVIDERS:
            return _PROVIDERS[cls.__name__]
    return type(backend).__name__


def model_name(backend: Backend) -> str:
    """``gen_ai.request.model`` of a backend: its ``model`` name, else its model file's name, else the class name.

    Never loads or assembles a model (the llama.cpp backend's path is read only once resolved).
    """
    given = getattr(backend, "model", None)
    if isinstance(given, str) and given:
        return given
    path = getattr(backend, "_model_path", None) or getattr(backend, "_model_arg", None)
    if isinstance(path, str | os.PathLike):
        return Path(path).name
    if type(backend).__name__ == "LlamaCppBackend":
        return "default"
    base = getattr(backend, "base_url", None)
    return str(base) if base else type(backend).__name__


def _clip(text: str) -> str:
    return text if len(text) <= _CONTENT_CHARS else text[: _CONTENT_CHARS - 1] + "…"


def _input_messages(request: CompletionRequest) -> str:
    if request.messages is not None:
        msgs = [{"role": m.role, "parts": [{"type": "text", "content": _clip(m.content)}]} for m in request.messages]
    else:
        msgs = [{"role": "user", "parts": [{"type": "text", "content": _clip(request.prompt or "")}]}]
    return json.dumps(msgs, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------- the run's state
@dataclass(slots=True)
class _RunState:
    """What spans started below the agent span need to know: the current round."""

    round: int = 0


_RUN: contextvars.ContextVar[_RunState | None] = contextvars.ContextVar("tinyplan_run", default=None)


# ------------------------------------------------------------------------------------------------------- agent
async def invoke_agent(
    planner: Planner,
    query: str,
    emit: Callable[[Event], None],
    run: Callable[[str, Callable[[Event], None]], Awaitable[None]],
) -> None:
    """Run ``run(query, emit)`` (the planner loop) inside an ``invoke_agent`` span.

    The span closes with the run's status, rounds and token totals, read from the `FinalAnswer` event on its way
    to ``emit``. A run stopped early (the caller closed the stream) ends the span with ``tinyplan.cancelled``; a
    failed one with ``error.type`` set to the exception's class.
    """
    from tinyplan._events import FinalAnswer

    content = capture_content()
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": _AGENT_NAME,
        "gen_ai.provider.name": provider_name(planner.backend),
        "gen_ai.request.model": model_name(planner.backend),
        "tinyplan.grammar.level": planner.grammar or "none",
        "tinyplan.join": planner.join,
        "tinyplan.max_replans": planner.max_replans,
    }
    if content:
        attributes["gen_ai.input.messages"] = json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": _clip(query)}]}], ensure_ascii=False
        )
    span = _tracer().start_span(f"invoke_agent {_AGENT_NAME}", kind=SpanKind.INTERNAL, attributes=attributes)

    def observe(event: Event) -> None:
        if isinstance(event, FinalAnswer):
            result = event.result
            span.set_attribute("tinyplan.status", result.status)
            span.set_attribute("tinyplan.rounds", len(result.plans))
            span.set_attribute("gen_ai.usage.input_tokens", result.usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", result.usage.completion_tokens)
            if result.usage.cached_tokens is not None:
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", result.usage.cached_tokens)
            if result.status != "answered":
                span.set_attribute("error.type", result.status)
                span.set_status(Status(StatusCode.ERROR, result.error or result.status))
            elif content and result.answer is not None:
                out = [{"role": "assistant", "parts": [{"type": "text", "content": _clip(result.answer)}]}]
                span.set_attribute("gen_ai.output.messages", json.dumps(out, ensure_ascii=False))
        emit(event)

    token = _RUN.set(_RunState())
    try:
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            await run(query, observe)
    except Exception as exc:
        span.set_attribute("error.type", type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    except BaseException:  # cancelled: the caller stopped reading
        span.set_attribute("tinyplan.cancelled", True)
        raise
    finally:
        _RUN.reset(token)
        span.end()


# -------------------------------------------------------------------------------------------------------- plan
@contextlib.contextmanager
def plan_span(plan: Plan, grammar: str | None) -> Iterator[Span]:
    """The ``plan`` span of one planning round, current while the plan streams (its model requests nest in it).

    Sets the round that the round's tool spans report. At the end it records how many lines were written again
    (``tinyplan.plan.repairs``); a plan that did not parse ends with ``error.type`` ``PlanParseError``. The plan's
    text is the planner requests' output (``gen_ai.output.messages``, content capture only).
    """
    state = _RUN.get()
    if state is not None:
        state.round = plan.round
    span = _tracer().start_span(
        "plan",
        kind=SpanKind.INTERNAL,
        attributes={"tinyplan.plan.round": plan.round, "tinyplan.grammar.level": grammar or "none"},
    )
    try:
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            yield span
    except Exception as exc:
        span.set_attribute("error.type", type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        repairs = getattr(plan, "repairs", None)
        if isinstance(repairs, list):
            span.set_attribute("tinyplan.plan.repairs", len(repairs))
        span.end()


# ----------------------------------------------------------------------------------------------- model requests
class _TracedBackend(Backend):
    """A backend whose every stream is a model-request span and a `ModelCall` on the plan (see `traced`)."""

    def __init__(self, backend: Backend, kind: RequestKind, plan: Plan) -> None:
        self._backend = backend
        self._kind: RequestKind = kind
        self._plan = plan
        self.supports_grammar = backend.supports_grammar

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    @property
    def context_length(self) -> int | None:
        """The wrapped backend's context size."""
        return self._backend.context_length

    async def count_tokens(self, text: str) -> int | None:
        """The wrapped backend's count."""
        return await self._backend.count_tokens(text)

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return _traced_stream(self._backend, request, self._kind, self._plan)

    async def aclose(self) -> None:
        await self._backend.aclose()


def traced(backend: Backend, kind: RequestKind, plan: Plan) -> Backend:
    """``backend`` with each `stream` call traced.

    Each request gets a span (a child of the current span) and a timed `ModelCall` appended to ``plan.requests``.

    Args:
        backend: The backend to call.
        kind: What the requests are for: ``"planner"``, ``"joiner"`` or ``"relevance"``.
        plan: The round's `Plan`; its ``round`` is recorded and its ``requests`` list receives the timings.

    Returns:
        A `Backend` that streams exactly what ``backend`` streams.
    """
    return _TracedBackend(backend, kind, plan)


async def _traced_stream(
    backend: Backend, request: CompletionRequest, kind: RequestKind, plan: Plan
) -> AsyncIterator[Chunk]:
    operation = "chat" if request.messages is not None else "text_completion"
    model = model_name(backend)
    content = capture_content()
    attributes = _request_attributes(backend, request, kind, plan, operation=operation, model=model, content=content)
    call = ModelCall(kind=kind, round=plan.round, started_at=time.perf_counter())
    requests = getattr(plan, "requests", None)
    if isinstance(requests, list):
        requests.append(call)
    span = _tracer().start_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes)
    parts: list[str] = []
    text_chunks = 0
    stream = backend.stream(request)
    try:
        async for chunk in stream:
            _record_chunk(call, chunk)
            if chunk.text:
                text_chunks += 1
                if content:
                    parts.append(chunk.text)
            yield chunk
    except GeneratorExit:  # the reader stopped early: the plan reached join(), or a line is written again
        if call.finish_reason is None:
            call.finish_reason = "stop"
        raise
    except BaseException as exc:
        call.error = type(exc).__name__
        if isinstance(exc, Exception):
            span.set_attribute("error.type", call.error)
            span.set_status(Status(StatusCode.ERROR, f"{call.error}: {exc}"))
        raise
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):  # a cancelled run still stops the backend's generation
                await aclose()
        call.finished_at = time.perf_counter()
        if call.usage is None and text_chunks:  # closed before the backend's final counts (an HTTP stream at join())
            call.usage = _estimated_usage(plan, kind, text_chunks)
            span.set_attribute("tinyplan.usage.estimated", True)
        model_now = model_name(backend)
        if model_now != model:  # the llama.cpp backend resolves its model file on the first request
            span.set_attribute("gen_ai.request.model", model_now)
            span.update_name(f"{operation} {model_now}")
        _end_model_span(span, call, "".join(parts) if content else None)


def _request_attributes(
    backend: Backend,
    request: CompletionRequest,
    kind: RequestKind,
    plan: Plan,
    *,
    operation: str,
    model: str,
    content: bool,
) -> dict[str, Any]:
    """The attributes of a model request's span, known before the request is sent."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider_name(backend),
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": request.max_tokens,
        "gen_ai.request.temperature": request.temperature,
        "tinyplan.request.kind": kind,
        "tinyplan.plan.round": plan.round,
        "tinyplan.request.grammar": request.grammar is not None,
    }
    if request.stop:
        attributes["gen_ai.request.stop_sequences"] = list(request.stop)
    if content:
        attributes["gen_ai.input.messages"] = _input_messages(request)
    return attributes


def _record_chunk(call: ModelCall, chunk: Chunk) -> None:
    """Note in ``call`` what a streamed chunk tells: usage, finish reason, the time of the first text."""
    if chunk.usage is not None:
        call.usage = chunk.usage
    if chunk.finish_reason is not None:
        call.finish_reason = chunk.finish_reason
    if chunk.text and call.first_chunk_at is None:
        call.first_chunk_at = time.perf_counter()


def _estimated_usage(plan: Plan, kind: RequestKind, text_chunks: int) -> Usage:
    """Usage of a stream closed before the backend's final counts: the planner prompt's tokens and one per chunk."""
    prompt = (getattr(plan, "prompt_tokens", None) or 0) if kind != "joiner" else 0  # the planner prompt
    return Usage(prompt_tokens=prompt, completion_tokens=text_chunks)


def _end_model_span(span: Span, call: ModelCall, output: str | None) -> None:
    if call.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", call.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", call.usage.completion_tokens)
        if call.usage.cached_tokens is not None:
            span.set_attribute("gen_ai.usage.cache_read.input_tokens", call.usage.cached_tokens)
    if call.first_chunk_at is not None:
        span.set_attribute("gen_ai.response.time_to_first_chunk", call.first_chunk_at - call.started_at)
    if call.finish_reason is not None:
        span.set_attribute("gen_ai.response.finish_reasons", [call.finish_reason])
    if output is not None:
        out = [{"role": "assistant", "parts": [{"type": "text", "content": _clip(output)}]}]
        if call.finish_reason is not None:
            out[0]["finish_reason"] = call.finish_reason
        span.set_attribute("gen_ai.output.messages", json.dumps(out, ensure_ascii=False))
    span.end()


# -------------------------------------------------------------------------------------------------------- tools
_ERROR_CLASS = re.compile(r"^([A-Z][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*): ")


def _error_type(result: TaskResult) -> str:
    """``error.type`` of a task that did not succeed: the tool's exception class when it raised, else the state."""
    state = result.state.value
    if state == "failed" and result.error:
        match = _ERROR_CLASS.match(result.error)
        if match:
            return match.group(1)
    return state


@contextlib.contextmanager
def tool_span(result: TaskResult) -> Iterator[None]:
    """An ``execute_tool {name}`` span around one task's execution (``join()`` gets none).

    The span is current while its tool runs, so a tool's own spans nest in it.

    At the end it records the state, the ready-to-start wait, ``error.type`` when the task did not succeed, and
    (content capture only) the arguments and the result.
    """
    task = result.task
    if task.is_join:
        yield
        return
    state = _RUN.get()
    round_no = state.round if state is not None else 0
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": task.name,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": f"{round_no}.{task.idx}",
        "tinyplan.task.index": task.idx,
        "tinyplan.task.dependencies": list(task.dependencies),
        "tinyplan.plan.round": round_no,
    }
    ready = time.perf_counter()
    if ready > result.queued_at > 0:
        attributes["tinyplan.task.dependency_wait"] = ready - result.queued_at
    span = _tracer().start_span(f"execute_tool {task.name}", kind=SpanKind.INTERNAL, attributes=attributes)
    try:
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            yield
    finally:
        _end_tool_span(span, result, ready)


def _end_tool_span(span: Span, result: TaskResult, ready: float) -> None:
    from tinyplan._types import TaskState, observation_text

    state = result.state if result.state.terminal else TaskState.CANCELLED
    span.set_attribute("tinyplan.task.state", state.value)
    span.set_attribute("tinyplan.task.reused", result.reused)
    if result.started_at is not None:
        span.set_attribute("tinyplan.task.wait", max(0.0, result.started_at - ready))
    if state is not TaskState.SUCCEEDED:
        span.set_attribute("error.type", _error_type(result) if result.state.terminal else "cancelled")
        span.set_status(Status(StatusCode.ERROR, result.error or state.value))
    if capture_content():
        if result.arguments is not None:
            span.set_attribute("gen_ai.tool.call.arguments", _clip(json.dumps(result.arguments, default=str)))
        if state is TaskState.SUCCEEDED:
            span.set_attribute("gen_ai.tool.call.result", _clip(observation_text(result.observation)))
    span.end()
