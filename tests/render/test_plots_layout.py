"""What every figure gets to read on a phone's 360 pixels (resnet_viz/render/plots/layout.py): titles wrapped to
lines that fit, at the top left; the legend under the plot; the top margin tall enough for the title's lines."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from resnet_viz.render.plots.layout import TITLE_LINE, readable, wrap


def _width(line: str) -> int:
    return sum(2 if "\u4e00" <= ch <= "\u9fff" or ch in "（）：，、" else 1 for ch in line)


@pytest.mark.parametrize("text", [
    "Std of layer responses (after BN, before the addition / ReLU)",
    "各层响应的标准差（BN 之后、相加 / ReLU 之前）",
    "按层的原始顺序（◆：ResNet 块中的第二个 3x3 卷积，它输出 F(x)）",
    "‖F(x)‖ / ‖x‖ for every residual block of resnet20, on this image",
])
def test_wrap_keeps_every_line_within_a_phones_width_and_every_character(text):
    lines = wrap(text).split("<br>")
    assert len(lines) > 1 and all(_width(line) <= TITLE_LINE for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_wrap_breaks_between_words_and_at_chinese_punctuation_never_before_a_closing_mark():
    assert wrap("one two three four", 9) == "one two<br>three<br>four"
    gain = "每个块的因子 ‖∂L/∂x_in‖ / ‖∂L/∂x_out‖"
    assert wrap(gain + "（对数刻度）") == gain + "<br>（对数刻度）"  # before the bracket, not inside it
    lines = wrap("甲乙丙丁，戊己庚辛（壬癸）子丑寅卯", 8).split("<br>")
    assert not any(line.startswith(("，", "）", "、")) for line in lines)
    assert wrap("short") == "short" and wrap("a<br>b c") == "a<br>b c"  # breaks already there stay
    assert wrap("x" * 50, 20).split("<br>") == ["x" * 20, "x" * 20, "x" * 10]  # a word longer than a line is cut


def test_readable_sets_the_title_left_legend_below_and_room_for_subplot_titles():
    fig = make_subplots(rows=2, cols=1, subplot_titles=("A first panel with a rather long title to be wrapped", "b"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="one"), row=1, col=1)
    fig.update_layout(title="A figure title much longer than what a phone shows on one single line",
                      margin=dict(t=20), xaxis_title="an axis")
    given = fig
    fig = readable(given)
    assert "<br>" not in given.layout.title.text  # a copy: the figure given is as it was
    title = fig.layout.title
    assert title.text.count("<br>") == 1 and (title.x, title.xanchor, title.yref) == (0, "left", "container")
    assert fig.layout.margin.t >= 2 * 20 + 2 * 17  # two title lines, then the first subplot title's two lines
    assert fig.layout.annotations[0].text.count("<br>") == 1
    assert (fig.layout.legend.orientation, fig.layout.legend.yref, fig.layout.legend.y) == ("h", "container", 0)
    titles = ("a panel's title that takes two lines", "b", "c")
    subplots = readable(make_subplots(rows=1, cols=3, subplot_titles=titles))
    assert subplots.layout.margin.t >= 2 * 17  # no figure title: room for the subplot titles alone
