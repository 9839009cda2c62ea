"""Relevance check: does the model's own first action name a listed tool?

A plan grammar (GBNF) makes every action a listed tool, so a small model that would call a tool the toolset does not
have is *forced* onto the nearest listed one: asked "what is the area of a triangle" with only a body-mass-index tool,
the grammar-constrained plan calls the BMI tool. BFCL's ``irrelevance`` category (Patil et al., Berkeley Function
Calling Leaderboard) measures exactly this: the right plan there calls no tool.

The check asks the same planner prompt for the first action *without* the grammar, up to its opening parenthesis
(a few tokens; the prompt is already cached). When the model writes a tool name that matches no listed tool — not
the name itself, and no word of its object (the words after a leading verb) in any listed name — and that it has
not seen as an action anywhere in the prompt, the planner answers with a plan that calls no tool, ``1. join()``,
instead of forcing a tool. Anything else is inconclusive and the grammar-constrained plan is written as usual: a
listed name, ``join``, a ``Thought:`` line, an unfinished name, or a name copied from an example plan
(``search_hotels`` from the generic examples is the model imitating an example, not asking for a missing tool).

The grammar-constrained plan gets one more look: when its first action gives its required parameters numbers and
the request states none of them (`invented_numbers`: "How far will a car travel in time 't' at velocity 'v'?" planned
as ``calculate_projectile_range(initial_velocity=10, angle=45, time=2)``), the tool is being fed made-up values, so it
does not fit the request as asked; the planner answers ``1. join()`` before that action runs, and the joiner answers
or asks for the values. A number counts as stated when the request writes it, or a plain conversion of it
(`request_numbers`: percentages, thousand/million, SI prefixes such as ``100µF`` → 1e-4, hours ↔ minutes ↔ seconds,
number words, ``3pm`` → 15).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from tinyplan._backend import Backend, CompletionRequest, Usage, closing_stream
from tinyplan._errors import TinyplanError
from tinyplan._syntax import ACTION_LINE
from tinyplan._tools import Tool
from tinyplan._types import Task

__all__ = [
    "RelevanceVerdict",
    "check_relevance",
    "first_action_name",
    "invented_numbers",
    "name_words",
    "prompt_actions",
    "request_numbers",
    "shares_words",
    "unlisted_tool",
]

#: Tokens the free first action may take (``1. some_tool_name``): enough for long names, cheap to generate.
CHECK_MAX_TOKENS = 32

_FIRST_ACTION_RE = re.compile(r"^\s*1\s*\.\s*([A-Za-z_][\w.\-]*)\s*$")
_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_STEM = 5  # words compare by their first letters, so "conversion" meets "convert" and "currency" meets "currencies"


@dataclasses.dataclass(frozen=True, slots=True)
class RelevanceVerdict:
    """The outcome of a relevance check.

    Attributes:
        text: What the model wrote freely before the first ``(`` (its first action, unconstrained).
        name: The first action's tool name, or None when the text is not a finished ``1. name`` line (also when the
            check ran out of tokens).
        unlisted: ``name`` when it matches no listed tool and no action of the prompt (the planner then calls no
            tool), else None.
        usage: Tokens the check took.
        unrelated: True when no word of the request appears in any tool's name, description or parameter docs
            (`shares_words`): the planner then calls no tool without asking the model (``text`` is empty).
        invented: The numbers the grammar-constrained plan's first action gave its required parameters when the
            request states none of them (`invented_numbers`): the planner then dropped that action and called no
            tool. Empty otherwise.
    """

    text: str
    name: str | None
    unlisted: str | None
    usage: Usage
    unrelated: bool = False
    invented: tuple[float, ...] = ()

    @property
    def no_tool(self) -> bool:
        """Whether the plan is to call no tool: an unlisted tool, an unrelated request, or made-up numbers."""
        return self.unlisted is not None or self.unrelated or bool(self.invented)


def first_action_name(text: str) -> str | None:
    """The tool name of a free first action, ``"1. name"`` (cut before its ``(``), or None if ``text`` is not one.

    Only the last line counts, so ``Thought:`` lines before the action are allowed; an empty or unfinished line
    gives None.
    """
    lines = text.rstrip().splitlines()
    if not lines:
        return None
    match = _FIRST_ACTION_RE.match(lines[-1])
    return match.group(1) if match else None


def name_words(name: str) -> list[str]:
    """The lower-case words of a tool name, split at ``_``, ``.``, ``-`` and camelCase.

    ``getCellType`` → get, cell, type.
    """
    return [w.lower() for part in re.split(r"[_.\-\s]+", name) for w in _CAMEL_RE.findall(part)]


def prompt_actions(prompt: str) -> set[str]:
    """Every action name written as ``N. name(`` in ``prompt``: the listed tools and the example plans' actions."""
    return {m[2] for m in ACTION_LINE.finditer(prompt)}


def _stem(word: str) -> str:
    return word[:_STEM]


def unlisted_tool(name: str, tool_names: Iterable[str]) -> bool:
    """Whether a freely written tool name matches none of ``tool_names``.

    A name matches when it equals a listed name (ignoring case and ``_``/``.``/``-``), or when a word of its object
    — every word after the first, which names the action (``calculate``, ``get``, ``search``) — shares its first five
    letters with a word of a listed name (``convert_currency`` matches ``currency_conversion``). ``join`` always
    matches. A one-word name is its own object.
    """
    if name.lower() == "join":
        return False
    words = name_words(name)
    if not words:
        return False
    obj = {_stem(w) for w in (words[1:] if len(words) > 1 else words)}
    flat = "".join(words)
    for listed in tool_names:
        listed_words = name_words(listed)
        if "".join(listed_words) == flat:
            return False
        if obj & {_stem(w) for w in listed_words}:
            return False
    return True


# Words that say nothing about which tool is meant: question words, fillers and the generic verbs of requests.
_STOPWORDS = frozenset(
    {
        "about",
        "all",
        "also",
        "and",
        "any",
        "are",
        "can",
        "could",
        "does",
        "each",
        "find",
        "for",
        "from",
        "get",
        "give",
        "given",
        "how",
        "into",
        "its",
        "list",
        "many",
        "much",
        "out",
        "please",
        "set",
        "should",
        "show",
        "some",
        "tell",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "this",
        "use",
        "using",
        "was",
        "were",
        "what",
        "which",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)
_WORD_RE = re.compile(r"[a-z]+")
_SUFFIXES = ("ing", "ies", "es", "ed", "s", "ly", "ion", "al")


def _content_words(text: str) -> set[str]:
    """Lower-case content words of ``text`` (camelCase and ``_`` split), with a common suffix taken off."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ")
    found = set()
    for w in _WORD_RE.findall(text.lower()):
        if len(w) < 3 or w in _STOPWORDS:
            continue
        for suffix in _SUFFIXES:
            if len(w) > 4 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        found.add(w)
    return found


def _acronyms(text: str) -> set[str]:
    """Initials of every run of three or four consecutive words (``body_mass_index`` → ``bmi``), lower case."""
    words = name_words(text)
    return {"".join(w[0] for w in words[i : i + n]) for n in (3, 4) for i in range(len(words) - n + 1)}


def shares_words(request: str, tools: Iterable[Tool]) -> bool:
    """Whether a word of ``request`` appears in some tool's name, description, parameter names or parameter docs.

    Words compare after a common suffix is taken off (``conversions`` → ``conversion``), by their first four letters
    when both have four or more (``convert`` meets ``conversion``), else exactly; an acronym of three or four
    consecutive words of a tool's name or description counts too (``BMI`` for ``body_mass_index``); question words,
    fillers and generic request verbs (get, find, show, tell, ...) do not count. A request that shares no word with
    any tool asks for nothing they do: on BFCL (Patil et al.) 119 of the 240 ``irrelevance`` requests share none,
    against 6 of 400 ``simple``, 2 of 200 ``multiple``, 1 of 200 ``parallel`` and 0 of 200 ``parallel_multiple``
    requests (whose right plans call tools) and 0 of the Mac toolset's 18 examples. Synonyms are its blind spot
    ("ping Sid" for ``send_sms``): a toolset that states `tinyplan.Cue` s decides coverage itself, and the planner
    uses this only for toolsets without them (``Planner(relevance_check=True)``).
    """
    asked = _content_words(request)
    if not asked:
        return True  # nothing to judge by: not evidence of an unrelated request
    for t in tools:
        text = " ".join([t.name, t.description, *(f"{p.name} {p.description}" for p in t.parameters)])
        if asked & _acronyms(t.name) | asked & _acronyms(t.description):
            return True
        for word in _content_words(text):
            for w in asked:
                if w == word or (len(w) >= 4 and len(word) >= 4 and w[:4] == word[:4]):
                    return True
    return False


async def check_relevance(backend: Backend, request: CompletionRequest, tool_names: Iterable[str]) -> RelevanceVerdict:
    """Ask for the first action without a grammar and judge its tool name (see the module docs).

    Args:
        backend: The planner's backend.
        request: The planning request (its grammar, stop strings and token limit are replaced).
        tool_names: The tools the plan may call.

    Returns:
        The `RelevanceVerdict`; ``unlisted`` is set only when the first action clearly names an unlisted tool.

    Raises:
        BackendError: The backend failed.
    """
    free = dataclasses.replace(request, grammar=None, stop=("(",), max_tokens=CHECK_MAX_TOKENS)
    chunks: list[str] = []
    usage = Usage()
    finish_reason: str | None = None
    stream = backend.stream(free)
    async with closing_stream(stream):
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.finish_reason is not None:
                finish_reason = chunk.finish_reason
            chunks.append(chunk.text)
    text = "".join(chunks)
    if "(" in text:  # a backend that returns the stop string: cut as the request asked
        text = text[: text.index("(")]
    name = None if finish_reason == "length" else first_action_name(text)  # a cut-off name proves nothing
    unlisted = None
    if name is not None and name not in prompt_actions(request.text) and unlisted_tool(name, list(tool_names)):
        unlisted = name
    return RelevanceVerdict(text=text, name=name, unlisted=unlisted, usage=usage)


_NUMBER_RE = re.compile(r"(?<![\w.])(\d+(?:,\d{3})+|\d*\.\d+|\d+)(?:[eE]([-+]?\d+))?")
_SCALES = {"thousand": 1e3, "million": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}
_SI_PREFIXES = {"k": 3, "M": 6, "G": 9, "T": 12, "c": -2, "m": -3, "µ": -6, "μ": -6, "u": -6, "n": -9, "p": -12}
_SI_UNITS = frozenset({"m", "g", "s", "A", "V", "W", "J", "N", "F", "H", "Hz", "Pa", "L", "l", "B", "mol", "Ω", "C",
                       "K", "eV", "Wh"})  # fmt: skip
_SI_RE = re.compile(r"\s?([kMGTcmµμunp])([A-Za-zΩ]{1,3})\b")
#: A number followed by a time unit also states it in the neighbouring units (2 hours: 120 minutes, 7200 seconds).
_TIME_UNITS = (
    (re.compile(r"\s*-?h(?:ours?|rs?)?\b", re.IGNORECASE), (60.0, 3600.0)),
    (re.compile(r"\s*-?min(?:utes?|s)?\b", re.IGNORECASE), (60.0, 1 / 60)),
    (re.compile(r"\s*-?s(?:ec(?:ond)?s?)?\b", re.IGNORECASE), (1 / 60,)),
    (re.compile(r"\s*-?days?\b", re.IGNORECASE), (24.0, 1440.0, 86400.0)),
    (re.compile(r"\s*-?weeks?\b", re.IGNORECASE), (7.0, 168.0)),
    (re.compile(r"\s*-?months?\b", re.IGNORECASE), (30.0,)),
    (re.compile(r"\s*-?years?\b", re.IGNORECASE), (12.0, 365.0, 52.0)),
)
_PERCENT_RE = re.compile(r"\s*(?:%|per\s?cent\b)", re.IGNORECASE)
_PM_RE = re.compile(r"\s*p\.?m\b", re.IGNORECASE)
_BOUND_BEFORE_RE = re.compile(r"\b(less|fewer|under|below|more|over|above|greater|least|most)\s+(?:than\s+)?$")
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
_NUMBER_WORDS = {
    **{w: float(i) for i, w in enumerate(_ONES)},
    "thirty": 30.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0, "ninety": 90.0,
    "hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "dozen": 12.0, "half": 0.5, "quarter": 0.25,
    "once": 1.0, "single": 1.0, "twice": 2.0, "double": 2.0, "pair": 2.0, "couple": 2.0, "thrice": 3.0, "triple": 3.0,
    "decade": 10.0, "century": 100.0, "pi": math.pi, "π": math.pi,
}  # fmt: skip
#: A unit named without a number states one of it, in its own and the neighbouring units ("next week": 1, 7).
_UNIT_WORDS = {"minute": 60.0, "hour": 60.0, "day": 24.0, "week": 7.0, "month": 30.0, "year": 12.0}


def _stated_forms(number: float, before: str, after: str) -> set[float]:
    """``number`` and what the words around it make of it (``5%`` → 0.05, ``2 million``, ``50mH`` → 0.05, ...)."""
    forms = {number}
    if _PERCENT_RE.match(after):
        forms.add(number / 100)
    scale = re.match(r"\s*([A-Za-z]+)", after)
    if scale and scale[1].lower() in _SCALES:
        forms.add(number * _SCALES[scale[1].lower()])
    si = _SI_RE.match(after)
    if si and si[2] in _SI_UNITS:
        forms.add(number * 10 ** _SI_PREFIXES[si[1]])
    for unit, factors in _TIME_UNITS:
        if unit.match(after):
            forms.update(number * f for f in factors)
            break
    if number < 12 and _PM_RE.match(after):
        forms.add(number + 12)
    bound = _BOUND_BEFORE_RE.search(before.lower())
    if bound:  # "less than 5" allows 4, "more than 5" allows 6
        forms.update({number - 1, number + 1})
    return forms


def request_numbers(text: str) -> frozenset[float]:
    """Every number ``text`` states, with its plain conversions and their negatives.

    Digits (``1,200``, ``.5``, ``1e-9``) with what their next words make of them (percent → a fraction; thousand,
    million, billion; an SI-prefixed unit such as ``mH`` or ``kPa`` → the base unit; hours, minutes, seconds, days,
    weeks, months and years → the neighbouring units; ``pm`` → 24-hour; ``less than 5`` → 4 as well), number words
    (zero to twenty, the tens, hundred, dozen, half, twice, decade, ...), and 1 for a time unit named alone ("next
    week"). Negatives are included (coordinates west or south, a drop).

    Args:
        text: A request.

    Returns:
        The numbers, as floats.
    """
    found: set[float] = set()
    for match in _NUMBER_RE.finditer(text):
        number = float(match[1].replace(",", ""))
        if match[2]:
            number *= 10 ** int(match[2])
        found |= _stated_forms(number, text[max(0, match.start() - 24) : match.start()], text[match.end() :][:16])
    for word in re.findall(r"[a-zπ]+", text.lower()):
        singular = word[:-1] if word.endswith("s") else word
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
        if singular in _UNIT_WORDS:
            found.update({1.0, _UNIT_WORDS[singular]})
    return frozenset(found | {-n for n in found})


def _numbers_in(value: Any) -> Iterator[float]:
    """The number literals in an argument value (inside lists and mappings; not booleans, not references)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _numbers_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers_in(item)


def invented_numbers(task: Task, tool: Tool, request: str) -> tuple[float, ...]:
    """The numbers ``task`` gives ``tool``'s required parameters, when ``request`` states none of them.

    A call that needs numbers and gets only numbers the request never states (`request_numbers`) is the model making
    values up for a tool that does not fit the request as asked; BFCL's ``irrelevance`` category (Patil et al.) is
    full of them. Measured on gold first actions, which call a fitting tool, this flags 3 of BFCL's 400 ``simple``,
    5 of 200 ``multiple``, 0 of 200 ``parallel`` and of 200 ``parallel_multiple``, 4 of T-Eval's 400 ``dependent``
    (movie ids known by heart), 1 of NesTools' 500 and 0 of the Mac toolset's 18 requests: world knowledge such as
    "a deck of cards" (52).

    Args:
        task: A parsed action.
        tool: Its tool.
        request: The user's request.

    Returns:
        The made-up numbers, or ``()`` when the call needs no number, states one, or does not bind to ``tool``.
    """
    try:
        bound = tool.bind(task.args, task.kwargs)
    except TinyplanError:
        return ()
    required = {p.name for p in tool.parameters if p.required}
    numbers = [n for name, value in bound.items() if name in required for n in _numbers_in(value)]
    if not numbers:
        return ()
    stated = request_numbers(request)
    for number in numbers:
        if any(math.isclose(number, s, rel_tol=1e-6, abs_tol=1e-12) for s in stated):
            return ()
    return tuple(numbers)
