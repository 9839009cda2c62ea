"""A toolset and a scripted backend for ``tinyplan mcp serve --toolset scripted:tools --backend scripted:backend``
in the tests: the server plans with tinyplan's `ScriptedBackend`, whose plan depends on the request."""

from __future__ import annotations

from tinyplan import BackendUnavailableError, CompletionRequest, ScriptedBackend, tool

TWO_CITIES = "Compare Oslo and Lima and text Sid"
UNKNOWN_CITY = "How warm is Atlantis"
BACKEND_DOWN = "Trigger a backend failure"

PLANS = {
    TWO_CITIES: (
        '1. get_temperature("Oslo")\n2. get_temperature("Lima")\n'
        '3. send_message("Sid", "Oslo $1 C, Lima $2 C")\n4. join()<END_OF_PLAN>'
    ),
    UNKNOWN_CITY: '1. get_temperature("Atlantis")\n2. join()<END_OF_PLAN>',
}


@tool
def get_temperature(city: str) -> float:
    """Get the temperature in a city, in degrees Celsius.

    Args:
        city: The city name.
    """
    temperatures = {"Oslo": 4.5, "Lima": 19.0}
    if city not in temperatures:
        raise ValueError(f"no weather data for {city}")
    return temperatures[city]


@tool(side_effects=True)
def send_message(to: str, text: str) -> str:
    """Send a text message.

    Args:
        to: The recipient's name.
        text: The message.
    """
    return f"sent to {to}: {text}"


tools = [get_temperature, send_message]


def respond(request: CompletionRequest) -> str | BaseException:
    """The plan for the request in the prompt (each request's question is the prompt's last part)."""
    question = request.text.rsplit("Question:", 1)[-1]
    if BACKEND_DOWN in question:
        return BackendUnavailableError("the scripted model is down")
    for key, plan in PLANS.items():
        if key in question:
            return plan
    return "1. join()<END_OF_PLAN>"


def backend() -> ScriptedBackend:
    return ScriptedBackend([respond] * 1000)
