"""See what a run did: OpenTelemetry spans, a Chrome trace for Perfetto, the plan as a Mermaid DAG, a timeline.

Run: python examples/observability.py [trace.json]

A scripted model writes the plan, so this runs anywhere in a blink. With ``opentelemetry-sdk`` installed the spans
print as a tree (``invoke_agent`` > ``plan`` > model request; ``execute_tool`` per task); without it they are no-ops.
Open the trace file at https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import anyio
from rich.console import Console

from tinyplan import Planner, ScriptedBackend, tool
from tinyplan._trace import Timeline

CONTACTS = {"Sid": "+1 555 0101", "Lutfi": "+1 555 0102"}


@tool
async def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    await anyio.sleep(0.2)  # pretend to query an address book
    return CONTACTS[name]


@tool(side_effects=True)
async def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message.

    Args:
        recipients: Phone numbers, as get_phone_number returns them.
        message: The text to send.
    """
    await anyio.sleep(0.1)
    return f"Sent to {len(recipients)} recipient(s)."


PLAN = """1. get_phone_number("Sid")
2. get_phone_number("Lutfi")
3. send_sms(["$1", "$2"], "The meeting moved to 3pm")
4. join()<END_OF_PLAN>"""
JOIN = "Thought: Both numbers were found and the message was sent.\nAction: Finish(I texted Sid and Lutfi.)"


def collect_spans() -> list[object] | None:
    """Send spans to an in-memory exporter when the OpenTelemetry SDK is installed (None otherwise)."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError:
        return None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return [exporter]


def print_span_tree(exporter: object) -> None:
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    children: dict[int | None, list[object]] = {}
    for s in sorted(spans, key=lambda s: s.start_time):
        children.setdefault(s.parent.span_id if s.parent else None, []).append(s)

    def show(parent: int | None, depth: int) -> None:
        for s in children.get(parent, []):
            ms = (s.end_time - s.start_time) / 1e6
            print(f"{'  ' * depth}{s.name}  {ms:.0f} ms")
            show(s.context.span_id, depth + 1)

    show(None, 0)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "tinyplan-trace.json"
    exporters = collect_spans()
    backend = ScriptedBackend([PLAN, JOIN], delay=0.01)  # streams token-sized chunks, 10 ms apart
    result = Planner(backend, [get_phone_number, send_sms]).run_sync("Text Sid and Lutfi that the meeting moved to 3pm")
    print(f"answer: {result.answer}\n")
    if exporters:
        print("spans:")
        print_span_tree(exporters[0])
        print()
    out.write_text(json.dumps(result.to_chrome_trace()), encoding="utf-8")
    print(f"Chrome trace: {out}\n")
    print(result.to_mermaid())
    Console(width=100, highlight=False).print(Timeline(result))


if __name__ == "__main__":
    main()
