"""Flight tools against a loopback server that answers in AviationStack's documented shapes."""

from __future__ import annotations

import json

import pytest

from fake_http import Answer, FakeAPI
from provider_fixtures import (
    AA1004, INVALID_KEY, RATE_LIMIT, RESTRICTED, USAGE_LIMIT, aviationstack_error, codeshare_of_aa1004, flights,
)
from vlagent.calls import ToolCall
from vlagent.tools import call_tool, call_tools
from vlagent.tools.flights import KEY_ENV, flight_status, make_flight_tools, search_flights

KEY = "test-key-0123456789"


@pytest.fixture
def api():
    with FakeAPI() as fake:
        fake.route("/v1/flights", Answer(200, flights(AA1004)))
        yield fake


def tools(api, **options):
    options = {"api_key": KEY, "timeout": 10.0, "backoff": 0.01, **options}
    status, search = make_flight_tools(api.url + "/v1", **options)
    return {"flight_status": status, "search_flights": search}


def test_flight_status(api):
    result = call_tool(tools(api)["flight_status"], {"flight_number": "aa 1004", "date": "2019-12-12"})
    assert not result.is_error, result.content
    data = json.loads(result.content)
    assert data["flight"] == "AA1004"
    (f,) = data["flights"]
    assert f["flight"] == "AA1004" and f["airline"] == "American Airlines" and f["status"] == "active"
    assert f["departure"] == {
        "airport": "San Francisco International", "iata": "SFO", "timezone": "America/Los_Angeles",
        "terminal": "2", "gate": "D11", "scheduled": "2019-12-12T04:20:00+00:00",
        "estimated": "2019-12-12T04:20:00+00:00", "actual": "2019-12-12T04:20:13+00:00", "delay_minutes": 13,
    }
    assert f["arrival"]["baggage"] == "A17" and "actual" not in f["arrival"]  # nulls are dropped
    (query,) = api.hits("/v1/flights")
    assert query == {"access_key": KEY, "flight_iata": "AA1004", "flight_date": "2019-12-12", "limit": "10"}


def test_icao_flight_numbers_use_flight_icao(api):
    call_tool(tools(api)["flight_status"], {"flight_number": "AAL1004"})
    (query,) = api.hits("/v1/flights")
    assert query["flight_icao"] == "AAL1004" and "flight_iata" not in query and "flight_date" not in query


def test_not_a_flight_number(api):
    result = call_tool(tools(api)["flight_status"], {"flight_number": "to Paris please"})
    assert result.is_error and "is not a flight number" in result.content and "AF1234" in result.content
    assert api.requests == []


def test_unknown_flight(api):
    api.route("/v1/flights", Answer(200, flights()))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA9999", "date": "2019-12-12"})
    assert result.is_error and "AviationStack has no flight AA9999 on 2019-12-12" in result.content


def test_search_flights(api):
    api.route("/v1/flights", Answer(200, flights(AA1004, codeshare_of_aa1004(), total=57)))
    result = call_tool(tools(api)["search_flights"], {"origin": "sfo", "destination": "DFW"})
    assert not result.is_error, result.content
    data = json.loads(result.content)
    assert (data["origin"], data["destination"], data["total"]) == ("SFO", "DFW", 57)
    assert [f["flight"] for f in data["flights"]] == ["AA1004", "BA1511"]
    assert data["flights"][1]["operated_as"] == "AA1004"
    (query,) = api.hits("/v1/flights")
    assert query["dep_iata"] == "SFO" and query["arr_iata"] == "DFW"


def test_search_without_results_says_so(api):
    api.route("/v1/flights", Answer(200, flights()))
    data = json.loads(call_tool(tools(api)["search_flights"], {"origin": "CDG", "destination": "NRT"}).content)
    assert data["flights"] == [] and "no flights found" in data["note"]


def test_airport_codes_are_checked_by_the_schema(api):
    result = call_tools(tools(api), [ToolCall("search_flights", {"origin": "Paris", "destination": "JFK"})])[0]
    assert result.is_error and "origin" in result.content and "does not match" in result.content
    assert api.requests == []


def test_missing_key_is_a_message_for_the_user(api, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("VLAGENT_AVIATIONSTACK_URL", api.url + "/v1")
    for tool_, arguments in ((flight_status, {"flight_number": "AA1004"}),
                             (search_flights, {"origin": "SFO", "destination": "DFW"})):
        result = call_tool(tool_, arguments)
        assert result.is_error
        assert KEY_ENV in result.content and "must set" in result.content
    assert api.requests == []


def test_key_and_url_from_the_environment(api, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "from-env")
    monkeypatch.setenv("VLAGENT_AVIATIONSTACK_URL", api.url + "/v1/")
    result = call_tool(flight_status, {"flight_number": "AA1004"})
    assert not result.is_error, result.content
    assert api.hits("/v1/flights")[0]["access_key"] == "from-env"


def test_invalid_key_is_not_retried(api):
    api.route("/v1/flights", Answer(401, INVALID_KEY))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004"})
    assert result.is_error
    assert "answered 401 Unauthorized: You have not supplied a valid API Access Key. (invalid_access_key)" in result.content
    assert len(api.requests) == 1


def test_error_envelope_with_status_200(api):
    api.route("/v1/flights", Answer(200, RESTRICTED))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004", "date": "2019-12-12"})
    assert result.is_error and "function_access_restricted" in result.content


def test_validation_errors_name_the_parameter(api):
    api.route("/v1/flights", Answer(422, aviationstack_error(
        "validation_error", "Request failed with validation error",
        {"flight_date": [{"key": "invalid_flight_date", "message": "The flight date must be in the past."}]},
    )))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004", "date": "2030-01-01"})
    assert "flight_date: The flight date must be in the past." in result.content


def test_server_error_is_retried_then_reported_without_the_key(api):
    api.route("/v1/flights", Answer(500, f"internal error while serving access_key={KEY}",
                                    headers={"Content-Type": "text/plain"}))
    result = call_tool(tools(api, attempts=3)["flight_status"], {"flight_number": "AA1004"})
    assert result.is_error
    assert "AviationStack flight API" in result.content and "answered 500" in result.content
    assert "after 3 attempts" in result.content
    assert KEY not in result.content and "access_key=***" in result.content
    assert len(api.requests) == 3


def test_per_second_rate_limit_is_retried(api):
    api.route("/v1/flights", Answer(429, RATE_LIMIT), Answer(200, flights(AA1004)))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004"})
    assert not result.is_error, result.content
    assert len(api.requests) == 2


def test_monthly_quota_is_not_retried(api):
    api.route("/v1/flights", Answer(429, USAGE_LIMIT))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004"})
    assert result.is_error and "usage_limit_reached" in result.content and "monthly usage limit" in result.content
    assert len(api.requests) == 1


def test_malformed_json(api):
    api.route("/v1/flights", Answer(200, "<html>502 Bad Gateway</html>", headers={"Content-Type": "text/html"}))
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004"})
    assert result.is_error and "malformed JSON from AviationStack flight API" in result.content


def test_timeout(api):
    api.route("/v1/flights", Answer(200, flights(AA1004), delay=1.5))
    result = call_tool(tools(api, timeout=0.3, attempts=2)["flight_status"], {"flight_number": "AA1004"})
    assert result.is_error and "did not answer within 0.3 s (2 attempts)" in result.content
    assert KEY not in result.content


def test_the_api_key_is_in_no_log_record(api, caplog):
    """httpx logs every request's URL at INFO, and AviationStack takes the key in the query."""
    import logging

    caplog.set_level(logging.DEBUG)
    result = call_tool(tools(api)["flight_status"], {"flight_number": "AA1004"})
    assert not result.is_error, result.content
    assert KEY in "".join(q["access_key"] for q in api.hits("/v1/flights"))  # it was sent
    messages = [r.getMessage() for r in caplog.records]
    assert any("access_key=***" in m for m in messages)  # the line is logged, masked
    assert not any(KEY in m for m in messages)
