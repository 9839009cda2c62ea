"""Plan metrics: DAG success (TinyAgent), strict success, tool and dependency precision/recall, failure rate.

A plan is compared with the ground truth as a graph (TinyAgent, Erdogan et al. 2024, section 5): one node per call,
labelled by its tool name, an edge ``a -> b`` when call ``b`` depends on call ``a`` (``$N`` references), and the
final ``join`` node, which depends on every call (as in LLMCompiler's parser and `tinyplan.PlanParser`).

* **DAG success**: the two graphs are isomorphic with equal node labels (`networkx.is_isomorphic`). Task numbers
  and order do not matter; arguments are not compared. This is TinyAgent's success rate.
* **Strict success**: DAG success under an isomorphism that also matches every call's arguments: each argument the
  ground truth names has an acceptable value (or may be omitted), no other argument is given unless it equals the
  schema default, and ``$N`` references point at the tasks the isomorphism maps them to. Value rules: ``"exact"``
  (equal; a tuple equals a list, 1 equals 1.0) or ``"bfcl"`` (BFCL's ``possible_answer`` checker: strings compared
  lower-case without spaces and ``,./-_*^``; a dict among the acceptable values is a nested spec key -> acceptable
  values; ``""`` marks an argument that may be left out).
* **Same calls**: the plan calls exactly the ground truth's multiset of tools; dependencies and arguments ignored.
* **Tool precision/recall**: the multiset of called tool names (join excluded) against the ground truth's.
* **Dependency-edge precision/recall**: the multiset of labelled edges ``(tool_a, tool_b)`` (edges into join
  excluded, since join depends on everything) against the ground truth's. A multiset of labelled edges needs no
  alignment, so it gives partial credit even when no isomorphism exists.
* **Failure rate**: the share of cases whose plan did not parse against the tools (no plan to score).
* **Invalid rate**: the share of cases whose plan did not parse, or has a call whose arguments do not fit the tool's
  schema (checked statically with `Tool.check`: a value holding a ``$N`` reference is bound but not type-checked).

Precision and recall are reported per case as counts and aggregated over a dataset by micro-averaging (sum of
matches / sum of predicted or gold items), so cases with no calls (BFCL irrelevance) do not divide by zero.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import networkx as nx
from networkx.algorithms.isomorphism import DiGraphMatcher

from tinyplan._parser import references_in
from tinyplan._syntax import JOIN
from tinyplan._tools import ToolArgumentError
from tinyplan._types import Interpolated, Ref, Task
from tinyplan.eval.datasets import EvalCase, GoldCall

__all__ = [
    "CaseScore",
    "Summary",
    "args_match",
    "argument_errors",
    "bind_arguments",
    "dag_success",
    "edge_counts",
    "plan_graph",
    "score_plan",
    "strict_success",
    "summarize",
    "tool_counts",
    "value_matches",
]

#: Isomorphisms tried for strict success before giving up (symmetric plans with identical calls have many).
MAX_ISOMORPHISMS = 20_000

Call = Task | GoldCall


def _name(call: Call) -> str:
    return call.name if isinstance(call, Task) else call.tool


def plan_graph(calls: Iterable[Call], *, add_join: bool | None = None) -> nx.DiGraph[int]:
    """The labelled DAG of a plan: nodes are task numbers with attribute ``tool``; edges go dependency -> task.

    Args:
        calls: Parsed tasks (a predicted plan, which carries its own ``join`` task when complete) or gold calls.
        add_join: Add a ``join`` node depending on every call. Default: for gold calls (which never hold join)
            yes, for tasks no (a plan without its join task is incomplete and must not match).

    Dependencies on task numbers that are not in the plan are ignored (the parser never produces them).
    """
    calls = list(calls)
    graph: nx.DiGraph[int] = nx.DiGraph()
    for c in calls:
        graph.add_node(c.idx, tool=_name(c))
    for c in calls:
        for d in c.dependencies:
            if d in graph and d != c.idx:
                graph.add_edge(d, c.idx)
    if add_join is None:
        add_join = not any(isinstance(c, Task) for c in calls)
    if add_join and not any(_name(c) == JOIN for c in calls):
        join_idx = max((c.idx for c in calls), default=0) + 1
        graph.add_node(join_idx, tool=JOIN)
        for c in calls:
            graph.add_edge(c.idx, join_idx)
    return graph


def _gold_graph(gold: Sequence[GoldCall]) -> nx.DiGraph[int]:
    return plan_graph(gold, add_join=True)


def _same_tool(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(a["tool"] == b["tool"])


def dag_success(predicted: Sequence[Task], gold: Sequence[GoldCall]) -> bool:
    """TinyAgent's success: the predicted plan's graph (with its join) is isomorphic to the gold graph, labels equal.

    Args:
        predicted: The parsed tasks, including the final ``join`` task (a plan without it never succeeds).
        gold: The ground-truth calls (join implicit).
    """
    g_pred = plan_graph(predicted, add_join=False)
    g_gold = _gold_graph(gold)
    if Counter(nx.get_node_attributes(g_pred, "tool").values()) != Counter(
        nx.get_node_attributes(g_gold, "tool").values()
    ):
        return False
    if g_pred.number_of_edges() != g_gold.number_of_edges():
        return False
    return bool(nx.is_isomorphic(g_pred, g_gold, node_match=_same_tool))


# ---------------------------------------------------------------------------------------------------- arguments
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


def _standardize(text: str) -> str:
    """BFCL's ``standardize_string``: drop spaces and ``,./-_*^``, lower-case, single quotes as double quotes."""
    return _BFCL_STRIP.sub("", text).lower().replace("'", '"')


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def value_matches(predicted: Any, gold: Any, *, rules: str = "exact", refs: Mapping[int, int] | None = None) -> bool:
    """Whether one predicted argument value fits one acceptable gold value.

    Args:
        predicted: The value as parsed from the plan (may hold `Ref` / `Interpolated`).
        gold: One acceptable value (may hold `Ref` / `Interpolated`; under ``"bfcl"`` rules a dict is a nested spec).
        rules: ``"exact"`` or ``"bfcl"`` (see the module docs).
        refs: Gold task number -> predicted task number (from the isomorphism); a gold `Ref` matches a predicted
            `Ref` to the mapped task with the same path. None: any predicted `Ref` with the same path matches (a
            structure-only check, before a mapping is known).
    """
    if isinstance(gold, (Ref, Interpolated)):
        return _reference_matches(predicted, gold, rules=rules, refs=refs)
    if isinstance(predicted, (Ref, Interpolated)):
        return False
    if isinstance(gold, bool) or isinstance(predicted, bool):
        return isinstance(gold, bool) and isinstance(predicted, bool) and gold == predicted
    if _is_number(gold):
        return _is_number(predicted) and float(predicted) == float(gold)
    if isinstance(gold, str):
        if not isinstance(predicted, str):
            return False
        return _standardize(predicted) == _standardize(gold) if rules == "bfcl" else predicted == gold
    if isinstance(gold, (list, tuple)):
        if not isinstance(predicted, (list, tuple)) or len(predicted) != len(gold):
            return False
        return all(value_matches(p, g, rules=rules, refs=refs) for p, g in zip(predicted, gold, strict=True))
    if isinstance(gold, Mapping):
        if not isinstance(predicted, Mapping):
            return False
        if rules == "bfcl":
            return _bfcl_dict_matches(predicted, gold, refs=refs)
        return set(predicted) == set(gold) and all(
            value_matches(predicted[k], gold[k], rules=rules, refs=refs) for k in gold
        )
    if gold is None:
        return predicted is None
    return bool(predicted == gold)


def _reference_matches(predicted: Any, gold: Ref | Interpolated, *, rules: str, refs: Mapping[int, int] | None) -> bool:
    """`value_matches` for a gold `Ref` or `Interpolated`: the same kind, path and parts."""
    if isinstance(gold, Ref):
        if not isinstance(predicted, Ref) or predicted.path != gold.path:
            return False
        return refs is None or refs.get(gold.task) == predicted.task
    if not isinstance(predicted, Interpolated) or len(predicted.parts) != len(gold.parts):
        return False
    return all(value_matches(p, g, rules=rules, refs=refs) for p, g in zip(predicted.parts, gold.parts, strict=True))


def _bfcl_dict_matches(
    predicted: Mapping[Any, Any], gold: Mapping[Any, Any], *, refs: Mapping[int, int] | None
) -> bool:
    """`value_matches` for a BFCL nested spec: each key's value one of its options; ``""`` among them: optional."""
    if any(k not in gold for k in predicted):
        return False
    for key, spec in gold.items():
        options = spec if isinstance(spec, list) else [spec]
        if key not in predicted:
            if "" not in options:
                return False
        elif not any(value_matches(predicted[key], o, rules="bfcl", refs=refs) for o in options):
            return False
    return True


def bind_arguments(task: Task, parameters: Sequence[str]) -> dict[str, Any] | None:
    """A task's positional and keyword arguments by parameter name (as written: no defaults filled in).

    Returns:
        The arguments, or None when they cannot be bound (too many positional arguments, one given twice).
    """
    if len(task.args) > len(parameters):
        return None
    bound = dict(zip(parameters, task.args, strict=False))
    for key, value in task.kwargs.items():
        if key in bound:
            return None
        bound[key] = value
    return bound


def args_match(
    predicted: Mapping[str, Any],
    gold: GoldCall,
    *,
    rules: str = "exact",
    refs: Mapping[int, int] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a call's arguments fit a gold call's acceptable values.

    Every gold argument must be given with an acceptable value unless it is optional; any other argument must equal
    the schema default given in ``defaults`` (writing a default out is not an error). ``refs`` maps gold task numbers
    to predicted ones (None: references are compared by shape only, see `value_matches`).
    """
    defaults = defaults or {}
    for key, value in predicted.items():
        if key in gold.acceptable:
            if not any(value_matches(value, option, rules=rules, refs=refs) for option in gold.acceptable[key]):
                return False
        elif not (key in defaults and value_matches(value, defaults[key], rules=rules, refs={})):
            return False
    return all(key in predicted or key in gold.optional for key in gold.acceptable)


def _schema_info(tools: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list[str], dict[str, Any]]]:
    info: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for schema in tools:
        fn = schema.get("function", schema)
        props = (fn.get("parameters") or {}).get("properties") or {}
        defaults = {k: v["default"] for k, v in props.items() if isinstance(v, Mapping) and "default" in v}
        info[str(fn["name"])] = (list(props), defaults)
    return info


def strict_success(
    predicted: Sequence[Task],
    gold: Sequence[GoldCall],
    *,
    tools: Sequence[Mapping[str, Any]],
    rules: str = "exact",
) -> bool:
    """DAG success under an isomorphism that also matches every call's arguments (see `args_match`).

    Args:
        predicted: The parsed tasks including ``join``.
        gold: The ground-truth calls.
        tools: The case's OpenAI tool schemas (parameter order binds positional arguments; defaults).
        rules: ``"exact"`` or ``"bfcl"``.
    """
    if not dag_success(predicted, gold):
        return False
    info = _schema_info(tools)
    bound: dict[int, dict[str, Any] | None] = {
        t.idx: {} if t.is_join else bind_arguments(t, info.get(t.name, ([], {}))[0]) for t in predicted
    }
    gold_by_idx = {g.idx: g for g in gold}

    def node_match(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        # structural pre-check ignoring where references point; the mapping is checked below
        if a["tool"] != b["tool"]:
            return False
        if a["tool"] == JOIN:
            return True
        args = bound[a["idx"]]
        if args is None:
            return False
        return args_match(args, gold_by_idx[b["idx"]], rules=rules, refs=None, defaults=info[a["tool"]][1])

    g_pred = plan_graph(predicted, add_join=False)
    g_gold = _gold_graph(gold)
    for graph in (g_pred, g_gold):
        for n in graph.nodes:
            graph.nodes[n]["idx"] = n
    matcher = DiGraphMatcher(g_pred, g_gold, node_match=node_match)
    for n, mapping in enumerate(matcher.isomorphisms_iter()):
        if n >= MAX_ISOMORPHISMS:
            break
        if _arguments_fit(mapping, bound, gold_by_idx, info, rules=rules):
            return True
    return False


def _arguments_fit(
    mapping: Mapping[int, int],
    bound: Mapping[int, dict[str, Any] | None],
    gold_by_idx: Mapping[int, GoldCall],
    info: Mapping[str, tuple[list[str], dict[str, Any]]],
    *,
    rules: str,
) -> bool:
    """Whether every call's arguments fit its gold call's under one isomorphism (predicted -> gold task numbers)."""
    to_pred = {g: p for p, g in mapping.items()}
    for p_idx, g_idx in mapping.items():
        if g_idx not in gold_by_idx:
            continue
        args = bound[p_idx]
        assert args is not None
        if not args_match(
            args, gold_by_idx[g_idx], rules=rules, refs=to_pred, defaults=info[gold_by_idx[g_idx].tool][1]
        ):
            return False
    return True


# ------------------------------------------------------------------------------------------------ counts/score
def tool_counts(predicted: Sequence[Call], gold: Sequence[Call]) -> tuple[int, int, int]:
    """Tool-name matches as a multiset: ``(matched, predicted, gold)`` counts, join excluded."""
    p = Counter(_name(c) for c in predicted if _name(c) != JOIN)
    g = Counter(_name(c) for c in gold if _name(c) != JOIN)
    return sum((p & g).values()), sum(p.values()), sum(g.values())


def _labelled_edges(calls: Sequence[Call]) -> Counter[tuple[str, str]]:
    graph = plan_graph(calls, add_join=False)
    tools = nx.get_node_attributes(graph, "tool")
    return Counter((tools[a], tools[b]) for a, b in graph.edges if tools[b] != JOIN)


def edge_counts(predicted: Sequence[Call], gold: Sequence[Call]) -> tuple[int, int, int]:
    """Dependency-edge matches as a multiset of ``(tool_a, tool_b)`` labels: ``(matched, predicted, gold)``.

    Edges into join are excluded: join depends on every call, so they repeat the tool counts.
    """
    p = _labelled_edges(predicted)
    g = _labelled_edges(gold)
    return sum((p & g).values()), sum(p.values()), sum(g.values())


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class CaseScore:
    """The scores of one predicted plan against one case.

    Attributes:
        parsed: A plan was produced (parsed and validated); False for parse/validation failures.
        dag_success: TinyAgent's graph-isomorphism success.
        strict_success: DAG success with matching arguments.
        tool_matched, tool_predicted, tool_gold: Multiset tool-name counts (join excluded).
        edge_matched, edge_predicted, edge_gold: Multiset labelled-edge counts (edges into join excluded).
        error: Why there is no plan (parse error text), else None.
        argument_errors: Calls whose arguments do not fit their tool's schema (``"N. tool: why"``); such a plan is
            still scored (TinyAgent's DAG success ignores arguments) but counts as invalid.
    """

    parsed: bool
    dag_success: bool
    strict_success: bool
    tool_matched: int
    tool_predicted: int
    tool_gold: int
    edge_matched: int
    edge_predicted: int
    edge_gold: int
    error: str | None = None
    argument_errors: tuple[str, ...] = ()

    @property
    def same_calls(self) -> bool:
        """The plan calls exactly the gold multiset of tools (dependencies and arguments ignored)."""
        return self.parsed and self.tool_matched == self.tool_predicted == self.tool_gold

    @property
    def valid(self) -> bool:
        """The plan parsed and every call's arguments fit its tool's schema."""
        return self.parsed and not self.argument_errors

    @property
    def tool_precision(self) -> float | None:
        """Matched / predicted tool calls (None without predicted calls)."""
        return _ratio(self.tool_matched, self.tool_predicted)

    @property
    def tool_recall(self) -> float | None:
        """Matched / gold tool calls (None without gold calls)."""
        return _ratio(self.tool_matched, self.tool_gold)

    @property
    def edge_precision(self) -> float | None:
        """Matched / predicted dependency edges (None without predicted edges)."""
        return _ratio(self.edge_matched, self.edge_predicted)

    @property
    def edge_recall(self) -> float | None:
        """Matched / gold dependency edges (None without gold edges)."""
        return _ratio(self.edge_matched, self.edge_gold)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (counts, the four ratios, success flags, error)."""
        out = asdict(self)
        out.update(
            tool_precision=self.tool_precision,
            tool_recall=self.tool_recall,
            edge_precision=self.edge_precision,
            edge_recall=self.edge_recall,
            valid=self.valid,
            same_calls=self.same_calls,
        )
        out["argument_errors"] = list(self.argument_errors)
        return out


def score_plan(predicted: Sequence[Task] | None, case: EvalCase, *, error: str | None = None) -> CaseScore:
    """Score a predicted plan against a case.

    Args:
        predicted: The parsed tasks including the final ``join``; None when the plan failed to parse or validate.
        case: The case (gold plan, tool schemas, argument rules).
        error: The failure text when ``predicted`` is None.
    """
    gold = case.gold
    if predicted is None:
        _, _, tool_gold = tool_counts([], gold)
        _, _, edge_gold = edge_counts([], gold)
        return CaseScore(
            parsed=False,
            dag_success=False,
            strict_success=False,
            tool_matched=0,
            tool_predicted=0,
            tool_gold=tool_gold,
            edge_matched=0,
            edge_predicted=0,
            edge_gold=edge_gold,
            error=error or "no plan",
        )
    dag = dag_success(predicted, gold)
    invalid = tuple(argument_errors(predicted, case))
    strict = dag and strict_success(predicted, gold, tools=case.tools, rules=case.arg_rules)
    tm, tp, tg = tool_counts(predicted, gold)
    em, ep, eg = edge_counts(predicted, gold)
    return CaseScore(
        parsed=True,
        dag_success=dag,
        strict_success=strict,
        tool_matched=tm,
        tool_predicted=tp,
        tool_gold=tg,
        edge_matched=em,
        edge_predicted=ep,
        edge_gold=eg,
        error=error,
        argument_errors=invalid,
    )


def argument_errors(predicted: Sequence[Task], case: EvalCase) -> list[str]:
    """The calls of a parsed plan whose arguments do not fit the case's tool schemas, as ``"N. tool: why"``.

    Checked statically with `Tool.check`: arity, unknown or repeated keywords, missing required arguments and value
    types; a value holding a ``$N`` reference is bound but its type is left unchecked (it is only known at run time).
    """
    toolset = case.toolset()
    found: list[str] = []
    for task in predicted:
        if task.is_join:
            continue
        tool_ = toolset.get(task.name)
        if tool_ is None:
            found.append(f"{task.idx}. {task.name}: unknown tool")
            continue
        try:
            tool_.check(task.args, task.kwargs, defer=lambda v: bool(references_in(v)))
        except ToolArgumentError as exc:
            found.append(f"{task.idx}. {task.name}: {exc}")
    return found


@dataclass(frozen=True)
class Summary:
    """Scores aggregated over cases (rates in 0..1; precision/recall micro-averaged; None when undefined).

    Attributes:
        cases: Number of cases.
        dag_success: Share with DAG success (TinyAgent's success rate).
        strict_success: Share with strict success.
        same_calls: Share whose plan calls exactly the gold multiset of tools, whatever its dependencies: with DAG
            success, it separates choosing the calls from wiring them (T-Eval chains independent calls).
        tool_precision, tool_recall: Micro-averaged over all calls.
        edge_precision, edge_recall: Micro-averaged over all dependency edges.
        failure_rate: Share of cases with no plan (parse failure, or the backend failed for the case).
        invalid_rate: Share of cases without a valid plan: no plan, or a call whose arguments do not fit its tool.
    """

    cases: int
    dag_success: float | None
    strict_success: float | None
    tool_precision: float | None
    tool_recall: float | None
    edge_precision: float | None
    edge_recall: float | None
    failure_rate: float | None
    invalid_rate: float | None = None
    same_calls: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def summarize(scores: Sequence[CaseScore]) -> Summary:
    """Aggregate case scores (see `Summary`)."""
    n = len(scores)
    return Summary(
        cases=n,
        dag_success=_ratio(sum(s.dag_success for s in scores), n),
        strict_success=_ratio(sum(s.strict_success for s in scores), n),
        tool_precision=_ratio(sum(s.tool_matched for s in scores), sum(s.tool_predicted for s in scores)),
        tool_recall=_ratio(sum(s.tool_matched for s in scores), sum(s.tool_gold for s in scores)),
        edge_precision=_ratio(sum(s.edge_matched for s in scores), sum(s.edge_predicted for s in scores)),
        edge_recall=_ratio(sum(s.edge_matched for s in scores), sum(s.edge_gold for s in scores)),
        failure_rate=_ratio(sum(not s.parsed for s in scores), n),
        invalid_rate=_ratio(sum(not s.valid for s in scores), n),
        same_calls=_ratio(sum(s.same_calls for s in scores), n),
    )
