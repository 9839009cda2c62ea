"""OpenTelemetry spans of a run, read back through the SDK's in-memory exporter: the tree (``invoke_agent`` > ``plan``
> model request; tasks as siblings under the agent span), the GenAI attributes, a failed tool's ``error.type``, a
replan round, content only when opted in, and a run stopped early or failing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tinyplan import (
    BackendStreamError,
    Planner,
    ScriptedBackend,
    ScriptedFailure,
    TaskFinished,
    Toolset,
    tool,
)
from tinyplan._backend import Chunk, CompletionRequest, Usage
from tinyplan._telemetry import CAPTURE_CONTENT_ENV

pytestmark = pytest.mark.anyio

NUMBERS = {"Sid": "+1 510 555 0101", "Lutfi": "+1 510 555 0102"}
FINISH = "Thought: done.\nAction: Finish({})"
PLAN = (
    '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
    '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>'
)
QUERY = "Text Sid and Lutfi that the meeting moved to 3pm"
CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    """One SDK tracer provider for these tests (the global provider can be set once per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def make_tools(inner_spans: bool = False) -> Toolset:
    @tool
    async def get_phone_number(name: str) -> str:
        """Find a contact's phone number.

        Args:
            name: The contact's name.
        """
        if inner_spans:  # a tool's own instrumentation nests under its execute_tool span
            with trace.get_tracer("a tool").start_as_current_span(f"lookup {name}"):
                await anyio.sleep(0.01)
        await anyio.sleep(0.02)
        if name not in NUMBERS:
            raise LookupError(f"no contact named {name!r}")
        return NUMBERS[name]

    @tool(side_effects=True)
    def send_sms(recipients: list[str], message: str) -> str:
        """Send a text message.

        Args:
            recipients: Phone numbers.
            message: The text.
        """
        return f"Texted {', '.join(recipients)}: {message}"

    return Toolset([get_phone_number, send_sms])


class CachingBackend(ScriptedBackend):
    """A scripted backend that reports cached prompt tokens with every chunk, like the in-process llama.cpp one."""

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        n = 0
        async for chunk in super().stream(request):
            n += 1
            usage = chunk.usage or Usage(prompt_tokens=await self.count_tokens(request.text), completion_tokens=n)
            yield Chunk(
                chunk.text, Usage(usage.prompt_tokens, usage.completion_tokens, cached_tokens=40), chunk.finish_reason
            )


def by_name(finished: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return sorted((s for s in finished if s.name.startswith(prefix)), key=lambda s: s.start_time or 0)


def parent_of(span: ReadableSpan, finished: tuple[ReadableSpan, ...]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next(s for s in finished if s.context is not None and s.context.span_id == span.parent.span_id)


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_the_span_tree_and_the_genai_attributes(spans: InMemorySpanExporter) -> None:
    backend = CachingBackend([PLAN, FINISH.format("Texted both.")], delay=0.002)
    result = await Planner(backend, make_tools(inner_spans=True)).run(QUERY)
    assert result.answer == "Texted both."
    finished = spans.get_finished_spans()

    [agent] = by_name(finished, "invoke_agent")
    assert agent.name == "invoke_agent tinyplan" and agent.parent is None
    a = attrs(agent)
    assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "tinyplan"
    assert a["gen_ai.provider.name"] == "tinyplan.scripted" and a["tinyplan.status"] == "answered"
    assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == result.usage.completion_tokens > 0

    [plan] = by_name(finished, "plan")
    assert parent_of(plan, finished) is agent
    assert attrs(plan)["tinyplan.plan.round"] == 0 and attrs(plan)["tinyplan.grammar.level"] == "none"

    requests = by_name(finished, "text_completion")
    assert [attrs(r)["tinyplan.request.kind"] for r in requests] == ["planner", "joiner"]
    planner_request, joiner_request = requests
    assert parent_of(planner_request, finished) is plan  # invoke_agent > plan > model request
    assert parent_of(joiner_request, finished) is agent
    for r in requests:
        ra = attrs(r)
        assert r.kind is trace.SpanKind.CLIENT
        assert r.name == "text_completion CachingBackend"
        assert ra["gen_ai.operation.name"] == "text_completion"
        assert ra["gen_ai.provider.name"] == "tinyplan.scripted"
        assert ra["gen_ai.request.model"] == "CachingBackend"  # a backend without a model name: its class
        assert ra["gen_ai.usage.input_tokens"] > 0 and ra["gen_ai.usage.output_tokens"] > 0
        assert ra["gen_ai.usage.cache_read.input_tokens"] == 40
        assert 0 < ra["gen_ai.response.time_to_first_chunk"] < (r.end_time - r.start_time) / 1e9  # type: ignore[operator]
        assert ra["gen_ai.response.finish_reasons"] == ("stop",)
    # the plan stream was closed at join(): the span ends when the request does, inside the plan span
    assert plan.start_time <= planner_request.start_time and planner_request.end_time <= plan.end_time  # type: ignore[operator]

    tools = by_name(finished, "execute_tool")
    assert [s.name for s in tools] == ["execute_tool get_phone_number"] * 2 + ["execute_tool send_sms"]
    assert all(parent_of(s, finished) is agent for s in tools)  # siblings of the plan span, not inside it
    first, second, sms = (attrs(s) for s in tools)
    assert first["gen_ai.operation.name"] == "execute_tool" and first["gen_ai.tool.name"] == "get_phone_number"
    assert {first["gen_ai.tool.call.id"], second["gen_ai.tool.call.id"]} == {"0.1", "0.2"}
    assert sms["gen_ai.tool.call.id"] == "0.3" and sms["tinyplan.task.index"] == 3
    assert sms["tinyplan.task.dependencies"] == (1, 2) and sms["tinyplan.task.state"] == "succeeded"
    assert sms["tinyplan.plan.round"] == 0 and sms["tinyplan.task.wait"] >= 0
    assert sms["tinyplan.task.dependency_wait"] > 0  # it waited for both look-ups
    assert all("error.type" not in attrs(s) for s in tools)
    # the look-ups overlap: tasks run in parallel
    assert tools[0].start_time < tools[1].end_time and tools[1].start_time < tools[0].end_time  # type: ignore[operator]
    # a tool's own span is a child of its execute_tool span
    inner = by_name(finished, "lookup ")
    assert {parent_of(s, finished).name for s in inner} == {"execute_tool get_phone_number"}  # type: ignore[union-attr]
    assert all(s.end_time is not None for s in finished)


async def test_a_failed_tool_has_its_error_type_and_the_replan_round_is_a_second_plan_span(
    spans: InMemorySpanExporter,
) -> None:
    first = '1. get_phone_number("Nobody")\n2. send_sms(["$1"], "moved")\n3. join()<END_OF_PLAN>'
    second = '1. get_phone_number("Lutfi")\n2. send_sms(["$1"], "moved")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([first, second, FINISH.format("Texted Lutfi.")])
    result = await Planner(backend, make_tools(), max_replans=1).run(QUERY)
    assert result.answer == "Texted Lutfi." and len(result.plans) == 2
    finished = spans.get_finished_spans()
    [agent] = by_name(finished, "invoke_agent")
    assert attrs(agent)["tinyplan.rounds"] == 2

    plans = by_name(finished, "plan")
    assert [attrs(p)["tinyplan.plan.round"] for p in plans] == [0, 1]
    assert all(parent_of(p, finished) is agent for p in plans)
    requests = by_name(finished, "text_completion")
    assert [(attrs(r)["tinyplan.request.kind"], attrs(r)["tinyplan.plan.round"]) for r in requests] == [
        ("planner", 0),
        ("planner", 1),
        ("joiner", 1),
    ]
    assert [parent_of(r, finished) for r in requests[:2]] == plans

    tools = [attrs(s) for s in by_name(finished, "execute_tool")]
    assert [(t["gen_ai.tool.call.id"], t["tinyplan.task.state"]) for t in tools] == [
        ("0.1", "failed"),
        ("0.2", "skipped"),
        ("1.1", "succeeded"),
        ("1.2", "succeeded"),
    ]
    assert tools[0]["error.type"] == "LookupError"  # the tool's exception class
    assert tools[1]["error.type"] == "skipped"  # never ran: its input failed
    assert all(t["tinyplan.plan.round"] == 1 for t in tools[2:])
    failed_span = by_name(finished, "execute_tool")[0]
    assert failed_span.status.status_code is trace.StatusCode.ERROR
    assert "no contact named 'Nobody'" in (failed_span.status.description or "")


async def test_no_content_is_recorded_unless_opted_in(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> tuple[ReadableSpan, ...]:
        spans.clear()
        backend = ScriptedBackend([PLAN, FINISH.format("Texted both.")])
        await Planner(backend, make_tools()).run(QUERY)
        return spans.get_finished_spans()

    quiet = await run()
    keys = {k for s in quiet for k in attrs(s)}
    assert not keys & CONTENT_KEYS
    values = json.dumps([list(attrs(s).values()) for s in quiet], default=str)
    for secret in ("Sid", "Lutfi", "+1 510 555 0101", "meeting moved", "Texted both"):
        assert secret not in values

    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    loud = await run()
    [agent] = by_name(loud, "invoke_agent")
    assert QUERY in attrs(agent)["gen_ai.input.messages"]
    assert json.loads(attrs(agent)["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Texted both."
    planner_request = by_name(loud, "text_completion")[0]
    sent = json.loads(attrs(planner_request)["gen_ai.input.messages"])
    assert sent[0]["role"] == "user" and QUERY in sent[0]["parts"][0]["content"]
    assert (
        'get_phone_number("Sid")'
        in json.loads(attrs(planner_request)["gen_ai.output.messages"])[0]["parts"][0]["content"]
    )
    sms = attrs(by_name(loud, "execute_tool send_sms")[0])
    assert json.loads(sms["gen_ai.tool.call.arguments"]) == {
        "recipients": ["+1 510 555 0101", "+1 510 555 0102"],
        "message": "The meeting moved to 3pm",
    }
    assert sms["gen_ai.tool.call.result"].startswith("Texted +1 510 555 0101")


async def test_the_relevance_check_is_a_model_request_in_the_plan_span(spans: InMemorySpanExporter) -> None:
    backend = ScriptedBackend(["1. get_phone_number", PLAN, FINISH.format("ok")])
    await Planner(backend, make_tools(), relevance_check=True).run(QUERY)
    finished = spans.get_finished_spans()
    [plan] = by_name(finished, "plan")
    requests = by_name(finished, "text_completion")
    assert [attrs(r)["tinyplan.request.kind"] for r in requests] == ["relevance", "planner", "joiner"]
    assert parent_of(requests[0], finished) is plan and parent_of(requests[1], finished) is plan
    assert attrs(requests[0])["tinyplan.request.grammar"] is False


async def test_a_backend_failure_and_an_early_stop_end_every_span(spans: InMemorySpanExporter) -> None:
    failing = ScriptedBackend([ScriptedFailure('1. get_phone_number("Sid")\n')], delay=0.005)
    with pytest.raises(BackendStreamError):
        await Planner(failing, make_tools()).run(QUERY)
    finished = spans.get_finished_spans()
    [agent] = by_name(finished, "invoke_agent")
    assert attrs(agent)["error.type"] == "BackendStreamError"
    [request] = by_name(finished, "text_completion")
    assert attrs(request)["error.type"] == "BackendStreamError"
    assert request.status.status_code is trace.StatusCode.ERROR

    spans.clear()
    planner = Planner(ScriptedBackend([PLAN, FINISH.format("ok")], delay=0.005), make_tools())
    async with contextlib.aclosing(planner.stream(QUERY)) as events:
        async for event in events:
            if isinstance(event, TaskFinished):
                break  # the caller stops reading: the run stops
    finished = spans.get_finished_spans()
    [agent] = by_name(finished, "invoke_agent")
    assert attrs(agent).get("tinyplan.cancelled") is True and "error.type" not in attrs(agent)
    assert all(s.end_time is not None for s in finished)


async def test_without_an_sdk_nothing_is_recorded_and_nothing_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tinyplan._telemetry._tracer", lambda: trace.NoOpTracer())
    _EXPORTER.clear()
    result = await Planner(ScriptedBackend([PLAN, FINISH.format("ok")]), make_tools()).run(QUERY)
    assert result.answer == "ok"
    assert _EXPORTER.get_finished_spans() == ()
    # the timings are recorded all the same
    assert [c.kind for c in result.plans[0].requests] == ["planner", "joiner"]
