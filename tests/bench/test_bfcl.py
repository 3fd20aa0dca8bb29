"""BFCL's AST checker: hand-worked verdicts on the edge cases its leaderboard scores depend on.

The expectations follow bfcl_eval/eval_checker/ast_eval/ast_checker.py (ShishirPatil/gorilla);
they were also confirmed by running that file on the same inputs.
"""

import json

import pytest
from vlagent import ToolCall
from vlagent.bench import bfcl
from vlagent.bench.bfcl import ast_checker, standardize_string


def doc(name, properties, required=()):
    return {"name": name, "description": "d", "parameters": {
        "type": "dict", "properties": properties, "required": list(required)}}


def verdict(result):
    return result["valid"], result["error_type"]


OK = (True, "")

WEATHER = doc("get_weather", {
    "city": {"type": "string", "description": "c"},
    "days": {"type": "integer", "description": "d"},
    "temperature": {"type": "float", "description": "t"},
    "metric": {"type": "boolean", "description": "m"},
    "tags": {"type": "array", "items": {"type": "string"}, "description": "t"},
    "scores": {"type": "array", "items": {"type": "float"}, "description": "s"},
    "options": {"type": "dict", "description": "o", "properties": {}},
}, required=["city"])


def simple(arguments, answer, functions=(WEATHER,), name="get_weather"):
    return verdict(ast_checker(list(functions), [{name: arguments}], [{"get_weather": answer}], "simple_python"))


# -- strings ----------------------------------------------------------------------------------


def test_standardize_string_removes_spaces_and_listed_punctuation_and_lowers():
    assert standardize_string("April 1, 2024") == standardize_string("april 1 2024") == "april12024"
    assert standardize_string("New-York_City./*^") == "newyorkcity"
    assert standardize_string("O'Hare") == 'o"hare'  # single quotes become double quotes
    assert standardize_string("Paris!") == "paris!"  # ! is not in the list


@pytest.mark.parametrize("city,expected", [
    ("San Francisco", OK), ("san francisco", OK), ("SanFrancisco", OK), ("San-Francisco.", OK),
    ("San Francisco!", (False, "value_error:string")), ("Los Angeles", (False, "value_error:string")),
])
def test_string_values_compare_after_standardisation(city, expected):
    assert simple({"city": city}, {"city": ["San Francisco"]}) == expected


# -- types ------------------------------------------------------------------------------------


def test_an_int_is_accepted_for_a_float_but_not_the_other_way():
    answer = {"city": ["Paris"], "temperature": [20.0], "days": [3]}
    assert simple({"city": "Paris", "temperature": 20, "days": 3}, answer) == OK
    assert simple({"city": "Paris", "temperature": 20.0, "days": 3.0}, answer) == (False, "type_error:simple")
    assert simple({"city": "Paris", "temperature": 20.5, "days": 3}, answer) == (False, "value_error:others")


def test_a_bool_is_not_an_integer_and_an_int_is_not_a_bool():
    answer = {"city": ["Paris"], "days": [1], "metric": [True]}
    assert simple({"city": "Paris", "days": True, "metric": True}, answer) == (False, "type_error:simple")
    assert simple({"city": "Paris", "days": 1, "metric": 1}, answer) == (False, "type_error:simple")
    assert simple({"city": "Paris", "days": 1, "metric": True}, answer) == OK


def test_int_for_float_holds_only_at_the_top_level():
    answer = {"city": ["Paris"], "scores": [[1.0, 2.0]]}
    assert simple({"city": "Paris", "scores": [1.0, 2.0]}, answer) == OK
    assert simple({"city": "Paris", "scores": [1, 2.0]}, answer) == (False, "type_error:nested")


def test_lists_standardise_their_strings_and_keep_order():
    answer = {"city": ["Paris"], "tags": [["Sunny Day", "wind"]]}
    assert simple({"city": "Paris", "tags": ["sunny day", "WIND"]}, answer) == OK
    assert simple({"city": "Paris", "tags": ["wind", "sunny day"]}, answer) == (False, "value_error:list/tuple")
    assert simple({"city": "Paris", "tags": "wind"}, answer) == (False, "type_error:simple")


def test_dict_values_and_keys():
    answer = {"city": ["Paris"], "options": [{"unit": ["Celsius"], "lang": ["fr", ""]}]}
    assert simple({"city": "Paris", "options": {"unit": "celsius"}}, answer) == OK  # lang optional
    assert simple({"city": "Paris", "options": {"unit": "kelvin"}}, answer) == (False, "value_error:dict_value")
    assert simple({"city": "Paris", "options": {"unit": "celsius", "x": 1}}, answer) == (False, "value_error:dict_key")
    assert simple({"city": "Paris", "options": {"lang": "fr"}}, answer) == (False, "value_error:dict_key")
    # A bad value *and* a missing key: the missing-key check runs last and its type is reported.
    assert simple({"city": "Paris", "options": {"lang": "de"}}, answer) == (False, "value_error:dict_key")


# -- parameters -------------------------------------------------------------------------------


def test_optional_parameters():
    answer = {"city": ["Paris"], "days": [3, ""], "metric": [True]}
    assert simple({"city": "Paris", "metric": True}, answer) == OK  # "" marks days optional
    assert simple({"city": "Paris", "days": 3, "metric": True}, answer) == OK
    # metric has no "": leaving it out fails even though the doc does not require it.
    assert simple({"city": "Paris", "days": 3}, answer) == (False, "simple_function_checker:missing_optional")
    assert simple({"days": 3, "metric": True}, answer) == (False, "simple_function_checker:missing_required")
    assert simple({"city": "Paris", "metric": True, "temperature": 1.0}, answer) == (
        False, "simple_function_checker:unexpected_param")  # in the doc but not in the answer


def test_function_name_and_the_dot_underscore_convention():
    hypot = doc("math.hypot", {"x": {"type": "integer", "description": ""}}, ["x"])
    answer = [{"math.hypot": {"x": [4]}}]
    assert verdict(ast_checker([hypot], [{"math.hypot": {"x": 4}}], answer, "simple_python")) == OK
    assert verdict(ast_checker([hypot], [{"math_hypot": {"x": 4}}], answer, "simple_python")) == (
        False, "simple_function_checker:wrong_func_name")
    assert verdict(ast_checker([hypot], [{"math_hypot": {"x": 4}}], answer, "simple_python", underscore_to_dot=True)) == OK


def test_wrong_count():
    answer = [{"get_weather": {"city": ["Paris"]}}]
    two = [{"get_weather": {"city": "Paris"}}] * 2
    assert verdict(ast_checker([WEATHER], two, answer, "simple_python")) == (False, "simple_function_checker:wrong_count")
    assert verdict(ast_checker([WEATHER], [], answer, "simple_python")) == (False, "simple_function_checker:wrong_count")
    assert verdict(ast_checker([WEATHER], two, answer, "parallel")) == (False, "parallel_function_checker_no_order:wrong_count")
    assert verdict(ast_checker([WEATHER], two, answer, "multiple")) == (False, "multiple_function_checker:wrong_count")


# -- parallel: any order, matched greedily --------------------------------------------------------

SQUARE = doc("square", {"x": {"type": "integer", "description": ""}}, ["x"])


def test_parallel_calls_match_in_any_order():
    answers = [{"get_weather": {"city": ["Paris"]}}, {"get_weather": {"city": ["Rome"]}}]
    calls = [{"get_weather": {"city": "rome"}}, {"get_weather": {"city": "Paris"}}]
    assert verdict(ast_checker([WEATHER], calls, answers, "parallel")) == OK
    wrong = [{"get_weather": {"city": "Rome"}}, {"get_weather": {"city": "Rome"}}]
    result = ast_checker([WEATHER], wrong, answers, "parallel")
    assert verdict(result) == (False, "parallel_function_checker_no_order:cannot_find_match")
    assert result["error"][0].startswith("Could not find a matching function among index [0, 1]")


def test_parallel_matching_is_greedy_so_call_order_can_decide():
    # Expected: square(x=1 or 2), then square(x=1). The calls square(1), square(2) could be paired
    # up (2 with the first, 1 with the second), but the reference walks the expected calls in order
    # and lets each take the first call that passes: the first takes square(1), and square(2)
    # cannot serve the second. Given the other way round, the same calls pass.
    answers = [{"square": {"x": [1, 2]}}, {"square": {"x": [1]}}]
    one_two = [{"square": {"x": 1}}, {"square": {"x": 2}}]
    assert verdict(ast_checker([SQUARE], one_two, answers, "parallel")) == (
        False, "parallel_function_checker_no_order:cannot_find_match")
    assert verdict(ast_checker([SQUARE], one_two[::-1], answers, "parallel")) == OK
    assert verdict(ast_checker([SQUARE], one_two, answers, "parallel_multiple")) == (
        False, "parallel_function_checker_no_order:cannot_find_match")


def test_parallel_multiple_uses_each_expected_functions_doc():
    answers = [{"square": {"x": [3]}}, {"get_weather": {"city": ["Oslo"]}}]
    calls = [{"get_weather": {"city": "oslo"}}, {"square": {"x": 3}}]
    assert verdict(ast_checker([WEATHER, SQUARE], calls, answers, "parallel_multiple")) == OK
    assert verdict(ast_checker([WEATHER, SQUARE], calls, answers, "live_parallel_multiple")) == OK


# -- multiple, irrelevance, format ------------------------------------------------------------


def test_multiple_checks_the_call_against_the_expected_function():
    answers = [{"square": {"x": [3]}}]
    assert verdict(ast_checker([WEATHER, SQUARE], [{"square": {"x": 3}}], answers, "multiple")) == OK
    assert verdict(ast_checker([WEATHER, SQUARE], [{"get_weather": {"city": "Oslo"}}], answers, "live_multiple")) == (
        False, "simple_function_checker:wrong_func_name")


def test_irrelevance_is_valid_iff_no_call_was_made():
    assert verdict(ast_checker([WEATHER], [], None, "irrelevance")) == OK
    assert verdict(ast_checker([WEATHER], [{}], None, "live_irrelevance")) == OK  # BFCL: [{}] is empty too
    assert verdict(ast_checker([WEATHER], [{"get_weather": {"city": "x"}}], None, "irrelevance")) == (
        False, "irrelevance_error:decoder_success")
    assert verdict(ast_checker([WEATHER], [{"get_weather": {"city": "x"}}], None, "live_relevance")) == OK
    assert verdict(ast_checker([WEATHER], [], None, "live_relevance")) == (False, "relevance_error:decoder_failed")


def test_output_that_is_not_a_list_of_calls_is_a_format_error():
    answer = [{"get_weather": {"city": ["Paris"]}}]
    assert verdict(ast_checker([WEATHER], ["get_weather(city='Paris')"], answer, "simple_python")) == (
        False, "ast_decoder:decoder_wrong_output_format")
    with pytest.raises(ValueError):
        ast_checker([WEATHER], [], answer, "simple_java")


# -- data and conversions ---------------------------------------------------------------------

# Lines from ShishirPatil/gorilla berkeley-function-call-leaderboard/bfcl_eval/data
# (BFCL_v4_simple_python.json, BFCL_v4_parallel_multiple.json, BFCL_v4_irrelevance.json and their
# possible_answer files), Apache License 2.0, Copyright the Gorilla authors.
VENDORED_QUESTIONS = """\
{"id": "simple_python_0", "question": [[{"role": "user", "content": "Find the area of a triangle with a base of 10 units and height of 5 units."}]], "function": [{"name": "calculate_triangle_area", "description": "Calculate the area of a triangle given its base and height.", "parameters": {"type": "dict", "properties": {"base": {"type": "integer", "description": "The base of the triangle."}, "height": {"type": "integer", "description": "The height of the triangle."}, "unit": {"type": "string", "description": "The unit of measure (defaults to 'units' if not specified)"}}, "required": ["base", "height"]}}]}
{"id": "parallel_multiple_0", "question": [[{"role": "user", "content": "Find the sum of all the multiples of 3 and 5 between 1 and 1000. Also find the product of the first five prime numbers."}]], "function": [{"name": "math_toolkit.sum_of_multiples", "description": "Find the sum of all multiples of specified numbers within a specified range.", "parameters": {"type": "dict", "properties": {"lower_limit": {"type": "integer", "description": "The start of the range (inclusive)."}, "upper_limit": {"type": "integer", "description": "The end of the range (inclusive)."}, "multiples": {"type": "array", "items": {"type": "integer"}, "description": "The numbers to find multiples of."}}, "required": ["lower_limit", "upper_limit", "multiples"]}}, {"name": "math_toolkit.product_of_primes", "description": "Find the product of the first n prime numbers.", "parameters": {"type": "dict", "properties": {"count": {"type": "integer", "description": "The number of prime numbers to multiply together."}}, "required": ["count"]}}]}
{"id": "irrelevance_0", "question": [[{"role": "user", "content": "Calculate the area of a triangle given the base is 10 meters and height is 5 meters."}]], "function": [{"name": "determine_body_mass_index", "description": "Calculate body mass index given weight and height.", "parameters": {"type": "dict", "properties": {"weight": {"type": "float", "description": "Weight of the individual in kilograms."}, "height": {"type": "float", "description": "Height of the individual in meters."}}, "required": ["weight", "height"]}}]}
"""
VENDORED_ANSWERS = """\
{"id": "simple_python_0", "ground_truth": [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]}
{"id": "parallel_multiple_0", "ground_truth": [{"math_toolkit.sum_of_multiples": {"lower_limit": [1], "upper_limit": [1000], "multiples": [[3, 5]]}}, {"math_toolkit.product_of_primes": {"count": [5]}}]}
"""


@pytest.fixture
def bfcl_file(tmp_path):
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "possible_answer" / "BFCL_v4_mixed.json").write_text(VENDORED_ANSWERS)
    path = tmp_path / "BFCL_v4_mixed.json"
    path.write_text(VENDORED_QUESTIONS)
    return path


def test_load_entries_pairs_questions_with_answers(bfcl_file):
    entries = {e["id"]: e for e in bfcl.load_entries(bfcl_file)}
    assert [entries[i]["category"] for i in entries] == ["simple_python", "parallel_multiple", "irrelevance"]
    assert entries["irrelevance_0"]["ground_truth"] is None
    simple_entry = entries["simple_python_0"]
    output = bfcl.to_bfcl_output([ToolCall("calculate_triangle_area", {"base": 10, "height": 5})])
    assert output == [{"calculate_triangle_area": {"base": 10, "height": 5}}]
    assert ast_checker(simple_entry["function"], output, simple_entry["ground_truth"], "simple_python")["valid"]


def test_vendored_parallel_multiple_entry(bfcl_file):
    entry = {e["id"]: e for e in bfcl.load_entries(bfcl_file)}["parallel_multiple_0"]
    calls = [ToolCall("math_toolkit_product_of_primes", {"count": 5}),
             ToolCall("math_toolkit_sum_of_multiples", {"lower_limit": 1, "upper_limit": 1000, "multiples": [3, 5]})]
    output = bfcl.to_bfcl_output(calls)
    assert ast_checker(entry["function"], output, entry["ground_truth"], entry["category"], underscore_to_dot=True)["valid"]
    swapped = [{"math_toolkit_sum_of_multiples": {"lower_limit": 1, "upper_limit": 1000, "multiples": [5, 3]}},
               output[0]]
    assert verdict(ast_checker(entry["function"], swapped, entry["ground_truth"], entry["category"], underscore_to_dot=True)) == (
        False, "parallel_function_checker_no_order:cannot_find_match")


def test_missing_answers_file_is_an_error_for_scored_categories(tmp_path):
    path = tmp_path / "BFCL_v4_simple_python.json"
    path.write_text(VENDORED_QUESTIONS.splitlines()[0] + "\n")
    with pytest.raises(ValueError, match="no ground truth"):
        bfcl.load_entries(path)


def test_tools_for_renames_dots_and_maps_types():
    entry = json.loads(VENDORED_QUESTIONS.splitlines()[1])
    tools = bfcl.tools_for(entry["function"])
    fn = tools[0]["function"]
    assert fn["name"] == "math_toolkit_sum_of_multiples"
    assert fn["parameters"]["type"] == "object"
    assert fn["parameters"]["properties"]["multiples"] == {
        "type": "array", "items": {"type": "integer"}, "description": "The numbers to find multiples of."}
    assert fn["description"].endswith("Note that the provided function is in Python 3 syntax.")
    assert entry["function"][0]["name"] == "math_toolkit.sum_of_multiples"  # the entry is untouched
    weights = bfcl.tools_for(json.loads(VENDORED_QUESTIONS.splitlines()[2])["function"])[0]["function"]
    assert weights["parameters"]["properties"]["weight"]["type"] == "number"


def test_summarize_averages_categories():
    rows = [{"category": "simple_python", "valid": True, "error_type": ""},
            {"category": "simple_python", "valid": False, "error_type": "value_error:string"},
            {"category": "irrelevance", "valid": True, "error_type": ""}]
    metrics = bfcl.summarize(rows)
    assert metrics["categories"] == {"irrelevance": 1.0, "simple_python": 0.5}
    assert metrics["overall"] == 0.75 and metrics["accuracy"] == round(2 / 3, 4)
    assert metrics["error_types"] == {"value_error:string": 1}
