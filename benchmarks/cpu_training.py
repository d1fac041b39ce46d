"""The CPU trainer against this machine's multiply-add bound, and what the campaign's networks cost.

For ResNet-20/56/110 and 1 and 2 threads: images/s of the training step exactly as ``train`` runs it (channels_last,
batch 256 of the ``fast`` recipe, Nesterov SGD, label smoothing; the batch built by ``BatchLoader``), next to the
bound that the machine's own fp32 matrix multiply sets (one forward pass costs M multiply-adds per image, a training
step about 3 M: forward, and the backward pass's two products per layer). Then the campaign's plan at those speeds
(CPU-hours per network) and the alternatives measured side by side at one thread (batch 512; torch.compile).

    python -m benchmarks.cpu_training [--models resnet20 resnet56 resnet110] [--threads 1 2] [--seconds 12] [--json]

A running campaign (``python -m resnet_viz campaign``) is paused for the measurement and continued afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from resnet_viz.data import BatchLoader
from resnet_viz.inspect.architecture import summarize
from resnet_viz.models.registry import build_model
from resnet_viz.train import campaign
from resnet_viz.train.recipes import fast_recipe

TRAIN_IMAGES = 50_000
BACKWARD_FACTOR = 3  # a training step's multiply-adds per forward multiply-add


@contextlib.contextmanager
def campaign_paused() -> Iterator[None]:
    folders = campaign.Folders()
    pid = campaign.running_pid(folders)
    if pid is not None and not campaign.is_paused(pid):
        campaign.signal_campaign(folders, "pause")
        try:
            yield
        finally:
            campaign.signal_campaign(folders, "continue")
    else:
        yield


def timed(step: Callable[[], None], seconds: float, warmup: int = 2) -> float:
    """Seconds per call of ``step``, over at least ``seconds`` (and 3 calls) after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        step()
        calls += 1
    return (time.perf_counter() - start) / calls


def macs_per_second(threads: int, seconds: float) -> float:
    """This machine's fp32 multiply-adds per second with ``threads`` threads: a 1024^3 matrix product."""
    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return 1024**3 / timed(lambda: torch.mm(a, b), seconds / 2)


def training_images_per_second(model_name: str, threads: int, seconds: float, *, batch: int = 256,
                               compile: bool = False) -> float:
    torch.set_num_threads(threads)
    recipe = fast_recipe(model_name)
    torch.manual_seed(0)
    images = torch.randint(0, 256, (batch * 4, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (batch * 4,))
    loader = BatchLoader(images, labels, batch_size=batch, mean=(0.5,) * 3, std=(0.25,) * 3, train=True,
                         channels_last=True)
    model = build_model(model_name).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    net = torch.compile(model) if compile else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=recipe.momentum, nesterov=recipe.nesterov,
                                weight_decay=recipe.weight_decay)
    batches = iter(())

    def step() -> None:
        nonlocal batches
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        loss = F.cross_entropy(net(x), y, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return batch / timed(step, seconds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet20", "resnet56", "resnet110"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--seconds", type=float, default=12.0, help="measuring time per number")
    p.add_argument("--no-alternatives", action="store_true", help="skip batch 512 and torch.compile")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    before = torch.get_num_threads()
    result: dict = {"models": {}, "bound_macs_per_s": {}}
    with campaign_paused():
        for threads in args.threads:
            result["bound_macs_per_s"][threads] = macs_per_second(threads, args.seconds)
        for name in args.models:
            macs = summarize(name).macs
            row: dict = {"forward_macs": macs, "threads": {}}
            for threads in args.threads:
                ips = training_images_per_second(name, threads, args.seconds)
                bound = result["bound_macs_per_s"][threads] / (BACKWARD_FACTOR * macs)
                row["threads"][threads] = {"images_per_s": ips, "bound_images_per_s": bound,
                                           "share_of_bound": ips / bound,
                                           "epoch_s": TRAIN_IMAGES / ips}
            if not args.no_alternatives:
                row["batch512_images_per_s"] = training_images_per_second(name, 1, args.seconds, batch=512)
                row["compiled_images_per_s"] = training_images_per_second(name, 1, args.seconds, compile=True)
            result["models"][name] = row
    torch.set_num_threads(before)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for threads, value in result["bound_macs_per_s"].items():
        print(f"fp32 multiply-add bound, {threads} thread(s): {value / 1e9:.1f} G multiply-adds/s (1024^3 matmul)")
    print(f"{'model':10} {'threads':>7} {'img/s':>8} {'bound':>8} {'share':>6} {'epoch':>8} {'30 epochs':>10}")
    for name, row in result["models"].items():
        for threads, r in row["threads"].items():
            print(f"{name:10} {threads:>7} {r['images_per_s']:8.1f} {r['bound_images_per_s']:8.1f} "
                  f"{r['share_of_bound']:6.1%} {r['epoch_s']:7.0f}s {30 * r['epoch_s'] / 3600:9.2f}h")
    if not args.no_alternatives:
        print("\nside by side at one thread (the campaign's setting), images/s and cost against `fast` (batch 256):")
        for name, row in result["models"].items():
            base = row["threads"][1]["images_per_s"] if 1 in row["threads"] else float("nan")
            b512, compiled = row["batch512_images_per_s"], row["compiled_images_per_s"]
            print(f"{name:10} fast (batch 256) {base:7.1f}   batch 512 {b512:7.1f} ({base / b512:.2f}x the time)   "
                  f"compiled {compiled:7.1f} ({base / compiled:.2f}x the time)")


if __name__ == "__main__":
    main()
