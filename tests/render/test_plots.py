"""The Plotly figures of the feature-map, attribution and input views: built from plain data, checked as data."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from resnet_viz.checkpoints.read import load_random
from resnet_viz.i18n import t
from resnet_viz.images import preprocess
from resnet_viz.predictions import Prediction
from resnet_viz.render.plots.attribution import EXPLAINED, OTHER, percent, predictions_figure
from resnet_viz.render.plots.feature_maps import (
    ANATOMY_PARTS,
    HIGHLIGHT,
    NORMAL,
    anatomy_figure,
    channel_figure,
    compare_figure,
    ratio_figure,
)
from resnet_viz.render.plots.images import tensor_figure
from resnet_viz.render.plots.layout import TITLE_LINE, wrap


def test_channel_figure_shows_the_map_on_the_layers_scale():
    fmap = np.arange(12, dtype=np.float32).reshape(3, 4)
    fig = channel_figure(fmap, -1.0, 20.0, layer="stage2_1", channel=5, lang="en")
    (trace,) = fig.data
    assert np.array_equal(np.asarray(trace.z), fmap) and (trace.zmin, trace.zmax) == (-1.0, 20.0)
    assert fig.layout.title.text == wrap(t("feature_maps.channel_title", "en", channel=5, layer="stage2_1"))
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top, as in the picture


def test_anatomy_figure_puts_four_panels_on_one_symmetric_scale():
    rng = np.random.default_rng(0)
    panels = {p: rng.normal(size=(4, 4)).astype(np.float32) for p in ANATOMY_PARTS}
    panels["sum"][0, 0] = -9.0  # the largest magnitude sets both ends
    fig = anatomy_figure(panels, lang="zh")
    assert len(fig.data) == 4
    assert all((tr.zmin, tr.zmax) == (-9.0, 9.0) for tr in fig.data)
    assert [tr.showscale for tr in fig.data] == [False, False, False, True]
    assert [a.text for a in fig.layout.annotations] == [wrap(t(f"feature_maps.panel_{p}", "zh"), TITLE_LINE // 2)
                                                        for p in ANATOMY_PARTS]  # two by two
    for i, part in enumerate(ANATOMY_PARTS):
        assert np.array_equal(np.asarray(fig.data[i].z), panels[part])


def test_ratio_figure_highlights_the_chosen_block():
    data = [("stage1_1", 0.5), ("stage2_1", 1.2), ("stage3_1", 0.8)]
    fig = ratio_figure(data, block="stage2_1", model="resnet20", lang="en")
    bar, one = fig.data
    assert list(bar.x) == ["stage1_1", "stage2_1", "stage3_1"] and list(bar.y) == [0.5, 1.2, 0.8]
    assert list(bar.marker.color) == [NORMAL, HIGHLIGHT, NORMAL]
    assert [s.y0 for s in fig.layout.shapes] == [1.0]  # the line where F(x) is as large as x
    assert fig.layout.title.text == wrap(t("feature_maps.ratio_chart", "en", model="resnet20"))
    # the line is named in the legend under the plot, not by a label drawn over the first bar
    assert not fig.layout.annotations and one.name == t("feature_maps.ratio_one", "en") and one.showlegend
    assert (fig.layout.legend.yref, fig.layout.legend.y) == ("container", 0)


def test_compare_figure_has_one_line_per_net_by_block_index():
    stds = {"plain20": [("stage1_1", 1.0), ("stage1_2", 2.0)], "resnet20": [("stage1_1", 0.5), ("stage1_2", 0.7)]}
    fig = compare_figure(stds, lang="en")
    assert [tr.name for tr in fig.data] == ["plain20", "resnet20"]
    assert all(list(tr.x) == [1, 2] and list(tr.text) == ["stage1_1", "stage1_2"] for tr in fig.data)
    assert list(fig.data[1].y) == [0.5, 0.7]


@pytest.mark.parametrize("p,text", [(0.0, "0.0%"), (0.0004, "< 0.1%"), (0.0006, "0.1%"), (0.5, "50.0%"),
                                    (1.0, "100.0%")])
def test_percent_never_rounds_a_chance_to_zero(p, text):
    assert percent(p) == text


def test_predictions_figure_draws_the_most_probable_on_top_and_the_explained_in_red():
    top = [Prediction(3, "cat", 0.7), Prediction(5, "dog", 0.2), Prediction(1, "automobile", 0.0001)]
    fig = predictions_figure(top, target=5, lang="en")
    (bar,) = fig.data
    assert list(bar.y) == ["automobile (1)", "dog (5)", "cat (3)"]  # plotly draws the last bar on top
    assert list(bar.x) == [0.0001, 0.2, 0.7] and list(bar.text) == ["< 0.1%", "20.0%", "70.0%"]
    assert list(bar.marker.color) == [OTHER, EXPLAINED, OTHER]
    assert tuple(fig.layout.xaxis.range) == (0, 1)


def test_tensor_figure_shows_each_normalised_channel_on_one_scale():
    loaded = load_random("resnet20")
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    pre = preprocess(image, loaded)
    fig = tensor_figure(pre, lang="en")
    x = pre.tensor[0].numpy()
    bound = float(np.abs(x).max())
    assert len(fig.data) == 3 and all(tr.zmin == -bound and tr.zmax == bound for tr in fig.data)
    assert np.allclose(np.asarray(fig.data[2].z), x[2])
    lo, hi = pre.channel_ranges()[0]
    assert fig.layout.annotations[0].text == wrap(t("images.channel_range", "en", channel="R", low=f"{lo:.2f}",
                                                    high=f"{hi:.2f}"), TITLE_LINE // 3)  # three side by side
