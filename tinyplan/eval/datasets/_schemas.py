"""Tool and parameter names, and OpenAI tool schemas with JSON-Schema types, from each dataset's own conventions.

BFCL and T-Eval write type names such as ``dict``, ``float`` or ``STRING`` and tool names such as
``math.factorial``; every adapter turns them into valid tool names and JSON Schema here.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tinyplan._schema import SCHEMA_TYPE_ALIASES
from tinyplan._syntax import JOIN
from tinyplan.eval.datasets._case import EvalDataError

__all__ = ["OfferedTools", "normalize_schema", "sanitize_name", "sanitize_param", "sanitized_tools", "tool_schema"]

_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_]")


def sanitize_name(name: str, taken: Mapping[str, str] | None = None) -> str:
    """A valid tool name for a source name: ``.`` and other non-identifier characters become ``_``.

    A leading digit gets a ``_`` prefix; a Python keyword or ``join`` gets a ``_`` suffix. If ``taken`` (sanitised ->
    original) already maps the result to another original name, ``_2``, ``_3``... is appended.

    Example: ``"math.factorial"`` -> ``"math_factorial"``.

    Args:
        name: The name in the source data.
        taken: Sanitised -> original names given so far (not changed).

    Returns:
        The tool name.
    """
    out = _INVALID_CHARS.sub("_", name) or "_"
    if out[0].isdigit():
        out = "_" + out
    if keyword.iskeyword(out) or out == JOIN:
        out += "_"
    if taken is None:
        return out
    candidate, n = out, 1
    while candidate in taken and taken[candidate] != name:
        n += 1
        candidate = f"{out}_{n}"
    return candidate


# the datasets' type names (case-insensitive) -> JSON Schema: the package's vocabulary (tinyplan._schema) plus the
# names only benchmark files write (``double``, ``long``; upper case is lowered before the look-up)
_TYPE_MAP = {**SCHEMA_TYPE_ALIASES, "double": "number", "long": "integer"}


def normalize_schema(schema: Any) -> Any:
    """Turn BFCL/T-Eval type names into JSON Schema, recursively (returns a new object; the input is untouched).

    ``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, upper-case ``STRING``/``NUMBER`` ->
    lower case, ``any`` -> no ``type`` (anything). Unknown type names are dropped (anything) rather than guessed.

    Args:
        schema: A schema fragment (or a list of them, or any other value, returned as is).

    Returns:
        The normalised copy.
    """
    if isinstance(schema, list):
        return [normalize_schema(x) for x in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if isinstance(value, str):
                mapped = _TYPE_MAP.get(value.lower())
                if mapped is not None:
                    out["type"] = mapped
            elif isinstance(value, list):
                kinds = [_TYPE_MAP[v.lower()] for v in value if isinstance(v, str) and v.lower() in _TYPE_MAP]
                if kinds:
                    out["type"] = kinds
        elif key == "properties" and isinstance(value, Mapping):
            out["properties"] = {k: normalize_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = normalize_schema(value)
        else:
            out[key] = value
    return out


def sanitize_param(name: str) -> str:
    """A parameter name a tool accepts (tool arguments are pydantic fields, which may not start with ``_``).

    Leading underscores move to the end (``_from`` -> ``from_``), other non-identifier characters become ``_``, a
    Python keyword gets a ``_`` suffix.

    Args:
        name: The parameter name in the source data.

    Returns:
        The parameter name.
    """
    stripped = name.lstrip("_")
    out = _INVALID_CHARS.sub("_", stripped) + "_" * (len(name) - len(stripped))
    if not out or out[0].isdigit():
        out = "p_" + out
    if keyword.iskeyword(out):
        out += "_"
    return out


def tool_schema(
    name: str, description: str, parameters: Mapping[str, Any], renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """An OpenAI tool schema with normalised types; top-level parameters renamed with `sanitize_param`.

    Args:
        name: The (sanitised) tool name.
        description: The tool description.
        parameters: The parameters' object schema in the source's types.
        renamed: If given, receives sanitised -> original for each renamed parameter.

    Returns:
        ``{"type": "function", "function": {name, description, parameters}}``.
    """
    params: dict[str, Any] = normalize_schema(dict(parameters)) if parameters else {}
    params.setdefault("type", "object")
    props: dict[str, Any] = dict(params.get("properties") or {})
    new_props: dict[str, Any] = {}
    for pname, pschema in props.items():
        safe = sanitize_param(pname)
        while safe in new_props or (safe != pname and safe in props):
            safe += "_"
        if safe != pname and renamed is not None:
            renamed[safe] = pname
        new_props[safe] = pschema
    params["properties"] = new_props
    if isinstance(params.get("required"), list):
        back = {orig: safe for safe, orig in zip(new_props, props, strict=True)}
        params["required"] = [back.get(r, r) for r in params["required"]]
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


@dataclass
class OfferedTools:
    """The tools of one case under sanitised names, and the way back to the source's tool and parameter names.

    Attributes:
        tools: OpenAI tool schemas, in the order added (`EvalCase.tools`).
        name_map: Sanitised tool name -> source name (`EvalCase.name_map`).
        back: Source tool name -> sanitised name.
        param_back: Sanitised tool name -> {source parameter name -> sanitised name}, for renamed parameters.
    """

    tools: list[dict[str, Any]] = field(default_factory=list)
    name_map: dict[str, str] = field(default_factory=dict)
    back: dict[str, str] = field(default_factory=dict)
    param_back: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, source_name: str, description: str, parameters: Mapping[str, Any]) -> None:
        """Offer a source tool under a sanitised name (`sanitize_name`), its schema built by `tool_schema`.

        Args:
            source_name: The tool name in the source data.
            description: The tool description.
            parameters: The parameters' object schema in the source's types.
        """
        safe = sanitize_name(source_name, self.name_map)
        self.name_map[safe] = source_name
        self.back[source_name] = safe
        renamed: dict[str, str] = {}
        self.tools.append(tool_schema(safe, description, parameters, renamed))
        self.param_back[safe] = {orig: new for new, orig in renamed.items()}


def sanitized_tools(raw_tools: Any, where: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Tool schemas of a record whose tool names must already be valid (JSONL, TinyAgent, the Mac toolset).

    Args:
        raw_tools: OpenAI function schemas, bare ``{name, description, parameters}`` or wrapped
            ``{"type": "function", "function": {...}}``; an MCP ``outputSchema`` is kept.
        where: The record, for error messages.

    Returns:
        The schemas with normalised types, and sanitised -> source names (the identity).

    Raises:
        EvalDataError: Not a list, a schema without a name, an invalid or a duplicate tool name.
    """
    if not isinstance(raw_tools, list):
        raise EvalDataError(f"{where}: 'tools' must be a list of OpenAI function schemas")
    tools: list[dict[str, Any]] = []
    name_map: dict[str, str] = {}
    for raw in raw_tools:
        fn = raw.get("function") if isinstance(raw, dict) and raw.get("type") == "function" else raw
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise EvalDataError(f"{where}: a tool schema without a name: {raw!r:.200}")
        safe = sanitize_name(fn["name"], name_map)
        if safe != fn["name"]:
            raise EvalDataError(
                f"{where}: tool name {fn['name']!r} is not a valid tool name (use e.g. {safe!r}): plans must call it"
            )
        if safe in name_map:
            raise EvalDataError(f"{where}: duplicate tool name {safe!r}")
        name_map[safe] = fn["name"]
        schema = tool_schema(safe, str(fn.get("description", "")), fn.get("parameters") or {})
        if isinstance(fn.get("outputSchema"), dict):  # MCP's name for a result schema (NesTools carries it)
            schema["function"]["outputSchema"] = fn["outputSchema"]
        tools.append(schema)
    return tools, name_map
