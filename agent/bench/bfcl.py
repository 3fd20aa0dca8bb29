"""BFCL (Berkeley Function-Calling Leaderboard): the AST checker for Python entries, and its data.

`ast_checker` gives the verdicts of `bfcl_eval/eval_checker/ast_eval/ast_checker.py` in
ShishirPatil/gorilla (Apache-2.0) for Python entries, so our scores compare with the leaderboard:
- types are exact (`type(v) == expected`: True is no integer), except that an int is accepted
  for a float -- at the top level only, not inside a list -- and a tuple for a tuple;
- strings compare after `standardize_string`: spaces and , . / - _ * ^ removed, lower-cased,
  ' turned into "; lists and dicts standardise their string items the same way;
- a possible answer of "" marks a parameter optional;
- parallel calls are matched greedily, not by an optimal assignment: each expected call, in
  order, takes the first unused model call that passes, and is never revisited -- so a valid set
  of calls can fail when an earlier expected call takes the call a later one needed;
- `multiple` checks the one call against the expected function.
We add what the reference does around the checker: `irrelevance` is valid iff no call was made
and `relevance` iff one was (the eval runner's rule), and a model output that is not a list of
{name: {arguments}} fails as "ast_decoder:decoder_wrong_output_format". A valid result is
{"valid": True, "error": [], "error_type": ""}.

Data: BFCL files hold one JSON object per line: questions {"id", "question": [[messages]],
"function": [docs]}, and beside them `possible_answer/<same name>` with {"id", "ground_truth"}.
"""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..calls import ToolCall

PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}
_NESTED = ("array", "tuple")  # types whose items are type-checked one level deep
# BFCL's GORILLA_TO_OPENAPI: how function docs become JSON-schema tools for function-calling models.
OPENAPI_TYPES = {"integer": "integer", "number": "number", "float": "number", "string": "string",
                 "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
                 "dict": "object", "object": "object", "tuple": "array", "any": "string"}
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
_VALID = {"valid": True, "error": [], "error_type": ""}


def _fail(error_type: str, *errors: Any) -> dict[str, Any]:
    return {"valid": False, "error": list(errors), "error_type": error_type}


# -- values -----------------------------------------------------------------------------------


def standardize_string(value: str) -> str:
    """BFCL's normalisation: "April 1, 2024" and "april 1 2024" compare equal."""
    return re.sub(r"[ ,./\-_*^]", "", value).lower().replace("'", '"')


def _standardize(value: Any) -> Any:
    return standardize_string(value) if type(value) is str else value


def string_checker(param: str, value: str, possible: list) -> dict[str, Any]:
    if standardize_string(value) not in [standardize_string(p) for p in possible if type(p) is str]:
        return _fail("value_error:string", f"Invalid value for parameter {param!r}: {value!r}. "
                     f"Expected one of {possible}. Case insensitive.")
    return dict(_VALID)


def list_checker(param: str, value: list, possible: list) -> dict[str, Any]:
    # Iterating each candidate (as the reference indexes it) turns the optional marker "" into [].
    candidates = [[_standardize(item) for item in candidate] for candidate in possible]
    if [_standardize(item) for item in value] not in candidates:
        return _fail("value_error:list/tuple", f"Invalid value for parameter {param!r}: {value!r}. "
                     f"Expected one of {possible}.")
    return dict(_VALID)


def dict_checker(param: str, value: dict, possible: list) -> dict[str, Any]:
    """Flat dicts only, as the reference: every key expected, every value one of its options."""
    result = _fail("dict_checker:unclear")
    for candidate in possible:
        if candidate == "":
            continue
        result = _fail("dict_checker:unclear")
        for key, item in value.items():
            if key not in candidate:
                result = _fail("value_error:dict_key", f"Unexpected dict key parameter: '{key}'.")
                break
            options = [_standardize(o) for o in candidate[key]]
            if _standardize(item) not in options:
                result = _fail("value_error:dict_value", f"Invalid value for parameter {key!r}: "
                               f"{item!r}. Expected one of {options}.")
                break
        # The missing-key check runs even after a bad value, and its error type then wins.
        missing = [k for k, options in candidate.items() if k not in value and "" not in options]
        if missing:
            result["error"].append(f"Missing dict key parameter: '{missing[0]}'.")
            result["error_type"] = "value_error:dict_key"
        elif result["error_type"] == "dict_checker:unclear":
            return dict(_VALID)
    return result


def list_dict_checker(param: str, value: list, possible: list) -> dict[str, Any]:
    """A list of dicts, each checked against the dict at the same position of a candidate."""
    result = _fail("list_dict_checker:unclear")
    for candidate in possible:
        if len(value) != len(candidate):
            result = _fail("value_error:list_dict_count", "Wrong number of dictionaries in the list.")
            continue
        for item, expected in zip(value, candidate, strict=True):
            result = dict_checker(param, item, [expected])
            if not result["valid"]:
                break
        else:
            return dict(_VALID)
    return result


def _answer_type(possible: list) -> type | None:
    return next((type(p) for p in possible if p != ""), None)


def type_checker(param: str, value: Any, possible: list, expected_name: str,
                 expected: type, nested: type | None) -> dict[str, Any]:
    """The reference's type check, with `is_variable`: when the possible answers are of another
    type than the doc's (a variable name given as a string), that type is accepted instead."""
    result = {"valid": True, "error": [], "is_variable": False, "error_type": "type_error:simple"}
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    if type(value) is expected:  # exact types, as the reference: True is no int
        if nested is None:
            return {**result, "is_variable": is_variable}
        for candidate in possible:  # one candidate whose items all have the nested type suffices
            if type(candidate) is list and any(
                not type_checker(param, item, candidate, str(nested), nested, None)["valid"] for item in value
            ):
                continue
            return {"valid": True, "error": [], "is_variable": is_variable, "error_type": "type_error:simple"}
        result = {"valid": False, "is_variable": False, "error_type": "type_error:nested", "error": [
            f"Nested type checking failed for parameter {param!r}. Expected outer type "
            f"{expected_name} with inner type {nested}. Parameter value: {value!r}."]}
    # Falls through after a failed nested check, as the reference does: a value of the answers'
    # type keeps that failure (marked a variable), anything else becomes a simple type error.
    if answer_type is not None and type(value) is answer_type:
        return {**result, "is_variable": True}
    result["valid"] = False
    result["error"] = result["error"] + [f"Incorrect type for parameter {param!r}. Expected type "
                                         f"{expected_name}, got {type(value).__name__}. Parameter value: {value!r}."]
    result["error_type"] = "type_error:simple"
    return result


# -- calls ------------------------------------------------------------------------------------


def _expected_name(name: str, underscore_to_dot: bool) -> str:
    # Function-calling APIs forbid "." in names, so BFCL sends "math.hypot" as "math_hypot" and
    # expects that spelling back from such models.
    return re.sub(r"\.", "_", name) if underscore_to_dot and "." in name else name


def simple_function_checker(func_description: dict, model_output: dict, possible_answer: dict,
                            underscore_to_dot: bool = False) -> dict[str, Any]:
    """One call, {name: {arg: value}}, against one expected call {name: {arg: [options]}}."""
    possible = list(possible_answer.values())[0]
    name = _expected_name(func_description["name"], underscore_to_dot)
    details = func_description["parameters"]["properties"]
    if name not in model_output:
        return _fail("simple_function_checker:wrong_func_name", f"Function name {name!r} not found in model output.")
    arguments = model_output[name]
    for param in func_description["parameters"].get("required", []):
        if param not in arguments:
            return _fail("simple_function_checker:missing_required", f"Missing required parameter: {param!r}.")
    for param, value in arguments.items():
        if param not in details or param not in possible:
            return _fail("simple_function_checker:unexpected_param", f"Unexpected parameter: {param!r}.")
        type_name = details[param]["type"]
        if type_name not in PYTHON_TYPES:
            raise ValueError(f"{func_description['name']}.{param}: type {type_name!r} is not a BFCL Python type")
        expected = PYTHON_TYPES[type_name]
        nested = PYTHON_TYPES.get(details[param].get("items", {}).get("type")) if type_name in _NESTED else None
        if type_name == "tuple" and type(value) is tuple:
            value = list(value)  # answers went through JSON, where tuples become lists
        if type_name == "float" and type(value) is int:
            value = float(value)  # Python would convert it: 5 is a fine float
        checked = type_checker(param, value, possible[param], type_name, expected, nested)
        if not checked["valid"]:
            return {k: checked[k] for k in ("valid", "error", "error_type")}
        if not checked["is_variable"]:
            if expected is dict:
                sub = dict_checker(param, value, possible[param])
            elif expected is list and nested is dict:
                sub = list_dict_checker(param, value, possible[param])
            elif expected is str:
                sub = string_checker(param, value, possible[param])
            elif expected is list:
                sub = list_checker(param, value, possible[param])
            else:
                sub = None
            if sub is not None:
                if not sub["valid"]:
                    return sub
                continue
        if value not in possible[param]:
            return _fail("value_error:others", f"Invalid value for parameter {param!r}: {value!r}. "
                         f"Expected one of {possible[param]}.")
    for param, options in possible.items():
        if param not in arguments and "" not in options:
            return _fail("simple_function_checker:missing_optional",
                         f"Optional parameter {param!r} not provided and not marked as optional.")
    return dict(_VALID)


def _description(func_descriptions: list[dict] | dict, name: str) -> dict:
    if isinstance(func_descriptions, dict):
        return func_descriptions
    for doc in func_descriptions:
        if doc["name"] == name:
            return doc
    raise ValueError(f"no function named {name!r} among the entry's functions")


def parallel_function_checker_no_order(func_descriptions: list[dict], model_output: list[dict],
                                       possible_answers: list[dict], underscore_to_dot: bool = False) -> dict[str, Any]:
    if len(model_output) != len(possible_answers):
        return _fail("parallel_function_checker_no_order:wrong_count", "Wrong number of functions.")
    used: list[int] = []
    for i, answer in enumerate(possible_answers):
        doc = _description(func_descriptions, next(iter(answer)))
        errors: list[Any] = []
        for index, call in enumerate(model_output):
            if index in used:
                continue
            result = simple_function_checker(doc, call, answer, underscore_to_dot)
            if result["valid"]:
                used.append(index)  # greedy: the first passing call is taken for good
                break
            errors.append({f"Model Result Index {index}": {
                "sub_error": result["error"], "sub_error_type": result["error_type"],
                "model_output_item": call, "possible_answer_item": answer}})
        else:
            left = [j for j in range(len(model_output)) if j not in used]
            return _fail("parallel_function_checker_no_order:cannot_find_match",
                         f"Could not find a matching function among index {left} of model output "
                         f"for index {i} of possible answers.", *errors)
    return dict(_VALID)


def multiple_function_checker(func_descriptions: list[dict], model_output: list[dict],
                              possible_answers: list[dict], underscore_to_dot: bool = False) -> dict[str, Any]:
    if len(model_output) != len(possible_answers):
        return _fail("multiple_function_checker:wrong_count", "Wrong number of functions.")
    doc = _description(func_descriptions, next(iter(possible_answers[0])))
    return simple_function_checker(doc, model_output[0], possible_answers[0], underscore_to_dot)


def is_function_calling_format(output: Any) -> bool:
    """A list of {name: {arguments}} with one key each, as BFCL's decoders return."""
    return isinstance(output, list) and all(
        type(item) is dict and len(item) == 1 and type(next(iter(item.values()))) is dict for item in output
    )


def is_empty_output(output: Any) -> bool:
    return not is_function_calling_format(output) or not output or (len(output) == 1 and not output[0])


def ast_checker(func_description: list[dict], model_output: Any, possible_answer: list[dict] | None,
                test_category: str, *, underscore_to_dot: bool = False) -> dict[str, Any]:
    """BFCL's verdict on `model_output` ([{name: {arg: value}}]) for one Python entry.

    test_category: the entry's category (e.g. "simple_python", "parallel_multiple",
    "live_multiple", "irrelevance"); which checker runs depends on the words in it, as in BFCL.
    underscore_to_dot: the model was shown "a.b" as "a_b" (see `tools_for`).
    """
    if "irrelevance" in test_category:
        if is_empty_output(model_output):
            return dict(_VALID)
        return _fail("irrelevance_error:decoder_success", "Valid syntax. Successfully decode AST when it should not.")
    if "relevance" in test_category:
        if not is_empty_output(model_output):
            return dict(_VALID)
        return _fail("relevance_error:decoder_failed", "Invalid syntax. Failed to decode AST when it should have.")
    if any(word in test_category for word in ("java", "multi_turn", "agentic", "memory", "web_search")):
        raise ValueError(f"category {test_category!r} is not a Python single-turn AST category")
    if not is_function_calling_format(model_output):
        return _fail("ast_decoder:decoder_wrong_output_format", "Did not output in the specified format.")
    if "parallel" in test_category:
        return parallel_function_checker_no_order(func_description, model_output, possible_answer, underscore_to_dot)
    if "multiple" in test_category:
        return multiple_function_checker(func_description, model_output, possible_answer, underscore_to_dot)
    if len(model_output) != 1:
        return _fail("simple_function_checker:wrong_count", "Wrong number of functions.")
    return simple_function_checker(func_description[0], model_output[0], possible_answer[0], underscore_to_dot)


# -- data and models ----------------------------------------------------------------------------


def to_bfcl_output(calls: Iterable[ToolCall]) -> list[dict[str, dict[str, Any]]]:
    """Our parsed calls in BFCL's model-output shape."""
    return [{call.name: dict(call.arguments)} for call in calls]


def category_of(entry_id: str) -> str:
    """"simple_python_12" -> "simple_python", "live_multiple_3-1-0" -> "live_multiple"."""
    return entry_id.rsplit("_", 1)[0]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_entries(path: str | Path, answers: str | Path | None = None) -> list[dict[str, Any]]:
    """Python single-turn entries of one BFCL question file, each with its `ground_truth` and
    `category`. Answers default to `possible_answer/<file name>` beside the questions; Java,
    JavaScript and multi-turn entries are left out (this checker is for Python)."""
    path = Path(path)
    answers = Path(answers) if answers else path.parent / "possible_answer" / path.name
    truth = {a["id"]: a["ground_truth"] for a in _lines(answers)} if answers.exists() else {}
    entries = []
    for entry in _lines(path):
        category = category_of(entry["id"])
        if any(word in category for word in ("java", "multi_turn", "agentic", "memory", "web_search", "format")):
            continue
        if "relevance" not in category and entry["id"] not in truth:
            raise ValueError(f"{entry['id']} has no ground truth in {answers}")
        entries.append({**entry, "category": category, "ground_truth": truth.get(entry["id"])})
    return entries


def _openapi(properties: dict[str, Any]) -> dict[str, Any]:
    for spec in properties.values():
        spec["type"] = OPENAPI_TYPES.get(spec.get("type", "string"), "string")
        if "properties" in spec:
            _openapi(spec["properties"])
        items = spec.get("items")
        if isinstance(items, dict) and "type" in items:
            _openapi({"items": items})
    return properties


def tools_for(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL function docs as OpenAI-style tool schemas, prepared as BFCL does for function-calling
    models: the Python hint appended, "." in names replaced by "_" (so score with
    `underscore_to_dot=True`), its types mapped to JSON Schema's."""
    tools = []
    for doc in copy.deepcopy(functions):
        doc["name"] = doc["name"].replace(".", "_")
        doc["description"] = doc.get("description", "") + PYTHON_HINT
        doc["parameters"]["type"] = "object"
        _openapi(doc["parameters"].get("properties", {}))
        tools.append({"type": "function", "function": doc})
    return tools


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy per category, and `overall`: their unweighted mean (BFCL averages categories)."""
    by_category: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_category[r["category"]].append(r["valid"])
    categories = {c: round(sum(v) / len(v), 4) for c, v in sorted(by_category.items())}
    errors: dict[str, int] = defaultdict(int)
    for r in rows:
        if not r["valid"]:
            errors[r["error_type"]] += 1
    return {
        "entries": len(rows),
        "accuracy": round(sum(r["valid"] for r in rows) / len(rows), 4) if rows else None,
        "overall": round(sum(categories.values()) / len(categories), 4) if categories else None,
        "categories": categories,
        "error_types": dict(sorted(errors.items())),
    }
