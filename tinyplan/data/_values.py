"""Value pools and parameter kinds: what a synthesized plan's literal arguments are drawn from.

A *kind* names what a parameter holds ("contact name", "file name", "datetime", "message", ...). `parameter_kind`
reads it from the parameter's semantic type (`tinyplan.Semantic`), else its name and description, else its type.
`ValuePools` holds seed values per kind; `draw` picks values for one plan so that its free texts (title, subject,
message) tell one story (a *scenario*).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tinyplan._semantic import element_semantic
from tinyplan._tools import Parameter, Tool

__all__ = [
    "FREE_TEXT_KINDS",
    "Scenario",
    "ValuePools",
    "base_type",
    "default_pools",
    "parameter_kind",
]

#: Kinds whose values are prose: a request states them in other words, so the checks compare their words.
FREE_TEXT_KINDS = frozenset({"message", "content", "subject", "text", "notes", "query", "title", "reminder"})

#: Semantic type names (`tinyplan.Semantic.name`) → kinds.
_SEMANTIC_KINDS = {
    "contact name": "contact name",
    "phone number": "phone number",
    "email address": "email address",
    "file path": "file path",
    "note name": "note name",
    "date-time": "datetime",
    "location link": "url",
    "zoom meeting link": "url",
    "pdf summary": "text",
}

# (pattern on the parameter name, kind) in order; the first match wins.
_NAME_KINDS: tuple[tuple[str, str], ...] = (
    (r"^(contact|person|name_of_person|recipient_name|full_name|contact_name|attendee)s?$", "contact name"),
    (r"(^|_)(email|e_mail|mail_address|emails)($|_)", "email address"),
    (r"(^|_)(phone|mobile|tel)($|_)", "phone number"),
    (r"(^|_)(file_?name|filename|document|doc_name)($|_)", "file name"),
    (r"(^|_)(path|file_?path|filepath)($|_)", "file path"),
    (r"(^|_)(note_?name|note_?title)($|_)", "note name"),
    (r"(^|_)(folder|directory)($|_)", "folder"),
    (r"(^|_)(list_?name|list)($|_)", "list name"),
    (r"(^|_)(calendar)($|_)", "calendar name"),
    (r"(^|_)(start_?location|end_?location|location|place|address|destination|origin|venue)($|_)", "place"),
    (r"(^|_)(city|town)($|_)", "city"),
    (r"(^|_)(country)($|_)", "country"),
    (r"(^|_)(company|organization|organisation|ticker|brand)($|_)", "company"),
    (r"(^|_)(language|lang)($|_)", "language"),
    (r"(^|_)(datetime|date_time|start_?date|end_?date|start_?time|end_?time|due_?date|due|deadline|when)($|_)",
     "datetime"),
    (r"(^|_)(date|day)($|_)", "date"),
    (r"(^|_)(time)($|_)", "time"),
    (r"(^|_)(duration|minutes|length)($|_)", "duration"),
    (r"(^|_)(priority)($|_)", "priority"),
    (r"(^|_)(subject)($|_)", "subject"),
    (r"(^|_)(topic|title|event_?name|meeting_?name)($|_)", "title"),
    (r"(^|_)(message|msg|body|context|content|text|comment)($|_)", "message"),
    (r"(^|_)(notes|note|description|details)($|_)", "notes"),
    (r"(^|_)(query|search|keyword|keywords|term)($|_)", "query"),
    (r"(^|_)(url|link|uri)($|_)", "url"),
    (r"(^|_)(name)($|_)", "name"),
    (r"(^|_)(count|number|num|quantity|amount|limit|n)($|_)", "count"),
)  # fmt: skip


def base_type(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and without ``None`` in a union (``str | None`` → ``str``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return base_type(members[0])
    return annotation


def _element(annotation: Any) -> tuple[Any, bool]:
    base = base_type(annotation)
    if typing.get_origin(base) in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        return (base_type(args[0]) if args else Any), True
    return base, False


def parameter_kind(tool: Tool, param: Parameter, overrides: Mapping[str, str] | None = None) -> str:
    """The kind of value ``param`` takes.

    An override (``"tool.param"`` key), else its semantic type, else its name, else its type (``"int"``,
    ``"float"``, ``"bool"``, ``"enum"``, ``"word"`` for a string nothing else tells).
    """
    key = f"{tool.name}.{param.name}"
    if overrides and key in overrides:
        return overrides[key]
    if overrides and param.name in overrides:
        return overrides[param.name]
    semantic, _ = element_semantic(param.annotation)
    if semantic is not None and semantic.name.casefold() in _SEMANTIC_KINDS:
        return _SEMANTIC_KINDS[semantic.name.casefold()]
    element, _ = _element(param.annotation)
    if typing.get_origin(element) is Literal:
        return "enum"
    if element is bool:
        return "bool"
    name = param.name.casefold()
    described = re.findall(r"'([^'\s]{1,12})'|\"([^\"\s]{1,12})\"", param.description)
    if element is str and len({a or b for a, b in described}) >= 2:
        return "choice"  # the description lists the options: 'd' (driving), 'w' (walking) or 'r'
    if element in (int, float):
        if re.search(r"(^|_)(duration|minutes)($|_)", name):
            return "duration"
        if re.search(r"(^|_)priority($|_)", name):
            return "priority"
        return "int" if element is int else "float"
    for pattern, kind in _NAME_KINDS:
        if re.search(pattern, name):
            return _refine(kind, param.description)
    return "word"


def _refine(kind: str, description: str) -> str:
    """A bare ``name`` parameter: whose or what name, from its description."""
    if kind != "name":
        return kind
    text = description.casefold()
    for pattern, refined in (
        (r"remind", "reminder"),
        (r"\bnote", "note name"),
        (r"\bfile", "file name"),
        (r"contact|person|people|someone|recipient", "contact name"),
        (r"event|meeting|title", "title"),
    ):
        if re.search(pattern, text):
            return refined
    return "name"


@dataclass(frozen=True)
class Scenario:
    """Free texts that belong together: an event or note title, an email subject, a message about it."""

    title: str
    subject: str
    message: str
    content: str


_SCENARIOS: tuple[tuple[str, str, str, str], ...] = (
    ("Budget Review", "Budget review moved", "The budget review moved to Thursday.", "numbers for Q3, travel costs"),
    ("Team Lunch", "Team lunch on Friday", "Team lunch is on Friday at noon, my treat.", "sushi place, 8 people"),
    ("Product Launch", "Launch checklist", "The launch checklist is ready for review.", "press kit, demo video"),
    ("Hiring Sync", "Candidates for Friday", "Please review the two candidates before Friday.", "two candidates"),
    ("Sprint Planning", "Sprint planning agenda", "Sprint planning starts at 10, bring your estimates.",
     "estimates, backlog, risks"),
    ("Client Call", "Notes from the client call", "The client wants the revised quote by Monday.",
     "revised quote, timeline"),
    ("Book Club", "Book club this week", "Book club meets Wednesday, we are reading Piranesi.", "Piranesi, snacks"),
    ("Marketing Sync", "Campaign numbers", "The campaign numbers look great this month.", "open rates, new leads"),
    ("Dentist Appointment", "Dentist appointment", "My dentist appointment got moved, I will be late.",
     "bring insurance card"),
    ("Birthday Party", "Party on Saturday", "Don't forget the birthday party on Saturday!", "cake, balloons, gift"),
    ("Design Critique", "Feedback on the mockups", "I left feedback on the new mockups.", "colors, spacing, icons"),
    ("Quarterly Planning", "Q4 goals", "Please send me your Q4 goals by Wednesday.", "goals, headcount"),
    ("Investor Update", "Investor update draft", "The investor update draft is ready.", "growth, runway"),
    ("Yoga Class", "Yoga tonight", "Yoga is at 6 tonight, see you there.", "mat, water bottle"),
    ("Code Review", "Review my pull request", "Could you review my pull request today?", "tests, naming"),
    ("Moving Day", "Help with moving", "Moving day is Saturday morning, thanks for helping!", "boxes, van, tape"),
    ("Board Meeting", "Board meeting materials", "The board meeting materials are ready.", "slides, minutes"),
    ("Offsite Planning", "Offsite venue", "We booked the venue for the offsite.", "venue, catering, agenda"),
    ("Flight Home", "My flight details", "My flight lands at 7pm, can you pick me up?", "terminal 2, gate B"),
    ("Garden Work", "Saturday garden work", "We are planting tomatoes on Saturday.", "tomatoes, basil, soil"),
    ("Tax Documents", "Tax documents", "I need the tax documents before the end of the month.", "W-2, receipts"),
    ("Study Group", "Study group tonight", "Study group is at the library tonight.", "chapter 4, flashcards"),
    ("Wedding Planning", "Wedding guest list", "The wedding guest list is final.", "guest list, seating"),
    ("Car Service", "Car service", "The car goes in for service on Tuesday.", "oil change, tires"),
    ("Weekly Standup", "Standup notes", "Standup is moved to 9:30 from now on.", "blockers, updates"),
    ("Conference Talk", "Slides for my talk", "My conference talk is on Thursday morning.", "demo, outline"),
    ("Grocery Run", "Groceries", "I'm going grocery shopping, need anything?", "milk, eggs, bread"),
    ("Vet Visit", "Vet appointment", "The vet appointment for Luna is on Monday.", "vaccines, flea meds"),
    ("Research Sync", "Paper draft", "The paper draft is ready for your comments.", "related work, figures"),
    ("Game Night", "Game night", "Game night at my place on Friday!", "board games, pizza"),
)  # fmt: skip

_CONTACTS = (
    "Sid", "Lutfi", "Maya Chen", "Amir", "Jonas", "Priya", "Elena Rossi", "Tom Becker", "Nadia", "Kenji Sato",
    "Olivia Brown", "Marcus", "Sofia Alvarez", "Ravi Kumar", "Hannah Lee", "Diego", "Fatima Khan", "Lucas Martin",
    "Grace Kim", "Omar", "Chloe Dubois", "Ben Carter", "Aisha Bello", "Noah Fischer", "Ines Costa", "Mateo",
    "Leila Haddad", "Ethan Wright", "Zoe Nguyen", "Samuel Okafor",
)  # fmt: skip
_FILES = (
    "Budget 2024", "Project Proposal", "Travel Itinerary", "Lease Agreement", "Team Roster", "Sales Forecast",
    "Onboarding Guide", "Meeting Minutes", "Research Paper", "Product Roadmap", "Invoice March", "Design Spec",
    "Marketing Plan", "Annual Report", "Conference Slides", "Tax Return 2023", "Expense Report", "User Survey",
    "Contract Draft", "Floor Plan", "Release Notes", "Pitch Deck", "Insurance Policy", "Course Syllabus",
)  # fmt: skip
_PLACES = (
    "Golden Gate Park", "the Ferry Building", "Tartine Bakery", "Berkeley Marina", "SFO", "Union Square",
    "Stanford University", "Oakland Airport", "Dolores Park", "the Exploratorium", "Lake Merritt",
    "Half Moon Bay", "Palo Alto Caltrain station", "Chez Panisse", "Salesforce Tower", "Muir Woods",
    "the Palace of Fine Arts", "Crissy Field", "Santa Cruz Boardwalk", "Napa Valley", "Twin Peaks",
    "Mission Dolores", "the Chase Center", "Fisherman's Wharf",
)  # fmt: skip
_NOTES = (
    "Groceries", "Project Ideas", "Reading List", "Trip Checklist", "Gift Ideas", "Recipes", "Meeting Notes",
    "Workout Plan", "Movies to Watch", "Garden Plan", "Book Notes", "Packing List", "Home Repairs", "Goals 2025",
    "Podcast Ideas", "Wishlist",
)  # fmt: skip
_FOLDERS = ("Work", "Personal", "Travel", "Home", "School")
_LISTS = ("Home", "Work", "Errands", "Shopping", "Family")
_CALENDARS = ("Work", "Home", "Family")
_REMINDERS = (
    "Call the plumber", "Pay the electricity bill", "Renew my passport", "Water the plants", "Book a haircut",
    "Pick up the dry cleaning", "Submit the expense report", "Buy a birthday gift for Mom", "Return library books",
    "Schedule the car service", "Take out the recycling", "Call the bank", "Refill my prescription",
    "Send the rent check", "Cancel the gym membership", "Back up my laptop",
)  # fmt: skip
_CITIES = ("Paris", "Tokyo", "Berlin", "Lisbon", "Nairobi", "Toronto", "Sydney", "Mexico City", "Seoul", "Oslo")
_COUNTRIES = ("France", "Japan", "Brazil", "Kenya", "Canada", "India", "Norway", "Chile")
_COMPANIES = ("Apple", "Nvidia", "Tesla", "Microsoft", "Spotify", "Airbnb", "Shopify", "Siemens")
_LANGUAGES = ("Spanish", "French", "German", "Japanese", "Italian", "Portuguese")
_QUERIES = (
    "electric bikes", "vegan restaurants", "quantum computing news", "hiking trails", "best laptops 2024",
    "climate change report", "python tutorials", "coffee grinders", "jazz concerts", "solar panels",
)  # fmt: skip
_WORDS = ("blue", "summer", "garden", "river", "piano", "orbit", "maple", "harbor", "lantern", "meadow")


def default_pools() -> dict[str, tuple[Any, ...]]:
    """The built-in seed values per kind (contact names, file names, places, note titles, ...)."""
    return {
        "contact name": _CONTACTS,
        "file name": _FILES,
        "place": _PLACES,
        "note name": _NOTES,
        "folder": _FOLDERS,
        "list name": _LISTS,
        "calendar name": _CALENDARS,
        "reminder": _REMINDERS,
        "city": _CITIES,
        "country": _COUNTRIES,
        "company": _COMPANIES,
        "language": _LANGUAGES,
        "query": _QUERIES,
        "word": _WORDS,
        "name": _CONTACTS,
        "duration": (30, 45, 90, 15),
        "priority": (1, 5, 9),
        "int": (2, 3, 5, 10, 12, 20, 25, 100),
        "float": (1.5, 2.5, 10.0, 12.75, 99.9),
        "count": (2, 3, 5, 10),
        "url": ("https://example.com/agenda", "https://example.org/report"),
    }


@dataclass
class ValuePools:
    """Seed values per kind, and how to draw a plan's values from them.

    Args:
        pools: Values per kind (defaults: `default_pools`); a kind missing here falls back to ``"word"``.
        scenarios: Title/subject/message/content bundles; one is drawn per plan.
        first_day: The earliest date drawn; dates fall within ``days`` days after it.
        days: How many days dates spread over.
        emails: Contact name → email address (for plans that are given an address literally).
        phones: Contact name → phone number.
    """

    pools: dict[str, tuple[Any, ...]] = field(default_factory=default_pools)
    scenarios: tuple[Scenario, ...] = field(default_factory=lambda: tuple(Scenario(*s) for s in _SCENARIOS))
    first_day: dt.date = dt.date(2024, 6, 3)
    days: int = 540
    emails: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)

    def update(self, extra: Mapping[str, Sequence[Any]]) -> ValuePools:
        """A copy with the pools of ``extra`` replacing (or adding) kinds."""
        pools = dict(self.pools)
        pools.update({k: tuple(v) for k, v in extra.items()})
        return ValuePools(pools, self.scenarios, self.first_day, self.days, dict(self.emails), dict(self.phones))

    def draw(self, kind: str, rng: random.Random, used: set[Any], scenario: Scenario) -> Any:
        """One value of ``kind``.

        From its pool (avoiding values in ``used`` while others remain), from ``scenario`` for free texts, or
        generated (dates, times, email addresses, phone numbers).
        """
        if kind == "datetime":
            return self.datetime(rng).strftime("%Y-%m-%d %H:%M:%S")
        if kind == "date":
            return self.datetime(rng).strftime("%Y-%m-%d")
        if kind == "time":
            return self.datetime(rng).strftime("%H:%M")
        if kind == "title":
            return scenario.title
        if kind == "subject":
            return scenario.subject
        if kind in ("message", "text"):
            return scenario.message
        if kind in ("content", "notes"):
            return scenario.content
        if kind == "email address":
            name = self._pick(self.pools["contact name"], rng, used)
            return self.emails.get(name) or _email_of(name)
        if kind == "phone number":
            name = self._pick(self.pools["contact name"], rng, used)
            return self.phones.get(name) or f"+1 415 555 {rng.randrange(1000, 9999)}"
        if kind == "file path":  # a literal path is never known up front: tools take a file's name instead
            return self._pick(self.pools["file name"], rng, used)
        pool = self.pools.get(kind) or self.pools.get("word") or _WORDS
        return self._pick(pool, rng, used)

    def datetime(self, rng: random.Random) -> dt.datetime:
        """A date within the pool's range at a working-hours time (on the hour or half hour, mostly)."""
        day = self.first_day + dt.timedelta(days=rng.randrange(self.days))
        hour = rng.choice((8, 9, 9, 10, 10, 11, 12, 13, 14, 14, 15, 16, 17, 18))
        minute = rng.choice((0, 0, 0, 0, 30, 30, 15, 45))
        return dt.datetime(day.year, day.month, day.day, hour, minute)

    @staticmethod
    def _pick(pool: Sequence[Any], rng: random.Random, used: set[Any]) -> Any:
        fresh = [v for v in pool if v not in used]
        value = rng.choice(fresh or list(pool))
        used.add(value)
        return value

    def scenario(self, rng: random.Random) -> Scenario:
        """One scenario, uniformly."""
        return rng.choice(self.scenarios)


def _email_of(name: str) -> str:
    words = re.findall(r"[A-Za-z]+", name.casefold())
    return ".".join(words or ["someone"]) + "@example.com"
