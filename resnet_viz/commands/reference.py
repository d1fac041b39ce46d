"""``reference``: train the reference set (plain/ResNet-20 ... 110) on one GPU inside a time budget, one archive.

See ``resnet_viz.train.reference`` for the design, the recipe and the time estimate; ``docs/gpu.md`` for the run
on a GPU machine. ``--smoke`` runs the same processes for a few iterations on the CPU.
"""

from __future__ import annotations

import argparse

from resnet_viz import cli_args
from resnet_viz.train.reference import OPTIONAL, PAPER_EPOCHS, REQUIRED, ReferenceOptions, run_reference


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="the CIFAR-10 image-folder archive (e.g. cifar10-jpeg.tar.gz); not with --smoke")
    p.add_argument("--out", required=True, help="output folder: reference.tar.gz, summary.json, reference-work/")
    p.add_argument("--budget-s", type=float, default=480.0, help="wall time of the whole command (default 480)")
    p.add_argument("--models", help=f"comma-separated (default {','.join(REQUIRED + OPTIONAL)}; "
                                    f"with --smoke {','.join(REQUIRED)})")
    p.add_argument("--optional", choices=["auto", "yes", "no"], default="auto",
                   help=f"{'/'.join(OPTIONAL)}: train them only if they cost the others <= 20%% of their epochs "
                        "(auto), always, or never")
    p.add_argument("--batch-size", type=int, default=512, help="lr = 0.1 x batch / 128 (default 512)")
    p.add_argument("--epochs", type=int, help="a fixed number of epochs instead of the calibrated plan")
    p.add_argument("--max-epochs", type=int, default=PAPER_EPOCHS, help="the plan's ceiling (the paper's 164)")
    p.add_argument("--seed", type=int, default=0)
    cli_args.device(p)
    p.add_argument("--compile", action="store_true",
                   help="torch.compile each model (off by default: see docs/gpu.md for the trade-off)")
    p.add_argument("--compile-mode", choices=["default", "reduce-overhead", "max-autotune-no-cudagraphs"],
                   default="default", help="torch.compile mode (reduce-overhead: CUDA graphs)")
    p.add_argument("--calibration-s", type=float, default=20.0, help="seconds timing all models together")
    p.add_argument("--smoke", action="store_true", help="CPU smoke run: a few iterations of each model on 120 "
                                                        "shipped images, same processes and archive")


def run(args: argparse.Namespace) -> int:
    default = REQUIRED if args.smoke else REQUIRED + OPTIONAL
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else default
    opts = ReferenceOptions(out=args.out, data=args.data, budget_s=args.budget_s, batch_size=args.batch_size,
                            models=models, optional=args.optional, epochs=args.epochs, max_epochs=args.max_epochs,
                            seed=args.seed, device=args.device, compile=args.compile,
                            compile_mode=None if args.compile_mode == "default" else args.compile_mode,
                            calibration_s=args.calibration_s, smoke=args.smoke)
    summary = run_reference(opts)
    missing = [m for m in REQUIRED if m in models and summary["models"].get(m, {}).get("checkpoint") is None]
    print(f"{args.out}/reference.tar.gz: {len(summary['models_trained'])} models, {summary['epochs']} epochs, "
          f"{summary['wall_s']} s" + (f"; no checkpoint for {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0
