"""Leave-one-out in-context examples (`with_examples`) and the example text of a case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyplan import ScriptedBackend, parse_plan
from tinyplan.eval import EvalDataError, TinyplanSystem, default_root, evaluate, load_dataset, spread, with_examples


def _tool(name: str, param: str, description: str) -> dict[str, object]:
    properties = {param: {"type": "string"}}
    return {"name": name, "description": description, "parameters": {"type": "object", "properties": properties}}


TOOLS = [
    _tool("search_hotels", "city", "Hotels in a city."),
    _tool("get_reviews", "hotel_id", "Reviews of a hotel."),
    _tool("get_weather", "city", "Weather in a city."),
]
SEARCH_REVIEWS = "1. search_hotels('{}')\n2. get_reviews('$1')\n3. join()"
CASES = [
    ("lisbon", "Find hotels in Lisbon and show me their reviews", SEARCH_REVIEWS.format("Lisbon")),
    ("porto", "Find hotels in Porto and show me their reviews", SEARCH_REVIEWS.format("Porto")),
    ("faro", "Hotels in Faro please", "1. search_hotels('Faro')\n2. join()"),
    ("rome-weather", "What is the weather in Rome", "1. get_weather('Rome')\n2. join()"),
    ("joke", "Tell me a joke about hotels in Lisbon", "1. join()"),
]


@pytest.fixture
def cases(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "cases.jsonl"
    lines = []
    for case_id, request, plan in CASES:
        tools = TOOLS if case_id != "faro" else TOOLS[:1]  # faro is offered only the search
        lines.append(json.dumps({"id": case_id, "request": request, "tools": tools, "plan": plan}))
    path.write_text("\n".join(lines) + "\n")
    return load_dataset(f"jsonl:{path}")


def test_examples_are_the_most_similar_other_cases(cases) -> None:  # type: ignore[no-untyped-def]
    by_id = {c.id: c for c in with_examples(cases, 2)}
    lisbon = by_id["lisbon"].examples
    # porto is the closest request, faro the next one; the most similar comes last, nearest the question
    assert [e.splitlines()[0] for e in lisbon] == [
        "Question: Hotels in Faro please",
        "Question: Find hotels in Porto and show me their reviews",
    ]
    assert lisbon[1] == (
        'Question: Find hotels in Porto and show me their reviews\n1. search_hotels(city="Porto")\n'
        '2. get_reviews(hotel_id="$1")\n3. join()<END_OF_PLAN>'
    )
    # never itself; never a plan without a call (joke); never a plan with a tool the case is not offered
    assert all(c.request not in "\n".join(c.examples) for c in by_id.values())
    assert all("Tell me a joke" not in "\n".join(c.examples) for c in by_id.values())
    assert all("get_reviews" not in e and "get_weather" not in e for e in by_id["faro"].examples)
    assert [e.splitlines()[0] for e in with_examples(cases, 1)[0].examples] == [
        "Question: Find hotels in Porto and show me their reviews"
    ]
    # the pool may be larger than the cases evaluated
    (only,) = with_examples([cases[3]], 3, pool=cases)
    assert len(only.examples) == 3 and all(e.startswith("Question: ") for e in only.examples)
    with pytest.raises(EvalDataError, match="at least 1"):
        with_examples(cases, 0)


@pytest.mark.anyio
async def test_the_planner_prompt_shows_the_examples(cases) -> None:  # type: ignore[no-untyped-def]
    (lisbon,) = [c for c in with_examples(cases, 1) if c.id == "lisbon"]
    backend = ScriptedBackend(["1. search_hotels('Lisbon')\n2. get_reviews('$1')\n3. join()<END_OF_PLAN>"])
    report = await evaluate([lisbon], TinyplanSystem(backend), progress=False)
    assert report.records[0].score.strict_success
    prompt = backend.requests[0].text
    assert "Question: Find hotels in Porto and show me their reviews\n1. search_hotels" in prompt
    assert "Tell me a joke about cats" not in prompt  # the generic examples are replaced


@pytest.mark.skipif(not (default_root() / "teval").is_dir(), reason=f"evaluation data not found at {default_root()}")
def test_teval_examples_use_references_and_other_queries() -> None:
    pool = load_dataset("teval:data")
    film = next(c for c in pool if c.id == "query_47_2")
    assert film.group == "query_47"
    assert film.example_text().splitlines()[1:] == [
        '1. FilmTMDB_search_movie(query="Inception")',
        '2. FilmTMDB_get_movie_reviews(movie_id="$1")',
        '3. FilmTMDB_get_similar_movies(movie_id="$1")',
        "4. join()<END_OF_PLAN>",
    ]
    sample = with_examples(spread(pool, 20), 3, pool=pool)
    assert sum(bool(c.examples) for c in sample) >= 15
    texts = {c.example_text(): c for c in pool}
    for case in sample:
        assert len(case.examples) <= 3
        for example in case.examples:
            source = texts[example]
            assert source.group != case.group  # another wording of the same request would give the answer away
            plan = parse_plan(example.split("\n", 1)[1], tools=case.toolset())  # only tools the case is offered
            assert plan[-1].is_join
