"""The project's own CIFAR ResNet as readable code: its source, notes keyed to source lines, and a live trace.

The source is read at run time from the real classes (``inspect.getsource``), so what a student reads is what
runs. A note is attached to the one line that contains its code fragment; ``unmatched()`` lists the notes that
no longer find exactly one line (a test keeps it empty, so a change of the code breaks a test, not the page).
The trace builds the network on the meta device and records every layer's output shape and parameters
(``resnet_viz.inspect.architecture``); nothing a user types is ever executed.
"""

from __future__ import annotations

import copy
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import torch
from torch import nn

from resnet_viz.inspect.architecture import ShapesOnlyOnMeta, summarize_module
from resnet_viz.models.cifar import CifarBlock, CifarNet, PadShortcut, cifar_net, projection
from resnet_viz.models.registry import count_params
from resnet_viz.seeded import seeded

INPUT_SIZE = 32
BLOCKS_PER_STAGE = (1, 2, 3, 5, 7, 9, 18)  # n: depths 8, 14, 20, 32, 44, 56, 110

# name -> the object whose source is shown, in reading order
SHOWN: dict[str, Callable | type] = {
    "block": CifarBlock, "pad": PadShortcut, "projection": projection, "net": CifarNet, "depth": cifar_net,
}

# name -> (code fragment, note key in resnet_code.toml); each fragment must occur in exactly one line
NOTES: dict[str, tuple[tuple[str, str], ...]] = {
    "block": (
        ("self.conv1 = nn.Conv2d(", "note_conv1"),
        ("self.bn1 = nn.BatchNorm2d(", "note_bn1"),
        ("self.conv2 = nn.Conv2d(", "note_conv2"),
        ("self.bn2 = nn.BatchNorm2d(", "note_bn2"),
        ("self.shortcut = None", "note_plain"),
        ("self.shortcut = nn.Identity()", "note_identity"),
        ("self.shortcut = PadShortcut(", "note_option_a"),
        ("self.shortcut = projection(", "note_option_b"),
        ("out = self.relu1(self.bn1(self.conv1(x)))", "note_forward1"),
        ("out = self.bn2(self.conv2(out))", "note_forward2"),
        ("out = out + self.shortcut(x)", "note_add"),
        ("return self.relu2(out)", "note_relu_after"),
    ),
    "pad": (
        ("x = x[:, :, :: self.stride, :: self.stride]", "note_subsample"),
        ("x = F.pad(", "note_zero_pad"),
    ),
    "projection": (
        ("nn.Conv2d(in_channels, out_channels, kernel_size=1", "note_proj_conv"),
        ("nn.BatchNorm2d(out_channels)", "note_proj_bn"),
    ),
    "net": (
        ("self.conv1 = nn.Conv2d(3, 16", "note_stem"),
        ("widths = (16, 32, 64)", "note_widths"),
        ("for j in range(n):", "note_n_blocks"),
        ("stride = 2 if (i > 0 and j == 0) else 1", "note_stride"),
        ("self.avgpool = nn.AdaptiveAvgPool2d(1)", "note_avgpool"),
        ("self.linear = nn.Linear(64, num_classes)", "note_fc"),
        ("nn.init.kaiming_normal_(", "note_init"),
    ),
    "depth": (
        ("(depth - 2) % 6", "note_depth_check"),
        ("return CifarNet((depth - 2) // 6", "note_depth_n"),
    ),
}


@dataclass(frozen=True)
class SourceLine:
    number: int  # 1-based, within the shown object
    text: str
    note: str | None  # i18n key "resnet_code.<note>"


@cache
def source_text(name: str) -> tuple[str, ...]:
    """The lines of the shown object ``name``'s source, dedented."""
    return tuple(textwrap.dedent(inspect.getsource(SHOWN[name])).rstrip("\n").splitlines())


def _matches(name: str, fragment: str) -> list[int]:
    return [i + 1 for i, line in enumerate(source_text(name)) if fragment in line]


def find_line(name: str, fragment: str) -> int | None:
    """The 1-based line of ``name``'s source that holds ``fragment``; None unless exactly one does."""
    found = _matches(name, fragment)
    return found[0] if len(found) == 1 else None


def unmatched() -> list[tuple[str, str]]:
    """(object, fragment) of every note that does not find exactly one line."""
    return [(name, fragment) for name, notes in NOTES.items() for fragment, _ in notes
            if find_line(name, fragment) is None]


def annotated(name: str) -> list[SourceLine]:
    """The source of ``name`` line by line, each line with its note key (or None)."""
    keys = {find_line(name, fragment): f"resnet_code.{key}" for fragment, key in NOTES[name]}
    return [SourceLine(i + 1, text, keys.get(i + 1)) for i, text in enumerate(source_text(name))]


# --- the live trace ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TraceRow:
    name: str  # module path, "layer2.0.conv1"
    type: str
    output_shape: tuple[int, ...]
    params: int
    source: str  # the shown object that creates the layer
    line: int | None  # its line there


@dataclass(frozen=True)
class Trace:
    n: int
    option: str | None  # None: the plain net
    rows: tuple[TraceRow, ...]
    params: int

    @property
    def depth(self) -> int:
        return 6 * self.n + 2


def _fragment(parent: nn.Module, attr: str, module: nn.Module) -> tuple[str, str]:
    """(shown object, code fragment) of the line that creates ``module``, child ``attr`` of ``parent``."""
    if isinstance(parent, CifarBlock) and attr == "shortcut":
        kind = {nn.Identity: "nn.Identity()", PadShortcut: "PadShortcut("}.get(type(module), "projection(")
        return "block", f"self.shortcut = {kind}"
    if isinstance(parent, nn.Sequential) and not isinstance(module, CifarBlock):  # inside a projection
        return "projection", f"nn.{type(module).__name__}("
    return ("block" if isinstance(parent, CifarBlock) else "net"), f"self.{attr} ="


def _origins(model: nn.Module) -> dict[str, tuple[str, int | None]]:
    """module path -> (shown object, line) for every module below ``model``."""
    out = {}
    for path, parent in model.named_modules():
        for attr, child in parent.named_children():
            name, fragment = _fragment(parent, attr, child)
            out[f"{path}.{attr}" if path else attr] = (name, find_line(name, fragment))
    return out


def meta_net(n: int, option: str | None) -> CifarNet:
    """The network of ``n`` blocks per stage (``option`` None: the plain net) on the meta device."""
    with torch.device("meta"), ShapesOnlyOnMeta():
        return CifarNet(n, residual=option is not None, option=option or "A")


@lru_cache(maxsize=32)
def trace(n: int, option: str | None) -> Trace:
    """Every layer call of the network on a 32 x 32 input: output shape, parameters, the source line."""
    model = meta_net(n, option)
    summary = summarize_module(model, (3, INPUT_SIZE, INPUT_SIZE))
    origins = _origins(model)
    rows = tuple(TraceRow(r.name, r.type, r.output_shape, r.params, *origins.get(r.name, ("net", None)))
                 for r in summary.rows)
    return Trace(n, option, rows, summary.params)


@dataclass(frozen=True)
class LineTotal:
    source: str
    line: int
    layers: int  # layer calls the line creates
    params: int


def line_totals(t: Trace) -> list[LineTotal]:
    """Parameters per source line (summed over every layer that line creates), in reading order."""
    order = list(SHOWN)
    totals: dict[tuple[str, int], list[int]] = {}
    for r in t.rows:
        if r.line is not None:
            entry = totals.setdefault((r.source, r.line), [0, 0])
            entry[0] += 1
            entry[1] += r.params
    return [LineTotal(s, line, calls, params)
            for (s, line), (calls, params) in sorted(totals.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))]


# --- the same code without its shortcuts is the plain net ----------------------------------------------

@dataclass(frozen=True)
class PlainCheck:
    n: int
    option: str
    residual_params: int
    plain_params: int
    stripped_params: int  # the residual net with every block's shortcut set to None
    same_parameters: bool  # the stripped net and the plain net have the same parameter names and shapes
    same_output: bool  # with the same weights, they compute the same output
    residual_differs: bool  # and the residual net (with its shortcuts) computes another one

    @property
    def shortcut_params(self) -> int:
        """What the shortcuts add: 0 for option A (identity and zero padding), the projections' for B and C."""
        return self.residual_params - self.stripped_params


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@lru_cache(maxsize=32)
def plain_check(n: int, option: str, seed: int = 0) -> PlainCheck:
    """Remove the shortcuts from the residual net (``block.shortcut = None``, the line the plain net runs) and
    compare with the plain net of the same ``n``: parameters, and the output on two random images."""
    with seeded(seed):
        residual = cifar_net(6 * n + 2, option=option).eval()
        x = torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE)
        plain = CifarNet(n, residual=False).eval()
    stripped = copy.deepcopy(residual)
    for block in stripped.modules():
        if isinstance(block, CifarBlock):
            block.shortcut = None
    same = _shapes(stripped) == _shapes(plain)
    with torch.no_grad():
        same_output = False
        if same:
            plain.load_state_dict(stripped.state_dict())
            same_output = torch.equal(plain(x), stripped(x))
        differs = not torch.allclose(residual(x), stripped(x))
    return PlainCheck(n, option, count_params(residual), count_params(plain), count_params(stripped), same,
                      same_output, differs)
