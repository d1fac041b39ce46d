"""The loss landscape: filter-normalised directions, the grid, the line from the initial weights, the shape
measures the page's sentence rests on, the files, the CLI and the page."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.cli import COMMANDS
from resnet_viz.errors import InputError
from resnet_viz.i18n import t
from resnet_viz.inspect.hooks import model_lock
from resnet_viz.models.registry import get_spec
from resnet_viz.paper import landscape as ls
from resnet_viz.samples import load_train_subset
from resnet_viz.train.evaluate import align_labels, evaluate_model
from tests.conftest import app_page, assert_no_exception
from ui.landscape import shipped_epochs

CHECKPOINT = SHIPPED_DIR / "resnet20.safetensors"


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Small CIFAR nets: one intra-op thread is fastest on the shared CPU (and restored after each test)."""


@pytest.fixture(scope="module")
def loaded():
    return load_model(CHECKPOINT)


@pytest.fixture(scope="module")
def subset(loaded):
    images, labels, classes = load_train_subset(limit=24)
    return images, align_labels(labels, classes, loaded.classes)


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- directions

def test_each_filter_has_the_norm_of_the_weights_filter_and_bn_and_biases_are_not_moved():
    model = get_spec("resnet20").build()
    d1, d2 = ls.directions(model, seed=5)
    checked = 0
    for (name, p), a, b in zip(model.named_parameters(), d1, d2):
        assert a.shape == p.shape and b.shape == p.shape
        if p.dim() <= 1:  # BN weights and biases, the linear layer's bias
            assert not a.any() and not b.any(), name
            continue
        for d in (a, b):
            filters = d.flatten(1).norm(dim=1)
            torch.testing.assert_close(filters, p.detach().flatten(1).norm(dim=1), rtol=1e-5, atol=1e-7)
            checked += 1
        assert not torch.equal(a, b)
    assert checked == 2 * sum(1 for p in model.parameters() if p.dim() > 1)


def test_filter_normalised_scales_each_output_channel_separately():
    weight = torch.zeros(2, 1, 2, 2)
    weight[0] = 3.0  # norm 6
    weight[1, 0, 0, 0] = 0.5  # norm 0.5
    direction = torch.ones(2, 1, 2, 2)  # each filter of norm 2
    out = ls.filter_normalised(weight, direction)
    assert out[0].norm().item() == pytest.approx(6.0)
    assert out[1].norm().item() == pytest.approx(0.5)
    torch.testing.assert_close(out[0], torch.full((1, 2, 2), 3.0))


def test_directions_are_reproducible_for_a_seed_and_differ_between_seeds():
    model = get_spec("resnet20").build()
    first, again, other = ls.directions(model, 7), ls.directions(model, 7), ls.directions(model, 8)
    assert all(torch.equal(a, b) for a, b in zip(first[0] + first[1], again[0] + again[1]))
    assert not torch.equal(first[0][0], other[0][0])


@pytest.mark.parametrize("points,span", [(4, 1.0), (1, 1.0), (5, 0.0), (5, -1.0)])
def test_bad_grids_are_refused(points, span):
    with pytest.raises(InputError):
        ls.grid(points, span)


def test_grid_has_the_trained_point_exactly():
    axis = ls.grid(13, 1.0)
    assert axis[6] == 0.0 and axis[0] == -1.0 and axis[-1] == 1.0 and len(axis) == 13


# ---------------------------------------------------------------- the grid and the line

def test_landscape_at_the_origin_is_the_networks_own_loss(loaded, subset):
    images, labels = subset
    batches = ls.prepare(images, labels, loaded.mean, loaded.std, batch_size=10)
    land = ls.surface(loaded.model, batches, points=3, seed=1)
    own = evaluate_model(loaded.model, images, labels, mean=loaded.mean, std=loaded.std, classes=loaded.classes)
    assert land.centre_loss == pytest.approx(own.loss, rel=1e-4)  # batches of 10 and of 500: other kernels
    assert land.centre_accuracy == pytest.approx(own.accuracy)
    assert land.loss.shape == (3, 3) and np.isfinite(land.loss).all()
    assert (land.loss[0] != land.centre_loss).all()  # a step of one filter norm moves the loss
    assert land.meta["seed"] == 1 and land.meta["images"] == len(images) and land.meta["points"] == 3


def test_the_same_seed_gives_the_same_surface(loaded, subset):
    batches = ls.prepare(*subset, loaded.mean, loaded.std)
    first = ls.surface(loaded.model, batches, points=3, seed=3)
    again = ls.surface(loaded.model, batches, points=3, seed=3)
    np.testing.assert_array_equal(first.loss, again.loss)


def test_two_worker_threads_give_the_surface_and_line_of_one_exactly(loaded, subset):
    batches = ls.prepare(*subset, loaded.mean, loaded.std, batch_size=10)
    one = ls.surface(loaded.model, batches, points=3, seed=5, workers=1)
    two = ls.surface(loaded.model, batches, points=3, seed=5, workers=2)
    np.testing.assert_array_equal(one.loss, two.loss)
    np.testing.assert_array_equal(one.accuracy, two.accuracy)
    init = ls.initial_model(loaded)
    line = [ls.init_line(loaded.model, init, batches, t=(0.0, 0.5, 1.0)) for _ in range(2)]
    np.testing.assert_array_equal(line[0][1], line[1][1])


def test_a_stop_during_the_grid_ends_it_and_leaves_the_model_as_found(loaded, subset):
    model = loaded.model
    before = _snapshot(model)
    batches = ls.prepare(*subset, loaded.mean, loaded.std)
    reported: list[int] = []

    class Stop(Exception):
        pass

    def stop(done: int, _total: int) -> None:
        reported.append(done)
        raise Stop

    with pytest.raises(Stop):
        ls.surface(model, batches, points=11, on_point=stop, workers=2)
    assert reported == [1]  # the first point's progress stopped the other 120
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_model_is_left_exactly_as_found(loaded, subset):
    model = loaded.model
    before, modes = _snapshot(model), [m.training for m in model.modules()]
    batches = ls.prepare(*subset, loaded.mean, loaded.std)
    ls.surface(model, batches, points=3)
    ls.init_line(model, ls.initial_model(loaded), batches, t=(0.0, 0.5, 1.0))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [m.training for m in model.modules()] == modes
    lock = model_lock(model)
    assert lock.acquire(blocking=False)  # not left held
    lock.release()


def test_the_initial_model_is_the_one_the_training_loop_builds(loaded):
    from resnet_viz.train.loop import _build_model

    run = SimpleNamespace(seed=loaded.meta["seed"], shortcut=loaded.shortcut, device=torch.device("cpu"),
                          cfg=SimpleNamespace(model=loaded.name))
    ours, loops = ls.initial_model(loaded).state_dict(), _build_model(run, len(loaded.classes)).state_dict()
    assert all(torch.equal(ours[k], loops[k]) for k in ours)


def test_the_rebuilt_initial_weights_are_the_runs_own(loaded):
    init = ls.initial_model(loaded)
    assert ls.weight_cosine(init, init) == pytest.approx(1.0, abs=1e-4)
    check = ls.init_check(loaded, init)
    # the shipped ResNet-20 (30 epochs) keeps a trace of its initial pattern (cosine 0.19; the 3.8-epoch run's
    # was above 0.5), far above a net from another seed, which is unrelated
    assert check["init_cosine"] > 0.1 and abs(check["other_seed_cosine"]) < 0.05


def test_the_line_runs_from_the_initial_loss_to_the_trained_loss(loaded, subset):
    images, labels = subset
    batches = ls.prepare(images, labels, loaded.mean, loaded.std)
    init = ls.initial_model(loaded).eval()
    t, loss, acc = ls.init_line(loaded.model, init, batches, t=(0.0, 0.5, 1.0))
    own = ls.loss_and_accuracy(loaded.model.eval(), batches)
    assert loss[-1] == pytest.approx(own[0], rel=1e-6) and acc[-1] == pytest.approx(own[1])
    assert loss[0] == pytest.approx(ls.loss_and_accuracy(init, batches)[0], rel=1e-4)
    assert loss[0] > loss[-1]


def test_a_checkpoint_without_a_seed_has_no_line(loaded):
    with pytest.raises(InputError):
        ls.initial_model(SimpleNamespace(meta={}, name="resnet20", shortcut="A", classes=loaded.classes))


# ---------------------------------------------------------------- shape measures

def _synthetic(f, n: int = 11, **meta) -> ls.Landscape:
    axis = ls.grid(n, 1.0)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return ls.Landscape(axis, axis.copy(), f(xx, yy), np.full((n, n), 50.0), meta)


def test_a_bowl_rises_and_curves_upward_everywhere():
    bowl = ls.shape(_synthetic(lambda x, y: 1 + x**2 + 2 * y**2))
    assert bowl.rising == 1.0 and bowl.convex == 1.0 and bowl.centre_loss == 1.0
    assert bowl.rise == pytest.approx(np.mean([1 + x**2 + 2 * y**2 - 1 for x, y in _ring(11, 0.5)]))


def _ring(points: int, radius: float) -> list[tuple[float, float]]:
    axis = ls.grid(points, 1.0)
    step = axis[1] - axis[0]
    return [(x, y) for y in axis for x in axis if abs(np.hypot(x, y) - radius) <= step / 2]


def test_a_dome_a_saddle_and_a_rough_surface_are_told_apart():
    dome = ls.shape(_synthetic(lambda x, y: 5 - x**2 - y**2))
    assert dome.rising == 0.0 and dome.convex == 0.0
    saddle = ls.shape(_synthetic(lambda x, y: x**2 - y**2))
    assert saddle.convex == 0.0
    rough = ls.shape(_synthetic(lambda x, y: x**2 + y**2 + 0.3 * np.sin(25 * x) * np.cos(25 * y)))
    assert 0.0 < rough.convex < 1.0 and rough.rising < 1.0
    bowl = ls.shape(_synthetic(lambda x, y: x**2 + y**2))
    assert ls.smoother(rough, bowl) == 1 and ls.smoother(bowl, rough) == 0 and ls.smoother(bowl, bowl) == -1


def test_line_falls_counts_steps_between_init_and_trained():
    t = np.linspace(0, 1, 5)
    assert ls.line_falls(t, np.array([5.0, 4, 3, 2, 1])) == (4, 4, 0.0)
    falls, steps, rise = ls.line_falls(t, np.array([5.0, 4, 4.5, 2, 1]))
    assert (falls, steps) == (3, 4) and rise == pytest.approx(0.5)


# ---------------------------------------------------------------- files and the sentence

def test_save_and_load_round_trip(tmp_path):
    land = _synthetic(lambda x, y: x**2 + y**2, n=5, model="resnet20", seed=4)
    land.line_t, land.line_loss, land.line_accuracy = np.linspace(0, 1, 3), np.array([3.0, 2, 1]), np.ones(3)
    back = ls.load(ls.save(land, tmp_path / "r.npz"))
    np.testing.assert_allclose(back.loss, land.loss, rtol=1e-6)
    np.testing.assert_array_equal(back.x, land.x)
    assert back.meta["model"] == "resnet20" and back.meta["format"] == ls.FORMAT
    np.testing.assert_allclose(back.line_loss, [3, 2, 1])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError):
        ls.load(tmp_path / "bad.npz")
    assert list(ls.shipped(tmp_path)) == ["r"]  # the unreadable file is left out


def test_the_comparison_sentence_is_computed_from_the_grids():
    from resnet_viz.render.plots.landscape import comparison_sentence

    bowl = ls.shape(_synthetic(lambda x, y: x**2 + y**2))
    saddle = ls.shape(_synthetic(lambda x, y: x**2 - y**2))
    text = comparison_sentence(("plain-56", "ResNet-56"), (saddle, bowl), "en")
    assert "0 %" in text and "100 %" in text and "ResNet-56 has the more bowl-like" in text
    assert "差不多" in comparison_sentence(("a", "b"), (bowl, bowl), "zh")
    assert "less well trained" not in text
    gap = comparison_sentence(("plain-56", "ResNet-56"), (saddle, bowl), "en", (40.73, 77.18))
    assert "plain-56 reached only 40.7 % test accuracy against 77.2 % for ResNet-56" in gap
    assert "less well trained" not in comparison_sentence(("a", "b"), (saddle, bowl), "en", (70.0, 77.0))


# ---------------------------------------------------------------- CLI and page

def _cli(argv: list[str]) -> int:
    """The ``landscape`` command as ``python -m resnet_viz landscape ARGV`` runs it (its own parser only)."""
    import argparse
    import importlib

    module = importlib.import_module(COMMANDS["landscape"][0])
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def test_cli_writes_a_tiny_grid_and_line(tmp_path, capsys):
    out = tmp_path / "tiny.npz"
    assert _cli([str(CHECKPOINT), "--points", "3", "--images", "12", "--seed", "9", "--out", str(out)]) == 0
    land = ls.load(out)
    assert land.loss.shape == (3, 3) and land.meta["images"] == 12 and land.meta["seed"] == 9
    assert land.meta["model"] == "resnet20" and land.meta["init_seed"] == 0
    assert land.line_t is not None and len(land.line_t) == len(ls.LINE_T)
    captured = capsys.readouterr()
    assert "surface 9/9" in captured.err and str(out) in captured.out
    with pytest.raises(InputError):  # printed as one line with exit status 2 by resnet_viz.cli
        _cli([str(CHECKPOINT), "--points", "4", "--out", str(tmp_path / "even.npz")])


@pytest.fixture
def grids(tmp_path, monkeypatch):
    """Two small synthetic grids in place of the shipped ones: a saddle-ish plain-56 and a bowl ResNet-56."""
    folder = tmp_path / "landscapes"
    for stem, f in (("plain56", lambda x, y: 2 + x**2 - 0.5 * y**2 + np.sin(9 * x)),
                    ("resnet56", lambda x, y: 1 + x**2 + y**2)):
        land = _synthetic(f, n=7, model=stem, seed=123, points=7, span=1.0, images=64, seconds=1.0, torch="x",
                          init_cosine=0.61, other_seed_cosine=0.002)
        land.line_t, land.line_loss, land.line_accuracy = ls.LINE_T, np.linspace(3, 1, len(ls.LINE_T)), \
            np.linspace(10, 80, len(ls.LINE_T))
        ls.save(land, folder / f"{stem}.npz")
    monkeypatch.setattr(ls, "LANDSCAPES_DIR", folder)
    return folder


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_shows_both_networks_and_the_computed_sentence(grids, lang):
    at = app_page("pages/landscape.py", lang=lang)
    assert_no_exception(at)
    assert len(at.get("plotly_chart")) == 6  # two surfaces, two contour maps, the line's loss and accuracy
    text = "\n".join(m.value for m in at.markdown)
    expected = ls.shape(ls.load(grids / "resnet56.npz"))
    assert f"{100 * expected.convex:.0f} %" in text
    assert ("ResNet-56 has the more bowl-like" if lang == "en" else "ResNet-56 的地形") in text
    assert any("ResNet-56 0.61" in c.value and "ResNet-56 0.002" in c.value for c in at.caption)
    epochs = shipped_epochs({p.stem: ls.load(p) for p in grids.glob("*.npz")})  # their shipped nets' sidecars
    assert epochs != "?" and t("landscape.ours_caveat", lang, images="64", epochs=epochs) in text  # the grids' own
    assert not any("torch" in c.value for c in at.caption)  # build details stay in the metadata


def test_page_without_grids_says_how_to_make_them(tmp_path, monkeypatch):
    monkeypatch.setattr(ls, "LANDSCAPES_DIR", tmp_path / "none")
    at = app_page("pages/landscape.py")
    assert_no_exception(at)
    assert any("python -m resnet_viz landscape" in i.value for i in at.info)


def test_live_grid_is_computed_when_asked(grids, monkeypatch):
    from ui import landscape as ui_landscape

    monkeypatch.setattr(ui_landscape, "LIVE_POINTS", 3)
    monkeypatch.setattr(ui_landscape, "LIVE_IMAGES", 10)
    at = app_page("pages/landscape.py", landscape_net=str(CHECKPOINT))
    assert_no_exception(at)
    charts = len(at.get("plotly_chart"))
    at.button(key="landscape_compute").click().run()
    assert_no_exception(at)
    assert len(at.get("plotly_chart")) == charts + 2
    at.run()  # the promise above the button now rests on the grid just timed
    assert any(t("cost.basis_measured", "en") in c.value for c in at.caption)


def test_both_networks_share_one_scale_and_the_lines_follow_the_paper_pages_colours():
    from resnet_viz.render.plots import landscape as plots

    low = _synthetic(lambda x, y: 0.5 + x**2 + y**2, model="resnet56")
    high = _synthetic(lambda x, y: 1 + 100 * (x**2 + y**2), model="plain56")
    assert plots.shared_range([low, high], log=False) == (0.5, 201.0)
    assert plots.shared_range([low, high], log=True) == pytest.approx((np.log10(0.5), np.log10(201.0)))
    zrange = plots.shared_range([low, high], log=True)
    for land in (low, high):
        surface = plots.surface_figure(land, "n", zrange, log=True)
        contour = plots.contour_figure(land, "n", zrange, log=True)
        assert (surface.data[0].cmin, surface.data[0].cmax) == zrange
        assert tuple(surface.layout.scene.zaxis.range) == zrange
        assert (contour.data[0].zmin, contour.data[0].zmax) == zrange
    assert plots.log_ticks((-0.3, 2.5)) == {"tickvals": [0, 1, 2], "ticktext": ["1", "10", "100"]}
    (red, _), (blue, _) = plots._line_styles([high, low])
    assert (red, blue) == (plots.PLAIN_COLOR, plots.RESNET_COLOR)
