"""Answer quality end to end: the default model plans, tools run, and the LLM joiner answers (`join="llm"`).

Runs every scenario of ``benchmarks/answer_scenarios.py`` through `Planner.run` and prints, per scenario, whether
the answer holds the required facts, whether the side effects are right, the status, the number of plans and the
seconds; then the totals. Run::

    python benchmarks/bench_answers.py [--backend llama-cpp|llama-server] [--grammar typed|syntax|none]
        [--joiner-grammar on|off] [--set main|heldout|all] [--only NAME ...] [-v]

Hold ``flock /tmp/tinyplan-model.lock`` if other model jobs may run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_scenarios import HELDOUT, SCENARIOS, Outcome, World, judge

from tinyplan import Backend, Planner
from tinyplan.backends import LlamaServerProcess, make_backend
from tinyplan.backends._gguf import default_model_path


def _short(text: str | None, n: int = 90) -> str:
    text = " ".join((text or "").split()).replace("|", "/")
    return text if len(text) <= n else text[: n - 1] + "…"


async def main(args: argparse.Namespace) -> None:
    if args.backend == "llama-server":
        with LlamaServerProcess(default_model_path(), ctx_size=8192) as server:
            await run_all(args, server.backend())
    else:
        await run_all(args, make_backend(default_model_path(), n_ctx=8192))


async def run_all(args: argparse.Namespace, backend: Backend) -> None:
    grammar = None if args.grammar == "none" else args.grammar
    options: dict[str, Any] = {}
    if args.joiner_grammar is not None:
        options["joiner_grammar"] = args.joiner_grammar == "on"
    pool = {"main": SCENARIOS, "heldout": HELDOUT, "all": SCENARIOS + HELDOUT}[args.set]
    chosen = [s for s in pool if not args.only or s.name in args.only]
    outcomes: list[Outcome] = []
    print("| scenario | ok | answer facts | effects | status | plans | s | answer |")
    print("|---|---|---|---|---|---:|---:|---|")
    try:
        for scenario in chosen:
            world = World()
            planner = Planner(backend, scenario.tools(world), grammar=grammar, max_replans=args.max_replans, **options)
            started = time.perf_counter()
            result = await planner.run(scenario.request)
            outcome = judge(scenario, result, world, time.perf_counter() - started)
            outcomes.append(outcome)
            print(
                f"| {scenario.name} | {'yes' if outcome.ok else 'no'} | {'yes' if outcome.answer_ok else 'no'} | "
                f"{'yes' if outcome.effect_ok else 'no'} | {outcome.status} | {outcome.rounds} | "
                f"{outcome.seconds:.1f} | {_short(outcome.answer or result.error)} |",
                flush=True,
            )
            if args.verbose:
                for plan in result.plans:
                    print(plan.text, file=sys.stderr)
                    if plan.decision is not None:
                        print("JOIN:", plan.decision.raw, file=sys.stderr)
    finally:
        await backend.aclose()
    n = len(outcomes)
    ok = sum(o.ok for o in outcomes)
    dep = [o for o, s in zip(outcomes, chosen, strict=True) if s.dependent]
    secs = sorted(o.seconds for o in outcomes)
    print()
    print(f"answered correctly: {ok}/{n}; dependent requests: {sum(o.ok for o in dep)}/{len(dep)}; ", end="")
    print(f"join failures: {sum(o.status == 'join_failed' for o in outcomes)}; median {secs[n // 2]:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["llama-cpp", "llama-server"], default="llama-cpp")
    parser.add_argument("--grammar", choices=["typed", "syntax", "none"], default="typed")
    parser.add_argument("--joiner-grammar", choices=["on", "off"], default=None)
    parser.add_argument("--max-replans", type=int, default=1)
    parser.add_argument("--set", choices=["main", "heldout", "all"], default="main", help="which scenarios")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="print plans and joiner replies to stderr")
    anyio.run(main, parser.parse_args())
