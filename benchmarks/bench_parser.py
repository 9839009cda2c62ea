"""Streaming plan parser throughput: µs per task for one-character chunks, token-like chunks and the whole text.

Run: ``python benchmarks/bench_parser.py`` (a few seconds). Not part of the test run; nothing here is asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from tinyplan import PlanParser, parse_plan
from tinyplan.backends._scripted import token_pieces as _token_pieces

TOOLS = ["get_phone_number", "send_sms", "search", "summarize", "create_event"]


def plan_text(n: int = 60) -> str:
    """A realistic plan: thoughts, strings with parens/quotes/unicode/money, lists, dicts, kwargs and references."""
    lines = []
    for i in range(1, n + 1):
        kind = i % 5
        if kind == 0:
            lines.append("Thought: I have what I need for the message.")
            lines.append(f'{i}. send_sms(["${i - 1}", "${i - 2}"], "Meeting moved to 3pm (room B) — costs $5.00")')
        elif kind == 1:
            lines.append(f'{i}. get_phone_number("Sid O\'Brien")')
        elif kind == 2:
            lines.append(
                f'{i}. search(query="flights to Zürich", limit=5, filters={{"max_price": 250.5, "tags": ["a"]}})'
            )
        elif kind == 3:
            lines.append(f'{i}. summarize("${{{i - 1}}}", length=3)')
        else:
            lines.append(f'{i}. create_event(title="Sync", attendees=[${i - 3}], start=$3.start)')
    lines.append(f"{n + 1}. join()<END_OF_PLAN>")
    return "\n".join(lines)


def time_per_task(chunks: list[str], n_tasks: int, repeats: int = 15) -> tuple[float, float]:
    """CPU µs per task (process time, so other processes on the machine disturb it little): median and best."""
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        parser = PlanParser(TOOLS)
        count = 0
        for c in chunks:
            count += len(parser.feed(c))
        count += len(parser.close())
        samples.append((time.process_time() - t0) / n_tasks * 1e6)
        assert count == n_tasks
    return statistics.median(samples), min(samples)


def main() -> None:
    text = plan_text()
    n = len(parse_plan(text, TOOLS))
    print(f"plan: {n} tasks, {len(text)} characters, {len(text.splitlines())} lines")
    cases: list[tuple[str, Callable[[str], list[str]]]] = [
        ("whole text in one chunk", lambda t: [t]),
        ("line by line", lambda t: t.splitlines(keepends=True)),
        ("token-like pieces (ScriptedBackend)", _token_pieces),
        ("one character at a time", list),
    ]
    for label, split in cases:
        chunks = split(text)
        median, best = time_per_task(chunks, n)
        print(f"{label:38s} {len(chunks):6d} chunks   {median:7.1f} us CPU/task (best {best:.1f})")


if __name__ == "__main__":
    main()
