"""The LLM joiner on real input: the default model plans, real tools run, and the joiner's answer is checked.

Five scenarios of ``benchmarks/answer_scenarios.py`` (the full set is measured by ``benchmarks/bench_answers.py``):
a dependent booking (the room id comes from the search), two texts whose numbers come from lookups, a tool that
fails (the answer must not make up a temperature), a rating of a search result, and the reviews of two search
results that the model refers to as ``"$1[0]"`` (objects, whose ``id`` the parameter ``stay_id`` takes). Each is
judged on the answer's facts and the tools' side effects, with the planner configured as `Planner` is by default
plus the typed grammar.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import anyio
import pytest

from tinyplan import Planner
from tinyplan.backends import LlamaCppBackend
from tinyplan.backends._gguf import default_model_path

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

_SCENARIOS_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "answer_scenarios.py"


def _load_scenarios() -> ModuleType:
    spec = importlib.util.spec_from_file_location("answer_scenarios", _SCENARIOS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["answer_scenarios"] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


scenarios = _load_scenarios()
CHECKED = ("book-room", "text-two", "unknown-city", "restaurant-rating", "stay-reviews")


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(default_model_path(), n_ctx=8192)
    yield backend
    anyio.run(backend.aclose)  # unload the model: the next module loads its own


@pytest.mark.parametrize("name", CHECKED)
async def test_default_model_answers_from_the_observations(backend: LlamaCppBackend, name: str) -> None:
    scenario = next(s for s in scenarios.SCENARIOS + scenarios.HELDOUT if s.name == name)
    world = scenarios.World()
    planner = Planner(backend, scenario.tools(world), grammar="typed")
    assert planner.joiner_grammar  # on by default: the in-process backend takes grammars
    result = await planner.run(scenario.request)
    outcome = scenarios.judge(scenario, result, world)
    plans = "\n---\n".join(p.text + f"\nJOIN: {p.decision.raw if p.decision else ''}" for p in result.plans)
    assert outcome.ok, f"{outcome}\n{plans}"
