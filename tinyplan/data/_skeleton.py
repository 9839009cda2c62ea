"""Plan skeletons: which tool outputs can feed which inputs, random compositions of them, and their filled plans.

A *link* says that a tool's output can be an argument of another tool's parameter. It is judged, in order, from:

* semantic types (`tinyplan.Semantic`): the source's result and the parameter (or its items) name the same kind
  (``get_phone_number -> PhoneNumber`` feeds ``send_sms(recipients: list[PhoneNumber])``); two declared, different
  kinds never link;
* result fields: a parameter named like a field of the source's result objects (``product_id``);
* docstrings: a description that names the other tool and the parameter ("Pass the link to
  create_calendar_event (location or notes)"), or a parameter description that names the source ("Phone numbers, as
  get_phone_number returns them");
* names: the words of the source's name (less its verb: ``get_phone_number`` → phone, number) all in the
  parameter's name and description, with compatible types;
* free text: a read-only tool's text (a summary, a link, a note) into a message, content or notes parameter.

A `Skeleton` is a composition of tool calls whose inputs follow links: chains, fan-outs (one output used twice),
fan-ins (several outputs in one list), independent parts, 1-6 calls. `SkeletonSampler` draws them; `fill` gives the
literal arguments from value pools; `render_plan` writes the plan text; `skeleton_signature` names the structure of
any parsed plan (used to split data so that no test structure is seen in training).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tinyplan._parser import plan_literal, references_in
from tinyplan._semantic import element_semantic, output_fields, result_semantic
from tinyplan._tools import Parameter, Tool, Toolset
from tinyplan._types import Interpolated, Ref, Task
from tinyplan.data._values import Scenario, ValuePools, base_type, parameter_kind

__all__ = [
    "Call",
    "Link",
    "Skeleton",
    "SkeletonCall",
    "SkeletonSampler",
    "Slot",
    "fill",
    "find_links",
    "render_plan",
    "skeleton_shape",
    "skeleton_signature",
    "split_of",
]

How = Literal["semantic", "field", "doc", "name", "text"]
ArgStyle = Literal["positional", "keyword"]

_VERBS = frozenset(
    [
        "get",
        "open",
        "and",
        "find",
        "search",
        "fetch",
        "lookup",
        "look",
        "up",
        "retrieve",
        "read",
        "show",
        "list",
        "create",
        "make",
        "new",
        "send",
        "compose",
        "the",
        "a",
        "of",
        "to",
        "for",
        "by",
        "from",
        "with",
    ]
)
_TEXT_TARGET_KINDS = frozenset({"message", "content", "notes", "text"})
# kinds of parameters that name where something goes or how it is done, never a value another tool produces
_CONTAINER_KINDS = frozenset(
    {"folder", "list name", "calendar name", "title", "subject", "priority", "duration", "datetime", "date", "time",
     "enum", "bool", "choice"}
)  # fmt: skip


@dataclass(frozen=True)
class Link:
    """``source``'s output can be ``target``'s argument ``param`` (or one item of it, when ``many``).

    Attributes:
        source: The tool whose output flows.
        target: The tool that takes it.
        param: The target's parameter.
        many: The parameter is a list: several outputs may go into it (a fan-in).
        how: What the link was judged from (see the module docs).
        path: Where in the output the value is: ``("product_id",)`` for a field, ``(0, "id")`` for a list's item.
    """

    source: str
    target: str
    param: str
    many: bool
    how: How
    path: tuple[str | int, ...] = ()


def _words(text: str) -> list[str]:
    return [_singular(w) for w in re.findall(r"[a-z0-9]+", text.casefold().replace("_", " "))]


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _product_words(tool: Tool) -> set[str]:
    """What a tool's name says it produces: its words less verbs (``get_phone_number`` → phone, number)."""
    return {w for w in _words(tool.name) if w not in _VERBS}


def _result_type(tool: Tool) -> Any:
    function = tool.function
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:
        hints = {}
    if "return" in hints:
        return base_type(hints["return"])
    return {"str": str, "int": int, "float": float, "bool": bool}.get(tool.returns, Any)


def _element_type(param: Parameter) -> tuple[Any, bool]:
    base = base_type(param.annotation)
    if typing.get_origin(base) in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        return (base_type(args[0]) if args else Any), True
    return base, False


def _compatible(result: Any, element: Any) -> bool:
    if result is Any or element is Any:
        return True
    if typing.get_origin(element) is Literal:
        return False
    if element is float and result is int:
        return True
    return bool(result == element)


def _is_source(tool: Tool) -> bool:
    """Whether a tool's output is worth passing on: it declares what it returns, or it only reads."""
    if result_semantic(tool) is not None or output_fields(tool):
        return True
    return not tool.side_effects and _result_type(tool) not in (type(None), None)


def _doc_mentions(tool: Tool, other: Tool, param: Parameter) -> bool:
    """``tool``'s description names ``other`` and, close after it, ``param`` (in parentheses or the same clause)."""
    text = tool.description
    for match in re.finditer(rf"\b{re.escape(other.name)}\b", text):
        after = text[match.end() : match.end() + 60]
        clause = re.split(r"\)|;|\.\s", after, maxsplit=1)[0]
        if re.search(rf"\b{re.escape(param.name)}\b", clause):
            return True
    return False


def find_links(toolset: Toolset, kinds: Mapping[str, str] | None = None) -> list[Link]:
    """Every link between the toolset's tools (see the module docs for the rules, in order of precedence).

    Args:
        toolset: The tools.
        kinds: Parameter kind overrides (``"tool.param"`` → kind, see `parameter_kind`).
    """
    out: list[Link] = []
    tools = list(toolset)
    for target in tools:
        for param in target.parameters:
            element, many = _element_type(param)
            wanted, _ = element_semantic(param.annotation)
            kind = parameter_kind(target, param, kinds)
            param_words = set(_words(param.name + " " + param.description))
            for source in tools:
                if source is target or not _is_source(source):
                    continue
                link = _judge(source, target, param, element, many, wanted, kind, param_words)
                if link is not None:
                    out.append(link)
    return out


def _judge(
    source: Tool,
    target: Tool,
    param: Parameter,
    element: Any,
    many: bool,
    wanted: Any,
    kind: str,
    param_words: set[str],
) -> Link | None:
    produced = result_semantic(source)
    if wanted is not None and produced is not None:
        if wanted.name == produced.name:
            return Link(source.name, target.name, param.name, many, "semantic")
        if kind not in _TEXT_TARGET_KINDS:
            return None  # two declared, different kinds of value
    fields = output_fields(source)
    if param.name in fields:
        listed = typing.get_origin(_result_type(source)) in (list, tuple)
        path: tuple[str | int, ...] = (0, param.name) if listed else (param.name,)
        return Link(source.name, target.name, param.name, many, "field", path)
    result = _result_type(source)
    if not _compatible(result, element):
        return None
    if _doc_mentions(source, target, param) or re.search(rf"\b{re.escape(source.name)}\b", param.description):
        return Link(source.name, target.name, param.name, many, "doc")
    product = _product_words(source)
    if (
        wanted is None
        and produced is None
        and product
        and product <= param_words
        and kind not in _CONTAINER_KINDS
        and not (kind in _TEXT_TARGET_KINDS and not product <= set(_words(param.name)))
    ):
        return Link(source.name, target.name, param.name, many, "name")
    if kind in _TEXT_TARGET_KINDS and not many and element in (str, Any):
        if produced is not None:  # a declared kind of text: summaries and links are worth passing on
            if re.search(r"summary|link|text|content|note|description", produced.name, re.IGNORECASE):
                return Link(source.name, target.name, param.name, False, "text")
        elif not source.side_effects:
            return Link(source.name, target.name, param.name, False, "text")
    return None


# ------------------------------------------------------------------------------------------------------ skeletons
@dataclass(frozen=True)
class Slot:
    """An input of a skeleton call: parameter ``param`` takes the output of call ``source`` (0-based) via ``link``."""

    param: str
    source: int
    link: Link


@dataclass(frozen=True)
class SkeletonCall:
    """One call of a skeleton: the tool and the inputs it takes from earlier calls."""

    tool: str
    inputs: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class Skeleton:
    """A composition of calls in plan order; every input comes from an earlier call."""

    calls: tuple[SkeletonCall, ...]

    def __len__(self) -> int:
        return len(self.calls)


@dataclass
class _Node:
    tool: str
    inputs: list[Slot] = field(default_factory=list)


#: How many calls a sampled skeleton aims at (1..6), by weight.
SIZE_WEIGHTS: tuple[float, ...] = (0.14, 0.28, 0.26, 0.16, 0.10, 0.06)


class SkeletonSampler:
    """Draws random skeletons over a toolset's links.

    Args:
        toolset: The tools.
        kinds: Parameter kind overrides (see `parameter_kind`).
        max_calls: At most this many calls (1-6 by default).
        goal_weights: Weight of each tool as the goal of a part (default: 3 for side-effecting tools, 1 otherwise).
        links: The links to compose (default: `find_links`).
    """

    def __init__(
        self,
        toolset: Toolset,
        *,
        kinds: Mapping[str, str] | None = None,
        max_calls: int = 6,
        goal_weights: Mapping[str, float] | None = None,
        links: Sequence[Link] | None = None,
    ) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        if not len(toolset):
            raise ValueError("the toolset has no tools")
        self.toolset = toolset
        self.kinds = dict(kinds or {})
        self.max_calls = max_calls
        self.links = list(find_links(toolset, self.kinds) if links is None else links)
        self._into: dict[tuple[str, str], list[Link]] = {}
        self._out: dict[str, list[Link]] = {}
        for link in self.links:
            self._into.setdefault((link.target, link.param), []).append(link)
            self._out.setdefault(link.source, []).append(link)
        weights = dict(goal_weights or {})
        self.goals = [t.name for t in toolset]
        self.goal_weights = [float(weights.get(t.name, 3.0 if t.side_effects else 1.0)) for t in toolset]

    def links_into(self, tool: str, param: str) -> list[Link]:
        """The links that feed ``tool``'s ``param``."""
        return list(self._into.get((tool, param), ()))

    def sample(self, rng: random.Random) -> Skeleton:
        """One skeleton (at least one call, at most ``max_calls``)."""
        weights = SIZE_WEIGHTS[: self.max_calls] if self.max_calls <= len(SIZE_WEIGHTS) else None
        sizes = list(range(1, self.max_calls + 1))
        size = rng.choices(sizes, weights=weights)[0] if weights else rng.choice(sizes)
        best: list[_Node] = []
        for _ in range(4):  # a goal without inputs makes a short plan: try other goals for the size drawn
            nodes = self._attempt(size, rng)
            if len(nodes) > len(best):
                best = nodes
            if len(best) >= size:
                break
        return _ordered(best)

    def _attempt(self, size: int, rng: random.Random) -> list[_Node]:
        nodes: list[_Node] = []
        parts = 2 if size >= 2 and rng.random() < 0.2 else 1
        for part in range(parts):
            if len(nodes) >= size:
                break
            goal = rng.choices(self.goals, weights=self.goal_weights)[0]
            nodes.append(_Node(goal))
            budget = size if part == parts - 1 else max(len(nodes), size - 1)
            self._expand(len(nodes) - 1, nodes, budget, rng)
        if len(nodes) < size and rng.random() < 0.5:
            self._fan_out(nodes, size, rng)
        return nodes

    def _expand(self, at: int, nodes: list[_Node], budget: int, rng: random.Random) -> None:
        tool = self.toolset[nodes[at].tool]
        for param in tool.parameters:
            candidates = self.links_into(tool.name, param.name)
            kind = parameter_kind(tool, param, self.kinds)
            needed = param.required and kind in _LOOKED_UP  # a path or an address: looked up, even past the size
            if not candidates or len(nodes) >= (self.max_calls if needed else budget):
                continue
            semantic = any(c.how in ("semantic", "field", "doc", "name") for c in candidates)
            if kind in _TEXT_TARGET_KINDS and not semantic:
                chance = 0.3
            elif param.required:
                chance = 1.0 if kind in _LOOKED_UP else 0.92  # a request never gives a path; rarely an address
            else:
                chance = 0.3
            if rng.random() >= chance:
                continue
            link = rng.choice(candidates)
            count = rng.choices((1, 2, 3), weights=(0.6, 0.3, 0.1))[0] if link.many else 1
            for n in range(count):
                if len(nodes) >= (self.max_calls if needed and n == 0 else budget):
                    break
                reuse = [
                    i
                    for i, n in enumerate(nodes)
                    if n.tool == link.source and i != at and at not in _ancestors(nodes, i)
                    and all(s.source != i for s in nodes[at].inputs)
                ]  # fmt: skip
                if reuse and rng.random() < 0.3:
                    nodes[at].inputs.append(Slot(param.name, rng.choice(reuse), link))
                    continue
                nodes.append(_Node(link.source))
                nodes[at].inputs.append(Slot(param.name, len(nodes) - 1, link))
                self._expand(len(nodes) - 1, nodes, budget, rng)

    def _fan_out(self, nodes: list[_Node], size: int, rng: random.Random) -> None:
        """Give an existing call's output a second use: a new call that takes it (one output, two consumers)."""
        options = [(i, link) for i, n in enumerate(nodes) for link in self._out.get(n.tool, ())]
        if not options:
            return
        i, link = rng.choice(options)
        nodes.append(_Node(link.target, [Slot(link.param, i, link)]))
        self._expand(len(nodes) - 1, nodes, size, rng)


def _ancestors(nodes: Sequence[_Node], i: int) -> set[int]:
    seen: set[int] = set()
    stack = [s.source for s in nodes[i].inputs]
    while stack:
        j = stack.pop()
        if j not in seen:
            seen.add(j)
            stack.extend(s.source for s in nodes[j].inputs)
    return seen


def _ordered(nodes: Sequence[_Node]) -> Skeleton:
    """Topological order (sources first; ties in order of creation, reversed, so look-ups come first)."""
    order: list[int] = []
    placed: set[int] = set()

    def place(i: int) -> None:
        if i in placed:
            return
        for s in sorted(nodes[i].inputs, key=lambda s: s.source):
            place(s.source)
        placed.add(i)
        order.append(i)

    for i in range(len(nodes)):
        place(i)
    position = {old: new for new, old in enumerate(order)}
    calls = tuple(
        SkeletonCall(nodes[i].tool, tuple(Slot(s.param, position[s.source], s.link) for s in nodes[i].inputs))
        for i in order
    )
    return Skeleton(calls)


# ------------------------------------------------------------------------------------------------ filling values
@dataclass(frozen=True)
class Call:
    """A filled call: argument values by parameter (`Ref`, lists of them and `Interpolated` texts for inputs)."""

    tool: str
    args: dict[str, Any]


# an action that sends or writes something mostly says something: how often its optional message/subject is given
_SAYS = {"message": 0.85, "subject": 0.6}
# kinds a request rarely states literally: an optional parameter of these kinds is fed by a look-up or left out
_LOOKED_UP = frozenset({"file path", "email address", "phone number"})
_LINK_INTROS = ("Here is the link: ", "Link: ", "Join here: ")
_PLACE_INTROS = ("Let's meet here: ", "Here is the location: ", "Meet me here: ")
_TEXT_INTROS = ("", "", "Here it is: ", "FYI: ")


def fill(
    skeleton: Skeleton,
    toolset: Toolset,
    pools: ValuePools,
    rng: random.Random,
    *,
    kinds: Mapping[str, str] | None = None,
    optional_rate: float = 0.15,
    scenario: Scenario | None = None,
) -> list[Call]:
    """Give every call of ``skeleton`` its arguments.

    Inputs become references (``"$N"``, a list of them, or a text with ``$N`` inside). Other required parameters get
    a value of their kind from ``pools``; optional ones get one with probability ``optional_rate`` and keep their
    default otherwise. Free texts come from one scenario, so the plan's title, subject and message agree; a second
    date-time in a call (an end) comes after the first.
    """
    story = scenario or pools.scenario(rng)
    used: set[Any] = set()
    calls: list[Call] = []
    when = pools.datetime(rng)  # one date and time per plan: a Zoom meeting and its calendar event agree
    for position, call in enumerate(skeleton.calls):
        tool = toolset[call.tool]
        args: dict[str, Any] = {}
        start: dt.datetime | None = None
        by_param: dict[str, list[Slot]] = {}
        for slot in call.inputs:
            by_param.setdefault(slot.param, []).append(slot)
        for param in tool.parameters:
            slots = by_param.get(param.name)
            if slots:
                args[param.name] = _input_value(slots, position, rng, tool, param, story)
                continue
            kind = parameter_kind(tool, param, kinds)
            rate = _SAYS.get(kind, optional_rate) if tool.side_effects else optional_rate
            if not param.required and (kind in _LOOKED_UP or rng.random() >= rate):
                continue  # optional addresses, numbers and files come from look-ups, or not at all
            value, start = _literal(tool, param, kind, pools, rng, used, story, start, when)
            args[param.name] = value
        calls.append(Call(call.tool, args))
    return calls


def _input_value(
    slots: Sequence[Slot], position: int, rng: random.Random, tool: Tool, param: Parameter, story: Scenario
) -> Any:
    refs = [Ref(s.source + 1, s.link.path) for s in slots]
    assert all(r.task <= position for r in refs)
    link = slots[0].link
    if link.how == "text":
        source_kind = link.source
        if "link" in source_kind or "zoom" in source_kind:
            intro = rng.choice(_LINK_INTROS)
        elif "location" in source_kind or "map" in source_kind:
            intro = rng.choice(_PLACE_INTROS)
        else:
            intro = rng.choice(_TEXT_INTROS)
        if not intro:
            return refs[0]
        return Interpolated((intro, refs[0]))
    _, many = _element_type(param)
    if many:
        return list(refs)
    return refs[0]


def _literal(
    tool: Tool,
    param: Parameter,
    kind: str,
    pools: ValuePools,
    rng: random.Random,
    used: set[Any],
    story: Scenario,
    start: dt.datetime | None,
    when: dt.datetime,
) -> tuple[Any, dt.datetime | None]:
    element, many = _element_type(param)
    choices = _described_choices(param)
    if kind == "choice" and choices:
        options = [o for o in choices if o != param.default] or choices
        value: Any = rng.choice(options)
    elif typing.get_origin(element) is Literal:
        options = [o for o in typing.get_args(element) if o != param.default] or list(typing.get_args(element))
        value = rng.choice(options)
    elif element is bool:
        value = not bool(param.default) if not param.required else rng.random() < 0.5
    elif kind == "datetime":
        if start is None:
            start = when
            value = start.strftime("%Y-%m-%d %H:%M:%S")
        else:
            end = start + dt.timedelta(minutes=rng.choice((60, 60, 30, 90)))
            value = end.strftime("%Y-%m-%d %H:%M:%S")
    else:
        value = pools.draw(kind, rng, used, story)
        if element is int and not isinstance(value, int):
            value = rng.choice((2, 3, 5, 10))
        elif element is float and not isinstance(value, (int, float)):
            value = rng.choice((1.5, 2.5, 10.0))
        elif element is str and not isinstance(value, str):
            value = str(value)
    if many:
        value = [value]
    return value, start


def _described_choices(param: Parameter) -> list[str]:
    """Options a parameter's description lists in quotes: ``'d' (driving), 'w' (walking) or 'r'`` → d, w, r."""
    found = re.findall(r"'([^'\s]{1,12})'|\"([^\"\s]{1,12})\"", param.description)
    options = [a or b for a, b in found]
    return list(dict.fromkeys(options)) if len(set(options)) >= 2 else []


def render_plan(calls: Sequence[Call], toolset: Toolset, style: ArgStyle = "keyword") -> str:
    """The plan text of filled calls, ending in ``join()`` (no ``<END_OF_PLAN>``).

    ``"positional"`` writes every parameter in order (defaults where nothing was given, as TinyAgent's Mac plans do);
    ``"keyword"`` writes ``name=value`` for the values given.
    """
    lines = []
    for i, call in enumerate(calls, 1):
        tool = toolset[call.tool]
        if style == "positional":
            parts = [_lit(call.args.get(p.name, p.default)) for p in tool.parameters]
        else:
            parts = [f"{p.name}={_lit(call.args[p.name])}" for p in tool.parameters if p.name in call.args]
        lines.append(f"{i}. {call.tool}({', '.join(parts)})")
    lines.append(f"{len(calls) + 1}. join()")
    return "\n".join(lines)


def _lit(value: Any) -> str:
    return plan_literal(value, quote_refs=True)


# ----------------------------------------------------------------------------------------------- signatures
def _edges(tasks: Sequence[Task], toolset: Toolset) -> dict[int, list[tuple[str, int]]]:
    """Per task number: ``(parameter, source task)`` for each reference in its arguments."""
    out: dict[int, list[tuple[str, int]]] = {}
    for task in tasks:
        if task.is_join:
            continue
        tool = toolset.get(task.name)
        try:
            bound = tool.bind(task.args, task.kwargs) if tool is not None else dict(enumerate(task.args))
        except Exception:
            bound = {**{str(i): v for i, v in enumerate(task.args)}, **task.kwargs}
        edges = []
        for name, value in bound.items():
            for source in sorted(references_in(value)):
                edges.append((str(name), source))
        out[task.idx] = edges
    return out


def skeleton_signature(tasks: Sequence[Task], toolset: Toolset) -> str:
    """A canonical name of a plan's structure: its calls (tool names) and which output feeds which parameter.

    Numbering, order and argument values do not matter; a shared source (one output used twice) differs from two
    calls of the same tool. Example: ``get_phone_number + send_sms(recipients<-[get_phone_number,
    get_phone_number])``.
    """
    edges = _edges(tasks, toolset)
    names = {t.idx: t.name for t in tasks if not t.is_join}
    memo: dict[int, str] = {}

    def label(idx: int, depth: int = 0) -> str:
        if idx in memo:
            return memo[idx]
        if idx not in names or depth > 20:
            return "?"
        grouped: dict[str, list[str]] = {}
        for param, source in edges.get(idx, ()):
            grouped.setdefault(param, []).append(label(source, depth + 1))
        inner = ", ".join(
            f"{p}<-{sorted(v)[0] if len(v) == 1 else '[' + ', '.join(sorted(v)) + ']'}"
            for p, v in sorted(grouped.items())
        )
        memo[idx] = f"{names[idx]}({inner})" if inner else names[idx]
        return memo[idx]

    return " + ".join(sorted(label(i) for i in names)) or "join"


def skeleton_shape(tasks: Sequence[Task], toolset: Toolset) -> str:
    """The shape of a plan's graph.

    ``single``, ``parallel`` (no references), ``chain``, ``fan-in`` (a call takes two or more outputs), ``fan-out``
    (an output used twice) or ``fan-in+fan-out``; ``none`` for a plan without calls.
    """
    edges = _edges(tasks, toolset)
    calls = [t for t in tasks if not t.is_join]
    if not calls:
        return "none"
    if len(calls) == 1:
        return "single"
    pairs = {(s, idx) for idx, es in edges.items() for _, s in es}
    if not pairs:
        return "parallel"
    fan_in = any(sum(1 for s, d in pairs if d == idx) >= 2 for idx in edges)
    fan_out = any(sum(1 for s, d in pairs if s == t.idx) >= 2 for t in calls)
    if fan_in and fan_out:
        return "fan-in+fan-out"
    if fan_in:
        return "fan-in"
    if fan_out:
        return "fan-out"
    return "chain"


def split_of(signature: str, *, validation: float = 0.1, test: float = 0.1) -> str:
    """The split a skeleton belongs to: ``train``, ``validation`` or ``test``.

    It is chosen by a hash of its signature, so every example of one structure lands in the same split and no test
    structure is seen in training.
    """
    bucket = int.from_bytes(hashlib.sha256(signature.encode()).digest()[:8], "big") / 2**64
    if bucket < test:
        return "test"
    if bucket < test + validation:
        return "validation"
    return "train"
