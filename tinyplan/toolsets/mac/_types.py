"""The Mac tools' semantic types (`tinyplan.Semantic`): what their strings mean, with value checks for literals.

They let the plan checker catch a plan that sends a text to an email address, looks up an address the request
already gives, or attaches ``"$file_path"`` without looking the file up (see docs/plan-syntax.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from tinyplan._semantic import Semantic, is_contact_name, is_email_address, is_phone_number

__all__ = [
    "ContactName",
    "DateTimeText",
    "EmailAddress",
    "FilePath",
    "LocationLink",
    "NoteName",
    "PdfText",
    "PhoneNumber",
    "ZoomLink",
    "is_contact_name",
    "is_email_address",
    "is_phone_number",
]


def _is_path_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not value.lstrip().startswith("$")


ContactName = Annotated[str, Semantic("contact name", check=is_contact_name, from_request=True)]
PhoneNumber = Annotated[str, Semantic("phone number", check=is_phone_number)]
EmailAddress = Annotated[str, Semantic("email address", check=is_email_address, format="email")]
FilePath = Annotated[str, Semantic("file path", check=_is_path_text)]
PdfText = Annotated[str, Semantic("PDF summary")]
NoteName = Annotated[str, Semantic("note name")]
LocationLink = Annotated[str, Semantic("location link", format="uri")]
ZoomLink = Annotated[str, Semantic("Zoom meeting link", format="uri")]
DateTimeText = Annotated[str, Semantic("date-time")]
