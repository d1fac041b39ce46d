"""Export a checkpoint as fp16 safetensors (half the size) and check that its accuracy does not move."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import DataError


def export_half(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, *, data: str | os.PathLike | None = None,
                max_change: float = 0.1, device: str = "auto") -> dict[str, Any]:
    """Write ``out_dir/<stem>.safetensors`` in fp16 with the same sidecar; with ``data``, evaluate the fp32 and the
    fp16 weights on its test split and refuse (DataError) when the accuracy moves by more than ``max_change``
    points. Returns what was recorded under the sidecar's ``"export"`` key."""
    from resnet_viz.train.evaluate import evaluate_checkpoint

    source = Path(checkpoint)
    loaded = load_checkpoint(source)
    # "resume": a campaign point's resume state (iteration, RNG, settings) is not part of a shipped checkpoint
    meta = {k: v for k, v in loaded.meta.items()
            if k not in ("path", "weights_sha256", "weights_dtype", "format", "resume")}
    record: dict[str, Any] = {"from": source.name, "dtype": "float16"}
    target = Path(out_dir) / f"{source.stem}.safetensors"
    if data is not None:
        fp32, _ = evaluate_checkpoint(source, data, device=device)
        record["fp32_accuracy"] = round(fp32.accuracy, 4)
    saved = save_checkpoint(loaded.model, target, {**meta, "export": record}, half=True)
    try:
        reloaded = load_checkpoint(saved)
        if data is not None:
            fp16, _ = evaluate_checkpoint(saved, data, device=device)
            record["fp16_accuracy"] = round(fp16.accuracy, 4)
            record["accuracy_change"] = round(fp16.accuracy - fp32.accuracy, 4)
            if abs(record["accuracy_change"]) > max_change:
                raise DataError("data.export_accuracy_moved", change=record["accuracy_change"], limit=max_change)
            save_checkpoint(reloaded.model, target, {**meta, "export": record}, half=True)
    except BaseException:
        saved.unlink(missing_ok=True)
        saved.with_suffix(".json").unlink(missing_ok=True)
        raise
    return record
