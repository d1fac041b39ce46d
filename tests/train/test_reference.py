"""The reference-set command: its recipe, its plan (pure arithmetic), its import footprint, and its CPU smoke run
(the same processes, calibration, plan and archive as on the GPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.cli import main as cli_main
from resnet_viz.errors import InputError
from resnet_viz.i18n import catalogue
from resnet_viz.train.recipes import learning_rate, paper_recipe
from resnet_viz.train.reference import (
    OPTIONAL,
    REQUIRED,
    Calibration,
    ReferenceOptions,
    choose_epochs,
    choose_models,
    estimate_wall_s,
    gpu_costs,
    iterations_per_epoch,
    rate,
    reference_recipe,
)

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the recipe

def test_recipe_at_the_papers_batch_is_the_papers():
    ours, paper = reference_recipe(128, 164), paper_recipe("resnet110")
    for name in ("lr", "weight_decay", "momentum", "nesterov", "schedule", "milestones", "warmup_iterations",
                 "warmup_lr", "pad", "flip", "label_smoothing"):
        assert getattr(ours, name) == getattr(paper, name), name


def test_recipe_scales_lr_and_warmup_with_the_batch():
    r = reference_recipe(512, 100)
    assert r.lr == pytest.approx(0.4) and r.warmup_lr == pytest.approx(0.04)
    assert r.warmup_iterations == 100  # the paper's 400 iterations of 128 images
    total = r.total_iterations(97)
    lrs = [learning_rate(r, i, total) for i in (0, 99, 100, total // 2 - 1, total // 2, round(0.75 * total), total - 1)]
    assert lrs == pytest.approx([0.04, 0.04, 0.4, 0.4, 0.04, 0.004, 0.004])


# ---------------------------------------------------------------- the plan

def test_estimate_is_the_sum_of_the_work_when_the_gpu_is_shared_fully():
    # 100 iterations at 10 ms and 30 ms of GPU each: 4 s however the GPU is shared
    assert estimate_wall_s(100, {"a": 0.01, "b": 0.03}, {}) == pytest.approx(4.0)


def test_estimate_waits_for_a_model_that_cannot_fill_the_gpu_alone():
    # b takes at most half the GPU: both at half until a ends (2 s), then b alone at half for its 2 s of work left
    assert estimate_wall_s(100, {"a": 0.01, "b": 0.03}, {"b": 0.5}) == pytest.approx(6.0)


def test_gpu_costs_from_rates_measured_together():
    costs = gpu_costs([Calibration("a", 50.0), Calibration("b", 10.0)])
    assert costs == pytest.approx({"a": 0.01, "b": 0.05})


def test_choose_epochs_fits_the_time_and_stops_at_the_ceiling():
    cals = [Calibration("resnet20", 50.0), Calibration("resnet110", 10.0)]  # 10 ms and 50 ms per iteration
    # 100 iterations per epoch cost 6 s: 90 % of 61 s hold 9 epochs
    assert choose_epochs(cals, 100, 61.0, 164) == 9
    assert choose_epochs(cals, 100, 6000.0, 164) == 164
    assert choose_epochs(cals, 100, 1.0, 164) == 1  # never fewer than one


def test_optional_nets_stay_only_when_they_cost_little():
    cals = [Calibration(m, 20.0) for m in REQUIRED + OPTIONAL]
    per_epoch = 100.0  # 9 nets x 100 iterations x 1/(9 x 20) s = 5 s per epoch with all, 2.8 s without
    models, epochs, options = choose_models(cals, per_epoch, 301.0, 164, "auto")
    assert options == {"all": 54, "required": 97}
    assert sorted(models) == sorted(REQUIRED) and epochs == 97
    models, epochs, _ = choose_models(cals, per_epoch, 301.0, 164, "yes")
    assert len(models) == 9 and epochs == 54
    models, epochs, _ = choose_models(cals, per_epoch, 3000.0, 164, "auto")  # time for 164 either way
    assert len(models) == 9 and epochs == 164


def test_epoch_counts_its_evaluation_and_rate_reads_a_window():
    assert iterations_per_epoch(50_000, 10_000, 512) == pytest.approx(97 + 10_000 / 1536)
    points = [(0.0, 0), (1.0, 10), (2.0, 30), (3.0, 60)]
    assert rate(points, 0.5, 3.0) == pytest.approx(25.0)
    assert rate(points, 2.5, 3.0) is None


# ---------------------------------------------------------------- options and messages

@pytest.mark.parametrize(("kwargs", "key"), [
    ({"models": ("resnet21",)}, "train.reference_unknown_model"),
    ({}, "train.reference_needs_data"),
    ({"data": "x.tar.gz", "budget_s": 30}, "train.reference_budget"),
    ({"data": "x.tar.gz", "batch_size": 0}, "train.bad_number"),
])
def test_bad_options_name_their_message(tmp_path, kwargs, key):
    with pytest.raises(InputError) as err:
        ReferenceOptions(out=str(tmp_path), **kwargs).checked()
    assert err.value.key == key
    assert key in catalogue("en") and key in catalogue("zh")


def test_cli_without_data_is_one_line_not_a_traceback(tmp_path, capsys):
    assert cli_main(["reference", "--out", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err
    assert cli_main(["reference", "--out", str(tmp_path), "--data", str(tmp_path / "missing.tar.gz")]) == 2
    assert "missing.tar.gz" in capsys.readouterr().err


def test_the_gpu_path_imports_neither_streamlit_nor_plotly():
    code = ("import sys\n"
            "import resnet_viz.commands.reference, resnet_viz.commands.train, resnet_viz.train.reference\n"
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'streamlit', 'plotly', 'pandas', 'altair'})\n"
            "print(bad)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- the CPU smoke run

def _check_archive(out: Path, models: tuple[str, ...]) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    for key in ("format", "wall_s", "phases_s", "device", "versions", "recipe", "seed", "epochs", "batch_size",
                "models", "plan", "gpu_memory_peak_mb", "models_trained"):
        assert key in summary, key
    assert summary["versions"]["torch"] and summary["recipe"]["name"] == "reference"
    with tarfile.open(out / "reference.tar.gz") as tar:
        names = set(tar.getnames())
        tar.extractall(out / "unpacked", filter="data")
    expected = {"reference/summary.json", "reference/logs/reference.log"}
    for m in models:
        expected |= {f"reference/checkpoints/{m}.safetensors", f"reference/checkpoints/{m}.json",
                     f"reference/logs/{m}.log"}
    assert names == expected
    for m in models:
        s = summary["models"][m]
        assert s["status"] == "done" and s["complete"] and s["iterations"] == 5 and s["images_per_s"] > 0
        assert s["calibration_it_per_s"] > 0 and 0 <= s["test_accuracy"] <= 100
        path = out / "unpacked" / "reference" / "checkpoints" / f"{m}.safetensors"
        loaded = load_checkpoint(path)
        assert loaded.name == m
        side = json.loads(path.with_suffix(".json").read_text())
        assert side["seed"] == 0 and side["recipe"]["name"] == "reference" and side["recipe"]["batch_size"] == 16
        assert side["shortcut"] == ("A" if m.startswith("resnet") else None) and side["complete"]
    return summary


@pytest.mark.slow
def test_smoke_command_trains_the_required_set(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "resnet_viz", "reference", "--smoke", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _check_archive(tmp_path, REQUIRED)


@pytest.mark.slow
def test_gpu_run_script_in_smoke_mode(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "SMOKE": "1", "OUT": str(out), "WORK": str(tmp_path / "work"), "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_run.sh")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "ddp.json", "gpu_run.log", "reference.tar.gz",
                                                     "summary.json"]
    bench = json.loads((out / "bench.json").read_text())
    assert bench["ratio"] > 0 and bench["ours_epoch_s"] > 0
    ddp = json.loads((out / "ddp.json").read_text())
    assert ddp["complete"] and "world size 1" in ddp["hardware"]
    _check_archive(out, ("plain20", "resnet20"))


def test_on_log_ends_a_run_resumably_and_a_recipe_object_is_used_as_it_is(tmp_path):
    from resnet_viz.train.loop import TrainConfig, train
    from tests.train.test_loop import write_tiny_zip

    data = write_tiny_zip(tmp_path / "tiny.zip")  # 48 training images: 3 steps of 16 per epoch
    seen: list[int] = []

    def on_log(entry: dict) -> bool:
        seen.append(entry["iteration"])
        return entry["iteration"] >= 2

    result = train(TrainConfig(model="plain20", data=str(data), recipe=reference_recipe(16, 3), device="cpu",
                               out=str(tmp_path / "out"), progress=False, eval_every=1, on_log=on_log))
    assert seen == [1, 2] and not result.complete
    assert result.meta["recipe"]["name"] == "reference" and result.meta["recipe"]["iterations"] == 9
    assert result.meta["recipe"]["warmup_iterations"] == 3200 and (tmp_path / "out" / "plain20.resume.pt").is_file()
