import datetime

import jsonschema
import pytest

from vlagent import Tool, ToolArgumentsError, ToolExecutionError, tool
from vlagent.tools import tool_schema, validate_arguments


@tool
def search_flights(origin: str, destination: str, date: datetime.date, passengers: int = 1) -> list:
    """Search flights between two airports.

    Args:
        origin: IATA code of the departure airport, e.g. CDG.
        destination: IATA code of the arrival airport.
        date: Day of departure.
        passengers: How many seats
            are needed.
    """
    return [origin, destination, date.isoformat(), passengers]


def test_schema_from_hints_and_docstring():
    assert isinstance(search_flights, Tool)
    assert search_flights.name == "search_flights"
    assert search_flights.description == "Search flights between two airports."
    params = search_flights.parameters
    assert params["required"] == ["origin", "destination", "date"]
    assert params["properties"]["origin"] == {"type": "string", "description": "IATA code of the departure airport, e.g. CDG."}
    assert params["properties"]["date"]["format"] == "date"
    assert params["properties"]["passengers"]["description"] == "How many seats are needed."
    jsonschema.Draft202012Validator.check_schema(params)
    assert tool_schema(search_flights)["function"]["name"] == "search_flights"


def test_arguments_are_validated_then_coerced():
    validate_arguments(search_flights, {"origin": "CDG", "destination": "JFK", "date": "2026-12-01"})
    assert search_flights(origin="CDG", destination="JFK", date="2026-12-01") == ["CDG", "JFK", "2026-12-01", 1]
    with pytest.raises(ToolArgumentsError, match="passengers"):
        validate_arguments(search_flights, {"origin": "CDG", "destination": "JFK", "date": "x", "passengers": "two"})
    with pytest.raises(ToolArgumentsError, match="'origin' is a required property"):
        validate_arguments(search_flights, {"destination": "JFK", "date": "2026-12-01"})


def test_a_failing_tool_is_a_recoverable_error():
    @tool(name="divide", description="Divide a by b.")
    def _divide(a: float, b: float) -> float:
        return a / b

    assert _divide.name == "divide"
    with pytest.raises(ToolExecutionError, match="ZeroDivisionError"):
        _divide(a=1, b=0)


def test_untyped_parameters_are_refused_at_definition():
    with pytest.raises(TypeError, match="needs a type hint"):
        @tool
        def bad(x):  # noqa: ANN001
            """No hints."""
