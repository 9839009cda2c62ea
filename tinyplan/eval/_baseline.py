"""A side-by-side baseline: the same GGUF model through llama-cpp-python's own function calling.

llama-cpp-python's ``chatml-function-calling`` chat handler lets a model answer with tool calls (constrained by a
grammar it builds from the tool schemas). Its calls carry no dependencies, so they form a plan
``1. f(...)``, ``2. g(...)``, ..., ``N. join()`` with no edges except into join; it is scored with the same metrics as
tinyplan's plans. Without any tool call the plan is just ``1. join()`` (right for BFCL's irrelevance category).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread

from tinyplan._errors import BackendUnavailableError
from tinyplan._syntax import JOIN
from tinyplan._types import Task
from tinyplan.eval._runner import Prediction
from tinyplan.eval.datasets import EvalCase

__all__ = ["LlamaFunctionCallingBaseline", "tasks_from_tool_calls"]


def _call_text(name: str, arguments: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{name}({args})"


def tasks_from_tool_calls(tool_calls: Any) -> tuple[list[Task], str]:
    """Turn OpenAI-style ``tool_calls`` into a plan: one task per call (no dependencies), then ``join``.

    Args:
        tool_calls: ``[{"function": {"name": ..., "arguments": "<JSON object text>"}}, ...]`` or None.

    Returns:
        The tasks (ending in join) and the plan written out as text.

    Raises:
        ValueError: A call without a name, or arguments that are not a JSON object.
    """
    tasks: list[Task] = []
    for i, call in enumerate(tool_calls or [], 1):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ValueError(f"tool call {i} has no function name: {call!r:.200}")
        raw = fn.get("arguments") or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise ValueError(f"tool call {i} ({fn['name']}): arguments are not JSON: {exc.msg}") from exc
        if not isinstance(arguments, dict):
            raise ValueError(f"tool call {i} ({fn['name']}): arguments are not a JSON object")
        text = _call_text(fn["name"], arguments)
        tasks.append(Task(idx=i, name=fn["name"], kwargs=arguments, text=text, line_no=i))
    tasks.append(Task(idx=len(tasks) + 1, name=JOIN, dependencies=tuple(t.idx for t in tasks), text="join()"))
    return tasks, "\n".join(str(t) for t in tasks)


class LlamaFunctionCallingBaseline:
    """llama-cpp-python's ``chatml-function-calling`` as an evaluation system (`tinyplan.eval.EvalSystem`).

    The model is loaded once, on the first case, with ``Llama(model_path, chat_format="chatml-function-calling",
    n_threads=...)``; each case calls ``create_chat_completion(messages, tools=case.tools, tool_choice="auto")``
    greedily in a worker thread (one at a time: a ``Llama`` object is not thread-safe).

    Args:
        model_path: The GGUF file (the same one the planner's backend serves).
        n_threads: CPU threads (2 on this project's machines).
        n_ctx: Context length in tokens.
        max_tokens: Tokens an answer may take.
        system_prompt: The system message (the case's own system message is appended when it has one).
        name: The system's name in results.
        llama_options: More ``Llama(...)`` keyword arguments.

    Raises (from `predict`, on first use):
        BackendUnavailableError: llama-cpp-python is not installed or the model cannot be loaded.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_threads: int = 2,
        n_ctx: int = 4096,
        max_tokens: int = 512,
        system_prompt: str = "You are a helpful assistant. Call the functions needed to answer the user's request.",
        name: str = "llama-cpp function calling",
        llama_options: dict[str, Any] | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.system_prompt = system_prompt
        self.name = name
        self.llama_options = dict(llama_options or {})
        self._llm: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise BackendUnavailableError(
                    "llama-cpp-python is not installed: pip install 'tinyplan[llama]' "
                    "(or --find-links ~/.cache/tinyplan/wheels llama-cpp-python==0.3.36)"
                ) from exc
            if not self.model_path.is_file():
                raise BackendUnavailableError(f"model file not found: {self.model_path}")
            try:
                self._llm = Llama(
                    model_path=str(self.model_path),
                    chat_format="chatml-function-calling",
                    n_threads=self.n_threads,
                    n_ctx=self.n_ctx,
                    verbose=False,
                    **self.llama_options,
                )
            except (ValueError, RuntimeError) as exc:
                raise BackendUnavailableError(f"cannot load {self.model_path}: {exc}") from exc
        return self._llm

    def _complete(self, case: EvalCase) -> tuple[dict[str, Any], float]:
        with self._lock:
            llm = self._load()
            system = self.system_prompt + (f"\n\n{case.system}" if case.system else "")
            messages = [{"role": "system", "content": system}, {"role": "user", "content": case.request}]
            started = time.perf_counter()
            response = llm.create_chat_completion(
                messages=messages,
                tools=case.tools,
                tool_choice="auto",
                temperature=0.0,
                max_tokens=self.max_tokens,
            )
            return dict(response), time.perf_counter() - started

    async def predict(self, case: EvalCase) -> Prediction:
        """Ask the model for tool calls and turn them into a plan without dependencies.

        Raises:
            BackendUnavailableError: llama-cpp-python or the model file is missing.
        """
        response, seconds = await anyio.to_thread.run_sync(self._complete, case)
        usage_raw = response.get("usage") or {}
        usage = {
            "prompt_tokens": int(usage_raw.get("prompt_tokens") or 0),
            "completion_tokens": int(usage_raw.get("completion_tokens") or 0),
        }
        timings: dict[str, float | None] = {"total": seconds}
        try:
            message = response["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            return Prediction(
                tasks=None, error="no message in the response", error_kind="parse", timings=timings, usage=usage
            )
        try:
            tasks, text = tasks_from_tool_calls(message.get("tool_calls"))
        except ValueError as exc:
            raw = json.dumps(message.get("tool_calls"), ensure_ascii=False)[:2000]
            return Prediction(tasks=None, text=raw, error=str(exc), error_kind="parse", timings=timings, usage=usage)
        return Prediction(tasks=tasks, text=text, timings=timings, usage=usage, tools_shown=case.tool_names)
