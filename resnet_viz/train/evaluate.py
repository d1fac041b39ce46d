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
from resnet_viz.runtime import INFERENCE_BATCH


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


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """int64 C x C counts: rows = true class, columns = predicted class."""
    flat = torch.bincount(labels * num_classes + predicted, minlength=num_classes**2)
    return flat.view(num_classes, num_classes)


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
            confusion += confusion_matrix(y, logits.argmax(1), num_classes).view(-1)
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
                        limit: int | None = None, maxpool: bool = False) -> tuple[EvalResult, dict[str, Any]]:
    """Load a checkpoint (ours or a community format) and evaluate it on ``split`` of ``data``."""
    from resnet_viz.checkpoints.read import load_checkpoint
    from resnet_viz.data import dataset_label, load_split

    loaded = load_checkpoint(checkpoint, model=model, maxpool=maxpool)
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


# ---------------------------------------------------------------- a shared model on a shipped sample

@dataclass(frozen=True)
class Mistake:
    """One wrongly classified image: its index in the sample, the true and predicted class, and the softmax
    probability the model gave its (wrong) prediction."""

    index: int
    true: int
    predicted: int
    confidence: float


@dataclass(frozen=True)
class SampleEvaluation:
    """A model's evaluation on an image sample: the totals, and each image's logits (N x C, float32)."""

    result: EvalResult
    logits: torch.Tensor
    labels: torch.Tensor  # in the model's class order

    def mistakes(self, k: int = 12) -> list[Mistake]:
        return confident_mistakes(self.logits, self.labels, k)


def sample_logits(model: nn.Module, images: torch.Tensor, *, mean, std, batch_size: int = INFERENCE_BATCH,
                  on_batch=None) -> torch.Tensor:
    """float32 N x C logits of uint8 ``images`` (normalised with the model's ``mean``/``std``), in eval mode,
    without gradients, under the model's lock: a cached model shared by every session is left as it was."""
    from resnet_viz.data import normalize
    from resnet_viz.inspect.hooks import hooked

    out = []
    with torch.no_grad(), hooked(model, mode="eval"):
        for start in range(0, len(images), batch_size):
            out.append(model(normalize(images[start:start + batch_size], mean, std)).float())
            if on_batch is not None:
                on_batch(min(start + batch_size, len(images)))
    return torch.cat(out) if out else torch.zeros((0, 0))


def evaluate_logits(logits: torch.Tensor, labels: torch.Tensor, classes: tuple[str, ...]) -> EvalResult:
    """Loss, top-1 and the confusion matrix from logits already computed (labels in the model's order)."""
    if len(logits) == 0:
        return EvalResult(0.0, 0, 0, torch.zeros((len(classes), len(classes)), dtype=torch.int64), classes)
    confusion = confusion_matrix(labels, logits.argmax(1), len(classes))
    loss = float(F.cross_entropy(logits.double(), labels, reduction="mean"))
    return EvalResult(loss, int(confusion.diagonal().sum()), len(labels), confusion, classes)


def confident_mistakes(logits: torch.Tensor, labels: torch.Tensor, k: int = 12) -> list[Mistake]:
    """The ``k`` wrong predictions made with the highest softmax probability, most confident first (ties: lower
    index first)."""
    if len(logits) == 0:
        return []
    probs = torch.softmax(logits.double(), dim=1)
    confidence, predicted = probs.max(dim=1)
    wrong = torch.nonzero(predicted != labels).flatten().tolist()
    wrong.sort(key=lambda i: (-float(confidence[i]), i))
    return [Mistake(i, int(labels[i]), int(predicted[i]), float(confidence[i])) for i in wrong[:max(k, 0)]]


def evaluate_sample(loaded, images: torch.Tensor, labels: torch.Tensor, data_classes: tuple[str, ...], *,
                    batch_size: int = INFERENCE_BATCH, on_batch=None) -> SampleEvaluation:
    """A loaded model (``resnet_viz.checkpoints.read.LoadedModel``) on uint8 images with their own class names:
    labels renumbered into the model's classes (DataError when the model lacks one), one forward pass."""
    model_labels = align_labels(labels, data_classes, loaded.classes)
    logits = sample_logits(loaded.model, images, mean=loaded.mean, std=loaded.std, batch_size=batch_size,
                           on_batch=on_batch)
    return evaluation_of(logits, model_labels, loaded.classes)


def evaluation_of(logits: torch.Tensor, model_labels: torch.Tensor, classes: tuple[str, ...]) -> SampleEvaluation:
    """The evaluation from logits already computed (by ``evaluate_sample``, or shipped), labels in the model's
    order (``align_labels``)."""
    return SampleEvaluation(evaluate_logits(logits, model_labels, classes), logits, model_labels)


SIDECAR_MAX_BYTES = 1024 * 1024


def load_uploaded(files, *, max_bytes: int):
    """A model from uploaded files ``[(name, bytes), ...]``: one checkpoint (``.safetensors``, ``.pt``, ``.pth``,
    ``.th``) and, for a ``.safetensors``, optionally its ``.json`` sidecar (same stem, or the only one uploaded).

    Everything goes through ``resnet_viz.checkpoints.read`` (no pickle code ever runs); a sidecar that does not
    belong to the weights (its ``weights_sha256``) is refused as ``load_checkpoint`` refuses it.
    """
    import hashlib
    import json
    from pathlib import Path

    from resnet_viz.checkpoints.read import CHECKPOINT_SUFFIXES, load_checkpoint_bytes
    from resnet_viz.errors import LoadError

    files = list(files)
    weights = [(n, d) for n, d in files if Path(n).suffix.lower() in CHECKPOINT_SUFFIXES]
    sidecars = [(n, d) for n, d in files if Path(n).suffix.lower() == ".json"]
    if len(weights) != 1:
        raise LoadError("evaluate.upload_count", count=len(weights), suffixes=", ".join(CHECKPOINT_SUFFIXES))
    name, data = weights[0]
    stem = Path(name).stem
    matching = [s for s in sidecars if Path(s[0]).stem == stem] or (sidecars if len(sidecars) == 1 else [])
    sidecar = None
    if matching and Path(name).suffix.lower() == ".safetensors":
        side_name, side_bytes = matching[0]
        try:
            if len(side_bytes) > SIDECAR_MAX_BYTES:
                raise ValueError("too large")
            sidecar = json.loads(side_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise LoadError("evaluate.bad_sidecar", file=side_name) from None
        if not isinstance(sidecar, dict):
            raise LoadError("evaluate.bad_sidecar", file=side_name)
        if sidecar.get("weights_sha256") and sidecar["weights_sha256"] != hashlib.sha256(data).hexdigest():
            raise LoadError("load.sidecar_mismatch", file=name)
    return load_checkpoint_bytes(data, name, sidecar=sidecar, max_bytes=max_bytes)


@dataclass(frozen=True)
class Highlights:
    """What the evaluation page says in words, read off the confusion matrix."""

    best: tuple[str, float]  # (class, accuracy %) of the best class (first in the model's order on a tie)
    worst: tuple[str, float]
    confusion: tuple[str, str, int] | None  # the largest off-diagonal count (true, predicted, images); None: none


def highlights(result: EvalResult) -> Highlights | None:
    """Best and worst class and the most frequent confusion; None when no class has images."""
    per_class = result.per_class()
    if not per_class:
        return None
    best = max(per_class.items(), key=lambda kv: kv[1])
    worst = min(per_class.items(), key=lambda kv: kv[1])
    off = result.confusion.clone()
    off.fill_diagonal_(0)
    top = int(off.argmax())
    n = len(result.classes)
    count = int(off.view(-1)[top])
    pair = (result.classes[top // n], result.classes[top % n], count) if count > 0 else None
    return Highlights(best, worst, pair)


# ---------------------------------------------------------------- the file's own figure beside this page's

# Networks trained on the official CIFAR-10 pixels lose about ten points on the JPEG quality-75 copy: a published
# ResNet-20 (akamaster/pytorch_resnet_cifar10) with 91.7 % on the official test set scores about 81 % on the copy
# (measured when the copy was made; its README).
@dataclass(frozen=True)
class CopyReference:
    model: str
    official: float  # % test accuracy on the official CIFAR-10
    copy: float  # % on the JPEG copy


JPEG_COPY_REFERENCE = CopyReference("ResNet-20", 91.7, 81.0)
Z95 = 1.96  # a normal 95 % interval


def sampling_margin(accuracy: float, images: int) -> float:
    """Half the 95 % interval (points) of an accuracy measured on ``images`` images: how far the same network's
    accuracy on the whole test split may lie from it."""
    p = min(max(accuracy / 100.0, 0.0), 1.0)
    return 100.0 * Z95 * (p * (1.0 - p) / max(images, 1)) ** 0.5


@dataclass(frozen=True)
class ClaimGap:
    """The accuracy a checkpoint carries next to the one measured on the sample, and where the difference comes
    from: the official pixels against the JPEG copy, or the sample against the whole split."""

    claimed: float
    measured: float
    images: int
    official: bool  # the claim was measured on the official CIFAR-10 (the sample is the JPEG copy)

    @property
    def gap(self) -> float:
        return self.claimed - self.measured

    @property
    def margin(self) -> float:
        return sampling_margin(self.measured, self.images)

    @property
    def within_sampling(self) -> bool:
        return abs(self.gap) <= self.margin


def claim_gap(claimed: float | None, claimed_on: str | None, measured: float, images: int, *,
              official_claim: bool = False) -> ClaimGap | None:
    """The comparison of a checkpoint's own figure with the sample's, when it is known on what the figure was
    measured: ``claimed_on`` "CIFAR-10" (official pixels) or the JPEG copy's label; ``official_claim`` for a
    community file's best_prec1. None without a figure or with one on other data."""
    from resnet_viz.data import JPEG_COPY_LABEL

    if claimed is None:
        return None
    if official_claim or claimed_on == "CIFAR-10":
        return ClaimGap(claimed, measured, images, True)
    if claimed_on == JPEG_COPY_LABEL:
        return ClaimGap(claimed, measured, images, False)
    return None


def claim_sentence(g: ClaimGap, lang: str = "en") -> str:
    """Why the file's own figure and this page's differ, with the numbers."""
    from resnet_viz.i18n import t

    ref = JPEG_COPY_REFERENCE
    numbers = dict(claimed=f"{g.claimed:.2f}", measured=f"{g.measured:.1f}", gap=f"{abs(g.gap):.1f}",
                   images=f"{g.images:,}", margin=f"{g.margin:.1f}", model=ref.model,
                   ref_official=f"{ref.official:.1f}", ref_copy=f"{ref.copy:.0f}",
                   ref_loss=f"{ref.official - ref.copy:.0f}")
    if g.official:
        return t("evaluate.claim_official", lang, **numbers)
    return t("evaluate.claim_same_within" if g.within_sampling else "evaluate.claim_same_beyond", lang, **numbers)


def percent_labels(probabilities: list[float], most_decimals: int = 4) -> list[str]:
    """Probabilities as percentages, each with the fewest decimals that tell it apart from the others and never
    round a probability below 1 up to 100 ("99.97", not "100"); one that needs more than ``most_decimals`` reads
    "> 99.9999"."""
    def text(p: float, decimals: int) -> str:
        return f"{100 * p:.{decimals}f}"

    out = []
    for p in probabilities:
        for decimals in range(most_decimals + 1):
            mine = text(p, decimals)
            if (p >= 1 or float(mine) < 100) and all(text(q, decimals) != mine for q in probabilities if q != p):
                out.append(mine)
                break
        else:  # equal to another one at every precision shown, or closer to 1 than it can show
            out.append(f"> {100 - 10 ** -most_decimals:.{most_decimals}f}" if p < 1 and float(mine) >= 100 else mine)
    return out
