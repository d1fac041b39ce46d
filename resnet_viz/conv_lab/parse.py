"""What the lab reads from the tables a user types into, and how it writes its numbers back as text.

A table row of the receptive-field chain is a dict with every key of ``CHAIN_COLUMNS``; its kind is shown as a
translated label, so reading a row takes the kind -> label mapping the page showed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from resnet_viz.conv_lab.calc import Layer
from resnet_viz.errors import InputError

CHAIN_COLUMNS = ("kind", "K", "S", "P", "D", "ceil")

# The table the custom chain starts from: ResNet's stem (7x7 conv /2, 3x3 max pool /2), then one 3x3 conv.
CUSTOM_CHAIN_EXAMPLE = (Layer("conv", 7, 2, 3), Layer("maxpool", 3, 2, 1), Layer("conv", 3, 1, 1))


def format_number(n: float) -> str:
    """Whole numbers with thousands separators, anything else to three significant digits."""
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:.3g}"


def sum_terms(values: Iterable[float]) -> str:
    """``(a) + (b) + ...``: the products a sliding-window step adds up."""
    return " + ".join(f"({format_number(v)})" for v in values)


def start_grid(example: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """A ``rows`` x ``cols`` grid to edit, starting from ``example``: cut to size or filled up with zeros."""
    start = np.zeros((rows, cols), dtype=example.dtype)
    r, c = min(rows, example.shape[0]), min(cols, example.shape[1])
    start[:r, :c] = example[:r, :c]
    return start


def chain_records(layers: Iterable[Layer], kind_labels: Mapping[str, str]) -> list[dict[str, object]]:
    """Table rows (keys ``CHAIN_COLUMNS``) of ``layers``; ``kind_labels`` maps a kind to its label."""
    return [dict(zip(CHAIN_COLUMNS, (kind_labels[layer.kind], layer.kernel, layer.stride, layer.padding,
                                     layer.dilation, layer.ceil_mode))) for layer in layers]


def _is_empty(value: object) -> bool:
    return value is None or value != value  # NaN != NaN: an empty cell of a table


def chain_from_records(records: Iterable[Mapping[str, Any]], kind_labels: Mapping[str, str]) -> list[Layer]:
    """The layers of typed table rows. An unknown kind is an InputError; an empty ceil cell means no ceil mode.

    The numbers are checked by ``calc.receptive_field_chain``, which names the wrong one.
    """
    kinds = {label: kind for kind, label in kind_labels.items()}
    layers = []
    for i, row in enumerate(records):
        kind = kinds.get(row["kind"])
        if kind is None:
            raise InputError("calc.error_layer_kind", row=i + 1, kind=row["kind"])
        ceil = row["ceil"]
        layers.append(Layer(kind, row["K"], row["S"], row["P"], row["D"], False if _is_empty(ceil) else bool(ceil)))
    return layers
