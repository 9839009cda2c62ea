"""The trainable ToolRAG retriever: a multi-label tool classifier over frozen sentence embeddings.

TinyAgent (Erdogan et al. 2024) fine-tunes DeBERTa-v3-small with one sigmoid output per tool and keeps the tools whose
probability exceeds 0.5. tinyplan keeps the design but freezes the encoder: the request is embedded with
all-MiniLM-L6-v2 (`MiniLMEmbedder`) and a small head (a linear layer, or one hidden layer) maps the 384-dimensional
embedding to one logit per tool. Training uses binary cross-entropy (torch, Adam) on ``(request, tools used)`` pairs:
a toolset's example plans, a user's own data, or a dataset split. Each tool's own text (name, description,
signature) is added as a training request for that tool, so a tool no request used still has a positive example.

Training a few thousand pairs takes seconds on a 2-core CPU once they are embedded (embedding dominates: about
10-20 requests per second per core for long requests). The trained head is saved as a safetensors file whose
header holds the configuration as JSON: no pickle, nothing executed when loading. Inference needs only numpy and
the embedder.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import numpy as np
import numpy.typing as npt

from tinyplan._retriever import (
    RetrieverError,
    RetrieverModelError,
    RetrieverUnavailableError,
    ScoredTool,
    Selection,
    parse_example,
    select_examples,
)
from tinyplan._tools import Toolset
from tinyplan.rag._embedding import (
    Embedder,
    Matrix,
    _IndexCache,
    default_embedder,
    embed_request,
    tool_text,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "ClassifierRetriever", "TrainingPair", "pairs_from_examples"]

#: The ``format`` entry of a saved classifier's header.
FORMAT = "tinyplan-toolrag-classifier"
#: The format version this code writes and reads.
FORMAT_VERSION = 1

#: A training pair: a request and the names of the tools its plan used (may be empty: "no tool").
TrainingPair = tuple[str, Iterable[str]]

_INSTALL_HINT = "install the ToolRAG extra: pip install 'tinyplan[rag]' (torch, safetensors, sentence-transformers)"


def pairs_from_examples(toolset: Toolset) -> list[tuple[str, frozenset[str]]]:
    """Training pairs from a toolset's example plans: each example's question and the tools its plan calls.

    Raises:
        RetrieverError: An example plan does not parse.
    """
    return [(e.request, e.tools) for e in (parse_example(text) for text in toolset.examples)]


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


class ClassifierRetriever:
    """ToolRAG with a trained multi-label classifier: one sigmoid probability per tool, keep those above a threshold.

    Build one with `train` or `load`. Selection: every tool of the toolset the classifier knows gets the probability
    of the best request view (`request_views`: the whole request and each of its sentences); tools above
    ``threshold`` are selected, most probable first (at least ``min_tools``, at most ``max_tools``). If none passes,
    the selection is empty and the planner falls back to the full toolset (`apply_selection`). Example plans are
    chosen by `select_examples` with the embedder's similarities.

    Args:
        tools: Tool names, one per output of the head.
        weights: The head: ``w1`` (dimension x hidden or x tools), ``b1``, and for one hidden layer ``w2``, ``b2``.
        embedder: Must be the embedder it was trained with (same ``name`` and ``dimension``).
        threshold: Probability a tool needs to be selected (TinyAgent: 0.5).
        min_tools: Always keep this many of the most probable tools, whatever their probability.
        max_tools: Keep at most this many (None: no limit).
        max_examples: The most example plans to select.
        unknown_tools: What to do with tools of the toolset the classifier was not trained on: ``"keep"`` selects
            them always (score 1.0, listed last) so the model can still call them; ``"error"`` raises.

    Raises:
        RetrieverModelError: The weights do not fit the tools or the embedder.
        RetrieverError: An option is out of range.
    """

    def __init__(
        self,
        tools: Sequence[str],
        weights: Mapping[str, npt.NDArray[Any]],
        *,
        embedder: Embedder | None = None,
        threshold: float = 0.5,
        min_tools: int = 0,
        max_tools: int | None = None,
        max_examples: int = 3,
        unknown_tools: Literal["keep", "error"] = "keep",
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise RetrieverError(f"threshold must be between 0 and 1, got {threshold}")
        if min_tools < 0 or (max_tools is not None and max_tools < max(1, min_tools)):
            raise RetrieverError(f"need 0 <= min_tools <= max_tools and max_tools >= 1, got {min_tools}, {max_tools}")
        if max_examples < 0:
            raise RetrieverError(f"max_examples must be >= 0, got {max_examples}")
        if unknown_tools not in ("keep", "error"):
            raise RetrieverError(f"unknown_tools must be 'keep' or 'error', got {unknown_tools!r}")
        if len(set(tools)) != len(tools) or not tools:
            raise RetrieverModelError("a classifier needs a non-empty list of distinct tool names")
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.tools: list[str] = list(tools)
        self._weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self._check_shapes()
        self.threshold = threshold
        self.min_tools = min_tools
        self.max_tools = max_tools
        self.max_examples = max_examples
        self.unknown_tools = unknown_tools
        self._indexes = _IndexCache()

    @property
    def hidden(self) -> int:
        """Units of the hidden layer (0: a linear head)."""
        return int(self._weights["w1"].shape[1]) if "w2" in self._weights else 0

    def _check_shapes(self) -> None:
        w = self._weights
        d, n = self.embedder.dimension, len(self.tools)
        keys = set(w)
        if keys == {"w1", "b1"}:
            expected = {"w1": (d, n), "b1": (n,)}
        elif keys == {"w1", "b1", "w2", "b2"}:
            h = w["w1"].shape[1] if w["w1"].ndim == 2 else -1
            expected = {"w1": (d, h), "b1": (h,), "w2": (h, n), "b2": (n,)}
        else:
            raise RetrieverModelError(f"classifier weights must be w1, b1 [, w2, b2], got {sorted(keys)}")
        for key, shape in expected.items():
            if w[key].shape != shape:
                raise RetrieverModelError(
                    f"classifier weight {key} has shape {w[key].shape}, expected {shape} "
                    f"({n} tools, embedder {self.embedder.name} with {d} dimensions)"
                )
            if not np.isfinite(w[key]).all():
                raise RetrieverModelError(f"classifier weight {key} holds NaN or infinite values")

    # -------------------------------------------------------------------------------------------------- inference
    def _logits(self, x: Matrix) -> npt.NDArray[np.float64]:
        w = self._weights
        h: npt.NDArray[Any] = x.astype(np.float64) @ w["w1"] + w["b1"]
        if "w2" in w:
            h = np.maximum(h, 0.0) @ w["w2"] + w["b2"]
        out: npt.NDArray[np.float64] = np.asarray(h, dtype=np.float64)
        return out

    def probabilities(self, request: str) -> dict[str, float]:
        """The probability of every known tool for ``request`` (best over its views), synchronous.

        Raises:
            RetrieverUnavailableError: The embedder cannot be loaded.
        """
        probs = _sigmoid(self._logits(embed_request(self.embedder, request))).max(axis=0)
        return {name: float(p) for name, p in zip(self.tools, probs, strict=True)}

    def select_sync(self, request: str, toolset: Toolset) -> Selection:
        """`select` without the thread hop (for scripts and benchmarks)."""
        start = time.perf_counter()
        unknown = [n for n in toolset.names if n not in set(self.tools)]
        if unknown and self.unknown_tools == "error":
            raise RetrieverModelError(
                f"the classifier was not trained on {len(unknown)} tool(s) of this toolset: {unknown[:10]}; "
                "retrain it on this toolset or use unknown_tools='keep'"
            )
        probs = self.probabilities(request)
        ranked = sorted((n for n in toolset.names if n in probs), key=lambda n: -probs[n])
        chosen = [n for i, n in enumerate(ranked) if probs[n] > self.threshold or i < self.min_tools]
        if self.max_tools is not None:
            chosen = chosen[: self.max_tools]
        tools = [ScoredTool(n, probs[n]) for n in chosen]
        if tools:
            tools += [ScoredTool(n, 1.0) for n in unknown]
        examples: tuple[Any, ...] = ()
        if tools and self.max_examples and toolset.examples:
            idx = self._indexes.get(toolset, self.embedder, embed_tools=False)
            sims = idx.example_similarities(embed_request(self.embedder, request))
            examples = select_examples(idx.examples, sims.tolist(), (t.name for t in tools), k=self.max_examples)
        return Selection(tuple(tools), examples, time.perf_counter() - start)

    async def select(self, request: str, toolset: Toolset) -> Selection:
        """Select tools and example plans for ``request`` (see `ToolRetriever.select`); runs in a worker thread.

        Raises:
            RetrieverModelError: ``unknown_tools="error"`` and the toolset has tools the classifier does not know.
            RetrieverUnavailableError: The embedder cannot be loaded.
            RetrieverError: An example plan of the toolset does not parse.
        """
        return await anyio.to_thread.run_sync(self.select_sync, request, toolset)

    # -------------------------------------------------------------------------------------------------- training
    @classmethod
    def train(
        cls,
        pairs: Iterable[TrainingPair],
        toolset: Toolset,
        *,
        embedder: Embedder | None = None,
        hidden: int = 0,
        epochs: int = 300,
        learning_rate: float = 1e-2,
        weight_decay: float = 0.0,
        describe_tools: bool = True,
        seed: int = 0,
        **options: Any,
    ) -> ClassifierRetriever:
        """Train a classifier for the tools of ``toolset`` from ``(request, tools used)`` pairs.

        Full-batch Adam on binary cross-entropy with logits (one output per tool, multi-label). The linear head
        (``hidden=0``) starts from the tools' own text embeddings (scaled), so before training it already ranks like
        `EmbeddingRetriever`; training sharpens it into calibrated probabilities.

        Args:
            pairs: Requests with the names of the tools their plans used. Names not in ``toolset`` are an error.
            toolset: The tools to classify (one output each, toolset order).
            embedder: Default: `default_embedder()`.
            hidden: Units of one hidden ReLU layer (0: a linear head).
            epochs: Full-batch optimisation steps.
            learning_rate: Adam's learning rate.
            weight_decay: Adam's L2 penalty.
            describe_tools: Add each tool's text (`tool_text`) as a training request for that tool alone.
            seed: Seed of torch's generator, for reproducible weights.
            **options: Passed on to the constructor (``threshold``, ``min_tools``, ``max_tools``, ...).

        Returns:
            The trained retriever.

        Raises:
            RetrieverError: Empty toolset, no pairs, a pair naming an unknown tool, or bad options.
            RetrieverUnavailableError: torch or the embedder is missing.
        """
        if len(toolset) == 0:
            raise RetrieverError("cannot train a tool classifier for an empty toolset")
        if epochs < 1 or hidden < 0 or not learning_rate > 0:
            raise RetrieverError(
                f"need epochs >= 1, hidden >= 0, learning_rate > 0; got {epochs}, {hidden}, {learning_rate}"
            )
        try:
            import torch
        except ImportError as exc:
            raise RetrieverUnavailableError(f"training needs torch ({exc}): {_INSTALL_HINT}") from exc
        embedder = embedder if embedder is not None else default_embedder()
        names = toolset.names
        position = {n: i for i, n in enumerate(names)}
        texts: list[str] = []
        rows: list[list[int]] = []
        for n, (request, used) in enumerate(pairs):
            if not isinstance(request, str) or not request.strip():
                raise RetrieverError(f"training pair {n}: the request must be a non-empty string, got {request!r:.80}")
            used_set = [used] if isinstance(used, str) else list(used)
            missing = [u for u in used_set if u not in position]
            if missing:
                raise RetrieverError(f"training pair {n}: tools {missing} are not in the toolset")
            texts.append(request.strip())
            rows.append([position[u] for u in used_set])
        if not texts:
            raise RetrieverError("no training pairs")
        descriptions = [tool_text(t) for t in toolset]
        if describe_tools:
            texts += descriptions
            rows += [[i] for i in range(len(names))]
        x_np = embedder.encode(texts)
        y_np = np.zeros((len(texts), len(names)), dtype=np.float32)
        for r, cols in enumerate(rows):
            y_np[r, cols] = 1.0

        generator = torch.Generator().manual_seed(seed)
        dim = embedder.dimension
        params: list[Any]
        if hidden:
            w1 = torch.nn.Parameter(torch.randn(dim, hidden, generator=generator) * math.sqrt(2.0 / dim))
            b1 = torch.nn.Parameter(torch.zeros(hidden))
            w2 = torch.nn.Parameter(torch.randn(hidden, len(names), generator=generator) * math.sqrt(1.0 / hidden))
            b2 = torch.nn.Parameter(torch.full((len(names),), -4.0))
            params = [w1, b1, w2, b2]
        else:
            init = torch.from_numpy(np.ascontiguousarray(embedder.encode(descriptions).T)) * 10.0
            w1 = torch.nn.Parameter(init)
            b1 = torch.nn.Parameter(torch.full((len(names),), -4.0))
            params = [w1, b1]
        x = torch.from_numpy(x_np)
        y = torch.from_numpy(y_np)
        optimiser = torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        with torch.enable_grad():
            for _ in range(epochs):
                optimiser.zero_grad()
                h = x @ params[0] + params[1]
                if hidden:
                    h = torch.relu(h) @ params[2] + params[3]
                loss = loss_fn(h, y)
                loss.backward()
                optimiser.step()
        keys = ["w1", "b1", "w2", "b2"] if hidden else ["w1", "b1"]
        weights = {k: p.detach().numpy().astype(np.float32) for k, p in zip(keys, params, strict=True)}
        return cls(names, weights, embedder=embedder, **options)

    # ---------------------------------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the head and its configuration to one safetensors file (no pickle).

        The header's metadata holds ``format``, ``version`` and ``config`` (JSON: tools, embedder name and
        dimension, threshold, min_tools, max_tools, max_examples).

        Returns:
            The path written.

        Raises:
            RetrieverUnavailableError: safetensors is missing.
            RetrieverError: The file cannot be written.
        """
        try:
            from safetensors.numpy import save_file
        except ImportError as exc:
            raise RetrieverUnavailableError(f"saving needs safetensors ({exc}): {_INSTALL_HINT}") from exc
        config = {
            "tools": self.tools,
            "embedder": self.embedder.name,
            "dimension": self.embedder.dimension,
            "threshold": self.threshold,
            "min_tools": self.min_tools,
            "max_tools": self.max_tools,
            "max_examples": self.max_examples,
        }
        metadata = {"format": FORMAT, "version": str(FORMAT_VERSION), "config": json.dumps(config)}
        target = Path(path)
        try:
            save_file({k: np.ascontiguousarray(v) for k, v in self._weights.items()}, str(target), metadata=metadata)
        except OSError as exc:
            raise RetrieverError(f"cannot write the classifier to {target}: {exc}") from exc
        return target

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, embedder: Embedder | None = None, **options: Any
    ) -> ClassifierRetriever:
        """Load a classifier saved by `save`.

        Args:
            path: The safetensors file.
            embedder: Default: `default_embedder()`; must match the name and dimension stored in the file.
            **options: Override stored options (``threshold``, ``min_tools``, ``max_tools``, ``max_examples``,
                ``unknown_tools``).

        Raises:
            RetrieverModelError: The file is missing, not a safetensors file, of another format or version, has a
                bad configuration or weights, or was trained with another embedder.
            RetrieverUnavailableError: safetensors is missing.
        """
        try:
            from safetensors import SafetensorError, safe_open
        except ImportError as exc:
            raise RetrieverUnavailableError(f"loading needs safetensors ({exc}): {_INSTALL_HINT}") from exc
        source = Path(path)
        if not source.is_file():
            raise RetrieverModelError(f"no classifier file at {source}")
        try:
            with safe_open(str(source), framework="numpy") as f:
                metadata = dict(f.metadata() or {})
                weights = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        except (SafetensorError, OSError, ValueError) as exc:
            raise RetrieverModelError(f"{source} is not a readable safetensors classifier file: {exc}") from exc
        if metadata.get("format") != FORMAT:
            raise RetrieverModelError(
                f"{source} is not a tinyplan ToolRAG classifier (format {metadata.get('format')!r})"
            )
        if metadata.get("version") != str(FORMAT_VERSION):
            raise RetrieverModelError(
                f"{source} has classifier format version {metadata.get('version')!r}; "
                f"this tinyplan reads {FORMAT_VERSION}"
            )
        try:
            config = json.loads(metadata.get("config", ""))
            tools = config["tools"]
            stored = {k: config[k] for k in ("threshold", "min_tools", "max_tools", "max_examples")}
            trained_with = (str(config["embedder"]), int(config["dimension"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise RetrieverModelError(f"{source} has a bad configuration header: {exc}") from exc
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise RetrieverModelError(f"{source}: the configuration's tools must be a list of names")
        embedder = embedder if embedder is not None else default_embedder()
        if trained_with != (embedder.name, embedder.dimension):
            raise RetrieverModelError(
                f"{source} was trained with embedder {trained_with[0]} ({trained_with[1]} dimensions), "
                f"not {embedder.name} ({embedder.dimension})"
            )
        try:
            return cls(tools, weights, embedder=embedder, **{**stored, **options})
        except RetrieverModelError as exc:
            raise RetrieverModelError(f"{source}: {exc}") from exc
        except (RetrieverError, TypeError) as exc:
            raise RetrieverModelError(f"{source} has bad options: {exc}") from exc
