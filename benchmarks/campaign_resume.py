"""What a compact resume costs: the same short run continued four ways from the same interruption point.

ResNet-20, the ``fast`` recipe for ``--epochs`` epochs at batch 128 on the shipped 5,000 training images, evaluated on
the 1,000-image test sample. For each seed the run stops after ``--at`` epochs, then goes on
- from its full state (weights, momentum, RNG): exactly the uninterrupted run;
- from its compact point (fp16 weights, no momentum), as the campaign does on a new machine;
- from the same point with fp32 weights (what the fp16 rounding costs, apart from the momentum);
- from its full state with every weight nudged by one part in 2^23 (a float32 rounding step): the spread that any
  perturbation at all gives, since training amplifies tiny differences (the noise floor).

    python -m benchmarks.campaign_resume [--seeds 0 1 2 3] [--epochs 6] [--at 3 5] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import torch

from resnet_viz.checkpoints.write import atomic_write
from resnet_viz.samples import write_image_folder
from resnet_viz.train import campaign


def _config(seed: int, stop: int | None = None):
    def config(cfg):
        cfg = dataclasses.replace(cfg, batch_size=128, eval_batch_size=500, seed=seed)
        return dataclasses.replace(cfg, stop_after_epochs=stop) if stop else cfg
    return config


def _nudge(resume_file: Path) -> None:
    import io

    state = torch.load(resume_file, map_location="cpu", weights_only=True)
    for value in state["model"].values():
        if value.is_floating_point():
            value.mul_(1 + 2**-23)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(resume_file, buf.getvalue())


def one(data: Path, work: Path, seed: int, epochs: int, at: int) -> dict[str, float]:
    run = campaign.Run("r", "resnet20", "s", epochs)
    first = campaign.Folders(work / "first-state", work / "first-points")
    campaign.run_plan(str(data), first, plan=(run,), say=lambda m: None, config=_config(seed, at))
    out = {}
    for mode in ("straight", "compact", "compact32", "nudged"):
        folders = campaign.Folders(work / f"{mode}-state", work / f"{mode}-points")
        shutil.copytree(first.points, folders.points)
        if mode == "compact32":  # the same point with fp32 weights: what fp16 costs, apart from the momentum
            campaign.write_point(first.resume_file(run), first.checkpoint(run), folders.point(run), half=False)
        elif mode != "compact":
            shutil.copytree(first.state, folders.state)
        if mode == "nudged":
            _nudge(folders.resume_file(run))
        campaign.run_plan(str(data), folders, plan=(run,), say=lambda m: None, config=_config(seed))
        out[mode] = json.loads(folders.point(run).with_suffix(".json").read_text())["accuracy"]
    for path in work.iterdir():
        shutil.rmtree(path) if path.is_dir() else None
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--at", nargs="+", type=int, default=[3, 5])
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = write_image_folder(Path(tmp) / "subset.tar")
        for at in args.at:
            for seed in args.seeds:
                work = Path(tmp) / "work"
                work.mkdir(exist_ok=True)
                acc = one(data, work, seed, args.epochs, at)
                gaps = {f"{m}_gap": round(acc[m] - acc["straight"], 2) for m in ("compact", "compact32", "nudged")}
                rows.append({"at": at, "seed": seed, **acc, **gaps})
                if not args.json:
                    print(json.dumps(rows[-1]), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for at in args.at:
        for kind in ("compact_gap", "compact32_gap", "nudged_gap"):
            gaps = [r[kind] for r in rows if r["at"] == at]
            print(f"stopped after {at}/{args.epochs} epochs, {kind}: mean {statistics.mean(gaps):+.2f}, "
                  f"mean |gap| {statistics.mean(abs(g) for g in gaps):.2f}, range {min(gaps):+.1f} .. {max(gaps):+.1f}"
                  f" points ({len(gaps)} seeds)")


if __name__ == "__main__":
    main()
