"""Metrics against hand-checked plans: DAG success, strict success, tool/edge precision-recall, summaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyplan import Task, parse_plan
from tinyplan.eval import (
    EvalCase,
    GoldCall,
    args_match,
    dag_success,
    edge_counts,
    score_plan,
    strict_success,
    summarize,
    tool_counts,
    value_matches,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": "",
            "parameters": {"type": "object", "properties": props, "required": list(props)},
        },
    }
    for name, props in {
        "get_phone_number": {"name": {"type": "string"}},
        "send_sms": {"recipients": {"type": "array"}, "message": {"type": "string"}},
        "get_email_address": {"name": {"type": "string"}},
        "compose_email": {
            "to": {"type": "array"},
            "subject": {"type": "string"},
            "urgent": {"type": "boolean", "default": False},
        },
    }.items()
]

GOLD_TEXT = (
    '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
    '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>'
)


def gold_from(text: str) -> list[GoldCall]:
    params = {t["function"]["name"]: list(t["function"]["parameters"]["properties"]) for t in TOOLS}
    out = []
    for t in parse_plan(text)[:-1]:
        args = dict(zip(params[t.name], t.args, strict=False)) | dict(t.kwargs)
        out.append(GoldCall(t.idx, t.name, args, t.dependencies, {k: [v] for k, v in args.items()}))
    return out


def case(text: str = GOLD_TEXT, rules: str = "exact", gold: list[GoldCall] | None = None) -> EvalCase:
    return EvalCase(
        id="c",
        dataset="test",
        request="r",
        tools=TOOLS,
        gold=gold if gold is not None else gold_from(text),
        arg_rules=rules,
    )


def test_identical_plan_succeeds() -> None:
    c = case()
    s = score_plan(parse_plan(GOLD_TEXT), c)
    assert s.parsed and s.dag_success and s.strict_success
    assert (s.tool_matched, s.tool_predicted, s.tool_gold) == (3, 3, 3)
    assert (s.edge_matched, s.edge_predicted, s.edge_gold) == (2, 2, 2)
    assert s.tool_precision == s.tool_recall == s.edge_precision == s.edge_recall == 1.0


def test_renumbered_and_reordered_plan_succeeds() -> None:
    # Lutfi first, indices swapped, references follow: the same DAG, the same arguments
    pred = parse_plan(
        '1. get_phone_number("Lutfi")\n2. get_phone_number(name="Sid")\n'
        '3. send_sms(recipients=["$2", "$1"], message="The meeting moved to 3pm")\n4. join()'
    )
    c = case()
    assert dag_success(pred, c.gold)
    # the recipients list order differs ([$2, $1] maps to [Sid, Lutfi]): strict compares the list in order,
    # and $2 -> Sid's task, $1 -> Lutfi's, so ["$2", "$1"] == gold ["$1", "$2"] under the isomorphism
    assert strict_success(pred, c.gold, tools=TOOLS)


def test_references_swapped_fail_strict_but_not_dag() -> None:
    pred = parse_plan(
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$2", "$1"], "The meeting moved to 3pm")\n4. join()'
    )
    c = case()
    assert dag_success(pred, c.gold)
    assert not strict_success(pred, c.gold, tools=TOOLS)


def test_gapped_task_numbers_succeed() -> None:
    pred = parse_plan(
        '2. get_phone_number("Sid")\n5. get_phone_number("Lutfi")\n'
        '9. send_sms(["$2", "$5"], "The meeting moved to 3pm")\n10. join()'
    )
    assert score_plan(pred, case()).strict_success


def test_missing_edge_fails() -> None:
    pred = parse_plan(
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$1", "+1 555 0102"], "The meeting moved to 3pm")\n4. join()'
    )
    s = score_plan(pred, case())
    assert not s.dag_success and not s.strict_success
    assert (s.tool_matched, s.tool_predicted, s.tool_gold) == (3, 3, 3)
    assert (s.edge_matched, s.edge_predicted, s.edge_gold) == (1, 1, 2)
    assert s.edge_precision == 1.0 and s.edge_recall == 0.5


def test_extra_edge_fails() -> None:
    pred = parse_plan(
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi ${1}")\n'
        '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()'
    )
    s = score_plan(pred, case())
    assert not s.dag_success
    assert (s.edge_matched, s.edge_predicted, s.edge_gold) == (2, 3, 2)


def test_wrong_tool_fails() -> None:
    pred = parse_plan(
        '1. get_email_address("Sid")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()'
    )
    s = score_plan(pred, case())
    assert not s.dag_success
    assert (s.tool_matched, s.tool_predicted, s.tool_gold) == (2, 3, 3)
    # edges (get_email_address, send_sms) + (get_phone_number, send_sms) vs 2 x (get_phone_number, send_sms)
    assert (s.edge_matched, s.edge_predicted, s.edge_gold) == (1, 2, 2)


def test_missing_join_fails() -> None:
    pred = [t for t in parse_plan(GOLD_TEXT) if not t.is_join]
    assert not dag_success(pred, case().gold)


def test_extra_call_fails_and_lowers_precision() -> None:
    pred = parse_plan(GOLD_TEXT.replace("4. join()", '4. get_email_address("Sid")\n5. join()'))
    s = score_plan(pred, case())
    assert not s.dag_success
    assert s.tool_precision == 0.75 and s.tool_recall == 1.0


def test_wrong_argument_fails_strict_only() -> None:
    pred = parse_plan(GOLD_TEXT.replace("3pm", "4pm"))
    s = score_plan(pred, case())
    assert s.dag_success and not s.strict_success


def test_written_out_default_is_accepted_and_other_extras_are_not() -> None:
    gold = gold_from('1. get_email_address("Sid")\n2. compose_email(["$1"], "Notes")\n3. join()')
    c = case(gold=gold)
    ok = parse_plan('1. get_email_address("Sid")\n2. compose_email(["$1"], "Notes", urgent=False)\n3. join()')
    bad = parse_plan('1. get_email_address("Sid")\n2. compose_email(["$1"], "Notes", urgent=True)\n3. join()')
    assert score_plan(ok, c).strict_success
    s = score_plan(bad, c)
    assert s.dag_success and not s.strict_success


def test_missing_argument_fails_unless_optional() -> None:
    g = GoldCall(1, "get_phone_number", {"name": "Sid"}, (), {"name": ["Sid"]})
    assert not args_match({}, g)
    g_opt = GoldCall(1, "get_phone_number", {}, (), {"name": ["", "Sid"]}, frozenset({"name"}))
    assert args_match({}, g_opt, rules="bfcl")
    assert args_match({"name": "Sid"}, g_opt, rules="bfcl")
    assert not args_match({"name": "Bob"}, g_opt, rules="bfcl")


def test_bfcl_value_rules() -> None:
    # strings: case, spaces and ,./-_*^ ignored
    assert value_matches("New York, NY", "new york ny", rules="bfcl")
    assert not value_matches("New York, NY", "new york ny", rules="exact")
    # int fits float; bool is not a number
    assert value_matches(5, 5.0, rules="bfcl") and value_matches(5.0, 5)
    assert not value_matches(True, 1) and not value_matches(1, True)
    # tuples equal lists, element-wise
    assert value_matches((41.89, 12.49), [41.89, 12.49])
    assert not value_matches([1, 2], [2, 1])
    # nested dict spec: keys map to acceptable lists, "" = may be omitted, unknown keys rejected
    spec = {"size": ["large"], "sweetness": ["", "regular"], "milk": ["almond", "oat"]}
    assert value_matches({"size": "Large", "milk": "oat"}, spec, rules="bfcl")
    assert value_matches({"size": "large", "milk": "oat", "sweetness": "regular"}, spec, rules="bfcl")
    assert not value_matches({"milk": "oat"}, spec, rules="bfcl")
    assert not value_matches({"size": "large", "milk": "oat", "extra": 1}, spec, rules="bfcl")
    assert not value_matches({"size": "large", "milk": "soy"}, spec, rules="bfcl")


def test_bfcl_parallel_is_order_free_and_matches_by_arguments() -> None:
    gold = [
        GoldCall(1, "get_phone_number", {"name": "Sid"}, (), {"name": ["Sid", "sid k"]}),
        GoldCall(2, "get_phone_number", {"name": "Lutfi"}, (), {"name": ["Lutfi"]}),
    ]
    c = case(gold=gold, rules="bfcl")
    pred = parse_plan('1. get_phone_number("lutfi")\n2. get_phone_number("Sid K")\n3. join()')
    assert score_plan(pred, c).strict_success
    pred_bad = parse_plan('1. get_phone_number("lutfi")\n2. get_phone_number("Lutfi")\n3. join()')
    s = score_plan(pred_bad, c)
    assert s.dag_success and not s.strict_success


def test_irrelevance_plan_is_just_join() -> None:
    c = case(gold=[], rules="bfcl")
    good = score_plan(parse_plan("1. join()"), c)
    assert good.dag_success and good.strict_success
    assert good.tool_precision is None and good.tool_recall is None
    bad = score_plan(parse_plan('1. get_phone_number("Sid")\n2. join()'), c)
    assert not bad.dag_success and bad.tool_precision == 0.0


def test_parse_failure_scores_zero_and_counts_as_failure() -> None:
    s = score_plan(None, case(), error="line 1: not a plan line")
    assert not s.parsed and not s.dag_success and s.error == "line 1: not a plan line"
    assert (s.tool_predicted, s.tool_gold, s.edge_gold) == (0, 3, 2)
    summary = summarize([s, score_plan(parse_plan(GOLD_TEXT), case())])
    assert summary.cases == 2
    assert summary.dag_success == 0.5 and summary.failure_rate == 0.5
    assert summary.tool_precision == 1.0 and summary.tool_recall == 0.5  # micro: 3 matched / 3 predicted / 6 gold


def test_arguments_that_do_not_fit_the_schema_make_a_plan_invalid_but_still_scored() -> None:
    bad = parse_plan(
        '1. get_phone_number(name=["Sid"])\n2. get_phone_number("Lutfi", "extra")\n'
        '3. send_sms("$1", "The meeting moved to 3pm")\n4. send_sms(["$2"])\n5. join()'
    )
    s = score_plan(bad, case())
    assert s.parsed and not s.valid
    assert [e.split(":")[0] for e in s.argument_errors] == [
        "1. get_phone_number",
        "2. get_phone_number",
        "4. send_sms",
    ]  # 3. passes a reference where a list goes: its type is only known at run time
    assert "name: Input should be a valid string" in s.argument_errors[0]
    assert "takes 1 argument(s) but 2 were given" in s.argument_errors[1]
    assert "message: Field required" in s.argument_errors[2]
    good = score_plan(parse_plan(GOLD_TEXT), case())
    assert good.valid and good.argument_errors == ()
    summary = summarize([s, good, score_plan(None, case(), error="x")])
    assert summary.failure_rate == pytest.approx(1 / 3) and summary.invalid_rate == pytest.approx(2 / 3)
    assert s.to_dict()["valid"] is False and len(s.to_dict()["argument_errors"]) == 3


def test_summary_of_nothing() -> None:
    s = summarize([])
    assert s.cases == 0 and s.dag_success is None and s.tool_precision is None


def test_positional_overflow_never_matches() -> None:
    pred = parse_plan(
        '1. get_phone_number("Sid", "extra")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()'
    )
    s = score_plan(pred, case())
    assert s.dag_success and not s.strict_success


# ------------------------------------------------------------------------------------------------- invariants
@st.composite
def dags(draw: st.DrawFn) -> list[Task]:
    n = draw(st.integers(0, 7))
    names = ["a", "b", "c"]
    tasks = []
    for i in range(1, n + 1):
        deps = draw(st.sets(st.integers(1, i - 1), max_size=3)) if i > 1 else set()
        tasks.append(Task(idx=i, name=draw(st.sampled_from(names)), dependencies=tuple(sorted(deps))))
    return tasks


@settings(max_examples=150, deadline=None)
@given(dags(), st.randoms(use_true_random=False), st.integers(1, 50))
def test_renumbering_preserves_dag_success(tasks: list[Task], rnd: object, offset: int) -> None:
    gold = [GoldCall(t.idx, t.name, {}, t.dependencies) for t in tasks]
    # relabel with a random topological-order-preserving numbering: sorted random increasing numbers
    order = list(range(len(tasks)))
    new_idx = sorted(rnd.sample(range(offset, offset + 10 * (len(tasks) + 1)), len(tasks)))  # type: ignore[attr-defined]
    remap = {tasks[i].idx: new_idx[i] for i in order}
    pred = [Task(idx=remap[t.idx], name=t.name, dependencies=tuple(remap[d] for d in t.dependencies)) for t in tasks]
    join_idx = (max(new_idx) if new_idx else offset) + 1
    pred.append(Task(idx=join_idx, name="join", dependencies=tuple(p.idx for p in pred)))
    assert dag_success(pred, gold)
    assert tool_counts(pred, gold)[0] == len(tasks)
    m, p, g = edge_counts(pred, gold)
    assert m == p == g


@settings(max_examples=100, deadline=None)
@given(dags(), st.data())
def test_dropping_an_edge_breaks_dag_success(tasks: list[Task], data: st.DataObject) -> None:
    with_deps = [t for t in tasks if t.dependencies]
    if not with_deps:
        return
    victim = data.draw(st.sampled_from(with_deps))
    drop = data.draw(st.sampled_from(victim.dependencies))
    gold = [GoldCall(t.idx, t.name, {}, t.dependencies) for t in tasks]
    pred = [
        Task(t.idx, t.name, dependencies=tuple(d for d in t.dependencies if not (t is victim and d == drop)))
        for t in tasks
    ]
    pred.append(Task(len(tasks) + 1, "join", dependencies=tuple(t.idx for t in tasks)))
    assert not dag_success(pred, gold)


@pytest.mark.parametrize("bad", ["1. join()", '1. send_sms(["x"], "m")\n2. join()'])
def test_tiny_wrong_plans(bad: str) -> None:
    assert not score_plan(parse_plan(bad), case()).dag_success


def test_same_calls_ignores_dependencies_but_not_the_calls() -> None:
    unwired = parse_plan(
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n3. send_sms(["+1"], "The meeting moved")\n4. join()'
    )
    s = score_plan(unwired, case())
    assert s.same_calls and not s.dag_success  # the right calls, one edge short
    extra = parse_plan('1. get_phone_number("Sid")\n2. send_sms(["$1"], "x")\n3. join()')
    assert not score_plan(extra, case()).same_calls  # a lookup missing
    assert not score_plan(None, case(), error="x").same_calls
    summary = summarize([s, score_plan(parse_plan(GOLD_TEXT), case()), score_plan(extra, case())])
    assert summary.same_calls == pytest.approx(2 / 3) and summary.dag_success == pytest.approx(1 / 3)
