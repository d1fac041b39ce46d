"""Batched evaluation: loss, top-1 accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.errors import DataError


@dataclass
class EvalResult:
    loss: float  # mean cross-entropy (no label smoothing)
    correct: int
    total: int
    confusion: torch.Tensor  # int64 C x C, rows = true class, columns = predicted class
    classes: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy in percent."""
        return 100.0 * self.correct / max(self.total, 1)

    @property
    def error(self) -> float:
        return 100.0 - self.accuracy

    def per_class(self) -> dict[str, float]:
        """Accuracy in percent of each class that has test images."""
        rows = self.confusion.sum(dim=1)
        return {c: 100.0 * float(self.confusion[i, i]) / float(rows[i])
                for i, c in enumerate(self.classes) if rows[i] > 0}

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": round(self.accuracy, 4), "error": round(self.error, 4), "loss": round(self.loss, 6),
                "correct": self.correct, "total": self.total, "classes": list(self.classes),
                "per_class_accuracy": {k: round(v, 4) for k, v in self.per_class().items()},
                "confusion": self.confusion.tolist()}


def autocast_context(device: torch.device):
    """bf16 autocast on CUDA; full fp32 elsewhere (the CPU path is the same pipeline in fp32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def confusion_and_loss(model: nn.Module, batches, num_classes: int,
                       device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and the C x C confusion matrix over ``batches`` (kept on ``device``)."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    try:
        for x, y in batches:
            with autocast_context(device):
                logits = model(x)
            logits = logits.float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
            confusion += torch.bincount(y * num_classes + logits.argmax(1), minlength=num_classes**2)
    finally:
        model.train(was_training)
    return loss_sum, confusion.view(num_classes, num_classes)


def evaluate_model(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, mean, std,
                   classes: tuple[str, ...], batch_size: int = 500, device: str | torch.device = "cpu") -> EvalResult:
    """Evaluate ``model`` on uint8 images normalised with ``mean``/``std`` (the checkpoint's own)."""
    from resnet_viz.data import BatchLoader

    device = torch.device(device)
    model = model.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
    loader = BatchLoader(images, labels, batch_size=batch_size, mean=mean, std=std, device=device, train=False,
                         channels_last=True)
    loss_sum, confusion = confusion_and_loss(model, loader, len(classes), device)
    confusion = confusion.cpu()
    total = int(confusion.sum())
    return EvalResult(float(loss_sum) / max(total, 1), int(confusion.diagonal().sum()), total, confusion, classes)


def align_labels(labels: torch.Tensor, data_classes: tuple[str, ...],
                 model_classes: tuple[str, ...]) -> torch.Tensor:
    """Dataset labels renumbered into the model's class order (matched by name)."""
    if tuple(data_classes) == tuple(model_classes):
        return labels
    missing = sorted(set(data_classes) - set(model_classes))
    if missing:
        raise DataError("data.class_mismatch", cls=missing[0], count=len(missing))
    mapping = torch.tensor([list(model_classes).index(c) for c in data_classes], dtype=torch.int64)
    return mapping[labels]


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str | os.PathLike, *, split: str = "test",
                        batch_size: int = 500, device: str = "auto", model: str | None = None,
                        limit: int | None = None) -> tuple[EvalResult, dict[str, Any]]:
    """Load a checkpoint (ours or akamaster's) and evaluate it on ``split`` of ``data``."""
    from resnet_viz.checkpoints.read import load_checkpoint
    from resnet_viz.data import dataset_label, load_split

    loaded = load_checkpoint(checkpoint, model=model)
    images, labels, data_classes = load_split(data, split)
    if limit is not None and limit < len(images):
        # a fixed random subset (splits are stored class by class, so the first N would be one class)
        pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:max(limit, 1)].sort().values
        images, labels = images[pick], labels[pick]
    labels = align_labels(labels, data_classes, loaded.classes)
    dev = resolve_device(device)
    result = evaluate_model(loaded.model, images, labels, mean=loaded.mean, std=loaded.std, classes=loaded.classes,
                            batch_size=batch_size, device=dev)
    info = {"checkpoint": str(checkpoint), "model": loaded.name, "format": loaded.source,
            "shortcut": loaded.shortcut, "data": str(data), "dataset": dataset_label(data), "split": split,
            "mean": list(loaded.mean), "std": list(loaded.std), "device": str(dev),
            "checkpoint_accuracy": loaded.accuracy, "checkpoint_dataset": loaded.meta.get("dataset")}
    return result, info


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from resnet_viz.errors import InputError

        raise InputError("train.no_cuda")
    return dev
