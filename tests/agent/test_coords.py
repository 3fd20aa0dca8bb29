import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlagent import ActionOutOfBounds, Screen, smart_resize

qwen_vl_utils = pytest.importorskip("qwen_vl_utils.vision_process")


def test_phone_screenshot_at_default_model_pixels():
    # 1080x2400 at max 1280*28*28 -> 53x24 merged tokens = 1272 image tokens.
    h, w = smart_resize(2400, 1080, max_pixels=1280 * 28 * 28)
    assert (h, w) == (1484, 672)
    assert (h // 28) * (w // 28) == 1272


@settings(max_examples=400, deadline=None)
@given(
    h=st.integers(1, 20000),
    w=st.integers(1, 20000),
    min_tokens=st.integers(1, 64),
    max_tokens=st.integers(64, 20000),
    factor=st.sampled_from([14, 28, 32]),
)
def test_equals_qwen_vl_utils(h, w, min_tokens, max_tokens, factor):
    min_pixels, max_pixels = min_tokens * factor * factor, max_tokens * factor * factor
    try:
        expected = qwen_vl_utils.smart_resize(h, w, factor, min_pixels=min_pixels, max_pixels=max_pixels)
    except ValueError as e:
        with pytest.raises(ValueError, match="aspect ratio"):
            smart_resize(h, w, factor, min_pixels, max_pixels)
        assert "aspect ratio" in str(e)
        return
    assert smart_resize(h, w, factor, min_pixels, max_pixels) == expected


def test_defaults_match_reference_defaults():
    for h, w in [(10, 10), (224, 224), (4000, 3000), (100000, 600)]:
        assert smart_resize(h, w) == qwen_vl_utils.smart_resize(h, w, 28)


def test_aspect_ratio_over_200_raises():
    with pytest.raises(ValueError, match="aspect ratio must be smaller than 200"):
        smart_resize(28, 28 * 201)
    assert smart_resize(28, 28 * 200)  # exactly 200 is allowed


@pytest.mark.parametrize("h,w", [(0, 10), (10, -1)])
def test_nonpositive_sides_raise(h, w):
    with pytest.raises(ValueError, match="positive"):
        smart_resize(h, w)


def test_relative_coordinates_map_to_device_pixels():
    screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400))
    assert screen.to_device((500, 500), "relative-1000") == (540, 1200)
    assert screen.to_device((0, 0), "relative-1000") == (0, 0)
    # The far edge is the last pixel, not one past it.
    assert screen.to_device((1000, 1000), "relative-1000") == (1079, 2399)


def test_qwen25_absolute_coordinates_use_the_resized_image():
    screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(672, 1484))
    # The centre of the image the model saw is the centre of the phone.
    assert screen.to_device((336, 742), "smart-resized") == (540, 1200)
    assert screen.model_extent("smart-resized") == (672, 1484)


def test_hidpi_scale_maps_screenshot_to_pointer_space():
    # A 2x Retina capture of a 1440x900 logical screen.
    screen = Screen(image_size=(2880, 1800), device_size=(1440, 900), model_size=(1288, 812))
    assert screen.scale == (0.5, 0.5)
    assert screen.to_device((500, 500), "relative-1000") == (720, 450)
    assert screen.to_device((644, 406), "smart-resized") == (720, 450)


def test_screenshot_smaller_than_device():
    # Some phones capture at half resolution; taps still go to full-resolution pixels.
    screen = Screen(image_size=(540, 1200), device_size=(1080, 2400))
    assert screen.to_device((250, 750), "relative-1000") == (270, 1800)


@pytest.mark.parametrize("point", [(1001, 10), (-1, 10), (10, 1200), (math.nan, 5)])
def test_off_screen_is_a_model_error_not_a_clamp(point):
    screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400))
    with pytest.raises(ActionOutOfBounds, match="off the screen"):
        screen.to_device(point, "relative-1000")


def test_off_screen_absolute_names_the_valid_range():
    screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(672, 1484))
    with pytest.raises(ActionOutOfBounds, match="0-672"):
        screen.to_device((700, 10), "smart-resized")


def test_unknown_coordinate_system():
    with pytest.raises(ValueError, match="relative-1000"):
        Screen((10, 10), (10, 10)).to_device((1, 1), "pixels")


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(0, 1000), y=st.floats(0, 1000),
    w=st.integers(1, 5000), h=st.integers(1, 5000), scale=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
)
def test_conversion_always_lands_on_the_screen(x, y, w, h, scale):
    screen = Screen(image_size=(w, h), device_size=(max(1, int(w * scale)), max(1, int(h * scale))))
    dx, dy = screen.to_device((x, y), "relative-1000")
    assert 0 <= dx < screen.device_size[0] and 0 <= dy < screen.device_size[1]


def test_box_to_device_orders_corners():
    screen = Screen(image_size=(1000, 1000), device_size=(1000, 1000))
    assert screen.box_to_device((600, 700, 100, 200), "relative-1000") == (100, 200, 600, 700)


def test_from_device_inverts_to_device():
    screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400))
    assert screen.from_device(screen.to_device((250, 750), "relative-1000"), "relative-1000") == (250, 750)
