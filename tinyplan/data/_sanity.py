"""Sanity checks of synthesized examples: each failure is a named rejection reason, counted in the run's report.

The checks read the request and the plan text; none asks a model. In order (the first failure is the reason):

``request``
    The request is not a user's request: empty, over 400 characters, several lines, or it leaks the plan (a tool
    name, a ``$N`` reference, ``join()``).
``reference``
    A reference points to the task itself or a later one (also one written inside a string, which the parser would
    read as prose).
``parse``
    The plan does not parse against the tools (unknown tool, bad literal).
``join``
    The plan does not end with ``join()``.
``schema``
    A call does not validate against its tool's schema (`Tool.check`: wrong arity, unknown keyword, wrong type;
    values holding references are bound but not typed).
``unused``
    A read-only call whose output nothing uses, unless the request asks for that value (its tool's words are in the
    request and no other call of the same tool is used).
``unstated``
    A literal the plan needs is neither stated nor implied by the request: names, file names, places, note titles
    and other identifiers must appear (case and plural aside); dates and times in any usual form ("July 2",
    "2 July", "7/2", "2024-07-02"; "3pm", "15:00", "noon"); numbers as digits or words; free texts (messages, notes,
    subjects) by at least half of their words. Defaults, empty values, booleans and options are exempt unless the
    checker is given phrases for them.
``unasked``
    The plan calls a tool the toolset's cues (`tinyplan.Cue`, e.g. "text|sms" for ``send_sms``) tie to words, and
    none of those words is in the request: the plan does something the request does not ask for.
``unplanned``
    The request names a known value (a contact, file or place of the value pools) that the plan does not use: it
    asks for more than the plan does.
``holdout``
    The request is close to a held-out request (the evaluation set) or the plan has the same literals as one.
``duplicate``
    The same or a near-same request (word-set Jaccard ≥ 0.85), or the same plan, was kept before.
``sandbox``
    Run in the toolset's sandbox (a fresh copy of its data per plan), a task ended with an error observation.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import anyio

from tinyplan._errors import PlanParseError
from tinyplan._fetcher import TaskFetchingUnit
from tinyplan._parser import parse_plan, references_in
from tinyplan._syntax import ACTION_HEAD, ACTION_LINE, JOIN
from tinyplan._tools import Parameter, Tool, ToolArgumentError, Toolset
from tinyplan._types import ERROR_STATES, Interpolated, Ref, Task
from tinyplan.data._values import FREE_TEXT_KINDS, parameter_kind

__all__ = [
    "REASONS",
    "ExampleChecker",
    "Rejection",
    "Sandbox",
    "asks_for",
    "content_words",
    "stated",
]

#: Every rejection reason, in the order the checks run.
REASONS: tuple[str, ...] = (
    "request",
    "reference",
    "parse",
    "join",
    "schema",
    "unused",
    "unstated",
    "unasked",
    "unplanned",
    "holdout",
    "duplicate",
    "sandbox",
)


@dataclass(frozen=True)
class Rejection:
    """Why an example was thrown away: one of `REASONS` and a detail for the log."""

    reason: str
    detail: str


@runtime_checkable
class Sandbox(Protocol):
    """Where a plan can run without touching anything real: a fresh executable toolset for every plan.

    The Mac toolset's is a copy of its sample home (with the value pools' contacts, files and notes added) under the
    portable driver (`tinyplan.data.MacSandbox`).
    """

    def toolset(self) -> Toolset:
        """A toolset whose tools act on a fresh copy of the sandbox's data."""
        ...


_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "for",
        "in",
        "on",
        "at",
        "by",
        "with",
        "and",
        "or",
        "as",
        "is",
        "are",
        "be",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "them",
        "their",
        "my",
        "me",
        "i",
        "you",
        "your",
        "we",
        "our",
        "us",
        "he",
        "she",
        "his",
        "her",
        "they",
        "from",
        "up",
        "about",
        "into",
        "than",
        "then",
        "so",
        "do",
        "does",
        "did",
        "please",
        "can",
        "could",
        "would",
        "will",
        "just",
    ]
)
_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december",
)  # fmt: skip
_ISO_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_IDENTIFIER_KINDS = frozenset(
    {"contact name", "file name", "place", "note name", "folder", "list name", "calendar name", "city", "country",
     "company", "language", "name", "word", "url"}
)  # fmt: skip


def _stem(word: str) -> str:
    word = word.casefold()
    for suffix in ("ing", "ies", "es", "ed", "s", "e", "y"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """The stems of a text's words without stop words (``"The budget reviews"`` → budget, review)."""
    return [_stem(w) for w in _WORD.findall(text.casefold()) if w not in _STOPWORDS]


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.casefold())}


def _date_named(day: dt.date, request: str) -> bool:
    text = request.casefold()
    if day.isoformat() in text:
        return True
    month = _MONTHS[day.month - 1]
    names = rf"(?:{month}|{month[:3]}\.?)"
    d = day.day
    ordinal = rf"{d}(?:st|nd|rd|th)?"
    pattern = (
        rf"\b{names}\s+{ordinal}\b|\b{ordinal}\s+(?:of\s+)?{names}"
        rf"|\b0?{day.month}/0?{d}(?:/(?:{day.year}|{day.year % 100:02d}))?\b"
    )
    return re.search(pattern, text) is not None


def _time_named(hour: int, minute: int, request: str) -> bool:
    text = request.casefold()
    if minute == 0 and hour == 12 and re.search(r"\bnoon\b|\bmidday\b", text):
        return True
    if minute == 0 and hour == 0 and re.search(r"\bmidnight\b", text):
        return True
    h12 = hour % 12 or 12
    half = "a" if hour < 12 else "p"
    minutes = rf":{minute:02d}" if minute else r"(?::00)?"
    pattern = rf"\b{h12}{minutes}\s*{half}\.?\s?m\b|\b0?{hour}:{minute:02d}\b|\b{h12}{minutes}\s*(?:o'clock)\b"
    if minute == 30:
        pattern += rf"|\bhalf past {h12}\b|\b{h12}:30\b"
    return re.search(pattern, text) is not None


def _number_named(number: float, request: str) -> bool:
    if float(number).is_integer():
        number = int(number)
    text = str(number)
    plain = request.replace(",", "")
    if re.search(rf"(?<![\d.:]){re.escape(text)}(?![\d]|[.:]\d)", plain):  # not the 45 of "10:45"
        return True
    return isinstance(number, int) and 0 <= number <= 20 and _NUMBER_WORDS[number] in request.casefold().split()


def _minutes_named(minutes: int, request: str) -> bool:
    if _number_named(minutes, request):
        return True
    text = request.casefold()
    hours = minutes / 60
    if minutes == 30 and re.search(r"half (an )?hour|half-hour|30-minute", text):
        return True
    if minutes == 15 and re.search(r"quarter (of an )?hour|15-minute", text):
        return True
    if minutes == 90 and re.search(r"(an|one) hour and a half|1\.5 hours?|one and a half hours?", text):
        return True
    if hours.is_integer() and hours >= 1:
        word = _NUMBER_WORDS[int(hours)] if hours <= 20 else str(int(hours))
        if re.search(rf"\b({int(hours)}|{word}{'|an' if hours == 1 else ''})[ -]hours?\b", text):
            return True
    return re.search(rf"\b{minutes}[ -]?min", text) is not None


def stated(value: Any, kind: str, request: str, *, phrases: Sequence[str] = ()) -> bool:
    """Whether a literal ``value`` of ``kind`` is stated (or plainly implied) by ``request`` (see the module docs).

    Args:
        value: A literal argument value (a string, number, boolean, ...); lists are checked item by item.
        kind: The parameter's kind (`tinyplan.data.parameter_kind`).
        request: The request text.
        phrases: Words that state this value (e.g. ``["walk"]`` for ``"w"``); when given, one must appear.
    """
    if phrases:
        text = request.casefold()
        return any(p.casefold() in text for p in phrases)
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, (list, tuple)):
        return all(stated(v, kind, request) for v in value)
    if isinstance(value, Mapping):
        return all(stated(v, kind, request) for v in value.values())
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return False
        return _minutes_named(int(value), request) if kind == "duration" else _number_named(value, request)
    return _text_stated(str(value).strip(), kind, request)


def _text_stated(text: str, kind: str, request: str) -> bool:
    """Whether a text value of ``kind`` is stated by ``request`` (see `stated`)."""
    if not text:
        return True
    if text.casefold() in request.casefold():
        return True
    moment = _ISO_DATETIME.fullmatch(text)
    if moment:
        return _moment_stated(moment, request)
    if kind == "phone number":
        digits = re.sub(r"\D", "", text)
        return len(digits) >= 7 and digits in re.sub(r"\D", "", request)
    if kind == "email address":
        return False  # an address is stated as written (the substring test above)
    wanted = content_words(text)
    if not wanted:
        return True
    have = set(content_words(request))
    found = sum(w in have for w in wanted)
    if kind in FREE_TEXT_KINDS and kind != "title" and len(wanted) > 2:
        # a paraphrase may drop half the words, never a fact: numbers, days, months, names
        return found * 2 >= len(wanted) and all(w in have for w in _salient(text))
    return found == len(wanted)


def _moment_stated(moment: re.Match[str], request: str) -> bool:
    """Whether an ISO date (and time, when given) matched by ``_ISO_DATETIME`` is named in ``request``."""
    year, month, day = int(moment[1]), int(moment[2]), int(moment[3])
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return False
    if not _date_named(date, request):
        return False
    return moment[4] is None or _time_named(int(moment[4]), int(moment[5]), request)


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tomorrow", "tonight", "today")


def _salient(text: str) -> list[str]:
    """The facts of a free text: numbers, days and months, and capitalised words after its first word."""
    words = _WORD.findall(text)
    out = []
    for i, w in enumerate(words):
        low = w.casefold()
        fact = any(c.isdigit() for c in w) or low in _DAYS or low in _MONTHS or (i > 0 and w[0].isupper())
        if fact and low not in _STOPWORDS:
            out.append(_stem(w))
    return out


def asks_for(request: str, tool: Tool) -> bool:
    """Whether ``request`` asks for the value ``tool`` returns.

    It does when a word of the tool's name, less its verb (``get_phone_number`` → phone, number; ``summarize_pdf`` →
    summar, pdf), is in the request.
    """
    verbs = {"get", "and", "open", "the", "a", "to", "of", "by", "for", "new", "find", "search", "fetch", "look"}
    cues = {_stem(w) for w in tool.name.split("_") if w and w not in verbs}
    words = _words(request)
    return bool(cues & words) or any(c in request.casefold() for c in cues if len(c) >= 5)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _holds_ref(value: Any) -> bool:
    return bool(references_in(value))


_REF_IN_TEXT = re.compile(r"\$\{?(\d+)")


def _bad_reference(plan: str) -> str | None:
    for line in plan.splitlines():
        head = ACTION_HEAD.match(line)
        if head is None:
            continue
        idx = int(head[1])
        for ref in _REF_IN_TEXT.finditer(line):
            if int(ref[1]) >= idx:
                return f"task {idx} refers to ${ref[1]}, not an earlier task: {line.strip()}"
    return None


class ExampleChecker:
    """Runs the sanity checks on ``(request, plan)`` pairs for one toolset and remembers what was kept.

    Args:
        toolset: The tools plans may call.
        kinds: Parameter kind overrides (``"tool.param"`` → kind, see `parameter_kind`).
        phrases: Words that state an option's value: ``{"tool.param": {value: ["word", ...]}}``, e.g.
            ``{"maps_show_directions.transport": {"w": ["walk"]}}``; options without phrases are exempt.
        default_minutes: A second date-time in a call this many minutes after the first is implied (a toolset's
            default duration), None: it must be stated.
        holdout: Held-out ``(request, plan)`` pairs (the evaluation set) no example may copy.
        sandbox: Runs each plan (`Sandbox`), None: no run.
        known: Values a request may name (contact names, file names, places); one the request names and the plan
            does not use is an ``unplanned`` rejection.
        near_duplicate: Word-set Jaccard from which two requests count as the same.
        run_timeout: Seconds a plan may take in the sandbox.
    """

    def __init__(
        self,
        toolset: Toolset,
        *,
        kinds: Mapping[str, str] | None = None,
        phrases: Mapping[str, Mapping[Any, Sequence[str]]] | None = None,
        default_minutes: int | None = None,
        holdout: Sequence[tuple[str, str]] = (),
        sandbox: Sandbox | None = None,
        known: Sequence[str] = (),
        near_duplicate: float = 0.85,
        run_timeout: float = 30.0,
    ) -> None:
        self.toolset = toolset
        self.kinds = dict(kinds or {})
        self.phrases = {k: dict(v) for k, v in (phrases or {}).items()}
        self.default_minutes = default_minutes
        self.sandbox = sandbox
        self.near_duplicate = near_duplicate
        self.run_timeout = run_timeout
        self._known = [(v, re.compile(rf"(?<!\w){re.escape(v)}(?!\w)", re.IGNORECASE)) for v in known if v.strip()]
        self._holdout_words = [set(content_words(r)) for r, _ in holdout]
        self._holdout_literals = {self._literal_key(p) for _, p in holdout if p}
        self._holdout_literals.discard(None)
        self._seen_requests: set[str] = set()
        self._seen_plans: set[str] = set()
        self._seen_words: list[set[str]] = []

    # ------------------------------------------------------------------------------------------------ memory
    def remember(self, request: str, plan: str) -> None:
        """Count an example as kept: later copies of it are duplicates."""
        self._seen_requests.add(_normal(request))
        self._seen_plans.add(_normal_plan(plan))
        self._seen_words.append(set(content_words(request)))

    def _literal_key(self, plan: str) -> str | None:
        try:
            tasks = parse_plan(_plan_part(plan))
        except PlanParseError:
            return None
        literals = sorted(
            str(leaf).casefold()
            for t in tasks
            for v in (*t.args, *t.kwargs.values())
            for leaf in _leaves(v)
            if isinstance(leaf, str) and leaf.strip() and not leaf.startswith("$")
        )
        names = sorted(t.name for t in tasks)
        return "|".join(names) + "||" + "|".join(literals)

    # ------------------------------------------------------------------------------------------------ checks
    def check_static(self, request: str, plan: str) -> tuple[Rejection | None, list[Task]]:
        """Every check but the sandbox run; returns the first failure (or None) and the parsed tasks."""
        request = request.strip()
        rejection, tasks = self._check_form(request, plan)
        if rejection is None:
            rejection = self._check_content(request, plan, tasks) or self._check_novelty(request, plan)
        return rejection, tasks

    def _check_form(self, request: str, plan: str) -> tuple[Rejection | None, list[Task]]:
        """The request's form, the plan's parse, its join and each call's arguments against the tool's schema."""
        problem = _request_problem(request, self.toolset)
        if problem:
            return Rejection("request", problem), []
        bad = _bad_reference(plan)
        if bad:
            return Rejection("reference", bad), []
        try:
            tasks = parse_plan(plan, tools=set(self.toolset.names))
        except PlanParseError as exc:
            reason = "reference" if "later task" in str(exc) or "earlier task" in str(exc) else "parse"
            return Rejection(reason, str(exc)), []
        if not tasks or not tasks[-1].is_join:
            return Rejection("join", "the plan does not end with join()"), tasks
        for task in tasks[:-1]:
            tool = self.toolset[task.name]
            try:
                tool.check(task.args, task.kwargs, defer=_holds_ref)
            except ToolArgumentError as exc:
                return Rejection("schema", f"task {task.idx}: {exc}"), tasks
        return None, tasks

    def _check_content(self, request: str, plan: str, tasks: list[Task]) -> Rejection | None:
        """Whether plan and request say the same: no unused output, unstated value, unasked call or missing step."""
        checks: tuple[tuple[str, Callable[[], str | None]], ...] = (
            ("unused", lambda: self._unused(request, tasks)),
            ("unstated", lambda: self._unstated(request, tasks)),
            ("unasked", lambda: self._unasked(request, tasks)),
            ("unplanned", lambda: self._unplanned(request, plan)),
        )
        for reason, check in checks:  # in order, each only when the ones before passed
            detail = check()
            if detail:
                return Rejection(reason, detail)
        return None

    def _check_novelty(self, request: str, plan: str) -> Rejection | None:
        """Whether the example is new: not close to a held-out one, not a (near) duplicate of one kept before."""
        words = set(content_words(request))
        for other in self._holdout_words:
            if _jaccard(words, other) >= 0.6:
                return Rejection("holdout", "close to a held-out request")
        if self._holdout_literals and self._literal_key(plan) in self._holdout_literals:
            return Rejection("holdout", "the same calls and literals as a held-out plan")
        if _normal(request) in self._seen_requests:
            return Rejection("duplicate", "the same request was kept before")
        if _normal_plan(plan) in self._seen_plans:
            return Rejection("duplicate", "the same plan was kept before")
        for other in self._seen_words:
            if _jaccard(words, other) >= self.near_duplicate:
                return Rejection("duplicate", "a near-same request was kept before")
        return None

    async def check(self, request: str, plan: str) -> Rejection | None:
        """All checks, the sandbox run last; None when the example passes.

        Nothing is remembered (see `remember`).
        """
        rejection, tasks = self.check_static(request, plan)
        if rejection is not None or self.sandbox is None:
            return rejection
        return await self.run(tasks)

    async def run(self, tasks: Sequence[Task]) -> Rejection | None:
        """Run ``tasks`` in a fresh sandbox toolset; a task that fails (or is skipped) is a ``sandbox`` rejection."""
        assert self.sandbox is not None
        toolset = await anyio.to_thread.run_sync(self.sandbox.toolset)
        tfu = TaskFetchingUnit(toolset, tool_timeout=self.run_timeout)
        await tfu.run(list(tasks), timeout=self.run_timeout)
        for task in tasks:
            result = tfu.results.get(task.idx)
            if result is None or task.is_join:
                continue
            if result.state in ERROR_STATES:
                return Rejection("sandbox", f"task {task.idx} {task.name} {result.state.value}: {result.error}")
        return None

    def _unused(self, request: str, tasks: Sequence[Task]) -> str | None:
        used = {d for t in tasks if not t.is_join for d in t.dependencies}
        used_tools = {t.name for t in tasks if t.idx in used}
        for task in tasks:
            if task.is_join or task.idx in used:
                continue
            tool = self.toolset[task.name]
            if tool.side_effects:
                continue
            if task.name in used_tools or not asks_for(request, tool):
                return f"task {task.idx} {task.name}(): its output is not used and the request does not ask for it"
        return None

    def _unasked(self, request: str, tasks: Sequence[Task]) -> str | None:
        cues = list(getattr(self.toolset, "cues", ()))
        for task in tasks:
            mine = [c for c in cues if task.name in c.tools]
            if mine and not any(c.matches(request) for c in mine):
                wants = " or ".join(dict.fromkeys(c.what for c in mine))
                return f"task {task.idx} {task.name}(): the request does not ask to {wants}"
        return None

    def _unplanned(self, request: str, plan: str) -> str | None:
        lowered = plan.casefold()
        for value, pattern in self._known:
            if pattern.search(request) and value.casefold() not in lowered:
                return f"the request names {value!r}, which the plan does not use"
        return None

    def _unstated(self, request: str, tasks: Sequence[Task]) -> str | None:
        for task in tasks:
            if task.is_join:
                continue
            tool = self.toolset[task.name]
            bound = tool.bind(task.args, task.kwargs)
            params = {p.name: p for p in tool.parameters}
            starts = [v for v in bound.values() if isinstance(v, str) and _ISO_DATETIME.fullmatch(v.strip())]
            for name, value in bound.items():
                param = params[name]
                if _exempt(value, param):
                    continue
                kind = parameter_kind(tool, param, self.kinds)
                options = self.phrases.get(f"{tool.name}.{name}")
                if options is not None:
                    words = options.get(value)
                    if words and not stated(value, kind, request, phrases=words):
                        return f"task {task.idx} {tool.name}: {name}={value!r} is not in the request"
                    continue
                if isinstance(value, bool) or kind in ("enum", "choice", "bool"):
                    continue
                if self._implied_end(value, starts):
                    continue
                for leaf in _literal_texts(value):
                    if not stated(leaf, kind, request):
                        return f"task {task.idx} {tool.name}: {name}={leaf!r} is not in the request"
        return None

    def _implied_end(self, value: Any, starts: Sequence[str]) -> bool:
        if self.default_minutes is None or not isinstance(value, str):
            return False
        end = _parse_moment(value)
        if end is None:
            return False
        for other in starts:
            start = _parse_moment(other)
            if start is not None and end - start == dt.timedelta(minutes=self.default_minutes):
                return True
        return False


def _parse_moment(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _exempt(value: Any, param: Parameter) -> bool:
    """Values that need no word in the request: the parameter's default, empty ones, references only."""
    if not param.required and value == param.default:
        return True
    if value in ("", None) or value == [] or value == {}:
        return True
    return isinstance(value, Ref)


def _literal_texts(value: Any) -> list[Any]:
    """The literal leaves of a value.

    Of a text with references inside, its literal parts of more than 4 words (a short lead-in such as "Here is the
    link:" is the plan's wording, not a fact).
    """
    out: list[Any] = []
    for leaf in _leaves(value):
        if isinstance(leaf, Ref):
            continue
        if isinstance(leaf, Interpolated):
            for part in leaf.parts:
                if isinstance(part, str) and len(content_words(part)) > 4:
                    out.append(part)
            continue
        if isinstance(leaf, str) and leaf.strip() == "":
            continue
        out.append(leaf)
    return out


def _request_problem(request: str, toolset: Toolset) -> str | None:
    if not request:
        return "empty request"
    if len(request) > 400:
        return f"request of {len(request)} characters"
    if "\n" in request:
        return "a request of several lines"
    if re.search(r"\$\{?\d|<|\bresult of step\b|\bfrom step \d|\bstep \d", request, re.IGNORECASE):
        return "the request holds a reference to a step's result"
    lowered = request.casefold()
    if f"{JOIN}(" in lowered or "<end_of_plan>" in lowered or re.match(r"^\s*\d+\s*\.\s", request):
        return "the request copies the plan"
    for name in toolset.names:
        if "_" in name and name.casefold() in lowered:
            return f"the request names the tool {name}"
    return None


def _normal(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _normal_plan(plan: str) -> str:
    return " ".join(plan.replace("<END_OF_PLAN>", "").split())


def _plan_part(text: str) -> str:
    """The plan of an example text (``Question: ...`` then the plan), or the text itself."""
    match = ACTION_LINE.search(text)
    return text[match.start() :] if match else text


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


Kinds = Mapping[str, str]
Phrases = Mapping[str, Mapping[Any, Sequence[str]]]
SandboxFactory = Callable[[], Toolset]
