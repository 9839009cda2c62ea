"""The joiner: reads an executed plan's observations and decides to finish with an answer or to replan.

LLMCompiler's joiner (Kim et al. 2023) answers ``Thought: ...`` then ``Action: Finish(answer)`` or
``Action: Replan(reason)``. This module holds the whole joiner: the request (`joiner_request`: stop strings and
`joiner_grammar`), the call (`ask_joiner`) and the reading of its reply (`parse_join`; the answer may hold
parentheses and span lines). The prompt text itself is rendered by `PromptRenderer.joiner`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tinyplan._backend import Backend, CompletionRequest, Usage, closing_stream
from tinyplan._errors import JoinerError
from tinyplan._prompt import PromptParts
from tinyplan._types import JoinDecision

__all__ = ["JOINER_STOPS", "JOINER_THOUGHT_CHARS", "ask_joiner", "joiner_grammar", "joiner_request", "parse_join"]

#: Where a plain-completion joiner reply ends: the model starting another turn. Not ``"\nAction:"`` (the action
#: follows the thought) and not a blank line (answers may span paragraphs).
JOINER_STOPS = ("<END_OF_RESPONSE>", "\nThought:", "\nQuestion:", "\nPlan:", "\n###")

_ACTION = re.compile(r"Action\s*:\s*(Finish|Replan)\s*\(", re.IGNORECASE)
_THOUGHT = re.compile(r"Thought\s*:\s*(.*?)(?=\n\s*Action\s*:|\Z)", re.IGNORECASE | re.DOTALL)
_TRAILERS = ("<END_OF_RESPONSE>", "<END_OF_PLAN>", "</s>", "<|im_end|>", "<|endoftext|>")


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


#: The longest joiner ``Thought:`` text `joiner_grammar` allows (characters).
JOINER_THOUGHT_CHARS = 400


def joiner_grammar(*, can_replan: bool = True, thought_prompted: bool = True) -> str:
    """The GBNF grammar of a joiner reply: one ``Thought:`` line, then one action line, and nothing after it.

    The action is ``Action: Finish(answer)`` or, when ``can_replan``, ``Action: Replan(reason)`` (LLMCompiler's
    joiner, Kim et al. 2023). The answer or reason is one line; it may hold parentheses nested one deep, such as
    ``Finish(Room 103 (the first free one) is booked.)``, and ends at the parenthesis that closes the action, where
    generation stops. A small model otherwise tends to run on after the action: it copies the prompt's rules into
    the answer, or writes a second action. Without ``can_replan`` only ``Finish`` is allowed.

    Args:
        can_replan: Allow ``Replan(...)``.
        thought_prompted: The prompt already ends with ``Thought:`` (plain completion); otherwise the reply starts
            with it (chat).

    Returns:
        GBNF text with the start rule ``root``; every reply it allows is read by `tinyplan.parse_join`. Its rule
        names (``root``, ``thought``, ``text``) load in llama.cpp, xgrammar and llguidance alike.
    """
    start = "" if thought_prompted else '"Thought:" '
    actions = '"Finish("' + (' | "Replan("' if can_replan else "")
    return "\n".join(
        [
            f'root ::= {start}thought "\\n" "Action: " ( {actions} ) text ")"',
            f"thought ::= [^\\n]{{1,{JOINER_THOUGHT_CHARS}}}",
            'text ::= ( [^()\\n] | "(" [^()\\n]* ")" )+',
            "",
        ]
    )


def joiner_request(
    prompt: PromptParts, *, chat: bool, can_replan: bool, grammar: bool, max_tokens: int
) -> CompletionRequest:
    """The backend request that asks the joiner for its decision.

    Args:
        prompt: The joiner prompt (`PromptRenderer.joiner`).
        chat: Send it as chat messages (the reply starts with ``Thought:`` itself); otherwise as a plain completion
            that ends with ``Thought:`` and stops at `JOINER_STOPS`.
        can_replan: Whether ``Replan(...)`` is still allowed (it shapes the grammar).
        grammar: Constrain the reply with `joiner_grammar`.
        max_tokens: The reply's token limit.

    Returns:
        The request; its ``cache_prefix`` is the prompt's static part (plain completion).
    """
    gbnf = joiner_grammar(can_replan=can_replan, thought_prompted=not chat) if grammar else None
    if chat:
        return prompt.request(chat=True, stop=("<END_OF_RESPONSE>",), max_tokens=max_tokens, grammar=gbnf)
    # a plain completion has no end-of-turn token: stop where the model would start another turn
    return CompletionRequest(
        prompt=prompt.text + "\nThought:",
        max_tokens=max_tokens,
        stop=JOINER_STOPS,
        grammar=gbnf,
        cache_prefix=prompt.static,
    )


async def ask_joiner(
    backend: Backend, request: CompletionRequest, *, chat: bool, on_text: Callable[[str], None] | None = None
) -> tuple[JoinDecision, Usage | None]:
    """Stream the joiner's reply to ``request`` and read its decision.

    Args:
        backend: The joiner's backend.
        request: From `joiner_request`.
        chat: The request was sent as chat (the reply carries its own ``Thought:``).
        on_text: Called with each streamed text piece (the planner turns them into ``Token`` events).

    Returns:
        The decision and the backend's token counts (None when it reported none).

    Raises:
        JoinerError: The reply has neither ``Finish(...)`` nor ``Replan(...)``.
        BackendError: The backend failed.
    """
    parts: list[str] = [] if chat else ["Thought:"]
    usage: Usage | None = None
    stream = backend.stream(request)
    async with closing_stream(stream):
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage  # counts so far: the latest wins
            if chunk.text:
                parts.append(chunk.text)
                if on_text is not None:
                    on_text(chunk.text)
    return parse_join("".join(parts)), usage
