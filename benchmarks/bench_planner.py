"""The main job's latency with the default model: a Mac-assistant request end to end through the Planner.

Prints, per state of the prompt cache:

* cold: nothing cached (a fresh disk prompt cache, model just loaded) — what a first `tinyplan run` costs;
* disk: a new model load whose static prefix comes from the on-disk prompt cache — every later `tinyplan run`;
* memory: the same loaded model, the prefix still in its KV cache — a long-running app or server.

Columns: time to first token, time to first tool start, plan generation, end to end, generation tokens/s, prompt
tokens and how many were cached. Run: ``python benchmarks/bench_planner.py [--backend llama-cpp|llama-server]``.
Hold ``flock /tmp/tinyplan-model.lock`` if other model jobs may run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import anyio

from tinyplan import Planner, PlanResult
from tinyplan.backends import LlamaCppBackend, LlamaServerProcess
from tinyplan.backends._gguf import default_model_path
from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

QUERIES = [
    "Text Sid and Lutfi that the meeting moved to 3pm",
    "Remind me to buy milk tomorrow at 9am",
    "Create a note called Packing that says: passport, charger, sunscreen",
]


def row(label: str, query: str, r: PlanResult) -> str:
    t = r.timings
    gen_tokens = r.usage.completion_tokens
    tps = gen_tokens / t.plan_generation if t.plan_generation else 0.0
    plan = r.plans[0]
    return (
        f"| {label} | {query[:38]} | {t.time_to_first_token or 0:.2f} | {t.time_to_first_tool_start or 0:.2f} | "
        f"{t.plan_generation:.2f} | {t.total:.2f} | {tps:.1f} | {plan.usage.prompt_tokens} | "
        f"{plan.usage.cached_tokens} | {r.status} |"
    )


async def run_one(backend: object, home: Path, query: str) -> PlanResult:
    planner = Planner(backend, mac_toolset(home), join="observations", grammar="typed", max_replans=0)  # type: ignore[arg-type]
    return await planner.run(query)


async def main(kind: str) -> None:
    model = default_model_path()
    home = copy_sample_home(Path(tempfile.mkdtemp()) / "home")
    print("| cache | request | TTFT s | first tool s | plan s | end-to-end s | tok/s | prompt tok | cached | status |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    if kind == "llama-cpp":
        cache_dir = Path(tempfile.mkdtemp()) / "prompt-cache"
        backend = LlamaCppBackend(model, n_ctx=8192, prompt_cache=cache_dir)
        t0 = time.perf_counter()
        r = await run_one(backend, home, QUERIES[0])
        print(row("cold", QUERIES[0], r), f"(incl. load: {time.perf_counter() - t0:.1f} s)")
        await backend.aclose()  # unload: the next backend must use the disk cache
        for q in QUERIES:
            backend = LlamaCppBackend(model, n_ctx=8192, prompt_cache=cache_dir)
            t0 = time.perf_counter()
            r = await run_one(backend, home, q)
            print(row("disk", q, r), f"(incl. load: {time.perf_counter() - t0:.1f} s)")
            if q is not QUERIES[-1]:
                await backend.aclose()
        for q in QUERIES:
            print(row("memory", q, await run_one(backend, home, q)))
        await backend.aclose()
    else:
        with LlamaServerProcess(model, ctx_size=8192) as server:
            server_backend = server.backend()
            print(row("cold", QUERIES[0], await run_one(server_backend, home, QUERIES[0])))
            for q in QUERIES:
                print(row("memory", q, await run_one(server_backend, home, q)))
            await server_backend.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["llama-cpp", "llama-server"], default="llama-cpp")
    anyio.run(main, parser.parse_args().backend)
