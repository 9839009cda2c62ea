"""Backend speed with the default model: load time, time to first token (cold and warm), generation speed, and the
prompt cache's effect, for each backend.

For every backend it runs, on a planner-style prompt (~500 tokens of tool descriptions and an example):

1. ``cold``: the first request after loading (empty KV cache);
2. ``same``: the identical request again (the whole prompt is cached);
3. ``new question``: the same static prefix with another question (the realistic planner case).

Run (loads one model at a time; wrap in the machine's model lock)::

    flock /tmp/tinyplan-model.lock python benchmarks/bench_backends.py [--model FILE] [--backends llama-cpp,...]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from tinyplan import Backend, CompletionRequest, Message, Usage
from tinyplan.backends import LlamaCppBackend, LlamaServerProcess, OpenAICompatibleBackend
from tinyplan.backends._gguf import resolve_model

SYSTEM = """Given a user query, create a plan to solve it with the utmost parallelizability.
Each plan should comprise an action from the following types:
1. get_phone_number(name: str) -> str
 - Search for a contact by name and return their phone number.
2. get_email_address(name: str) -> str
 - Search for a contact by name and return their email address.
3. send_sms(recipients: list[str], message: str) -> str
 - Send a text message to the recipients (phone numbers).
4. send_email(recipients: list[str], subject: str, body: str) -> str
 - Send an email to the recipients (email addresses).
5. create_calendar_event(title: str, start_date: str, end_date: str, location: str, invitees: list[str]) -> str
 - Create a calendar event. Dates are 'YYYY-MM-DD HH:MM:SS'. Invitees are email addresses.
6. open_and_get_file_path(file_name: str) -> str
 - Open a file by name and return its path.
7. join()
 - Collects and combines results from prior actions. Always the last action of a plan.

Guidelines:
 - Each action described above contains input/output types and description.
 - Each action in the plan should strictly be one of the above types.
 - Each action MUST have a unique ID, which is strictly increasing.
 - Inputs for actions can either be constants or outputs from preceding actions. In the latter case, use the format
   $id to denote the ID of the previous action whose output will be the input.
 - Always call join as the last action in the plan. Say '<END_OF_PLAN>' after you call join.
 - Never explain the plan with comments (e.g. #).

Here is an example:
Question: Send an email to Andrea and Bob about the project review tomorrow at 10am.
1. get_email_address("Andrea")
2. get_email_address("Bob")
3. send_email([$1, $2], "Project review", "The project review is tomorrow at 10am.")
4. join()<END_OF_PLAN>
"""
QUESTIONS = ("Question: Text Sid and Lutfi that the meeting moved to 3pm.", "Question: Email Ann the file notes.pdf.")


def request(question: str) -> CompletionRequest:
    return CompletionRequest(
        messages=(Message("system", SYSTEM), Message("user", question)), stop=("<END_OF_PLAN>",), max_tokens=120
    )


@dataclass
class Row:
    backend: str
    case: str
    ttft: float
    total: float
    usage: Usage

    @property
    def gen_rate(self) -> float:
        gen_time = self.total - self.ttft
        return (self.usage.completion_tokens - 1) / gen_time if gen_time > 0 and self.usage.completion_tokens > 1 else 0


async def measure(name: str, case: str, backend: Backend, req: CompletionRequest) -> Row:
    start = time.perf_counter()
    ttft: float | None = None
    usage = Usage()
    async for chunk in backend.stream(req):
        if chunk.text and ttft is None:
            ttft = time.perf_counter() - start
        if chunk.usage is not None:
            usage = chunk.usage
    total = time.perf_counter() - start
    return Row(name, case, ttft if ttft is not None else total, total, usage)


@asynccontextmanager
async def llama_cpp(model: Path) -> AsyncIterator[tuple[Backend, float]]:
    backend = LlamaCppBackend(model)
    start = time.perf_counter()
    await backend.load()
    yield backend, time.perf_counter() - start
    await backend.aclose()


@asynccontextmanager
async def llama_server(model: Path) -> AsyncIterator[tuple[Backend, float]]:
    start = time.perf_counter()
    async with LlamaServerProcess(model) as server, server.backend() as backend:
        yield backend, time.perf_counter() - start


@asynccontextmanager
async def llama_cpp_server(model: Path) -> AsyncIterator[tuple[Backend, float]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port)]
    proc = await anyio.open_process(
        [*cmd, "--n_threads", "2", "--n_ctx", "4096"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/v1/models")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await anyio.sleep(0.1)
        ready = time.perf_counter() - start
        async with OpenAICompatibleBackend(f"http://127.0.0.1:{port}/v1") as backend:
            yield backend, ready
    finally:
        proc.terminate()
        await proc.wait()


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[tuple[Backend, float]]]] = {
    "llama-cpp": llama_cpp,
    "llama-server": llama_server,
    "openai(llama_cpp.server)": llama_cpp_server,
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="GGUF file (default: the default model)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: " + ", ".join(BACKENDS))
    args = parser.parse_args()
    model = resolve_model(args.model)
    print(f"model: {model.name}\n")
    rows: list[Row] = []
    loads: dict[str, float] = {}
    for name in args.backends.split(","):
        async with BACKENDS[name](model) as (backend, load):
            loads[name] = load
            rows.append(await measure(name, "cold", backend, request(QUESTIONS[0])))
            rows.append(await measure(name, "same request", backend, request(QUESTIONS[0])))
            rows.append(await measure(name, "new question", backend, request(QUESTIONS[1])))
    print(
        f"| {'backend':<25} | {'load s':>6} | {'case':<13} | {'prompt tok':>10} | {'cached':>6} | {'TTFT s':>6} |"
        f" {'gen tok':>7} | {'gen tok/s':>9} | {'total s':>7} |"
    )
    print("|" + "|".join("-" * (w + 2) for w in (25, 6, 13, 10, 6, 6, 7, 9, 7)) + "|")
    for r in rows:
        cached = "?" if r.usage.cached_tokens is None else str(r.usage.cached_tokens)
        load = f"{loads[r.backend]:.1f}" if r.case == "cold" else ""
        print(
            f"| {r.backend:<25} | {load:>6} | {r.case:<13} | {r.usage.prompt_tokens or '?':>10} | {cached:>6} |"
            f" {r.ttft:>6.2f} | {r.usage.completion_tokens:>7} | {r.gen_rate:>9.1f} | {r.total:>7.2f} |"
        )


if __name__ == "__main__":
    anyio.run(main)
