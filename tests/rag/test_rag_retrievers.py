"""The embedding and classifier retrievers, on a deterministic bag-of-words embedder (exact and fast)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs the rag extra: pip install 'tinyplan[rag]'")
pytest.importorskip("safetensors", reason="needs the rag extra: pip install 'tinyplan[rag]'")

from rag_helpers import EXAMPLES, BagOfWordsEmbedder
from safetensors.numpy import save_file

from tinyplan import Toolset
from tinyplan.rag import (
    ClassifierRetriever,
    EmbeddingRetriever,
    RetrieverError,
    RetrieverModelError,
    RetrieverUnavailableError,
    apply_selection,
    pairs_from_examples,
    parse_example,
    request_views,
    tool_text,
)
from tinyplan.rag._classifier import FORMAT, FORMAT_VERSION


# ------------------------------------------------------------------------------------------------------ embedding
def test_request_views_split_sentences() -> None:
    assert request_views("  What is the weather in Paris?  ") == ["What is the weather in Paris?"]
    views = request_views("What is the weather in Paris? Also convert 100 dollars to euros.")
    assert views == [
        "What is the weather in Paris? Also convert 100 dollars to euros.",
        "What is the weather in Paris?",
        "Also convert 100 dollars to euros.",
    ]


def test_tool_text_has_words_description_and_signature(toolset: Toolset) -> None:
    text = tool_text(toolset["get_email_address"])
    assert text.startswith("get email address: Look up the email address of a contact by name.")
    assert text.endswith("get_email_address(name: str) -> str")


@pytest.mark.anyio
async def test_embedding_retriever_ranks_the_right_tools_first(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    retriever = EmbeddingRetriever(embedder, top_k=2, example_weight=0.0)
    selection = await retriever.select("Convert 30 pounds to another currency", toolset)
    assert selection.tool_names[0] == "convert_currency"
    assert len(selection.tools) == 2
    assert selection.elapsed >= 0
    assert [t.score for t in selection.tools] == sorted((t.score for t in selection.tools), reverse=True)


@pytest.mark.anyio
async def test_embedding_retriever_uses_example_questions(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    # "dentist tomorrow" shares no word with any tool text, only with an example question.
    request = "Dentist tomorrow"
    without = EmbeddingRetriever(embedder, top_k=1, example_weight=0.0).select_sync(request, toolset)
    with_examples = await EmbeddingRetriever(embedder, top_k=1).select(request, toolset)
    assert without.tool_names != ["create_calendar_event"]
    assert with_examples.tool_names == ["create_calendar_event"]
    assert with_examples.example_texts == [EXAMPLES[1]]


def test_embedding_retriever_example_rule_and_multi_intent(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    retriever = EmbeddingRetriever(embedder, top_k=4, max_examples=2)
    two_sentences = "Email Bob the weather forecast for Rome. Convert 5 dollars to euros."
    one_sentence = "Email Bob the weather forecast for Rome and convert 5 dollars to euros"
    split = retriever.select_sync(two_sentences, toolset)
    whole = retriever.select_sync(one_sentence, toolset)
    assert set(split.tool_names) == {"get_weather", "send_email", "get_email_address", "convert_currency"}
    # The sentence asking only for the conversion scores convert_currency higher than the whole request does.
    assert split.tools[3].name == whole.tools[3].name == "convert_currency"
    assert split.tools[3].score > whole.tools[3].score
    # Both qualifying examples are chosen, best first; each uses selected tools only.
    assert split.example_texts == [EXAMPLES[0], EXAMPLES[2]]
    for text in split.example_texts:
        assert parse_example(text).tools <= set(split.tool_names)
    # With convert_currency left out (top_k=3), the currency example no longer qualifies.
    narrow = EmbeddingRetriever(embedder, top_k=3, max_examples=2).select_sync(two_sentences, toolset)
    assert narrow.example_texts == [EXAMPLES[0], EXAMPLES[3]]


def test_embedding_retriever_relative_cut(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    wide = EmbeddingRetriever(embedder, top_k=5, example_weight=0.0).select_sync("weather forecast in Oslo", toolset)
    cut = EmbeddingRetriever(embedder, top_k=5, relative_cut=0.05, example_weight=0.0).select_sync(
        "weather forecast in Oslo", toolset
    )
    assert len(wide.tools) == 5
    assert cut.tool_names == ["get_weather"]
    assert all(t.score >= cut.tools[0].score - 0.05 for t in cut.tools)


def test_embedding_retriever_caches_the_index(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    retriever = EmbeddingRetriever(embedder)
    retriever.select_sync("weather in Oslo", toolset)
    calls = embedder.calls
    retriever.select_sync("weather in Rome", toolset)
    assert embedder.calls == calls + 1  # only the request was embedded


def test_embedding_retriever_empty_toolset_selects_nothing(embedder: BagOfWordsEmbedder) -> None:
    empty = Toolset()
    selection = EmbeddingRetriever(embedder).select_sync("anything", empty)
    assert selection.tools == ()
    assert apply_selection(empty, selection) is empty


@pytest.mark.parametrize(
    "options",
    [{"top_k": 0}, {"relative_cut": -0.1}, {"max_examples": -1}, {"example_weight": float("nan")}],
)
def test_embedding_retriever_rejects_bad_options(embedder: BagOfWordsEmbedder, options: dict[str, float]) -> None:
    with pytest.raises(RetrieverError):
        EmbeddingRetriever(embedder, **options)  # type: ignore[arg-type]


def test_embedding_retriever_reports_a_bad_example(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    broken = Toolset(toolset, examples=["Question: oops\n1. get_weather(\n"])
    with pytest.raises(RetrieverError, match="does not parse"):
        EmbeddingRetriever(embedder).select_sync("weather", broken)


# ----------------------------------------------------------------------------------------------------- classifier
PAIRS = [
    ("What's the weather like in Berlin today?", ["get_weather"]),
    ("Will it rain in Madrid?", ["get_weather"]),
    ("Is it cold in Oslo?", ["get_weather"]),
    ("Send Carla a message about the report", ["get_email_address", "send_email"]),
    ("Write to Dan that I am late", ["get_email_address", "send_email"]),
    ("Mail the invoice to billing@example.com", ["send_email"]),
    ("Schedule a meeting with the team on Monday", ["create_calendar_event"]),
    ("Add lunch with Eva to my agenda at noon", ["create_calendar_event"]),
    ("How much is 20 pounds in yen?", ["convert_currency"]),
    ("Exchange 50 francs to dollars", ["convert_currency"]),
    ("Tell me a joke", []),
]


@pytest.fixture
def classifier(embedder: BagOfWordsEmbedder, toolset: Toolset) -> ClassifierRetriever:
    return ClassifierRetriever.train(PAIRS, toolset, embedder=embedder, epochs=300, seed=1)


@pytest.mark.anyio
async def test_classifier_learns_its_training_pairs(classifier: ClassifierRetriever, toolset: Toolset) -> None:
    probabilities = classifier.probabilities("Will it rain in Madrid?")
    assert probabilities["get_weather"] > 0.5
    assert all(p < 0.5 for name, p in probabilities.items() if name != "get_weather")
    selection = await classifier.select("Write to Dan that I am late", toolset)
    assert set(selection.tool_names) == {"get_email_address", "send_email"}
    assert all(t.score > 0.5 for t in selection.tools)
    # Examples follow the rule: all their tools selected (the Anna example also needs get_weather).
    assert selection.example_texts == [EXAMPLES[3]]


def test_classifier_nothing_above_threshold_means_full_toolset(
    classifier: ClassifierRetriever, toolset: Toolset
) -> None:
    selection = classifier.select_sync("Tell me a joke", toolset)
    assert selection.tools == ()
    assert apply_selection(toolset, selection) is toolset
    classifier.min_tools = 2
    assert len(classifier.select_sync("Tell me a joke", toolset).tools) == 2


def test_classifier_round_trip(classifier: ClassifierRetriever, embedder: BagOfWordsEmbedder, tmp_path: Path) -> None:
    path = classifier.save(tmp_path / "rag.safetensors")
    loaded = ClassifierRetriever.load(path, embedder=embedder)
    assert loaded.tools == classifier.tools
    assert loaded.threshold == classifier.threshold and loaded.hidden == classifier.hidden == 0
    for request, _ in [*PAIRS, ("Convert 3 dollars and check the weather in Rome.", [])]:
        assert loaded.probabilities(request) == classifier.probabilities(request)
    assert ClassifierRetriever.load(path, embedder=embedder, threshold=0.9).threshold == 0.9


def test_classifier_with_hidden_layer_round_trip(
    embedder: BagOfWordsEmbedder, toolset: Toolset, tmp_path: Path
) -> None:
    trained = ClassifierRetriever.train(PAIRS, toolset, embedder=embedder, hidden=32, epochs=400, seed=3)
    assert trained.hidden == 32
    assert trained.probabilities("How much is 20 pounds in yen?")["convert_currency"] > 0.5
    loaded = ClassifierRetriever.load(trained.save(tmp_path / "h.safetensors"), embedder=embedder)
    assert loaded.hidden == 32
    assert loaded.probabilities("Is it cold in Oslo?") == trained.probabilities("Is it cold in Oslo?")


def test_classifier_training_is_reproducible(embedder: BagOfWordsEmbedder, toolset: Toolset) -> None:
    a = ClassifierRetriever.train(PAIRS, toolset, embedder=embedder, hidden=8, epochs=20, seed=5)
    b = ClassifierRetriever.train(PAIRS, toolset, embedder=embedder, hidden=8, epochs=20, seed=5)
    assert a.probabilities("weather") == b.probabilities("weather")


def test_pairs_from_examples(toolset: Toolset) -> None:
    pairs = pairs_from_examples(toolset)
    assert pairs[1] == ("Put a dentist appointment in my calendar tomorrow at 9.", frozenset({"create_calendar_event"}))
    assert len(pairs) == len(EXAMPLES)


def test_classifier_unknown_tools(classifier: ClassifierRetriever, toolset: Toolset) -> None:
    from rag_helpers import get_weather

    from tinyplan import tool

    @tool
    def play_music(song: str) -> str:
        """Play a song."""
        return song

    bigger = Toolset([*toolset, play_music], examples=toolset.examples)
    selection = classifier.select_sync("Will it rain in Madrid?", bigger)
    assert selection.tool_names == ["get_weather", "play_music"]  # kept: the classifier cannot judge it
    assert selection.tools[-1].score == 1.0
    classifier.unknown_tools = "error"
    with pytest.raises(RetrieverModelError, match="not trained on 1 tool"):
        classifier.select_sync("Will it rain in Madrid?", bigger)
    # Tools the classifier knows but the toolset lacks are simply not selectable.
    small = Toolset([get_weather])
    assert classifier.select_sync("Send Carla a message", small).tools == ()


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        ([], "no training pairs"),
        ([("weather", ["get_forecast"])], "not in the toolset"),
        ([("", ["get_weather"])], "non-empty string"),
    ],
)
def test_classifier_training_rejects_bad_pairs(
    embedder: BagOfWordsEmbedder, toolset: Toolset, pairs: list[tuple[str, list[str]]], match: str
) -> None:
    with pytest.raises(RetrieverError, match=match):
        ClassifierRetriever.train(pairs, toolset, embedder=embedder)


def test_classifier_training_rejects_empty_toolset_and_bad_options(
    embedder: BagOfWordsEmbedder, toolset: Toolset
) -> None:
    with pytest.raises(RetrieverError, match="empty toolset"):
        ClassifierRetriever.train(PAIRS, Toolset(), embedder=embedder)
    with pytest.raises(RetrieverError, match="epochs"):
        ClassifierRetriever.train(PAIRS, toolset, embedder=embedder, epochs=0)
    with pytest.raises(RetrieverError, match="threshold"):
        ClassifierRetriever.train(PAIRS, toolset, embedder=embedder, epochs=1, threshold=1.5)


def test_classifier_rejects_weights_that_do_not_fit(embedder: BagOfWordsEmbedder) -> None:
    d = embedder.dimension
    with pytest.raises(RetrieverModelError, match="shape"):
        ClassifierRetriever(["a", "b"], {"w1": np.zeros((d, 3)), "b1": np.zeros(3)}, embedder=embedder)
    with pytest.raises(RetrieverModelError, match="w1, b1"):
        ClassifierRetriever(["a"], {"w1": np.zeros((d, 1))}, embedder=embedder)
    with pytest.raises(RetrieverModelError, match="NaN"):
        ClassifierRetriever(["a"], {"w1": np.full((d, 1), np.nan), "b1": np.zeros(1)}, embedder=embedder)
    with pytest.raises(RetrieverModelError, match="distinct"):
        ClassifierRetriever(["a", "a"], {"w1": np.zeros((d, 2)), "b1": np.zeros(2)}, embedder=embedder)


# ------------------------------------------------------------------------------------------------- corrupt files
def _write(path: Path, weights: dict[str, np.ndarray], metadata: dict[str, str]) -> Path:
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}, str(path), metadata=metadata)
    return path


def test_load_rejects_missing_and_corrupt_files(
    classifier: ClassifierRetriever, embedder: BagOfWordsEmbedder, tmp_path: Path
) -> None:
    with pytest.raises(RetrieverModelError, match="no classifier file"):
        ClassifierRetriever.load(tmp_path / "missing.safetensors", embedder=embedder)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 not a safetensors file at all")
    with pytest.raises(RetrieverModelError, match="not a readable safetensors"):
        ClassifierRetriever.load(garbage, embedder=embedder)
    good = classifier.save(tmp_path / "good.safetensors").read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(RetrieverModelError, match="not a readable safetensors"):
        ClassifierRetriever.load(truncated, embedder=embedder)


def test_load_rejects_foreign_headers(
    classifier: ClassifierRetriever, embedder: BagOfWordsEmbedder, tmp_path: Path
) -> None:
    d, n = embedder.dimension, len(classifier.tools)
    weights = {"w1": np.zeros((d, n)), "b1": np.zeros(n)}
    config = {
        "tools": classifier.tools,
        "embedder": embedder.name,
        "dimension": d,
        "threshold": 0.5,
        "min_tools": 0,
        "max_tools": None,
        "max_examples": 3,
    }
    ok = {"format": FORMAT, "version": str(FORMAT_VERSION), "config": json.dumps(config)}
    assert ClassifierRetriever.load(_write(tmp_path / "ok.st", weights, ok), embedder=embedder).tools == config["tools"]
    cases = [
        ({**ok, "format": "something-else"}, "not a tinyplan ToolRAG classifier"),
        ({**ok, "version": "99"}, "format version '99'"),
        ({**ok, "config": "{not json"}, "bad configuration"),
        ({**ok, "config": json.dumps({**config, "embedder": "other-model"})}, "trained with embedder other-model"),
        ({**ok, "config": json.dumps({**config, "tools": "get_weather"})}, "list of names"),
        ({**ok, "config": json.dumps({**config, "threshold": 7})}, "bad options"),
        ({**ok, "config": json.dumps({**config, "tools": [*config["tools"], "extra"]})}, "shape"),
    ]
    for i, (metadata, match) in enumerate(cases):
        with pytest.raises(RetrieverModelError, match=match):
            ClassifierRetriever.load(_write(tmp_path / f"bad{i}.st", weights, metadata), embedder=embedder)


# ---------------------------------------------------------------------------------------------- missing extras
def test_training_without_torch_says_what_to_install(
    embedder: BagOfWordsEmbedder, toolset: Toolset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(RetrieverUnavailableError, match=r"pip install 'tinyplan\[rag\]'"):
        ClassifierRetriever.train(PAIRS, toolset, embedder=embedder)


def test_save_and_load_without_safetensors_say_what_to_install(
    classifier: ClassifierRetriever, embedder: BagOfWordsEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = classifier.save(tmp_path / "c.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(RetrieverUnavailableError, match=r"tinyplan\[rag\]"):
        classifier.save(tmp_path / "d.safetensors")
    with pytest.raises(RetrieverUnavailableError, match=r"tinyplan\[rag\]"):
        ClassifierRetriever.load(path, embedder=embedder)
