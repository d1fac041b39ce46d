"""``train``: train a CIFAR ResNet or plain net (one process, or several under torchrun)."""

from __future__ import annotations

import argparse
import os

from resnet_viz import cli_args
from resnet_viz.checkpoints.find import user_checkpoint_dir
from resnet_viz.models.registry import model_names
from resnet_viz.train.loop import TrainConfig, cleanup_distributed, train
from resnet_viz.train.recipes import RECIPES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=model_names("cifar10"), metavar="NAME",
                   help="zoo model: resnet20/32/44/56/110/1202 or plain20/32/44/56/110")
    cli_args.dataset(p)
    p.add_argument("--recipe", default="fast", choices=list(RECIPES), help="paper (section 4.2) or fast (default)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="number of epochs (overrides the recipe's length)")
    length.add_argument("--iterations", type=int, help="number of iterations (overrides the recipe's length)")
    p.add_argument("--batch-size", type=int, help="global batch size (split over torchrun processes)")
    p.add_argument("--lr", type=float, help="peak / initial learning rate")
    p.add_argument("--val-split", type=int, help="hold out this many training images and evaluate on them "
                                                 "(the paper's 45k/5k split: 5000)")
    p.add_argument("--shortcut", choices=["A", "B", "C"], help="shortcut option of a ResNet (default A)")
    p.add_argument("--seed", type=int, default=0)
    cli_args.device(p)
    p.add_argument("--out", help="output directory (default: $RESNET_VIZ_CHECKPOINTS or ./checkpoints, where the "
                                 "app finds it)")
    p.add_argument("--name", help="file stem of the checkpoint (default: the model name)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last log point")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out already holds this run")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model (about a minute of compiling on a CPU, then faster steps)")
    cli_args.threads(p)
    p.add_argument("--stop-after-epochs", type=int, help="leave after this many epochs (resume later)")
    p.add_argument("--eval-every", type=int, help="also evaluate, log and checkpoint every N iterations")
    p.add_argument("--eval-limit", type=int, help="evaluate those intermediate points on a fixed random subset of "
                                                  "N images (the final accuracy always uses the whole split)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    cli_args.use_threads(args)
    cfg = TrainConfig(model=args.model, data=args.data, recipe=args.recipe, epochs=args.epochs,
                      iterations=args.iterations, batch_size=args.batch_size, lr=args.lr, val_split=args.val_split,
                      seed=args.seed, device=args.device, out=args.out or str(user_checkpoint_dir()), name=args.name,
                      shortcut=args.shortcut,
                      resume=args.resume, overwrite=args.overwrite, compile=args.compile,
                      progress=not args.no_progress, stop_after_epochs=args.stop_after_epochs,
                      eval_every=args.eval_every, eval_limit=args.eval_limit)
    try:
        result = train(cfg)
    finally:
        cleanup_distributed()
    if result.log and int(os.environ.get("RANK", "0")) == 0:
        state = "complete" if result.complete else "incomplete (resume with --resume)"
        print(f"{result.checkpoint}: {result.meta['dataset']} {result.meta['evaluated_on']} accuracy "
              f"{result.accuracy:.2f}% ({state})")
    return 0
