"""What a training-lab run leaves: one session's shelf of trained models (the sidebar's picker lists them), and a
trained model's checkpoint files (the page's downloads)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.checkpoints.write import save_checkpoint

TRAINED_PREFIX = "trained:"
KEPT_MODELS = 6  # two runs of three nets: older ones are dropped (a session's memory stays bounded)


class ModelShelf:
    """One session's trained models, source -> model, filled by its job's thread and read by its pages (each read
    a snapshot, under a lock). Kept in that session's state only: nothing else holds it."""

    def __init__(self, kept: int = KEPT_MODELS) -> None:
        self.kept = kept
        self._models: dict[str, LoadedModel] = {}
        self._runs = 0
        self._lock = threading.Lock()

    def add(self, models: list[LoadedModel]) -> list[str]:
        """Shelve the models of one run (the oldest beyond ``kept`` go); their sources."""
        with self._lock:
            self._runs += 1
            sources = [f"{TRAINED_PREFIX}{self._runs}:{k}:{m.spec.name}" for k, m in enumerate(models)]
            self._models.update(zip(sources, models))
            while len(self._models) > self.kept:
                self._models.pop(next(iter(self._models)))
            return sources

    def snapshot(self) -> dict[str, LoadedModel]:
        """The models now on the shelf, newest run first."""
        with self._lock:
            return dict(reversed(self._models.items()))


def checkpoint_files(loaded: LoadedModel, stem: str) -> tuple[bytes, bytes]:
    """(``<stem>.safetensors`` bytes, ``<stem>.json`` sidecar bytes) of a trained model, in the project's format,
    written by ``save_checkpoint`` (so they load back with ``resnet_viz.checkpoints.read``)."""
    meta = {k: v for k, v in loaded.meta.items() if k not in ("path", "format")}
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(loaded.model, Path(tmp) / f"{stem}.safetensors", meta)
        return path.read_bytes(), path.with_suffix(".json").read_bytes()
