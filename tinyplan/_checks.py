"""Plan checks while the plan streams: dataflow by semantic type, identifiers looked up, nothing requested left out.

A plan can fit every schema and still be wrong. `PlanChecker` judges each task the moment the parser completes it,
before the task fetching unit sees it, and the final ``join()`` before the plan ends:

* **source** — a ``$N`` goes into a parameter whose semantic type differs from what task N's tool returns
  (``send_sms(["$2"])`` where task 2 is ``get_email_address``);
* **value** — a literal fails the parameter's value check (a contact name where phone numbers are wanted);
* **given** — a look-up of a value the request already gives (``get_email_address("maria@example.org")``);
* **invented** — a literal of a kind that must come from the request (``Semantic(from_request=True)``, e.g. a
  contact name) that the request does not contain (``get_email_address("John")`` for "reply to this email");
* **identifier** — a literal written into a parameter that another tool's result carries as a field
  (``get_product_offers(product_id="Acme Blender")`` when ``search_products`` returns ``product_id``), where the
  value is not in the request: an identifier invented instead of looked up;
* **field** — a reference that does not fit its source's result fields: ``$1[0]`` into an object, an unknown
  field, the whole object where the parameter names one of its fields, or ``"$1[field]"`` written as text;
* **missing** — ``join()`` while the request's words call for a tool the plan has not used (a toolset's `Cue`s);
* **uncued** — a tool the toolset allows only when the request asks for it (``needs_cue``), with no cue.

Each `Problem` names both ends in its message and carries a *hint*: the ``Thought:`` line the planner writes into
the plan when it cuts the generation back to the start of the faulty line and lets the model write it again
(see ``Planner(self_check=...)``). The checks read the plan and the request text only; they never ask a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tinyplan._errors import TinyplanError
from tinyplan._parser import plan_literal
from tinyplan._semantic import Semantic, element_semantic, output_fields, output_is_list, result_semantic
from tinyplan._tools import Tool, Toolset
from tinyplan._types import Interpolated, Ref, Task

__all__ = ["Cue", "PlanChecker", "Problem", "ProblemKind"]

ProblemKind = Literal["source", "value", "given", "invented", "identifier", "field", "missing", "uncued"]


@dataclass(frozen=True)
class Cue:
    r"""Words in a request that call for one of ``tools`` (a toolset's coverage rule).

    Attributes:
        pattern: A regular expression searched in the request, case-insensitively (use ``\b`` word bounds).
        tools: Any of these tools satisfies the cue.
        what: What the request asks for, for the hint, e.g. ``"send a text message"``.
    """

    pattern: str
    tools: frozenset[str]
    what: str

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise TinyplanError(f"cue pattern {self.pattern!r} is not a regular expression: {exc}") from exc

    def matches(self, request: str) -> bool:
        """Whether ``request`` has this cue's words."""
        return re.search(self.pattern, request, flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a streamed task (or the join).

    Attributes:
        kind: Which check failed (see the module docs).
        task: The task number of the faulty line (for ``missing``: the join's).
        message: What is wrong, naming both ends, e.g. ``send_sms.recipients wants phone numbers; $2 is an email
            address from get_email_address("Lutfi")``.
        hint: The planner's ``Thought:`` text for the repair: what to write instead.
        exclude_join: The repair must not end the plan at this line.
        exclude_tools: Tools the repair must not call from this line on.
        escalate_tools: Tools to leave out from this line on when the model writes the same faulty line again
            after the hint (a look-up of a value the request gives or never mentions).
        fix: The corrected action text (e.g. ``get_offers(product_id="$1.product_id")``) when the correction is
            certain: the reference the parameter names, to a task the plan already has. The planner then puts it in
            place of the line without asking the model again; None when only the model can write the line.
    """

    kind: ProblemKind
    task: int
    message: str
    hint: str
    exclude_join: bool = False
    exclude_tools: frozenset[str] = field(default_factory=frozenset)
    escalate_tools: frozenset[str] = field(default_factory=frozenset)
    fix: str | None = None


def _refs(value: Any) -> list[Ref]:
    """The plain references in a value: ``$N`` itself or the items of a list of them (not inside strings)."""
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, Ref)]
    return []


def _fixed(task: Task, params: Sequence[str], name: str, old: Any, new: Ref) -> str | None:
    """``task``'s action text with ``old`` replaced by ``new``, or None when ``old`` is not there.

    ``old`` is the argument ``name``'s value, or one item of it, and must be found as a whole value or item.
    ``params``: the tool's parameter names.
    """
    args, kwargs = list(task.args), dict(task.kwargs)

    def swap(value: Any) -> Any:
        if value is old or (not isinstance(old, Ref) and type(value) is type(old) and value == old):
            return new
        if isinstance(value, list | tuple):
            items = [swap(v) for v in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        return value

    if name in kwargs:
        kwargs[name] = swap(kwargs[name])
        changed = kwargs[name] is not task.kwargs[name]
    else:
        i = list(params).index(name) if name in params else len(args)
        if i >= len(args):
            return None
        args[i] = swap(args[i])
        changed = args[i] is not task.args[i]
    if not changed:
        return None
    written = [plan_literal(v, quote_refs=True) for v in args]
    written += [f"{k}={plan_literal(v, quote_refs=True)}" for k, v in kwargs.items()]
    return f"{task.name}({', '.join(written)})"


def _literals(value: Any) -> list[Any]:
    """The literal scalars of a value: itself or the items of a list (references and interpolations left out)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [v for v in items if not isinstance(v, Ref | Interpolated | list | tuple | dict)]


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_BRACKET_FIELD = re.compile(r"\$\{?(\d+)\}?\[['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?\]")


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_MONTHS = [
    (full, full[:3]) if full != "may" else ("may",)
    for full in (
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december",
    )
]  # fmt: skip


def _words(name: str) -> set[str]:
    """The words of an identifier: ``book_details`` → {book, details}; ``maxPrice`` → {max, price}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {w for w in re.split(r"[^A-Za-z0-9]+", spaced.casefold()) if w}


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.casefold()).strip()


class PlanChecker:
    """Checks the tasks of one plan as they stream, for one request.

    Args:
        toolset: The tools of the prompt (their semantic types and result fields are read once).
        request: The user's request (literals and cues are looked up in it).
        cues: Coverage rules (default: the toolset's ``cues``): a plan must not end while a matching cue's tools
            are all missing. Write them precise: a cue that matches a request which does not want the tool pushes
            an unwanted action into the plan.
        needs_cue: Permission rules (default: the toolset's ``needs_cue``): each cue's tools may be called only when
            one of the cues naming them matches. Write them broad: a miss forbids a wanted tool.
    """

    def __init__(
        self,
        toolset: Toolset,
        request: str,
        *,
        cues: Sequence[Cue] | None = None,
        needs_cue: Sequence[Cue] | None = None,
    ) -> None:
        self.toolset = toolset
        self.request = request
        self._request_norm = f" {_norm(request)} "
        self._request_numbers = [float(m.replace(",", "")) for m in _NUMBER.findall(request)]
        self.cues = list(getattr(toolset, "cues", ()) if cues is None else cues)
        self.needs_cue = list(getattr(toolset, "needs_cue", ()) if needs_cue is None else needs_cue)
        self._gated = frozenset().union(*(c.tools for c in self.needs_cue))
        self._results: dict[str, Semantic | None] = {t.name: result_semantic(t) for t in toolset}
        self._producers: dict[str, list[str]] = {}  # semantic name -> tools returning it
        for t in toolset:
            sem = self._results[t.name]
            if sem is not None:
                self._producers.setdefault(sem.name, []).append(t.name)
        self._field_owner: dict[str, list[str]] = {}  # result field -> tools whose result carries it
        for t in toolset:
            for f in output_fields(t):
                self._field_owner.setdefault(f, []).append(t.name)

    # ------------------------------------------------------------------------------------------------ tasks
    def check_task(self, task: Task, earlier: Mapping[int, Task]) -> Problem | None:
        """The first problem of ``task`` (an action, not the join), or None.

        Args:
            task: The task just parsed.
            earlier: The plan's earlier tasks by number.
        """
        tool = self.toolset.get(task.name)
        if tool is None:
            return None  # the parser and the fetching unit report unknown tools
        if task.name in self._gated and not self._cued(task.name):
            return Problem(
                "uncued",
                task.idx,
                f"{task.name} was not asked for: no word of the request calls for it",
                f"The request does not ask for {task.name}; leave it out and continue with what was asked.",
                exclude_tools=frozenset({task.name}),
            )
        try:
            bound = tool.bind(task.args, task.kwargs)
        except TinyplanError:
            return None  # argument-count errors are the fetching unit's to report
        for param in tool.parameters:
            if param.name not in bound:
                continue
            found = self._check_argument(task, tool, param.name, param.annotation, bound[param.name], earlier)
            if found is not None:
                return found
        return None

    def _check_argument(
        self, task: Task, tool: Tool, name: str, annotation: Any, value: Any, earlier: Mapping[int, Task]
    ) -> Problem | None:
        wanted, many = element_semantic(annotation)
        where = f"{tool.name}.{name}"
        if wanted is not None:
            return self._check_source(task, where, wanted, many, value, earlier) or self._check_literals(
                task, tool, where, wanted, many, value, earlier
            )
        found = self._check_fields(task, where, name, value, earlier)
        if found is not None:
            return found
        called = {t.name for t in earlier.values()}
        # a near name (``quantity`` for ``quantity_needed``) counts only for a tool the plan has already called
        owners = {o: f for o, f in self._owners_of(name).items() if o != tool.name and (f == name or o in called)}
        for lit in _literals(value) if owners else ():
            if lit is None or (not isinstance(lit, bool) and self._in_request(lit)):
                continue
            looked_up = [t for t in sorted(earlier.values(), key=lambda t: t.idx) if t.name in owners]
            owner = looked_up[-1].name if looked_up else next(iter(owners))
            target = f"${looked_up[-1].idx}.{owners[owner]}" if looked_up else f"$N.{owners[owner]}"
            first = "" if looked_up else f"Call {owner} first, then "
            fix = None
            if looked_up and not output_is_list(self.toolset[looked_up[-1].name]):
                fix = _fixed(task, self._params(task), name, lit, Ref(looked_up[-1].idx, (owners[owner],)))
            return Problem(
                "identifier",
                task.idx,
                f"{where} is {owners[owner]} from {owner}'s result, but {lit!r} is not in the request: a value "
                "another tool returns must be referred to, not made up",
                f"{where} must come from {owner}'s result. {first}write {name}={target}.",
                fix=fix,
            )
        return None

    def _check_source(
        self, task: Task, where: str, wanted: Semantic, many: bool, value: Any, earlier: Mapping[int, Task]
    ) -> Problem | None:
        """A reference in ``value`` to an earlier task whose result is of another semantic type than ``wanted``."""
        for ref in _refs(value):
            source = earlier.get(ref.task)
            if source is None or ref.path:
                continue
            got = self._results.get(source.name)
            if got is not None and got.name != wanted.name:
                return Problem(
                    "source",
                    task.idx,
                    f"{where} wants {_plural(wanted.name, many)}; ${ref.task} is {_a(got.name)} from "
                    f"{source.text or source.name}",
                    f"{where} needs {_a(wanted.name)}, but ${ref.task} is {_a(got.name)}. "
                    + self._how_to_get(wanted, source, earlier),
                )
        return None

    def _check_literals(
        self,
        task: Task,
        tool: Tool,
        where: str,
        wanted: Semantic,
        many: bool,
        value: Any,
        earlier: Mapping[int, Task],
    ) -> Problem | None:
        """A literal in ``value`` that is not a ``wanted`` value, or one made up instead of taken from the request."""
        for lit in _literals(value):
            if wanted.accepts(lit):
                if wanted.from_request and isinstance(lit, str) and not self._in_request(lit):
                    return Problem(
                        "invented",
                        task.idx,
                        f"{where}: {lit!r} is not in the request; {_a(wanted.name)} must come from the request "
                        "or a tool, not be made up",
                        f"{lit!r} is not in the request. Use only the {wanted.name}s the request gives; if it "
                        "gives none, this step is not needed.",
                        escalate_tools=frozenset() if tool.side_effects else self._lookups_of(wanted),
                    )
                continue
            other = self._kind_of(lit, exclude=wanted)
            if other is not None and not tool.side_effects and self._produces_from(tool, other):
                return Problem(
                    "given",
                    task.idx,
                    f"{where} wants {_a(wanted.name)}, but {lit!r} is already {_a(other.name)}: nothing to look up",
                    f"{lit!r} is already {_a(other.name)}; do not look it up with {tool.name}, use it directly.",
                    escalate_tools=frozenset({tool.name}),
                )
            producers = self._producers.get(wanted.name, [])
            done = self._earlier_producing(wanted, earlier, literal=lit)
            if done is not None:
                source_hint = f"${done.idx} ({done.text or done.name}) is that {wanted.name}: write ${done.idx}."
            elif producers:
                source_hint = f"Get it with {producers[0]}({lit!r}) first and refer to that task."
            else:
                source_hint = f"Write {_a(wanted.name)}."
            described = f"{lit!r} is {_a(other.name)}" if other is not None else f"{lit!r} is not one"
            return Problem(
                "value",
                task.idx,
                f"{where} wants {_plural(wanted.name, many)}; {described}",
                f"{where} needs {_a(wanted.name)} and {described}. {source_hint}",
            )
        return None

    def _owners_of(self, param: str) -> dict[str, str]:
        """Tools whose result carries a field for ``param``, mapped to that field (tool name → field).

        The field is ``param``'s own name, else a field holding all its words (``quantity`` ← ``quantity_needed``).
        """
        exact = self._field_owner.get(param)
        if exact:
            return dict.fromkeys(exact, param)
        words = _words(param)
        found: dict[str, str] = {}
        for field_name, tools in self._field_owner.items():
            if words and words <= _words(field_name):
                for t in tools:
                    if t not in found or len(field_name) < len(found[t]):
                        found[t] = field_name
        return found

    def _check_fields(
        self, task: Task, where: str, name: str, value: Any, earlier: Mapping[int, Task]
    ) -> Problem | None:
        """A reference that does not fit its source's result fields, if any.

        That is an index into an object, an unknown field, the whole object where the parameter matches one of its
        fields, or ``"$N[field]"`` written as text.
        """
        texts: list[tuple[str, Any]] = [(v, v) for v in _literals(value) if isinstance(v, str)]
        items = value if isinstance(value, list | tuple) else [value]
        texts += [("".join(str(p) for p in v.parts), v) for v in items if isinstance(v, Interpolated)]
        for lit, written in texts:
            m = _BRACKET_FIELD.search(lit)
            if m is not None:
                ref = Ref(int(m.group(1)), (m.group(2),))
                certain = lit == m.group(0) and ref.task in earlier
                return Problem(
                    "field",
                    task.idx,
                    f"{where}: {m.group(0)!r} is text, not a reference (a field is written ${m.group(1)}.{m.group(2)})",
                    f"Write {name}=${m.group(1)}.{m.group(2)} (a field of a result is $N.field, not $N[field]).",
                    fix=_fixed(task, self._params(task), name, written, ref) if certain else None,
                )
        for ref in _refs(value):
            source = earlier.get(ref.task)
            if source is None:
                continue
            fields = self._object_fields(source.name)
            if not fields:
                continue
            head = ref.path[0] if ref.path else None
            if isinstance(head, str) and head in fields:
                continue
            best = self._best_field(name, ref.task, earlier)
            if head is None and best is None:
                continue  # the whole object, and nothing names the wanted part: leave it to validation
            suggestion = f"write {name}=${best[0]}.{best[1]}" if best else f"write ${ref.task}.<field>"
            fix = None
            if best is not None and best[2]:
                fix = _fixed(task, self._params(task), name, ref, Ref(best[0], (best[1],)))
            return Problem(
                "field",
                task.idx,
                f"{where}: {ref} does not name a field of {source.name}'s result (fields: {', '.join(fields)})",
                f"${ref.task} ({source.name}) is an object with the fields {', '.join(fields)}; {suggestion}.",
                fix=fix,
            )
        return None

    def _object_fields(self, tool_name: str) -> tuple[str, ...]:
        """The fields of a tool's result when it is one object (not a list of them), else empty."""
        t = self.toolset.get(tool_name)
        if t is None or output_is_list(t):
            return ()
        return output_fields(t)

    def _params(self, task: Task) -> list[str]:
        """The parameter names of ``task``'s tool, in order."""
        return [p.name for p in self.toolset[task.name].parameters]

    def _best_field(self, param: str, preferred: int, earlier: Mapping[int, Task]) -> tuple[int, str, bool] | None:
        """The earlier task and field that ``param`` most likely wants, and whether the choice is certain.

        The field is the one with the same name, else a field holding all of its words, else (from task
        ``preferred``) the field sharing most words; ties go to ``preferred``. The choice is certain when the field
        has the parameter's name or all its words, or it is the only field of ``preferred``'s result.
        """
        words = _words(param)
        scored: list[tuple[int, int, int, str]] = []  # (rank, prefer, -idx, field)
        for t in earlier.values():
            for f in self._object_fields(t.name):
                fw = _words(f)
                if f == param:
                    rank = 3
                elif words and words <= fw:
                    rank = 2
                else:
                    rank = 1 if t.idx == preferred and words & fw else 0
                if rank:
                    scored.append((rank, int(t.idx == preferred), t.idx, f))
        if not scored:
            fields = self._object_fields(earlier[preferred].name) if preferred in earlier else ()
            return (preferred, fields[0], True) if len(fields) == 1 else None
        rank, _, idx, f = max(scored)
        return idx, f, rank >= 2

    # ------------------------------------------------------------------------------------------------- join
    def check_join(self, join: Task, earlier: Mapping[int, Task]) -> Problem | None:
        """A cue of the request that no task of the plan satisfies, when ``join()`` is written; else None."""
        used = {t.name for t in earlier.values()}
        for cue in self.cues:
            if cue.tools & set(self.toolset.names) and not cue.tools & used and cue.matches(self.request):
                offered = sorted(cue.tools & set(self.toolset.names))
                return Problem(
                    "missing",
                    join.idx,
                    f"the request asks to {cue.what}, but the plan calls none of {', '.join(offered)}",
                    f"The request also asks to {cue.what}; that action ({' or '.join(offered)}) is still missing.",
                    exclude_join=True,
                )
        return None

    # ---------------------------------------------------------------------------------------------- helpers
    def _lookups_of(self, semantic: Semantic) -> frozenset[str]:
        """The read-only tools that take a value of ``semantic`` (e.g. every contact look-up)."""
        return frozenset(
            t.name
            for t in self.toolset
            if not t.side_effects and any(element_semantic(p.annotation)[0] == semantic for p in t.parameters)
        )

    def _cued(self, tool: str) -> bool:
        return any(tool in cue.tools and cue.matches(self.request) for cue in self.needs_cue)

    def _in_request(self, literal: Any) -> bool:
        if isinstance(literal, int | float) and not isinstance(literal, bool):
            return any(math.isclose(float(literal), n) for n in self._request_numbers)
        text = _norm(str(literal))
        if not text or f" {text} " in self._request_norm:
            return True
        return self._date_in_request(str(literal))

    def _date_in_request(self, literal: str) -> bool:
        """An ISO date (``2024-06-20``, with or without a time) that the request writes in words or another order."""
        m = _ISO_DATE.match(literal.strip())
        if m is None:
            return False
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if not 1 <= month <= 12:
            return False
        names = _MONTHS[month - 1]
        words = self._request_norm
        has_month = any(f" {n} " in words for n in names) or f"{month:02d}" in self.request
        has_day = f" {day} " in words or f" {day}st " in words or f" {day}nd " in words or f" {day}rd " in words
        has_day = has_day or f" {day}th " in words or f"{day:02d}" in self.request
        return has_month and has_day and (str(year) in self.request or " 20" not in words)

    def _kind_of(self, literal: Any, *, exclude: Semantic) -> Semantic | None:
        """Another declared semantic type with a value check that ``literal`` passes (e.g. an email address)."""
        seen: set[str] = set()
        for t in self.toolset:
            for sem in [self._results[t.name], *(element_semantic(p.annotation)[0] for p in t.parameters)]:
                if sem is None or sem.check is None or sem.name in seen or sem.name == exclude.name:
                    continue
                seen.add(sem.name)
                if sem.accepts(literal):
                    return sem
        return None

    def _produces_from(self, tool: Tool, got: Semantic) -> bool:
        """Whether ``tool`` is a look-up whose result is of a kind the literal already is, or a sibling of one."""
        result = self._results.get(tool.name)
        return result is not None and (result.name == got.name or got.name in self._producers)

    def _earlier_producing(self, wanted: Semantic, earlier: Mapping[int, Task], literal: Any = None) -> Task | None:
        """The last earlier task whose tool returns ``wanted`` (and, given ``literal``, that was called with it)."""
        for t in sorted(earlier.values(), key=lambda t: t.idx, reverse=True):
            got = self._results.get(t.name)
            if got is None or got.name != wanted.name:
                continue
            if literal is None or literal in t.args or literal in t.kwargs.values():
                return t
        return None

    def _how_to_get(self, wanted: Semantic, source: Task, earlier: Mapping[int, Task]) -> str:
        done = self._earlier_producing(wanted, earlier)
        if done is not None:
            return f"${done.idx} ({done.text or done.name}) is {_a(wanted.name)}: use it."
        producers = self._producers.get(wanted.name, [])
        if not producers:
            return f"Refer to a task that returns {_a(wanted.name)}."
        producer = self.toolset[producers[0]]
        source_tool = self.toolset.get(source.name)
        same_input = (
            source_tool is not None
            and producer.parameters
            and source_tool.parameters
            and element_semantic(producer.parameters[0].annotation)[0]
            == element_semantic(source_tool.parameters[0].annotation)[0]
            is not None
        )
        args = ", ".join(repr(a) for a in source.args[:1]) if same_input else ""
        return f"Get it with {producers[0]}({args}) first and refer to that task."


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _plural(noun: str, many: bool) -> str:
    if not many:
        return _a(noun)
    return noun + ("es" if noun.endswith(("s", "x", "sh", "ch")) else "s")
