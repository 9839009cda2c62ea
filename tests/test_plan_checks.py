"""Plan checks on semantic types and cues (`PlanChecker`), and the planner's line repair while the plan streams."""

from __future__ import annotations

from typing import Annotated, TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyplan import (
    Cue,
    Planner,
    PlanParser,
    PlanRepaired,
    ScriptedBackend,
    Semantic,
    TaskParsed,
    Toolset,
    plan_grammar,
    tool,
)
from tinyplan._checks import PlanChecker, Problem
from tinyplan._types import Task

pytestmark = pytest.mark.anyio


def _is_email(v: object) -> bool:
    return isinstance(v, str) and "@" in v and " " not in v.strip()


def _is_phone(v: object) -> bool:
    return isinstance(v, str) and sum(c.isdigit() for c in v) >= 7 and not any(c.isalpha() for c in v)


def _is_name(v: object) -> bool:
    return isinstance(v, str) and bool(v.strip()) and not _is_email(v) and not _is_phone(v)


Name = Annotated[str, Semantic("contact name", check=_is_name, from_request=True)]
Phone = Annotated[str, Semantic("phone number", check=_is_phone)]
Email = Annotated[str, Semantic("email address", check=_is_email, format="email")]


class Product(TypedDict):
    product_id: str
    title: str


class Order(TypedDict):
    order_id: str
    total_amount: float


def make_toolset(calls: list[str]) -> Toolset:
    @tool
    def get_phone_number(name: Name) -> Phone:
        """Find a contact's phone number.

        Args:
            name: The contact's name.
        """
        calls.append(f"phone {name}")
        return {"Sid": "+1 510 555 0101", "Lutfi": "+1 510 555 0102"}[name]

    @tool
    def get_email_address(name: Name) -> Email:
        """Find a contact's email address.

        Args:
            name: The contact's name.
        """
        calls.append(f"email {name}")
        return f"{name.lower()}@example.com"

    @tool(side_effects=True)
    def send_sms(recipients: list[Phone], message: str) -> str:
        """Send a text message.

        Args:
            recipients: Phone numbers.
            message: The text.
        """
        calls.append(f"sms {recipients}")
        return f"Texted {', '.join(recipients)}: {message}"

    @tool(side_effects=True)
    def compose_new_email(recipients: list[Email], subject: str) -> str:
        """Draft an email.

        Args:
            recipients: Email addresses.
            subject: The subject.
        """
        calls.append(f"email to {recipients}")
        return f"Drafted an email to {', '.join(recipients)}: {subject}"

    @tool
    def search_products(query: str) -> list[Product]:
        """Search the catalogue.

        Args:
            query: Words to search for.
        """
        calls.append(f"search {query}")
        return [{"product_id": "P-881", "title": query}]

    @tool
    def get_product_offers(product_id: str) -> str:
        """Offers for a product.

        Args:
            product_id: The product's id.
        """
        calls.append(f"offers {product_id}")
        return f"2 offers for {product_id}"

    @tool
    def get_order(order_number: str) -> Order:
        """Look an order up by the number on the receipt.

        Args:
            order_number: The receipt's order number.
        """
        calls.append(f"order {order_number}")
        return {"order_id": "o-1", "total_amount": 12.5}

    @tool(side_effects=True)
    def refund(order_id: str, amount: float) -> str:
        """Refund an order.

        Args:
            order_id: The order's id.
            amount: How much.
        """
        calls.append(f"refund {order_id} {amount}")
        return f"Refunded {amount} of {order_id}."

    @tool
    def open_map(place: str) -> str:
        """Open a place on the map.

        Args:
            place: The place.
        """
        calls.append(f"map {place}")
        return f"https://maps.example/?q={place}"

    return Toolset(
        [
            get_phone_number,
            get_email_address,
            send_sms,
            compose_new_email,
            search_products,
            get_product_offers,
            get_order,
            refund,
            open_map,
        ],
        cues=[
            Cue(r"\btext\b", frozenset({"send_sms"}), "send a text message"),
            Cue(r"\b(e-?mail)\b(?!\s+address)", frozenset({"compose_new_email"}), "send an email"),
        ],
        needs_cue=[Cue(r"\b(map|where)\b", frozenset({"open_map"}), "show a place on the map")],
    )


def run_checks(request: str, plan: str, toolset: Toolset | None = None) -> list[Problem]:
    toolset = toolset or make_toolset([])
    parser = PlanParser(toolset.names)
    checker = PlanChecker(toolset, request)
    earlier: dict[int, Task] = {}
    found: list[Problem] = []
    for task in [*parser.feed(plan), *parser.close()]:
        problem = checker.check_join(task, earlier) if task.is_join else checker.check_task(task, earlier)
        if problem is not None:
            found.append(problem)
        earlier[task.idx] = task
    return found


# ------------------------------------------------------------------------------------------------ the checks
GOOD = [
    ("Text Sid hi", '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()'),
    ("Email Lutfi the agenda", '1. get_email_address("Lutfi")\n2. compose_new_email(["$1"], "Agenda")\n3. join()'),
    ("Text +1 510 555 0199 that I am late", '1. send_sms(["+1 510 555 0199"], "I am late")\n2. join()'),
    ("Offers for the Acme blender", '1. search_products("Acme blender")\n2. get_product_offers("$1[0].product_id")\n'
     "3. join()"),
    ("Offers for product P-42", '1. get_product_offers("P-42")\n2. join()'),
    ("Where is Blue Bottle? Text Sid the map", '1. open_map("Blue Bottle")\n2. get_phone_number("Sid")\n'
     '3. send_sms(["$2"], "$1")\n4. join()'),
    ("What is Sid's email address?", '1. get_email_address("Sid")\n2. join()'),
    ("Refund order 77 in full", '1. get_order("77")\n2. refund("$1.order_id", "$1.total_amount")\n3. join()'),
    ("Refund 5 dollars of order 77", '1. get_order("77")\n2. refund($1.order_id, 5)\n3. join()'),
]  # fmt: skip


@pytest.mark.parametrize(("request_text", "plan"), GOOD)
def test_a_right_plan_passes_every_check(request_text: str, plan: str) -> None:
    assert run_checks(request_text, plan) == []


BAD = [
    (
        "Text Lutfi hi",
        '1. get_email_address("Lutfi")\n2. send_sms(["$1"], "hi")\n3. join()',
        "source",
        'send_sms.recipients wants phone numbers; $1 is an email address from get_email_address("Lutfi")',
        "get_phone_number('Lutfi')",
    ),
    (
        "Text Lutfi hi",
        '1. send_sms(["Lutfi"], "hi")\n2. join()',
        "value",
        "send_sms.recipients wants phone numbers; 'Lutfi' is a contact name",
        "get_phone_number('Lutfi') first",
    ),
    (
        "Email maria@example.org the agenda",
        '1. get_email_address("maria@example.org")\n2. compose_new_email(["$1"], "Agenda")\n3. join()',
        "given",
        "get_email_address.name wants a contact name, but 'maria@example.org' is already an email address",
        "use it directly",
    ),
    (
        "Find offers for the Acme Blender 3000",
        '1. get_product_offers("Acme-3000-X")\n2. join()',
        "identifier",
        "get_product_offers.product_id is product_id from search_products's result, but 'Acme-3000-X' is not in the "
        "request",
        "Call search_products first, then write product_id=$N.product_id",
    ),
    (
        "Reply to this email saying thanks",
        '1. get_email_address("John")\n2. compose_new_email(["$1"], "Thanks")\n3. join()',
        "invented",
        "get_email_address.name: 'John' is not in the request",
        "Use only the contact names the request gives",
    ),
    (
        "Refund order 77 in full",
        '1. get_order("77")\n2. refund("$1[0]", 12.5)\n3. join()',
        "field",
        "refund.order_id: $1[0] does not name a field of get_order's result (fields: order_id, total_amount)",
        "write order_id=$1.order_id",
    ),
    (
        "Refund order 77 in full",
        '1. get_order("77")\n2. refund("$1", 12.5)\n3. join()',
        "field",
        "refund.order_id: $1 does not name a field of get_order's result",
        "write order_id=$1.order_id",
    ),
    (
        "Refund order 77 in full",
        '1. get_order("77")\n2. refund("$1[order_id]", 12.5)\n3. join()',
        "field",
        "'$1[order_id]' is text, not a reference",
        "Write order_id=$1.order_id",
    ),
    (
        "Refund order 77 in full",
        '1. get_order("77")\n2. refund($1.order_id, 12.5)\n3. join()',
        "identifier",
        "refund.amount is total_amount from get_order's result, but 12.5 is not in the request",
        "write amount=$1.total_amount",
    ),
    (
        "Text Sid that the meeting moved",
        '1. get_phone_number("Sid")\n2. join()',
        "missing",
        "the request asks to send a text message, but the plan calls none of send_sms",
        "send_sms",
    ),
    (
        "Text Sid the directions",
        '1. open_map("home")\n2. get_phone_number("Sid")\n3. send_sms(["$2"], "$1")\n4. join()',
        "uncued",
        "open_map was not asked for",
        "leave it out",
    ),
]


@pytest.mark.parametrize(("request_text", "plan", "kind", "message", "hint"), BAD)
def test_each_check_rejects_its_fault_and_says_what_to_do(
    request_text: str, plan: str, kind: str, message: str, hint: str
) -> None:
    problems = run_checks(request_text, plan)
    assert problems, "the fault was not found"
    first = problems[0]
    assert first.kind == kind
    assert message in first.message
    assert hint in first.hint
    if kind == "missing":
        assert first.exclude_join
    if kind == "uncued":
        assert first.exclude_tools == {"open_map"}


FIXES = [
    ('1. get_order("77")\n2. refund("$1[0]", 12.5)\n3. join()', 'refund("$1.order_id", 12.5)'),
    ('1. get_order("77")\n2. refund("$1", 12.5)\n3. join()', 'refund("$1.order_id", 12.5)'),
    ('1. get_order("77")\n2. refund("$1[order_id]", 12.5)\n3. join()', 'refund("$1.order_id", 12.5)'),
    (
        '1. get_order("77")\n2. refund(amount=12.5, order_id="$1[0]")\n3. join()',
        'refund(amount=12.5, order_id="$1.order_id")',
    ),
    ('1. get_order("77")\n2. refund($1.order_id, 99.0)\n3. join()', 'refund("$1.order_id", "$1.total_amount")'),
    ('1. get_product_offers("Acme-3000-X")\n2. join()', None),  # nothing looked up yet: only the model can
]


@pytest.mark.parametrize(("plan", "fix"), FIXES)
def test_a_certain_correction_is_offered_as_a_fix(plan: str, fix: str | None) -> None:
    problems = run_checks("Refund order 77 for 12.5, find blender offers", plan)
    assert problems
    assert problems[0].fix == fix
    if fix is not None:  # the fix parses, and passes the checks
        fixed = plan.split("\n")[0] + f"\n2. {fix}\n3. join()"
        assert run_checks("Refund order 77 for 12.5, find blender offers", fixed) == []


async def test_a_certain_fix_replaces_the_line_without_asking_the_model_again() -> None:
    calls: list[str] = []
    plan = '1. get_order("77")\n2. refund("$1[0]", 12.5)\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, FINISH], supports_grammar=True)
    events = []
    planner = Planner(backend, make_toolset(calls), self_check=True, grammar="typed")
    async with __import__("contextlib").aclosing(planner.stream("Refund order 77: 12.5")) as stream:
        async for e in stream:
            events.append(e)
    first = events[-1].result.plans[0]
    assert len(backend.requests) == 2  # the plan and the joiner: no second planner request
    assert calls == ["order 77", "refund o-1 12.5"]
    assert [(p.kind, p.fix) for p in first.repairs] == [("field", 'refund("$1.order_id", 12.5)')]
    parsed = [e.task.text for e in events if isinstance(e, TaskParsed)]
    assert parsed == ['get_order("77")', 'refund("$1.order_id", 12.5)', "join()"]
    assert [e.line for e in events if isinstance(e, PlanRepaired)] == ['2. refund("$1[0]", 12.5)']
    assert first.text.startswith('1. get_order("77")\n2. refund("$1.order_id", 12.5)\n3. join()')


async def test_a_fix_that_still_fails_a_check_is_written_again_by_the_model() -> None:
    calls: list[str] = []
    plan = '1. get_order("77")\n2. refund("$1[0]", 99.0)\n3. join()<END_OF_PLAN>'
    again = '2. refund("$1.order_id", "$1.total_amount")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan, again, FINISH], supports_grammar=True)
    result = await Planner(backend, make_toolset(calls), self_check=True, grammar="typed").run("Refund order 77")
    first = result.plans[0]
    assert [(p.kind, p.fix) for p in first.repairs] == [("field", None)]  # the fix left 99.0: not certain enough
    assert calls == ["order 77", "refund o-1 12.5"]
    assert len(backend.requests) == 3


def test_semantic_types_reach_the_json_schema_but_not_the_prompt_signature() -> None:
    ts = make_toolset([])
    items = ts["send_sms"].json_schema()["properties"]["recipients"]["items"]
    assert items == {"type": "string", "x-semantic": "phone number"}
    email = ts["compose_new_email"].json_schema()["properties"]["recipients"]["items"]
    assert email == {"type": "string", "format": "email", "x-semantic": "email address"}
    assert ts["send_sms"].signature() == "send_sms(recipients: list[str], message: str) -> str"


def test_semantic_signatures_show_the_declared_types_in_the_prompt() -> None:
    from tinyplan import PromptRenderer

    ts = make_toolset([])
    assert ts["send_sms"].signature(semantic=True) == "send_sms(recipients: list[phone number], message: str) -> str"
    assert ts["get_phone_number"].signature(semantic=True) == "get_phone_number(name: contact name) -> phone number"
    assert ts["refund"].signature(semantic=True) == ts["refund"].signature()  # nothing declared: unchanged
    shown = PromptRenderer(semantic_signatures=True).planner_static(ts, [], [])
    assert "1. get_phone_number(name: contact name) -> phone number" in shown
    assert "get_phone_number(name: str) -> str" in PromptRenderer().planner_static(ts, [], [])
    # a schema round trip (OpenAI/MCP import) keeps them
    from tinyplan import Tool

    imported = Tool.from_schema(ts["send_sms"].openai_schema())
    assert imported.signature(semantic=True).startswith("send_sms(recipients: list[phone number], message: str)")


# ------------------------------------------------------------------------------------------- the repair loop
FINISH = "Thought: done.\nAction: Finish(ok)"


async def test_a_bad_line_is_written_again_before_any_tool_sees_it() -> None:
    calls: list[str] = []
    bad = '1. get_email_address("Lutfi")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    continued = '2. get_phone_number("Lutfi")\n3. send_sms(["$2"], "hi")\n4. join()<END_OF_PLAN>'
    backend = ScriptedBackend([bad, continued, FINISH])
    events = []
    planner = Planner(backend, make_toolset(calls), self_check=True, grammar="typed")
    async with __import__("contextlib").aclosing(planner.stream("Text Lutfi hi")) as stream:
        async for e in stream:
            events.append(e)
    result = events[-1].result
    plan = result.plans[0]
    assert [p.kind for p in plan.repairs] == ["source"]
    # the faulty send_sms never ran; each tool ran once
    assert sorted(calls[:2]) == ["email Lutfi", "phone Lutfi"]  # independent look-ups: in either order
    assert calls[2:] == ["sms ['+1 510 555 0102']"]
    parsed = [e.task.text for e in events if isinstance(e, TaskParsed)]
    assert 'send_sms(["$1"], "hi")' not in parsed
    repaired = [e for e in events if isinstance(e, PlanRepaired)]
    assert len(repaired) == 1 and repaired[0].line == '2. send_sms(["$1"], "hi")'
    # the continuation is the first prompt plus the plan so far plus the hint, under a grammar starting at action 2
    second = backend.requests[1]
    first = backend.requests[0]
    assert second.prompt is not None and first.prompt is not None
    assert second.prompt.startswith(first.prompt + '1. get_email_address("Lutfi")\nThought: send_sms.recipients')
    assert second.cache_prefix == first.cache_prefix
    assert second.grammar is not None and second.grammar.startswith("root ::= step-L2")
    assert plan.text.startswith('1. get_email_address("Lutfi")\nThought: ')
    assert '2. get_phone_number("Lutfi")' in plan.text


async def test_an_early_join_is_continued_once_with_join_excluded() -> None:
    calls: list[str] = []
    early = '1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>'
    continued = '2. send_sms(["$1"], "moved to 3pm")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([early, continued], supports_grammar=True)
    result = await Planner(backend, make_toolset(calls), self_check=True, grammar="typed", join="auto").run(
        "Text Sid that it moved to 3pm"
    )
    assert [p.kind for p in result.plans[0].repairs] == ["missing"]
    grammar = backend.requests[1].grammar or ""
    root = grammar.splitlines()[0]
    assert root.startswith('root ::= thought? "2. "') and "join" not in root
    assert calls == ["phone Sid", "sms ['+1 510 555 0101']"]
    assert result.answer == "Texted +1 510 555 0101: moved to 3pm"


async def test_a_plan_that_covers_the_request_is_untouched() -> None:
    plan = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'
    backend = ScriptedBackend([plan])
    result = await Planner(backend, make_toolset([]), self_check=True, join="auto").run("Text Sid hi")
    assert result.plans[0].repairs == [] and len(backend.requests) == 1


async def test_the_repair_limit_ends_in_the_ordinary_path() -> None:
    calls: list[str] = []
    bad1 = '1. send_sms(["Lutfi"], "hi")\n2. join()'
    bad2 = '1. send_sms(["Lutfi"], "hi")\n2. join()'
    bad3 = '1. send_sms(["Lutfi"], "hi")\n2. join()'
    backend = ScriptedBackend([bad1, bad2, bad3, FINISH])
    result = await Planner(backend, make_toolset(calls), self_check=True, max_repairs=2, max_replans=0).run(
        "Text Lutfi hi"
    )
    plan = result.plans[0]
    assert len(plan.repairs) == 2
    assert calls == ["sms ['Lutfi']"]  # after two repairs the line runs as written: once
    assert result.answer == "ok"


async def test_self_check_off_is_todays_behaviour() -> None:
    calls: list[str] = []
    bad = '1. get_email_address("Lutfi")\n2. send_sms(["$1"], "hi")\n3. join()'
    backend = ScriptedBackend([bad, FINISH])
    result = await Planner(backend, make_toolset(calls), max_replans=0).run("Text Lutfi hi")
    assert result.plans[0].repairs == [] and calls == ["email Lutfi", "sms ['lutfi@example.com']"]


def test_continuation_grammars_start_at_the_given_action() -> None:
    ts = make_toolset([])
    g = plan_grammar(ts, "typed", first_action=3)
    assert g.splitlines()[0] == "root ::= step-L3"
    g = plan_grammar(ts, "typed", first_action=3, join_first=False)
    assert g.splitlines()[0] == 'root ::= thought? "3. " call-L3 nl step-L4'
    g = plan_grammar(ts, "typed", first_action=20, join_first=False)
    assert g.splitlines()[0] == "root ::= thought? action free-plan"


# ------------------------------------------------------------------------------------------- an invariant
LINES = [
    '1. get_phone_number("Sid")\n',
    '1. get_email_address("maria@example.org")\n',
    '1. send_sms(["Lutfi"], "hi")\n',
    '1. search_products("blender")\n',
]


@settings(max_examples=60, deadline=None)
@given(
    first=st.sampled_from(LINES),
    second=st.sampled_from(['send_sms(["$1"], "hi")', 'get_product_offers("$1[0].product_id")', 'open_map("x")']),
    request_text=st.sampled_from(["Text Sid hi", "Offers for the blender", "Where is it?", "Email maria@example.org"]),
)
def test_checking_never_changes_how_a_plan_parses(first: str, second: str, request_text: str) -> None:
    plan = f"{first}2. {second}\n3. join()"
    ts = make_toolset([])
    alone = PlanParser(ts.names)
    expected = [*alone.feed(plan), *alone.close()]
    checked = PlanParser(ts.names)
    checker = PlanChecker(ts, request_text)
    earlier: dict[int, Task] = {}
    tasks = [*checked.feed(plan), *checked.close()]
    for task in tasks:
        checker.check_join(task, earlier) if task.is_join else checker.check_task(task, earlier)
        earlier[task.idx] = task
    assert tasks == expected


def test_semantic_types_survive_the_schema_round_trip() -> None:
    ts = make_toolset([])
    imported = Toolset.from_openai(ts.openai_schemas())
    assert run_checks("Text Lutfi hi", '1. send_sms(["Lutfi"], "hi")\n2. join()', imported)[0].kind == "value"
    name = imported["get_email_address"].parameters[0].annotation
    from tinyplan._semantic import element_semantic

    semantic, many = element_semantic(name)
    assert semantic is not None and semantic.name == "contact name" and semantic.from_request and not many
    assert semantic.accepts("Lutfi") and not semantic.accepts("lutfi@example.com")  # the well-known check came back


def test_the_mac_evaluation_cases_carry_the_toolsets_semantics_and_cues() -> None:
    pytest.importorskip("icalendar")
    from tinyplan.eval import load_dataset

    case = load_dataset("mac", limit=1)[0]
    toolset = case.toolset()
    assert toolset.cues and toolset.needs_cue
    problems = run_checks(
        "Text Sid and Lutfi that I am late",
        '1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n3. send_sms(["$1", "$2"], "late")\n4. join()',
        toolset,
    )
    assert problems[0].kind == "source" and "phone number" in problems[0].message
    # the prompt is the same as without the checks' data: the result schema does not reach the signature
    assert toolset["get_phone_number"].signature() == "get_phone_number(name: str) -> Any"


async def test_a_hint_the_model_ignores_is_followed_by_leaving_the_tool_out() -> None:
    calls: list[str] = []
    invented = '1. get_email_address("John")\n2. compose_new_email(["$1"], "Thanks")\n3. join()'
    again = '1. get_email_address("John")\n2. compose_new_email(["$1"], "Thanks")\n3. join()'
    fixed = '1. compose_new_email(["boss@example.com"], "Thanks")\n2. join()<END_OF_PLAN>'
    backend = ScriptedBackend([invented, again, fixed])
    planner = Planner(backend, make_toolset(calls), self_check=True, grammar="typed", join="auto")
    result = await planner.run("Email boss@example.com to say thanks")
    kinds = [(p.kind, sorted(p.exclude_tools)) for p in result.plans[0].repairs]
    assert kinds == [("invented", []), ("invented", ["get_email_address", "get_phone_number"])]
    third = backend.requests[2].grammar or ""  # every look-up of a contact name is left out, not only the one used
    assert "get_email_address" not in third and "get_phone_number" not in third and "compose_new_email" in third
    assert calls == ["email to ['boss@example.com']"]
