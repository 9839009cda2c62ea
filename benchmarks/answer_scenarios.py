"""End-to-end scenarios for the LLM joiner: real tools with fixed data, a request, and what the answer must say.

Each scenario builds fresh tools (so side effects can be checked), runs through `Planner.run` with the default
joiner (`join="llm"`), and is judged on the outcome a user sees: the run's status, facts the final answer must
contain, and the side effects the tools recorded. Plans are not compared with a gold plan: any plan that gets the
right answer counts. Used by ``benchmarks/bench_answers.py`` and the tests.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinyplan import PlanResult, tool


@dataclass
class World:
    """What the tools of one scenario run did (side effects), for the checks."""

    booked: list[tuple[int, str, str]] = field(default_factory=list)
    sent: list[tuple[list[str], str]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    emails: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    """One request with its tools and what a correct run does.

    Attributes:
        name: Short id.
        request: The user's request.
        tools: Builds the scenario's ``@tool`` functions around a fresh `World`.
        answer_has: Groups of alternatives: the answer must contain (case-insensitively, ignoring thousands
            separators) at least one alternative of every group.
        answer_not: A regular expression the answer must not match (a made-up value), or None.
        effect: A check of the `World` after the run (True when the side effects are right), or None.
        dependent: Whether a correct plan needs an earlier tool's output as an argument.
    """

    name: str
    request: str
    tools: Callable[[World], Sequence[Callable[..., Any]]]
    answer_has: tuple[tuple[str, ...], ...] = ()
    answer_not: str | None = None
    effect: Callable[[World], bool] | None = None
    dependent: bool = False


@dataclass(frozen=True)
class Outcome:
    """How a run of a scenario went."""

    scenario: str
    status: str
    answer: str | None
    answer_ok: bool
    effect_ok: bool
    rounds: int
    seconds: float

    @property
    def ok(self) -> bool:
        """The run answered, the answer holds every required fact, and the side effects are right."""
        return self.status == "answered" and self.answer_ok and self.effect_ok


def _norm(text: str) -> str:
    return re.sub(r"(?<=\d),(?=\d{3})", "", text).casefold()


def judge(scenario: Scenario, result: PlanResult, world: World, seconds: float = 0.0) -> Outcome:
    """Score one run: answer facts (`Scenario.answer_has`) and side effects (`Scenario.effect`)."""
    answer = result.answer or ""
    text = _norm(answer)
    answer_ok = (
        result.answer is not None
        and all(any(_norm(alt) in text for alt in group) for group in scenario.answer_has)
        and not (scenario.answer_not and re.search(scenario.answer_not, text))
    )
    effect_ok = scenario.effect(world) if scenario.effect is not None else True
    return Outcome(scenario.name, result.status, result.answer, answer_ok, effect_ok, len(result.plans), seconds)


# ----------------------------------------------------------------------------------------------------- scenarios
def _rooms(world: World) -> list[Callable[..., Any]]:
    @tool
    def get_empty_rooms(start_time: str, end_time: str) -> list[int]:
        """List the ids of the meeting rooms that are free for a whole time span today.

        Args:
            start_time: Start, 24-hour "HH:MM".
            end_time: End, 24-hour "HH:MM".
        """
        return [103, 107]

    @tool(side_effects=True)
    def reserve_room(room_id: int, start_time: str, end_time: str) -> str:
        """Book a meeting room today.

        Args:
            room_id: The room's id.
            start_time: Start, 24-hour "HH:MM".
            end_time: End, 24-hour "HH:MM".
        """
        world.booked.append((room_id, start_time, end_time))
        return f"Room {room_id} is booked from {start_time} to {end_time}."

    return [get_empty_rooms, reserve_room]


def _weather(world: World) -> list[Callable[..., Any]]:
    temps = {"paris": 14.0, "rome": 19.5, "oslo": 3.0}

    @tool
    def get_temperature(city: str) -> float:
        """The temperature in a city right now, in degrees Celsius.

        Args:
            city: The city's name.
        """
        key = city.split(",")[0].strip().casefold()
        if key not in temps:
            raise ValueError(f"no weather station for {city!r}")
        return temps[key]

    return [get_temperature]


def _currency(world: World) -> list[Callable[..., Any]]:
    @tool
    def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
        """Convert an amount of money at today's rate.

        Args:
            amount: The amount to convert.
            from_currency: ISO code of the amount's currency, such as "USD".
            to_currency: ISO code of the currency wanted, such as "EUR".
        """
        rates = {("USD", "EUR"): 0.92, ("EUR", "USD"): 1.087, ("USD", "JPY"): 151.0}
        pair = (from_currency.upper(), to_currency.upper())
        if pair not in rates:
            raise ValueError(f"no rate for {pair[0]} to {pair[1]}")
        return round(amount * rates[pair], 2)

    return [convert_currency]


def _contacts(world: World) -> list[Callable[..., Any]]:
    book = {"sid": "+1 510 555 0101", "lutfi": "+1 510 555 0102", "maya": "+1 510 555 0199"}

    @tool
    def get_phone_number(name: str) -> str:
        """Find a contact's phone number.

        Args:
            name: The contact's name.
        """
        key = name.split()[0].casefold()
        if key not in book:
            raise LookupError(f"no contact named {name!r}")
        return book[key]

    @tool(side_effects=True)
    def send_sms(recipients: list[str], message: str) -> str:
        """Send a text message.

        Args:
            recipients: Phone numbers, as get_phone_number returns them.
            message: The text to send.
        """
        world.sent.append((list(recipients), message))
        return f"Sent to {len(recipients)} recipient(s)."

    return [get_phone_number, send_sms]


def _stocks(world: World) -> list[Callable[..., Any]]:
    @tool
    def search_ticker(company: str) -> str:
        """Find the stock ticker symbol of a company.

        Args:
            company: The company's name.
        """
        tickers = {"apple": "AAPL", "microsoft": "MSFT", "nvidia": "NVDA"}
        key = company.split()[0].casefold()
        if key not in tickers:
            raise LookupError(f"no listed company named {company!r}")
        return tickers[key]

    @tool
    def get_stock_price(ticker: str) -> float:
        """The last traded price of a stock, in US dollars.

        Args:
            ticker: The ticker symbol, such as "AAPL".
        """
        prices = {"AAPL": 191.24, "MSFT": 402.65, "NVDA": 118.11}
        if ticker.upper() not in prices:
            raise LookupError(f"unknown ticker {ticker!r}")
        return prices[ticker.upper()]

    return [search_ticker, get_stock_price]


def _movies(world: World) -> list[Callable[..., Any]]:
    @tool
    def get_popular_movies() -> list[dict[str, Any]]:
        """The most popular movies this week, most popular first: each with its id and title."""
        return [{"id": 5501, "title": "The Long Orbit"}, {"id": 7702, "title": "Paper Harbor"}]

    @tool
    def get_movie_details(movie_id: int) -> dict[str, Any]:
        """A movie's details: title, director, release year and rating.

        Args:
            movie_id: The movie's id.
        """
        movies = {
            5501: {"title": "The Long Orbit", "director": "Ines Okafor", "year": 2026, "rating": 8.1},
            7702: {"title": "Paper Harbor", "director": "Tomas Lind", "year": 2025, "rating": 7.4},
        }
        if movie_id not in movies:
            raise LookupError(f"no movie with id {movie_id}")
        return movies[movie_id]

    return [get_popular_movies, get_movie_details]


def _restaurants(world: World) -> list[Callable[..., Any]]:
    @tool
    def search_restaurants(cuisine: str, near: str) -> list[str]:
        """Find restaurants of a cuisine near a place, best match first.

        Args:
            cuisine: The kind of food, such as "italian".
            near: A place or address.
        """
        return ["Trattoria Lume", "Osteria Verde", "Pasta Nove"]

    @tool
    def get_rating(restaurant: str) -> float:
        """A restaurant's average guest rating, from 1 to 5.

        Args:
            restaurant: The restaurant's name.
        """
        ratings = {"trattoria lume": 4.6, "osteria verde": 4.2, "pasta nove": 3.9}
        key = restaurant.casefold()
        if key not in ratings:
            raise LookupError(f"no restaurant named {restaurant!r}")
        return ratings[key]

    return [search_restaurants, get_rating]


def _calendar(world: World) -> list[Callable[..., Any]]:
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=1)

    @tool
    def get_today() -> str:
        """Today's date, as YYYY-MM-DD."""
        return today.isoformat()

    @tool
    def list_events(date: str) -> list[dict[str, str]]:
        """The calendar events on a day.

        Args:
            date: The day, as YYYY-MM-DD.
        """
        days = {
            today.isoformat(): [{"time": "09:30", "title": "Standup"}, {"time": "15:00", "title": "Design review"}],
            tomorrow.isoformat(): [{"time": "11:00", "title": "Dentist"}],
        }
        return days.get(date, [])

    return [get_today, list_events]


def _units(world: World) -> list[Callable[..., Any]]:
    @tool
    def convert_units(value: float, from_unit: str, to_unit: str) -> float:
        """Convert a measurement between units (length: km, mi, m, ft; temperature: C, F).

        Args:
            value: The number to convert.
            from_unit: Its unit.
            to_unit: The unit wanted.
        """
        f, t = from_unit.strip().casefold(), to_unit.strip().casefold()
        aliases = {"miles": "mi", "mile": "mi", "kilometers": "km", "kilometres": "km"}
        aliases |= {"celsius": "c", "fahrenheit": "f"}
        f, t = aliases.get(f, f), aliases.get(t, t)
        if (f, t) == ("mi", "km"):
            return round(value * 1.609344, 2)
        if (f, t) == ("f", "c"):
            return round((value - 32) * 5 / 9, 1)
        if (f, t) == ("km", "mi"):
            return round(value / 1.609344, 2)
        if (f, t) == ("c", "f"):
            return round(value * 9 / 5 + 32, 1)
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")

    return [convert_units]


def _booked(world: World) -> bool:
    return [b[0] for b in world.booked] in ([103], [107]) and all(b[1:] == ("14:30", "15:30") for b in world.booked)


def _texted_sid_and_lutfi(world: World) -> bool:
    numbers = {n for recipients, _ in world.sent for n in recipients}
    return {"+1 510 555 0101", "+1 510 555 0102"} <= numbers and "+1 510 555 0199" not in numbers


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "book-room",
        "Find a meeting room that is free between 14:00 and 16:00 today and book it from 14:30 to 15:30.",
        _rooms,
        answer_has=(("103", "107"),),
        effect=_booked,
        dependent=True,
    ),
    Scenario(
        "list-rooms",
        "Which meeting rooms are free today between 10:00 and 11:00?",
        _rooms,
        answer_has=(("103",), ("107",)),
        effect=lambda w: not w.booked,
    ),
    Scenario(
        "warmer-city",
        "Is it warmer in Paris or in Rome right now?",
        _weather,
        answer_has=(("rome is warmer", "warmer in rome", "rome is the warmer", "rome, at 19.5", "rome (19.5"),),
        answer_not=r"paris is (the )?warmer|warmer in paris",
    ),
    Scenario(
        "three-temperatures",
        "What are the temperatures in Paris, Rome and Oslo right now?",
        _weather,
        answer_has=(("14",), ("19.5",), ("3.0", "3 °", "3°", "3 degrees", "3 c")),
    ),
    Scenario(
        "unknown-city",
        "What is the temperature in Atlantis right now?",
        _weather,
        answer_has=(("atlantis",),),
        answer_not=r"\d\s*(°|degrees|celsius)",
    ),
    Scenario(
        "currency",
        "How much is 250 US dollars in euros?",
        _currency,
        answer_has=(("230",),),
    ),
    Scenario(
        "text-two",
        "Text Sid and Lutfi that the meeting moved to 3pm.",
        _contacts,
        answer_has=(("sid",), ("lutfi",)),
        effect=_texted_sid_and_lutfi,
        dependent=True,
    ),
    Scenario(
        "stock-price",
        "What is Apple's stock price right now?",
        _stocks,
        answer_has=(("191.24",),),
        dependent=True,
    ),
    Scenario(
        "director",
        "Who directed the most popular movie this week?",
        _movies,
        answer_has=(("ines okafor",),),
        dependent=True,
    ),
    Scenario(
        "restaurant-rating",
        "Find an Italian restaurant near Union Square and tell me the rating of the best match.",
        _restaurants,
        answer_has=(("trattoria lume",), ("4.6",)),
        dependent=True,
    ),
    Scenario(
        "todays-events",
        "What is on my calendar today?",
        _calendar,
        answer_has=(("standup",), ("design review",)),
        dependent=True,
    ),
    Scenario(
        "two-conversions",
        "How many kilometres is 5 miles, and what is 70 °F in Celsius?",
        _units,
        answer_has=(("8.05", "8.0"), ("21.1", "21")),
    ),
)


# ------------------------------------------------------------------------------------------- held-out scenarios
# Written after the joiner prompt was settled on SCENARIOS, and run once: a check that it was not fitted to them.
def _stays(world: World) -> list[Callable[..., Any]]:
    places = [
        {"id": 881, "name": "Alfama Loft"},
        {"id": 902, "name": "Baixa Studio"},
        {"id": 915, "name": "Belem House"},
    ]
    reviews = {
        881: ["A quiet street and a friendly host.", "Steep stairs, lovely loft."],
        902: ["Great view over the square.", "Noisy at night."],
        915: ["Close to the tower."],
    }

    @tool
    def search_stays(city: str) -> list[dict[str, Any]]:
        """Find places to stay in a city, best rated first: each with its id and name.

        Args:
            city: The city.
        """
        return places if city.split(",")[0].strip().casefold() == "lisbon" else []

    @tool
    def get_stay_reviews(stay_id: int) -> list[str]:
        """The guest reviews of a place to stay.

        Args:
            stay_id: The place's id.
        """
        if stay_id not in reviews:
            raise LookupError(f"no place with id {stay_id}")
        return reviews[stay_id]

    @tool
    def get_stay_price(stay_id: int) -> dict[str, Any]:
        """The price of one night at a place to stay.

        Args:
            stay_id: The place's id.
        """
        prices = {881: 120, 902: 95, 915: 140}
        if stay_id not in prices:
            raise LookupError(f"no place with id {stay_id}")
        return {"amount": prices[stay_id], "currency": "EUR"}

    @tool
    def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
        """Convert an amount of money at today's rate.

        Args:
            amount: The amount to convert.
            from_currency: ISO code of the amount's currency, such as "EUR".
            to_currency: ISO code of the currency wanted, such as "USD".
        """
        if (from_currency.upper(), to_currency.upper()) != ("EUR", "USD"):
            raise ValueError(f"no rate for {from_currency} to {to_currency}")
        return round(amount * 1.087, 2)

    return [search_stays, get_stay_reviews, get_stay_price, convert_currency]


def _articles(world: World) -> list[Callable[..., Any]]:
    @tool
    def search_articles(query: str) -> list[dict[str, str]]:
        """Search news and science articles: each with its title and year.

        Args:
            query: What to search for.
        """
        return [
            {"title": "Sodium cells for home storage", "year": "2026"},
            {"title": "Cheaper grid batteries", "year": "2025"},
        ]

    @tool(side_effects=True)
    def write_file(path: str, text: str) -> str:
        """Write a text file (replacing it if it exists).

        Args:
            path: The file's path.
            text: The text to write.
        """
        world.files[path] = text
        return f"Wrote {len(text)} characters to {path}."

    return [search_articles, write_file]


def _movies_search(world: World) -> list[Callable[..., Any]]:
    @tool
    def search_movie(title: str) -> dict[str, Any]:
        """Find a movie by its title: its id, title and year.

        Args:
            title: The movie's title.
        """
        if "harbor" not in title.casefold():
            raise LookupError(f"no movie titled {title!r}")
        return {"id": 7702, "title": "Paper Harbor", "year": 2025}

    @tool
    def get_similar_movies(movie_id: int) -> list[str]:
        """Titles of movies similar to a movie.

        Args:
            movie_id: The movie's id.
        """
        if movie_id != 7702:
            raise LookupError(f"no movie with id {movie_id}")
        return ["Glass Tide", "The Ferryman's Daughter", "North Pier"]

    return [search_movie, get_similar_movies]


def _mail(world: World) -> list[Callable[..., Any]]:
    @tool
    def get_email_address(name: str) -> str:
        """Find a contact's e-mail address.

        Args:
            name: The contact's name.
        """
        if not name.casefold().startswith("maya"):
            raise LookupError(f"no contact named {name!r}")
        return "maya.chen@example.com"

    @tool
    def get_forecast(city: str, days_ahead: int) -> str:
        """The weather forecast for a city.

        Args:
            city: The city.
            days_ahead: 0 for today, 1 for tomorrow, up to 5.
        """
        return "Sunny, 22 °C" if days_ahead == 1 else "Cloudy, 18 °C"

    @tool(side_effects=True)
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an e-mail.

        Args:
            to: The recipient's address.
            subject: The subject line.
            body: The text.
        """
        world.emails.append((to, subject, body))
        return f"E-mail sent to {to}."

    return [get_email_address, get_forecast, send_email]


def _pharmacy(world: World) -> list[Callable[..., Any]]:
    @tool
    def search_nearby(place: str, kind: str) -> list[dict[str, Any]]:
        """Find places of a kind near a place, nearest first: each with its name and distance in metres.

        Args:
            place: Where to search around.
            kind: What to look for, such as "pharmacy".
        """
        return [{"name": "Farmacia Central", "distance_m": 350}, {"name": "Farmacia Luz", "distance_m": 900}]

    @tool
    def get_opening_hours(name: str) -> str:
        """Today's opening hours of a shop or business.

        Args:
            name: Its name.
        """
        hours = {"farmacia central": "08:00-20:00", "farmacia luz": "09:00-19:00"}
        if name.casefold() not in hours:
            raise LookupError(f"no business named {name!r}")
        return hours[name.casefold()]

    return [search_nearby, get_opening_hours]


def _saved_titles(world: World) -> bool:
    text = world.files.get("notes/batteries.txt", "").casefold()
    return "sodium cells for home storage" in text and "cheaper grid batteries" in text


def _mailed_forecast(world: World) -> bool:
    return any(to == "maya.chen@example.com" and "22" in body for to, _, body in world.emails)


HELDOUT: tuple[Scenario, ...] = (
    Scenario(
        "stay-reviews",
        "Find places to stay in Lisbon and show me the reviews of the first two.",
        _stays,
        answer_has=(("quiet", "friendly"), ("view", "noisy")),
        dependent=True,
    ),
    Scenario(
        "stay-price-usd",
        "How much is one night at the best rated place to stay in Lisbon, in US dollars?",
        _stays,
        answer_has=(("130.44", "130.4", "130"),),
        dependent=True,
    ),
    Scenario(
        "save-titles",
        "Search for articles about home batteries and save their titles to notes/batteries.txt.",
        _articles,
        answer_has=(("notes/batteries.txt", "batteries.txt"),),
        effect=_saved_titles,
        dependent=True,
    ),
    Scenario(
        "similar-movies",
        "Find the movie Paper Harbor and list movies similar to it.",
        _movies_search,
        answer_has=(("glass tide",), ("north pier",)),
        dependent=True,
    ),
    Scenario(
        "email-forecast",
        "Email Maya Chen tomorrow's weather forecast for Lisbon.",
        _mail,
        answer_has=(("maya",),),
        effect=_mailed_forecast,
        dependent=True,
    ),
    Scenario(
        "pharmacy-hours",
        "When is the nearest pharmacy to Rossio Square open today?",
        _pharmacy,
        answer_has=(("08:00", "8:00", "8 am", "8am"), ("20:00", "8 pm", "8pm")),
        dependent=True,
    ),
)
