"""The oracle's taps: the fewest decimals that still land on the pixel it aims at (whole numbers
on a phone-sized SimPhone), so a model trained on its calls learns short, regular coordinates."""

from __future__ import annotations

import pytest

from vlagent.bench.baselines import _relative
from vlagent.coords import Screen


@pytest.mark.parametrize("size", [(270, 600), (999, 999), (1080, 2400), (1440, 3200), (3840, 2160)])
def test_every_pixel_comes_back_from_its_coordinates(size):
    screen = Screen(image_size=size, device_size=size)
    for x in range(0, size[0], 7):
        for y in list(range(0, size[1], 97)) + [size[1] - 1]:
            coordinate = _relative((x, y), size)
            assert screen.to_device(tuple(coordinate), "relative-1000") == (x, y)
            assert all(len(repr(c).partition(".")[2]) <= 3 for c in coordinate)


def test_a_small_screen_gets_whole_numbers():
    assert all(isinstance(c, int) for x in range(270) for c in _relative((x, 599 - x), (270, 600)))
    assert _relative((135, 300), (270, 600)) == [502, 501]
