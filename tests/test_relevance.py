"""The relevance check: a free first action that names no listed tool gives a plan without tool calls."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyplan import BackendStreamError, Planner, ScriptedBackend, ScriptedFailure, TaskParsed, Token, tool
from tinyplan._backend import Chunk, CompletionRequest, Usage
from tinyplan._relevance import (
    CHECK_MAX_TOKENS,
    check_relevance,
    first_action_name,
    name_words,
    prompt_actions,
    unlisted_tool,
)

pytestmark = pytest.mark.anyio


def make_bmi_tools(calls: list[tuple[float, float]]) -> list[object]:
    @tool
    def determine_body_mass_index(weight: float, height: float) -> float:
        """Body mass index from weight and height.

        Args:
            weight: Weight in kilograms.
            height: Height in metres.
        """
        calls.append((weight, height))
        return round(weight / height**2, 1)

    return [determine_body_mass_index]


BMI_PLAN = "1. determine_body_mass_index(weight=70, height=1.75)\n2. join()<END_OF_PLAN>"


# ------------------------------------------------------------------------------------------------ name rules
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("1. get_weather", "get_weather"),
        (" 1.get_weather ", "get_weather"),
        ("Thought: I need the weather first.\n1. get_weather", "get_weather"),
        ("1. math.sqrt", "math.sqrt"),
        ("1. join", "join"),
        ("", None),
        ("Thought: the user wants", None),  # no action line yet
        ("2. get_weather", None),  # not the first action
        ("1. get weather", None),  # not a name
        ("I would call get_weather", None),
    ],
)
def test_first_action_name(text: str, name: str | None) -> None:
    assert first_action_name(text) == name


def test_name_words_split_snake_dotted_and_camel_case() -> None:
    assert name_words("cellBiology_getCellType") == ["cell", "biology", "get", "cell", "type"]
    assert name_words("currency_conversion.convert") == ["currency", "conversion", "convert"]
    assert name_words("CalculateTax") == ["calculate", "tax"]
    assert name_words("HTTPGet") == ["http", "get"]


@pytest.mark.parametrize(
    ("name", "tools", "unlisted"),
    [
        # listed, or listed but written differently
        ("get_weather", ["get_weather"], False),
        ("GetWeather", ["get_weather"], False),
        ("currency.conversion", ["currency_conversion"], False),
        ("join", ["get_weather"], False),
        # the object of the action meets a listed name (BFCL parallel_multiple_18 wrote convert_currency)
        ("convert_currency", ["banking_service", "currency_conversion"], False),
        ("get_movie_reviews", ["FilmTMDB_get_movie_details", "FilmTMDB_get_movie_reviews"], False),
        ("reserve", ["ReserveMeeting_reserve"], False),  # a one-word name is its own object
        # nothing of the object is listed: real BFCL irrelevance cases
        ("calculate_area_of_triangle", ["determine_body_mass_index"], True),
        ("calculate_prime_factors", ["calculate_compound_interest"], True),  # the shared verb does not count
        ("calculate_discriminant", ["distance_calculator_calculate"], True),
        ("integrate", ["str_to_int"], True),
        ("get_latest_movies", ["calculate_velocity"], True),
        ("search_plants", ["local_fauna"], True),
    ],
)
def test_unlisted_tool(name: str, tools: list[str], unlisted: bool) -> None:
    assert unlisted_tool(name, tools) is unlisted


# ------------------------------------------------------------------------------------------------ the check
async def test_check_asks_without_grammar_up_to_the_parenthesis() -> None:
    backend = ScriptedBackend(["1. calculate_area_of_triangle(base=3, height=4)\n2. join()"])
    request = CompletionRequest(prompt="P", stop=("<END_OF_PLAN>",), max_tokens=512, grammar="root ::= x")
    verdict = await check_relevance(backend, request, ["determine_body_mass_index"])
    sent = backend.requests[0]
    assert (sent.prompt, sent.grammar, sent.stop, sent.max_tokens) == ("P", None, ("(",), CHECK_MAX_TOKENS)
    assert verdict.text == "1. calculate_area_of_triangle"
    assert verdict.name == verdict.unlisted == "calculate_area_of_triangle"
    assert verdict.usage.completion_tokens > 0


async def test_a_name_cut_off_by_the_token_limit_proves_nothing() -> None:
    class Truncating:
        supports_grammar = True

        async def stream(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            yield Chunk("1. financial_rati")  # would look unlisted next to financial_ratio_net_profit_margin
            yield Chunk("", usage=Usage(10, CHECK_MAX_TOKENS), finish_reason="length")

    verdict = await check_relevance(
        Truncating(),  # type: ignore[arg-type]
        CompletionRequest(prompt="P"),
        ["financial_ratio_net_profit_margin"],
    )
    assert verdict.name is None and verdict.unlisted is None


async def test_backend_returning_the_stop_string_is_cut_there() -> None:
    class KeepsStop:
        supports_grammar = True

        async def stream(self, request: CompletionRequest):  # type: ignore[no-untyped-def]
            yield Chunk("1. get_route(start=")
            yield Chunk("", finish_reason="stop")

    verdict = await check_relevance(KeepsStop(), CompletionRequest(prompt="P"), ["prime_numbers_in_range"])  # type: ignore[arg-type]
    assert verdict.unlisted == "get_route"


# ------------------------------------------------------------------------------------------------ in the planner
async def test_unlisted_first_action_gives_a_plan_without_tool_calls() -> None:
    calls: list[tuple[float, float]] = []
    backend = ScriptedBackend(["1. calculate_area_of_triangle(base=3, height=4)"])  # only the check is asked
    planner = Planner(
        backend, make_bmi_tools(calls), grammar="typed", relevance_check=True, join="observations", max_replans=1
    )
    events = [e async for e in planner.stream("What is the area of a triangle with base 3 and height 4?")]
    result = events[-1].result  # type: ignore[attr-defined]
    plan = result.plans[0]
    assert len(backend.requests) == 1 and backend.requests[0].grammar is None
    assert plan.text == "1. join()" and [t.is_join for t in plan.tasks] == [True]
    assert plan.relevance is not None and plan.relevance.unlisted == "calculate_area_of_triangle"
    assert calls == [] and result.status == "answered" and len(result.plans) == 1
    assert any(isinstance(e, Token) and e.text == "1. join()" for e in events)
    assert [e.task.name for e in events if isinstance(e, TaskParsed)] == ["join"]
    assert result.to_dict()["plans"][0]["relevance"]["unlisted"] == "calculate_area_of_triangle"


async def test_listed_first_action_goes_on_to_the_grammar_constrained_plan() -> None:
    calls: list[tuple[float, float]] = []
    backend = ScriptedBackend(["1. determine_body_mass_index(", BMI_PLAN])
    planner = Planner(backend, make_bmi_tools(calls), grammar="typed", relevance_check=True, join="observations")
    result = await planner.run("BMI for 70 kg and 1.75 m?")
    check, plan_request = backend.requests
    assert check.grammar is None and plan_request.grammar is not None and plan_request.stop == ("<END_OF_PLAN>",)
    assert check.prompt == plan_request.prompt  # same prompt: the backend's prompt cache serves both
    plan = result.plans[0]
    assert plan.relevance is not None and plan.relevance.unlisted is None
    assert calls == [(70, 1.75)] and "22.9" in (result.answer or "")
    assert plan.usage.completion_tokens >= plan.relevance.usage.completion_tokens + 1  # both requests counted


@pytest.mark.parametrize("free", ["Thought: first the BMI", "1. join", "", "1. determine_body_mass_index"])
async def test_inconclusive_or_listed_check_never_drops_the_plan(free: str) -> None:
    calls: list[tuple[float, float]] = []
    backend = ScriptedBackend([free, BMI_PLAN])
    planner = Planner(backend, make_bmi_tools(calls), relevance_check=True, join="observations")
    result = await planner.run("BMI for 70 kg and 1.75 m?")
    assert calls == [(70, 1.75)] and len(backend.requests) == 2
    assert result.plans[0].relevance is not None and result.plans[0].relevance.unlisted is None


async def test_check_runs_only_before_the_first_plan() -> None:
    calls: list[tuple[float, float]] = []
    backend = ScriptedBackend(
        [
            "1. determine_body_mass_index(",
            "1. determine_body_mass_index(weight=70, height=0)\n2. join()<END_OF_PLAN>",  # raises: replan
            BMI_PLAN,
        ]
    )
    planner = Planner(backend, make_bmi_tools(calls), relevance_check=True, join="observations", max_replans=1)
    result = await planner.run("BMI for 70 kg and 1.75 m?")
    assert len(backend.requests) == 3 and [p.relevance is not None for p in result.plans] == [True, False]
    assert result.status == "answered" and calls == [(70, 0), (70, 1.75)]


async def test_off_by_default_and_dry_run_plan_checks_too() -> None:
    backend = ScriptedBackend([BMI_PLAN])
    await Planner(backend, make_bmi_tools([]), join="observations").run("BMI for 70 kg and 1.75 m?")
    assert len(backend.requests) == 1

    backend = ScriptedBackend(["1. calculate_area_of_triangle("])
    plan = await Planner(backend, make_bmi_tools([]), relevance_check=True).plan("Area of a triangle of height 4?")
    assert plan.text == "1. join()" and plan.relevance is not None and len(backend.requests) == 1


async def test_backend_failing_during_the_check_raises() -> None:
    backend = ScriptedBackend([ScriptedFailure("1. calc", BackendStreamError("connection reset"))])
    planner = Planner(backend, make_bmi_tools([]), relevance_check=True, join="observations")
    with pytest.raises(BackendStreamError, match="connection reset"):
        await planner.run("BMI for 70 kg and 1.75 m?")


def test_prompt_actions_are_the_listed_tools_and_the_example_actions() -> None:
    prompt = Planner(ScriptedBackend([]), make_bmi_tools([])).render_prompt("Area of a triangle?").text
    actions = prompt_actions(prompt)
    assert {"determine_body_mass_index", "join", "search_hotels", "get_weather"} <= actions
    assert "calculate_area_of_triangle" not in actions


async def test_a_name_copied_from_an_example_plan_is_inconclusive() -> None:
    # T-Eval query_117_0: "find accommodations in Bali" made the model write the example's search_hotels
    calls: list[tuple[float, float]] = []
    backend = ScriptedBackend(["1. search_hotels(", BMI_PLAN])
    planner = Planner(backend, make_bmi_tools(calls), relevance_check=True, join="observations")
    result = await planner.run("BMI for 70 kg and 1.75 m?")
    relevance = result.plans[0].relevance
    assert relevance is not None and relevance.name == "search_hotels" and relevance.unlisted is None
    assert calls == [(70, 1.75)]


# ------------------------------------------------------------------------------------------ words in common
@pytest.mark.parametrize(
    ("request_text", "shared"),
    [
        ("BMI for 70 kg and 1.75 m?", True),  # an acronym of the tool's name
        ("What is my body-mass index?", True),
        ("How heavy is 70 kilograms in pounds?", True),  # kilograms ~ kilograms (the weight parameter's doc)
        ("What is the area of a triangle with base 3?", False),
        ("Who won the world cup in 2010?", False),
        ("What is it?", True),  # no content word at all: nothing to judge by
    ],
)
def test_shares_words_compares_content_words_stems_and_acronyms(request_text: str, shared: bool) -> None:
    from tinyplan._relevance import shares_words
    from tinyplan._tools import Toolset

    assert shares_words(request_text, Toolset(make_bmi_tools([]))) is shared


async def test_a_request_sharing_no_word_with_any_tool_is_planned_without_the_model() -> None:
    calls: list[tuple[float, float]] = []
    backend = ScriptedBackend([])  # asking the model would fail: nothing is scripted
    planner = Planner(backend, make_bmi_tools(calls), grammar="typed", relevance_check=True, join="observations")
    result = await planner.run("Who won the world cup in 2010?")
    plan = result.plans[0]
    assert backend.requests == [] and calls == []
    assert plan.text == "1. join()" and plan.relevance is not None and plan.relevance.unrelated
    assert plan.relevance.no_tool and plan.relevance.unlisted is None
    assert result.to_dict()["plans"][0]["relevance"]["unrelated"] is True


async def test_a_toolset_with_cues_decides_coverage_itself() -> None:
    from tinyplan import Cue, Toolset

    tools = Toolset(make_bmi_tools([]), cues=[Cue(r"\bbmi\b", frozenset({"determine_body_mass_index"}), "a BMI")])
    backend = ScriptedBackend(["1. determine_body_mass_index(", BMI_PLAN])
    planner = Planner(backend, tools, relevance_check=True, join="observations")
    result = await planner.run("Who won the world cup in 2010?")  # shares no word, but the cues rule: ask the model
    assert len(backend.requests) == 2 and not result.plans[0].relevance.unrelated  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------ made-up numbers
@pytest.mark.parametrize(
    ("request_text", "number"),
    [
        ("a rate of 5%", 0.05),
        ("an annual rate of 7 percent", 0.07),
        ("a net income of $2 million", 2_000_000),
        ("revenue of 1,250,000 dollars", 1_250_000),
        ("charges of 1e-9 and 2e-9", 2e-9),
        ("capacitance of 100µF", 1e-4),
        ("inductance of 50mH", 0.05),
        ("a pressure of 10 kPa", 10_000),
        ("a film of 1.5 hours", 90),
        ("for 2 hours", 7200),
        ("for 90 minutes", 1.5),
        ("at 3pm", 15),
        ("using less than 5 ingredients", 4),
        ("more than 5 players", 6),
        ("for the next week", 7),
        ("over the past decade", 10),
        ("twelve eggs", 12),
        ("coordinates (33.4484 N, 112.0740 W)", -112.074),
        ("a sine wave from 0 to 2 pi", 3.141592653589793),
    ],
)
def test_request_numbers_include_plain_conversions(request_text: str, number: float) -> None:
    from math import isclose

    from tinyplan._relevance import request_numbers

    assert any(isclose(number, n, rel_tol=1e-9) for n in request_numbers(request_text))


def test_request_numbers_hold_no_number_the_text_does_not_give() -> None:
    from tinyplan._relevance import request_numbers

    found = request_numbers("How far will a car travel in time 't' when launched with velocity 'v' at angle 'theta'?")
    assert not found & {10.0, 45.0, 2.0, 9.8}
    assert request_numbers("") == frozenset()
    assert 4000.0 not in request_numbers("a point 4m away from a wire carrying 2A")  # no prefix: metres, amperes


@given(st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 4))))
def test_any_number_written_in_digits_is_stated(number: float) -> None:
    from tinyplan._relevance import request_numbers

    assert float(number) in request_numbers(f"Please use {number} for it.")


def _calc_tools() -> list[object]:
    @tool
    def calculate_projectile_range(initial_velocity: float, angle: float, time: float = 1.0) -> float:
        """Range of a projectile.

        Args:
            initial_velocity: Launch speed in m/s.
            angle: Launch angle in degrees.
            time: Flight time in seconds.
        """
        return initial_velocity * time

    return [calculate_projectile_range]


def test_invented_numbers_judges_the_required_parameters_only() -> None:
    from tinyplan import Toolset, invented_numbers, parse_plan

    (fn,) = _calc_tools()
    toolset = Toolset([fn])
    tool_ = toolset["calculate_projectile_range"]
    task = parse_plan("1. calculate_projectile_range(initial_velocity=10, angle=45, time=2)\n2. join()")[0]
    asked = "How far will a car travel in time 't' when launched with velocity 'v' at an angle 'theta'?"
    assert invented_numbers(task, tool_, asked) == (10.0, 45.0)  # time is optional: its value is not judged
    assert invented_numbers(task, tool_, "Launched at 10 m/s, at what range does it land?") == ()
    assert invented_numbers(task, tool_, "Launched at an angle of 45 degrees, how far does it go?") == ()
    positional = parse_plan("1. calculate_projectile_range(10, 45)\n2. join()")[0]
    assert invented_numbers(positional, tool_, asked) == (10.0, 45.0)
    too_many = parse_plan("1. calculate_projectile_range(10, 45, 2, 3)\n2. join()")[0]
    assert invented_numbers(too_many, tool_, asked) == ()  # does not bind: the tool's own check says so


async def test_a_first_action_of_made_up_numbers_is_dropped_before_it_runs() -> None:
    ran: list[tuple[float, float]] = []

    @tool
    def calculate_projectile_range(initial_velocity: float, angle: float) -> float:
        """Range of a projectile.

        Args:
            initial_velocity: Launch speed in m/s.
            angle: Launch angle in degrees.
        """
        ran.append((initial_velocity, angle))
        return initial_velocity

    made_up = "1. calculate_projectile_range(initial_velocity=10, angle=45)\n2. join()<END_OF_PLAN>"
    backend = ScriptedBackend(["1. calculate_projectile_range(", made_up])
    planner = Planner(backend, [calculate_projectile_range], grammar="typed", relevance_check=True, join="observations")
    events = [e async for e in planner.stream("How far will a car travel when launched at velocity 'v'?")]
    result = events[-1].result  # type: ignore[attr-defined]
    plan = result.plans[0]
    assert ran == [] and plan.text == "1. join()" and [t.is_join for t in plan.tasks] == [True]
    assert plan.relevance is not None and plan.relevance.invented == (10.0, 45.0) and plan.relevance.no_tool
    assert [e.task.name for e in events if isinstance(e, TaskParsed)] == ["join"]
    assert result.to_dict()["plans"][0]["relevance"]["invented"] == [10.0, 45.0]

    stated = "How far will a car travel when launched at 10 m/s at 45 degrees?"
    backend = ScriptedBackend(["1. calculate_projectile_range(", made_up])
    planner = Planner(backend, [calculate_projectile_range], grammar="typed", relevance_check=True, join="observations")
    result = await planner.run(stated)
    assert ran == [(10, 45)] and result.plans[0].relevance.invented == ()  # type: ignore[union-attr]

    ran.clear()  # without the relevance check the numbers are not judged
    backend = ScriptedBackend([made_up])
    await Planner(backend, [calculate_projectile_range], grammar="typed", join="observations").run(
        "How far will a car travel when launched at velocity 'v'?"
    )
    assert ran == [(10, 45)]
