"""Training throughput (images/s): resnet_viz's device-resident pipeline against a standard baseline.

Baseline, written the usual way: a torchvision-CIFAR10-style dataset holding HWC uint8 arrays, per-sample
transforms (PIL image, RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize), a DataLoader
with shuffling, fp32, contiguous memory. Ours: resnet_viz.data.BatchLoader (data on the device, batched crop
and flip, channels_last, bf16 autocast on CUDA) feeding the same model with the same optimiser and batch
size. Both run in this one process, one after the other, on the same machine; the ratio is printed.

    python benchmarks/train_throughput.py --model resnet20 --iterations 30 [--compile] [--data PATH] [--json]
    python benchmarks/train_throughput.py --device cuda --model resnet56 --batch-size 512 --workers 8 \
        --iterations 60 --warmup 10 --compile --json-out bench.json      # the GPU run (benchmarks/gpu_run.sh)

On CUDA both sides run with cudnn.benchmark on (each convolution's algorithm timed once, as fixed shapes allow).
``--json-out`` writes the result after each phase, so a run stopped by a time limit keeps the phases it finished.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from resnet_viz import PROJECT_ROOT as ROOT
from resnet_viz.data import BatchLoader, channel_stats, load_split
from resnet_viz.models.registry import build_model
from resnet_viz.train.evaluate import autocast_context, resolve_device

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


class CIFAR10Style(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per sample: a PIL image from an HWC array, then transforms."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray, transform) -> None:
        self.data, self.targets, self.transform = images_hwc, labels, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[i])), int(self.targets[i])


def _step(model, optimizer, x, y, device, amp: bool) -> None:
    with autocast_context(device) if amp else contextlib.nullcontext():
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(batches, model, optimizer, device, iterations: int, warmup: int, *, to_device,
          amp: bool = True) -> tuple[float, float]:
    """(seconds of the warm-up iterations, which include torch.compile's compilation; seconds of the timed ones)"""
    it = iter(batches)
    done, start = 0, None
    begin = time.perf_counter()
    while done < warmup + iterations:
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(batches)
            continue
        x, y = to_device(x, y)
        _step(model, optimizer, x, y, device, amp)
        done += 1
        if done == warmup:
            _sync(device)
            start = time.perf_counter()
    _sync(device)
    return start - begin, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet20")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    p.add_argument("--threads", type=int, help="torch.set_num_threads")
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true", help="also time our pipeline with torch.compile (train --compile)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--json-out", help="also write the result (so far) to this file after each phase")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    images, labels, classes = load_split(args.data, "train")
    mean, std = channel_stats(images)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = cuda
    n = args.iterations * args.batch_size
    result: dict = {"model": args.model, "device": str(device), "batch_size": args.batch_size,
                    "iterations": args.iterations, "threads": torch.get_num_threads(), "baseline_workers": args.workers,
                    "torch": torch.__version__}
    if cuda:
        result["gpu"] = torch.cuda.get_device_name(device)

    def record(**values) -> None:
        result.update(values)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(result, f, indent=1)

    def fresh():
        torch.manual_seed(0)
        model = build_model(args.model, num_classes=len(classes)).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
        return model.train(), opt

    # baseline: the standard way
    from torchvision import transforms

    tf = transforms.Compose([transforms.RandomCrop(images.shape[-1], padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize(mean, std)])
    ds = CIFAR10Style(images.permute(0, 2, 3, 1).numpy(), labels.numpy(), tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                     num_workers=args.workers, pin_memory=cuda,
                                     persistent_workers=args.workers > 0)
    model, opt = fresh()
    _, base_s = _time(dl, model, opt, device, args.iterations, args.warmup, amp=False,
                      to_device=lambda x, y: (x.to(device, non_blocking=True), y.to(device, non_blocking=True)))
    del dl
    record(baseline_img_per_s=round(n / base_s, 1), baseline_epoch_s=round(len(images) / (n / base_s), 2))

    # ours: the trainer's pipeline (train --compile adds torch.compile)
    loader = BatchLoader(images, labels, batch_size=args.batch_size, mean=mean, std=std, device=device, train=True,
                         channels_last=True)

    def ours(compiled: bool) -> tuple[float, float]:
        model, opt = fresh()
        model = model.to(memory_format=torch.channels_last)
        net = torch.compile(model) if compiled else model
        return _time(loader, net, opt, device, args.iterations, args.warmup, to_device=lambda x, y: (x, y))

    _, ours_s = ours(False)
    record(ours_img_per_s=round(n / ours_s, 1), ratio=round(base_s / ours_s, 3),
           ours_epoch_s=round(len(images) / (n / ours_s), 2))
    if args.compile:
        warm_s, compiled_s = ours(True)
        record(compiled_img_per_s=round(n / compiled_s, 1), compiled_ratio=round(base_s / compiled_s, 3),
               compiled_epoch_s=round(len(images) / (n / compiled_s), 2), compile_s=round(warm_s, 1))
    if cuda:
        record(peak_memory_mb=round(torch.cuda.max_memory_allocated(device) / 2**20, 1))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.model} on {device}, batch {args.batch_size}, {args.iterations} iterations:")
        print(f"  baseline (Dataset + per-sample transforms + DataLoader, fp32): {result['baseline_img_per_s']} img/s")
        print(f"  resnet_viz pipeline:                                       {result['ours_img_per_s']} img/s")
        print(f"  ratio: {result['ratio']}x   (one epoch of {len(images)} images: {result['ours_epoch_s']} s)")
        if args.compile:
            print(f"  resnet_viz pipeline + torch.compile:                       {result['compiled_img_per_s']} img/s")
            print(f"  ratio: {result['compiled_ratio']}x   (one epoch: {result['compiled_epoch_s']} s; compiling and "
                  f"{args.warmup} warm-up iterations: {result['compile_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
