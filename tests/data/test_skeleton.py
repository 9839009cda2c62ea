"""The skeleton sampler composes only calls whose references type-check; links are read from semantic types, result
fields, docstrings and names."""

from __future__ import annotations

import random
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from tinyplan import PlanChecker, Semantic, Tool, Toolset, parse_plan, tool
from tinyplan._semantic import element_semantic, result_semantic
from tinyplan._tools import Parameter
from tinyplan.data import (
    SkeletonSampler,
    ValuePools,
    fill,
    find_links,
    render_plan,
    skeleton_shape,
    skeleton_signature,
    split_of,
)

KINDS = ("alpha", "beta", "gamma")
SEMANTICS = {k: Semantic(k) for k in KINDS}


def _annotation(kind: str | None, *, many: bool = False, number: bool = False) -> Any:
    base: Any = int if number else str
    item: Any = Annotated[base, SEMANTICS[kind]] if kind else base
    return list[item] if many else item


def _function(returns: Any) -> Callable[..., Any]:
    def run(**kwargs: Any) -> Any:
        return None

    run.__annotations__ = {"return": returns}
    return run


@st.composite
def semantic_toolsets(draw: st.DrawFn) -> Toolset:
    tools = []
    for i in range(draw(st.integers(2, 6))):
        result_kind = draw(st.sampled_from((*KINDS, None)))
        params = []
        for j in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from((*KINDS, None)))
            many = draw(st.booleans())
            number = kind is None and draw(st.booleans())
            required = draw(st.booleans())
            default: Any = None if required else ([] if many else (0 if number else ""))
            params.append(Parameter(f"p{j}", _annotation(kind, many=many, number=number), required, default))
        tools.append(
            Tool(
                name=f"t{i}",
                description=f"Tool number {i}.",
                function=_function(_annotation(result_kind)),
                parameters=tuple(params),
                side_effects=draw(st.booleans()),
            )
        )
    return Toolset(tools)


def _base(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is list:
        return _base(typing.get_args(annotation)[0])
    return annotation


@settings(max_examples=150, deadline=None)
@given(toolset=semantic_toolsets(), seed=st.integers(0, 10**6), max_calls=st.integers(1, 6))
def test_sampled_references_type_check(toolset: Toolset, seed: int, max_calls: int) -> None:
    sampler = SkeletonSampler(toolset, max_calls=max_calls)
    rng = random.Random(seed)
    skeleton = sampler.sample(rng)
    assert 1 <= len(skeleton) <= max_calls
    for position, call in enumerate(skeleton.calls):
        target = toolset[call.tool]
        for slot in call.inputs:
            assert slot.source < position  # only earlier calls
            source = toolset[skeleton.calls[slot.source].tool]
            param = next(p for p in target.parameters if p.name == slot.param)
            wanted, _ = element_semantic(param.annotation)
            produced = result_semantic(source)
            assert wanted is not None and produced is not None and wanted.name == produced.name
            assert _base(param.annotation) is _base(typing.get_type_hints(source.function)["return"])
    plan = render_plan(fill(skeleton, toolset, ValuePools(), rng), toolset)
    tasks = parse_plan(plan, tools=set(toolset.names))
    assert tasks[-1].is_join and len(tasks) == len(skeleton) + 1
    for task in tasks[:-1]:
        assert all(d < task.idx for d in task.dependencies)
        toolset[task.name].check(task.args, task.kwargs, defer=lambda v: "$" in repr(v) or "Ref(" in repr(v))


def test_mac_skeletons_pass_the_plan_checkers_dataflow_check(mac_tools: Toolset) -> None:
    sampler = SkeletonSampler(mac_tools)
    shapes = set()
    for seed in range(300):
        rng = random.Random(seed)
        plan = render_plan(fill(sampler.sample(rng), mac_tools, ValuePools(), rng), mac_tools, "positional")
        tasks = parse_plan(plan, tools=set(mac_tools.names))
        shapes.add(skeleton_shape(tasks, mac_tools))
        checker = PlanChecker(mac_tools, "")
        sent = {}
        for task in tasks[:-1]:
            problem = checker.check_task(task, sent)
            assert problem is None or problem.kind not in ("source", "value"), (plan, problem)
            sent[task.idx] = task
    assert shapes >= {"single", "chain", "fan-in", "fan-out", "parallel"}


def test_mac_links_follow_semantic_types_and_docstrings(mac_tools: Toolset) -> None:
    links = {(link.source, link.target, link.param): link.how for link in find_links(mac_tools)}
    assert links[("get_phone_number", "send_sms", "recipients")] == "semantic"
    assert links[("get_email_address", "compose_new_email", "recipients")] == "semantic"
    assert links[("open_and_get_file_path", "summarize_pdf", "pdf_path")] == "semantic"
    assert links[("get_zoom_meeting_link", "create_calendar_event", "location")] == "doc"
    assert links[("summarize_pdf", "compose_new_email", "context")] == "text"
    assert ("get_email_address", "send_sms", "recipients") not in links  # an address is not a phone number
    assert ("get_phone_number", "compose_new_email", "recipients") not in links
    assert not any(target == "create_note" and param == "folder" for _, target, param in links)


class Product(TypedDict):
    product_id: str
    title: str


def test_links_from_result_fields_names_and_docstrings() -> None:
    @tool
    def search_products(query: str) -> list[Product]:
        """Search the shop."""
        return []

    @tool
    def get_offers(product_id: str) -> str:
        """Offers for a product."""
        return ""

    @tool
    def get_phone_number(name: str) -> str:
        """Find a phone number."""
        return ""

    @tool(side_effects=True)
    def call(number: str) -> str:
        """Call someone.

        Args:
            number: The phone number to call.
        """
        return ""

    @tool(side_effects=True)
    def send_sms(recipients: list[str], message: str) -> str:
        """Send a text.

        Args:
            recipients: Numbers, as get_phone_number returns them.
            message: The text.
        """
        return ""

    tools = Toolset([search_products, get_offers, get_phone_number, call, send_sms])
    links = {(link.source, link.target, link.param): link for link in find_links(tools)}
    field = links[("search_products", "get_offers", "product_id")]
    assert field.how == "field" and field.path == (0, "product_id")
    assert links[("get_phone_number", "call", "number")].how == "name"
    assert links[("get_phone_number", "send_sms", "recipients")].how == "doc"
    assert links[("get_phone_number", "send_sms", "recipients")].many
    rng = random.Random(1)
    sampler = SkeletonSampler(tools)
    plans = {render_plan(fill(sampler.sample(rng), tools, ValuePools(), rng), tools) for _ in range(60)}
    assert any('product_id="$1[0].product_id"' in p for p in plans)


def test_signatures_ignore_numbering_order_and_values(mac_tools: Toolset) -> None:
    a = parse_plan(
        '1. get_phone_number("Sid")\n2. get_phone_number("Amir")\n3. send_sms(["$1", "$2"], "hi")\n4. join()'
    )
    b = parse_plan(
        '1. get_phone_number("Omar")\n2. get_phone_number("Nadia")\n3. send_sms(["$2", "$1"], "x")\n4. join()'
    )
    c = parse_plan('1. get_phone_number("Sid")\n2. send_sms(["$1", "$1"], "hi")\n3. join()')
    assert skeleton_signature(a, mac_tools) == skeleton_signature(b, mac_tools)
    assert skeleton_signature(a, mac_tools) != skeleton_signature(c, mac_tools)
    assert skeleton_shape(a, mac_tools) == "fan-in"


def test_splits_are_a_function_of_the_skeleton() -> None:
    names = [f"tool_{i}(x<-tool_{i + 1})" for i in range(3000)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]
    share = {s: splits.count(s) / len(splits) for s in ("train", "validation", "test")}
    assert 0.76 < share["train"] < 0.84 and 0.07 < share["test"] < 0.13
