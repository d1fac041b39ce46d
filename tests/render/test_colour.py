"""The one colour pipeline (resnet_viz.render.colour): heat, colour scales, overlays, field boxes, zoom, PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from resnet_viz.errors import InputError
from resnet_viz.render.colour import (
    COLORMAPS,
    colorize,
    display_scale,
    heatmap,
    lut,
    mark_unit,
    overlay,
    png_bytes,
    raw_picture,
    scale_to_peak,
    zoom,
)

# ---------------------------------------------------------------- heat


def test_heatmap_signs_and_range():
    values = np.zeros((3, 2, 2), np.float32)
    values[0, 0, 0] = 2.0
    values[1, 1, 1] = -4.0
    pos = heatmap(values, sign="positive")
    neg = heatmap(values, sign="negative")
    absolute = heatmap(values, sign="absolute", percentile=100)
    assert pos[0, 0] == 1.0 and pos[1, 1] == 0.0
    assert neg[1, 1] == 1.0 and neg[0, 0] == 0.0
    assert absolute[1, 1] == 1.0 and absolute[0, 0] == pytest.approx(0.5)
    assert not heatmap(np.zeros((3, 2, 2))).any()
    with pytest.raises(ValueError):
        heatmap(values, sign="both")


def test_scale_to_peak_divides_by_the_maximum_and_leaves_zeros_for_no_peak():
    out = scale_to_peak(np.array([[1.0, 4.0], [2.0, -2.0]]))
    assert out.dtype == np.float32 and out.tolist() == [[0.25, 1.0], [0.5, 0.0]]
    assert not scale_to_peak(np.array([[0.0, -1.0]])).any() and scale_to_peak(np.zeros((0,))).size == 0


# ---------------------------------------------------------------- colours


def test_overlay_blends_and_png_round_trips():
    image = np.full((8, 6, 3), 100, np.uint8)
    heat = np.linspace(0, 1, 48, dtype=np.float32).reshape(8, 6)
    np.testing.assert_array_equal(overlay(image, heat, alpha=0.0), image)
    np.testing.assert_array_equal(overlay(image, heat, alpha=1.0, cmap="Jet"), colorize(heat, cmap="Jet"))
    half = overlay(Image.fromarray(image), heat, alpha=0.5, cmap="Viridis")
    assert half.dtype == np.uint8 and half.shape == (8, 6, 3)
    small = overlay(image, np.ones((2, 2), np.float32), alpha=0.5)  # a low-resolution map is resized
    assert small.shape == (8, 6, 3)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(half))).convert("RGB"))
    np.testing.assert_array_equal(decoded, half)
    with pytest.raises(InputError):
        overlay(image, heat, alpha=1.5)


def test_colour_maps_run_from_cold_to_hot():
    ends = colorize(np.array([[0.0, 1.0]]), cmap="Jet")[0]
    assert ends[0, 2] > ends[0, 0] and ends[1, 0] > ends[1, 2]  # blue at 0, red at 1
    for name in COLORMAPS:
        table = colorize(np.linspace(0, 1, 256)[None], cmap=name)
        assert table.shape == (1, 256, 3) and table.dtype == np.uint8
    raw = raw_picture(np.array([[0.0, 2.0], [1.0, -1.0]]), scale=3)
    assert raw.shape == (6, 6, 3)


def test_colours_are_those_of_the_plotly_scales():
    """The same numbers before and after the two pipelines became one (Grad-CAM's Jet, the feature maps' Viridis)."""
    assert colorize(np.array([[0.0, 0.5, 1.0]]), cmap="Jet").tolist() == [[[0, 0, 131], [132, 255, 125], [128, 0, 0]]]
    assert colorize(np.array([[0.0, 0.5, 1.0]]), cmap="Viridis").tolist() == [[[68, 1, 84], [34, 144, 139],
                                                                               [253, 231, 37]]]
    assert lut("Hot")[[0, -1]].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_colorize_takes_the_nearest_of_the_256_colours_over_any_range():
    table = lut("Viridis")
    just_below = np.array([[(128 - 0.01) / 255, (128 + 0.4) / 255, (128 + 0.6) / 255]], np.float32)
    assert colorize(just_below).tolist() == [table[[128, 128, 129]].tolist()]
    values = np.linspace(-3.0, 5.0, 256, dtype=np.float32)[None]
    np.testing.assert_array_equal(colorize(values, -3.0, 5.0, cmap="Viridis")[0], table)
    outside = colorize(np.array([[-10.0, 10.0, np.nan]]), -3.0, 5.0, nan_colour=(1, 2, 3))[0]
    assert outside.tolist() == [table[0].tolist(), table[-1].tolist(), [1, 2, 3]]
    assert colorize(np.zeros((2, 3)), scale=4).shape == (8, 12, 3)


def test_lut_is_shared_read_only_and_refuses_unknown_names():
    assert lut("RdBu_r") is lut("RdBu_r") and lut("RdBu_r").shape == (256, 3)  # diverging scales work too
    with pytest.raises(ValueError):
        lut("Viridis")[0] = 0
    with pytest.raises(ValueError, match="NoSuchScale"):
        colorize(np.zeros((2, 2)), cmap="NoSuchScale")


def test_overlay_takes_the_colour_range_of_the_map():
    image = np.zeros((4, 4, 3), np.uint8)
    heat = np.array([[-2.0, 0.0], [1.0, 2.0]], np.float32)
    same = overlay(image, np.repeat(np.repeat(heat, 2, 0), 2, 1), -2.0, 2.0, alpha=1.0, cmap="Hot")
    np.testing.assert_array_equal(same, colorize(np.repeat(np.repeat(heat, 2, 0), 2, 1), -2.0, 2.0, cmap="Hot"))
    assert tuple(same[0, 0]) == (0, 0, 0) and tuple(same[3, 3]) == (255, 255, 255)


# ---------------------------------------------------------------- receptive fields on the input


def test_mark_unit_zooms_small_pictures_without_blur():
    picture = np.zeros((32, 32, 3), np.uint8)
    picture[10, 20] = 255
    out = mark_unit(picture, (0, 0, 2, 2), (1, 1), target=448)
    assert out.shape == (448, 448, 3)
    assert (out[10 * 14:11 * 14, 20 * 14:21 * 14] == 255).all()  # one input pixel -> a sharp 14 x 14 square
    assert tuple(out[0, 20]) == (255, 40, 40)  # the box's top edge
    heat = np.zeros((32, 32), np.float32)
    heat[5, 5] = 1
    coloured = mark_unit(picture, (0, 0, 2, 2), (1, 1), heat=heat, cmap="Hot")
    assert coloured.shape == (448, 448, 3) and coloured[5 * 14 + 7, 5 * 14 + 7].sum() > coloured[300, 300].sum()
    blended = mark_unit(picture, (0, 0, 2, 2), (1, 1), heat=np.ones((4, 4)), vmin=0, vmax=1)
    assert blended.shape == (448, 448, 3)


# ---------------------------------------------------------------- size and bytes


def test_png_bytes_for_display_is_small_and_keeps_the_aspect():
    big = Image.new("RGB", (2048, 1024), (200, 10, 10))
    shown = Image.open(io.BytesIO(png_bytes(big, max_side=640)))
    assert shown.format == "PNG" and shown.size == (640, 320) and shown.getpixel((5, 5)) == (200, 10, 10)
    small = Image.new("L", (32, 20), 7)
    assert Image.open(io.BytesIO(png_bytes(small, max_side=640))).size == (32, 20)
    rgba = Image.new("RGBA", (10, 900), (1, 2, 3, 0))
    shown = Image.open(io.BytesIO(png_bytes(rgba, max_side=640)))
    assert shown.mode == "RGB" and shown.size == (7, 640)


def test_zoom_enlarges_by_whole_pixels_without_blur():
    picture = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert display_scale(32, 32, target=96) == 3 and display_scale(500, 300, target=96) == 1
    big = zoom(picture, 3)
    assert big.shape == (6, 9, 3) and (big[3:6, 6:9] == picture[1, 2]).all()
    assert zoom(picture, 1) is picture
