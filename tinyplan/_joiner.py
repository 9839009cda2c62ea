"""The joiner: reads an executed plan's observations and decides to finish with an answer or to replan.

LLMCompiler's joiner (Kim et al. 2023) answers ``Thought: ...`` then ``Action: Finish(answer)`` or
``Action: Replan(reason)``. `parse_join` reads that reply; the answer may hold parentheses and span lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tinyplan._errors import JoinerError

__all__ = ["JoinDecision", "parse_join"]

_ACTION = re.compile(r"Action\s*:\s*(Finish|Replan)\s*\(", re.IGNORECASE)
_THOUGHT = re.compile(r"Thought\s*:\s*(.*?)(?=\n\s*Action\s*:|\Z)", re.IGNORECASE | re.DOTALL)
_TRAILERS = ("<END_OF_RESPONSE>", "<END_OF_PLAN>", "</s>", "<|im_end|>", "<|endoftext|>")


@dataclass(frozen=True, slots=True)
class JoinDecision:
    """What the joiner decided.

    Attributes:
        action: ``"finish"`` (answer the user) or ``"replan"`` (plan again).
        thought: The joiner's reasoning (may be empty).
        answer: The final answer, for ``finish``.
        reason: Why to replan, for ``replan``; it is shown to the planner.
        raw: The joiner's full reply (empty when no model was asked).
    """

    action: Literal["finish", "replan"]
    thought: str = ""
    answer: str | None = None
    reason: str | None = None
    raw: str = ""


def parse_join(text: str) -> JoinDecision:
    """Read a joiner reply.

    The last ``Action: Finish(`` or ``Action: Replan(`` counts; its argument runs to the last ``)`` of the reply, so
    answers may contain parentheses and line breaks.

    Raises:
        JoinerError: The reply has no ``Action: Finish(...)``/``Action: Replan(...)``, or its parenthesis never
            closes (the reply was cut).
    """
    cleaned = text
    for trailer in _TRAILERS:
        cleaned = cleaned.replace(trailer, "")
    matches = list(_ACTION.finditer(cleaned))
    if not matches:
        raise JoinerError("the joiner's reply has neither 'Action: Finish(...)' nor 'Action: Replan(...)'", reply=text)
    m = matches[-1]
    rest = cleaned[m.end() :]
    close = rest.rfind(")")
    if close < 0:
        raise JoinerError(f"the joiner's {m.group(1)}( never closes (the reply was cut?)", reply=text)
    argument = rest[:close].strip()
    thought_m = _THOUGHT.search(cleaned[: m.start()])
    thought = " ".join(thought_m.group(1).split()) if thought_m else ""
    if m.group(1).lower() == "finish":
        return JoinDecision("finish", thought=thought, answer=argument, raw=text)
    return JoinDecision("replan", thought=thought, reason=argument, raw=text)
