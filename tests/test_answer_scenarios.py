"""The answer benchmark's scenarios and judge (``benchmarks/answer_scenarios.py``), with scripted model replies."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tinyplan import Planner, ScriptedBackend, get_tool

pytestmark = pytest.mark.anyio


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "answer_scenarios.py"
    spec = importlib.util.spec_from_file_location("answer_scenarios", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["answer_scenarios"] = module
    spec.loader.exec_module(module)
    return module


sc = _load()


def scenario(name: str) -> object:
    return next(s for s in sc.SCENARIOS + sc.HELDOUT if s.name == name)


async def run(name: str, plan: str, join: str) -> object:
    s = scenario(name)
    world = sc.World()
    planner = Planner(ScriptedBackend([plan, join]), s.tools(world), max_replans=0)  # type: ignore[attr-defined]
    result = await planner.run(s.request)  # type: ignore[attr-defined]
    return sc.judge(s, result, world)


async def test_a_right_dependent_run_passes_and_a_wrong_answer_or_effect_fails() -> None:
    plan = (
        '1. get_empty_rooms("14:00", "16:00")\n2. reserve_room(room_id="$1[0]", start_time="14:30", '
        'end_time="15:30")\n3. join()'
    )
    ok = await run("book-room", plan, "Thought: booked.\nAction: Finish(I booked room 103 from 14:30 to 15:30.)")
    assert ok.ok and ok.answer_ok and ok.effect_ok and ok.status == "answered" and ok.rounds == 1
    vague = await run("book-room", plan, "Thought: booked.\nAction: Finish(A room is booked.)")
    assert not vague.ok and not vague.answer_ok and vague.effect_ok
    wrong_time = plan.replace('"14:30"', '"14:00"')
    no_effect = await run("book-room", wrong_time, "Thought: booked.\nAction: Finish(Room 103 is booked.)")
    assert not no_effect.ok and no_effect.answer_ok and not no_effect.effect_ok


async def test_made_up_values_and_wrong_comparisons_fail() -> None:
    failing = '1. get_temperature("Atlantis")\n2. join()'
    made_up = await run("unknown-city", failing, "Thought: x.\nAction: Finish(Atlantis is at 21 degrees.)")
    assert not made_up.answer_ok
    honest = await run("unknown-city", failing, "Thought: x.\nAction: Finish(There is no weather data for Atlantis.)")
    assert honest.answer_ok
    both = '1. get_temperature("Paris")\n2. get_temperature("Rome")\n3. join()'
    wrong = await run("warmer-city", both, "Thought: x.\nAction: Finish(Paris is warmer: 14.0 °C against Rome.)")
    right = await run("warmer-city", both, "Thought: x.\nAction: Finish(Rome is warmer, at 19.5 °C.)")
    assert not wrong.answer_ok and right.answer_ok


async def test_held_out_effects_need_every_value_the_request_names() -> None:
    one_title = '1. search_articles("home batteries")\n2. write_file("notes/batteries.txt", "$1[0].title")\n3. join()'
    both = '1. search_articles("home batteries")\n2. write_file("notes/batteries.txt", "Titles: $1")\n3. join()'
    done = "Thought: saved.\nAction: Finish(I saved the titles to notes/batteries.txt.)"
    assert not (await run("save-titles", one_title, done)).effect_ok
    assert (await run("save-titles", both, done)).ok


def test_scenarios_are_well_formed() -> None:
    names = [s.name for s in sc.SCENARIOS + sc.HELDOUT]
    assert len(names) == len(set(names)) == 18
    for s in sc.SCENARIOS + sc.HELDOUT:
        tools = [get_tool(f) for f in s.tools(sc.World())]
        assert tools and all(t.description for t in tools), s.name
        assert s.answer_has, s.name
    assert sum(s.dependent for s in sc.SCENARIOS) == 6 and all(s.dependent for s in sc.HELDOUT)
    assert sc.judge  # the numbers with thousands separators are compared without them
    assert sc._norm("1,250.5 EUR") == "1250.5 eur"
