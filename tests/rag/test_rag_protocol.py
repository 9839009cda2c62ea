"""The ToolRAG protocol pieces: example parsing, the example selection rule, and the planner's fallback decision."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rag_helpers import EXAMPLES, BagOfWordsEmbedder

from tinyplan import TinyplanError, Toolset
from tinyplan.rag import (
    ClassifierRetriever,
    EmbeddingRetriever,
    ExamplePlan,
    RetrieverError,
    ScoredExample,
    ScoredTool,
    Selection,
    ToolRetriever,
    apply_selection,
    parse_example,
    select_examples,
)


def test_parse_example_splits_question_and_tools() -> None:
    example = parse_example(EXAMPLES[0])
    assert example.request == "Email Anna the weather forecast for Paris."
    assert example.tools == {"get_weather", "get_email_address", "send_email"}
    assert example.text == EXAMPLES[0]


def test_parse_example_with_thoughts_and_multiline_question() -> None:
    text = 'Question: First line\nsecond line.\nThought: look it up\n1. get_weather("Oslo")\nThought: done\n2. join()'
    example = parse_example(text)
    assert example.request == "First line\nsecond line."
    assert example.tools == {"get_weather"}


def test_parse_example_join_only_has_no_tools() -> None:
    assert parse_example("Question: Tell me a joke.\n1. join()<END_OF_PLAN>").tools == frozenset()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Question: no plan here", "without plan lines"),
        ('1. get_weather("Oslo")\n2. join()', "without a question"),
        ('Question: broken\n1. get_weather("Oslo"\n2. join()', "does not parse"),
        ("Question: bad ref\n1. send_email($3, 'a', 'b')\n2. join()", "does not parse"),
    ],
)
def test_parse_example_rejects_bad_examples(text: str, reason: str) -> None:
    with pytest.raises(RetrieverError, match=reason):
        parse_example(text)


def test_retriever_errors_are_tinyplan_errors() -> None:
    assert issubclass(RetrieverError, TinyplanError)


# ----------------------------------------------------------------------------------------------- example selection
def _ex(text: str, *tools: str) -> ExamplePlan:
    return ExamplePlan(text=text, request=text, tools=frozenset(tools))


def test_select_examples_keeps_only_examples_whose_tools_are_all_selected() -> None:
    examples = [_ex("a", "x", "y"), _ex("b", "x"), _ex("c", "z"), _ex("d")]
    chosen = select_examples(examples, [0.9, 0.5, 0.95, 0.1], {"x"}, k=5)
    assert [e.text for e in chosen] == ["b", "d"]  # "a" needs y, "c" needs z; "d" calls no tool
    assert chosen[0] == ScoredExample("b", 0.5)


def test_select_examples_top_k_by_similarity_ties_in_order() -> None:
    examples = [_ex(t, "x") for t in "abcde"]
    chosen = select_examples(examples, [0.2, 0.7, 0.7, 0.9, 0.1], {"x"}, k=3)
    assert [e.text for e in chosen] == ["d", "b", "c"]
    assert select_examples(examples, [0.2] * 5, {"x"}, k=0) == ()


def test_select_examples_bad_input() -> None:
    with pytest.raises(RetrieverError, match="similarities"):
        select_examples([_ex("a")], [0.1, 0.2], set(), k=1)
    with pytest.raises(RetrieverError, match=">= 0"):
        select_examples([_ex("a")], [0.1], set(), k=-1)


tool_names = st.sampled_from(["a", "b", "c", "d"])


@given(
    st.lists(st.tuples(st.frozensets(tool_names, max_size=3), st.floats(-1, 1)), max_size=12),
    st.frozensets(tool_names),
    st.integers(0, 6),
)
def test_select_examples_invariants(
    items: list[tuple[frozenset[str], float]], selected: frozenset[str], k: int
) -> None:
    examples = [ExamplePlan(text=str(i), request=str(i), tools=tools) for i, (tools, _) in enumerate(items)]
    sims = [s for _, s in items]
    chosen = select_examples(examples, sims, selected, k=k)
    eligible = [i for i, ex in enumerate(examples) if ex.tools <= selected]
    picked = [int(e.text) for e in chosen]
    assert len(picked) == min(k, len(eligible))
    assert set(picked) <= set(eligible)
    assert [e.score for e in chosen] == sorted((e.score for e in chosen), reverse=True)
    if picked:  # nothing left out beats what was chosen
        assert all(sims[i] <= chosen[-1].score for i in eligible if i not in picked)


# -------------------------------------------------------------------------------------------------- apply_selection
def test_apply_selection_subsets_in_toolset_order_with_selected_examples(toolset: Toolset) -> None:
    selection = Selection(
        tools=(ScoredTool("send_email", 0.9), ScoredTool("get_email_address", 0.8), ScoredTool("nope", 0.7)),
        examples=(ScoredExample(EXAMPLES[3], 0.6),),
    )
    used = apply_selection(toolset, selection)
    assert used.names == ["send_email", "get_email_address"]
    assert used.examples == [EXAMPLES[3]]
    assert used.instructions == toolset.instructions
    assert len(toolset) == 5 and toolset.examples == EXAMPLES  # the full toolset is untouched


@pytest.mark.parametrize(
    "selection",
    [None, Selection(()), Selection((ScoredTool("unknown_tool", 0.9),))],
    ids=["no retriever", "empty selection", "only unknown names"],
)
def test_apply_selection_falls_back_to_the_full_toolset(toolset: Toolset, selection: Selection | None) -> None:
    assert apply_selection(toolset, selection) is toolset


def test_selection_accessors() -> None:
    s = Selection((ScoredTool("a", 0.5), ScoredTool("b", 0.2)), (ScoredExample("ex", 0.3),), 0.01)
    assert s.tool_names == ["a", "b"]
    assert s.example_texts == ["ex"]


def test_retrievers_satisfy_the_protocol(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    assert isinstance(EmbeddingRetriever(embedder), ToolRetriever)
    pytest.importorskip("torch", reason="training needs the rag extra: pip install 'tinyplan[rag]'")
    trained = ClassifierRetriever.train([("weather in Rome", ["get_weather"])], toolset, embedder=embedder, epochs=5)
    assert isinstance(trained, ToolRetriever)


def test_parse_example_question_with_numbered_lines() -> None:
    text = (
        "Question: Two questions for you.\n\n1. What is the chance of an ace?\n2. Thought: think of the odds too.\n"
        '1. get_weather("Oslo")\n2. join()<END_OF_PLAN>'
    )
    example = parse_example(text)
    assert example.request.startswith("Two questions for you.")
    assert example.request.endswith("2. Thought: think of the odds too.")
    assert example.tools == {"get_weather"}
