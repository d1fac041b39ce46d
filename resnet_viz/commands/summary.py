"""``summary MODEL``: one row per layer (shapes, params, multiply-adds, receptive field), stage totals."""

from __future__ import annotations

import argparse

from resnet_viz import cli_args
from resnet_viz.errors import InputError
from resnet_viz.inspect.architecture import Summary, summarize
from resnet_viz.models.registry import MODELS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=f"zoo model: {', '.join(MODELS)}")
    p.add_argument("--input-size", type=int, default=None, help="square input side in pixels (default: the model's)")
    p.add_argument("--shortcut", choices=["A", "B", "C", "a", "b", "c"], default=None,
                   help="shortcut option of a residual net (paper Table 3; default: the model's)")
    p.add_argument("--v1", action="store_true",
                   help="bottleneck nets: put the stride on the first 1x1 as in the paper (torchvision is V1.5)")
    cli_args.json_output(p, "layers, blocks, stages, totals")


def _fmt_pair(v) -> str:
    return "-" if v is None else (str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}")


def format_table(s: Summary) -> str:
    head = (f"{'layer':<28} {'type':<17} {'stage':<8} {'k':>3} {'s':>2} {'p':>2} {'output':<16} "
            f"{'params':>12} {'MACs':>15} {'RF':>5} {'jump':>4}")
    lines = [f"{s.model}  input 3x{s.input_size}x{s.input_size}"
             + (f"  shortcut option {s.shortcut}" if s.shortcut else "") + ("  (V1 bottleneck)" if s.variant else ""),
             head, "-" * len(head)]
    for r in s.rows:
        name = r.name + (f" #{r.call + 1}" if r.call else "")
        lines.append(f"{name:<28} {r.type:<17} {r.stage or '-':<8} {_fmt_pair(r.kernel):>3} {_fmt_pair(r.stride):>2} "
                     f"{_fmt_pair(r.padding):>2} {'x'.join(map(str, r.output_shape)):<16} {r.params:>12,} "
                     f"{r.macs:>15,} {r.rf if r.rf is not None else '-':>5} {r.jump if r.jump is not None else '-':>4}")
    lines += ["", f"{'stage':<10} {'output':<16} {'layers':>6} {'blocks':>6} {'params':>12} {'MACs':>15}"]
    for st in s.stages:
        lines.append(f"{st.name:<10} {'x'.join(map(str, st.output_shape)):<16} {st.layers:>6} {st.blocks:>6} "
                     f"{st.params:>12,} {st.macs:>15,}")
    lines.append(f"{'total':<10} {'':<16} {s.weight_layers:>6} {len(s.blocks):>6} {s.params:>12,} {s.macs:>15,}")
    lines.append(f"= {s.params / 1e6:.2f} M parameters, {s.macs / 1e9:.2f} G multiply-adds (the paper's \"FLOPs\")")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.model.lower() not in MODELS:
        raise InputError("summary.unknown_model", model=args.model, known=", ".join(MODELS))
    s = summarize(args.model, input_size=args.input_size, shortcut=args.shortcut, variant="v1" if args.v1 else "")
    if args.json:
        cli_args.print_json(s.to_dict())
    else:
        print(format_table(s))
    return 0
