"""Figure 6 and Table 6 from sidecar logs the tests write themselves."""

from __future__ import annotations

import json
import math

import pytest

from resnet_viz.checkpoints.find import find_checkpoints, folders_fingerprint
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.models.registry import build_model, count_params
from resnet_viz.paper.figure6 import (
    PAPER_TABLE6,
    cifar_params,
    collect_runs,
    depth_comparison,
    depth_trend,
    display_names,
    run_from_sidecar,
    same_schedule,
    schedule_params,
    table6,
)


def log(train_errors, test_errors, per_epoch=100):
    return [{"epoch": i + 1, "iteration": (i + 1) * per_epoch, "lr": 0.1, "train_loss": 1.0, "train_error": tr,
             "test_loss": 1.1, "test_error": te, "wall_time_s": 10.0 * (i + 1)}
            for i, (tr, te) in enumerate(zip(train_errors, test_errors))]


def write_run(directory, stem, model, train_errors, test_errors, *, accuracy=None, recipe="fast", complete=True):
    meta = {"model": model, "shortcut": "A" if model.startswith("resnet") else None,
            "dataset": "CIFAR-10 (JPEG q75 copy)",
            "accuracy": accuracy if accuracy is not None else 100 - test_errors[-1],
            "recipe": {"name": recipe, "epochs": len(train_errors)}, "complete": complete,
            "log": log(train_errors, test_errors)}
    return save_checkpoint(build_model(model), directory / stem, meta)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    d = tmp_path / "ckpts"
    monkeypatch.setenv("RESNET_VIZ_CHECKPOINTS", str(d))
    write_run(d, "plain20", "plain20", [40, 20, 10], [42, 25, 15])
    write_run(d, "plain32", "plain32", [45, 28, 16], [47, 30, 19])
    write_run(d, "resnet20", "resnet20", [38, 18, 9], [40, 22, 12])
    write_run(d, "resnet32", "resnet32", [36, 15, 6], [39, 20, 10], complete=False)
    return d


def _mine(runs, d):
    return [r for r in runs if str(d) in r.key]  # assets/checkpoints may hold real ones later


def test_runs_read_from_sidecars(runs_dir):
    runs = _mine(collect_runs(), runs_dir)
    assert [r.model for r in runs] == ["plain20", "plain32", "resnet20", "resnet32"]
    p20 = runs[0]
    assert p20.iterations == (100, 200, 300) and p20.train_error == (40, 20, 10) and p20.test_error == (42, 25, 15)
    assert p20.final_train_error == 10 and p20.final_test_error == pytest.approx(15)
    assert p20.dataset == "CIFAR-10 (JPEG q75 copy)" and not p20.shipped and p20.complete
    assert runs[3].complete is False
    assert display_names(runs)[p20.key] == "plain-20"
    assert schedule_params(p20) == {"recipe": "fast", "epochs": 3, "iterations": 300}


def test_schedule_of_a_run_that_ends_inside_an_epoch(tmp_path):
    meta = {"model": "resnet20", "recipe": {"name": "fast", "epochs": 2.5641, "iterations": 1000},
            "log": log([50, 40, 30], [55, 45, 35])}
    run = run_from_sidecar(meta, key="k", stem="k")
    assert schedule_params(run) == {"recipe": "fast", "epochs": 2.6, "iterations": 300}  # not 3 log points
    assert schedule_params(run_from_sidecar({**meta, "recipe": {"name": "fast"}}, key="k", stem="k"))["epochs"] == 3


def test_degradation_sentence_numbers(runs_dir):
    runs = _mine(collect_runs(), runs_dir)
    plain = depth_comparison(runs, "plain")
    assert (plain.shallow.model, plain.deep.model) == ("plain20", "plain32")
    assert plain.train_gap == pytest.approx(6) and plain.deeper_is_worse and plain.same_schedule
    assert plain.test_gap == pytest.approx(4)
    res = depth_comparison(runs, "resnet")
    assert res.train_gap == pytest.approx(-3) and not res.deeper_is_worse
    assert depth_comparison([r for r in runs if r.depth == 20], "plain") is None


def test_the_depth_comparison_prefers_a_deeper_run_trained_alike():
    """As shipped while the campaign's stage 3 runs: ResNet-20 and ResNet-56 of 30 epochs, ResNet-110 of 3.8. The
    sentence compares ResNet-20 with ResNet-56, like for like; without a run of its schedule, the deepest of all."""
    def run(model, iterations, train):
        meta = {"model": model, "recipe": {"name": "fast", "batch_size": 256, "iterations": iterations},
                "log": log([60, 40, train], [60, 45, train + 5], per_epoch=iterations // 3)}
        return run_from_sidecar(meta, key=model, stem=model)

    r20, r56, r110 = run("resnet20", 5850, 7.5), run("resnet56", 5850, 4.8), run("resnet110", 1500, 22.6)
    res = depth_comparison([r20, r56, r110], "resnet")
    assert (res.shallow.model, res.deep.model) == ("resnet20", "resnet56") and res.same_schedule
    assert not res.deeper_is_worse
    res = depth_comparison([r20, r110], "resnet")
    assert res.deep.model == "resnet110" and not res.same_schedule and res.deeper_is_worse


def test_same_schedule_needs_the_same_length_recipe_and_batch():
    def run(iterations, recipe="fast", batch=128):
        meta = {"model": "resnet20", "recipe": {"name": recipe, "batch_size": batch, "iterations": iterations},
                "log": log([50, 40], [55, 45], per_epoch=iterations // 2)}
        return run_from_sidecar(meta, key=str(iterations), stem="k")

    assert same_schedule([run(1500), run(1500)]) and same_schedule([run(1500)]) and same_schedule([])
    assert not same_schedule([run(1500), run(5850)])  # the shipped 3.8-epoch runs beside a campaign's 30 epochs
    assert not same_schedule([run(1500), run(1500, "paper")]) and not same_schedule([run(1500), run(1500, batch=256)])


def test_table6_rows(runs_dir):
    rows = table6(_mine(collect_runs(), runs_dir))
    by = {r.model: r for r in rows}
    assert list(by)[:6] == list(PAPER_TABLE6)  # every paper row, in the paper's order
    assert by["resnet20"].paper_error == 8.75 and by["resnet20"].our_error == pytest.approx(12)
    assert by["resnet20"].difference == pytest.approx(12 - 8.75)
    assert by["resnet56"].our_error is None and by["resnet56"].run is None
    assert by["plain32"].paper_error is None and by["plain32"].our_error == pytest.approx(19)
    assert by["resnet1202"].params == 19_421_274 and by["resnet110"].params == 1_727_962


def test_depth_trend_of_table6(runs_dir):
    rows = table6(_mine(collect_runs(), runs_dir))
    ours, falls = depth_trend(rows)  # ResNet-20 12 %, ResNet-32 10 %
    assert [r.label for r in ours] == ["ResNet-20", "ResNet-32"] and falls
    write_run(runs_dir, "resnet56", "resnet56", [30, 20, 10], [40, 30, 11])
    ours, falls = depth_trend(table6(_mine(collect_runs(), runs_dir)))
    assert [r.our_error for r in ours] == pytest.approx([12, 10, 11]) and not falls
    assert depth_trend(table6(_mine(collect_runs(), runs_dir)), "plain")[1] is False  # 15 % then 19 %
    assert depth_trend([r for r in rows if r.model != "resnet32"]) is None


def test_best_run_per_model_and_bad_logs(tmp_path):
    d = tmp_path / "x"
    write_run(d, "a", "resnet20", [30], [20])
    write_run(d, "b", "resnet20", [30], [15])
    runs = collect_runs(find_checkpoints([d]))
    rows = {r.model: r for r in table6(runs)}
    assert rows["resnet20"].run.stem == "b"
    assert display_names(runs)[runs[0].key] == "ResNet-20 (a)"
    meta = {"model": "plain20", "log": [{"iteration": 1, "train_error": 5.0, "test_error": 6.0}, {"iteration": "x"},
                                        "junk", {"iteration": 2, "train_error": float("nan"), "test_error": 1.0}]}
    run = run_from_sidecar(meta, key="k", stem="k")
    assert run.iterations == (1,) and run.accuracy is None and run.final_test_error == 6.0
    assert run_from_sidecar({"model": "resnet50"}, key="k", stem="k") is None  # not a CIFAR net
    assert run_from_sidecar({"model": "nope"}, key="k", stem="k") is None


@pytest.mark.parametrize("depth", [20, 44, 56])
def test_param_formula_matches_the_built_nets(depth):
    built = {count_params(build_model(f"resnet{depth}")), count_params(build_model(f"plain{depth}"))}
    assert built == {cifar_params(depth)}


def test_fingerprint_changes_when_a_run_writes(runs_dir):
    before = folders_fingerprint()
    side = runs_dir / "plain20.json"
    data = json.loads(side.read_text())
    data["log"].append(log([5], [9])[0])
    side.write_text(json.dumps(data))
    import os
    os.utime(side, ns=(side.stat().st_atime_ns, side.stat().st_mtime_ns + 10_000_000))
    assert folders_fingerprint() != before


def test_fingerprint_sees_new_and_removed_checkpoints_and_nothing_else(runs_dir):
    before = folders_fingerprint()
    mine = [entry for entry in before if entry[0].startswith(str(runs_dir))]
    assert len(mine) == 8 and all(size > 0 for _, size, _ in mine)  # four checkpoints, four sidecars
    (runs_dir / "notes.txt").write_text("not a checkpoint")
    (runs_dir / "plain20.resume.pt").write_bytes(b"resume state")
    (runs_dir / "sub").mkdir()
    (runs_dir / "sub" / "other.json").write_text("{}")
    assert folders_fingerprint() == before
    write_run(runs_dir, "plain44", "plain44", [50, 30], [52, 33])
    added = folders_fingerprint()
    assert len(added) == len(before) + 2 and set(before) < set(added)
    (runs_dir / "plain44.safetensors").unlink()
    assert folders_fingerprint() not in (before, added)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure6_and_table6_figures(runs_dir, lang):
    from resnet_viz.i18n import t
    from resnet_viz.render.plots.layout import AXIS_LINE, wrap
    from resnet_viz.render.plots.paper import GAP_LINE, figure6, table6_figure

    runs = _mine(collect_runs(), runs_dir)
    gap = depth_comparison(runs, "plain")
    plain, resnet = figure6(runs, display_names(runs), lang, gaps=[gap])
    plain_runs = [r for r in runs if r.family == "plain"]
    assert len(plain.data) == 2 * len(plain_runs) + 1 and len(resnet.data) == 2 * (len(runs) - len(plain_runs))
    dashed = [tr for fig in (plain, resnet) for tr in fig.data if tr.line.dash == "dash"]
    assert [tuple(tr.y) for tr in dashed] == [r.train_error for r in runs]
    assert plain.layout.annotations[-1].text == wrap(t("figure6.gap_annotation", lang, gap="+6.00"), GAP_LINE)
    assert plain.layout.yaxis.title.text == wrap(t("figure6.y_axis", lang), AXIS_LINE)
    assert plain.layout.yaxis.range == resnet.layout.yaxis.range  # the two panels on one error axis
    assert max(e for r in runs for e in (*r.train_error, *r.test_error)) <= plain.layout.yaxis.range[1]
    table = table6_figure(table6(runs), lang)
    assert list(table.data[0].y) == list(PAPER_TABLE6.values())
    assert table.layout.xaxis.title.text == wrap(t("figure6.table_x_axis", lang), AXIS_LINE)


def test_figure6_colours_one_per_depth_legend_by_depth_and_log_axis(runs_dir):
    """Curves of a panel never share a colour; equal depths match across panels; the legend runs shallow to deep."""
    from resnet_viz.render.plots.paper import figure6

    runs = _mine(collect_runs(), runs_dir)[::-1]  # the order given does not set the legend's order
    plain, resnet = figure6(runs, display_names(runs), "en", gaps=[depth_comparison(runs, "plain")], log_x=True)
    solid = [tr for fig in (plain, resnet) for tr in fig.data if tr.line.dash == "solid"]
    assert [tr.name for tr in solid] == ["plain-20", "plain-32", "ResNet-20", "ResNet-32"]
    assert all(tr.showlegend for tr in solid)  # one legend entry per run: its dashed curve is grouped with it
    assert not any(tr.showlegend for fig in (plain, resnet) for tr in fig.data if tr.line.dash == "dash")
    colours = [tr.line.color for tr in solid]
    assert colours[0] != colours[1] and colours[2] != colours[3] and colours[:2] == colours[2:]
    assert plain.layout.xaxis.type == "log" and resnet.layout.xaxis.type == "log"
    assert plain.layout.annotations[-1].x == pytest.approx(math.log10(max(solid[0].x[-1], solid[1].x[-1])))
