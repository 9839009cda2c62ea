"""Dataset adapters: BFCL v4, T-Eval, TinyAgent and generic JSONL cases, all in one `EvalCase` format.

Every adapter yields `EvalCase` objects: a request, the toolset's OpenAI schemas (names sanitised into valid tool
names, types normalised to JSON Schema) and the ground-truth plan as `GoldCall` tasks with dependencies. The final
``join()`` of a plan is implicit: it is never a `GoldCall`, and metrics add it (depending on every task), as the
parser does for a predicted plan.

Dataset specs (`load_dataset`):

* ``bfcl:<category>``: Berkeley Function Calling Leaderboard v4 (Patil et al., gorilla repository). Categories:
  ``simple`` (file ``simple_python``), ``multiple``, ``parallel``, ``parallel_multiple``, ``live_parallel``,
  ``live_parallel_multiple``, ``irrelevance`` (the right plan calls no tool: just ``1. join()``). BFCL calls have no
  dependencies between them. Argument rules follow BFCL's ``possible_answer`` files (several acceptable values per
  argument, ``""`` meaning the argument may be omitted).
* ``teval``: T-Eval's planning set (Chen et al. 2023, ``plan_json_v1.json`` with ``api_descrip.json``): DAG plans
  with ``prev`` edges; ``FinishAction`` becomes ``join()``. Arguments were recorded from live runs (ids returned by
  earlier steps), so only the structure is fairly gradeable.
* ``mac``: the Mac toolset's own example plans, leave-one-out (each question planned with the other examples in the
  prompt).
* ``tinyagent:PATH``: TinyAgent's published format (Erdogan et al. 2024),
  ``{id: {"input": ..., "output": [{"type": "plan", "raw_output": ..., "parsed_output": [...]}, ...]}}``.
* ``jsonl:PATH``: one JSON object per line with ``request``, ``tools`` (OpenAI function schemas) and ``plan``
  (LLMCompiler plan text with ``$N`` references, ending in ``join()``); optional ``id``.

The data root for ``bfcl`` and ``teval`` defaults to ``../shared/evaldata`` relative to the repository, overridden
by the ``TINYPLAN_EVALDATA`` environment variable or the ``root`` argument.

One module per source: ``_bfcl``, ``_teval``, ``_tinyagent``, ``_jsonl``, ``_mac``; the case format in ``_case``,
names and schemas in ``_schemas``, file reading in ``_files``, sampling in ``_sample``, specs in ``_registry``.
"""

from tinyplan.eval.datasets._bfcl import BFCL_CATEGORIES, load_bfcl
from tinyplan.eval.datasets._case import EvalCase, EvalDataError, GoldCall, render_plan
from tinyplan.eval.datasets._files import default_root
from tinyplan.eval.datasets._jsonl import load_jsonl
from tinyplan.eval.datasets._mac import load_mac
from tinyplan.eval.datasets._registry import load_dataset
from tinyplan.eval.datasets._sample import spread, with_examples
from tinyplan.eval.datasets._schemas import normalize_schema, sanitize_name, sanitize_param
from tinyplan.eval.datasets._teval import TEVAL_EDGES, load_teval, teval_reads_from_request
from tinyplan.eval.datasets._tinyagent import load_tinyagent

__all__ = [
    "BFCL_CATEGORIES",
    "TEVAL_EDGES",
    "EvalCase",
    "EvalDataError",
    "GoldCall",
    "default_root",
    "load_bfcl",
    "load_dataset",
    "load_jsonl",
    "load_mac",
    "load_teval",
    "load_tinyagent",
    "normalize_schema",
    "render_plan",
    "sanitize_name",
    "sanitize_param",
    "spread",
    "teval_reads_from_request",
    "with_examples",
]
