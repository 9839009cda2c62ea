"""The joiner reply parser."""

from __future__ import annotations

import pytest

from tinyplan import JoinerError, parse_join


def test_finish_with_parentheses_and_several_lines() -> None:
    reply = "Thought: I have both numbers (and sent it).\nAction: Finish(Sent to Sid (+1 555) and\nLutfi (+1 666).)"
    d = parse_join(reply)
    assert d.action == "finish"
    assert d.answer == "Sent to Sid (+1 555) and\nLutfi (+1 666)."
    assert d.thought == "I have both numbers (and sent it)."
    assert d.raw == reply


def test_replan_with_reason() -> None:
    d = parse_join("Thought: the lookup failed.\nAction: Replan(look up 'Lutfi' instead of 'Lutfy')")
    assert d.action == "replan" and d.reason == "look up 'Lutfi' instead of 'Lutfy'" and d.answer is None


def test_case_trailers_and_text_after_the_action() -> None:
    d = parse_join("thought: fine\naction: finish(42)<END_OF_RESPONSE>")
    assert (d.action, d.answer, d.thought) == ("finish", "42", "fine")
    d = parse_join("Thought: x\nAction: Finish(the answer) and some chatter")
    assert d.answer == "the answer"


def test_last_action_counts_and_missing_thought_is_empty() -> None:
    d = parse_join("Action: Replan(a)\nAction: Finish(b)")
    assert d.action == "finish" and d.answer == "b" and d.thought == ""


@pytest.mark.parametrize(
    "reply",
    ["", "The answer is 42.", "Thought: hmm\nAction: Search(x)", "Thought: x\nAction: Finish(never closes"],
)
def test_replies_that_fit_neither_form_raise_joiner_error(reply: str) -> None:
    with pytest.raises(JoinerError) as info:
        parse_join(reply)
    assert info.value.reply == reply
