"""A network's skeleton, read by running it: the stem, the blocks with their shortcuts, the stages and the head.

Names do not matter. A hand-written ResNet-20 whose layers are called ``stem``, ``body.3.c1`` and ``head`` has the
skeleton of the zoo's ``resnet20``: one forward pass on a small input is recorded call by call (a
``TorchFunctionMode``; nothing is hooked on or changed in the model), and the layers are told apart by the torch
functions they call (``conv2d``, ``batch_norm``, ``linear``). A residual block is an addition that joins two paths
from one tensor: the path with the convolutions is F(x), the other the shortcut (nothing on it: identity; a
convolution: projection; only slicing and padding: zero padding, option A). Convolutions that no addition joins
form plain blocks, grouped by the module that holds them; the first is the stem. Stages are runs of blocks with the
same output shape. Each difference from a zoo network is one catalogue sentence, and ``map_state`` carries a
state dict onto the zoo network whose skeleton is the same.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from resnet_viz.inspect.architecture import ShapesOnlyOnMeta
from resnet_viz.models.registry import MODELS, SHORTCUT_OPTIONS, count_params, display_name

INPUT_SIZE = 32  # a CIFAR-10 image
_ADDS = frozenset({"add", "add_", "__add__", "__iadd__", "__radd__"})
_POOLS = frozenset({"max_pool2d", "avg_pool2d", "max_pool2d_with_indices"})
_BN_LEAVES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


# ---------------------------------------------------------------- the skeleton

@dataclass(frozen=True)
class Norm:
    """A batch norm: its state-dict keys (None where the module has no such tensor)."""

    weight: str | None
    bias: str | None
    running_mean: str | None
    running_var: str | None
    prefix: str  # the module path ("body.3.b1"), for its other keys (num_batches_tracked)
    eps: float

    def keys(self) -> dict[str, str | None]:
        """leaf name -> this norm's state-dict key."""
        return {"weight": self.weight, "bias": self.bias, "running_mean": self.running_mean,
                "running_var": self.running_var, "num_batches_tracked": f"{self.prefix}.num_batches_tracked"}


@dataclass(frozen=True)
class Conv:
    weight: str  # state-dict key, "body.3.c1.weight"
    bias: str | None
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int
    output: tuple[int, ...]  # C, H, W
    norm: Norm | None = None

    @property
    def name(self) -> str:
        return self.weight.removesuffix(".weight")

    def shape_text(self) -> str:
        """"3×3, 16 → 32, stride 2" (language-neutral)."""
        kh, kw = self.kernel
        text = f"{kh}×{kw}, {self.in_channels} → {self.out_channels}"
        if self.stride != (1, 1):
            text += f", stride {self.stride[0] if self.stride[0] == self.stride[1] else self.stride}"
        return text

    def same_shape(self, other: Conv) -> bool:
        return (self.in_channels, self.out_channels, self.kernel, self.stride, self.padding, self.groups) == (
            other.in_channels, other.out_channels, other.kernel, other.stride, other.padding, other.groups)


@dataclass(frozen=True)
class Linear:
    weight: str
    bias: str | None
    in_features: int
    out_features: int

    @property
    def name(self) -> str:
        return self.weight.removesuffix(".weight")


SHORTCUT_KINDS = ("identity", "pad", "projection")  # None: a plain block, which adds nothing


@dataclass(frozen=True)
class Block:
    main: tuple[Conv, ...]  # F(x)'s convolutions, in the order they run
    shortcut: str | None  # one of SHORTCUT_KINDS, or None
    projection: tuple[Conv, ...]  # the shortcut's convolutions (a projection's 1x1)
    output: tuple[int, ...]

    @property
    def name(self) -> str:
        """The module that holds the block: the longest common prefix of its layers' paths."""
        common: list[str] = []
        for parts in zip(*(c.name.split(".") for c in self.main + self.projection)):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        return ".".join(common) or self.main[0].name


@dataclass(frozen=True)
class Stage:
    number: int  # 1-based
    blocks: tuple[Block, ...]

    @property
    def output(self) -> tuple[int, ...]:
        return self.blocks[-1].output


@dataclass(frozen=True)
class Skeleton:
    stem: tuple[Conv, ...]
    stem_pool: bool  # a pooling layer between the stem and the first block (ImageNet nets)
    blocks: tuple[Block, ...]
    head: tuple[Linear, ...]
    output: tuple[int, ...]  # the logits' shape for one image
    params: int
    unplaced: tuple[str, ...] = ()  # layers that fit nowhere: "name (function)"
    shared: tuple[str, ...] = ()  # weights used by more than one call
    unused: tuple[str, ...] = ()  # state-dict entries the forward pass never read
    input_size: int = INPUT_SIZE

    @property
    def stages(self) -> tuple[Stage, ...]:
        """Runs of blocks with the same output shape."""
        runs: list[list[Block]] = []
        for block in self.blocks:
            if runs and runs[-1][-1].output == block.output:
                runs[-1].append(block)
            else:
                runs.append([block])
        return tuple(Stage(i + 1, tuple(run)) for i, run in enumerate(runs))

    @property
    def classes(self) -> int:
        return self.head[-1].out_features if self.head else (self.output[-1] if self.output else 0)

    @property
    def shortcut_option(self) -> str | None:
        """The paper's option the shortcuts follow: A (zero padding where the shape changes), B (projection where
        it changes), C (projection everywhere); None for a plain net or a mixture."""
        kinds = {(b.shortcut, b.main[0].in_channels == b.output[0] and b.main[0].stride == (1, 1))
                 for b in self.blocks}
        if not any(kind for kind, _ in kinds):
            return None
        for option, same, changed in (("A", "identity", "pad"), ("B", "identity", "projection"),
                                      ("C", "projection", "projection")):
            if all(kind == (same if keeps else changed) for kind, keeps in kinds):
                return option
        return None

    def convs(self) -> list[Conv]:
        return [*self.stem, *(c for b in self.blocks for c in b.main + b.projection)]


# ---------------------------------------------------------------- recording one forward pass

@dataclass
class _Node:
    func: str
    parents: tuple[int, ...]  # nodes whose outputs this call read
    params: tuple[str, ...]  # state-dict keys of the tensors it read, in argument order
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    shape: tuple[int, ...]  # the first tensor output's shape ((): none)
    operand_shapes: tuple[tuple[int, ...], ...] = ()


def _tensors(value: Any) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


class _Recorder(TorchFunctionMode):
    """Every torch function call of a forward pass: what it read (outputs of earlier calls, named weights)."""

    def __init__(self, names: Mapping[int, str]) -> None:
        super().__init__()
        self.names = names
        self.nodes: list[_Node] = []
        self.producer: dict[int, int] = {}  # id(tensor) -> the node that wrote it last
        self._alive: list[torch.Tensor] = []  # keeps every tensor seen, so that no id is reused

    def start(self, x: torch.Tensor) -> None:
        self._alive.append(x)
        self.producer[id(x)] = 0
        self.nodes.append(_Node("input", (), (), (), {}, tuple(x.shape[1:])))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.is_meta and name in ("batch_norm", "pad"):
            out = x.new_empty(_meta_shape(name, x, args, kwargs))  # their meta kernels are slow Python
        else:
            out = func(*args, **kwargs)
        if name in ("__get__", "dim", "size", "is_contiguous"):
            return out
        inputs = list(_tensors(args)) + list(_tensors(kwargs))
        parents = tuple(dict.fromkeys(self.producer[id(t)] for t in inputs if id(t) in self.producer))
        params = tuple(self.names[id(t)] for t in inputs if id(t) in self.names)
        outputs = list(_tensors(out))
        operands = tuple(tuple(t.shape[1:]) for t in inputs if id(t) in self.producer)
        index = len(self.nodes)
        self.nodes.append(_Node(name, parents, params, args, kwargs,
                                tuple(outputs[0].shape[1:]) if outputs else (), operands))
        for t in outputs:
            self._alive.append(t)
            self.producer[id(t)] = index
        self._alive.extend(inputs)
        return out


def _meta_shape(name: str, x: torch.Tensor, args: tuple, kwargs: dict) -> tuple[int, ...]:
    """The output shape of a batch norm (x's) or of ``F.pad`` (x's, padded from the last axis backwards)."""
    shape = list(x.shape)
    if name == "pad":
        widths = args[1] if len(args) > 1 else kwargs["pad"]
        for axis, (before, after) in enumerate(zip(widths[::2], widths[1::2]), 1):
            shape[-axis] += before + after
    return tuple(shape)


def _arg(node: _Node, index: int, name: str, default: Any) -> Any:
    return node.args[index] if len(node.args) > index else node.kwargs.get(name, default)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def _conv(node: _Node, recorder: _Recorder) -> Conv | None:
    weight, bias = _arg(node, 1, "weight", None), _arg(node, 2, "bias", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4 or id(weight) not in recorder.names:
        return None
    out_ch, in_per_group, kh, kw = weight.shape
    groups = int(_arg(node, 6, "groups", 1))
    padding = _arg(node, 4, "padding", 0)
    if isinstance(padding, str):  # "same" / "valid"
        padding = (kh // 2, kw // 2) if padding == "same" else 0
    return Conv(recorder.names[id(weight)], recorder.names.get(id(bias)) if isinstance(bias, torch.Tensor) else None,
                int(in_per_group) * groups, int(out_ch), (int(kh), int(kw)), _pair(_arg(node, 3, "stride", 1)),
                _pair(padding), groups, node.shape)


def _norm(node: _Node, recorder: _Recorder) -> Norm | None:
    def key(index: int, name: str) -> str | None:
        value = _arg(node, index, name, None)
        return recorder.names.get(id(value)) if isinstance(value, torch.Tensor) else None

    mean, var, weight, bias = key(1, "running_mean"), key(2, "running_var"), key(3, "weight"), key(4, "bias")
    if mean is None or var is None or bool(_arg(node, 5, "training", False)):
        return None  # a norm without running statistics normalises each batch by itself, even at test time
    return Norm(weight, bias, mean, var, mean.rpartition(".")[0], float(_arg(node, 7, "eps", 1e-5)))


def _common_ancestor(nodes: list[_Node], a: int, b: int) -> tuple[int, set[int], set[int]] | None:
    """The latest node both ``a`` and ``b`` descend from (themselves included), and the nodes on each path since
    it. Nodes are numbered in the order they ran, so walking back from the highest number finds it first."""
    sides: dict[int, int] = {a: 1}
    sides[b] = sides.get(b, 0) | 2
    heap = [-a] if a == b else [-a, -b]
    only: dict[int, set[int]] = {1: set(), 2: set()}
    while heap:
        i = -heapq.heappop(heap)
        side = sides.pop(i)
        if side == 3:
            return i, only[1], only[2]
        only[side].add(i)
        for p in nodes[i].parents:
            if p not in sides:
                heapq.heappush(heap, -p)
            sides[p] = sides.get(p, 0) | side
    return None


def trace(model: nn.Module, input_size: int = INPUT_SIZE) -> Skeleton:
    """The skeleton of ``model`` (in eval mode; run once on two random ``input_size`` images, on the model's
    device, without gradients; the model is left as it was found)."""
    tensors = model.state_dict(keep_vars=True)
    names: dict[int, str] = {}
    for key, tensor in tensors.items():
        names.setdefault(id(tensor), key)  # a tensor held under two names (a module used twice): its first
    device = next((t.device for t in tensors.values()), torch.device("cpu"))
    recorder = _Recorder(names)
    was_training = model.training
    model.eval()
    try:
        x = torch.randn(2, 3, input_size, input_size, device=device)
        recorder.start(x)
        with torch.no_grad(), recorder:
            out = model(x)
    finally:
        model.train(was_training)
    output = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()
    return _skeleton(recorder, {k: tensors[k] for k in names.values()}, output, count_params(model), input_size)


def _skeleton(recorder: _Recorder, tensors: Mapping[str, torch.Tensor], output: tuple[int, ...], params: int,
              input_size: int) -> Skeleton:
    nodes = recorder.nodes
    convs: dict[int, Conv] = {}
    norms: dict[int, Norm] = {}
    linears: dict[int, Linear] = {}
    unplaced: list[str] = []
    for i, node in enumerate(nodes):
        if node.func == "conv2d" and (conv := _conv(node, recorder)) is not None:
            convs[i] = conv
        elif node.func == "batch_norm" and (norm := _norm(node, recorder)) is not None:
            norms[i] = norm
        elif node.func == "linear" and node.params:
            w = tensors[node.params[0]]
            bias = node.params[1] if len(node.params) > 1 else None
            linears[i] = Linear(node.params[0], bias, int(w.shape[1]), int(w.shape[0]))
        elif node.params:
            unplaced.append(f"{node.params[0].rpartition('.')[0] or node.params[0]} ({node.func})")
    # A norm belongs to the convolution that feeds it directly.
    for i, norm in norms.items():
        parent = nodes[i].parents[0] if nodes[i].parents else None
        if parent in convs and convs[parent].norm is None:
            convs[parent] = _with_norm(convs[parent], norm)
        else:
            unplaced.append(f"{norm.prefix} (batch_norm)")
    blocks, claimed = _residual_blocks(nodes, convs)
    stem, plain = _plain_blocks(convs, claimed, first_residual=min((min(c) for c in claimed.values()), default=None))
    blocks += plain
    blocks.sort(key=lambda item: item[0])
    ordered = tuple(b for _, b in blocks)
    first_block = blocks[0][0] if blocks else len(nodes)
    stem_end = max((i for i, c in convs.items() if c in stem), default=0)
    stem_pool = any(n.func in _POOLS for n in nodes[stem_end:first_block])
    last_block = max((i for i, c in convs.items() if c not in stem), default=stem_end)
    head = tuple(lin for i, lin in sorted(linears.items()) if i > last_block)
    unplaced += [f"{lin.name} (linear)" for i, lin in sorted(linears.items()) if i <= last_block]
    used: dict[str, int] = {}
    for node in nodes:
        for key in node.params:
            used[key] = used.get(key, 0) + 1
    counters = {n.prefix for c in convs.values() if (n := c.norm) is not None}
    unused = tuple(k for k in tensors if k not in used
                   and not (k.endswith(".num_batches_tracked") and k.rpartition(".")[0] in counters))
    shared = tuple(k for k, count in used.items() if count > 1 and tensors[k].dim() > 1)
    return Skeleton(tuple(stem), stem_pool, ordered, head, output, params, tuple(unplaced), shared, unused,
                    input_size)


def _with_norm(conv: Conv, norm: Norm) -> Conv:
    return Conv(conv.weight, conv.bias, conv.in_channels, conv.out_channels, conv.kernel, conv.stride, conv.padding,
                conv.groups, conv.output, norm)


def _residual_blocks(nodes: list[_Node], convs: dict[int, Conv]
                     ) -> tuple[list[tuple[int, Block]], dict[int, list[int]]]:
    """(first node, block) of every addition that joins F(x) and a shortcut; add node -> the convolutions it
    claimed. Inner additions claim first, so a shortcut around several blocks claims nothing."""
    found = []
    for i, node in enumerate(nodes):
        if node.func not in _ADDS or len(node.parents) != 2 or len(node.operand_shapes) != 2:
            continue
        if len(node.shape) != 3 or any(s != node.shape for s in node.operand_shapes):
            continue
        joined = _common_ancestor(nodes, *node.parents)
        if joined is None:
            continue
        _, left, right = joined
        paths = sorted(((sorted(j for j in side if j in convs), side) for side in (left, right)),
                       key=lambda path: len(path[0]))
        (short_convs, short_nodes), (main_convs, _) = paths  # F(x) has the more convolutions
        if main_convs:
            found.append((len(main_convs), i, main_convs, short_convs, short_nodes))
    claimed: dict[int, list[int]] = {}
    taken: set[int] = set()
    blocks = []
    for _, i, main_convs, short_convs, short_nodes in sorted(found):
        main = [j for j in main_convs if j not in taken]
        if not main:
            continue
        taken.update(main + short_convs)
        claimed[i] = main + short_convs
        kind = "projection" if short_convs else ("pad" if _changes_shape(nodes, short_nodes) else "identity")
        blocks.append((main[0], Block(tuple(convs[j] for j in main), kind, tuple(convs[j] for j in short_convs),
                                      nodes[i].shape)))
    return blocks, claimed


def _changes_shape(nodes: list[_Node], path: set[int]) -> bool:
    """Whether the calls on a shortcut without convolutions change the shape of x (subsampling, zero channels)."""
    return any(nodes[j].shape != nodes[p].shape for j in path for p in nodes[j].parents)


def _plain_blocks(convs: dict[int, Conv], claimed: dict[int, list[int]], first_residual: int | None
                  ) -> tuple[list[Conv], list[tuple[int, Block]]]:
    """The stem and the plain blocks: convolutions no addition claimed, grouped by the module that holds them
    and split where a claimed one runs between them; a group of more than three (a flat list of layers) is cut
    into pairs."""
    taken = {j for js in claimed.values() for j in js}
    order = sorted(convs)
    groups: list[list[int]] = []
    previous = None
    for j in order:
        if j in taken:
            previous = None
            continue
        parent = convs[j].name.rpartition(".")[0]
        if previous is not None and groups and convs[groups[-1][0]].name.rpartition(".")[0] == parent:
            groups[-1].append(j)
        else:
            groups.append([j])
        previous = j
    stem: list[int] = []
    if groups and (first_residual is None or groups[0][-1] < first_residual) and groups[0][0] == order[0]:
        first = groups.pop(0)
        flat = len(first) > 2 and (len(first) % 2 == 1 or first_residual is None)
        stem, rest = ([first[0]], first[1:]) if flat else (first, [])
        if rest:
            groups.insert(0, rest)
    blocks = []
    for group in groups:
        chunks = [group] if len(group) <= 3 else [group[k:k + 2] for k in range(0, len(group), 2)]
        for chunk in chunks:
            main = tuple(convs[j] for j in chunk)
            blocks.append((chunk[0], Block(main, None, (), main[-1].output)))
    return [convs[j] for j in stem], blocks


# ---------------------------------------------------------------- against the zoo

@dataclass(frozen=True)
class Difference:
    """One sentence of the ``check`` catalogue (``check.diff_<what>``); parameters ending in ``kind`` are catalogue
    keys themselves (a shortcut's kind), translated with it."""

    what: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str, zoo: str) -> str:
        from resnet_viz.i18n import t

        params = {k: t(v, lang) if k.endswith("kind") else v for k, v in self.params.items()}
        return t(f"check.diff_{self.what}", lang, zoo=zoo, **params)


def kind_key(kind: str | None) -> str:
    """The catalogue key naming a shortcut kind (None: no shortcut)."""
    return f"check.kind_{kind or 'none'}"


def shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape))


def _compare_conv(out: list[Difference], m: Conv, z: Conv, *, widths: bool) -> None:
    """Differences of one convolution (its channels only when ``widths``: a stage's width said once otherwise)."""
    if (m.kernel, m.stride, m.padding, m.groups) != (z.kernel, z.stride, z.padding, z.groups) or (
            widths and (m.in_channels, m.out_channels) != (z.in_channels, z.out_channels)):
        out.append(Difference("conv", {"name": m.name, "mine": m.shape_text(), "theirs": z.shape_text()}))
    if (m.norm is None) != (z.norm is None):
        out.append(Difference("norm_missing" if m.norm is None else "norm_extra", {"name": m.name}))
    elif m.norm is not None and z.norm is not None and abs(m.norm.eps - z.norm.eps) > 1e-12:
        out.append(Difference("norm_eps", {"name": m.norm.prefix, "mine": f"{m.norm.eps:g}",
                                           "theirs": f"{z.norm.eps:g}"}))
    if m.bias and not z.bias and m.norm is None:
        out.append(Difference("conv_bias", {"name": m.name}))


def _compare_blocks(out: list[Difference], stage: int, mine: Block, zoo: Block, number: int, widths: bool) -> None:
    where = {"stage": stage, "number": number, "name": mine.name}
    if len(mine.main) != len(zoo.main):
        out.append(Difference("block_convs", {**where, "mine": len(mine.main), "theirs": len(zoo.main)}))
    else:
        for m, z in zip(mine.main, zoo.main):
            _compare_conv(out, m, z, widths=widths)
    if mine.shortcut != zoo.shortcut:
        what = "shortcut_missing" if mine.shortcut is None else (
            "shortcut_extra" if zoo.shortcut is None else "shortcut_kind")
        kinds = {"mine_kind": kind_key(mine.shortcut), "theirs_kind": kind_key(zoo.shortcut)}
        out.append(Difference(what, {**where, **kinds}))
    elif len(mine.projection) == len(zoo.projection):
        for m, z in zip(mine.projection, zoo.projection):
            _compare_conv(out, m, z, widths=widths)


def differences(mine: Skeleton, zoo: Skeleton) -> list[Difference]:
    """What ``mine`` does otherwise than ``zoo``, one sentence each, from the input to the output (the first is the
    one a refused conversion names)."""
    out: list[Difference] = []
    if len(mine.stem) != len(zoo.stem):
        out.append(Difference("stem_convs", {"mine": len(mine.stem), "theirs": len(zoo.stem)}))
    else:
        for m, z in zip(mine.stem, zoo.stem):
            _compare_conv(out, m, z, widths=True)
    if mine.stem_pool != zoo.stem_pool:
        out.append(Difference("stem_pool" if mine.stem_pool else "stem_no_pool"))
    ours, theirs = mine.stages, zoo.stages
    if len(ours) != len(theirs):
        out.append(Difference("stages", {"mine": len(ours), "theirs": len(theirs)}))
    for a, b in zip(ours, theirs):
        same_width = a.output[0] == b.output[0]
        if not same_width:
            out.append(Difference("stage_width", {"stage": a.number, "mine": a.output[0], "theirs": b.output[0]}))
        elif a.output != b.output:
            out.append(Difference("stage_size", {"stage": a.number, "mine": shape_text(a.output),
                                                 "theirs": shape_text(b.output)}))
        if len(a.blocks) != len(b.blocks):
            out.append(Difference("stage_blocks", {"stage": a.number, "mine": len(a.blocks),
                                                   "theirs": len(b.blocks)}))
        for number, (x, y) in enumerate(zip(a.blocks, b.blocks), 1):
            _compare_blocks(out, a.number, x, y, number, same_width)
    if len(mine.head) != len(zoo.head):
        out.append(Difference("head", {"mine": len(mine.head), "theirs": len(zoo.head)}))
    out += [Difference("unplaced", {"layer": layer}) for layer in mine.unplaced]
    out += [Difference("shared", {"key": key}) for key in mine.shared]
    return out


def candidates(option: str | None = None) -> list[tuple[str, str | None]]:
    """(zoo name, shortcut option) of every ResNet (each option, or only ``option``) and plain net of the paper's
    CIFAR-10 section (6n+2 layers, three stages): the networks the homework asks students to write."""
    out: list[tuple[str, str | None]] = []
    for name, spec in MODELS.items():
        if spec.layout != "cifar" or spec.family not in ("resnet", "plain"):
            continue
        options = (option.upper(),) if option and spec.residual else (SHORTCUT_OPTIONS if spec.residual else (None,))
        out += [(name, o) for o in options]
    return out


@lru_cache(maxsize=64)
def zoo_skeleton(name: str, option: str | None, classes: int) -> Skeleton:
    """The skeleton of zoo network ``name`` (built and run on the meta device: shapes only)."""
    with torch.device("meta"), ShapesOnlyOnMeta():
        model = MODELS[name].build(shortcut=option, num_classes=classes)
        return trace(model)


@dataclass(frozen=True)
class Match:
    """A zoo network and how ``mine`` differs from it."""

    name: str
    option: str | None
    skeleton: Skeleton
    differences: tuple[Difference, ...]

    @property
    def exact(self) -> bool:
        return not self.differences

    def label(self, lang: str) -> str:
        """"ResNet-20, option A" / "plain-20" in ``lang``."""
        from resnet_viz.i18n import t

        spec = MODELS[self.name]
        if self.option is None:
            return t("check.zoo_plain", lang, depth=spec.depth) if spec.family == "plain" else display_name(self.name)
        return t("check.zoo_resnet", lang, name=display_name(self.name), option=self.option)


def _far(name: str, blocks: int) -> bool:
    """Whether zoo net ``name`` has more than four times as many blocks as ``blocks``, or a quarter (and a dozen
    more either way): never the closest, and ResNet-1202's trace takes seconds."""
    theirs = len(MODELS[name].blocks())
    return theirs > 4 * blocks + 12 or blocks > 4 * theirs + 12


def closest(mine: Skeleton, option: str | None = None) -> Match:
    """The zoo network ``mine`` differs least from (then: the nearest in parameters); ``option`` keeps the ResNets
    to that shortcut option. The likeliest are traced first (as many blocks, the same option), and an exact match
    ends the search."""
    blocks, own = len(mine.blocks), mine.shortcut_option
    likely = sorted((c for c in candidates(option) if not _far(c[0], blocks)),
                    key=lambda c: (abs(len(MODELS[c[0]].blocks()) - blocks), c[1] != own))
    matches = []
    for name, o in likely:
        zoo = zoo_skeleton(name, o, mine.classes)
        matches.append(Match(name, o, zoo, tuple(differences(mine, zoo))))
        if matches[-1].exact:
            return matches[-1]
    return min(matches, key=lambda m: (len(m.differences), abs(m.skeleton.params - mine.params)))


# ---------------------------------------------------------------- weights onto the zoo network

def aligned(mine: Skeleton, zoo: Skeleton) -> list[tuple[Conv, Conv] | tuple[Linear, Linear]]:
    """The layers of two skeletons with no differences, pair by pair."""
    pairs: list[Any] = list(zip(mine.stem, zoo.stem))
    for x, y in zip(mine.blocks, zoo.blocks):
        pairs += zip(x.main, y.main)
        pairs += zip(x.projection, y.projection)
    pairs += zip(mine.head, zoo.head)
    return pairs


def _norm_state(mine: Norm, zoo: Norm, state: Mapping[str, torch.Tensor], bias: torch.Tensor | None
                ) -> dict[str, torch.Tensor]:
    """The zoo norm's tensors from ``mine`` (an affine-free norm scales by 1 and shifts by 0). A bias of the
    convolution before it is folded into its running mean: BN(conv(x) + b) uses mean - b where BN(conv(x)) uses
    the mean, exactly."""
    size = state[mine.running_mean].shape if mine.running_mean else None
    defaults = {"weight": torch.ones(size) if size else None, "bias": torch.zeros(size) if size else None,
                "num_batches_tracked": torch.tensor(0, dtype=torch.long)}
    out = {}
    ours = mine.keys()
    for leaf, key in zoo.keys().items():
        if key is None:
            continue
        source = ours[leaf]
        value = state[source] if source is not None and source in state else defaults.get(leaf)
        if value is not None:
            out[key] = value
    if bias is not None and zoo.running_mean is not None:
        out[zoo.running_mean] = out[zoo.running_mean] - bias
    return out


def map_state(mine: Skeleton, state: Mapping[str, torch.Tensor], zoo: Skeleton) -> dict[str, torch.Tensor]:
    """``state`` (the state dict of the network ``mine`` was traced from) under the zoo network's names, layer by
    layer in the skeletons' order; their differences must be none."""
    out: dict[str, torch.Tensor] = {}
    for m, z in aligned(mine, zoo):
        out[z.weight] = state[m.weight]
        bias = state[m.bias] if m.bias else None
        if isinstance(m, Conv) and isinstance(z, Conv) and m.norm is not None and z.norm is not None:
            out.update(_norm_state(m.norm, z.norm, state, None if z.bias else bias))
            if z.bias:
                out[z.bias] = bias if bias is not None else torch.zeros(z.out_channels)
        elif z.bias:
            out[z.bias] = bias if bias is not None else torch.zeros(state[m.weight].shape[0])
    return out
