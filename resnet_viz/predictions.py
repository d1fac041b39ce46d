"""A model's predictions by name: the record that explanations return and plots draw (below both)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Prediction:
    index: int
    name: str
    probability: float


def top_k(logits: np.ndarray | torch.Tensor, classes: Sequence[str], k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes, most probable first."""
    logits = torch.as_tensor(np.asarray(logits, dtype=np.float32)).flatten()
    probs = torch.softmax(logits, 0)
    values, indices = probs.topk(min(k, probs.numel()))
    return [Prediction(int(i), str(classes[int(i)]) if int(i) < len(classes) else str(int(i)), float(v))
            for v, i in zip(values, indices)]
