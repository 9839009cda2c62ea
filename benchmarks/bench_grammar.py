"""Measure whole-plan grammars: plans from a real model with no grammar, a naive grammar, "syntax" and "typed".

For each Mac-assistant query the planner prompt (tinyplan's own templates, two in-context examples) is sent to the
llama.cpp backend once per grammar variant, greedily. Each plan is then checked:

* parse + validate: `parse_plan` accepts it with the toolset and every task's arguments pass the tool's validation
  (tasks that get a ``$N`` reference as an argument are validated for arity only, by the parser's binding);
* plan success: it also calls exactly the expected tools (as a multiset) and ends with ``join()``;
* time per plan: wall-clock seconds of generation (the static prompt prefix is cached after the first query).

Variants: ``none``; ``naive`` (a hand-written exact-arity grammar: every parameter positional and required,
``", "`` forced between arguments, double-quoted strings without escapes; the kind measured earlier to hurt);
``syntax`` and ``typed`` from `tinyplan._grammar.plan_grammar`.

Run (holds the machine's model lock; about 4 minutes with the default 1.5B model on 2 cores)::

    flock /tmp/tinyplan-model.lock python benchmarks/bench_grammar.py [--model FILE] [--variants none,typed] [--show]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio

from tinyplan._backend import complete
from tinyplan._errors import TinyplanError
from tinyplan._grammar import plan_grammar
from tinyplan._parser import parse_plan
from tinyplan._planner import Planner
from tinyplan._syntax import END_OF_PLAN
from tinyplan._tools import Tool, ToolArgumentError, Toolset, tool
from tinyplan._types import Interpolated, Ref, Task


# ----------------------------------------------------------------------------------------- tools (never called)
@tool
def get_phone_number(name: str) -> str:
    """Search for a contact and return their phone number."""
    raise NotImplementedError


@tool
def get_email_address(name: str) -> str:
    """Search for a contact and return their email address."""
    raise NotImplementedError


@tool
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message to the recipients' phone numbers."""
    raise NotImplementedError


@tool
def compose_new_email(
    recipients: list[str],
    cc: list[str] | None = None,
    subject: str = "",
    context: str = "",
    attachments: list[str] | None = None,
) -> str:
    """Compose a new email to the recipients' email addresses; context is what the email should say."""
    raise NotImplementedError


@tool
def create_calendar_event(
    title: str, start_date: str, end_date: str, location: str = "", invitees: list[str] | None = None, notes: str = ""
) -> str:
    """Create a calendar event. Dates are 'YYYY-MM-DD HH:MM:SS'; invitees are email addresses."""
    raise NotImplementedError


@tool
def create_reminder(name: str, due_date: str | None = None, notes: str = "", list_name: str = "") -> str:
    """Create a reminder; due_date is 'YYYY-MM-DD HH:MM:SS'."""
    raise NotImplementedError


@tool
def open_and_get_file_path(file_name: str) -> str:
    """Find a file by name and return its path."""
    raise NotImplementedError


@tool
def summarize_pdf(pdf_path: str) -> str:
    """Summarize a PDF file given its path."""
    raise NotImplementedError


EXAMPLES = [
    "Question: Notify Lutfi Eren Erdogan about the upcoming Apple meeting that is going to start at 3PM on Friday.\n"
    '1. get_phone_number("Lutfi Eren Erdogan")\n'
    '2. send_sms(["$1"], "Hey Lutfi, the Apple meeting starts at 3 PM on Friday.")\n'
    "Thought: I have succesfully completed all the tasks.\n"
    "3. join()<END_OF_PLAN>",
    "Question: Create a zoom-free meeting called Retro with Sid and Nick tomorrow at 2pm for an hour.\n"
    '1. get_email_address("Sid")\n'
    '2. get_email_address("Nick")\n'
    '3. create_calendar_event("Retro", "2024-06-04 14:00:00", "2024-06-04 15:00:00", "", ["$1", "$2"], "")\n'
    "Thought: I have succesfully completed all the tasks.\n"
    "4. join()<END_OF_PLAN>",
]

TOOLS = Toolset(
    [
        get_phone_number,
        get_email_address,
        send_sms,
        compose_new_email,
        create_calendar_event,
        create_reminder,
        open_and_get_file_path,
        summarize_pdf,
    ],
    examples=EXAMPLES,
)

# (query, expected tool calls as a multiset)
QUERIES: list[tuple[str, dict[str, int]]] = [
    ("Text Sid and Lutfi that the meeting moved to 3pm.", {"get_phone_number": 2, "send_sms": 1}),
    ("Email Ana the notes from today's standup.", {"get_email_address": 1, "compose_new_email": 1}),
    ("Remind me to call mom tomorrow at 6pm.", {"create_reminder": 1}),
    (
        "Send an SMS to Bo saying I'm running late, and email Carla the same message with subject Late.",
        {"get_phone_number": 1, "send_sms": 1, "get_email_address": 1, "compose_new_email": 1},
    ),
    ("Find report.pdf and summarize it.", {"open_and_get_file_path": 1, "summarize_pdf": 1}),
    (
        "Schedule a Design review with Ana on Friday at 10am for 30 minutes in room 4.",
        {"get_email_address": 1, "create_calendar_event": 1},
    ),
]


# ------------------------------------------------------------------------------------------------ naive grammar
def naive_grammar(tools: Toolset) -> str:
    """An exact-arity grammar as first written: every parameter, positional, ``", "`` between, plain strings."""

    def value(schema: dict[str, Any]) -> str:
        kinds = [s.get("type") for s in schema.get("anyOf", [schema])]
        if "array" in kinds:
            return "str-list"
        if "integer" in kinds or "number" in kinds:
            return "num"
        return "str"

    rules = []
    for t in tools:
        props = t.json_schema().get("properties", {})
        args = ' ", " '.join(value(props.get(p.name, {})) for p in t.parameters)
        rules.append(f'"{t.name}(" {args} ")"' if args else f'"{t.name}()"')
    return "\n".join(
        [
            r'root ::= thought? ( idx ". " call "\n" thought? )* idx ". join()" "<END_OF_PLAN>"?',
            r'thought ::= "Thought: " [^\n]* "\n"',
            "idx ::= [1-9] [0-9]?",
            "call ::= " + " | ".join(f"c{i}" for i in range(len(rules))),
            *(f"c{i} ::= {r}" for i, r in enumerate(rules)),
            r'str ::= "\"" [^"\\\n]* "\""',
            'str-list ::= "[" ( str ( ", " str )* )? "]"',
            'num ::= "-"? [0-9]+ ( "." [0-9]+ )?',
        ]
    )


# ------------------------------------------------------------------------------------------------------ checks
def _has_ref(value: Any) -> bool:
    if isinstance(value, (Ref, Interpolated)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_ref(v) for v in value)
    if isinstance(value, dict):
        return any(_has_ref(v) for v in value.values())
    return False


def _validate(task: Task, tools: Toolset) -> None:
    if task.is_join:
        return
    t: Tool = tools[task.name]
    if _has_ref(task.args) or _has_ref(dict(task.kwargs)):
        if len(task.args) > len(t.parameters) or set(task.kwargs) - {p.name for p in t.parameters}:
            raise ToolArgumentError(f"{task.name}: wrong arguments")
        return
    t.validate(task.args, task.kwargs)


@dataclass
class Outcome:
    variant: str
    query: str
    text: str
    seconds: float
    tokens: int
    valid: bool
    success: bool
    error: str = ""


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"{'variant':<8} {'parse+validate':>15} {'plan success':>13} {'s/plan':>8} {'tok/plan':>9}"]
        for variant in dict.fromkeys(o.variant for o in self.outcomes):
            rows = [o for o in self.outcomes if o.variant == variant]
            n = len(rows)
            lines.append(
                f"{variant:<8} {sum(o.valid for o in rows):>12}/{n:<2} {sum(o.success for o in rows):>10}/{n:<2} "
                f"{statistics.mean(o.seconds for o in rows):>8.1f} {statistics.mean(o.tokens for o in rows):>9.0f}"
            )
        return "\n".join(lines)


def check(text: str, expected: dict[str, int]) -> tuple[bool, bool, str]:
    try:
        tasks = parse_plan(text, TOOLS)
        if not tasks or not tasks[-1].is_join:
            return False, False, "no join()"
        for task in tasks:
            _validate(task, TOOLS)
    except (TinyplanError, ToolArgumentError) as exc:
        return False, False, str(exc)
    calls = Counter(t.name for t in tasks if not t.is_join)
    return True, calls == Counter(expected), "" if calls == Counter(expected) else f"calls {dict(calls)}"


async def run(model: str | None, variants: list[str], show: bool, out: str | None) -> Summary:
    from tinyplan.backends import make_backend

    backend = make_backend(model, n_threads=2, n_ctx=4096)
    planner = Planner(backend, TOOLS, grammar=None)
    grammars: dict[str, str | None] = {
        "none": None,
        "naive": naive_grammar(TOOLS),
        "syntax": plan_grammar(TOOLS, "syntax"),
        "typed": plan_grammar(TOOLS, "typed"),
    }
    summary = Summary()
    await backend.load()
    for query, expected in QUERIES:
        parts = planner.render_prompt(query)
        for variant in variants:
            request = parts.request(chat=True, stop=(END_OF_PLAN,), max_tokens=300, grammar=grammars[variant])
            start = time.perf_counter()
            result = await complete(backend, request)
            seconds = time.perf_counter() - start
            text = result.text
            valid, success, error = check(text, expected)
            outcome = Outcome(variant, query, text, seconds, result.usage.completion_tokens, valid, success, error)
            summary.outcomes.append(outcome)
            if show:
                mark = "OK " if success else ("ok " if valid else "BAD")
                print(f"--- [{variant}] {mark} {seconds:.1f}s {query}\n{text.strip()}\n{error}", flush=True)
    await backend.aclose()
    if out:
        data = json.dumps([o.__dict__ for o in summary.outcomes], ensure_ascii=False, indent=1)
        await anyio.Path(out).write_text(data, encoding="utf-8")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="GGUF file (default: $TINYPLAN_MODEL or the default model)")
    parser.add_argument("--variants", default="none,naive,syntax,typed")
    parser.add_argument("--show", action="store_true", help="print every plan")
    parser.add_argument("--out", default=None, help="write all plans and figures to this JSON file")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - {"none", "naive", "syntax", "typed"}
    if unknown:
        sys.exit(f"unknown variants: {sorted(unknown)}")
    summary = anyio.run(run, args.model, variants, args.show, args.out)
    print(summary.table())


if __name__ == "__main__":
    main()
