"""The training lab's targets, measured on this machine.

(a) With the lab's defaults (``LabSettings()``: its nets, batch, learning rate and iterations, as the page starts
    them), the plain-56 minus plain-20 training-loss gap 90 s of wall time after "Train" (the run built and
    stepped as the app's thread does; the loss is the mean of the last min(20, reached) iterations), for several
    seeds.
(b) The lab's training images/s against ``loop.train``'s (what ``python -m resnet_viz train`` runs) for the same
    nets, the same batch and the same number of iterations, each ending with one test on 1,000 images. ``train``
    gets the lab's own images, written as an image folder (5,000 training, 1,000 test).
(c) From the end of a run to its nets in the sidebar's picker: the hand-over in the thread, the fragment's poll
    interval (at most ``POLL_S``), and the app's rerun that draws the picker (AppTest).

    nice -n 10 python benchmarks/training_lab.py [--seeds 5] [--seconds 90] [--iterations 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from resnet_viz.runtime import configure_threads
from resnet_viz.train.training_lab.settings import LabSettings, NetChoice
from resnet_viz.train.training_lab.shelf import ModelShelf
from resnet_viz.train.training_lab.stepper import LabRun, lab_data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # ui/ (the picker's latency is measured through the app)


def gap_at(seconds: float, seed: int) -> dict:
    """Build and step the default run for ``seconds`` of wall time; the loss gap then."""
    start, cpu = time.perf_counter(), time.process_time()
    run = LabRun(LabSettings(seed=seed))
    while not run.done and time.perf_counter() - start < seconds:
        run.step()
    cpu = time.process_time() - cpu
    nets = {n.choice.name: n for n in run.nets}
    reached = nets["plain56"].iteration
    window = max(1, min(20, reached))
    losses = {k: sum(n.train_loss[-window:]) / window for k, n in nets.items() if n.train_loss}
    run.stop()
    gap = round(losses["plain56"] - losses["plain20"], 4) if reached else None
    # On a machine shared with other jobs the process gets a fraction of its cores: the CPU seconds say how much.
    return {"seed": seed, "iterations": reached, "window": window, "gap_plain56_minus_plain20": gap,
            "wall_s": round(time.perf_counter() - start, 1), "cpu_s": round(cpu, 1),
            **{f"loss_{k}": round(v, 4) for k, v in losses.items()}}


def _write_folder(root: Path) -> None:
    """The lab's images as an image folder ``train/<class>/*.png``, ``test/<class>/*.png``."""
    train_x, train_y, test_x, test_y, classes = lab_data()
    for split, xs, ys in (("train", train_x, train_y), ("test", test_x, test_y)):
        for i, (x, y) in enumerate(zip(xs, ys)):
            folder = root / split / classes[int(y)]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")


def _lab_time(names: list[str], iterations: int, batch: int) -> tuple[float, float]:
    """(seconds of the lab's run, its training steps' images/s)."""
    run = LabRun(LabSettings(nets=tuple(NetChoice.of(n) for n in names), iterations=iterations, batch_size=batch,
                             eval_every=iterations))
    start = time.perf_counter()
    run.run()
    return time.perf_counter() - start, run.images_per_second()


def throughput(names: list[str], iterations: int, batch: int, *, train_first: bool = False) -> dict:
    """Images/s of the lab (all nets in turn) and of loop.train (each net alone), both ending with one test."""
    from resnet_viz.train.loop import TrainConfig, train

    images = iterations * batch * len(names)
    out: dict = {"nets": names, "iterations": iterations, "batch": batch, "train_first": train_first}
    if not train_first:
        lab_s, steps_rate = _lab_time(names, iterations, batch)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RESNET_VIZ_CACHE"] = str(Path(tmp) / "cache")
        _write_folder(Path(tmp) / "data")
        loop_s = 0.0
        for name in names:
            result = train(TrainConfig(model=name, data=str(Path(tmp) / "data"), recipe="paper", iterations=iterations,
                                       batch_size=batch, out=str(Path(tmp) / "out"), progress=False, overwrite=True),
                           log_fn=lambda _msg: None)
            loop_s += float(result.log[-1]["wall_time_s"])  # training and the final test, as the lab's time
    if train_first:
        lab_s, steps_rate = _lab_time(names, iterations, batch)
    out.update(lab_s=round(lab_s, 2), lab_img_per_s=round(images / lab_s, 1),
               lab_train_only_img_per_s=round(steps_rate, 1), train_s=round(loop_s, 2),
               train_img_per_s=round(images / loop_s, 1), train_over_lab=round(lab_s / loop_s, 3))
    return out


def picker_latency() -> dict:
    """Seconds from a run's end to its nets in the picker."""
    os.environ.setdefault("RESNET_VIZ_OFFLINE", "1")
    from streamlit.testing.v1 import AppTest

    from ui.training_lab import POLL_S

    run = LabRun(LabSettings(nets=(NetChoice.of("plain20"), NetChoice.of("resnet56")), iterations=1, batch_size=16,
                             eval_every=1))
    run.run()
    shelf = ModelShelf()
    start = time.perf_counter()
    sources = shelf.add(run.trained_models())  # what the thread does when the run ends
    handover = time.perf_counter() - start
    def session() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["lang"] = "en"
        at.session_state["lang"] = "en"
        at.session_state["_trained_models"] = shelf
        return at

    session().run()  # the process's caches filled, as on a server that has served pages before
    # A fresh session's run stands for the rerun (AppTest draws no sidebar on a session's second run).
    at = session()
    start = time.perf_counter()
    at.run()
    rerun = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    labels = at.sidebar.selectbox(key="model_choice").options  # the options' labels
    listed = sum("trained here" in label for label in labels) == len(sources)
    return {"handover_s": round(handover, 3), "poll_at_most_s": POLL_S, "app_rerun_s": round(rerun, 3),
            "worst_case_s": round(handover + POLL_S + rerun, 3), "listed": listed}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=90.0)
    p.add_argument("--iterations", type=int, default=8, help="iterations per net for the throughput comparison")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--train-first", action="store_true", help="time train before the lab (the load may change)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: gap, throughput, picker")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    threads = configure_threads()  # as the app does: 1 unless $RESNET_VIZ_THREADS says otherwise
    result: dict = {"threads": threads, "torch": torch.__version__, "cpus": os.cpu_count()}
    lab_data()
    skip = set(filter(None, args.skip.split(",")))
    if "gap" not in skip:
        gaps = []
        for seed in range(args.seeds):
            gaps.append(gap_at(args.seconds, seed))
            print(json.dumps(gaps[-1]), file=sys.stderr, flush=True)
        result["gap"] = {"seconds": args.seconds, "runs": gaps,
                         "plain56_above": sum(1 for g in gaps if (g["gap_plain56_minus_plain20"] or 0) > 0)}
        print(json.dumps(result["gap"]), file=sys.stderr, flush=True)
    if "throughput" not in skip:
        result["throughput"] = throughput(["plain20", "plain56", "resnet56"], args.iterations, args.batch,
                                          train_first=args.train_first)
        print(json.dumps(result["throughput"]), file=sys.stderr, flush=True)
    if "picker" not in skip:
        result["picker"] = picker_latency()
    if args.json:
        print(json.dumps(result))
        return 0
    if "gap" in result:
        g = result["gap"]
        print(f"(a) plain-56 minus plain-20 training loss at {g['seconds']:.0f} s (defaults, {threads} threads):")
        for r in g["runs"]:
            print(f"    seed {r['seed']}: {r['iterations']} iterations, gap {r['gap_plain56_minus_plain20']} "
                  f"(mean of the last {r['window']}); {r['cpu_s']} CPU-s in {r['wall_s']} s of wall time")
        print(f"    plain-56 above plain-20 in {g['plain56_above']} of {len(g['runs'])} seeds")
    if "throughput" in result:
        tp = result["throughput"]
        print(f"(b) lab {tp['lab_img_per_s']} img/s vs train {tp['train_img_per_s']} img/s "
              f"({', '.join(tp['nets'])}; {tp['iterations']} it. x batch {tp['batch']}): lab takes "
              f"{tp['train_over_lab']}x train's time (training steps alone: {tp['lab_train_only_img_per_s']} img/s)")
    if "picker" in result:
        pk = result["picker"]
        print(f"(c) run end -> picker: hand-over {pk['handover_s']} s + poll <= {pk['poll_at_most_s']} s + app rerun "
              f"{pk['app_rerun_s']} s = worst case {pk['worst_case_s']} s (listed: {pk['listed']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
