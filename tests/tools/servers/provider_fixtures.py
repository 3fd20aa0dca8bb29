"""Provider answers in their documented shapes (field names, nesting, types, error envelopes).

Open-Meteo: https://open-meteo.com/en/docs and /en/docs/geocoding-api. Geocoding answers
{"results": [...], "generationtime_ms"} and leaves "results" out when nothing matches; the
forecast echoes the grid point and puts each block's units beside it (`current_units`,
`daily_units`); a bad request is HTTP 400 {"error": true, "reason": "..."}.

AviationStack: https://aviationstack.com/documentation (the /v1/flights example, AA1004
SFO->DFW, is the documentation's own). Errors: {"error": {"code", "message", "context"?}}.
"""

from __future__ import annotations

import copy
from typing import Any

GEOCODING_PARIS = {
    "results": [{
        "id": 2988507, "name": "Paris", "latitude": 48.85341, "longitude": 2.3488, "elevation": 42.0,
        "feature_code": "PPLC", "country_code": "FR", "admin1_id": 3012874, "admin2_id": 2968815,
        "timezone": "Europe/Paris", "population": 2138551, "country_id": 3017382, "country": "France",
        "admin1": "Île-de-France", "admin2": "Paris",
    }],
    "generationtime_ms": 0.9219933,
}

GEOCODING_NOTHING = {"generationtime_ms": 0.41}

OPEN_METEO_BAD_REQUEST = {"error": True, "reason": "Latitude must be in range of -90 to 90°. Given: 148.85."}

_DAYS = [
    ("2026-06-01", 2, 23.1, 13.2, 0.0, 10),
    ("2026-06-02", 61, 19.8, 12.5, 4.2, 80),
    ("2026-06-03", 95, 24.6, 15.0, 11.8, 90),
]


def forecast(query: dict[str, str]) -> dict[str, Any]:
    """An Open-Meteo /v1/forecast answer for `query`: honours forecast_days and temperature_unit."""
    days = int(query.get("forecast_days", 7))
    fahrenheit = query.get("temperature_unit") == "fahrenheit"
    unit = "°F" if fahrenheit else "°C"

    def t(celsius: float) -> float:
        return round(celsius * 9 / 5 + 32, 1) if fahrenheit else celsius

    rows = _DAYS[:days]
    return {
        "latitude": 48.86, "longitude": 2.3399997, "generationtime_ms": 0.0789165,
        "utc_offset_seconds": 7200, "timezone": "Europe/Paris", "timezone_abbreviation": "GMT+2",
        "elevation": 43.0,
        "current_units": {
            "time": "iso8601", "interval": "seconds", "temperature_2m": unit, "apparent_temperature": unit,
            "relative_humidity_2m": "%", "weather_code": "wmo code", "wind_speed_10m": "km/h",
        },
        "current": {
            "time": "2026-06-01T14:00", "interval": 900, "temperature_2m": t(21.4),
            "apparent_temperature": t(20.9), "relative_humidity_2m": 48, "weather_code": 2,
            "wind_speed_10m": 11.2,
        },
        "daily_units": {
            "time": "iso8601", "weather_code": "wmo code", "temperature_2m_max": unit,
            "temperature_2m_min": unit, "precipitation_sum": "mm", "precipitation_probability_max": "%",
        },
        "daily": {
            "time": [r[0] for r in rows],
            "weather_code": [r[1] for r in rows],
            "temperature_2m_max": [t(r[2]) for r in rows],
            "temperature_2m_min": [t(r[3]) for r in rows],
            "precipitation_sum": [r[4] for r in rows],
            "precipitation_probability_max": [r[5] for r in rows],
        },
    }


AA1004 = {
    "flight_date": "2019-12-12",
    "flight_status": "active",
    "departure": {
        "airport": "San Francisco International", "timezone": "America/Los_Angeles", "iata": "SFO",
        "icao": "KSFO", "terminal": "2", "gate": "D11", "delay": 13,
        "scheduled": "2019-12-12T04:20:00+00:00", "estimated": "2019-12-12T04:20:00+00:00",
        "actual": "2019-12-12T04:20:13+00:00", "estimated_runway": "2019-12-12T04:20:13+00:00",
        "actual_runway": "2019-12-12T04:20:13+00:00",
    },
    "arrival": {
        "airport": "Dallas/Fort Worth International", "timezone": "America/Chicago", "iata": "DFW",
        "icao": "KDFW", "terminal": "A", "gate": "A22", "baggage": "A17", "delay": 0,
        "scheduled": "2019-12-12T04:20:00+00:00", "estimated": "2019-12-12T04:20:00+00:00",
        "actual": None, "estimated_runway": None, "actual_runway": None,
    },
    "airline": {"name": "American Airlines", "iata": "AA", "icao": "AAL"},
    "flight": {"number": "1004", "iata": "AA1004", "icao": "AAL1004", "codeshared": None},
    "aircraft": {"registration": "N160AN", "iata": "A321", "icao": "A321", "icao24": "A0F1BB"},
    "live": {
        "updated": "2019-12-12T10:00:00+00:00", "latitude": 36.2856, "longitude": -106.807,
        "altitude": 8846.82, "direction": 114.34, "speed_horizontal": 894.348, "speed_vertical": 1.188,
        "is_ground": False,
    },
}


def codeshare_of_aa1004() -> dict[str, Any]:
    """The same flight sold by a partner: AviationStack lists it with `codeshared` filled in."""
    f = copy.deepcopy(AA1004)
    f["airline"] = {"name": "British Airways", "iata": "BA", "icao": "BAW"}
    f["flight"] = {
        "number": "1511", "iata": "BA1511", "icao": "BAW1511",
        "codeshared": {
            "airline_name": "american airlines", "airline_iata": "aa", "airline_icao": "aal",
            "flight_number": "1004", "flight_iata": "aa1004", "flight_icao": "aal1004",
        },
    }
    f["live"] = None
    return f


def flights(*data: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    return {
        "pagination": {"limit": 100, "offset": 0, "count": len(data), "total": len(data) if total is None else total},
        "data": list(data),
    }


def aviationstack_error(code: str, message: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if context:
        error["context"] = context
    return {"error": error}


INVALID_KEY = aviationstack_error("invalid_access_key", "You have not supplied a valid API Access Key.")
USAGE_LIMIT = aviationstack_error("usage_limit_reached", "Your monthly usage limit has been reached.")
RATE_LIMIT = aviationstack_error("rate_limit_reached", "Too many requests per second.")
RESTRICTED = aviationstack_error(
    "function_access_restricted", "Your current subscription plan does not support this API function."
)
