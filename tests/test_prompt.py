"""The rendered prompts are pinned by snapshot tests (syrupy): a change to a template shows up as a diff."""

from __future__ import annotations

import datetime as dt

import jinja2
import pytest
from syrupy.assertion import SnapshotAssertion

from tinyplan import PromptRenderer, Ref, Toolset, get_tool, parse_plan, tool
from tinyplan._prompt import RoundView

TODAY = dt.date(2026, 11, 21)


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's full or first name.
    """
    return name


@tool(side_effects=True)
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message to one or more phone numbers.

    Always look up phone numbers with get_phone_number first.

    Args:
        recipients: Phone numbers.
        message: The text to send.
    """
    return message


@tool
def create_reminder(name: str, due_date: str | None = None, priority: int = 0) -> str:
    """Create a reminder.

    Args:
        name: What to be reminded of.
        due_date: ISO date and time, or None.
        priority: 0 (none) to 9.
    """
    return name


TOOLS = Toolset(
    [get_phone_number, send_sms, create_reminder],
    instructions=["Write phone numbers exactly as get_phone_number returns them."],
    examples=[
        'Question: Text Ana that I am late.\n1. get_phone_number("Ana")\n2. send_sms(["$1"], "I am late.")\n'
        "3. join()<END_OF_PLAN>"
    ],
)


def test_planner_prompt_snapshot(snapshot: SnapshotAssertion) -> None:
    parts = PromptRenderer().planner(
        TOOLS,
        "Text Sid and Lutfi that the meeting moved to 3pm",
        instructions=TOOLS.instructions,
        examples=TOOLS.examples,
        today=TODAY,
    )
    assert parts.text == snapshot


def test_replan_prompt_snapshot(snapshot: SnapshotAssertion) -> None:
    view = RoundView(
        results=["1. get_phone_number(\"Lutfy\")\nObservation: ERROR (failed): LookupError: no contact named 'Lutfy'"],
        thought="task 1 failed",
    )
    parts = PromptRenderer().replan(
        TOOLS,
        "Text Lutfi hi",
        [view],
        done_side_effects=["send_sms(recipients=['+1'], message='hi') -> sent"],
        today=TODAY,
    )
    assert parts.tail == snapshot


def test_joiner_prompt_snapshot(snapshot: SnapshotAssertion) -> None:
    first = RoundView(results=['1. get_phone_number("Ana")\nObservation: ERROR (failed): no contact'], thought="retry")
    view = RoundView(results=['1. get_phone_number("Sid")\nObservation: +1 555 0101'])
    r = PromptRenderer()
    used = [get_tool(get_phone_number)]
    parts = r.joiner("What is Sid's number?", [first, view], can_replan=True, today=TODAY, tools=used)
    assert parts.text == snapshot
    # the static part depends only on can_replan and the instructions; the date, question and plans follow it
    other = r.joiner("Another question?", [view], can_replan=True, today=dt.date(2027, 3, 3))
    assert other.static == parts.static and "Sid" not in parts.static and "2026" not in parts.static
    last = r.joiner("q", [view], can_replan=False)
    assert "No more plans" in last.static and "Replan(" not in last.static


def test_static_part_is_identical_across_queries_and_dates() -> None:
    r = PromptRenderer()
    a = r.planner(TOOLS, "quokka question", today=dt.date(2026, 1, 1))
    b = r.planner(TOOLS, "wombat question", today=dt.date(2027, 2, 2))
    assert a.static == b.static
    assert "quokka" not in a.static and "2026" not in a.static
    assert a.static.index("1. get_phone_number(name: str) -> str") < a.static.index("4. join() -> None")


def test_signature_lines_and_optional_defaults() -> None:
    static = PromptRenderer().planner_static(TOOLS, (), ())
    assert "3. create_reminder(name: str, due_date: str | None = None, priority: int = 0) -> str" in static
    assert " - Always look up phone numbers with get_phone_number first." in static
    assert " - recipients: Phone numbers." in static


def test_templates_use_strict_undefined() -> None:
    override = jinja2.DictLoader({"planner_query.jinja2": "{{ today }} {{ missing }}"})
    renderer = PromptRenderer(loader=jinja2.ChoiceLoader([override, jinja2.PackageLoader("tinyplan", "templates")]))
    with pytest.raises(jinja2.UndefinedError):
        renderer.planner(TOOLS, "q", today=TODAY)


def test_generic_examples_only_when_the_toolset_has_none() -> None:
    r = PromptRenderer()
    without = r.planner_static(TOOLS, (), ())
    assert "They use other actions than yours" in without
    assert "Question: Tell me a joke about cats.\n1. join()<END_OF_PLAN>" in without
    with_own = r.planner_static(TOOLS, (), TOOLS.examples)
    assert "They use other actions than yours" not in with_own
    assert "Question: Text Ana that I am late." in with_own


def test_generic_examples_are_valid_plans_and_show_item_references() -> None:
    """The default examples parse as plans; one fans out over a list with ``$N[i]`` and joins the items again."""
    static = PromptRenderer().planner_static(TOOLS, (), ())
    blocks = [b.strip() for b in static.split("Here are some examples.", 1)[1].split("###")[:-1]]
    plans = {}
    for block in blocks:
        question, _, body = block.rpartition("Question: ")[2].partition("\n")
        names = {line.split(". ", 1)[1].split("(", 1)[0] for line in body.splitlines() if ". " in line}
        plans[question] = parse_plan(body, tools=names - {"join"})
    assert len(plans) == 3 and all(p[-1].is_join for p in plans.values())
    fan_out = plans["Find hotels in Rome, get the reviews of the first two, and email them to Ana."]
    assert [t.kwargs.get("hotel_id") for t in fan_out[1:3]] == [Ref(1, (0,)), Ref(1, (1,))]
    assert [t.dependencies for t in fan_out[:5]] == [(), (1,), (1,), (), (2, 3, 4)]
    assert plans["Tell me a joke about cats."][0].is_join
