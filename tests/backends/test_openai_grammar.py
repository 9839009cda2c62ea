"""`OpenAICompatibleBackend` sends the plan grammar where each kind of server reads it (``grammar_format``).

llama.cpp / llama-cpp-python's server: ``grammar``; vLLM ≥ 0.10.2: ``structured_outputs: {"grammar": ...}``; vLLM
before 0.12: ``guided_grammar``; SGLang: ``ebnf``. The request goes to a scripted server on 127.0.0.1, which records
the body it received.
"""

from __future__ import annotations

from typing import Any

import pytest
from backend_fakes import FakeHandler, FakeServer

from tinyplan import CompletionRequest, Message, complete
from tinyplan._grammar import plan_grammar
from tinyplan._tools import tool
from tinyplan.backends import OpenAICompatibleBackend
from tinyplan.backends._openai import GRAMMAR_FIELDS

pytestmark = pytest.mark.anyio


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number."""
    return "+1 555 0100"


GRAMMAR = plan_grammar([get_phone_number], "typed")


def reply(handler: FakeHandler, body: Any) -> None:
    """A two-event plan, for completions and chat alike."""
    handler.start_sse()
    for piece in ('1. get_phone_number("Sid")\n', "2. join()"):
        choice = {"delta": {"content": piece}} if "messages" in body else {"text": piece}
        handler.send_event({"choices": [{**choice, "index": 0, "finish_reason": None}]})
    handler.send_event({"choices": [{"text": "", "index": 0, "finish_reason": "stop"}]})
    handler.send_event("[DONE]")
    handler.end_sse()


def grammar_of(body: dict[str, Any]) -> dict[str, Any]:
    """The body's grammar-carrying fields, whatever they are called."""
    keys = {"grammar", "structured_outputs", "guided_grammar", "ebnf"}
    return {k: v for k, v in body.items() if k in keys}


@pytest.mark.parametrize(
    ("grammar_format", "expected"),
    [
        (None, {"grammar": GRAMMAR}),
        ("llama.cpp", {"grammar": GRAMMAR}),
        ("vllm", {"structured_outputs": {"grammar": GRAMMAR}}),
        ("vllm-guided", {"guided_grammar": GRAMMAR}),
        ("sglang", {"ebnf": GRAMMAR}),
    ],
)
@pytest.mark.parametrize("chat", [False, True])
async def test_the_grammar_goes_where_each_server_reads_it(
    fake_server: FakeServer, grammar_format: Any, expected: dict[str, Any], chat: bool
) -> None:
    fake_server.respond = reply
    if chat:
        request = CompletionRequest(messages=(Message("user", "Call Sid"),), grammar=GRAMMAR)
    else:
        request = CompletionRequest(prompt="Question: call Sid\n", grammar=GRAMMAR)
    async with OpenAICompatibleBackend(fake_server.url + "/v1", grammar_format=grammar_format) as backend:
        assert backend.supports_grammar
        done = await complete(backend, request)
        assert done.text == '1. get_phone_number("Sid")\n2. join()'
        await complete(backend, CompletionRequest(prompt="no grammar"))
    with_grammar, without = (r[2] for r in fake_server.requests)
    assert grammar_of(with_grammar) == expected
    assert grammar_of(without) == {}  # no grammar, no field (not even an empty structured_outputs)
    assert with_grammar["stream"] is True


async def test_vllm_keeps_other_structured_outputs_options_from_extra_body(fake_server: FakeServer) -> None:
    fake_server.respond = reply
    options = {"structured_outputs": {"disable_any_whitespace": True}, "top_k": 1}
    backend = OpenAICompatibleBackend(fake_server.url + "/v1", grammar_format="vllm", extra_body=options)
    await complete(backend, CompletionRequest(prompt="p", grammar=GRAMMAR))
    await complete(backend, CompletionRequest(prompt="p"))
    await backend.aclose()
    first, second = (r[2] for r in fake_server.requests)
    assert first["structured_outputs"] == {"disable_any_whitespace": True, "grammar": GRAMMAR}
    assert first["top_k"] == 1
    assert second["structured_outputs"] == {"disable_any_whitespace": True}  # extra_body itself is not changed
    assert options == {"structured_outputs": {"disable_any_whitespace": True}, "top_k": 1}


def test_grammar_format_and_grammar_field_settings() -> None:
    url = "http://127.0.0.1:1/v1"
    assert GRAMMAR_FIELDS == {
        "llama.cpp": ("grammar",),
        "vllm": ("structured_outputs", "grammar"),
        "vllm-guided": ("guided_grammar",),
        "sglang": ("ebnf",),
    }
    default = OpenAICompatibleBackend(url)
    assert (default.grammar_path, default.grammar_field, default.grammar_format) == (("grammar",), "grammar", None)
    vllm = OpenAICompatibleBackend(url, grammar_format="vllm")
    assert (vllm.grammar_path, vllm.grammar_field) == (("structured_outputs", "grammar"), "structured_outputs")
    legacy = OpenAICompatibleBackend(url, grammar_field="guided_grammar")  # the way it was spelled before
    assert (legacy.grammar_path, legacy.supports_grammar) == (("guided_grammar",), True)
    none = OpenAICompatibleBackend(url, grammar_field=None)
    assert (none.grammar_path, none.grammar_field, none.supports_grammar) == (None, None, False)
    with pytest.raises(ValueError, match="unknown grammar_format 'lark'"):
        OpenAICompatibleBackend(url, grammar_format="lark")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="leave out grammar_field"):
        OpenAICompatibleBackend(url, grammar_format="sglang", grammar_field="guided_grammar")
    with pytest.raises(ValueError, match="leave out grammar_field"):
        OpenAICompatibleBackend(url, grammar_format="vllm", grammar_field=None)
