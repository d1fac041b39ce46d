"""What makes a figure read on a phone as on a laptop: wrapped titles, legends under the plot.

A page cannot know the screen's width (the server draws the same figure for both), and Plotly wraps no text: a
title wider than a phone's 360 pixels is cut, a legend on the right takes half a phone's width. So every figure's
titles are broken into lines that fit a phone (a laptop shows the same lines), and its legend goes under the plot.
"""

from __future__ import annotations

import re
import unicodedata

import plotly.graph_objects as go

TITLE_LINE = 44  # width of a title line in Latin characters (a CJK character counts two): a phone's 358 pixels
AXIS_LINE = 36  # the same for an axis title: centred under a plot narrower than its figure
TITLE_SIZE, NOTE_SIZE = 15, 13  # pixels: a figure's title, a subplot's
TITLE_PAD, LINE_HEIGHT, NOTE_HEIGHT = 8, 20, 17  # pixels: above the title, a title line, a subplot title line
MULTILINE_SHIFT = 11  # Plotly anchors a title of several lines this much higher: without it the first is cut


OPENING, CLOSING = "（(「『“[", "，、。：；！？）)」』”]"


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def wrap(text: str, width: int = TITLE_LINE) -> str:
    """``text`` with ``<br>`` where a line would grow wider than ``width`` (in Latin characters; a CJK character
    counts two). Lines break at a space, after Chinese punctuation or before a bracket when that keeps them at
    least 60 % full, else between two CJK characters, never before a closing mark; breaks already there stay."""
    lines: list[str] = []
    for paragraph in text.split("<br>"):
        while sum(map(_width, paragraph)) > width:
            cut = _break(paragraph, width)
            lines.append(paragraph[:cut].rstrip())
            paragraph = paragraph[cut:].lstrip()
        lines.append(paragraph)
    return "<br>".join(lines)


def _break(text: str, width: int) -> int:
    """Where the first line of ``text`` ends (an index): the last good place within ``width``."""
    soft = hard = None
    used = 0
    for cut in range(1, len(text)):
        used += _width(text[cut - 1])
        if used > width:
            break
        before, after = text[cut - 1], text[cut]
        if after in CLOSING or before in OPENING:
            continue
        if after == " " or before in CLOSING or after in OPENING:
            if used >= 0.6 * width:
                soft = cut
            hard = cut
        elif _width(before) == 2 or _width(after) == 2:
            hard = cut
    return soft or hard or max(1, _fit(text, width))


def _fit(text: str, width: int) -> int:
    """How many characters of ``text`` fit in ``width`` (a word longer than a line is cut)."""
    used = 0
    for i, ch in enumerate(text):
        used += _width(ch)
        if used > width:
            return i
    return len(text)


def _merged(a: dict, b: dict) -> dict:
    """``a`` updated by ``b``, nested dictionaries key by key (as ``update_layout`` merges)."""
    out = dict(a)
    for key, value in b.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def readable(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` (the last step of a figure's builder) with its title, subplot titles and axis titles
    wrapped to a phone's width and the title set on the left of the figure's top margin (the chart toolbar is on the
    right), the margin tall enough for the title's lines and the subplot titles under it; its legend runs in rows at
    the bottom of the figure instead of taking a column on its right."""
    # The layout is read as plain values and the copy built once from them. ``update_layout`` on the figure took
    # 6-11 ms a figure, most of it Plotly's relayout bookkeeping; with thirty students in one process it was a fifth
    # of all the interpreter's time (py-spy, benchmarks/README.md). No figure here sets a template: the copy gets
    # Plotly's default, as the figure had, without validating the whole template again.
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)
    axes = {k: v for k, v in layout.items() if re.fullmatch(r"[xy]axis\d*", k)}
    columns = len({tuple(v.get("domain") or (0, 1)) for k, v in axes.items() if k[0] == "x"}) or 1
    changes: dict[str, object] = {}
    top_note = 0  # lines of the subplot titles over the top row of panels
    notes = [dict(note) for note in layout.get("annotations", ())]
    for note in notes:
        if note.get("text") and note.get("showarrow") is False and note.get("xref") == note.get("yref") == "paper":
            note["text"] = wrap(note["text"], TITLE_LINE // columns)  # subplot titles, each over its own panel
            note["font"] = {**note.get("font", {}), "size": NOTE_SIZE}
            if note.get("y") is not None and note["y"] >= 0.99:
                top_note = max(top_note, note["text"].count("<br>") + 1)
    if notes:
        changes["annotations"] = notes
    needed = NOTE_HEIGHT * top_note + 6 if top_note else 0
    title = layout.get("title", {}).get("text")
    if title:
        text = wrap(title)
        lines = text.count("<br>") + 1
        pad = TITLE_PAD + (MULTILINE_SHIFT if lines > 1 else 0)
        needed += pad + LINE_HEIGHT * lines
        changes["title"] = dict(text=text, x=0, xanchor="left", xref="container", y=1, yanchor="top",
                                yref="container", pad=dict(t=pad, l=4), font=dict(size=TITLE_SIZE))
    changes["margin"] = dict(t=max(layout.get("margin", {}).get("t") or 0, needed))
    for name, axis in axes.items():
        if axis.get("title", {}).get("text"):
            changes[name] = dict(title=dict(text=wrap(axis["title"]["text"], AXIS_LINE)), automargin=True)
    # at the figure's foot, under the x axis's title: the bottom margin grows to hold it
    changes["legend"] = dict(orientation="h", x=0, xanchor="left", y=0, yanchor="bottom", yref="container")
    return go.Figure(data=fig.data, layout=_merged(layout, changes), frames=fig.frames)
