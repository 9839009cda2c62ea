"""Latency of the main job against this machine's physical limit.

For a fixed set of Mac-assistant requests (``tinyplan run``'s planner: Mac toolset, ``typed`` grammar,
``join="auto"``), it measures time to first token, first tool start and end to end, and computes the limit from this
machine's measured prefill and decode rates::

    limit(first token) = uncached prompt tokens / prefill rate
    limit(first tool)  = limit(first token) + plan tokens up to the first tool's line / decode rate
    limit(end to end)  = uncached prompt tokens / prefill rate + plan tokens / decode rate + tool critical path

(the critical path is the longest chain of dependent tool calls, with the tools' measured durations). It prints the
median measured time, the median limit and measured/limit for each phase, in these states:

* ``cold+empty``: a new process (times count from its start: Python, imports, model load) with an empty prompt cache;
  for llama-server: the server is started and the request is its first;
* ``cold+install``: a new process whose prompt cache was filled at install (`warm_default_run`, what
  ``tinyplan model install`` does) — the first ``tinyplan run`` after ``scripts/setup.sh``; in-process only;
* ``warm``: a process (or server) that has answered before: the prefix is in its KV cache.

each for the in-process backend and llama-server, with and without speculative decoding (prompt lookup). The rates
come from a calibration per backend: a 3.5k-token prompt evaluated from nothing (prefill), then 64 tokens decoded one
at a time without grammar or speculation (decode). A ratio below 1 means faster than one token per model step
(speculation verifies several).

``--cli N`` instead measures the real command, ``python -m tinyplan run "Text Sid and Lutfi ..." --home H`` in a
pseudo-terminal, N times after one ``tinyplan model install`` into a fresh prompt-cache folder (each run with a new
home folder, as a first run): time from process start to the first plan token on screen, and end to end.

Run (one model at a time on this machine)::

    flock /tmp/tinyplan-model.lock python benchmarks/bench_latency.py [--repeats 5] [--backends llama-cpp,llama-server]
    flock /tmp/tinyplan-model.lock python benchmarks/bench_latency.py --cli 5
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

QUERIES = [
    "Text Sid and Lutfi that the meeting moved to 3pm",
    "Remind me to buy milk tomorrow at 9am",
    "Create a note called Packing that says: passport, charger, sunscreen",
]
PHASES = ("ttft", "first_tool", "e2e")


# ------------------------------------------------------------------------------------------------ child process side
def _backend(kind: str, spec: bool, cache: str | None, server_url: str | None, model: str | None) -> Any:
    from tinyplan.backends import make_backend

    if kind == "llama-server":
        assert server_url is not None
        return make_backend(server=server_url)
    return make_backend(model, profile="run", prompt_cache=cache if cache else False, speculative=spec)


def _critical_path(results: Sequence[Any]) -> float:
    """The longest chain of dependent tool calls, by their measured durations."""
    longest: dict[int, float] = {}
    for r in sorted(results, key=lambda r: r.task.idx):
        before = max((longest.get(d, 0.0) for d in r.task.dependencies), default=0.0)
        longest[r.task.idx] = before + (r.duration or 0.0)
    return max(longest.values(), default=0.0)


async def _measure(planner: Any, backend: Any, query: str, t0: float) -> dict[str, Any]:
    """One run through `Planner.stream`; times relative to ``t0`` (process start for a cold run)."""
    from tinyplan import FinalAnswer, TaskStarted, Token

    first_token = first_tool = last_token = None
    result = None
    started = time.monotonic()
    async for event in planner.stream(query):
        now = time.monotonic()
        if isinstance(event, Token) and event.phase == "plan" and event.round == 0:
            first_token = first_token if first_token is not None else now
            last_token = now
        elif isinstance(event, TaskStarted) and first_tool is None:
            first_tool = now
        elif isinstance(event, FinalAnswer):
            result = event.result
    end = time.monotonic()
    assert result is not None and first_token is not None and last_token is not None
    plan = result.plans[0]
    first_line = 0
    started_tasks = [r for r in plan.results if r.started_at is not None]
    if started_tasks:
        task = min(started_tasks, key=lambda r: r.started_at).task
        at = plan.text.find(task.text)
        first_line = await backend.count_tokens(plan.text[: at + len(task.text)]) if at >= 0 else 0
    plan_tokens = plan.usage.completion_tokens
    return {
        "query": query,
        "status": result.status,
        "plan": plan.text,
        "ttft": first_token - t0,
        "first_tool": (first_tool - t0) if first_tool is not None else None,
        "e2e": end - t0,
        "startup": started - t0,
        "prompt_tokens": plan.usage.prompt_tokens,
        "cached_tokens": plan.usage.cached_tokens,  # None: the backend did not say
        "plan_tokens": plan_tokens,
        "first_tool_tokens": first_line,
        "tool_critical_path": _critical_path(plan.results),
        "decode_tps": (plan_tokens - 1) / (last_token - first_token) if last_token > first_token else None,
        "decode": vars(backend.last_decode) if getattr(backend, "last_decode", None) is not None else None,
    }


async def _child(config: dict[str, Any]) -> None:
    from tinyplan.backends._default_run import default_run_planner
    from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

    t0 = float(config["t0"])
    tools = mac_toolset(copy_sample_home(Path(tempfile.mkdtemp()) / "home"))  # in `tinyplan run`'s order
    backend = _backend(config["kind"], config["spec"], config.get("cache"), config.get("url"), config.get("model"))
    planner = default_run_planner(backend, tools)
    for i, query in enumerate(config["queries"]):
        row = await _measure(planner, backend, query, t0 if i == 0 else time.monotonic())
        row["index"] = i
        print(json.dumps(row), flush=True)
    await backend.aclose()


async def _calibrate(config: dict[str, Any]) -> None:
    """Prefill rate (a 3.5k-token prompt from nothing) and decode rate (64 tokens, no grammar, no speculation)."""
    from tinyplan import CompletionRequest
    from tinyplan.backends._default_run import default_run_planner
    from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

    backend = _backend(config["kind"], False, None, config.get("url"), config.get("model"))
    if config["kind"] == "llama-cpp":
        await backend.load()
    planner = default_run_planner(backend, mac_toolset(copy_sample_home(Path(tempfile.mkdtemp()) / "home")))
    prompt = planner.render_prompt(QUERIES[0]).text
    times: list[float] = []
    tokens = 0
    start = time.monotonic()
    async for chunk in backend.stream(CompletionRequest(prompt=prompt, max_tokens=64)):
        if chunk.text:
            times.append(time.monotonic())
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
            prompt_tokens, cached = chunk.usage.prompt_tokens, chunk.usage.cached_tokens or 0
    prefill = (prompt_tokens - cached) / (times[0] - start)
    decode = (len(times) - 1) / (times[-1] - times[0])
    print(json.dumps({"prefill_tps": prefill, "decode_tps": decode, "prompt_tokens": prompt_tokens, "n": tokens}))
    await backend.aclose()


# ------------------------------------------------------------------------------------------------ parent side
def _spawn(config: dict[str, Any], mode: str = "run") -> list[dict[str, Any]]:
    config = {**config, "t0": time.monotonic()}
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{mode}", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _warm_cache(cache: str, model: str | None) -> float:
    code = (
        "import anyio, sys; from tinyplan.backends._default_run import warm_default_run; "
        f"r = anyio.run(lambda: warm_default_run({model!r}, prompt_cache={cache!r})); print(r.tokens, r.seconds)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[1])


class _Server:
    """A llama-server for one scenario (started on demand, timed from before its start)."""

    def __init__(self, model: str | None, spec: bool) -> None:
        from tinyplan.backends import LlamaServerProcess
        from tinyplan.backends._default_run import RUN_CONTEXT
        from tinyplan.backends._gguf import resolve_model

        self.process = LlamaServerProcess(resolve_model(model), ctx_size=RUN_CONTEXT, speculative=spec)

    def __enter__(self) -> _Server:
        started = time.monotonic()
        self.process.start()
        self.ready = time.monotonic() - started  # process start and model load, until /health answers
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()


def _limits(row: dict[str, Any], rates: dict[str, float]) -> dict[str, float | None]:
    if row["cached_tokens"] is None:  # the uncached part is unknown, and so is the limit
        return dict.fromkeys(PHASES)
    uncached = row["prompt_tokens"] - row["cached_tokens"]
    prefill = uncached / rates["prefill_tps"]
    return {
        "ttft": prefill,
        "first_tool": prefill + row["first_tool_tokens"] / rates["decode_tps"],
        "e2e": prefill + row["plan_tokens"] / rates["decode_tps"] + row["tool_critical_path"],
    }


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _report(label: str, rows: list[dict[str, Any]], rates: dict[str, float]) -> str:
    cells = [label, str(len(rows))]
    for phase in PHASES:
        measured = _median([r[phase] for r in rows])
        limit = _median([_limits(r, rates)[phase] for r in rows if r[phase] is not None])
        pairs = [(r[phase], _limits(r, rates)[phase]) for r in rows]
        ratio = _median([m / lim for m, lim in pairs if m is not None and lim])
        cells += [f"{measured:.2f}" if measured is not None else "-", f"{limit:.2f}" if limit is not None else "-"]
        cells.append(f"{ratio:.2f}" if ratio is not None else "-")
    cells.append(f"{_median([r['decode_tps'] for r in rows]) or 0:.1f}")
    cached = _median([r["cached_tokens"] for r in rows])
    prompt = _median([r["prompt_tokens"] for r in rows])
    cells.append(f"{'?' if cached is None else f'{cached:.0f}'}/{prompt:.0f}")
    return "| " + " | ".join(cells) + " |"


def _main(args: argparse.Namespace) -> None:
    kinds = args.backends.split(",")
    specs = [s == "on" for s in args.spec.split(",")]
    print(f"requests: {QUERIES}; repeats: {args.repeats} (cold+empty: {args.cold_repeats})\n", flush=True)
    header = (
        "| backend / state / speculation | n | TTFT s | limit | ratio | first tool s | limit | ratio | end to end s "
        "| limit | ratio | decode tok/s | cached/prompt |"
    )
    lines = [header, "|" + "---|" * 15]
    for kind in kinds:
        if kind == "llama-server":
            with _Server(args.model, False) as server:
                rates = _spawn({"kind": kind, "url": server.process.url, "model": args.model}, "calibrate")[0]
        else:
            rates = _spawn({"kind": kind, "model": args.model}, "calibrate")[0]
        print(f"{kind}: prefill {rates['prefill_tps']:.1f} tok/s, decode {rates['decode_tps']:.1f} tok/s", flush=True)
        for spec in specs:
            tag = f"{kind} / %s / spec {'on' if spec else 'off'}"
            base = {"kind": kind, "spec": spec, "model": args.model}
            cold: list[dict[str, Any]] = []
            for _ in range(args.cold_repeats):
                for query in QUERIES:
                    if kind == "llama-server":
                        with _Server(args.model, spec) as server:
                            rows = _spawn({**base, "url": server.process.url, "queries": [query]})
                        for phase in PHASES:  # from the server's start (the client's own start-up left out)
                            if rows[0][phase] is not None:
                                rows[0][phase] += server.ready - rows[0]["startup"]
                        cold += rows
                    else:
                        with tempfile.TemporaryDirectory() as cache:
                            cold += _spawn({**base, "cache": cache, "queries": [query]})
            lines.append(_report(tag % "cold+empty", cold, rates))
            print(lines[-1], flush=True)
            if kind == "llama-cpp":
                with tempfile.TemporaryDirectory() as cache:
                    seconds = _warm_cache(cache, args.model)
                    print(f"install-time cache built in {seconds:.1f} s", flush=True)
                    installed: list[dict[str, Any]] = []
                    for _ in range(args.repeats):
                        for query in QUERIES:
                            installed += _spawn({**base, "cache": cache, "queries": [query]})
                lines.append(_report(tag % "cold+install", installed, rates))
                print(lines[-1], flush=True)
            warm_queries = [QUERIES[0]] + QUERIES * args.repeats
            if kind == "llama-server":
                with _Server(args.model, spec) as server:
                    rows = _spawn({**base, "url": server.process.url, "queries": warm_queries})
            else:
                with tempfile.TemporaryDirectory() as cache:
                    rows = _spawn({**base, "cache": cache, "queries": warm_queries})
            lines.append(_report(tag % "warm", [r for r in rows if r["index"] > 0], rates))
            print(lines[-1], flush=True)
            plans = {r["query"]: r["plan"] for r in rows if r["index"] > 0}
            print(f"plans ({tag % 'warm'}): {json.dumps(plans)}", flush=True)
    print("\n" + "\n".join(lines))


# ------------------------------------------------------------------------------------------------ decoding variants
DECODE_VARIANTS: dict[str, dict[str, Any]] = {
    # name: (what it is, LlamaCppBackend/LlamaServerProcess options)
    "chain": {"about": "llama-cpp-python's sampler chain (before)", "fast_sampling": False},
    "greedy": {"about": "greedy, grammar checked on the chosen token (default)"},
    "greedy+lookup": {"about": "+ speculation, PromptLookup drafts", "speculative": True},
    "greedy+llama-lookup": {"about": "+ speculation, LlamaPromptLookupDecoding drafts", "speculative": "llama_cpp"},
    "chain+draft_model": {
        "about": "llama-cpp-python's own speculation (draft_model=LlamaPromptLookupDecoding)",
        "fast_sampling": False,
        "draft_model": True,
    },
    "server": {"about": "llama-server", "server": False},
    "server+ngram": {"about": "llama-server, ngram-simple speculation", "server": True},
}


async def _decode_variants(repeats: int, model: str | None, names: Sequence[str]) -> None:
    """Warm decoding of the Mac examples' requests (typed grammar), variants interleaved request by request (the same
    load for all), in one process: plan tokens/s, plan time, and whether each plan is token for token the
    reference's (the first variant of its kind: in-process, llama-server)."""
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from tinyplan import Backend
    from tinyplan.backends import LlamaCppBackend, LlamaServerProcess
    from tinyplan.backends._default_run import RUN_CONTEXT, default_run_planner
    from tinyplan.backends._gguf import resolve_model
    from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

    tools = mac_toolset(copy_sample_home(Path(tempfile.mkdtemp()) / "home"))
    queries = [e.split("\n", 1)[0].removeprefix("Question: ") for e in tools.examples]
    planner = default_run_planner(Backend(), tools, grammar=None)
    grammar = default_run_planner(LlamaCppBackend("unused.gguf"), tools)._grammar_for(tools)
    cache = tempfile.mkdtemp()
    print("| decoding | plans | median plan tok/s | median plan s | total plan s | same as reference |")
    print("|---|---:|---:|---:|---:|---:|")
    families = [["chain", "greedy", "greedy+lookup", "greedy+llama-lookup"], ["chain+draft_model"]]
    families.append(["server", "server+ngram"])
    for family in families:
        chosen = [n for n in family if n in names]
        if not chosen:
            continue
        backends: dict[str, Any] = {}
        servers = []
        for name in chosen:
            options = DECODE_VARIANTS[name]
            if "server" in options:
                server = LlamaServerProcess(resolve_model(model), ctx_size=RUN_CONTEXT, speculative=options["server"])
                servers.append(server.start())
                backends[name] = server.backend()
                continue
            kwargs: dict[str, Any] = {"fast_sampling": options.get("fast_sampling", True)}
            drafter = LlamaPromptLookupDecoding(max_ngram_size=3, num_pred_tokens=10)
            kwargs["speculative"] = (
                drafter if options.get("speculative") == "llama_cpp" else bool(options.get("speculative"))
            )
            if options.get("draft_model"):
                # logits_all=True too: llama-cpp-python 0.3.36 sizes its score buffer from that argument, not from
                # the draft model's need, and fails on the first draft otherwise
                kwargs["llama_kwargs"] = {"draft_model": drafter, "logits_all": True}
            backends[name] = LlamaCppBackend(model, n_ctx=RUN_CONTEXT, prompt_cache=cache, **kwargs)
        rates: dict[str, list[float]] = {n: [] for n in chosen}
        seconds: dict[str, list[float]] = {n: [] for n in chosen}
        outputs: dict[str, list[tuple[str, int]]] = {n: [] for n in chosen}
        for i, query in enumerate([queries[0], *queries * repeats]):
            request = planner.render_prompt(query).request(
                chat=False, stop=("<END_OF_PLAN>",), max_tokens=160, grammar=grammar
            )
            order = chosen[i % len(chosen) :] + chosen[: i % len(chosen)]  # no variant always goes first
            for name in order:
                times: list[float] = []
                text, tokens = "", 0
                async for chunk in backends[name].stream(request):
                    if chunk.text:
                        times.append(time.monotonic())
                        text += chunk.text
                    if chunk.usage is not None:
                        tokens = chunk.usage.completion_tokens
                if i == 0:
                    continue  # it filled the KV cache
                rates[name].append((tokens - 1) / (times[-1] - times[0]))
                seconds[name].append(times[-1] - times[0])
                outputs[name].append((text, tokens))
        for name in chosen:
            n = len(rates[name])
            same = sum(a == b for a, b in zip(outputs[name], outputs[chosen[0]], strict=True))
            print(
                f"| {DECODE_VARIANTS[name]['about']} | {n} | {statistics.median(rates[name]):.1f} | "
                f"{statistics.median(seconds[name]):.2f} | {sum(seconds[name]):.1f} | {same}/{n} |",
                flush=True,
            )
        for backend in backends.values():
            await backend.aclose()
        for server in servers:
            server.stop()


# ------------------------------------------------------------------------------------------------ the real command
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")


def _cli_once(query: str, home: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``tinyplan run`` in a pseudo-terminal: seconds to the first plan token on screen, to exit, and the output."""
    master, slave = pty.openpty()
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyplan", "run", query, "--home", str(home), "-v"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    first: float | None = None
    while True:
        ready, _, _ = select.select([master], [], [], 0.02)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data and proc.poll() is not None:
                break
            seen += data
            if first is None and re.search(rb"\xe2\x94\x82 1", _ANSI.sub(b"", seen)):  # "│ 1": the plan's first line
                first = time.monotonic() - start
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(master)
    total = time.monotonic() - start
    return (first if first is not None else total), total, _ANSI.sub(b"", seen).decode("utf-8", "replace")


def _cli(n: int, model: str | None) -> None:
    query = "Text Sid and Lutfi that the meeting moved to 3pm"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TINYPLAN_PROMPT_CACHE": str(Path(tmp) / "prompt-cache"), "COLUMNS": "100"}
        if model:
            env["TINYPLAN_MODEL"] = model
        started = time.monotonic()
        install = subprocess.run(
            [sys.executable, "-m", "tinyplan", "model", "install"], env=env, capture_output=True, text=True, check=True
        )
        print(f"tinyplan model install: {time.monotonic() - started:.1f} s\n{install.stdout.strip()}\n", flush=True)
        firsts, totals = [], []
        for i in range(n):
            first, total, out = _cli_once(query, Path(tmp) / f"my-home-{i}", env)
            firsts.append(first)
            totals.append(total)
            inner = re.search(r"first token ([\d.]+) s .*? total ([\d.]+) s", " ".join(out.split()))
            shown = inner.groups() if inner else None
            print(f"run {i + 1}: first token on screen {first:.2f} s, exit {total:.2f} s (in-run first/total: {shown})")
        first_median, total_median = statistics.median(firsts), statistics.median(totals)
        print(f"\nmedian of {n}: first token {first_median:.2f} s, end to end {total_median:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--child-run", "--child-calibrate"):
        config = json.loads(sys.argv[2])
        anyio.run(_child if sys.argv[1] == "--child-run" else _calibrate, config)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="llama-cpp,llama-server")
    parser.add_argument("--spec", default="off,on", help="speculation settings to measure: off,on")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each request per state (warm, cold+install)")
    parser.add_argument("--cold-repeats", type=int, default=1, help="runs of each request with an empty cache")
    parser.add_argument("--model", default=None, help="GGUF file (default: $TINYPLAN_MODEL or the default model)")
    parser.add_argument("--cli", type=int, default=0, metavar="N", help="measure `tinyplan run` itself, N times")
    parser.add_argument(
        "--decode", type=int, default=0, metavar="N", help="compare decoding variants on the Mac examples, N rounds"
    )
    parser.add_argument("--variants", default=",".join(DECODE_VARIANTS), help="with --decode: which, comma-separated")
    parsed = parser.parse_args()
    if parsed.decode:
        anyio.run(_decode_variants, parsed.decode, parsed.model, parsed.variants.split(","))
    elif parsed.cli:
        _cli(parsed.cli, parsed.model)
    else:
        _main(parsed)
