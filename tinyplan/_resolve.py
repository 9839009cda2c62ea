"""Reference resolution: ``$N`` (with paths, inside strings, nested in lists and dicts) → the value it names.

The task fetching unit resolves a task's arguments the moment its dependencies are done. A reference into an output
follows keys, attributes and indices (LLMCompiler's ``$1[0].id`` style); a reference inside a longer string becomes
the output's text; an object passed where a parameter takes a scalar is repaired into its matching field.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from tinyplan._errors import PlanError
from tinyplan._parser import plan_literal
from tinyplan._tools import Tool, ToolArgumentError
from tinyplan._types import Interpolated, Ref, Task, TaskResult, jsonable, observation_text

__all__ = [
    "RESOLVED_VALUE_CHARS",
    "ResolveError",
    "field_for",
    "follow",
    "is_scalar",
    "resolve_value",
    "resolved_call_text",
    "shape_hint",
    "take_fields",
]


#: How many characters of one resolved argument value `TaskResult.resolved_text` shows.
RESOLVED_VALUE_CHARS = 200


def resolved_call_text(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """A call written in plan syntax with already-resolved argument values, e.g. ``reserve(room_id=103)``."""

    def lit(value: Any) -> str:
        return plan_literal(value, max_chars=RESOLVED_VALUE_CHARS, default=jsonable)

    parts = [lit(a) for a in args] + [f"{k}={lit(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


class ResolveError(PlanError):
    """A reference names a field or index that the referenced output does not have.

    Raised inside the task fetching unit only, where it becomes the task's error observation (state FAILED).
    """


def follow(value: Any, path: Sequence[str | int], ref: Ref) -> Any:
    for at, step in enumerate(path):
        try:
            is_list = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
            if isinstance(value, Mapping) or (isinstance(step, int) and is_list):
                value = value[step]
            elif isinstance(step, str) and not step.startswith("_") and hasattr(value, step):
                value = getattr(value, step)
            else:
                raise KeyError(step)
        except (KeyError, IndexError, TypeError):
            raise ResolveError(
                f"{ref}: task {ref.task}'s output has no {'index' if isinstance(step, int) else 'field'} {step!r}"
                f"{shape_hint(value, Ref(ref.task, tuple(path[:at])))} (output: {observation_text(value)[:200]})"
            ) from None
    return value


_SCALARS = (str, int, float, bool)


def is_scalar(annotation: Any) -> bool:
    if annotation in _SCALARS:
        return True
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    return (
        bool(options)
        and typing.get_origin(annotation) in (typing.Union, types.UnionType)
        and all(a in _SCALARS for a in options)
    )


def field_for(parameter: str, value: Mapping[str, Any]) -> str | None:
    """The one field of ``value`` a parameter means: its own name, else ``id`` for ``*_id`` and ``*Id``."""
    keys = [k for k in value if isinstance(k, str)]
    same = [k for k in keys if k.casefold() == parameter.casefold()]
    if len(same) == 1:
        return same[0]
    if parameter.casefold() == "id" or parameter.casefold().endswith("_id") or parameter.endswith("Id"):
        ids = [k for k in keys if k.casefold() == "id"]
        if len(ids) == 1:
            return ids[0]
    return None


def take_fields(
    tool_: Tool, task: Task, args: list[Any], kwargs: dict[str, Any], error: ToolArgumentError
) -> tuple[list[Any], dict[str, Any]]:
    """Retry a call whose exact ``$N`` reference gave an object where the parameter takes a scalar.

    A small model writes ``get_reviews(stay_id="$1[0]")`` for "the first result's id" when the first result is
    ``{"id": 881, "name": ...}``. For such a parameter (str, int, float or bool) the object's field of the same name
    is taken (case-insensitively), or its ``id`` field for a parameter named ``*_id`` or ``*Id`` — only when exactly
    one field fits.

    Returns:
        The arguments with those fields taken.

    Raises:
        ToolArgumentError: No parameter fits; the message is ``error``'s, plus what each such object holds and how
            to refer into it.
    """
    raw = tool_.bind(task.args, task.kwargs)
    positional = {p.name: i for i, p in enumerate(tool_.parameters[: len(args)])}
    hints: list[str] = []
    changed = False
    for p in tool_.parameters:
        ref = raw.get(p.name)
        value = args[positional[p.name]] if p.name in positional else kwargs.get(p.name)
        if not isinstance(ref, Ref) or not isinstance(value, Mapping) or not is_scalar(p.annotation):
            continue
        key = field_for(p.name, value)
        if key is None:
            hints.append(f"{p.name} got {ref}, {shape_hint(value, ref).removeprefix('; it is ')}")
            continue
        if p.name in positional:
            args[positional[p.name]] = value[key]
        else:
            kwargs[p.name] = value[key]
        changed = True
    if not changed:
        raise ToolArgumentError("; ".join([str(error), *hints]))
    return args, kwargs


def shape_hint(value: Any, here: Ref) -> str:
    """What the value at ``here`` is and how to refer into it, for the replan prompt."""
    if isinstance(value, Mapping) and value:
        keys = [str(k) for k in list(value)[:8]]
        first = keys[0]
        example = f"{here}.{first}" if first.isidentifier() else f"{here}[{json.dumps(first)}]"
        return f"; it is an object with the fields {', '.join(keys)} (write e.g. {example})"
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if not value:
            return "; it is an empty list"
        return f"; it is a list of {len(value)} item(s) (write e.g. {here}[0])"
    return ""


def resolve_value(value: Any, results: Mapping[int, TaskResult]) -> Any:
    if isinstance(value, Ref):
        return follow(results[value.task].observation, value.path, value)
    if isinstance(value, Interpolated):
        return "".join(p if isinstance(p, str) else observation_text(resolve_value(p, results)) for p in value.parts)
    if isinstance(value, list):
        return [resolve_value(v, results) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_value(v, results) for v in value)
    if isinstance(value, dict):
        return {k: resolve_value(v, results) for k, v in value.items()}
    return value
