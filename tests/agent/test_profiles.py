import pytest

from vlagent import OpenAIModel, TransformersModel, UserError
from vlagent.profiles import PROFILES, get_profile, profile_for_model_type, profile_for_name


@pytest.mark.parametrize("name,profile", [
    ("Qwen/Qwen2-VL-2B-Instruct", "qwen2-vl"),
    ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl"),
    ("qwen2_5_vl-72b-awq", "qwen2.5-vl"),
    ("/models/qwen2vl-sft", "qwen2-vl"),
    ("my-finetune", "qwen2-vl"),  # says nothing: the default, which --profile overrides
])
def test_a_name_picks_its_family(name, profile):
    assert profile_for_name(name).name == profile
    assert OpenAIModel("http://127.0.0.1:1", name).profile.name == profile
    assert TransformersModel(name).profile.name == profile  # a guess until load() reads config.json


def test_config_model_types_and_overrides():
    assert profile_for_model_type("qwen2_5_vl") is PROFILES["qwen2.5-vl"]
    assert profile_for_model_type("llama") is None
    model = OpenAIModel("http://127.0.0.1:1", "my-finetune", profile="qwen2.5-vl")
    assert model.profile is PROFILES["qwen2.5-vl"] and model.coordinate_system == "smart-resized"
    with pytest.raises(UserError, match="unknown profile 'qwen9'.*qwen2-vl, qwen2.5-vl"):
        get_profile("qwen9")


def test_each_family_has_its_trained_format():
    qwen2, qwen25 = PROFILES["qwen2-vl"], PROFILES["qwen2.5-vl"]
    assert (qwen2.tool_format, qwen2.coordinate_system) == ("qwen", "relative-1000")
    assert (qwen25.tool_format, qwen25.coordinate_system) == ("hermes", "smart-resized")
    assert qwen2.stop == ("✿RESULT✿", "✿RETURN✿")  # Qwen-Agent's FN_STOP_WORDS
