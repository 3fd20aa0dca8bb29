"""`get_weather`: current conditions and a daily forecast from Open-Meteo (no API key needed).

Two requests: the geocoding API turns the city into coordinates
(`GET {geocoding}/v1/search?name=Paris&count=1` -> `{"results": [{"name", "latitude",
"longitude", "country", "admin1", "timezone", ...}]}`, no "results" key when nothing matches),
then the forecast API (`GET {forecast}/v1/forecast?latitude&longitude&current=...&daily=...`
-> `{"current_units": {...}, "current": {"time", "temperature_2m", "weather_code", ...},
"daily_units": {...}, "daily": {"time": [...], "temperature_2m_max": [...], ...}}`). Open-Meteo
reports a bad request as HTTP 400 with `{"error": true, "reason": "..."}`.

Base URLs: constructor arguments, else `VLAGENT_OPEN_METEO_URL` (forecast) and
`VLAGENT_OPEN_METEO_GEOCODING_URL`, else the public servers; read at call time.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field

from ..errors import ToolExecutionError
from .base import FunctionTool, tool
from .http import JSONService

__all__ = ["OpenMeteo", "WMO_CODES", "get_weather", "make_get_weather"]

FORECAST_URL = "https://api.open-meteo.com"
GEOCODING_URL = "https://geocoding-api.open-meteo.com"

# WMO weather interpretation codes, as the Open-Meteo forecast docs list them.
WMO_CODES = {
    0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast",
    45: "fog", 48: "depositing rime fog",
    51: "light drizzle", 53: "moderate drizzle", 55: "dense drizzle",
    56: "light freezing drizzle", 57: "dense freezing drizzle",
    61: "slight rain", 63: "moderate rain", 65: "heavy rain",
    66: "light freezing rain", 67: "heavy freezing rain",
    71: "slight snowfall", 73: "moderate snowfall", 75: "heavy snowfall", 77: "snow grains",
    80: "slight rain showers", 81: "moderate rain showers", 82: "violent rain showers",
    85: "slight snow showers", 86: "heavy snow showers",
    95: "thunderstorm", 96: "thunderstorm with slight hail", 99: "thunderstorm with heavy hail",
}
_CURRENT = "temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,wind_speed_10m"
_DAILY = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,precipitation_probability_max"


def _open_meteo_error(payload: Any) -> str | None:
    if isinstance(payload, dict) and payload.get("error"):
        return str(payload.get("reason") or "the request was refused")
    return None


class OpenMeteo:
    """An Open-Meteo client; `weather()` is what the `get_weather` tool returns."""

    def __init__(
        self, forecast_url: str | None = None, geocoding_url: str | None = None, *,
        client: httpx.Client | None = None, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.25,
    ) -> None:
        self._forecast_url, self._geocoding_url = forecast_url, geocoding_url
        options = dict(client=client, timeout=timeout, attempts=attempts, backoff=backoff,
                       error_detail=_open_meteo_error)
        self._geocoding = JSONService("Open-Meteo geocoding", **options)
        self._forecast = JSONService("Open-Meteo forecast", **options)

    @property
    def forecast_url(self) -> str:
        return (self._forecast_url or os.environ.get("VLAGENT_OPEN_METEO_URL") or FORECAST_URL).rstrip("/")

    @property
    def geocoding_url(self) -> str:
        url = self._geocoding_url or os.environ.get("VLAGENT_OPEN_METEO_GEOCODING_URL") or GEOCODING_URL
        return url.rstrip("/")

    def place(self, city: str) -> dict[str, Any]:
        """The best geocoding match for `city`: "Paris", or "Springfield, Illinois[, US]".

        Open-Meteo matches names only (a comma in the name finds nothing), so the name goes
        alone and the parts after it pick among its matches by region or country."""
        name, *within = [part.strip() for part in city.split(",") if part.strip()] or [city]
        data = self._geocoding.get(
            f"{self.geocoding_url}/v1/search",
            {"name": name, "count": 20 if within else 1, "language": "en", "format": "json"},
        )
        results = data.get("results") if isinstance(data, dict) else None
        if results is None and not isinstance(data, dict):
            raise ToolExecutionError(f"malformed answer from Open-Meteo geocoding: expected an object, got {data!r:.80}")
        if not results:
            raise ToolExecutionError(
                f"Open-Meteo geocoding for {name!r} found no place; check the spelling, or give a "
                "larger nearby city"
            )
        matching = [r for r in results if isinstance(r, dict) and all(_lies_in(r, part) for part in within)]
        if not matching:
            seen = "; ".join(", ".join(str(r[k]) for k in ("name", "admin1", "country") if r.get(k))
                             for r in results[:3] if isinstance(r, dict))
            raise ToolExecutionError(f"Open-Meteo geocoding found places named {name!r}, but none in "
                                     f"{', '.join(within)} (the first: {seen}); check the region or country")
        best = matching[0]
        if "latitude" not in best or "longitude" not in best:
            raise ToolExecutionError(f"malformed answer from Open-Meteo geocoding for {city!r}: no coordinates")
        return best

    def weather(self, city: str, days: int = 1, unit: str = "celsius") -> dict[str, Any]:
        place = self.place(city)
        data = self._forecast.get(f"{self.forecast_url}/v1/forecast", {
            "latitude": place["latitude"], "longitude": place["longitude"],
            "current": _CURRENT, "daily": _DAILY, "forecast_days": days,
            "temperature_unit": unit, "timezone": "auto",
        })
        try:
            return _summarise(place, data)
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            raise ToolExecutionError(
                f"malformed answer from Open-Meteo forecast for {city!r}: missing or odd field {e}"
            ) from None


def _lies_in(place: dict[str, Any], area: str) -> bool:
    """Whether `area` names the place's region (any admin level), country or country code."""
    names = [place.get(k) for k in ("admin1", "admin2", "admin3", "admin4", "country", "country_code")]
    return area.casefold() in {str(n).casefold() for n in names if n}


def _summarise(place: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A compact, JSON-able summary: what a person would read off a weather app."""
    current, units = data["current"], data.get("current_units", {})
    daily, daily_units = data["daily"], data.get("daily_units", {})
    summary: dict[str, Any] = {
        "place": place.get("name"),
        "region": place.get("admin1"),
        "country": place.get("country"),
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "timezone": data.get("timezone") or place.get("timezone"),
        "units": _drop_none({
            "temperature": units.get("temperature_2m") or daily_units.get("temperature_2m_max"),
            "wind_speed": units.get("wind_speed_10m"),
            "precipitation": daily_units.get("precipitation_sum"),
            "humidity": "%", "precipitation_chance": "%",
        }),
        "current": _drop_none({
            "time": current.get("time"),
            "temperature": current.get("temperature_2m"),
            "feels_like": current.get("apparent_temperature"),
            "humidity": current.get("relative_humidity_2m"),
            "wind_speed": current.get("wind_speed_10m"),
            "conditions": _conditions(current.get("weather_code")),
        }),
        "daily": [],
    }
    for i, day in enumerate(daily["time"]):
        def at(key: str) -> Any:
            values = daily.get(key)
            return values[i] if isinstance(values, list) and i < len(values) else None

        summary["daily"].append(_drop_none({
            "date": day,
            "conditions": _conditions(at("weather_code")),
            "min": at("temperature_2m_min"),
            "max": at("temperature_2m_max"),
            "precipitation": at("precipitation_sum"),
            "precipitation_chance": at("precipitation_probability_max"),
        }))
    return _drop_none(summary)


def _conditions(code: Any) -> str | None:
    if code is None:
        return None
    return WMO_CODES.get(int(code), f"unknown weather (WMO code {code})")


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def make_get_weather(
    forecast_url: str | None = None, geocoding_url: str | None = None, *,
    client: httpx.Client | None = None, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.25,
    tool_timeout: float = 70.0,
) -> FunctionTool:
    """A `get_weather` Tool on its own Open-Meteo client (for other servers, tests, tuning).

    tool_timeout bounds the whole call (geocoding + forecast, with retries); keep it above
    2 x (timeout x attempts + backoff) so the HTTP layer, which says what failed, runs out first.
    """
    api = OpenMeteo(forecast_url, geocoding_url, client=client, timeout=timeout, attempts=attempts, backoff=backoff)

    @tool(name="get_weather", timeout=tool_timeout, risk="none")  # it only reads a forecast
    def get_weather(
        city: str,
        days: Annotated[int, Field(ge=1, le=16)] = 1,
        unit: Literal["celsius", "fahrenheit"] = "celsius",
    ) -> dict[str, Any]:
        """Get the current weather and the daily forecast for a city.

        Args:
            city: City name, e.g. "Paris" or "Springfield, Illinois".
            days: How many days of forecast, today included (1 to 16).
            unit: Temperature unit.
        """
        return api.weather(city, days, unit)

    get_weather.api = api  # type: ignore[attr-defined]
    return get_weather


get_weather = make_get_weather()
