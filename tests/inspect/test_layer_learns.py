"""What each layer learns: top patches against a brute-force search, crops against the receptive-field walk,
the feature-visualisation optimiser, the model left as found, the shipped grids, the page and the CLI."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.checkpoints.identity import model_fingerprint
from resnet_viz.checkpoints.read import load_random
from resnet_viz.cli import main as cli_main
from resnet_viz.explain.feature_vis import (
    FEATURE_VIS_DIR,
    VisConfig,
    colour_basis,
    final_relu,
    grid_for,
    load_grid,
    save_grid,
    visualise,
)
from resnet_viz.i18n import t
from resnet_viz.inspect.feature_maps import LayerSpec, layer_specs
from resnet_viz.inspect.hooks import hooked
from resnet_viz.inspect.layer_learns import (
    TOP_K,
    chance_agreement,
    class_agreement,
    conv1_filters,
    coverage,
    crop_box,
    crops,
    first_full_view,
    layer_channels,
    level_of,
    luminance_share,
    stage_layers,
    stage_rows,
    top_activations,
)
from resnet_viz.inspect.receptive_field import walk
from resnet_viz.models.cifar import cifar_net
from resnet_viz.models.registry import get_spec
from resnet_viz.render.plots.layer_learns import (
    agreement_sentence,
    filter_pictures,
    filters_sentence,
    grey_kernel,
    patch_grid,
    rf_figure,
    stage_table,
    telescope_sentence,
)
from resnet_viz.samples import load_test_sample
from tests.conftest import app_page, assert_no_exception

SHIPPED_NETS = ("resnet20", "resnet56", "resnet110", "plain20", "plain56")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Small CIFAR nets: one intra-op thread is fastest on the shared CPU, and bit-identical between runs."""


def tiny() -> tuple[nn.Module, object]:
    """ResNet-8 (one block per stage), random weights with a fixed seed, and its spec."""
    torch.manual_seed(0)
    spec = dataclasses.replace(get_spec("resnet20"), name="resnet8", depth=8)
    return cifar_net(8).eval(), spec


def images(n: int = 23, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8))


def state_of(model: nn.Module) -> tuple:
    """Everything a computation must leave as found: weights, buffers, modes, flags and hooks."""
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [(m.training, getattr(m, "inplace", None), len(m._forward_hooks), len(m._forward_pre_hooks),
              len(m._backward_hooks)) for m in model.modules()]
    return tensors, flags, [p.requires_grad for p in model.parameters()]


def assert_same_state(before: tuple, after: tuple) -> None:
    assert before[1] == after[1] and before[2] == after[2]
    assert before[0].keys() == after[0].keys()
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])


# ---------------------------------------------------------------- top patches

def brute_force(model: nn.Module, layer: LayerSpec, x: torch.Tensor, rf, k: int):
    """Every activation of the layer at once; per channel the k images whose strongest fully-inside unit
    (field from the walk, boxes from the recurrence) is strongest."""
    seen = {}
    with hooked(model, forward={layer.path: lambda m, i, o: seen.setdefault("out", o.clone())}), torch.no_grad():
        model((x.float() / 255 - 0.5) / 0.25)
    out = seen["out"]
    n, c, h, w = out.shape
    size = x.shape[-1]
    ok = torch.tensor([[rf.box(r, q, size, size) == (rf.centre(r) - (rf.size - 1) // 2, rf.centre(q) -
                        (rf.size - 1) // 2, rf.centre(r) + (rf.size - 1) // 2, rf.centre(q) + (rf.size - 1) // 2)
                        for q in range(w)] for r in range(h)])
    if not ok.any():
        ok[:] = True
    masked = out.masked_fill(~ok, -torch.inf).flatten(2)
    best, where = masked.max(2)
    order = torch.argsort(best.T, dim=1, descending=True)[:, :k]
    return best.T.gather(1, order), order, where.T.gather(1, order)


def test_top_k_equals_brute_force_on_a_tiny_network():
    model, spec = tiny()
    x = images()
    layers = [layer for layer in layer_specs(model, spec) if layer.kind != "pool"]
    found = top_activations(model, layers, x, (0.5,) * 3, (0.25,) * 3, k=5, batch_size=7)
    fields = dict(walk(model))
    for layer in layers:
        top = found[layer.key]
        last_conv = [p for p in fields if p == layer.path or p.startswith(layer.path + ".")
                     or (layer.path == "relu" and p == "conv1")][-1]
        assert top.rf == fields[last_conv]
        values, image, where = brute_force(model, layer, x, top.rf, 5)
        assert np.allclose(top.values, values.numpy(), atol=1e-5)
        same = (top.image == image.numpy()) & (top.row * top.map_shape[1] + top.col == where.numpy())
        gaps = np.abs(np.diff(values.numpy(), axis=1))
        near_tie = np.zeros_like(same)
        near_tie[:, :-1] |= gaps < 1e-5
        near_tie[:, 1:] |= gaps < 1e-5
        assert (same | near_tie).all() and same.mean() > 0.9  # only near-equal values (batched float sums) swap


def test_top_activations_channel_mean_and_busiest():
    model, spec = tiny()
    x = images(10)
    layer = stage_layers(model, spec)[1]
    top = top_activations(model, [layer], x, (0.5,) * 3, (0.25,) * 3, batch_size=4)[layer.key]
    seen = {}
    with hooked(model, forward={layer.path: lambda m, i, o: seen.setdefault("out", o.clone())}), torch.no_grad():
        model((x.float() / 255 - 0.5) / 0.25)
    assert np.allclose(top.channel_mean, seen["out"].double().mean((0, 2, 3)).numpy(), atol=1e-6)
    assert top.busiest(2) == list(np.argsort(-top.channel_mean)[:2])
    assert top.values.shape == (16, TOP_K) and top.images == 10 and layer_channels(model, layer) == 16


def test_top_activations_leave_the_model_as_found_also_in_train_mode():
    model, spec = tiny()
    model.train()
    before = state_of(model)
    top_activations(model, stage_layers(model, spec), images(6), (0.5,) * 3, (0.25,) * 3)
    assert_same_state(before, state_of(model))


# ---------------------------------------------------------------- receptive fields and crops

def test_stage_rows_follow_the_walk():
    loaded = load_random("resnet20")
    rows = stage_rows(loaded.model, loaded.spec)
    fields = dict(walk(loaded.model))
    assert [r.stage for r in rows] == ["conv1", "stage1", "stage2", "stage3"]
    assert [r.layer.key for r in rows] == ["conv1", "stage1_3", "stage2_3", "stage3_3"]
    assert [r.rf.size for r in rows] == [3, 15, 37, 81]
    assert [r.rf for r in rows[1:]] == [fields[f"layer{s}.2.conv2"] for s in (1, 2, 3)]
    assert [r.map_side for r in rows] == [32, 32, 16, 8]
    assert rows[1].coverage == pytest.approx(15 * 15 / 32**2) and rows[0].coverage == pytest.approx(9 / 1024)
    assert first_full_view(rows) is rows[2]
    assert [r.level for r in rows] == ["low", "low", "mid", "high"]
    assert [level_of(i, 5) for i in range(5)] == ["low", "low", "mid", "mid", "high"]


def test_crops_are_the_walks_boxes_with_clipped_sides_named():
    loaded = load_random("resnet20")
    rf = stage_rows(loaded.model, loaded.spec)[1].rf  # 15 px, jump 1, centre of unit i at i
    assert crop_box(rf, 0, 0, 32, 32) == ((0, 0, 7, 7), (True, True, False, False))
    assert crop_box(rf, 16, 16, 32, 32) == ((9, 9, 23, 23), (False, False, False, False))
    assert crop_box(rf, 31, 7, 32, 32) == ((24, 0, 31, 14), (False, False, True, False))
    assert coverage(rf, 32) == pytest.approx(225 / 1024)
    x = images(12)
    layer = stage_layers(loaded.model, loaded.spec)[1]
    top = top_activations(loaded.model, [layer], x, loaded.mean, loaded.std)[layer.key]
    for crop in crops(top, 3):
        assert crop.box == top.rf.box(int(round(crop.centre[0])), int(round(crop.centre[1])), 32, 32)
        assert not any(crop.clipped)  # the unit is chosen among those whose field lies inside the image
    grid = patch_grid(x.permute(0, 2, 3, 1).numpy(), crops(top, 3), rf.size, target=30)
    assert grid.shape == (3 * 30 + 4, 3 * 30 + 4, 3)  # 15 px tiles zoomed twice, 2 px gaps


def test_patch_tile_marks_the_clipped_sides():
    loaded = load_random("resnet20")
    rf = stage_rows(loaded.model, loaded.spec)[1].rf
    picture = np.zeros((1, 32, 32, 3), np.uint8)
    box, clipped = crop_box(rf, 0, 0, 32, 32)
    from resnet_viz.inspect.layer_learns import Crop
    from resnet_viz.render.plots.layer_learns import MARK, OUTSIDE
    tile = patch_grid(picture, [Crop(0, 1.0, box, clipped, (0.0, 0.0))], rf.size, cols=1, target=15)
    assert tile.shape == (15, 15, 3)
    assert (tile[0, 0] == OUTSIDE).all()  # the field's part above and left of the image
    assert tuple(tile[7, 10]) == MARK and tuple(tile[10, 7]) == MARK  # the crop's top and left edges
    assert (tile[14, 14] == 0).all()  # the image itself, bottom right


# ---------------------------------------------------------------- filters, agreement, sentences

def test_filters_and_luminance_share():
    sobel = grey_kernel(((1, 0, -1), (2, 0, -2), (1, 0, -1)))
    opponent = np.stack([np.ones((3, 3)), -np.ones((3, 3)), np.zeros((3, 3))])[None]
    assert luminance_share(sobel)[0] == pytest.approx(1.0) and luminance_share(opponent)[0] == pytest.approx(0.0)
    pictures = filter_pictures(np.concatenate([sobel, opponent]))
    assert pictures.shape == (2, 3, 3, 3)
    assert tuple(pictures[0, 1, 0]) == (255, 255, 255) and tuple(pictures[0, 1, 2]) == (0, 0, 0)
    assert tuple(pictures[0, 1, 1]) == (128, 128, 128)
    assert tuple(pictures[1, 0, 0]) == (191, 64, 128)  # one scale for all: the bound is Sobel's 2
    loaded = load_random("resnet20")
    assert conv1_filters(loaded.model).shape == (16, 3, 3, 3)
    assert filters_sentence([1.0, 0.2, 0.7], "en") == t("layer_learns.filters_verdict", "en", grey=2, colour=1,
                                                        total=3)


def test_class_agreement_and_chance():
    model, spec = tiny()
    layer = stage_layers(model, spec)[-1]
    top = top_activations(model, [layer], images(12), (0.5,) * 3, (0.25,) * 3, k=4)[layer.key]
    assert class_agreement(top, np.zeros(12, int)) == 1.0
    labels = np.arange(12)
    assert class_agreement(top, labels) == 0.25
    assert chance_agreement(np.zeros(50, int)) == 1.0
    balanced = np.repeat(np.arange(10), 100)
    assert 0.25 < chance_agreement(balanced) < 0.32  # 9 of 1000 balanced images: about 0.28


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_table_and_sentences(lang):
    loaded = load_random("resnet20")
    rows = stage_rows(loaded.model, loaded.spec)
    agreement = {"conv1": 0.38, "stage1_3": 0.33, "stage2_3": 0.4, "stage3_3": 0.69}
    table = stage_table(rows, 32, agreement, lang)
    assert [r[t("layer_learns.col_rf", lang)] for r in table] == [3, 15, 37, 81]
    assert table[1][t("layer_learns.col_coverage", lang)] == "22 %"
    assert table[3][t("layer_learns.col_agreement", lang)] == "69 %"
    assert telescope_sentence(rows, 32, lang).endswith(t("layer_learns.telescope_full", lang, stage="stage2",
                                                         size=32))
    assert "27" in telescope_sentence(rows, 32, lang)  # 81 / 3
    rises = agreement_sentence(rows, agreement, 0.285, lang)
    assert rises == t("layer_learns.agreement_rises", lang, first="38 %", first_stage="conv1", last="69 %",
                      last_stage="stage3", chance="28 %")
    flat = agreement_sentence(rows, {**agreement, "stage3_3": 0.3}, 0.285, lang)
    assert flat.startswith(t("layer_learns.agreement_flat", lang, first="38 %", first_stage="conv1", last="30 %",
                             last_stage="stage3", chance="28 %"))
    assert len(rf_figure(rows, 32, lang).data[0].y) == 4


# ---------------------------------------------------------------- feature visualisation

def test_colour_basis_is_a_square_root_of_the_sample_covariance():
    x, _, _ = load_test_sample(200)
    basis = colour_basis()
    full, _, _ = load_test_sample()
    cov = np.cov(full.permute(1, 0, 2, 3).reshape(3, -1).double().numpy() / 255.0)
    product = basis @ basis.T
    assert np.allclose(product / product[0, 0], cov / cov[0, 0], atol=1e-6)
    assert np.linalg.norm(basis, axis=0).max() == pytest.approx(1.0)
    assert len(x) == 200


def test_optimiser_raises_the_target_and_is_reproducible():
    loaded = load_model(SHIPPED_DIR / "resnet20.safetensors")
    before = state_of(loaded.model)
    config = VisConfig(steps=12, seed=3)
    steps = []
    first = visualise(loaded.model, "layer2.2", [5, 9], loaded.mean, loaded.std, config, on_step=steps.append)
    assert steps == list(range(1, 13))
    assert (first.end > first.start + 0.1).all()
    assert first.images.shape == (2, 32, 32, 3) and first.images.dtype == np.uint8
    again = visualise(loaded.model, "layer2.2", [5, 9], loaded.mean, loaded.std, config)
    assert np.array_equal(first.images, again.images) and np.array_equal(first.end, again.end)
    other = visualise(loaded.model, "layer2.2", [5, 9], loaded.mean, loaded.std, VisConfig(steps=12, seed=4))
    assert not np.array_equal(first.images, other.images)
    assert_same_state(before, state_of(loaded.model))
    assert isinstance(final_relu(loaded.model, "layer2.2"), nn.ReLU)
    assert final_relu(loaded.model, "layer2.2") is loaded.model.layer2[2].relu2


def test_optimiser_leaves_the_model_as_found_when_stopped():
    model, _ = tiny()
    model.train()
    before = state_of(model)

    def stop(step: int) -> None:
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        visualise(model, "layer1.0", [0], (0.5,) * 3, (0.25,) * 3, VisConfig(steps=10), on_step=stop)
    assert_same_state(before, state_of(model))


def test_imagenet_network_at_its_own_size():
    loaded = load_random("resnet18")
    config = VisConfig.for_dataset("imagenet", steps=2)
    assert config.size == 128
    result = visualise(loaded.model, "layer1.0", [0], loaded.mean, loaded.std, config)
    assert result.images.shape == (1, 128, 128, 3)
    assert final_relu(loaded.model, "layer1.0") is loaded.model.layer1[0].relu


def test_grid_round_trip(tmp_path):
    model, spec = tiny()
    layers = stage_layers(model, spec)[1:3]
    grid = grid_for(model, layers, [[0, 1], [2, 3]], (0.5,) * 3, (0.25,) * 3, VisConfig(steps=2), name="resnet8",
                    fingerprint=model_fingerprint(model))
    back = load_grid("resnet8", save_grid(grid, tmp_path).parent)
    assert back is not None and back.layers == grid.layers and back.meta == grid.meta
    assert np.array_equal(back.images, grid.images) and np.array_equal(back.channels, grid.channels)
    assert back.find(layers[1].key, 3) is not None and back.find(layers[1].key, 0) is None
    assert load_grid("resnet9", tmp_path) is None


def test_shipped_grids_match_the_shipped_checkpoints():
    total = 0
    for name in SHIPPED_NETS:
        grid = load_grid(name)
        assert grid is not None, name
        loaded = load_model(SHIPPED_DIR / f"{name}.safetensors")
        assert grid.meta["fingerprint"] == model_fingerprint(loaded.model)
        assert list(grid.layers) == [layer.key for layer in stage_layers(loaded.model, loaded.spec)]
        assert grid.images.shape[:2] == grid.channels.shape and grid.images.shape[2:] == (32, 32, 3)
        assert {"seed", "steps", "seconds", "seconds_per_channel"} <= set(grid.meta)
    for path in FEATURE_VIS_DIR.glob("*.npz"):
        total += path.stat().st_size
    assert total < 600 * 1024


# ---------------------------------------------------------------- CLI and page

def test_cli_writes_the_top_patches_grid(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli_main(["learns", "random:resnet20", "--layer", "stage1_2", "--channels", "0,3", "--limit", "40",
                     "--out", str(out)]) == 0
    picture = Image.open(io.BytesIO(out.read_bytes()))
    assert picture.width > picture.height > 0
    text = capsys.readouterr().out
    assert "40 images" in text and "channel 3" in text and "receptive field 11 px" in text
    assert cli_main(["learns", "random:resnet20", "--layer", "nope", "--limit", "10"]) == 2
    assert cli_main(["learns", "random:resnet20", "--layer", "conv1", "--channels", "99", "--limit", "10",
                     "--out", str(out)]) == 2


def test_cli_regenerates_feature_vis(tmp_path):
    assert cli_main(["learns", "random:resnet20", "--feature-vis", "--steps", "2", "--limit", "30",
                     "--out-dir", str(tmp_path)]) == 0
    grid = load_grid("resnet20", tmp_path)
    assert grid is not None and grid.images.shape == (4, 6, 32, 32, 3) and grid.meta["steps"] == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page(lang):
    at = app_page("pages/layer_learns.py", lang=lang, layer_learns_images=200)
    assert_no_exception(at)
    assert at.title[0].value == t("layer_learns.title", lang)
    assert len(at.get("image")) >= 6  # four stages' patches, their pictures, the filters
    text = "\n".join(m.value for m in at.markdown)
    assert t("layer_learns.telescope_full", lang, stage="stage2", size=32) in text
    assert t("layer_learns.filters_title", lang) in [s.value for s in at.subheader]
    assert at.dataframe[0].value.shape[0] == 4


def test_page_live_visualisation_of_any_channel():
    at = app_page("pages/layer_learns.py", lang="en", layer_learns_images=200, layer_learns_layer="stage1_1")
    assert_no_exception(at)
    at.button(key="layer_learns_vis").click().run()
    assert_no_exception(at)
    captions = [c for image in at.get("image") for c in image.captions]
    assert any("optimised in" in str(c) for c in captions), captions


def test_page_on_an_imagenet_network(monkeypatch):
    import ui.models

    resnet18 = load_random("resnet18")
    monkeypatch.setattr(ui.models, "current_model", lambda: resnet18)  # the page imports it at each run
    at = app_page("pages/layer_learns.py", lang="zh")
    assert_no_exception(at)
    assert t("layer_learns.no_patches_imagenet", "zh") in [i.value for i in at.info]
    assert at.dataframe[0].value.shape[0] == 5  # conv1, conv2_x ... conv5_x


def test_the_channel_picker_follows_the_images_searched():
    from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
    from resnet_viz.inspect.feature_maps import layer_specs
    from resnet_viz.samples import load_test_sample

    def busiest(limit: int) -> int:
        loaded = load_model(str(SHIPPED_DIR / "resnet20.safetensors"))  # the sidebar's default
        layer = next(x for x in layer_specs(loaded.model, loaded.spec) if x.key == "stage3_3")
        top = top_activations(loaded.model, [layer], load_test_sample(limit)[0], loaded.mean, loaded.std)
        return top[layer.key].busiest(1)[0]

    at = app_page("pages/layer_learns.py", lang="en", layer_learns_images=200, layer_learns_layer="stage3_3")
    assert_no_exception(at)
    box = "layer_learns_channel_stage3_3"
    assert at.selectbox(key=box).value == busiest(200)
    other = (busiest(200) + 1) % 64
    at.selectbox(key=box).set_value(other).run()
    at.run()
    assert at.selectbox(key=box).value == other  # the student's choice stays for the same images
    at.select_slider(key="layer_learns_images").set_value(500).run()
    assert_no_exception(at)
    assert at.selectbox(key=box).value == busiest(500)  # other images: their busiest channel
