"""Synthesize checked ``(request, plan)`` examples for any toolset, in two modes.

*plan-first* (the default, for a small local model): draw a plan skeleton (`SkeletonSampler`), fill its arguments
from value pools, and let the model write the request the plan fulfils. A small model is far better at saying what
a plan does than at writing one.

*request-first* (TinyAgent's recipe, for a strong generator, e.g. behind an OpenAI-compatible URL): the generator
proposes varied requests from the tool descriptions and seed values; the tinyplan planner (typed grammar) plans each.

Every example then goes through the sanity checks (`ExampleChecker`); kept ones are appended to a JSONL file, the
rejected ones (with their reason) to a sidecar file, so a run can stop anywhere and resume (see `tinyplan.data.store`).
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jinja2

from tinyplan._backend import Backend, CompletionRequest, Message, complete
from tinyplan._errors import BackendUnavailableError, TinyplanError
from tinyplan._parser import parse_plan
from tinyplan._prompt import one_line
from tinyplan._tools import Toolset
from tinyplan.data._profile import SynthProfile, is_mac_toolset, mac_profile, profile_for
from tinyplan.data._sanity import REASONS
from tinyplan.data._skeleton import SkeletonSampler, fill, render_plan, skeleton_shape, skeleton_signature, split_of
from tinyplan.data._store import ExampleStore

if TYPE_CHECKING:
    from tinyplan._planner import Planner
    from tinyplan.data._sanity import ExampleChecker

__all__ = ["STYLES", "Mode", "SynthReport", "recheck", "synthesize", "write_request", "writer_view"]

Mode = Literal["plan-first", "request-first"]

#: How the request writer is asked to phrase a request (one per example, drawn with the example's seed).
STYLES: tuple[str, ...] = (
    "casual",
    "polite",
    "brief",
    "direct",
    "explains why",
    "a question",
    "busy, to the point",
    "friendly",
)

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tinyplan", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


@dataclass
class SynthReport:
    """What a synthesis run did.

    Attributes:
        kept: Examples kept in this run.
        total_kept: Examples in the output file after the run (earlier runs included).
        rejected: Rejections of this run by reason (every reason of `REASONS` present, 0 when none).
        attempts: Examples tried in this run.
        seconds: Wall-clock seconds of the run.
        examples: The records kept in this run.
    """

    kept: int = 0
    total_kept: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    attempts: int = 0
    seconds: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds_per_kept(self) -> float | None:
        """Seconds per kept example (None when none was kept)."""
        return self.seconds / self.kept if self.kept else None

    def summary(self) -> str:
        """A plain-text table: kept, then each rejection reason with its count."""
        rate = f"{self.seconds_per_kept:.1f} s/kept" if self.seconds_per_kept is not None else "-"
        lines = [
            f"kept {self.kept} of {self.attempts} tried ({self.total_kept} in the file), {self.seconds:.0f} s, {rate}",
            "rejected:",
        ]
        lines += [f"  {reason:<10} {count}" for reason, count in self.rejected.items()]
        return "\n".join(lines)


def _actions(toolset: Toolset, names: Sequence[str]) -> list[str]:
    out = []
    for name in dict.fromkeys(names):
        tool = toolset[name]
        text = tool.description.strip()
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0] or "(no description)"
        returns = [line.strip() for line in text.splitlines() if line.strip().startswith("Returns ")]
        if returns and returns[-1].removeprefix("Returns ").rstrip(".").casefold() not in first.casefold():
            first += " " + returns[-1]
        out.append(f"{tool.signature()}: {one_line(first, 240)}")
    return out


_REF = re.compile(r'"\$(\d+)"|\$\{?(\d+)\}?')


def _returns(toolset: Toolset, name: str) -> str:
    """What a tool returns, in words from its docstring ("the phone number of the contact"), or ""."""
    tool = toolset.get(name)
    if tool is None:
        return ""
    for line in reversed(tool.description.splitlines()):
        line = line.strip()
        if line.startswith("Returns "):
            return line.removeprefix("Returns ").rstrip(".").strip()
    return ""


def writer_view(plan: str, toolset: Toolset | None = None) -> str:
    """The plan as the request writer sees it: each reference written as what it is.

    For example ``<the phone number of the contact, from step 1>`` (from the tool's docstring; ``<result of step N>``
    without one). A small model copies ``$1`` into the request; a description it turns into words.
    """
    names = {t.idx: t.name for t in parse_plan(plan)} if toolset is not None else {}

    def describe(match: re.Match[str]) -> str:
        step = int(match[1] or match[2])
        what = _returns(toolset, names.get(step, "")) if toolset is not None else ""
        return f"<{what}, from step {step}>" if what else f"<result of step {step}>"

    return _REF.sub(describe, plan)


def request_prompt(toolset: Toolset, plan: str, style: str) -> CompletionRequest:
    """The request writer's completion request for ``plan`` (static instructions and examples first, cached)."""
    names = [t.name for t in parse_plan(plan) if not t.is_join]
    static = _ENV.get_template("synth_request.jinja2").render(part="static").strip() + "\n"
    tail = _ENV.get_template("synth_request.jinja2").render(
        part="tail", actions=_actions(toolset, names), plan=writer_view(plan, toolset), style=style
    )
    return CompletionRequest(
        prompt=static + tail, stop=("\n", "###", "<"), max_tokens=80, temperature=0.0, cache_prefix=static
    )


def _clean_request(text: str, *, whole_sentences: bool = False) -> str:
    text = text.strip().split("\n")[0].strip()
    text = re.sub(r"^(Request|Question)\s*:\s*", "", text, flags=re.IGNORECASE)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if whole_sentences:  # the writer was stopped mid-sentence (at a "<" it began): keep whole sentences
        end = max(text.rfind("."), text.rfind("?"), text.rfind("!"))
        if end > 0:
            text = text[: end + 1]
    return text


async def write_request(backend: Backend, toolset: Toolset, plan: str, style: str) -> str:
    """Ask ``backend`` for the request ``plan`` fulfils (one line)."""
    done = await complete(backend, request_prompt(toolset, plan, style))
    return _clean_request(done.text, whole_sentences=True)


# ------------------------------------------------------------------------------------------------ request-first
_GENERATOR_SYSTEM = (
    "You write realistic requests that users give to a personal assistant which can use the tools listed. Each "
    "request is one or two sentences, names every person, file, note, place, date and time it needs (dates like "
    '"June 3 at 2pm"), and is answered by calling one to six of the tools, some of them using what others return. '
    "Vary the tools, the wording and the length. Write one request per line, nothing else."
)


def generator_messages(toolset: Toolset, values: dict[str, list[str]], count: int) -> tuple[Message, ...]:
    """The chat messages asking a generator for ``count`` requests, with tool descriptions and seed values."""
    tools = "\n".join(f"- {a}" for a in _actions(toolset, toolset.names))
    seeds = "\n".join(f"- {kind}: {', '.join(v)}" for kind, v in values.items() if v)
    user = (
        f"Tools:\n{tools}\n\nUse some of these values (others are fine too):\n{seeds}\n\n"
        f"Write {count} different requests, one per line."
    )
    return (Message("system", _GENERATOR_SYSTEM), Message("user", user))


def _seed_values(profile: SynthProfile, rng: random.Random) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind in ("contact name", "file name", "place", "note name", "reminder"):
        pool = list(profile.pools.pools.get(kind, ()))
        if pool:
            out[kind + "s"] = [str(v) for v in rng.sample(pool, min(4, len(pool)))]
    out["dates"] = [profile.pools.datetime(rng).strftime("%B %d at %I:%M %p").replace(" 0", " ") for _ in range(3)]
    story = profile.pools.scenario(rng)
    out["topics"] = [story.title, story.message]
    return out


def _request_lines(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line).strip()
        line = _clean_request(line)
        if line:
            out.append(line)
    return out


# ----------------------------------------------------------------------------------------------------- the run
async def synthesize(
    toolset: Toolset,
    backend: Backend,
    n: int,
    *,
    mode: Mode = "plan-first",
    out: str | Path | None = None,
    profile: SynthProfile | None = None,
    seed: int = 0,
    planner_backend: Backend | None = None,
    grammar: Literal["syntax", "typed"] | None = "typed",
    max_calls: int = 6,
    max_attempts: int | None = None,
    batch: int = 8,
    progress: bool = False,
    on_result: Callable[[dict[str, Any] | None, str | None], None] | None = None,
) -> SynthReport:
    """Synthesize until ``n`` checked examples exist (in ``out``, when given: a run appends and skips what exists).

    Args:
        toolset: The tools plans call.
        backend: plan-first: the model that writes requests; request-first: the generator of requests.
        n: How many kept examples the output should hold in the end (earlier runs' included).
        mode: ``"plan-first"`` or ``"request-first"``.
        out: A JSONL file to append kept examples to (rejections go to ``<out>.rejected.jsonl``); None keeps them
            in memory only (`SynthReport.examples`).
        profile: Value pools, kinds, held-out examples and sandbox (default: `mac_profile` for the Mac tools, else
            `profile_for`).
        seed: Example ``i`` is drawn from ``random.Random(f"{seed}:{i}")``: the same seed gives the same examples.
        planner_backend: request-first: the model that plans (default: ``backend``).
        grammar: request-first: the planner's grammar level (used when the planner backend supports grammars).
        max_calls: At most this many calls per plan (plan-first).
        max_attempts: Stop after this many tries in this run (default: ``20 * n``).
        batch: request-first: requests asked of the generator at once.
        progress: Show a progress bar.
        on_result: Called after every try with the kept record (or None) and the rejection reason (or None).

    Returns:
        The run's `SynthReport`.

    Raises:
        BackendUnavailableError: A backend cannot be reached (other backend errors reject the example at hand).
    """
    if n < 0:
        raise ValueError("n must be 0 or more")
    if mode not in ("plan-first", "request-first"):
        raise ValueError(f"mode must be 'plan-first' or 'request-first', not {mode!r}")
    profile = profile or (mac_profile() if is_mac_toolset(toolset) else profile_for(toolset))
    checker = profile.checker(toolset)
    store = ExampleStore(out) if out is not None else None
    report = SynthReport()
    start_index = _resume(store, checker, report, seed)
    sampler = SkeletonSampler(toolset, kinds=profile.kinds, max_calls=max_calls, goal_weights=profile.goal_weights)
    planner = _request_planner(planner_backend or backend, toolset, grammar) if mode == "request-first" else None
    limit = max_attempts if max_attempts is not None else max(20 * n, 20)
    started = time.perf_counter()
    pending: dict[int, list[str]] = {}
    bar = _Progress(progress, n, report.total_kept)
    record: dict[str, Any] | None
    with bar:
        index = start_index
        while report.total_kept < n and report.attempts < limit:
            i = index
            index += 1
            report.attempts += 1
            rng = random.Random(f"{seed}:{i}")
            style = rng.choice(STYLES)
            record = None
            reason: str | None = None
            detail = ""
            request = plan = ""
            try:
                if mode == "plan-first":
                    skeleton = sampler.sample(rng)
                    calls = fill(skeleton, toolset, profile.pools, rng, kinds=profile.kinds)
                    plan = render_plan(calls, toolset, profile.style)
                    request = await write_request(backend, toolset, plan, style)
                else:
                    assert planner is not None
                    request = await _next_request(backend, toolset, profile, seed, i, batch, pending)
                    drafted = await planner.plan(request)
                    plan = drafted.text.replace("<END_OF_PLAN>", "").strip()
                    if drafted.parse_error:
                        reason, detail = "parse", drafted.parse_error
            except BackendUnavailableError:
                raise
            except TinyplanError as exc:
                reason, detail = "request", f"the model failed: {exc}"
            if reason is None:
                rejection = await checker.check(request, plan)
                if rejection is not None:
                    reason, detail = rejection.reason, rejection.detail
            if reason is None:
                record = _record(toolset, profile, mode, seed, i, request, plan, style)
                checker.remember(request, plan)
                report.kept += 1
                report.total_kept += 1
                report.examples.append(record)
                if store is not None:
                    store.append(record)
            else:
                report.rejected[reason] = report.rejected.get(reason, 0) + 1
                if store is not None:
                    store.reject(
                        {
                            "index": i,
                            "seed": seed,
                            "mode": mode,
                            "reason": reason,
                            "detail": detail,
                            "request": request,
                            "plan": plan,
                        }
                    )
            bar.update(report)
            if on_result is not None:
                on_result(record, reason)
    report.seconds = time.perf_counter() - started
    return report


def _resume(store: ExampleStore | None, checker: ExampleChecker, report: SynthReport, seed: int) -> int:
    """Take in what earlier runs kept in ``store`` (remembered and counted); returns the next example's index."""
    if store is None:
        return 0
    state = store.load()
    for earlier in state.kept:
        checker.remember(earlier["request"], earlier["plan"])
    report.total_kept = len(state.kept)
    return state.next_index(seed)


def _request_planner(backend: Backend, toolset: Toolset, grammar: Literal["syntax", "typed"] | None) -> Planner:
    """The planner of request-first synthesis: one round, no replanning, the grammar when the backend takes one."""
    from tinyplan._planner import Planner

    return Planner(
        backend,
        toolset,
        grammar=grammar if grammar and backend.supports_grammar else None,
        join="observations",
        max_replans=0,
    )


async def _next_request(
    backend: Backend,
    toolset: Toolset,
    profile: SynthProfile,
    seed: int,
    index: int,
    batch: int,
    pending: dict[int, list[str]],
) -> str:
    """Request number ``index``: line ``index % batch`` of generator batch ``index // batch`` (asked once)."""
    number = index // batch
    if number not in pending:
        pending.clear()
        rng = random.Random(f"{seed}:batch:{number}")
        messages = generator_messages(toolset, _seed_values(profile, rng), batch)
        chat = CompletionRequest(messages=messages, max_tokens=80 * batch, temperature=0.0)
        pending[number] = _request_lines((await complete(backend, chat)).text)
    lines = pending[number]
    position = index % batch
    if position >= len(lines):
        raise TinyplanError(f"the generator wrote {len(lines)} requests, not {batch}")
    return lines[position]


def _record(
    toolset: Toolset,
    profile: SynthProfile,
    mode: str,
    seed: int,
    index: int,
    request: str,
    plan: str,
    style: str,
) -> dict[str, Any]:
    tasks = parse_plan(plan)
    used = list(dict.fromkeys(t.name for t in tasks if not t.is_join))
    signature = skeleton_signature(tasks, toolset)
    return {
        "id": f"{profile.name}-{'pf' if mode == 'plan-first' else 'rf'}-s{seed}-{index:06d}",
        "request": request,
        "tools": [toolset[name].openai_schema() for name in used],
        "plan": plan,
        "mode": mode,
        "skeleton": signature,
        "shape": skeleton_shape(tasks, toolset),
        "split": split_of(signature),
        "checks": [r for r in REASONS if r != "sandbox" or profile.sandbox is not None],
        "toolset": profile.name,
        "seed": seed,
        "index": index,
        "style": style if mode == "plan-first" else None,
    }


class _Progress:
    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self.total = total
        self.done = done

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("synth"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("synth", total=self.total, completed=self.done, note="")
        return self

    def update(self, report: SynthReport) -> None:
        if self._progress is not None:
            rejected = sum(report.rejected.values())
            self._progress.update(
                self._task, completed=report.total_kept, note=f"tried {report.attempts}, rejected {rejected}"
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            with contextlib.suppress(Exception):
                self._progress.__exit__(None, None, None)


async def recheck(
    toolset: Toolset, path: str | Path, *, profile: SynthProfile | None = None
) -> tuple[int, dict[str, int]]:
    """Run the current checks again over a file's kept examples; returns how many stay and the reasons.

    The examples are checked in order, duplicates judged against the ones kept before them; examples that fail move
    to the sidecar with their reason.

    For bringing a file made by earlier code up to the current checks; no run may write to it meanwhile.
    """
    profile = profile or (mac_profile() if is_mac_toolset(toolset) else profile_for(toolset))
    checker = profile.checker(toolset)
    store = ExampleStore(path)
    state = store.load()
    kept: list[dict[str, Any]] = []
    reasons: dict[str, int] = {}
    for record in state.kept:
        rejection = await checker.check(record["request"], record["plan"])
        if rejection is None:
            checker.remember(record["request"], record["plan"])
            kept.append(record)
            continue
        reasons[rejection.reason] = reasons.get(rejection.reason, 0) + 1
        store.reject(
            {
                "index": record.get("index"),
                "seed": record.get("seed"),
                "mode": record.get("mode"),
                "reason": rejection.reason,
                "detail": rejection.detail,
                "request": record["request"],
                "plan": record["plan"],
                "recheck": True,
            }
        )
    store.rewrite(kept)
    return len(kept), reasons
