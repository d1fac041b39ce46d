"""Does the training lab's default run separate plain from residual within two minutes on this machine?

"Separates" is the page's own verdict (``resnet_viz.train.training_lab.curves``): every plain net and the ResNet of
its depth have trained ``VERDICT_MIN_ITERATIONS`` steps, and the plain net's training loss (mean of the last
``WINDOW`` iterations) is above the ResNet's by more than ``NOISE_SE`` standard errors of the difference. For each
seed the default run is built and stepped as the app's thread does (``LabRun``, its worker threads, one torch
thread, the server's allocator setting: ``configure_allocator``, whose fixed 64 KB mmap threshold made a step
0.67-0.82 s instead of 0.41-0.47 s until 2026-12-07; ``--no-allocator`` leaves glibc's default, as this script did
before that day) for
``--seconds`` of wall time from "Train"; the script prints the gap, its noise and whether it is settled, and how many
seeds settled.

    python benchmarks/training_lab_verdict.py [--seeds 5] [--seconds 120] [--json out.json]
    python benchmarks/training_lab_verdict.py --nets plain20 plain44 resnet44 --batch 16   # another choice

On a machine shared with other work the steps taken in two minutes move with the load: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from resnet_viz import cli_args, runtime
from resnet_viz.runtime import configure_threads
from resnet_viz.train.training_lab.curves import loss_gaps
from resnet_viz.train.training_lab.settings import LabSettings, NetChoice
from resnet_viz.train.training_lab.stepper import LabRun, lab_data


def verdict_at(settings: LabSettings, seconds: float) -> dict:
    """Step the run for ``seconds`` of wall time from its start; the residual verdicts then."""
    start, cpu = time.perf_counter(), time.process_time()
    run = LabRun(settings)
    settled_at = None
    while not run.done and time.perf_counter() - start < seconds:
        run.step()
        residual = [g for g in loss_gaps(run.nets) if g.kind == "residual"]
        if settled_at is None and residual and all(g.settled and g.gap > 0 for g in residual):
            settled_at = round(time.perf_counter() - start, 1)
    run.stop()
    gaps = [g for g in loss_gaps(run.nets) if g.kind == "residual"]
    return {"seed": settings.seed, "iterations": run.iteration, "wall_s": round(time.perf_counter() - start, 1),
            "cpu_s": round(time.process_time() - cpu, 1), "load": round(os.getloadavg()[0], 1),
            "settled": bool(gaps) and all(g.settled and g.gap > 0 for g in gaps), "first_settled_s": settled_at,
            "gaps": [{"first": g.first, "second": g.second, "gap": round(g.gap, 3), "noise": round(g.noise, 3)}
                     for g in gaps]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the app's default: 1)")
    p.add_argument("--nets", nargs="+", help="zoo names (default: the lab's)")
    p.add_argument("--batch", type=int, help="default: the lab's")
    p.add_argument("--json", type=Path)
    cli_args.allocator(p)
    args = p.parse_args()
    configure_threads(args.threads)
    cli_args.use_allocator(args)
    lab_data()  # decoded once per server, before any run
    s = LabSettings()
    if args.nets:
        s = replace(s, nets=tuple(NetChoice.of(n) for n in args.nets))
    if args.batch:
        s = replace(s, batch_size=args.batch)
    print(f"run: {', '.join(n.label for n in s.nets)}; batch {s.batch_size}, {s.iterations} iterations, "
          f"lr {s.lr}; {args.seconds:.0f} s per seed", flush=True)
    rows = []
    for seed in range(args.seeds):
        row = verdict_at(replace(s, seed=seed), args.seconds)
        rows.append(row)
        gaps = "; ".join(f"{g['first']} - {g['second']} {g['gap']:+.3f} (noise {g['noise']:.3f})" for g in row["gaps"])
        print(f"seed {seed}: {row['iterations']} iterations in {row['wall_s']} s (CPU {row['cpu_s']} s, load "
              f"{row['load']}): {'settled' if row['settled'] else 'not settled'}"
              f"{'' if row['first_settled_s'] is None else ' first at ' + str(row['first_settled_s']) + ' s'}; {gaps}",
              flush=True)
    print(f"settled at {args.seconds:.0f} s in {sum(r['settled'] for r in rows)} of {len(rows)} seeds")
    if runtime.heap_keeper is not None:  # each trim hands back pages that the next steps fault in again
        print(f"heap trims by the allocator setting: {runtime.heap_keeper.trims}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
