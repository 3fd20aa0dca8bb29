"""The fast image path equals the processor's own path, pixel for pixel and value for value.

The reference is what transformers' Qwen2-VL processor makes of the *full* screenshot at its
default settings (resize included). Tolerance: atol 1e-6 on normalised values, i.e. exact up to
float32 rounding. One grey level is 1/(255*0.27) ~ 0.0146 after normalisation, so any pixel that
came out of the resize one level off would fail by four orders of magnitude; in practice the
values are bit-identical (the same torchvision kernel, the same float32 ops).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlagent import vision
from vlagent.coords import smart_resize

MIN_PIXELS, MAX_PIXELS = 4 * 28 * 28, 1280 * 28 * 28
ATOL = 1e-6


@pytest.fixture(scope="module")
def processor(tiny_model_path: Path):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_path, local_files_only=True)


@pytest.fixture(scope="module")
def phone_screenshot() -> Image.Image:
    from vlagent.devices.sim import Phone

    return Phone().screenshot()  # 1080x2400, flat UI colours, text, icons


def photo_like(width: int = 1600, height: int = 1200, seed: int = 0) -> Image.Image:
    """Noise over smooth gradients: every resize weight matters, nothing is flat."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // width), (y * 255 // height), ((x + y) * 255 // (width + height))], -1)
    noisy = base + rng.integers(-60, 61, size=base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def reference(processor, image: Image.Image):
    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    return processor.image_processor(images=[image], size=size, return_tensors="pt")


def ours(processor, image: Image.Image):
    settings = vision.processor_settings(processor.image_processor)
    assert settings is not None, "the tiny checkpoint's processor should take the fast path"
    return vision.pixel_values([image], min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, **settings)


@pytest.mark.parametrize("name", ["phone", "photo", "landscape-photo", "small"])
def test_pixel_values_equal_the_processors(processor, phone_screenshot, name: str) -> None:
    image = {
        "phone": phone_screenshot,
        "photo": photo_like(1200, 1600),
        "landscape-photo": photo_like(2400, 1080, seed=1),
        "small": photo_like(100, 60, seed=2),  # upscaled to min_pixels
    }[name]
    ref = reference(processor, image)
    values, grid = ours(processor, image)
    assert grid.tolist() == ref["image_grid_thw"].tolist()
    assert values.shape == ref["pixel_values"].shape and values.dtype == ref["pixel_values"].dtype
    np.testing.assert_allclose(values.numpy(), ref["pixel_values"].numpy(), rtol=0, atol=ATOL)


def test_fit_to_model_then_pixel_values_equals_the_processor_on_the_full_frame(processor, phone_screenshot) -> None:
    """The loop resizes once (fit_to_model); the model then has nothing left to resize, and the
    result still equals the processor fed the full-size frame."""
    fitted = vision.fit_to_model(phone_screenshot, MIN_PIXELS, MAX_PIXELS)
    h, w = smart_resize(2400, 1080, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    assert fitted.size == (w, h) == (672, 1484) and fitted.mode == "RGB"
    ref = reference(processor, phone_screenshot)
    values, _ = ours(processor, fitted)
    np.testing.assert_allclose(values.numpy(), ref["pixel_values"].numpy(), rtol=0, atol=ATOL)
    # and the processor itself, given the fitted frame, agrees (it does not resize it again)
    again = reference(processor, fitted)
    np.testing.assert_allclose(again["pixel_values"].numpy(), ref["pixel_values"].numpy(), rtol=0, atol=ATOL)


def test_fit_to_model_leaves_a_fitted_image_alone() -> None:
    image = photo_like(672, 1484)
    assert vision.fit_to_model(image, MIN_PIXELS, MAX_PIXELS) is image


def test_transparency_is_composited_onto_white_like_the_processor(processor) -> None:
    rgba = photo_like(700, 500, seed=3).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    ref = reference(processor, rgba)
    values, _ = ours(processor, rgba)
    np.testing.assert_allclose(values.numpy(), ref["pixel_values"].numpy(), rtol=0, atol=ATOL)


def test_image_array_is_the_image(phone_screenshot) -> None:
    array = vision.image_array(phone_screenshot)
    assert array.shape == (2400, 1080, 3) and array.dtype == np.uint8
    assert np.array_equal(array, np.asarray(phone_screenshot))


def test_patchify_rejects_sides_that_are_not_multiples_of_28() -> None:
    import torch

    with pytest.raises(ValueError, match="multiple of 28"):
        vision.patchify(torch.zeros(3, 100, 56, dtype=torch.uint8))


def test_processors_the_fast_path_cannot_copy_are_left_to_the_processor(processor) -> None:
    import copy

    odd = copy.deepcopy(processor.image_processor)
    odd.resample = int(Image.Resampling.LANCZOS)
    assert vision.processor_settings(odd) is None
    odd = copy.deepcopy(processor.image_processor)
    odd.do_normalize = False
    assert vision.processor_settings(odd) is None


def test_model_inputs_equal_the_processors(tiny_model_path: Path, phone_screenshot) -> None:
    """TransformersModel's fast inputs (ids widened per image, pixel values, grid, token types)
    equal what the processor returns for the same prompt and images."""
    import torch

    from vlagent.models.transformers_model import TransformersModel

    model = TransformersModel(tiny_model_path, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS).load()
    small = photo_like(560, 280, seed=4)
    messages = [
        {"role": "system", "content": "You drive a phone."},
        {"role": "user", "content": [{"type": "image", "image": small}, {"type": "text", "text": "before"}]},
        {"role": "user", "content": [{"type": "image", "image": phone_screenshot},
                                     {"type": "text", "text": "What next? Zürich → 東京"}]},
    ]
    prompt = model.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images = [small, phone_screenshot]
    fast = model._fast_inputs(prompt, images)
    stock = model._processor_inputs(prompt, images)
    assert fast is not None
    assert set(fast.keys()) == set(stock.keys())
    for key in stock.keys():
        if key == "pixel_values":
            np.testing.assert_allclose(fast[key].numpy(), stock[key].numpy(), rtol=0, atol=ATOL)
        else:
            assert torch.equal(fast[key], stock[key]), key
            assert fast[key].dtype == stock[key].dtype, key


def test_a_placeholder_typed_in_the_text_falls_back_to_the_processor(tiny_model_path: Path) -> None:
    from vlagent.models.transformers_model import TransformersModel

    model = TransformersModel(tiny_model_path).load()
    prompt = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>say <|image_pad|><|im_end|>\n"
    assert model._fast_inputs(prompt, [photo_like(56, 56)]) is None


def test_last_steps_screenshot_is_reused_and_still_equals_the_processor(tiny_model_path: Path, phone_screenshot) -> None:
    """The loop shows last step's (fitted) screenshot again as history: its pixel values are
    reused, not recomputed, and must still be exactly the processor's, even after a forward
    pass (which must not have written into them) and never for an image drawn on since."""
    from PIL import ImageDraw

    from vlagent.models.transformers_model import TransformersModel

    model = TransformersModel(tiny_model_path, max_new_tokens=2).load()
    before = vision.fit_to_model(phone_screenshot, MIN_PIXELS, MAX_PIXELS)
    now = vision.fit_to_model(photo_like(1080, 2400, seed=5), MIN_PIXELS, MAX_PIXELS)
    step = lambda image: [{"role": "user", "content": [{"type": "image", "image": image}]}]  # noqa: E731
    model.generate(step(before))
    calls = []
    real = vision.pixel_values

    def spy(images, **kwargs):
        calls.append([k is not None for k in kwargs["known"]])
        return real(images, **kwargs)

    vision.pixel_values = spy
    try:
        messages = step(before) + [{"role": "assistant", "content": "ok"}] + step(now)
        prompt = model.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        fast = model._fast_inputs(prompt, [before, now])
        assert calls[-1] == [True, False]  # last step's image reused, the new one computed
        stock = model._processor_inputs(prompt, [before, now])
        np.testing.assert_allclose(fast["pixel_values"].numpy(), stock["pixel_values"].numpy(), rtol=0, atol=ATOL)

        ImageDraw.Draw(now).rectangle((0, 0, 300, 300), fill=(255, 0, 0))  # drawn on in place
        fast = model._fast_inputs(prompt, [before, now])
        assert calls[-1] == [True, False]
        stock = model._processor_inputs(prompt, [before, now])
        np.testing.assert_allclose(fast["pixel_values"].numpy(), stock["pixel_values"].numpy(), rtol=0, atol=ATOL)
    finally:
        vision.pixel_values = real


def test_an_image_prepared_ahead_is_not_computed_again_and_equals_the_processor(
        tiny_model_path: Path, phone_screenshot) -> None:
    """The loop hands the next screenshot to `prepare_image` from a worker thread while the
    screen settles; the next call (last call's images but the oldest, then the new one) finds
    its whole batch ready, and the values are the processor's."""
    import threading

    from vlagent.models.transformers_model import TransformersModel

    model = TransformersModel(tiny_model_path, max_new_tokens=2).load()
    old, before = (vision.fit_to_model(photo_like(1080, 2400, seed=s), MIN_PIXELS, MAX_PIXELS) for s in (3, 4))
    now = vision.fit_to_model(phone_screenshot, MIN_PIXELS, MAX_PIXELS)
    shown = lambda *images: [{"role": "user", "content": [{"type": "image", "image": im}]} for im in images]  # noqa: E731
    model.generate(shown(old, before))
    worker = threading.Thread(target=model.prepare_image, args=(now,))
    worker.start()
    worker.join()
    calls = []
    real = vision.pixel_values

    def spy(images, **kwargs):
        calls.append([k is not None for k in kwargs.get("known") or [None] * len(images)])
        return real(images, **kwargs)

    vision.pixel_values = spy
    try:
        prompt = model.processor.apply_chat_template(shown(before, now), tokenize=False, add_generation_prompt=True)
        fast = model._fast_inputs(prompt, [before, now])
        assert calls == []  # the batch was made ahead: nothing computed or copied now
        stock = model._processor_inputs(prompt, [before, now])
        np.testing.assert_allclose(fast["pixel_values"].numpy(), stock["pixel_values"].numpy(), rtol=0, atol=ATOL)
        assert fast["image_grid_thw"].tolist() == stock["image_grid_thw"].tolist()
        other = vision.fit_to_model(photo_like(1080, 2400, seed=9), MIN_PIXELS, MAX_PIXELS)
        prompt = model.processor.apply_chat_template(shown(now, other), tokenize=False, add_generation_prompt=True)
        model._fast_inputs(prompt, [now, other])
        assert calls[-1] == [True, False]  # an image never prepared is computed, a known one reused
    finally:
        vision.pixel_values = real
