"""The Mac toolset's own example plans as a leave-one-out dataset (``mac``; needs the ``mac`` extra)."""

from __future__ import annotations

from tinyplan._semantic import result_semantic
from tinyplan.eval.datasets._case import EvalCase, EvalDataError, gold_from_plan
from tinyplan.eval.datasets._files import check_limit
from tinyplan.eval.datasets._schemas import sanitized_tools

__all__ = ["load_mac"]


def load_mac(*, limit: int | None = None) -> list[EvalCase]:
    """The Mac toolset's own example plans, leave-one-out.

    TinyAgent's 16 tools; each example's question is the request and its plan the gold, the other examples (and the
    toolset's rules) are in the planner prompt. Needs the ``mac`` extra (the toolset's schemas come from the real
    tools).

    Args:
        limit: Keep the first ``limit`` examples.

    Returns:
        One case per example, in the toolset's order.

    Raises:
        EvalDataError: The ``mac`` extra is missing, or an example plan does not parse against the tools.
    """
    check_limit(limit)
    try:
        from tinyplan.toolsets.mac import MAC_EXAMPLES, mac_instructions, mac_toolset, sample_home_path
    except ImportError as exc:
        raise EvalDataError(f"the mac dataset needs the Mac toolset: pip install 'tinyplan[mac]' ({exc})") from exc
    toolset = mac_toolset(sample_home_path(), driver="portable")  # for the schemas only: nothing is called
    raw = toolset.openai_schemas()
    for schema, real in zip(raw, toolset, strict=True):
        returned = result_semantic(real)  # for the plan checks (self_check); the prompt shows no result schema
        if returned is not None:
            schema["function"]["outputSchema"] = {"type": "string", "x-semantic": returned.name}
    tools, name_map = sanitized_tools(raw, "mac toolset")
    texts = [text for _, text in MAC_EXAMPLES]
    rules = tuple(mac_instructions(toolset.names))
    cases: list[EvalCase] = []
    for i, text in enumerate(texts):
        if limit is not None and len(cases) >= limit:
            break
        where = f"mac example {i + 1}"
        head, _, plan = text.partition("\n")
        if not head.startswith("Question: "):
            raise EvalDataError(f"{where}: an example starts with 'Question: '")
        cases.append(
            EvalCase(
                id=f"mac_{i + 1}",
                dataset="mac",
                request=head.removeprefix("Question: ").strip(),
                tools=tools,
                gold=gold_from_plan(plan, tools, where),
                name_map=name_map,
                examples=tuple(texts[:i] + texts[i + 1 :]),
                instructions=rules,
                cues=tuple(toolset.cues),
                needs_cue=tuple(toolset.needs_cue),
            )
        )
    return cases
