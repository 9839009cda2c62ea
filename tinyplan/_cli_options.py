"""Options and loaders shared by the command-line modules (`tinyplan.cli` and its sub-commands)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["backend_options", "load_attribute"]

_F = TypeVar("_F", bound=Callable[..., Any])


def backend_options(command: _F) -> _F:
    """The options that choose the planner's backend, shared by every command that plans.

    ``--model FILE`` (in process), ``--server URL`` (llama-server), ``--openai URL`` and ``--openai-model NAME``
    (an OpenAI-compatible API); `tinyplan.backends.make_backend` reads them.
    """
    for option in reversed(
        [
            click.option(
                "--model", metavar="FILE", help="GGUF model file (default: $TINYPLAN_MODEL or the bundled model)."
            ),
            click.option("--server", metavar="URL", help="Use a running llama.cpp server (llama-server) at URL."),
            click.option(
                "--openai", metavar="URL", help="Use an OpenAI-compatible API at URL (e.g. http://host:8000/v1)."
            ),
            click.option(
                "--openai-model", metavar="NAME", help="The model name to send to --openai (key: $OPENAI_API_KEY)."
            ),
        ]
    ):
        command = option(command)
    return command


def load_attribute(spec: str, *, param_hint: str, example: str) -> Any:
    """``module:attribute`` → that attribute, the module imported from the working directory or ``sys.path``.

    Args:
        spec: ``module:attribute``, e.g. ``mytools:toolset``.
        param_hint: The command-line option named in errors, e.g. ``--toolset``.
        example: An example spec for the error message.

    Raises:
        click.BadParameter: The spec is malformed, the module cannot be imported, or it lacks the attribute.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter(f"expected module:attribute, e.g. {example}", param_hint=param_hint)
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint=param_hint) from exc
    finally:
        sys.path.pop(0)
    obj: Any = getattr(module, attribute, None)
    if obj is None:
        raise click.BadParameter(f"{module_name!r} has no attribute {attribute!r}", param_hint=param_hint)
    return obj
