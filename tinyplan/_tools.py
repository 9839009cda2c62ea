"""Tools and toolsets: `@tool`, `Tool`, `Toolset`, `get_tool`.

A tool is a Python function (sync or async) that a plan may call. Its argument schema comes from the function's type
hints (validated with pydantic) and its descriptions from a Google-style docstring. The schema is exported in the
OpenAI tool format, rendered as a signature line for the planner prompt, and used to build the plan grammar.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import keyword
import re
import types
import typing
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, overload

import anyio.to_thread
import docstring_parser
import pydantic

from tinyplan._errors import TinyplanError, ToolDefinitionError, ToolsetError
from tinyplan._schema import schema_type_name
from tinyplan._semantic import Semantic

if TYPE_CHECKING:
    from tinyplan._checks import Cue

__all__ = ["RESERVED_NAMES", "Tool", "ToolArgumentError", "Toolset", "get_tool", "tool"]

F = TypeVar("F", bound=Callable[..., Any])
OpenAIShape = Literal["chat", "responses"]

#: Names a tool may not take: ``join`` ends every plan (LLMCompiler).
RESERVED_NAMES = frozenset({"join"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ATTRIBUTE = "__tinyplan_tool__"
_METHOD_ATTRIBUTE = "__tinyplan_method__"  # set on a `@tool` method: get_tool binds it to an instance


class ToolArgumentError(TinyplanError, ValueError):
    """A tool call's arguments do not fit the tool's signature or types.

    Raised by `Tool.validate`; the task fetching unit turns it into an error observation, never a crash.
    """


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or keyword.iskeyword(name):
        raise ToolsetError(f"invalid tool name {name!r}: a tool name must be a Python identifier (letters, digits, _)")
    if name in RESERVED_NAMES:
        raise ToolsetError(f"tool name {name!r} is reserved: join() ends every plan")


@dataclass(frozen=True)
class Parameter:
    """One parameter of a tool.

    Attributes:
        name: The parameter name.
        annotation: The Python type (for function tools) or a type derived from JSON Schema.
        required: Whether a call must give it.
        default: The default value when not required.
        description: From the docstring's ``Args:`` section (or the schema), may be empty.
    """

    name: str
    annotation: Any
    required: bool
    default: Any = None
    description: str = ""


@dataclass(eq=False)
class Tool:
    """A callable the planner may use, with its schema.

    Build one with `@tool` (from a function) or `Tool.from_schema` (from an OpenAI function schema).

    Attributes:
        name: The name plans call it by.
        description: One paragraph for the planner prompt.
        function: The original function (sync or async).
        parameters: The parameters in call order.
        returns: A short type name of the result for the signature line, e.g. ``"str"``.
        timeout: Seconds a call may take before it is stopped (None: the executor's default).
        side_effects: Whether a call changes the world (sending, writing). Such calls are asked for approval and are
            never repeated by a replan once they succeeded.
        output_schema: A JSON Schema of the result, when one is known (``Tool.from_schema(output_schema=...)``,
            MCP's ``outputSchema``); the plan checker reads the result's field names from it.
    """

    name: str
    description: str
    function: Callable[..., Any]
    parameters: tuple[Parameter, ...]
    returns: str = "Any"
    timeout: float | None = None
    side_effects: bool = False
    output_schema: dict[str, Any] | None = field(default=None, repr=False)
    _model: type[pydantic.BaseModel] = field(init=False, repr=False)
    _fields: tuple[str, ...] = field(init=False, repr=False)
    _is_async: bool = field(init=False, repr=False)
    _schema_override: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            _check_name(self.name)
        except ToolsetError as exc:
            raise ToolDefinitionError(str(exc)) from None
        if self.timeout is not None and not self.timeout > 0:
            raise ToolDefinitionError(f"tool {self.name!r}: timeout must be a positive number of seconds")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ToolDefinitionError(f"tool {self.name!r}: duplicate parameter names {names}")
        # Fields get neutral internal names and the parameter name as alias, so parameters called ``json``,
        # ``model_config`` or ``_private`` work (pydantic reserves or hides those as attribute names).
        fields: dict[str, Any] = {}
        for i, p in enumerate(self.parameters):
            if p.required:
                info = pydantic.Field(alias=p.name, description=p.description or None)
            else:
                info = pydantic.Field(default=p.default, alias=p.name, description=p.description or None)
            fields[f"p{i}"] = (p.annotation, info)
        try:
            self._model = pydantic.create_model(
                f"{self.name}_arguments",
                __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                **fields,
            )
        except (TypeError, pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
            raise ToolDefinitionError(f"tool {self.name!r}: unsupported parameter types: {exc}") from exc
        self._fields = tuple(f"p{i}" for i in range(len(self.parameters)))
        self._is_async = _is_async_callable(self.function)

    # ----------------------------------------------------------------------------------------------- construction
    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        side_effects: bool = False,
    ) -> Tool:
        """Build a tool from a type-hinted function.

        Args:
            function: A sync or async function. Every parameter needs a type hint; ``*args``/``**kwargs`` and
                positional-only parameters are not supported.
            name: Defaults to the function's ``__name__``.
            description: Defaults to the docstring's summary and long description.
            timeout: Seconds a call may take.
            side_effects: Marks calls that change the world.

        Raises:
            ToolDefinitionError: The signature is unsupported or a parameter lacks a type hint.
            ToolsetError: The name is invalid or reserved.
        """
        tool_name = name if name is not None else getattr(function, "__name__", "")
        if not isinstance(tool_name, str):
            raise ToolDefinitionError(f"cannot name a tool after {function!r}: pass name=")
        try:
            _check_name(tool_name)
        except ToolsetError as exc:
            raise ToolDefinitionError(str(exc)) from None
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"tool {tool_name!r}: cannot read the signature: {exc}") from exc
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception as exc:  # NameError for unresolved forward references, and friends
            raise ToolDefinitionError(f"tool {tool_name!r}: cannot resolve type hints: {exc}") from exc
        doc = docstring_parser.parse(inspect.getdoc(function) or "", style=docstring_parser.DocstringStyle.GOOGLE)
        param_docs = {p.arg_name: " ".join((p.description or "").split()) for p in doc.params}
        params: list[Parameter] = []
        for p in signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                star = "*" if p.kind is p.VAR_POSITIONAL else "**"
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: {star}{p.name} is not supported: a plan calls tools with named, typed "
                    "parameters; use a list or dict parameter instead"
                )
            if p.kind is p.POSITIONAL_ONLY:
                raise ToolDefinitionError(f"tool {tool_name!r}: positional-only parameter {p.name!r} is not supported")
            if p.name not in hints:
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: parameter {p.name!r} has no type hint; tinyplan validates arguments "
                    "from type hints, so every parameter needs one"
                )
            required = p.default is inspect.Parameter.empty
            params.append(
                Parameter(
                    name=p.name,
                    annotation=hints[p.name],
                    required=required,
                    default=None if required else p.default,
                    description=param_docs.get(p.name, ""),
                )
            )
        if description is None:
            parts = [doc.short_description or "", doc.long_description or ""]
            description = "\n".join(x.strip() for x in parts if x and x.strip())
            if doc.returns and doc.returns.description:
                description += ("\n" if description else "") + "Returns " + " ".join(doc.returns.description.split())
        returns = _type_name(hints["return"]) if "return" in hints else "Any"
        return cls(
            name=tool_name,
            description=description.strip(),
            function=function,
            parameters=tuple(params),
            returns=returns,
            timeout=timeout,
            side_effects=side_effects,
        )

    @classmethod
    def from_schema(
        cls,
        schema: Mapping[str, Any],
        function: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
        side_effects: bool = False,
        output_schema: Mapping[str, Any] | None = None,
    ) -> Tool:
        """Build a tool from an OpenAI function schema (``{"name", "description", "parameters"}``).

        The Chat Completions wrapper ``{"type": "function", "function": {...}}``, the flat Responses shape
        ``{"type": "function", "name", ...}`` and the bare function object are accepted. Parameter types map from
        JSON Schema to Python types for validation: string, integer, number, boolean, null, array, object, ``enum``
        and ``const`` (a ``Literal``), ``anyOf``/``oneOf`` (a union, so ``anyOf: [X, {"type": "null"}]`` is an
        optional ``X`` and enums inside stay enums), a one-member ``allOf``, and local ``$ref``s into ``$defs`` or
        ``definitions`` (a recursive one becomes ``Any`` where it recurs). A property without a type is ``Any``. The
        schema itself is kept as the tool's `json_schema`, so the typed plan grammar constrains what it constrains.
        Without ``function`` the tool echoes its validated arguments as a dict (a stand-in used by the evaluation
        harness).

        Args:
            schema: The function schema.
            function: Called with the validated arguments as keywords (sync or async).
            name: The name plans call it by (default: the schema's name).
            timeout: Seconds a call may take.
            side_effects: Marks calls that change the world.
            output_schema: A JSON Schema of the result; it becomes the signature's return type, e.g.
                ``{city: str, temp_c: float}`` for an object, so plans can use ``$N.temp_c``.

        Raises:
            ToolDefinitionError: The schema has no valid name, or its parameters are not a JSON Schema object (a
                root ``type`` other than ``"object"``, ``properties`` that are not a mapping, a bad ``required``).
        """
        if schema.get("type") == "function" and isinstance(schema.get("function"), Mapping):
            schema = schema["function"]
        if not isinstance(schema, Mapping):
            raise ToolDefinitionError(f"a tool schema must be a mapping, not {type(schema).__name__}")
        schema_name = schema.get("name")
        if not isinstance(schema_name, str):
            raise ToolDefinitionError(f"tool schema without a name: {schema!r:.200}")
        tool_name = schema_name if name is None else name
        spec = schema.get("parameters") or {}
        if not isinstance(spec, Mapping):
            raise ToolDefinitionError(f"tool {tool_name!r}: 'parameters' must be a JSON Schema object")
        defs = _schema_defs(spec)
        root: Mapping[str, Any] = spec
        if isinstance(spec.get("$ref"), str) and "properties" not in spec:
            target = _resolve_ref(spec["$ref"], defs)
            if target is None:
                raise ToolDefinitionError(f"tool {tool_name!r}: cannot resolve the parameters' $ref {spec['$ref']!r}")
            root = target
        kind = root.get("type")
        if kind not in (None, "object", "dict") and not (isinstance(kind, list) and "object" in kind):
            raise ToolDefinitionError(
                f'tool {tool_name!r}: the parameters schema must be an object ("type": "object") with '
                f"properties, not type {kind!r}: a plan passes named arguments"
            )
        props = root.get("properties")
        props = {} if props is None else props
        if not isinstance(props, Mapping):
            raise ToolDefinitionError(f"tool {tool_name!r}: 'parameters.properties' must be an object")
        required_list = root.get("required")
        required_list = [] if required_list is None else required_list
        if not isinstance(required_list, list) or not all(isinstance(r, str) for r in required_list):
            raise ToolDefinitionError(f"tool {tool_name!r}: 'parameters.required' must be a list of names")
        required = set(required_list)
        params = []
        for pname, pschema in props.items():
            annotation = _json_schema_type(pschema, defs)
            params.append(
                Parameter(
                    name=str(pname),
                    annotation=annotation if pname in required else annotation | None,
                    required=pname in required,
                    default=pschema.get("default") if isinstance(pschema, Mapping) else None,
                    description=str(pschema.get("description", "")) if isinstance(pschema, Mapping) else "",
                )
            )
        if function is None:

            def echo(**kwargs: Any) -> dict[str, Any]:
                return {"tool": tool_name, "arguments": kwargs}

            function = echo
        tool_ = cls(
            name=tool_name,
            description=str(schema.get("description") or ""),
            function=function,
            parameters=tuple(params),
            returns="Any" if output_schema is None else schema_type_text(output_schema),
            timeout=timeout,
            side_effects=side_effects,
            output_schema=None if output_schema is None else copy.deepcopy(dict(output_schema)),
        )
        if root is not spec:  # a root $ref: keep the object it points to, with the definitions it may use
            tool_._schema_override = {
                **copy.deepcopy(dict(root)),
                **{k: copy.deepcopy(spec[k]) for k in _DEF_KEYS if k in spec},
            }
        else:
            tool_._schema_override = copy.deepcopy(dict(spec)) if spec else None
        return tool_

    # ------------------------------------------------------------------------------------------------- schemas
    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments (an ``object`` with ``properties`` and ``required``)."""
        if self._schema_override is not None:
            return copy.deepcopy(self._schema_override)
        schema = self._model.model_json_schema(by_alias=True)
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        return schema

    def openai_schema(self, shape: OpenAIShape = "chat", *, strict: bool = False) -> dict[str, Any]:
        """The tool as an OpenAI function tool.

        Args:
            shape: ``"chat"`` for Chat Completions, ``{"type": "function", "function": {name, description,
                parameters}}``; ``"responses"`` for the Responses API's flat ``{"type": "function", name,
                description, parameters, strict}`` (which always states ``strict``: that API's default is true).
            strict: OpenAI's strict mode (``"strict": true``): every object lists all its properties as
                ``required``, an optional property is made nullable instead (``"type": ["X", "null"]``, or
                ``anyOf: [X, {"type": "null"}]`` for a ``$ref``/union), ``default``s are dropped (the model sends
                null for a left-out argument) and every object gets ``"additionalProperties": false``.

        Raises:
            ValueError: An unknown ``shape``.
        """
        if shape not in ("chat", "responses"):
            raise ValueError(f"shape must be 'chat' or 'responses', not {shape!r}")
        parameters = self.json_schema()
        if strict:
            parameters = strict_schema(parameters)
        function: dict[str, Any] = {"name": self.name, "description": self.description, "parameters": parameters}
        if shape == "responses":
            return {"type": "function", **function, "strict": strict}
        if strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    def signature(self, *, semantic: bool = False) -> str:
        """The signature line for the planner prompt, e.g. ``send_sms(recipients: list[str], message: str) -> str``.

        Args:
            semantic: Write declared semantic types (`tinyplan.Semantic`) in place of their base types, e.g.
                ``send_sms(recipients: list[phone number], message: str) -> str`` and
                ``get_phone_number(name: contact name) -> phone number``.
        """
        parts = []
        for p in self.parameters:
            text = f"{p.name}: {_type_name(p.annotation, semantic=semantic)}"
            if not p.required:
                text += f" = {p.default!r}"
            parts.append(text)
        returns = self.returns
        if semantic:
            from tinyplan._semantic import result_semantic

            declared = result_semantic(self)
            returns = declared.name if declared is not None else returns
        return f"{self.name}({', '.join(parts)}) -> {returns}"

    # ------------------------------------------------------------------------------------------------- calling
    def validate(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Bind positional and keyword arguments to parameters and validate them with pydantic.

        Returns:
            The validated arguments by parameter name (defaults filled in).

        Raises:
            ToolArgumentError: Too many positional arguments, an unknown or repeated keyword, a missing required
                argument, or a value of the wrong type. The message is written for the model to read.
        """
        bound = self.bind(args, kwargs)
        try:
            model = self._model.model_validate(bound)
        except pydantic.ValidationError as exc:
            raise ToolArgumentError(self._problems(exc.errors())) from None
        return {p.name: getattr(model, f) for p, f in zip(self.parameters, self._fields, strict=True)}

    def check(self, args: Sequence[Any], kwargs: Mapping[str, Any], *, defer: Callable[[Any], bool]) -> None:
        """Check a call before its values are known: like `validate`, but deferred values are not type-checked.

        Values for which ``defer(value)`` is true (e.g. ones holding a ``$N`` reference) are only bound.

        Used to judge a plan statically (the evaluation harness's validation rate) without running it.

        Raises:
            ToolArgumentError: As `validate`, for everything but the deferred values' types.
        """
        bound = self.bind(args, kwargs)
        try:
            self._model.model_validate(bound)
        except pydantic.ValidationError as exc:
            errors = [e for e in exc.errors() if not (e["loc"] and e["loc"][0] in bound and defer(bound[e["loc"][0]]))]
            if errors:
                raise ToolArgumentError(self._problems(errors)) from None

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map positional and keyword arguments to parameter names, without validating the values.

        Raises:
            ToolArgumentError: Too many positional arguments, or a parameter given twice.
        """
        if len(args) > len(self.parameters):
            raise ToolArgumentError(
                f"{self.name}() takes {len(self.parameters)} argument(s) but {len(args)} were given; "
                f"signature: {self.signature()}"
            )
        bound: dict[str, Any] = {}
        for p, value in zip(self.parameters, args, strict=False):
            bound[p.name] = value
        for key, value in kwargs.items():
            if key in bound:
                raise ToolArgumentError(f"{self.name}() got multiple values for argument {key!r}")
            bound[key] = value
        return bound

    def _problems(self, errors: Sequence[Any]) -> str:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'arguments'}: {err['msg']}" for err in errors)
        return f"invalid arguments for {self.signature()}: {problems}"

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (runs on the event loop; sync ones run in a thread)."""
        return self._is_async

    async def call(self, arguments: Mapping[str, Any]) -> Any:
        """Call the function with validated arguments: async tools on the loop, sync tools in a worker thread.

        A sync tool that hangs cannot be interrupted (Python threads cannot be killed): on timeout or cancellation
        its thread is abandoned and finishes on its own.
        """
        if self._is_async:
            return await self.function(**arguments)
        result = await anyio.to_thread.run_sync(functools.partial(self.function, **arguments), abandon_on_cancel=True)
        if inspect.isawaitable(result):  # a sync wrapper that returns a coroutine
            result = await result
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the original function directly, bypassing validation."""
        return self.function(*args, **kwargs)


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004  (an object whose __call__ is async)
    return call is not None and inspect.iscoroutinefunction(call)


_DEF_KEYS = ("$defs", "definitions")
_MAX_SCHEMA_DEPTH = 32


def _schema_defs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The local definitions of a root schema, keyed by the ``$ref`` that names them (``#/$defs/X``)."""
    defs: dict[str, Any] = {}
    for key in _DEF_KEYS:
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update({f"#/{key}/{name}": sub for name, sub in found.items()})
    return defs


def _resolve_ref(ref: str, defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    target = defs.get(ref)
    return target if isinstance(target, Mapping) else None


def _union(members: Sequence[Any]) -> Any:
    """One type for several: ``Any`` if any member is, literals merged into one ``Literal``, duplicates dropped."""
    if any(m is Any for m in members):
        return Any
    literals: list[Any] = []
    others: list[Any] = []
    for m in members:
        if typing.get_origin(m) is Literal:
            literals.extend(a for a in typing.get_args(m) if a not in literals)
        elif m not in others:
            others.append(m)
    if literals:
        others.insert(0, Literal[tuple(literals)])
    return functools.reduce(lambda a, b: a | b, others)


def _json_schema_type(
    schema: Any, defs: Mapping[str, Any] | None = None, _path: frozenset[str] = frozenset(), _depth: int = 0
) -> Any:
    """Map a JSON Schema fragment to a Python type pydantic can validate with (see `Tool.from_schema`)."""
    if not isinstance(schema, Mapping) or _depth > _MAX_SCHEMA_DEPTH:
        return Any
    defs = defs or {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve_ref(ref, defs)
        if target is None or ref in _path:  # not a local definition, or a recursive one
            return Any
        return _json_schema_type(target, defs, _path | {ref}, _depth + 1)
    found = _literal_type(schema)
    if found is None:
        found = _combined_type(schema, defs, _path, _depth)
    if found is not None:
        return found
    kind = schema.get("type")
    if isinstance(kind, list):
        if not kind:
            return Any
        return _union([_json_schema_type({**schema, "type": k}, defs, _path, _depth + 1) for k in kind])
    return _kind_type(kind, schema, defs, _path, _depth)


def _literal_type(schema: Mapping[str, Any]) -> Any:
    """``Literal[...]`` of a schema's ``const`` or ``enum``; None when it has neither (with literal values)."""
    if "const" in schema and _is_literal_value(schema["const"]):
        return Literal[schema["const"]]
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        values = tuple(v for v in schema["enum"] if _is_literal_value(v))
        if values:
            return Literal[values]  # type: ignore[valid-type]
    return None


def _combined_type(schema: Mapping[str, Any], defs: Mapping[str, Any], path: frozenset[str], depth: int) -> Any:
    """The type of a schema's ``anyOf``/``oneOf`` (a union) or single-item ``allOf``; None when it has none."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # keywords beside anyOf (e.g. a shared "type") apply to every option
            shared = {k: v for k, v in schema.items() if k not in (key, "description", "title", "default")}
            members = [
                _json_schema_type({**shared, **o} if isinstance(o, Mapping) else o, defs, path, depth + 1)
                for o in options
            ]
            return _union(members)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return _json_schema_type(all_of[0], defs, path, depth + 1)
    return None


def _kind_type(kind: Any, schema: Mapping[str, Any], defs: Mapping[str, Any], path: frozenset[str], depth: int) -> Any:
    """The Python type of one JSON Schema ``type`` name (``Any`` for an unknown or missing one)."""
    name = schema_type_name(kind)
    if name == "string":
        semantic = Semantic.from_schema(schema)
        return str if semantic is None else Annotated[str, semantic]
    if name == "array":
        return list[_json_schema_type(schema.get("items"), defs, path, depth + 1)]  # type: ignore[misc]
    return _SIMPLE_TYPES.get(name, Any) if name is not None else Any


#: The Python type of each JSON Schema type name that needs no further look at the schema.
_SIMPLE_TYPES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
    "object": dict[str, Any],
}


def _is_literal_value(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def schema_type_text(schema: Any, defs: Mapping[str, Any] | None = None) -> str:
    """A short, model-friendly type of a JSON Schema for a signature line.

    For example ``str``, ``list[int]``, ``{city: str, temp_c: float}`` (an object's fields, so a plan can use
    ``$N.city``), ``Literal['a', 'b']``.

    Texts longer than 200 characters fall back to the bare kind (``dict``, ``list``).
    """
    if isinstance(schema, Mapping) and defs is None:
        defs = _schema_defs(schema)
    text = _schema_text(schema, defs or {}, frozenset(), 0)
    if len(text) > 200:
        kind = schema.get("type") if isinstance(schema, Mapping) else None
        return {"object": "dict", "array": "list"}.get(kind, "Any") if isinstance(kind, str) else "Any"
    return text


def _schema_text(schema: Any, defs: Mapping[str, Any], path: frozenset[str], depth: int) -> str:
    if not isinstance(schema, Mapping) or depth > 8:
        return "Any"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve_ref(ref, defs)
        if target is None or ref in path:
            return ref.rsplit("/", 1)[-1] or "Any"
        return _schema_text(target, defs, path | {ref}, depth + 1)
    if "const" in schema or isinstance(schema.get("enum"), list):
        return _type_name(_json_schema_type(schema, defs))
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            parts: list[str] = []
            for option in schema[key]:
                text = _schema_text(option, defs, path, depth + 1)
                if text not in parts:
                    parts.append(text)
            return "Any" if "Any" in parts else " | ".join(parts)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_schema_text({**schema, "type": k}, defs, path, depth + 1) for k in kind) or "Any"
    if kind == "array" or (kind is None and "items" in schema):
        return f"list[{_schema_text(schema.get('items'), defs, path, depth + 1)}]" if "items" in schema else "list"
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties")
        if isinstance(props, Mapping) and props:
            return "{" + ", ".join(f"{k}: {_schema_text(v, defs, path, depth + 1)}" for k, v in props.items()) + "}"
        return "dict"
    simple = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
    return simple.get(kind, "Any") if isinstance(kind, str) else "Any"


def strict_schema(schema: Any) -> Any:
    """A copy of a JSON Schema in OpenAI's strict form (see `Tool.openai_schema`).

    Every object lists all its properties as ``required`` (optional ones made nullable) and has
    ``"additionalProperties": false``; ``default`` values are dropped. Applies to nested objects, array items, unions
    and ``$defs`` alike.
    """
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return copy.deepcopy(schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "default":
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, Mapping):
            out[key] = {k: strict_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
            out[key] = strict_schema(value)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [strict_schema(v) for v in value]
        else:
            out[key] = copy.deepcopy(value)
    kind = out.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or (kind is None and "properties" in out):
        props = out.get("properties")
        props = dict(props) if isinstance(props, Mapping) else {}
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        for name, sub in props.items():
            if name not in required:
                props[name] = _nullable(sub)
        out["properties"] = props
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if isinstance(schema.get("enum"), list):
        return None in schema["enum"]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and any(isinstance(o, Mapping) and _allows_null(o) for o in options):
            return True
    constrained = ("type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not")
    return not any(k in schema for k in constrained)  # an unconstrained schema allows anything, null too


def _nullable(schema: Any) -> Any:
    """``schema`` that also allows null: ``"type": ["X", "null"]`` where it has a plain type, else ``anyOf``."""
    if not isinstance(schema, Mapping) or _allows_null(schema):
        return schema
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, (str, list)) and not any(k in out for k in ("$ref", "anyOf", "oneOf", "allOf", "const", "not")):
        out["type"] = [*(kind if isinstance(kind, list) else [kind]), "null"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
        return out
    if isinstance(out.get("anyOf"), list) and not any(k in out for k in ("$ref", "oneOf", "allOf", "const")):
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
        return out
    description = out.pop("description", None)
    wrapped: dict[str, Any] = {"anyOf": [out, {"type": "null"}]}
    if description is not None:
        wrapped["description"] = description
    return wrapped


def _type_name(annotation: Any, *, semantic: bool = False) -> str:
    """A short, model-friendly name of a type: ``str``, ``list[str]``, ``int | None``.

    With ``semantic``, a declared semantic type's name stands in place of its base type (``list[phone number]``).
    """
    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Any:
        return "Any"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        if semantic:
            from tinyplan._semantic import semantic_of

            declared = semantic_of(annotation)
            if declared is not None:
                return declared.name
        return _type_name(typing.get_args(annotation)[0], semantic=semantic)
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in typing.get_args(annotation)) + "]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a, semantic=semantic) for a in typing.get_args(annotation))
    if origin is not None:
        args = typing.get_args(annotation)
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{', '.join(_type_name(a, semantic=semantic) for a in args)}]" if args else base
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


# ------------------------------------------------------------------------------------------------------- decorator
@overload
def tool(function: F, /) -> F: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    side_effects: bool = False,
) -> Callable[[F], F]: ...
def tool(
    function: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    side_effects: bool = False,
) -> F | Callable[[F], F]:
    """Declare a function as a tool, bare (``@tool``) or called (``@tool(name=..., side_effects=True)``).

    The function is returned unchanged and stays callable as before; its `Tool` is attached and found with
    `get_tool`. (Style from pydantic-ai's ``@agent.tool``.)

    A method (a function in a class body whose first parameter is ``self``) is a tool too: ``self`` is not a
    parameter of the tool, and ``get_tool(instance.method)`` gives the tool bound to that instance (its calls go to
    the instance's method); ``get_tool(Class.method)`` gives the declaration (name, schema, side effects), not
    callable without an instance.

    Args:
        function: The function, when used bare.
        name: The name plans call it by (default: the function name).
        description: Overrides the docstring.
        timeout: Seconds a call may take before it is stopped with an error observation.
        side_effects: The call changes the world: ask for approval, never repeat it in a replan.

    Raises:
        ToolDefinitionError: At decoration time, for ``*args``, ``**kwargs``, untyped parameters or a bad name.
    """

    def decorate(fn: F) -> F:
        method = _is_method(fn)
        source = types.MethodType(fn, object()) if method else fn  # a method is read as bound: without ``self``
        built = Tool.from_function(
            source, name=name, description=description, timeout=timeout, side_effects=side_effects
        )
        built.function = fn
        try:
            setattr(fn, _ATTRIBUTE, built)
            if method:
                setattr(fn, _METHOD_ATTRIBUTE, True)
        except (AttributeError, TypeError) as exc:
            raise ToolDefinitionError(f"cannot attach tool metadata to {fn!r}: {exc}") from exc
        return fn

    if function is not None:
        return decorate(function)
    return decorate


def _is_method(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is a function defined in a class body whose first parameter is ``self``."""
    if not inspect.isfunction(fn):
        return False
    owner = fn.__qualname__.rpartition(".")[0]
    if not owner or owner.endswith("<locals>"):
        return False
    first = next(iter(inspect.signature(fn).parameters.values()), None)
    return first is not None and first.name == "self" and first.kind is first.POSITIONAL_OR_KEYWORD


def get_tool(obj: Any) -> Tool:
    """The `Tool` of a function decorated with `@tool` (or a `Tool` itself).

    For a `@tool` method taken from an instance (``get_tool(instance.method)``), a copy of the declared tool that
    calls the bound method.

    Raises:
        ToolDefinitionError: ``obj`` is neither a tool nor a decorated function.
    """
    if isinstance(obj, Tool):
        return obj
    found = getattr(obj, _ATTRIBUTE, None)
    if isinstance(found, Tool):
        if inspect.ismethod(obj) and getattr(obj.__func__, _METHOD_ATTRIBUTE, False):
            bound = copy.copy(found)  # the same name, schema and flags; its calls go to this instance
            bound.function = obj
            return bound
        return found
    raise ToolDefinitionError(f"{obj!r} is not a tool: decorate it with @tinyplan.tool")


# --------------------------------------------------------------------------------------------------------- toolset
ToolLike = Tool | Callable[..., Any]


class Toolset:
    """A registry of tools by name, with optional planner guidance and in-context example plans.

    Args:
        tools: Tools or `@tool`-decorated functions (plain functions are turned into tools with defaults).
        instructions: Extra rules for the planner prompt (e.g. "look up an email address before composing").
        examples: In-context example plans: texts in the form ``Question: ...`` followed by a plan.
        cues: Coverage rules for the plan checker (`tinyplan.Cue`: words of a request that call for one of some
            tools); a plan that ends while a cue's tools are all missing is continued (``Planner(self_check=True)``).
        needs_cue: Permission rules (`tinyplan.Cue`): the tools they name may be called only when one of these cues
            naming the tool matches the request (write them broad: a miss forbids a wanted tool).

    Raises:
        ToolsetError: A duplicate, reserved or invalid name.
    """

    def __init__(
        self,
        tools: Iterable[ToolLike] = (),
        *,
        instructions: Sequence[str] = (),
        examples: Sequence[str] = (),
        cues: Sequence[Cue] = (),
        needs_cue: Sequence[Cue] = (),
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.instructions: list[str] = list(instructions)
        self.examples: list[str] = list(examples)
        self.cues: list[Cue] = list(cues)
        self.needs_cue: list[Cue] = list(needs_cue)
        for t in tools:
            self.add(t)

    def add(self, obj: ToolLike) -> Tool:
        """Add a tool (or decorated/plain function) and return its `Tool`.

        Raises:
            ToolsetError: The name is taken, reserved or invalid.
        """
        try:
            built = get_tool(obj)
        except ToolDefinitionError:
            if not callable(obj):
                raise ToolsetError(f"{obj!r} is not a tool or a function") from None
            _check_name(getattr(obj, "__name__", ""))
            built = Tool.from_function(obj)
        _check_name(built.name)
        if built.name in self._tools:
            raise ToolsetError(f"duplicate tool name {built.name!r}")
        self._tools[built.name] = built
        return built

    def subset(self, names: Iterable[str]) -> Toolset:
        """A new toolset with only the named tools (in this toolset's order), same instructions and examples.

        Raises:
            ToolsetError: A name is not in this toolset.
        """
        wanted = set(names)
        unknown = sorted(wanted - self._tools.keys())
        if unknown:
            raise ToolsetError(f"not in the toolset: {unknown}; tools: {self.names}")
        sub = Toolset(instructions=self.instructions, examples=self.examples, cues=self.cues, needs_cue=self.needs_cue)
        sub._tools = {n: t for n, t in self._tools.items() if n in wanted}
        return sub

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def get(self, name: str) -> Tool | None:
        """The tool named ``name``, or None."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def openai_schemas(self, shape: OpenAIShape = "chat", *, strict: bool = False) -> list[dict[str, Any]]:
        """All tools as OpenAI function tools (see `Tool.openai_schema` for ``shape`` and ``strict``)."""
        return [t.openai_schema(shape, strict=strict) for t in self._tools.values()]

    @classmethod
    def from_openai(
        cls,
        schemas: Iterable[Mapping[str, Any]],
        functions: Mapping[str, Callable[..., Any]] | None = None,
        *,
        side_effects: bool | Collection[str] = False,
        timeout: float | None = None,
        instructions: Sequence[str] = (),
        examples: Sequence[str] = (),
    ) -> Toolset:
        """A toolset from OpenAI function tool schemas, each called through a Python function.

        Both shapes are read: Chat Completions' ``{"type": "function", "function": {name, description,
        parameters}}`` and the Responses API's flat ``{"type": "function", name, description, parameters}`` (a bare
        ``{name, description, parameters}`` too). Schemas are read as `Tool.from_schema` reads them. A name that is
        not an identifier (OpenAI allows ``-``) is called by its plan-safe form in plans (``get-weather`` becomes
        ``get_weather``); its function is still looked up by the original name.

        Args:
            schemas: The tool schemas.
            functions: ``{schema name: function}``; each is called with the validated arguments as keywords (sync
                or async). None: every tool echoes its arguments (a stand-in for evaluation and dry runs).
            side_effects: True for all tools, or the (schema or plan) names of the tools that change the world.
            timeout: Seconds each call may take.
            instructions: Planner rules for the toolset.
            examples: Example plans for the toolset.

        Raises:
            ToolsetError: A schema that is not a function tool, a missing function, or two names that map to one
                plan name.
            ToolDefinitionError: A schema that `Tool.from_schema` cannot read.
        """
        from tinyplan._names import plan_names

        bodies: list[Mapping[str, Any]] = []
        for raw in schemas:
            body = _openai_function_body(raw)
            bodies.append(body)
        mapping = plan_names((str(b["name"]) for b in bodies), source="OpenAI tool")
        marked = set(side_effects) if not isinstance(side_effects, bool) else set()
        toolset = cls(instructions=instructions, examples=examples)
        for (safe, original), body in zip(mapping.items(), bodies, strict=True):
            function = None
            if functions is not None:
                if original not in functions:
                    raise ToolsetError(f"no function for the OpenAI tool {original!r}; functions: {sorted(functions)}")
                function = functions[original]
            effects = side_effects if isinstance(side_effects, bool) else bool({safe, original} & marked)
            toolset.add(Tool.from_schema(body, function, name=safe, side_effects=effects, timeout=timeout))
        return toolset

    def __repr__(self) -> str:
        return f"Toolset({self.names!r})"


def _openai_function_body(raw: Any) -> Mapping[str, Any]:
    """``{name, description, parameters}`` of a Chat Completions, Responses or bare OpenAI function tool.

    Raises:
        ToolsetError: Not a function tool (e.g. a built-in ``{"type": "web_search"}``) or without a name.
    """
    if not isinstance(raw, Mapping):
        raise ToolsetError(f"an OpenAI tool must be a mapping, not {type(raw).__name__}")
    kind = raw.get("type", "function")
    if kind != "function":
        raise ToolsetError(f"not a function tool (type {kind!r}): {raw!r:.200}")
    body = raw["function"] if isinstance(raw.get("function"), Mapping) else raw
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise ToolsetError(f"an OpenAI function tool without a name: {raw!r:.200}")
    return body


def as_toolset(tools: Toolset | Iterable[ToolLike] | None) -> Toolset:
    """Coerce a toolset or an iterable of tools/functions into a `Toolset`."""
    if tools is None:
        return Toolset()
    if isinstance(tools, Toolset):
        return tools
    return Toolset(tools)


def canonical_arguments(name: str, arguments: Mapping[str, Any]) -> str:
    """A stable text key for a call (tool name + validated arguments), used to recognise repeated side effects."""
    return name + json.dumps(arguments, sort_keys=True, default=repr)


AsyncFn = Callable[..., Awaitable[Any]]
