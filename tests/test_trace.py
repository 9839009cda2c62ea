"""Pictures of a run: the Chrome trace read back and checked as Perfetto reads it, the Mermaid DAG against the plan's
graph, the terminal timeline at 80 and 120 columns, and ``tinyplan run --trace/--graph`` end to end."""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tinyplan import Planner, PlanResult, ScriptedBackend, TaskState, Toolset, build_graph, tool
from tinyplan._trace import Timeline, mermaid, timeline_text
from tinyplan.cli import main

sys.path.insert(0, str(Path(__file__).parent / "backends"))
sys.path.insert(0, str(Path(__file__).parent / "cli"))

from backend_fakes import FakeServer
from test_cli import scripted_llama_server

NUMBERS = {"Sid": "+1 510 555 0101", "Lutfi": "+1 510 555 0102"}
FINISH = "Thought: done.\nAction: Finish({})"
PARALLEL_PLAN = (
    '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
    '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>'
)


def make_tools(delay: float = 0.05) -> Toolset:
    @tool
    async def get_phone_number(name: str) -> str:
        """Find a contact's phone number.

        Args:
            name: The contact's name.
        """
        await anyio.sleep(delay)
        if name not in NUMBERS:
            raise LookupError(f"no contact named {name!r}")
        return NUMBERS[name]

    @tool(side_effects=True)
    async def send_sms(recipients: list[str], message: str) -> str:
        """Send a text message.

        Args:
            recipients: Phone numbers.
            message: The text.
        """
        await anyio.sleep(delay / 2)
        return f"Texted {', '.join(recipients)}: {message}"

    return Toolset([get_phone_number, send_sms])


def run(plans: list[str], delay: float = 0.05, **kwargs: Any) -> PlanResult:
    backend = ScriptedBackend(plans, delay=0.002)
    return Planner(backend, make_tools(delay), **kwargs).run_sync("Text Sid and Lutfi that the meeting moved to 3pm")


@pytest.fixture(scope="module")
def parallel_run() -> PlanResult:
    # the look-ups take longer than the rest of the plan takes to stream: send_sms is parsed, then waits
    result = run([PARALLEL_PLAN, FINISH.format("Texted both.")], delay=0.15)
    assert result.answer == "Texted both."
    return result


# ------------------------------------------------------------------------------------------------ Chrome trace
def tracks(trace: dict[str, Any]) -> tuple[dict[int, str], dict[int, list[dict[str, Any]]]]:
    """Track names by tid, and each track's non-metadata events in file order."""
    names: dict[int, str] = {}
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "M":
            if e["name"] == "thread_name":
                names[e["tid"]] = e["args"]["name"]
            continue
        events[e["tid"]].append(e)
    return names, events


def slices(track: list[dict[str, Any]]) -> list[tuple[str, float, float, int]]:
    """The track's slices ``(name, start, end, depth)``, checking as Perfetto does that every B has its E."""
    stack: list[dict[str, Any]] = []
    found: list[tuple[str, float, float, int]] = []
    for e in track:
        if e["ph"] == "B":
            stack.append(e)
        elif e["ph"] == "E":
            assert stack, f"E without B: {e}"
            b = stack.pop()
            assert b["name"] == e["name"], (b, e)
            found.append((b["name"], b["ts"], e["ts"], len(stack)))
    assert not stack, f"B without E: {stack}"
    return found


def check_trace(trace: dict[str, Any]) -> tuple[dict[int, str], dict[int, list[dict[str, Any]]]]:
    """What every Chrome trace must satisfy; returns its tracks."""
    trace = json.loads(json.dumps(trace))  # JSON through and through
    assert trace["displayTimeUnit"] == "ms"
    names, events = tracks(trace)
    for tid, track in events.items():
        stamps = [e["ts"] for e in track]
        assert stamps == sorted(stamps), f"track {names.get(tid)}: timestamps go back"
        assert all(t >= 0 for t in stamps)
        slices(track)
    return names, events


def test_the_trace_has_a_model_track_and_one_track_per_task_and_reads_back(parallel_run: PlanResult) -> None:
    names, events = check_trace(parallel_run.to_chrome_trace())
    assert names[1] == "model"
    task_tracks = {tid: name for tid, name in names.items() if tid != 1}
    assert sorted(task_tracks.values()) == ["1 get_phone_number", "2 get_phone_number", "3 send_sms"]
    # the model track: the plan request then the joiner's, each split into prompt processing and generation
    model = slices(events[1])
    top = [(name, start) for name, start, _, depth in model if depth == 0]
    assert [name for name, _ in sorted(top, key=lambda x: x[1])] == ["planner", "joiner"]
    assert {name for name, _, _, depth in model if depth == 1} == {"prompt", "generate"}
    planner = next(s for s in model if s[0] == "planner")
    parsed = [e for e in events[1] if e["ph"] == "i"]
    assert [e["name"] for e in parsed] == ["parsed 1", "parsed 2", "parsed 3"]
    assert all(planner[1] <= e["ts"] <= planner[2] for e in parsed)  # lines parse while the plan streams


def test_parallel_tasks_sit_on_separate_tracks_and_their_calls_overlap(parallel_run: PlanResult) -> None:
    names, events = check_trace(parallel_run.to_chrome_trace())
    by_name = {name: tid for tid, name in names.items()}
    calls = {}
    for label in ("1 get_phone_number", "2 get_phone_number", "3 send_sms"):
        found = [s for s in slices(events[by_name[label]]) if s[0] != "waiting"]
        assert len(found) == 1
        calls[label] = found[0]
    one, two, three = calls["1 get_phone_number"], calls["2 get_phone_number"], calls["3 send_sms"]
    assert one[1] < two[2] and two[1] < one[2], "the two look-ups ran at the same time"
    assert three[1] >= max(one[2], two[2]), "send_sms started after both look-ups ended"
    # the trace's times are the run's: send_sms waited (parsed before its inputs were ready)
    waiting = [s for s in slices(events[by_name["3 send_sms"]]) if s[0] == "waiting"]
    assert waiting and waiting[0][2] == three[1]


def test_dependency_flows_point_from_producer_to_consumer(parallel_run: PlanResult) -> None:
    names, events = check_trace(parallel_run.to_chrome_trace())
    starts: dict[int, dict[str, Any]] = {}
    finishes: dict[int, dict[str, Any]] = {}
    for track in events.values():
        for e in track:
            if e["ph"] == "s":
                starts[e["id"]] = e
            elif e["ph"] == "f":
                finishes[e["id"]] = e
    assert starts.keys() == finishes.keys() and starts
    edges = set()
    for flow_id, s in starts.items():
        f = finishes[flow_id]
        assert s["cat"] == f["cat"] == "dependency" and f["bp"] == "e"
        producer = int(names[s["tid"]].split()[0])
        consumer = int(names[f["tid"]].split()[0])
        assert s["ts"] <= f["ts"]
        # each end lies inside the call slice of its own track, so it binds to that slice
        p_call = next(x for x in slices(events[s["tid"]]) if x[0] != "waiting")
        c_call = next(x for x in slices(events[f["tid"]]) if x[0] != "waiting")
        assert p_call[1] <= s["ts"] <= p_call[2] and c_call[1] <= f["ts"] <= c_call[2]
        assert s["name"] == f"${producer}"
        edges.add((producer, consumer))
    plan = parallel_run.plans[0]
    graph = build_graph(plan.tasks)
    joins = {t.idx for t in plan.tasks if t.is_join}
    assert edges == {(a, b) for a, b in graph.edges if b not in joins} == {(1, 3), (2, 3)}


def test_a_replan_adds_tracks_per_round_and_a_skipped_task_gets_a_slice_where_it_ended() -> None:
    first = (
        '1. get_phone_number("Sid")\n2. get_phone_number("Nobody")\n'
        '3. send_sms(["$1", "$2"], "moved")\n4. join()<END_OF_PLAN>'
    )
    second = '1. get_phone_number("Lutfi")\n2. send_sms(["$1"], "moved")\n3. join()<END_OF_PLAN>'
    result = run([first, second, FINISH.format("Texted Lutfi.")])
    assert len(result.plans) == 2 and result.answer == "Texted Lutfi."
    names, events = check_trace(result.to_chrome_trace())
    labels = sorted(n for t, n in names.items() if t != 1)
    assert labels == [
        "1.1 get_phone_number",
        "1.2 get_phone_number",
        "1.3 send_sms",
        "2.1 get_phone_number",
        "2.2 send_sms",
    ]
    by_name = {name: tid for tid, name in names.items()}
    skipped = [s for s in slices(events[by_name["1.3 send_sms"]]) if s[0] != "waiting"]
    assert [s[0] for s in skipped] == ["skipped"]
    planners = [s for s in slices(events[1]) if s[0] == "planner"]
    assert len(planners) == 2
    # flows stay inside a round
    flows_in = [e["name"] for t in events.values() for e in t if e["ph"] == "f" and e["tid"] == by_name["2.2 send_sms"]]
    assert flows_in == ["$1"]


# ---------------------------------------------------------------------------------------------------- Mermaid
NODE = re.compile(r'^\s*(r\d+t\d+)(?:\[|\(\[)"(.*)"(?:\]|\]\)):::(\w+)$')
EDGE = re.compile(r"^\s*r(\d+)t(\d+) (-->\|\$\d+\||-\.->) r(\d+)t(\d+)$")


def parse_mermaid(text: str) -> tuple[dict[str, tuple[str, str]], set[tuple[int, int, int]], set[tuple[int, int, int]]]:
    nodes: dict[str, tuple[str, str]] = {}
    solid: set[tuple[int, int, int]] = set()
    dotted: set[tuple[int, int, int]] = set()
    for line in text.splitlines()[1:]:
        if m := NODE.match(line):
            nodes[m.group(1)] = (m.group(2), m.group(3))
        elif m := EDGE.match(line):
            a_round, a, arrow, b_round, b = m.groups()
            assert a_round == b_round
            (solid if arrow.startswith("--") else dotted).add((int(a_round), int(a), int(b)))
            if arrow.startswith("--"):
                assert arrow == f"-->|${a}|"
        else:
            assert line.strip().startswith(("classDef", "subgraph", "end")), line
    return nodes, solid, dotted


def test_the_mermaid_dag_is_the_plans_graph_with_state_colours(parallel_run: PlanResult) -> None:
    text = parallel_run.to_mermaid()
    assert text.startswith("flowchart LR\n")
    nodes, solid, dotted = parse_mermaid(text)
    plan = parallel_run.plans[0]
    graph = build_graph(plan.tasks)
    assert solid | dotted == {(0, a, b) for a, b in graph.edges}
    assert dotted == {(0, a, 4) for a in (1, 2, 3)}  # into join()
    assert set(nodes) == {f"r0t{t.idx}" for t in plan.tasks}
    assert nodes["r0t1"] == ("1. get_phone_number(#quot;Sid#quot;)", "succeeded")
    assert "classDef succeeded fill:" in text


def test_the_mermaid_dag_shows_failures_rounds_and_escapes_labels() -> None:
    first = (
        '1. get_phone_number("Sid <#1>")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$1", "$2"], "moved")\n4. join()<END_OF_PLAN>'
    )
    second = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "moved")\n3. join()<END_OF_PLAN>'
    result = run([first, second, FINISH.format("ok")])
    text = result.to_mermaid()
    nodes, solid, dotted = parse_mermaid(text)
    assert 'subgraph round0["plan"]' in text and 'subgraph round1["replan 1"]' in text
    assert nodes["r0t1"] == ("1. get_phone_number(#quot;Sid #lt;#35;1#gt;#quot;)", "failed")
    assert nodes["r0t3"][1] == "skipped" and nodes["r1t2"][1] == "succeeded"
    for p in result.plans:
        assert {(a, b) for r, a, b in solid | dotted if r == p.round} == set(build_graph(p.tasks).edges)
    assert "classDef failed" in text and "classDef skipped" in text


def test_a_dry_run_plan_is_drawn_as_planned() -> None:
    planner = Planner(ScriptedBackend([PARALLEL_PLAN]), make_tools())
    plan = anyio.run(planner.plan, "Text Sid and Lutfi")
    nodes, solid, _ = parse_mermaid(mermaid([plan]))
    assert {state for _, state in nodes.values()} == {"planned"}
    assert {(a, b) for _, a, b in solid} == {(1, 3), (2, 3)}


# --------------------------------------------------------------------------------------------------- timeline
def render(result: PlanResult, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(Timeline(result))
    return console.export_text().rstrip("\n").splitlines()


def bar(line: str, start: int) -> tuple[int, int]:
    cells = [i for i, c in enumerate(line) if i >= start and c == "█"]
    assert cells, line
    return cells[0], cells[-1]


@pytest.mark.parametrize("width", [80, 120])
def test_the_timeline_fits_the_terminal_and_shows_the_overlap(parallel_run: PlanResult, width: int) -> None:
    lines = render(parallel_run, width)
    assert all(len(line) <= width for line in lines), lines
    labels = [line[:20].strip() for line in lines[:4]]
    assert labels == ["model", "1 get_phone_number", "2 get_phone_number", "3 send_sms"]
    start = len("2 get_phone_number  ")  # where the bars begin: after the label column
    assert all(line[start - 2 : start] == "  " for line in lines[:4])
    one, two, three = (bar(line, start) for line in lines[1:4])
    assert one[0] <= two[1] and two[0] <= one[1], "the look-ups overlap on the time axis"
    assert three[0] >= max(one[1], two[1]), "send_sms starts after both"
    assert "·" in lines[3]  # send_sms waited for its inputs
    axis, numbers = lines[-2], lines[-1]
    assert axis.strip().startswith("└") and "┴" in axis
    assert numbers.rstrip().endswith(" s") and numbers.split()[0] in ("0", "0.0", "0.00")
    # the bars span the width: the last event (the joiner's end) sits near the right edge
    assert len(lines[0].rstrip()) >= width - 2


def test_the_timeline_as_text_marks_a_task_that_never_ran() -> None:
    first = '1. get_phone_number("Nobody")\n2. send_sms(["$1"], "moved")\n3. join()<END_OF_PLAN>'
    result = run([first], max_replans=0, join="observations")
    assert [r.state for r in result.plans[0].results[:2]] == [TaskState.FAILED, TaskState.SKIPPED]
    text = timeline_text(result, 80)
    rows = text.splitlines()
    assert rows[2].startswith("2 send_sms") and "✗" in rows[2] and "█" not in rows[2]
    assert all(len(r) <= 80 for r in rows)


# ------------------------------------------------------------------------------------------------- the CLI
OWN_TOOLS = '''
from tinyplan import tool


@tool
def lookup(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return {"Sid": "+1 510 555 0101", "Lutfi": "+1 510 555 0102"}[name]


@tool(side_effects=True)
def draft_text(first: str, second: str, message: str) -> str:
    """Draft a text message to two numbers.

    Args:
        first: A phone number.
        second: Another phone number.
        message: The text.
    """
    return f"Drafted a text to {first} and {second}: {message}"


tools = [lookup, draft_text]
'''
CLI_PLAN = '1. lookup("Sid")\n2. lookup("Lutfi")\n3. draft_text("$1", "$2", "moved to 3pm")\n4. join()<END_OF_PLAN>'


@pytest.fixture
def llama_server() -> Iterator[FakeServer]:
    """A llama-server stand-in on 127.0.0.1 (see tests/backends/backend_fakes.py), scripted per test."""
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def own_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "trace_cli_tools.py").write_text(OWN_TOOLS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "trace_cli_tools", raising=False)
    return "trace_cli_tools:tools"


def test_run_writes_the_trace_prints_the_graph_and_shows_the_timeline(
    llama_server: FakeServer, own_tools: str, tmp_path: Path
) -> None:
    scripted_llama_server(llama_server, CLI_PLAN)
    out = tmp_path / "run.json"
    res = CliRunner().invoke(
        main,
        ["run", "Text Sid and Lutfi", "--server", llama_server.url, "--toolset", own_tools, "--trace", str(out),
         "--graph"],
        env={"COLUMNS": "100"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    names, _ = check_trace(json.loads(out.read_text()))
    assert sorted(n for t, n in names.items() if t != 1) == ["1 lookup", "2 lookup", "3 draft_text"]
    assert f"wrote {out}" in res.stderr
    stdout = res.stdout
    assert "flowchart LR" in stdout and "r0t1 -->|$1| r0t3" in stdout
    # the final view: the answer, then a bar per task on the time axis
    view = stdout[stdout.index("─ answer ─") : stdout.index("flowchart LR")]
    rows = [line for line in view.splitlines() if line.startswith(("model", "1 lookup", "2 lookup", "3 draft_text"))]
    assert [r.split()[0] for r in rows] == ["model", "1", "2", "3"]
    assert all("█" in r for r in rows) and view.rstrip().endswith(" s")


def test_graph_goes_to_stderr_with_json_and_a_dry_run_draws_the_plan(llama_server: FakeServer, own_tools: str) -> None:
    scripted_llama_server(llama_server, CLI_PLAN)
    res = CliRunner().invoke(
        main, ["run", "Text Sid and Lutfi", "--server", llama_server.url, "--toolset", own_tools, "--json", "--graph"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "answered"  # stdout stays JSON
    assert "flowchart LR" in res.stderr
    dry = CliRunner().invoke(
        main,
        ["run", "Text Sid and Lutfi", "--server", llama_server.url, "--toolset", own_tools, "--dry-run", "--graph"],
    )
    assert dry.exit_code == 0, dry.output
    assert ":::planned" in dry.stdout and "r0t2 -->|$2| r0t3" in dry.stdout


def test_the_observability_example_runs(tmp_path: Path) -> None:
    import subprocess

    example = Path(__file__).resolve().parent.parent / "examples" / "observability.py"
    out = tmp_path / "trace.json"
    proc = subprocess.run(
        [sys.executable, str(example), str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "answer: I texted Sid and Lutfi." in proc.stdout
    assert "flowchart LR" in proc.stdout and "1 get_phone_number" in proc.stdout
    if "spans:" in proc.stdout:  # opentelemetry-sdk is installed
        assert "\n  plan " in proc.stdout and "\n    text_completion ScriptedBackend" in proc.stdout
    check_trace(json.loads(out.read_text()))


@settings(max_examples=200, deadline=None)
@given(total=st.floats(min_value=0.0001, max_value=500.0), cells=st.integers(min_value=12, max_value=160))
def test_the_time_axis_always_says_its_unit(total: float, cells: int) -> None:
    from tinyplan._trace import _axis

    ruler, numbers = _axis(4, cells, total)
    assert numbers.plain.rstrip().endswith(" s")
    assert len(numbers.plain.rstrip()) <= 4 + 2 + cells and len(ruler.plain) == 4 + 2 + cells
