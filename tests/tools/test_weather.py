"""get_weather against a loopback server that answers in Open-Meteo's documented shapes."""

from __future__ import annotations

import json

import pytest

from vlagent.calls import ToolCall
from vlagent.tools import call_tool, call_tools, validate_arguments
from vlagent.tools.weather import get_weather, make_get_weather

from fake_http import Answer, FakeAPI
from provider_fixtures import GEOCODING_NOTHING, GEOCODING_PARIS, OPEN_METEO_BAD_REQUEST, forecast


@pytest.fixture
def api():
    with FakeAPI() as fake:
        fake.route("/v1/search", Answer(200, GEOCODING_PARIS))
        fake.route("/v1/forecast", lambda q: Answer(200, forecast(q)))
        yield fake


def weather_tool(api, **options):
    options = {"timeout": 10.0, "backoff": 0.01, **options}
    return make_get_weather(api.url, api.url, **options)


def test_happy_path(api):
    result = call_tool(weather_tool(api), {"city": "Paris", "days": 2})
    assert not result.is_error, result.content
    import json

    data = json.loads(result.content)
    assert data["place"] == "Paris" and data["country"] == "France" and data["region"] == "Île-de-France"
    assert data["current"] == {
        "time": "2026-06-01T14:00", "temperature": 21.4, "feels_like": 20.9, "humidity": 48,
        "wind_speed": 11.2, "conditions": "partly cloudy",
    }
    assert data["units"]["temperature"] == "°C" and data["units"]["wind_speed"] == "km/h"
    assert [d["date"] for d in data["daily"]] == ["2026-06-01", "2026-06-02"]
    assert data["daily"][1] == {
        "date": "2026-06-02", "conditions": "slight rain", "min": 12.5, "max": 19.8,
        "precipitation": 4.2, "precipitation_chance": 80,
    }
    assert "Île-de-France" in result.content  # JSON text keeps non-ASCII as is

    (geo,) = api.hits("/v1/search")
    assert geo["name"] == "Paris" and geo["count"] == "1"
    (fc,) = api.hits("/v1/forecast")
    assert (fc["latitude"], fc["longitude"]) == ("48.85341", "2.3488")
    assert fc["forecast_days"] == "2" and fc["temperature_unit"] == "celsius"
    assert "weather_code" in fc["current"] and "temperature_2m_max" in fc["daily"]


def test_fahrenheit(api):
    data = weather_tool(api).api.weather("Paris", 1, "fahrenheit")
    assert data["units"]["temperature"] == "°F"
    assert data["current"]["temperature"] == pytest.approx(70.5)
    assert len(data["daily"]) == 1


def test_schema_bounds_are_enforced_before_any_request(api):
    with pytest.raises(Exception, match="days"):
        validate_arguments(get_weather, {"city": "Paris", "days": 17})
    result = call_tools({"get_weather": weather_tool(api)}, [ToolCall("get_weather", {"city": "Paris", "unit": "kelvin"})])[0]
    assert result.is_error and "unit" in result.content and "celsius" in result.content
    assert api.requests == []


def test_unknown_city(api):
    api.route("/v1/search", Answer(200, GEOCODING_NOTHING))
    result = call_tool(weather_tool(api), {"city": "Pariss"})
    assert result.is_error
    assert "Open-Meteo geocoding for 'Pariss' found no place" in result.content
    assert api.hits("/v1/forecast") == []


def test_server_error_is_retried_then_reported(api):
    api.route("/v1/forecast", Answer(500, "upstream exploded", headers={"Content-Type": "text/plain"}))
    result = call_tool(weather_tool(api, attempts=3), {"city": "Paris"})
    assert result.is_error
    assert "Open-Meteo forecast" in result.content
    assert "answered 500 Internal Server Error after 3 attempts: upstream exploded" in result.content
    assert len(api.hits("/v1/forecast")) == 3


def test_429_then_200_is_retried_to_success(api):
    api.route("/v1/forecast", Answer(429, {"error": True, "reason": "Too many requests"}),
              lambda q: Answer(200, forecast(q)))
    result = call_tool(weather_tool(api), {"city": "Paris"})
    assert not result.is_error, result.content
    assert len(api.hits("/v1/forecast")) == 2


def test_retry_after_is_waited_out_before_asking_again(api):
    limited = Answer(429, {"error": True, "reason": "Too many requests"}, headers={"Retry-After": "2"})
    api.route("/v1/forecast", limited, lambda q: Answer(200, forecast(q)))
    result = call_tool(weather_tool(api), {"city": "Paris"})
    assert not result.is_error, result.content
    first, second = api.times[-2:]  # the two forecast requests (the geocoding came before)
    assert second - first >= 1.95


def test_bad_request_is_not_retried_and_says_why(api):
    api.route("/v1/forecast", Answer(400, OPEN_METEO_BAD_REQUEST))
    result = call_tool(weather_tool(api), {"city": "Paris"})
    assert result.is_error
    assert "answered 400 Bad Request: Latitude must be in range" in result.content
    assert len(api.hits("/v1/forecast")) == 1


def test_malformed_json(api):
    api.route("/v1/forecast", Answer(200, '{"latitude": 48.86, "current": {'))
    result = call_tool(weather_tool(api), {"city": "Paris"})
    assert result.is_error
    assert "malformed JSON from Open-Meteo forecast" in result.content
    assert len(api.hits("/v1/forecast")) == 1  # a broken body is not a transient failure


def test_json_of_the_wrong_shape(api):
    api.route("/v1/forecast", Answer(200, {"latitude": 48.86}))
    result = call_tool(weather_tool(api), {"city": "Paris"})
    assert result.is_error and "malformed answer from Open-Meteo forecast" in result.content


def test_timeout(api):
    api.route("/v1/search", Answer(200, GEOCODING_PARIS, delay=1.5))
    result = call_tool(weather_tool(api, timeout=0.3, attempts=2), {"city": "Paris"})
    assert result.is_error
    assert "Open-Meteo geocoding" in result.content
    assert "did not answer within 0.3 s (2 attempts)" in result.content
    assert len(api.hits("/v1/search")) == 2


def test_a_server_trickling_its_answer_is_stopped_at_the_deadline(api):
    """Each byte arrives well within the read timeout; the whole answer would take 30 s."""
    api.route("/v1/search", Answer(200, GEOCODING_PARIS, trickle=0.05))
    result = call_tool(weather_tool(api, timeout=0.5, attempts=1), {"city": "Paris"})
    assert result.is_error and "did not answer within 0.5 s" in result.content


def test_unreachable_server():
    with FakeAPI() as fake:
        url = fake.url
    result = call_tool(make_get_weather(url, url, timeout=1.0, attempts=1), {"city": "Paris"})
    assert result.is_error and "could not reach Open-Meteo geocoding" in result.content


def test_base_urls_from_the_environment(api, monkeypatch):
    monkeypatch.setenv("VLAGENT_OPEN_METEO_URL", api.url)
    monkeypatch.setenv("VLAGENT_OPEN_METEO_GEOCODING_URL", api.url + "/")
    result = call_tool(get_weather, {"city": "Paris"})  # the ready-made tool, shared client
    assert not result.is_error, result.content
    assert len(api.hits("/v1/search")) == 1 and len(api.hits("/v1/forecast")) == 1


def test_the_ready_tool_is_described_for_the_model():
    params = get_weather.parameters
    assert params["required"] == ["city"]
    assert params["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert params["properties"]["days"] == {
        "default": 1, "description": "How many days of forecast, today included (1 to 16).",
        "maximum": 16, "minimum": 1, "type": "integer",
    }
    assert get_weather.timeout >= 2 * 10 * 3  # above the HTTP budget, so the HTTP error wins


SPRINGFIELDS = {"results": [
    {"name": "Springfield", "latitude": 37.2, "longitude": -93.3, "country_code": "US", "country": "United States",
     "admin1": "Missouri", "timezone": "America/Chicago"},
    {"name": "Springfield", "latitude": 39.8, "longitude": -89.6, "country_code": "US", "country": "United States",
     "admin1": "Illinois", "admin2": "Sangamon", "timezone": "America/Chicago"},
]}


def open_meteo_geocoding(query):
    """As Open-Meteo answers: names only, so a comma in the name matches nothing."""
    if "," in query["name"]:
        return Answer(200, GEOCODING_NOTHING)
    return Answer(200, SPRINGFIELDS if query["name"].casefold() == "springfield" else GEOCODING_PARIS)


@pytest.mark.parametrize("city,region", [
    ("Springfield, Illinois", "Illinois"), ("Springfield, Illinois, US", "Illinois"),
    ("springfield, missouri", "Missouri"), ("Springfield", "Missouri"),  # no qualifier: the first match
])
def test_city_region_country_is_geocoded_by_name_then_filtered(api, city, region):
    api.route("/v1/search", open_meteo_geocoding)
    result = call_tool(weather_tool(api), {"city": city})
    assert not result.is_error, result.content
    assert json.loads(result.content)["region"] == region
    assert api.hits("/v1/search")[-1]["name"].casefold() == "springfield"


def test_a_region_with_no_such_city_says_what_was_found(api):
    api.route("/v1/search", open_meteo_geocoding)
    result = call_tool(weather_tool(api), {"city": "Springfield, Texas"})
    assert result.is_error and "none in Texas" in result.content and "Springfield, Missouri" in result.content
