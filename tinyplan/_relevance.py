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
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from tinyplan._backend import Backend, CompletionRequest, Usage, closing_stream
from tinyplan._syntax import ACTION_LINE
from tinyplan._tools import Tool

__all__ = [
    "RelevanceVerdict",
    "check_relevance",
    "first_action_name",
    "name_words",
    "prompt_actions",
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
    """

    text: str
    name: str | None
    unlisted: str | None
    usage: Usage
    unrelated: bool = False

    @property
    def no_tool(self) -> bool:
        """Whether the plan is to call no tool: the model named an unlisted tool, or the request is unrelated."""
        return self.unlisted is not None or self.unrelated


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
