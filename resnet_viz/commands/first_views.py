"""``first-views CHECKPOINT...``: what every student's first visit computes for a shipped CIFAR-10 network (the top
patches of its stage layers, its logits on the test sample, its gradient flow), written to
``assets/first_views/<model>.npz`` for the app; and the gradient flow that page opens on at initialisation, beside
them (only where it is missing or stale: it depends on no checkpoint)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from resnet_viz import cli_args
from resnet_viz.first_views import (
    AT_INIT_FILE,
    FIRST_VIEWS_DIR,
    at_init_current,
    compute,
    compute_at_init,
    save,
    save_at_init,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_args.checkpoints(p)
    p.add_argument("--out", default=str(FIRST_VIEWS_DIR), help="folder of the first views")
    cli_args.threads(p)
    p.set_defaults(maxpool=False)


def run(args: argparse.Namespace) -> int:
    cli_args.use_threads(args)
    for _, loaded in cli_args.each_model(args):
        if loaded.spec.dataset != "cifar10":
            print(f"{loaded.label}: skipped (the pages' first views use the CIFAR-10 test sample)")
            continue
        start = time.perf_counter()
        path = save(compute(loaded), Path(args.out))
        _done(loaded.label, start, path)
    if at_init_current(Path(args.out)):
        print(f"gradient flow at initialisation: up to date in {Path(args.out) / AT_INIT_FILE}")
    else:
        start = time.perf_counter()
        _done("gradient flow at initialisation", start, save_at_init(compute_at_init(), Path(args.out)))
    return 0


def _done(what: str, start: float, path: Path) -> None:
    print(f"{what}: {time.perf_counter() - start:.1f} s, {path.stat().st_size / 1024:.0f} KB -> {path}")
