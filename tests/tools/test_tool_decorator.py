import datetime
import json
import re

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


def test_function_and_ui_tools_share_one_validator_and_message_style():
    """NaN passes any JSON Schema bound; the one validator refuses it for every tool, in the
    `tool: where: what` style the UI tools use too."""
    from vlagent.coords import Screen
    from vlagent.ui_tools import ui_tool_schema

    @tool(name="scale", description="Scale by a factor.")
    def _scale(factor: float, points: list[float]) -> float:
        return factor

    with pytest.raises(ToolArgumentsError, match=r"^scale: factor: numbers must be finite; points/1: numbers must be finite$"):
        validate_arguments(_scale, {"factor": float("inf"), "points": [1.0, float("nan")]})
    screen = Screen(image_size=(100, 200), device_size=(100, 200), model_size=(100, 200))
    with pytest.raises(ToolArgumentsError, match=r"^mobile_use: action: 'fly' is not one of"):
        validate_arguments(ui_tool_schema("mobile_use", screen, "relative-1000"), {"action": "fly"})


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


# -- one schema: what the model sees is what is enforced ----------------------------------------

import enum  # noqa: E402
from typing import Annotated, Literal, Optional  # noqa: E402

import pydantic  # noqa: E402

from vlagent.tools import RawTool  # noqa: E402
from vlagent.tools.base import parse_docstring  # noqa: E402


class Cabin(enum.Enum):
    ECONOMY = "economy"
    BUSINESS = "business"


class Passenger(pydantic.BaseModel):
    """One traveller."""

    name: str
    age: Annotated[int, pydantic.Field(ge=0, le=130)]
    cabin: Cabin = Cabin.ECONOMY


class Trip(pydantic.BaseModel):
    passengers: list[Passenger]
    title: str = "trip"  # a *property* called title must survive title stripping


@tool(timeout=5, concurrent=False)
def book(
    trip: Trip,
    when: datetime.date,
    seats: list[int],
    cabin: Cabin = Cabin.BUSINESS,
    meal: Literal["veg", "vegan", "any"] = "any",
    note: Optional[str] = None,
    loyalty: int | None = None,
) -> dict:
    """Book a trip.

    Args:
        trip: Who travels.
        when: Day of departure.
        seats: Seat numbers.
        cabin: Cabin class.
        meal: Meal choice.
        note: Free text for the crew.
        loyalty: Loyalty number, if any.
    """
    return {"trip": trip, "when": when, "seats": seats, "cabin": cabin, "meal": meal, "note": note, "loyalty": loyalty}


VALID = [
    {"trip": {"passengers": [{"name": "Ada", "age": 36}]}, "when": "2026-12-01", "seats": [1, 2]},
    {"trip": {"passengers": [], "title": "x"}, "when": "2026-12-01", "seats": [], "cabin": "economy",
     "meal": "vegan", "note": None, "loyalty": 7},
    {"trip": {"passengers": [{"name": "Bo", "age": 0, "cabin": "business"}]}, "when": "2026-01-31", "seats": [3],
     "note": "window"},
]
INVALID = [  # (arguments, the field the error must name)
    ({"when": "2026-12-01", "seats": []}, "'trip' is a required property"),
    ({"trip": {"passengers": []}, "when": "2026-13-01", "seats": []}, "when"),
    ({"trip": {"passengers": []}, "when": "tomorrow", "seats": []}, "when"),
    ({"trip": {"passengers": []}, "when": "2026-12-01", "seats": ["a"]}, "seats/0"),
    ({"trip": {"passengers": []}, "when": "2026-12-01", "seats": [], "cabin": "first"}, "cabin"),
    ({"trip": {"passengers": []}, "when": "2026-12-01", "seats": [], "meal": "fish"}, "meal"),
    ({"trip": {"passengers": []}, "when": "2026-12-01", "seats": [], "note": 3}, "note"),
    ({"trip": {"passengers": [{"name": "Ada", "age": 200}]}, "when": "2026-12-01", "seats": []},
     "trip/passengers/0/age"),
    ({"trip": {"passengers": [{"name": "Ada", "age": 3, "cabin": "first"}]}, "when": "2026-12-01", "seats": []},
     "trip/passengers/0/cabin"),
    ({"trip": {"passengers": [{"age": 3}]}, "when": "2026-12-01", "seats": []}, "trip/passengers/0"),
    ({"trip": {"passengers": []}, "when": "2026-12-01", "seats": [], "sets": [1]}, "'sets' was unexpected"),
]


def test_schema_covers_defaults_enums_lists_optional_nested_and_dates():
    p = book.parameters
    assert "$defs" not in p and "$ref" not in json.dumps(p)  # self-contained for the model
    assert p["required"] == ["trip", "when", "seats"]
    assert p["additionalProperties"] is False
    props = p["properties"]
    assert props["cabin"] == {"default": "business", "description": "Cabin class.", "enum": ["economy", "business"],
                              "type": "string"}
    assert props["meal"]["enum"] == ["veg", "vegan", "any"] and props["meal"]["default"] == "any"
    assert props["seats"] == {"description": "Seat numbers.", "items": {"type": "integer"}, "type": "array"}
    assert props["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}] and props["note"]["default"] is None
    assert props["loyalty"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["when"] == {"description": "Day of departure.", "format": "date", "type": "string"}
    passenger = props["trip"]["properties"]["passengers"]["items"]
    assert passenger["description"] == "One traveller."
    assert passenger["properties"]["age"] == {"maximum": 130, "minimum": 0, "type": "integer"}
    assert passenger["properties"]["cabin"]["enum"] == ["economy", "business"]
    assert props["trip"]["properties"]["title"] == {"default": "trip", "type": "string"}
    assert "title" not in json.dumps({k: v for k, v in props.items() if k != "trip"})
    jsonschema.Draft202012Validator.check_schema(p)
    assert tool_schema(book)["function"]["parameters"] is p
    assert (book.timeout, book.concurrent) == (5, False)


@pytest.mark.parametrize("arguments", VALID)
def test_valid_arguments_pass_the_schema_and_reach_the_function_typed(arguments):
    validate_arguments(book, arguments)
    # the schema as sent to the model, checked by a validator of our own: the same verdict
    jsonschema.Draft202012Validator(
        tool_schema(book)["function"]["parameters"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(arguments)
    out = book(**arguments)
    assert isinstance(out["trip"], Trip) and isinstance(out["when"], datetime.date)
    assert isinstance(out["cabin"], Cabin)
    assert all(isinstance(p.cabin, Cabin) for p in out["trip"].passengers)


@pytest.mark.parametrize(("arguments", "field"), INVALID)
def test_invalid_arguments_are_refused_naming_the_field(arguments, field):
    with pytest.raises(ToolArgumentsError, match=re.escape(field)):
        validate_arguments(book, arguments)
    with pytest.raises(jsonschema.ValidationError):  # the schema the model saw refuses them too
        jsonschema.Draft202012Validator(
            book.parameters, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(arguments)
    with pytest.raises(ToolArgumentsError):  # and so does pydantic: no second opinion sneaks in
        book(**arguments)


def test_every_violation_is_reported_at_once():
    with pytest.raises(ToolArgumentsError) as e:
        validate_arguments(book, {"trip": {"passengers": []}, "when": "x", "seats": "y", "meal": "fish"})
    assert all(f in str(e.value) for f in ("when:", "seats:", "meal:"))


def test_arguments_must_be_an_object():
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        validate_arguments(book, ["a"])


class Node(pydantic.BaseModel):
    value: int
    children: list["Node"] = []


@tool
def tree_sum(root: Node) -> int:
    """Sum a tree."""
    return root.value + sum(tree_sum.fn(c) for c in root.children)


def test_recursive_models_keep_resolvable_defs():
    p = tree_sum.parameters
    assert "$defs" in p and "Node" in p["$defs"]
    validate_arguments(tree_sum, {"root": {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}})
    with pytest.raises(ToolArgumentsError, match="root/children/0/value"):
        validate_arguments(tree_sum, {"root": {"value": 1, "children": [{"value": "two"}]}})
    assert tree_sum(root={"value": 1, "children": [{"value": 2}]}) == 3


def test_raw_tool_from_a_json_schema():
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string", "minLength": 1}, "limit": {"type": "integer", "default": 5}},
        "required": ["q"],
    }
    seen = []
    search = RawTool("search", "Search the docs.", schema, lambda **kw: seen.append(kw) or "ok", timeout=3)
    assert isinstance(search, RawTool) and isinstance(search, Tool)
    assert search.parameters is schema and search.timeout == 3 and search.concurrent is True
    assert search(q="x") == "ok" and seen == [{"q": "x"}]
    with pytest.raises(ToolArgumentsError, match="q"):
        search(q="")
    with pytest.raises(jsonschema.SchemaError):  # a broken schema fails at definition
        RawTool("bad", "Bad.", {"type": "object", "properties": {"x": {"type": "strin"}}}, print)


def test_async_functions_are_tools_too():
    @tool
    async def double(x: int) -> int:
        """Double x."""
        return 2 * x

    assert double(x=4) == 8


def test_tool_errors_keep_their_audience():
    from vlagent import PolicyViolation

    @tool
    def guarded(x: int) -> int:
        """Refuses."""
        raise PolicyViolation("not allowed")

    with pytest.raises(PolicyViolation):  # a person's decision, not a model mistake: not wrapped
        guarded(x=1)


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout"):
        @tool(timeout=0)
        def t(x: int) -> int:
            """T."""
            return x


def test_rest_and_numpy_docstrings():
    rest = '''Convert money.

    Uses today's rate.

    :param amount: How much.
    :param str currency: ISO code,
        e.g. EUR.
    :returns: The converted amount.
    '''
    numpy = '''Convert money.

    Parameters
    ----------
    amount : float
        How much.
    currency : str
        ISO code,
        e.g. EUR.

    Returns
    -------
    float
    '''
    import inspect

    summary, args = parse_docstring(inspect.cleandoc(rest))
    assert summary == "Convert money.\n\nUses today's rate."
    assert args == {"amount": "How much.", "currency": "ISO code, e.g. EUR."}
    summary, args = parse_docstring(inspect.cleandoc(numpy))
    assert summary == "Convert money."
    assert args == {"amount": "How much.", "currency": "ISO code, e.g. EUR."}

    google = '''Convert money.

    Args:
        amount (float): How much.
        currency: ISO code.

    Returns:
        The amount.
    '''
    assert parse_docstring(inspect.cleandoc(google)) == ("Convert money.", {"amount": "How much.", "currency": "ISO code."})


def test_parameter_names_pydantic_uses_itself_still_work():
    @tool
    def export(json: str, copy: int, model_name: str = "m") -> str:
        """Names that BaseModel has as attributes."""
        return f"{json}/{copy}/{model_name}"

    assert set(export.parameters["properties"]) == {"json", "copy", "model_name"}
    validate_arguments(export, {"json": "a", "copy": 2})
    assert export(json="a", copy=2) == "a/2/m"
    with pytest.raises(ToolArgumentsError, match="copy"):
        export(json="a", copy="two")
