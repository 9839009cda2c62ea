"""Semantic types: what a value *means* (a phone number, an email address, a product id), beyond its JSON type.

A schema says ``recipients: list[str]``; a semantic type says those strings are phone numbers. Declare one with
``typing.Annotated`` on a tool's parameters and return type::

    PhoneNumber = Annotated[str, Semantic("phone number", check=looks_like_phone_number)]

    @tool(side_effects=True)
    def send_sms(recipients: list[PhoneNumber], message: str) -> str: ...

`@tool` keeps the annotation; the JSON Schema of the parameter carries ``"x-semantic": "phone number"`` (and a JSON
Schema ``format`` where one is given). The plan checker (`tinyplan.PlanChecker`) uses them to reject, while the plan
streams, a ``$N`` whose tool returns another kind of value and a literal that fails the value check.

Where nothing is declared, a parameter named like a field of another tool's result (``product_id`` when a search
returns objects with ``product_id``) is inferred to be an identifier that tool produces: `output_fields` reads the
fields from the return type (a `TypedDict`, dataclass or pydantic model, or a list of one) or from a schema tool's
``outputSchema`` (MCP's name for it).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

__all__ = [
    "KNOWN_CHECKS",
    "Semantic",
    "element_semantic",
    "is_contact_name",
    "is_email_address",
    "is_phone_number",
    "output_fields",
    "output_is_list",
    "result_semantic",
    "semantic_of",
]


@dataclass(frozen=True)
class Semantic:
    """A semantic type, used as ``Annotated[T, Semantic(...)]`` metadata.

    Two semantic types are the same kind of value when their names are equal.

    Attributes:
        name: What the value is, in words a prompt and an error message can use, e.g. ``"phone number"``.
        check: A value check for literals written in a plan: True when the value can be one (e.g. an email address
            has an ``@``). None: any value of the JSON type.
        format: A JSON Schema ``format`` to add (``"email"``, ``"uri"``, ``"date-time"``), if any.
        from_request: A literal of this kind must be found in the request (a contact name, an order number): it
            comes from the user or from a tool, never from the model's imagination.
    """

    name: str
    check: Callable[[Any], bool] | None = dataclasses.field(default=None, compare=False)
    format: str | None = None
    from_request: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether a literal ``value`` passes the value check (True without one; False if the check raises)."""
        if self.check is None:
            return True
        try:
            return bool(self.check(value))
        except Exception:
            return False

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: pydantic.GetJsonSchemaHandler) -> Any:
        """Add ``x-semantic`` (and ``format``, ``x-from-request``) to the JSON Schema of the annotated type."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema) if "$ref" in schema else schema
        target["x-semantic"] = self.name
        if self.format and target.get("type") == "string":
            target.setdefault("format", self.format)
        if self.from_request:
            target["x-from-request"] = True
        return schema

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> Semantic | None:
        """The semantic type a JSON Schema fragment declares (``x-semantic``), else None.

        The value check of a well-known kind (`KNOWN_CHECKS`: email addresses, phone numbers, contact names) comes
        back with it, so tools imported from schemas (OpenAI, MCP, the evaluation's stand-ins) are checked like the
        functions they describe.
        """
        name = schema.get("x-semantic")
        if not isinstance(name, str) or not name.strip():
            return None
        fmt = schema.get("format")
        return cls(
            name,
            check=KNOWN_CHECKS.get(name),
            format=fmt if isinstance(fmt, str) else None,
            from_request=schema.get("x-from-request") is True,
        )

    def __str__(self) -> str:
        return self.name


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[\d\s().\-/]+")


def is_email_address(value: Any) -> bool:
    """``name@host.tld`` with no spaces."""
    return isinstance(value, str) and _EMAIL.fullmatch(value.strip()) is not None


def is_phone_number(value: Any) -> bool:
    """Digits (at least 7) with the usual separators and an optional leading ``+``."""
    if not isinstance(value, str) or _PHONE.fullmatch(value.strip()) is None:
        return False
    return sum(c.isdigit() for c in value) >= 7


def is_contact_name(value: Any) -> bool:
    """Text that names someone: not an email address, not a phone number, not a reference, not empty."""
    if not isinstance(value, str) or not value.strip() or value.lstrip().startswith("$"):
        return False
    return not is_email_address(value) and not is_phone_number(value)


#: Value checks of well-known semantic types, by name: a schema that says ``"x-semantic": "phone number"`` gets
#: `is_phone_number` back (`Semantic.from_schema`).
KNOWN_CHECKS: dict[str, Callable[[Any], bool]] = {
    "email address": is_email_address,
    "phone number": is_phone_number,
    "contact name": is_contact_name,
}


def semantic_of(annotation: Any) -> Semantic | None:
    """The `Semantic` declared on ``annotation`` itself (``Annotated[T, Semantic(...)]``), else None."""
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, Semantic):
                return meta
    return None


def element_semantic(annotation: Any) -> tuple[Semantic | None, bool]:
    """The semantic type of a value or of each item of a list/tuple/set annotation.

    Returns:
        ``(semantic, is_collection)``: e.g. ``(phone number, True)`` for ``list[PhoneNumber]``.
    """
    direct = semantic_of(annotation)
    if direct is not None:
        return direct, False
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    origin = typing.get_origin(base)
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        if args:
            inner = semantic_of(args[0])
            if inner is not None:
                return inner, True
    if origin in (typing.Union, types.UnionType):  # Optional[X], X | None
        for arg in typing.get_args(base):
            if arg is not type(None):
                found, many = element_semantic(arg)
                if found is not None:
                    return found, many
    return None, False


def _return_annotation(tool: Any) -> Any:
    function = getattr(tool, "function", None)
    if function is None:
        return None
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:
        return None
    return hints.get("return")


def result_semantic(tool: Any) -> Semantic | None:
    """The semantic type a tool's result is declared with, else None.

    It is read from the tool's return annotation, else from ``x-semantic`` in its ``output_schema``.
    """
    found = semantic_of(_return_annotation(tool))
    if found is None:
        schema = getattr(tool, "output_schema", None)
        if isinstance(schema, Mapping):
            found = Semantic.from_schema(schema)
    return found


def _fields_of_type(annotation: Any) -> tuple[str, ...]:
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    if typing.get_origin(base) in (list, tuple) and typing.get_args(base):
        return _fields_of_type(typing.get_args(base)[0])
    if isinstance(base, type):
        if typing.is_typeddict(base):
            return tuple(typing.get_type_hints(base))
        if dataclasses.is_dataclass(base):
            return tuple(f.name for f in dataclasses.fields(base))
        if issubclass(base, pydantic.BaseModel):
            return tuple(base.model_fields)
    return ()


def _fields_of_schema(schema: Any) -> tuple[str, ...]:
    if not isinstance(schema, Mapping):
        return ()
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        return _fields_of_schema(schema["items"])
    props = schema.get("properties")
    return tuple(k for k in props if isinstance(k, str)) if isinstance(props, Mapping) else ()


def output_is_list(tool: Any) -> bool:
    """Whether a tool's result is a list (its return annotation, else its ``output_schema``)."""
    annotation = _return_annotation(tool)
    if annotation is not None:
        base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
        return typing.get_origin(base) in (list, tuple) or base in (list, tuple)
    schema = getattr(tool, "output_schema", None)
    return isinstance(schema, Mapping) and schema.get("type") == "array"


def output_fields(tool: Any) -> tuple[str, ...]:
    """The field names of a tool's result objects (or of the items of a list result), in declared order.

    Read from the return annotation (`TypedDict`, dataclass, pydantic model, or a list of one), else from the tool's
    ``output_schema`` (an object schema, or an array of them), else empty.
    """
    fields = _fields_of_type(_return_annotation(tool))
    if fields:
        return fields
    return _fields_of_schema(getattr(tool, "output_schema", None))
