"""A small client of Zoom's REST API: create a scheduled meeting and return its join URL.

Zoom is plain HTTPS (``POST /users/me/meetings``), so it works the same with either driver. TinyAgent's version
(Erdogan et al. 2024) converts the start time from a hard-coded US/Pacific zone; here the zone is the machine's
(or given), and sent to Zoom with the local time as Zoom's API documents.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

import httpx

from tinyplan.toolsets.mac._errors import ZoomError

__all__ = ["ZOOM_API_URL", "ZOOM_TOKEN_ENV", "ZoomClient"]

ZOOM_API_URL = "https://api.zoom.us/v2"
#: The environment variable the access token is read from (at call time).
ZOOM_TOKEN_ENV = "ZOOM_ACCESS_TOKEN"
#: The environment variable that overrides the API base URL (e.g. a proxy or a local stand-in).
ZOOM_URL_ENV = "ZOOM_API_URL"


def _local_zone_name() -> str:
    name = os.environ.get("TZ", "")
    if name and "/" in name:
        return name
    try:
        link = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    return link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "UTC"


class ZoomClient:
    """Creates Zoom meetings with a bearer access token (an OAuth token of a Zoom app)."""

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timezone: str | None = None,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """A client of the Zoom API; nothing is sent until a meeting is created.

        Args:
            token: The access token; None reads ``$ZOOM_ACCESS_TOKEN`` when a meeting is created.
            base_url: The API root; None reads ``$ZOOM_API_URL``, else ``https://api.zoom.us/v2``.
            timezone: The IANA zone of the start times (default: the machine's zone, else UTC).
            timeout: Seconds per request.
            transport: An httpx transport (tests); None uses the network.
        """
        self._token = token
        self._base_url = base_url
        self.timezone = timezone or _local_zone_name()
        self.timeout = timeout
        self._transport = transport

    @property
    def base_url(self) -> str:
        """The API root in use."""
        return (self._base_url or os.environ.get(ZOOM_URL_ENV) or ZOOM_API_URL).rstrip("/")

    def _token_or_fail(self) -> str:
        token = self._token or os.environ.get(ZOOM_TOKEN_ENV, "")
        if not token.strip():
            raise ZoomError(
                f"no Zoom access token: set ${ZOOM_TOKEN_ENV} (an OAuth token of a Zoom app with the "
                "meeting:write scope) or pass zoom_token= to mac_toolset()"
            )
        return token.strip()

    async def create_meeting(self, topic: str, start: dt.datetime, duration: int, invitees: Sequence[str] = ()) -> str:
        """Create a scheduled meeting and return its join URL.

        Args:
            topic: The meeting topic (cut to Zoom's 200 characters).
            start: Naive local start time, in `timezone`.
            duration: Minutes (1 or more).
            invitees: Email addresses, sent as Zoom's ``settings.meeting_invitees``.

        Raises:
            ZoomError: No token, a bad duration, a network failure, an error status (Zoom's message included), or
                an answer without ``join_url``.
        """
        token = self._token_or_fail()
        if duration < 1:
            raise ZoomError(f"duration must be at least 1 minute, got {duration}")
        payload: dict[str, Any] = {
            "topic": topic[:200],
            "type": 2,  # a scheduled meeting
            "start_time": start.replace(tzinfo=None, microsecond=0).isoformat(),
            "timezone": self.timezone,
            "duration": duration,
            "settings": {"meeting_invitees": [{"email": e} for e in invitees]},
        }
        url = f"{self.base_url}/users/me/meetings"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                response = await client.post(url, json=payload, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ZoomError(f"cannot reach Zoom at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("message", ""))
            except ValueError:
                detail = response.text[:200]
            raise ZoomError(f"Zoom refused to create the meeting (HTTP {response.status_code}): {detail}")
        try:
            data = response.json()
        except ValueError:
            raise ZoomError("Zoom's answer is not JSON") from None
        join_url = data.get("join_url") if isinstance(data, dict) else None
        if not isinstance(join_url, str) or not join_url:
            raise ZoomError("Zoom's answer has no join_url")
        return join_url
