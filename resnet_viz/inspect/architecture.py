"""Layer inspection: one row per layer call of a real forward pass, without allocating any weights.

The model is built on the meta device and run on a meta tensor; hooks record each layer's output
shape, its parameters, its multiply-adds (the paper's "FLOPs") and its receptive field. Receptive
fields follow the graph of a residual block: the main path grows the field, the shortcut (identity,
zero-padding or 1x1 projection) runs in parallel from the block's input, and the block's output
takes the larger field of the two paths.

Used by the Architecture page (Figure 3, Table 1, Figure 5) and by ``python -m resnet_viz summary``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import hooked, locked
from resnet_viz.inspect.receptive_field import ReceptiveField, merge, step
from resnet_viz.models.blocks import shortcut_of
from resnet_viz.models.cifar import PadShortcut
from resnet_viz.models.registry import ModelSpec, count_params, get_spec

MIN_INPUT_SIZE = 1
MAX_INPUT_SIZE = 4096
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class LayerRow:
    """One call of a leaf module. Shapes leave out the batch dimension."""

    index: int
    name: str  # module path, e.g. "layer2.0.conv1"
    type: str  # module class, e.g. "Conv2d"
    stage: str | None  # paper stage: "conv3_x", "stage2", "pool3", "fc", ...
    block: str | None  # paper block: "conv3_1", "stage2_1"; None outside residual stages
    role: str | None  # "main" or "shortcut" inside a block, None elsewhere
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    padding: tuple[int, int] | None
    dilation: tuple[int, int] | None
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int  # counted on a module's first call only
    macs: int  # multiply-adds of Conv2d and Linear layers; 0 for everything else
    rf: int | None  # receptive field in input pixels (one side); None once the map is flattened
    jump: int | None  # distance in input pixels between neighbouring outputs (effective stride)
    call: int = 0  # > 0 when a module (e.g. a shared ReLU) runs again


@dataclass(frozen=True)
class BlockInfo:
    """A residual (or plain) block: where its shortcut goes and what it does."""

    name: str  # paper name, "conv3_1"
    path: str  # module path, "layer2.0"
    stage: str
    shortcut: str | None  # "identity", "pad" (option A), "projection" (B/C) or None (plain net)
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    first_row: int
    last_row: int  # inclusive
    params: int
    macs: int


@dataclass(frozen=True)
class StageTotal:
    name: str | None  # None in a summary made without a spec (no stages to assign), e.g. block_pair()
    output_shape: tuple[int, ...]
    layers: int  # weight layers (conv + fc) on the main path, as the paper counts depth
    blocks: int
    params: int
    macs: int


@dataclass(frozen=True)
class Summary:
    model: str
    input_size: int
    shortcut: str | None
    rows: tuple[LayerRow, ...]
    blocks: tuple[BlockInfo, ...]
    stages: tuple[StageTotal, ...]
    params: int
    macs: int
    variant: str = field(default="")  # "" for the zoo model, "v1" for the stride-in-1x1 bottleneck

    @property
    def weight_layers(self) -> int:
        return sum(s.layers for s in self.stages)

    def row(self, name: str, call: int = 0) -> LayerRow:
        for r in self.rows:
            if r.name == name and r.call == call:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "input_size": self.input_size, "shortcut": self.shortcut, "variant": self.variant,
            "layers": [asdict(r) for r in self.rows],
            "blocks": [asdict(b) for b in self.blocks],
            "stages": [asdict(s) for s in self.stages],
            "totals": {"params": self.params, "macs": self.macs, "weight_layers": self.weight_layers},
        }


def _pair(value) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _shape(t) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape[1:]) if isinstance(t, torch.Tensor) else ()


def _geometry(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]):
    """(kernel, stride, padding, dilation) of a layer that slides a window; None for the others."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        dilation = _pair(getattr(module, "dilation", 1))
        return _pair(module.kernel_size), _pair(module.stride), _pair(module.padding), dilation
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and len(in_shape) == 3:
        (h, w), (oh, ow) = in_shape[1:], out_shape[1:]
        if h % oh == 0 and w % ow == 0:  # then it is an ordinary pool with kernel = stride = h / oh
            return (h // oh, w // ow), (h // oh, w // ow), (0, 0), (1, 1)
        return None
    if isinstance(module, PadShortcut):
        return (1, 1), (module.stride, module.stride), (0, 0), (1, 1)
    return None


def _macs(module: nn.Module, out_shape: tuple[int, ...]) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = _pair(module.kernel_size)
        out_elements = 1
        for s in out_shape:
            out_elements *= s
        return out_elements * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


class _Tracer:
    """Forward hooks that turn one forward pass into rows, following the graph of residual blocks."""

    def __init__(self, model: nn.Module, spec: ModelSpec | None) -> None:
        self.model = model
        self.spec = spec
        self.rows: list[LayerRow] = []
        self.calls: dict[str, int] = {}
        self.state: ReceptiveField | None = ReceptiveField()  # of the tensor flowing now; None once flattened
        self.names = {m: n for n, m in model.named_modules()}
        block_paths = spec.blocks() if spec else {}
        self.block_names = {path: paper for paper, path in block_paths.items()}
        self.shortcut_members: set[str] = set()  # module paths inside some block's shortcut
        self.block_stack: list[dict] = []
        self.blocks: list[BlockInfo] = []

    def hooks(self) -> tuple[list, list]:
        """(forward-pre, forward) hooks as (module, fn) pairs for ``resnet_viz.inspect.hooks.hooked``. Leaves
        come first: on a shortcut that is itself a leaf, its row is written before the paths merge."""
        pre, leaves, post = [], [], []
        for name, module in self.model.named_modules():
            if name in self.block_names:
                sc = shortcut_of(module).module
                pre.append((module, self._block_pre))
                post.append((module, self._block_post))
                if sc is not None:
                    sc_name = self.names[sc]
                    self.shortcut_members.update(
                        [sc_name] + [f"{sc_name}.{n}" for n, _ in sc.named_modules() if n])
                    pre.append((sc, self._shortcut_pre))
                    post.append((sc, self._shortcut_post))
            if not any(True for _ in module.children()) or isinstance(module, PadShortcut):
                leaves.append((module, self._leaf))
        return pre, leaves + post

    def _block_pre(self, module, args) -> None:
        path = self.names[module]
        kind = shortcut_of(module).kind
        self.block_stack.append({"path": path, "kind": kind, "in_state": self.state, "in_shape": _shape(args[0]),
                                 "first_row": len(self.rows), "shortcut_done": False})

    def _block_post(self, module, args, output) -> None:
        frame = self.block_stack.pop()
        if frame["kind"] is not None and not frame["shortcut_done"]:
            self.state = self._merge(self.state, frame["in_state"])  # identity added inside forward()
        rows = self.rows[frame["first_row"]:]
        path = frame["path"]
        self.blocks.append(BlockInfo(
            name=self.block_names[path], path=path, stage=_stage_of_block(self.spec, path),
            shortcut=frame["kind"], input_shape=frame["in_shape"], output_shape=_shape(output),
            first_row=frame["first_row"], last_row=len(self.rows) - 1,
            params=count_params(module), macs=sum(r.macs for r in rows)))

    def _shortcut_pre(self, module, args) -> None:
        frame = self.block_stack[-1]
        if len(self.rows) == frame["first_row"]:
            raise RuntimeError(f"the shortcut of {frame['path']} runs before its main path; the receptive-field "
                               "tracer assumes the main path runs first")
        frame["main_state"] = self.state
        self.state = frame["in_state"]

    def _shortcut_post(self, module, args, output) -> None:
        frame = self.block_stack[-1]
        frame["shortcut_done"] = True
        self.state = self._merge(frame["main_state"], self.state)

    @staticmethod
    def _merge(main: ReceptiveField | None, shortcut: ReceptiveField | None) -> ReceptiveField | None:
        """The sum of the two paths (``receptive_field.merge``); a flattened map (None) has no field."""
        return merge(main, shortcut) if main is not None and shortcut is not None else main

    def _leaf(self, module, args, output) -> None:
        name = self.names[module]
        call = self.calls.get(name, 0)
        self.calls[name] = call + 1
        in_shape, out_shape = _shape(args[0]) if args else (), _shape(output)
        geometry = _geometry(module, in_shape, out_shape)
        rf = self.state
        if isinstance(module, nn.Linear) or len(out_shape) != 3:
            rf = None
        elif geometry is not None and rf is not None:
            (k, _), (s, _), (p, _), (d, _) = geometry
            rf = step(rf, k, s, p, d)
        self.state = rf
        kernel, stride, padding, dilation = geometry or (None, None, None, None)
        block_path = self.block_stack[-1]["path"] if self.block_stack else None
        role = None
        if block_path is not None:
            role = "shortcut" if name in self.shortcut_members else "main"
        self.rows.append(LayerRow(
            index=len(self.rows), name=name, type=type(module).__name__, stage=None,
            block=self.block_names.get(block_path) if block_path else None, role=role,
            kernel=kernel, stride=stride, padding=padding, dilation=dilation,
            input_shape=in_shape, output_shape=out_shape,
            params=count_params(module) if call == 0 else 0, macs=_macs(module, out_shape),
            rf=rf.size if rf is not None else None, jump=rf.jump if rf is not None else None, call=call))


def _inside(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _stage_of_block(spec: ModelSpec | None, path: str) -> str:
    if spec is None:
        return ""
    for stage, paths in spec.stages().items():
        if any(_inside(path, p) for p in paths.split(",")):
            return stage
    return ""


def _assign_stages(rows: list[LayerRow], spec: ModelSpec | None) -> list[LayerRow]:
    """Each row gets its paper stage. Layers outside every stage path (the stem's BN/ReLU, the pools)
    join the stage before them, except pools, which open the stage after them, as in Table 1 where
    the 3x3 max pool is the first line of conv2_x and the average pool sits with the fc."""
    if spec is None:
        return rows
    stages = [(stage, paths.split(",")) for stage, paths in spec.stages().items()]

    def direct(name: str) -> str | None:
        for stage, paths in stages:
            if any(_inside(name, p) for p in paths):
                return stage
        return None

    names = [direct(r.name) for r in rows]
    out, previous = [], None
    for i, row in enumerate(rows):
        stage = names[i]
        if stage is None and row.type in {c.__name__ for c in _POOLS}:
            stage = next((s for s in names[i + 1:] if s is not None), previous)
        if stage is None:
            stage = previous or stages[0][0]
        previous = stage
        out.append(dataclasses.replace(row, stage=stage))
    return out


def _stage_totals(rows: list[LayerRow], blocks: list[BlockInfo], model: nn.Module) -> list[StageTotal]:
    modules = dict(model.named_modules())
    order: list[str | None] = []
    for r in rows:
        if r.stage not in order:
            order.append(r.stage)
    totals = []
    for stage in order:
        mine = [r for r in rows if r.stage == stage]
        totals.append(StageTotal(
            name=stage, output_shape=mine[-1].output_shape,
            layers=sum(1 for r in mine if r.role != "shortcut" and isinstance(modules[r.name], (nn.Conv2d, nn.Linear))),
            blocks=sum(1 for b in blocks if b.stage == stage),
            params=sum(r.params for r in mine), macs=sum(r.macs for r in mine)))
    return totals


def _same_shape(x: torch.Tensor) -> torch.Tensor:
    return x.new_empty(x.shape)


@contextmanager
def _shape_only_norms(module: nn.Module, enabled: bool) -> Iterator[None]:
    """On the meta device a BatchNorm only needs its output shape (= its input's); its meta kernel is
    a slow Python decomposition that would take half of a ResNet-152 summary. Hooks still fire."""
    patched = []
    try:
        if enabled:
            for m in module.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and "forward" not in m.__dict__:
                    m.__dict__["forward"] = _same_shape  # shadows the method for this instance
                    patched.append(m)
        yield
    finally:
        for m in patched:
            del m.forward


def summarize_module(module: nn.Module, input_shape: tuple[int, ...], *, spec: ModelSpec | None = None,
                     model_name: str = "", shortcut: str | None = None, variant: str = "") -> Summary:
    """Rows of any module for an input of ``input_shape`` (C, H, W), run on the meta device.

    ``module`` should already live on the meta device (build it under ``with torch.device("meta")``);
    a module with real weights works too but then costs a real forward pass.
    """
    device = next((p.device for p in module.parameters()), torch.device("meta"))
    tracer = _Tracer(module, spec)
    pre, post = tracer.hooks()
    x = torch.zeros((1, *input_shape), device=device)
    on_meta = device.type == "meta"
    # The lock first: a cached template is shared, and its norms are patched too.
    with (hooked(module, forward_pre=pre, forward=post, mode=None), _shape_only_norms(module, on_meta),
          ShapesOnlyOnMeta() if on_meta else contextlib.nullcontext(), torch.no_grad()):
        try:
            module(x)
        except RuntimeError as exc:
            raise InputError("summary.forward_failed", model=model_name or type(module).__name__,
                             size="x".join(str(s) for s in input_shape), detail=str(exc).splitlines()[0][:200]
                             ) from exc
    rows = _assign_stages(tracer.rows, spec)
    blocks = sorted(tracer.blocks, key=lambda b: b.first_row)
    return Summary(model=model_name, input_size=int(input_shape[-1]), shortcut=shortcut, rows=tuple(rows),
                   blocks=tuple(blocks), stages=tuple(_stage_totals(rows, blocks, module)),
                   params=count_params(module), macs=sum(r.macs for r in rows), variant=variant)


def build_meta(name: str, *, shortcut: str | None = None, variant: str = "") -> tuple[ModelSpec, nn.Module]:
    """A zoo model on the meta device: shapes and parameter counts, no storage.

    ``variant="v1"`` moves a downsampling bottleneck's stride from its 3x3 to its first 1x1, the
    original layout of the paper (torchvision's bottleneck ResNets are "V1.5").
    Each call returns its own copy, so callers (and threads) never share hooks.
    """
    spec = get_spec(name)
    if shortcut is not None and not spec.residual:
        shortcut = None
    template = _meta_template(spec.name, shortcut, variant)
    with locked(template):  # a copy taken while a summary hooks the template would copy its hooks
        return spec, copy.deepcopy(template)


def _pooled_shape(x: torch.Tensor, output_size: Any) -> tuple[int, ...]:
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    return (*x.shape[:-2], *(x.shape[-2 + i] if s is None else s for i, s in enumerate(size)))


class ShapesOnlyOnMeta(TorchFunctionMode):
    """On meta tensors: skips in-place initialisers (they hold no values) and gives the ops whose meta kernels
    are Python references (the residual add, an out-of-place ReLU, adaptive average pooling, a linear layer
    with bias) their output directly. Those kernels are most of the time it takes to build or run a deep net
    on the meta device, and the first of them imports torch's compiler (2 s and ~150 MB) into a process that
    never compiles."""

    _SKIP = frozenset({"normal_", "uniform_", "fill_", "zero_", "trunc_normal_", "erfinv_", "clamp_"})
    _ADD = frozenset({"add", "__add__", "__radd__"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.is_meta:
            if name in self._SKIP:
                return x
            if name == "relu":
                return x.new_empty(x.shape)
            if name in self._ADD and len(args) == 2 and not kwargs:
                other = args[1]
                shape = torch.broadcast_shapes(x.shape, other.shape) if isinstance(other, torch.Tensor) else x.shape
                return x.new_empty(shape)
            if name == "linear":
                return x.new_empty((*x.shape[:-1], args[1].shape[0]))
            if name == "adaptive_avg_pool2d":
                return x.new_empty(_pooled_shape(x, args[1] if len(args) > 1 else kwargs["output_size"]))
        return func(*args, **kwargs)


@lru_cache(maxsize=32)
def _meta_template(name: str, shortcut: str | None, variant: str) -> nn.Module:
    # Built once per (model, shortcut, variant); summarize() hooks it under a lock, build_meta() copies it.
    spec = get_spec(name)
    with torch.device("meta"), ShapesOnlyOnMeta():
        model = spec.build(shortcut=shortcut)
    if variant == "v1":
        from torchvision.models import resnet as tv_resnet  # only ImageNet nets have bottlenecks

        for module in model.modules():
            if isinstance(module, tv_resnet.Bottleneck) and module.conv2.stride != (1, 1):
                module.conv1.stride, module.conv2.stride = module.conv2.stride, (1, 1)
    elif variant:
        raise ValueError(f"unknown variant {variant!r} (expected '' or 'v1')")
    model.eval()
    return model


def summarize(name: str, *, input_size: int | None = None, shortcut: str | None = None,
              variant: str = "") -> Summary:
    """Rows, blocks, stage totals and totals of zoo model ``name`` for a square input."""
    spec = get_spec(name)
    size = spec.input_size if input_size is None else input_size
    if not isinstance(size, int) or not MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE:
        raise InputError("summary.bad_input_size", size=size, low=MIN_INPUT_SIZE, high=MAX_INPUT_SIZE)
    if shortcut is not None and str(shortcut).upper() not in ("A", "B", "C"):
        raise InputError("summary.bad_shortcut", shortcut=shortcut)
    option = (str(shortcut).upper() if shortcut else spec.default_shortcut) if spec.residual else None
    model = _meta_template(spec.name, option, variant)
    return summarize_module(model, (3, size, size), spec=spec, model_name=spec.name, shortcut=option,
                            variant=variant)


# --- Table 1 and Figure 5 -------------------------------------------------------------------------

TABLE1_DEPTHS = (18, 34, 50, 101, 152)


@dataclass(frozen=True)
class Table1Cell:
    """One stage of one model: its layers as (kernel, channels) per block, times the block count."""

    stage: str
    output_size: int
    convs: tuple[tuple[int, int], ...]  # (kernel, out channels) of each main-path conv of one block
    repeat: int
    stride: int  # largest stride in the stage's first block (1 where a pool or nothing downsamples)
    pool: tuple[str, int, int] | None  # ("max" | "avg", kernel, stride) of a pool that opens the stage


@dataclass(frozen=True)
class Table1Column:
    model: str
    depth: int
    cells: tuple[Table1Cell, ...]
    params: int
    macs: int
    macs_v1: int  # the same net with the stride in the bottleneck's first 1x1, as in the paper


def table1(depths: tuple[int, ...] = TABLE1_DEPTHS, *, input_size: int = 224) -> list[Table1Column]:
    """The paper's Table 1, generated from the zoo's ResNets (torchvision's default option B)."""
    columns = []
    for depth in depths:
        s = summarize(f"resnet{depth}", input_size=input_size)
        v1 = summarize(f"resnet{depth}", input_size=input_size, variant="v1") if depth >= 50 else s
        cells = []
        for stage in s.stages:
            if stage.name is None:  # never for a zoo model: summarize() assigns every row a stage
                continue
            rows = [r for r in s.rows if r.stage == stage.name and r.role != "shortcut"]
            conv_rows = [r for r in rows if r.type == "Conv2d"]
            pools = [r for r in rows if r.type in ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d")]
            pool = None
            if pools and pools[0].kernel is not None and pools[0].stride is not None:  # set together
                pool = ("max" if "Max" in pools[0].type else "avg", pools[0].kernel[0], pools[0].stride[0])
            blocks = [b for b in s.blocks if b.stage == stage.name]
            first_block = [r for r in rows if blocks and r.block == blocks[0].name] if blocks else rows
            convs = tuple((r.kernel[0], r.output_shape[0]) for r in first_block
                          if r.type == "Conv2d" and r.kernel is not None)
            if not convs and stage.name == "fc":
                convs = tuple((1, r.output_shape[0]) for r in rows if r.type == "Linear")
            out = stage.output_shape[-1] if len(stage.output_shape) == 3 else 1
            cells.append(Table1Cell(stage=stage.name, output_size=out, convs=convs, repeat=max(len(blocks), 1),
                                    stride=max((r.stride[0] for r in conv_rows if r in first_block
                                                and r.stride is not None), default=1),
                                    pool=pool))
        columns.append(Table1Column(model=s.model, depth=depth, cells=tuple(cells), params=s.params, macs=s.macs,
                                    macs_v1=v1.macs))
    return columns


def block_pair(width: int = 64, size: int = 56) -> tuple[Summary, Summary]:
    """Figure 5: a basic block (``width`` in and out) and a bottleneck (4 x ``width`` in and out,
    ``width`` inside) on a ``size`` x ``size`` map, both with identity shortcuts."""
    if not 1 <= width <= 2048 or not 1 <= size <= 512:
        raise InputError("summary.bad_block", width=width, size=size)
    from torchvision.models import resnet as tv_resnet  # imported here: CIFAR-only pages never need torchvision

    with torch.device("meta"):
        basic = tv_resnet.BasicBlock(width, width).eval()
        bottleneck = tv_resnet.Bottleneck(4 * width, width).eval()
    return (summarize_module(basic, (width, size, size), model_name="basic"),
            summarize_module(bottleneck, (4 * width, size, size), model_name="bottleneck"))


def dimension_changes(s: Summary) -> list[dict]:
    """Where the feature map changes size or width: residual/plain blocks whose output differs from
    their input, and the layers outside blocks that do so (stem, pools, fc), with the shortcut used."""
    out: list[dict] = []
    previous: tuple[int, ...] = (3, s.input_size, s.input_size)
    block_rows = {i for b in s.blocks for i in range(b.first_row, b.last_row + 1)}
    events: list[tuple[int, dict]] = []
    for b in s.blocks:
        if b.input_shape != b.output_shape:
            events.append((b.first_row, {"name": b.name, "path": b.path, "input_shape": b.input_shape,
                                         "output_shape": b.output_shape, "shortcut": b.shortcut}))
    for r in s.rows:
        if r.index in block_rows or r.role == "shortcut":
            continue
        if r.output_shape != previous and r.type in ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                                                     "Linear"):
            events.append((r.index, {"name": r.stage or r.name, "path": r.name, "input_shape": r.input_shape,
                                     "output_shape": r.output_shape, "shortcut": None}))
        previous = r.output_shape
    for _, event in sorted(events, key=lambda e: e[0]):
        out.append(event)
    return out


def shortcut_options(name: str, *, input_size: int | None = None) -> list[dict]:
    """Paper Table 3 for one residual net: params, multiply-adds and shortcut kinds of options A, B, C."""
    spec = get_spec(name)
    if not spec.residual:
        raise InputError("summary.not_residual", model=name)
    rows: list[dict[str, Any]] = []
    for option in ("A", "B", "C"):
        s = summarize(name, input_size=input_size, shortcut=option)
        kinds = [b.shortcut for b in s.blocks]
        rows.append({"option": option, "params": s.params, "macs": s.macs,
                     "identity": kinds.count("identity"), "pad": kinds.count("pad"),
                     "projection": kinds.count("projection")})
    for row in rows:
        row["extra_params"] = row["params"] - rows[0]["params"]
        row["extra_macs"] = row["macs"] - rows[0]["macs"]
    return rows
