"""Training recipes for the CIFAR-10 nets and their learning-rate schedules.

- ``paper``: section 4.2 of He et al. (2015): SGD with momentum 0.9, weight decay 1e-4, batch 128, lr 0.1
  divided by 10 at 32k and 48k iterations, 64k iterations, 4-pixel zero-pad crop + horizontal flip;
  ResNet-110 (and deeper) warms up at lr 0.01 for the first 400 iterations. ``val_split=5000`` gives the
  paper's 45k/5k train/validation split.
- ``fast``: a short schedule: batch 256, Nesterov SGD, peak lr 0.2 reached linearly over the first 15% of
  the iterations and decayed linearly to 0 (one cycle), weight decay 5e-4, label smoothing 0.1, same
  augmentation, 30 epochs by default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_viz.errors import InputError
from resnet_viz.models.registry import get_spec


@dataclass(frozen=True)
class Recipe:
    name: str
    epochs: int | None  # one of epochs / iterations sets the length
    iterations: int | None
    batch_size: int
    lr: float
    weight_decay: float
    momentum: float
    nesterov: bool
    schedule: str  # "steps" (divide by 10 at the milestones) or "onecycle" (linear up, linear down)
    milestones: tuple[float, ...] = ()  # fractions of the total iterations, for "steps"
    warmup_fraction: float = 0.0  # for "onecycle"
    warmup_iterations: int = 0  # constant warm-up lr for "steps" (the paper's ResNet-110 trick)
    warmup_lr: float = 0.0
    label_smoothing: float = 0.0
    pad: int = 4
    flip: bool = True
    val_split: int = 0  # hold out this many training images as the evaluation set (0: use the test split)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    def total_iterations(self, steps_per_epoch: int) -> int:
        """The run's length in iterations (a length in epochs is that many times ``steps_per_epoch``)."""
        if self.iterations is not None:
            return self.iterations
        assert self.epochs is not None
        return self.epochs * steps_per_epoch


def paper_recipe(model: str) -> Recipe:
    deep = get_spec(model).depth >= 110
    return Recipe(name="paper", epochs=None, iterations=64_000, batch_size=128, lr=0.1, weight_decay=1e-4,
                  momentum=0.9, nesterov=False, schedule="steps", milestones=(0.5, 0.75),
                  warmup_iterations=400 if deep else 0, warmup_lr=0.01 if deep else 0.0)


def fast_recipe(model: str) -> Recipe:
    return Recipe(name="fast", epochs=30, iterations=None, batch_size=256, lr=0.2, weight_decay=5e-4,
                  momentum=0.9, nesterov=True, schedule="onecycle", warmup_fraction=0.15, label_smoothing=0.1)


RECIPES: dict[str, Callable[[str], Recipe]] = {"paper": paper_recipe, "fast": fast_recipe}


def make_recipe(name: str, model: str, *, epochs: int | None = None, iterations: int | None = None,
                batch_size: int | None = None, lr: float | None = None, val_split: int | None = None) -> Recipe:
    """A named recipe with the user's overrides (epochs and iterations exclude each other)."""
    if name not in RECIPES:
        raise InputError("train.unknown_recipe", recipe=name, recipes=", ".join(RECIPES))
    r = RECIPES[name](model)
    changes: dict[str, Any] = {}
    if epochs is not None and iterations is not None:
        raise InputError("train.epochs_and_iterations")
    if epochs is not None:
        if epochs < 1:
            raise InputError("train.bad_number", name="epochs", value=epochs)
        changes.update(epochs=int(epochs), iterations=None)
    if iterations is not None:
        if iterations < 1:
            raise InputError("train.bad_number", name="iterations", value=iterations)
        changes.update(iterations=int(iterations), epochs=None)
    if batch_size is not None:
        if batch_size < 1:
            raise InputError("train.bad_number", name="batch-size", value=batch_size)
        changes["batch_size"] = int(batch_size)
    if lr is not None:
        if not (lr > 0 and math.isfinite(lr)):
            raise InputError("train.bad_number", name="lr", value=lr)
        changes["lr"] = float(lr)
    if val_split is not None:
        if val_split < 0:
            raise InputError("train.bad_number", name="val-split", value=val_split)
        changes["val_split"] = int(val_split)
    return dataclasses.replace(r, **changes)


def learning_rate(recipe: Recipe, iteration: int, total: int) -> float:
    """The learning rate of ``iteration`` (0-based) in a run of ``total`` iterations."""
    if recipe.schedule == "steps":
        if iteration < recipe.warmup_iterations:
            return recipe.warmup_lr
        drops = sum(iteration >= round(m * total) for m in recipe.milestones)
        return recipe.lr * 0.1**drops
    if recipe.schedule == "onecycle":
        warm = max(1, round(recipe.warmup_fraction * total))
        if iteration < warm:
            return recipe.lr * (iteration + 1) / warm
        return recipe.lr * max(0.0, (total - iteration) / max(1, total - warm))
    raise ValueError(f"unknown schedule {recipe.schedule!r}")
