"""ToolRAG retrieval benchmark: tool recall and planner prompt size, with and without retrieval.

Data:

* BFCL v4 (../shared/evaldata/bfcl via `tinyplan.eval.load_dataset`): the functions of every single-turn category
  with ground truth (simple_python, multiple, parallel, parallel_multiple, live_parallel, live_parallel_multiple)
  are pooled into one toolset (de-duplicated by sanitised name, first schema kept): hundreds of tools, of which each
  request needs one to a few. Recall = ground-truth tools selected / ground-truth tools (micro average); "all" =
  share of requests whose every ground-truth tool was selected.
* The Mac toolset (TinyAgent's 16 tools and its example plans), leave-one-out over the examples: each example's
  question is the request, the other examples are the toolset's examples, its plan's tools are the truth.

Prompt size: the static part of the real planner prompt (`PromptRenderer.planner_static`: tools with their
descriptions, rules, the toolset's rules and the selected example plans; the query adds a few tokens). Tokens are
counted with the Qwen2.5 tokenizer of the default model's GGUF (llama-cpp-python, ``vocab_only=True``); ``--gguf``
picks another file. If neither llama-cpp-python nor the model is available, the script says so and counts all-
MiniLM-L6-v2 WordPiece tokens instead (a proxy).

Embedding retriever: no training, evaluated on every BFCL request. Classifier retriever: trained on a seeded random
split of the BFCL requests (``--train-share``) and evaluated on the held-out rest, against the embedding retriever on
the same held-out requests.

Run: ``python benchmarks/bench_toolrag.py`` (about 5 min on 2 cores, mostly embedding 1,000 long requests; add
``--cache /tmp/toolrag-emb.npz`` to keep embeddings between runs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyplan import PromptRenderer, Tool, Toolset
from tinyplan.eval.datasets import EvalCase, load_dataset, render_plan
from tinyplan.rag import (
    ClassifierRetriever,
    EmbeddingRetriever,
    MiniLMEmbedder,
    Selection,
    apply_selection,
    parse_example,
)

RENDERER = PromptRenderer()

BFCL_CATEGORIES = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_parallel",
    "live_parallel_multiple",
]


# ----------------------------------------------------------------------------------------------------- embeddings
class CachingEmbedder:
    """Wraps an embedder with a text -> vector cache (optionally kept in an .npz file between runs)."""

    def __init__(self, inner: MiniLMEmbedder, path: Path | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.path = path
        self.cache: dict[str, np.ndarray] = {}
        self.encode_seconds = 0.0
        self.encoded_texts = 0
        if path is not None and path.is_file():
            data = np.load(path, allow_pickle=False)
            self.cache = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            start = time.perf_counter()
            vectors = self.inner.encode(missing)
            self.encode_seconds += time.perf_counter() - start
            self.encoded_texts += len(missing)
            self.cache.update(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts]).astype(np.float32)

    def save(self) -> None:
        if self.path is not None and self.cache:
            texts = list(self.cache)
            np.savez(self.path, texts=np.array(texts), vectors=np.stack([self.cache[t] for t in texts]))


# ------------------------------------------------------------------------------------------------------- tokens
def token_counter(gguf: str | None) -> tuple[Callable[[str], int], str]:
    """A token counter and a description of it: Qwen2.5 (GGUF vocabulary) if possible, else MiniLM WordPiece."""
    try:
        from llama_cpp import Llama

        if gguf is None:
            from tinyplan.backends._gguf import default_model_path

            gguf = str(default_model_path())
        vocab = Llama(model_path=gguf, vocab_only=True, verbose=False)
        return (lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))), (
            f"Qwen2.5 tokenizer from {Path(gguf).name} (llama-cpp-python, vocab_only)"
        )
    except Exception as exc:  # no llama-cpp-python, no model parts: say so and use a proxy
        from tokenizers import Tokenizer

        path = MiniLMEmbedder().model_path / "tokenizer.json"
        tok = Tokenizer.from_file(str(path))
        print(f"! Qwen2.5 tokenizer unavailable ({exc}); counting all-MiniLM-L6-v2 WordPiece tokens as a proxy")
        return (lambda text: len(tok.encode(text, add_special_tokens=False).ids)), "all-MiniLM-L6-v2 WordPiece (proxy)"


def prompt_text(toolset: Toolset) -> str:
    """The static part of the real planner prompt for these tools and examples (`PromptRenderer.planner_static`):
    tool list, rules, the toolset's instructions and examples (generic examples when it has none)."""
    return RENDERER.planner_static(toolset, toolset.instructions, toolset.examples)


# --------------------------------------------------------------------------------------------------------- data
def bfcl_pool() -> tuple[Toolset, list[EvalCase]]:
    schemas: dict[str, dict[str, Any]] = {}
    cases: list[EvalCase] = []
    for category in BFCL_CATEGORIES:
        for case in load_dataset(f"bfcl:{category}"):
            for schema in case.tools:
                schemas.setdefault(schema["function"]["name"], schema)
            if case.gold:
                cases.append(case)
    return Toolset(Tool.from_schema(s) for s in schemas.values()), cases


def example_text(case: EvalCase) -> str:
    return f"Question: {case.request}\n{render_plan(case.gold)}"


# ---------------------------------------------------------------------------------------------------- measuring
class Tally:
    def __init__(self, name: str) -> None:
        self.name = name
        self.hit = self.total = self.all_hit = self.requests = self.fallbacks = 0
        self.selected: list[int] = []
        self.tokens: list[int] = []
        self.full_tokens: list[int] = []
        self.seconds: list[float] = []

    def add(self, gold: set[str], full: Toolset, selection: Selection, count: Callable[[str], int]) -> None:
        used = apply_selection(full, selection)
        if used is full:
            self.fallbacks += 1
        chosen = set(used.names)
        self.hit += len(gold & chosen)
        self.total += len(gold)
        self.all_hit += gold <= chosen
        self.requests += 1
        self.selected.append(len(used))
        self.tokens.append(count(prompt_text(used)))
        self.seconds.append(selection.elapsed)

    def row(self, full_tokens: float) -> str:
        mean_tokens = statistics.fmean(self.tokens)
        return (
            f"| {self.name} | {self.requests} | {self.hit / self.total:.4f} | {self.all_hit / self.requests:.3f} | "
            f"{statistics.fmean(self.selected):.1f} | {self.fallbacks} | {mean_tokens:,.0f} | {full_tokens:,.0f} | "
            f"{mean_tokens / full_tokens:.3f} |"
        )


HEADER = (
    "| retriever | requests | tool recall | all tools found | tools selected (mean) | fallbacks to full | "
    "prompt tokens (mean) | prompt tokens, no retrieval | ratio |\n|---|---|---|---|---|---|---|---|---|"
)


def run_bfcl(args: argparse.Namespace, embedder: CachingEmbedder, count: Callable[[str], int]) -> None:
    full, cases = bfcl_pool()
    full_tokens = count(prompt_text(full))
    print(f"\n## BFCL v4, pooled: {len(full)} tools, {len(cases)} requests with ground truth")
    print(f"categories: {', '.join(BFCL_CATEGORIES)}; full tool prompt: {full_tokens:,} tokens")
    start = time.perf_counter()
    embedder.encode([c.request for c in cases])
    EmbeddingRetriever(embedder).index(full)
    print(f"requests and tool texts embedded in {time.perf_counter() - start:.1f} s (0 when cached)")

    rng = random.Random(args.seed)
    order = list(range(len(cases)))
    rng.shuffle(order)
    cut = int(len(cases) * args.train_share)
    train = [cases[i] for i in order[:cut]]
    test = [cases[i] for i in order[cut:]]

    tallies: list[Tally] = []
    for k in args.top_k:
        tally = Tally(f"embedding, top_k={k}, all requests")
        retriever = EmbeddingRetriever(embedder, top_k=k)
        for case in cases:
            tally.add({g.tool for g in case.gold}, full, retriever.select_sync(case.request, full), count)
        tallies.append(tally)
    # The same, held-out requests only, with the training requests as example plans (ranking by example questions).
    with_examples = Toolset(full, examples=[example_text(c) for c in train])
    for k in args.top_k:
        plain = Tally(f"embedding, top_k={k}, held-out")
        boosted = Tally(f"embedding + train examples, top_k={k}, held-out")
        retriever = EmbeddingRetriever(embedder, top_k=k, max_examples=0)
        for case in test:
            gold = {g.tool for g in case.gold}
            plain.add(gold, full, retriever.select_sync(case.request, full), count)
            boosted.add(gold, full, retriever.select_sync(case.request, with_examples), count)
        tallies += [plain, boosted]

    pairs = [(c.request, {g.tool for g in c.gold}) for c in train]
    for hidden in args.hidden:
        start = time.perf_counter()
        classifier = ClassifierRetriever.train(pairs, full, embedder=embedder, hidden=hidden, seed=args.seed)
        train_seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            path = classifier.save(Path(tmp) / "toolrag.safetensors")
            size = path.stat().st_size
            classifier = ClassifierRetriever.load(path, embedder=embedder)
        print(
            f"classifier hidden={hidden}: trained on {len(pairs)} requests + {len(full)} tool texts in "
            f"{train_seconds:.1f} s (embeddings cached), file {size / 1e6:.1f} MB"
        )
        for min_tools in args.min_tools:
            tally = Tally(f"classifier hidden={hidden}, p>0.5, min_tools={min_tools}, held-out")
            classifier.min_tools = min_tools
            for case in test:
                tally.add({g.tool for g in case.gold}, full, classifier.select_sync(case.request, full), count)
            tallies.append(tally)

    print(f"\nsplit: {len(train)} training / {len(test)} held-out requests (seed {args.seed})\n")
    print(HEADER)
    for tally in tallies:
        print(tally.row(full_tokens))


def run_mac(args: argparse.Namespace, embedder: CachingEmbedder, count: Callable[[str], int]) -> None:
    try:
        from tinyplan.toolsets.mac import copy_sample_home, mac_toolset
    except ImportError as exc:
        print(f"\n## Mac toolset: not available ({exc})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        full = mac_toolset(copy_sample_home(Path(tmp) / "home"), driver="portable")
    examples = list(full.examples)
    parsed = [parse_example(e) for e in examples]
    full_tokens = count(prompt_text(full))
    print(f"\n## Mac toolset: {len(full)} tools, {len(examples)} example plans (leave-one-out)")
    print(f"full prompt part (tools + all {len(examples)} examples): {full_tokens:,} tokens\n")
    print(HEADER)
    settings: list[tuple[str, Any]] = [
        (f"embedding, top_k={k}, 3 examples", EmbeddingRetriever(embedder, top_k=k, max_examples=3))
        for k in args.mac_top_k
    ]
    for name, retriever in settings:
        tally = Tally(name)
        leave_one_out(full, examples, parsed, lambda ts, req, r=retriever: r.select_sync(req, ts), tally, count)
        print(tally.row(full_tokens))
    for hidden in args.hidden:
        tally = Tally(f"classifier hidden={hidden} (trained on the other examples), 3 examples")

        def select(ts: Toolset, request: str, hidden: int = hidden) -> Selection:
            pairs = [(p.request, p.tools) for p in (parse_example(e) for e in ts.examples)]
            classifier = ClassifierRetriever.train(pairs, ts, embedder=embedder, hidden=hidden, seed=args.seed)
            return classifier.select_sync(request, ts)

        leave_one_out(full, examples, parsed, select, tally, count)
        print(tally.row(full_tokens))


def leave_one_out(
    full: Toolset,
    examples: list[str],
    parsed: list[Any],
    select: Callable[[Toolset, str], Selection],
    tally: Tally,
    count: Callable[[str], int],
) -> None:
    for i, held in enumerate(parsed):
        others = Toolset(full, instructions=full.instructions, examples=examples[:i] + examples[i + 1 :])
        tally.add(set(held.tools), others, select(others, held.request), count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", help="GGUF file whose tokenizer counts prompt tokens (default: the default model)")
    parser.add_argument("--cache", type=Path, help="keep embeddings in this .npz file between runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-share", type=float, default=0.7)
    parser.add_argument("--top-k", type=int, nargs="+", default=[20, 50, 80])
    parser.add_argument("--mac-top-k", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--hidden", type=int, nargs="+", default=[0])
    parser.add_argument("--min-tools", type=int, nargs="+", default=[0, 20])
    parser.add_argument("--skip-bfcl", action="store_true")
    parser.add_argument("--skip-mac", action="store_true")
    args = parser.parse_args(argv)

    count, how = token_counter(args.gguf)
    embedder = CachingEmbedder(MiniLMEmbedder(), args.cache)
    print(f"# ToolRAG retrieval benchmark\ntokens: {how}; embedder: {embedder.name}")
    try:
        if not args.skip_bfcl:
            run_bfcl(args, embedder, count)
        if not args.skip_mac:
            run_mac(args, embedder, count)
    finally:
        embedder.save()
    if embedder.encoded_texts:
        print(
            f"\nembedding cost: {embedder.encoded_texts} texts in {embedder.encode_seconds:.1f} s "
            f"({embedder.encoded_texts / max(embedder.encode_seconds, 1e-9):.0f} texts/s, 2 threads)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
