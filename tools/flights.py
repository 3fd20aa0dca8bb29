"""Flight tools on the AviationStack REST API: `flight_status` and `search_flights`.

`GET {base}/flights?access_key=KEY&flight_iata=AA1004[&flight_date=YYYY-MM-DD]` (or
`dep_iata=SFO&arr_iata=DFW`) answers `{"pagination": {"limit", "offset", "count", "total"},
"data": [{"flight_date", "flight_status", "departure": {"airport", "timezone", "iata", "icao",
"terminal", "gate", "delay", "scheduled", "estimated", "actual", ...}, "arrival": {... "baggage"},
"airline": {"name", "iata", "icao"}, "flight": {"number", "iata", "icao", "codeshared"},
"aircraft": {...}, "live": {...}}]}`. Failures come as `{"error": {"code", "message",
"context"?}}`, with an HTTP error status (401 invalid/missing_access_key, 403
function_access_restricted, 429 usage_limit_reached / rate_limit_reached, 500 internal_error)
or, from older deployments, with 200. `flight_date` (history) needs a paid plan; the free plan
answers function_access_restricted, which reaches the model as is.

The key comes from `AVIATIONSTACK_API_KEY` (or the constructor); the base URL from the
constructor, `VLAGENT_AVIATIONSTACK_URL`, else https://api.aviationstack.com/v1.
"""

from __future__ import annotations

import datetime
import os
import re
from typing import Annotated, Any

import httpx
from pydantic import Field

from ..errors import ToolArgumentsError, ToolExecutionError
from ..retry import RETRYABLE_STATUS
from .base import FunctionTool, tool
from .http import JSONService

__all__ = ["AviationStack", "flight_status", "make_flight_tools", "search_flights"]

BASE_URL = "https://api.aviationstack.com/v1"
KEY_ENV = "AVIATIONSTACK_API_KEY"
_IATA_FLIGHT = re.compile(r"^([A-Z0-9]{2})(\d{1,4}[A-Z]?)$")
_ICAO_FLIGHT = re.compile(r"^([A-Z]{3})(\d{1,4}[A-Z]?)$")


def _error_of(payload: Any) -> dict[str, Any] | None:
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else None


def _error_detail(payload: Any) -> str | None:
    error = _error_of(payload)
    if error is None:
        return None
    text = str(error.get("message") or error.get("info") or "request refused")
    context = error.get("context")
    if isinstance(context, dict):  # validation errors: {"param": [{"key", "message"}, ...]}
        for param, problems in context.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                message = problem.get("message") if isinstance(problem, dict) else problem
                text += f"; {param}: {message}"
    return f"{text} ({error['code']})" if error.get("code") else text


def _retryable(response: httpx.Response) -> bool:
    try:
        code = (_error_of(response.json()) or {}).get("code")
    except ValueError:
        code = None
    if code == "usage_limit_reached":  # the monthly quota: asking again cannot help
        return False
    return code == "rate_limit_reached" or response.status_code in RETRYABLE_STATUS


class AviationStack:
    """An AviationStack client; its methods are what the flight tools return."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *,
        client: httpx.Client | None = None, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.25,
        limit: int = 10,
    ) -> None:
        self._base_url, self._api_key, self.limit = base_url, api_key, limit
        self._api = JSONService(
            "AviationStack flight API", client=client, timeout=timeout, attempts=attempts, backoff=backoff,
            error_detail=_error_detail, retryable=_retryable,
        )

    @property
    def base_url(self) -> str:
        return (self._base_url or os.environ.get("VLAGENT_AVIATIONSTACK_URL") or BASE_URL).rstrip("/")

    def _flights(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._api_key or os.environ.get(KEY_ENV)
        if not key:
            raise ToolExecutionError(
                f"flight data is unavailable: no AviationStack API key. The user must set the {KEY_ENV} "
                "environment variable (a free key: https://aviationstack.com/signup/free) and try again"
            )
        payload = self._api.get(f"{self.base_url}/flights", {"access_key": key, **params})
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise ToolExecutionError("malformed answer from AviationStack flight API: no \"data\" list")
        return payload

    def flight_status(self, flight_number: str, date: datetime.date | None = None) -> dict[str, Any]:
        code = re.sub(r"[\s-]", "", flight_number).upper()
        if _ICAO_FLIGHT.match(code):
            params: dict[str, Any] = {"flight_icao": code}
        elif _IATA_FLIGHT.match(code):
            params = {"flight_iata": code}
        else:
            raise ToolArgumentsError(
                f"flight_status: flight_number: {flight_number!r} is not a flight number; give the airline "
                "code and number, like 'AF1234' (IATA) or 'AFR1234' (ICAO)"
            )
        if date:
            params["flight_date"] = date.isoformat()
        flights = self._flights({**params, "limit": self.limit})["data"]
        if not flights:
            on = f" on {date.isoformat()}" if date else ""
            raise ToolExecutionError(
                f"AviationStack has no flight {code}{on}; check the flight number, or ask the user for the "
                "airline and route"
            )
        return {"flight": code, "flights": [_compact(f) for f in flights if isinstance(f, dict)]}

    def search_flights(self, origin: str, destination: str, date: datetime.date | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"dep_iata": origin.upper(), "arr_iata": destination.upper(), "limit": self.limit}
        if date:
            params["flight_date"] = date.isoformat()
        payload = self._flights(params)
        flights = [_compact(f) for f in payload["data"] if isinstance(f, dict)]
        total = (payload.get("pagination") or {}).get("total", len(flights))
        result = {"origin": params["dep_iata"], "destination": params["arr_iata"],
                  "date": date.isoformat() if date else None, "total": total, "flights": flights}
        if not flights:
            result["note"] = "no flights found on this route; check the airport codes or the date"
        return _drop_none(result)


def _compact(f: dict[str, Any]) -> dict[str, Any]:
    """One flight in the fields a traveller asks about; empty fields dropped."""
    flight, airline = f.get("flight") or {}, f.get("airline") or {}
    codeshared = flight.get("codeshared") or {}
    return _drop_none({
        "flight": flight.get("iata") or flight.get("icao") or flight.get("number"),
        "airline": airline.get("name"),
        "date": f.get("flight_date"),
        "status": f.get("flight_status"),
        "operated_as": (codeshared.get("flight_iata") or "").upper() or None,
        "departure": _end(f.get("departure")),
        "arrival": _end(f.get("arrival")),
    })


def _end(end: Any) -> dict[str, Any] | None:
    if not isinstance(end, dict):
        return None
    return _drop_none({
        "airport": end.get("airport"), "iata": end.get("iata"), "timezone": end.get("timezone"),
        "terminal": end.get("terminal"), "gate": end.get("gate"), "baggage": end.get("baggage"),
        "scheduled": end.get("scheduled"), "estimated": end.get("estimated"), "actual": end.get("actual"),
        "delay_minutes": end.get("delay"),
    })


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}


Airport = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]


def make_flight_tools(
    base_url: str | None = None, api_key: str | None = None, *, client: httpx.Client | None = None,
    timeout: float = 10.0, attempts: int = 3, backoff: float = 0.25, limit: int = 10, tool_timeout: float = 45.0,
) -> tuple[FunctionTool, FunctionTool]:
    """(flight_status, search_flights) Tools on their own AviationStack client."""
    api = AviationStack(base_url, api_key, client=client, timeout=timeout, attempts=attempts,
                        backoff=backoff, limit=limit)

    @tool(name="flight_status", timeout=tool_timeout, risk="none")  # read-only lookups
    def flight_status(flight_number: str, date: datetime.date | None = None) -> dict[str, Any]:
        """Look up a flight's status: scheduled, estimated and actual times, delays, gates, terminals.

        Args:
            flight_number: Airline code and number, e.g. "AF1234" (IATA) or "AFR1234" (ICAO).
            date: Day of the flight (YYYY-MM-DD); leave out for the latest flights with that number.
        """
        return api.flight_status(flight_number, date)

    @tool(name="search_flights", timeout=tool_timeout, risk="none")
    def search_flights(origin: Airport, destination: Airport, date: datetime.date | None = None) -> dict[str, Any]:
        """Find flights between two airports, with their status and times.

        Args:
            origin: IATA code of the departure airport, e.g. "CDG".
            destination: IATA code of the arrival airport, e.g. "JFK".
            date: Day of departure (YYYY-MM-DD); leave out for current flights.
        """
        return api.search_flights(origin, destination, date)

    flight_status.api = search_flights.api = api  # type: ignore[attr-defined]
    return flight_status, search_flights


flight_status, search_flights = make_flight_tools()
