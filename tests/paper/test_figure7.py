"""Figure 7's responses: the std of each 3x3 conv's output after BN, before the addition / ReLU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from resnet_viz.checkpoints.read import load_checkpoint, read_sidecar
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.cli import main
from resnet_viz.cost import CostMeter
from resnet_viz.data import normalize
from resnet_viz.errors import InputError
from resnet_viz.models.registry import build_model
from resnet_viz.paper.figure7 import (
    FIGURE7_MODELS,
    REFERENCE_IMAGES,
    REFERENCE_SECONDS,
    Figure7Source,
    ImageMoments,
    LayerResponses,
    bootstrap_interval,
    concentration,
    figure7_sources,
    layer_responses,
    live_paths,
    median_image_interval,
    median_image_std,
    network_macs,
    reference_seconds_per_mac,
    resample_weights,
    response_claims,
    response_layers,
    responses_of,
    responses_work,
    source_family,
    source_model,
    stored_responses,
    trained_alike,
)
from resnet_viz.samples import balanced_order, load_npz

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)

# Small CIFAR nets: one intra-op thread is fastest on the shared CPU (and restored after each test).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n: int = 6, size: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def _trained_like(name: str, seed: int = 0) -> nn.Module:
    """A random net whose BNs have non-trivial affine parameters and running statistics, like a trained one."""
    torch.manual_seed(seed)
    model = build_model(name)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.2, 1.5)
            m.bias.data.normal_(0, 0.3)
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 3.0)
    return model.eval()


@pytest.mark.parametrize("name, count", [("resnet20", 19), ("plain20", 19), ("resnet56", 55), ("resnet32", 31)])
def test_one_value_per_3x3_conv(name, count):
    model = build_model(name)
    result = layer_responses(model, _images(2, 8), mean=MEAN, std=STD)
    assert len(result.std) == len(result.layers) == count
    assert result.layers[0] == "conv1" and result.layers[1] == "layer1.0.conv1" and result.layers[-1].endswith("conv2")
    assert all(np.isfinite(result.std)) and all(v > 0 for v in result.std)


def test_matches_a_manual_hook_after_bn_before_the_addition():
    model = _trained_like("resnet20")
    images = _images(8, 16)
    seen = {}

    def keep(name):
        return lambda _m, _i, out: seen.__setitem__(name, out.detach().clone())

    block = model.layer2[0]  # a downsampling block: option A shortcut adds zero-padded x to bn2's output
    handles = [block.bn2.register_forward_hook(keep("bn2")), block.register_forward_hook(keep("block")),
               model.bn1.register_forward_hook(keep("stem"))]
    with torch.no_grad():
        model(normalize(images, MEAN, STD))
    for h in handles:
        h.remove()

    result = layer_responses(model, images, mean=MEAN, std=STD)
    by_layer = dict(zip(result.layers, result.std))
    assert by_layer["layer2.0.conv2"] == pytest.approx(seen["bn2"].std(unbiased=False).item(), rel=1e-5)
    assert by_layer["conv1"] == pytest.approx(seen["stem"].std(unbiased=False).item(), rel=1e-5)
    # The block's output (after the addition and ReLU) is a different quantity: the hook is before it.
    assert by_layer["layer2.0.conv2"] != pytest.approx(seen["block"].std(unbiased=False).item(), rel=1e-3)


def test_batching_does_not_change_the_values():
    model = _trained_like("plain20", seed=1)
    images = _images(7, 8)
    whole = layer_responses(model, images, mean=MEAN, std=STD, batch_size=100)
    pieces = layer_responses(model, images, mean=MEAN, std=STD, batch_size=3)
    np.testing.assert_allclose(whole.std, pieces.std, rtol=1e-5)
    assert whole.images == 7
    assert pieces.sorted_desc() == sorted(pieces.std, reverse=True)


def test_uses_the_checkpoints_own_normalisation(tmp_path):
    model = _trained_like("resnet20", seed=2)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.4, 0.3)
    path = save_checkpoint(model, tmp_path / "r20", {"model": "resnet20", "shortcut": "A", "mean": mean, "std": std})
    loaded = load_checkpoint(path)
    images = _images(4, 8)
    ours = responses_of(loaded, images)
    np.testing.assert_allclose(ours.std, layer_responses(model, images, mean=mean, std=std).std, rtol=1e-5)
    other = layer_responses(model, images, mean=MEAN, std=STD)
    assert ours.std[0] != pytest.approx(other.std[0], rel=1e-3)


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_hooks_are_removed_also_on_error():
    model = build_model("resnet20")
    layer_responses(model, _images(2, 8), mean=MEAN, std=STD)
    assert _hook_count(model) == 0

    def broken(_x):
        raise RuntimeError("boom")

    model.layer2.forward = broken
    with pytest.raises(RuntimeError, match="boom"):
        layer_responses(model, _images(2, 8), mean=MEAN, std=STD)
    assert _hook_count(model) == 0


def test_refuses_nets_without_bn_and_bad_images():
    no_bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(InputError) as err:
        response_layers(no_bn)
    assert "0" in err.value.message("en") and err.value.message("zh") != err.value.message("en")
    with pytest.raises(InputError):
        layer_responses(build_model("resnet20"), torch.zeros(2, 1, 8, 8, dtype=torch.uint8), mean=MEAN, std=STD)
    with pytest.raises(InputError):
        layer_responses(build_model("resnet20"), torch.zeros(2, 3, 8, 8), mean=MEAN, std=STD)


def test_balanced_subset_of_the_shipped_sample():
    images, labels, classes = load_npz(limit=20)
    assert images.shape == (20, 3, 32, 32) and images.dtype == torch.uint8
    assert sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    assert len(classes) == 10
    order = balanced_order(np.array([1, 1, 0, 0, 1]))
    assert order.tolist() == [2, 0, 3, 1, 4]


def _tiny_npz(path, n=10, size=8):
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
             labels=np.arange(n, dtype=np.int64) % 10, classes=np.array([str(i) for i in range(10)]))
    return path


def test_cli_json_and_store(tmp_path, capsys):
    npz = _tiny_npz(tmp_path / "tiny.npz")
    r20 = save_checkpoint(_trained_like("resnet20"), tmp_path / "r20", {"model": "resnet20", "shortcut": "A"})
    p20 = save_checkpoint(_trained_like("plain20"), tmp_path / "p20", {"model": "plain20"})
    args = ["--data", str(npz), "--limit", "6", "--json", "--store", "--threads", "1"]
    assert main(["responses", str(r20), str(p20), *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [len(out[str(r20)]), len(out[str(p20)])] == [19, 19]
    stored = stored_responses(read_sidecar(r20), sample="tiny")
    assert stored is not None and list(stored.std) == out[str(r20)] and stored.images == 6
    assert load_checkpoint(r20).name == "resnet20"  # the sidecar still matches its weights

    assert main(["responses", str(r20), "--data", str(npz), "--limit", "3"]) == 0
    text = capsys.readouterr().out
    assert "19 layers, 3 images" in text and "stage3_3.conv2" in text and "layer3.2" not in text


def test_cli_bad_data_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    assert main(["responses", "random:resnet20", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_thread_count_and_mode_are_left_alone():
    """A request never changes a process-wide setting (the thread count), nor the model's mode."""
    model = build_model("plain20").train()
    before = torch.get_num_threads()
    layer_responses(model, _images(2, 8), mean=MEAN, std=STD)
    assert torch.get_num_threads() == before
    assert all(m.training for m in model.modules())


def test_figure7_has_both_panels():
    from resnet_viz.i18n import t
    from resnet_viz.render.plots.layout import AXIS_LINE, wrap
    from resnet_viz.render.plots.paper import figure7

    res = layer_responses(_trained_like("resnet20"), _images(2, 8), mean=MEAN, std=STD)
    fig = figure7([("ResNet-20", "resnet", res)], "zh")
    top, bottom = fig.data
    assert list(top.y) == list(res.std) and list(bottom.y) == res.sorted_desc()
    assert fig.layout.yaxis.title.text == wrap(t("figure7.y_axis", "zh"), AXIS_LINE)


def test_log_axis_only_for_wide_ranges():
    from resnet_viz.paper.figure7 import LayerResponses, wide_range
    from resnet_viz.render.plots.paper import figure7

    small = LayerResponses(("a", "b"), (0.5, 1.0), 1)
    huge = LayerResponses(("a", "b"), (0.5, 5e6), 1)
    assert not wide_range([small]) and wide_range([small, huge])
    assert figure7([("x", "plain", huge)], "en", log_y=True).layout.yaxis.type == "log"
    assert figure7([("x", "plain", small)], "en").layout.yaxis.type != "log"


def _res(*std: float) -> LayerResponses:
    return LayerResponses(tuple(f"l{i}" for i in range(len(std))), std, 10)


def test_response_claims_compare_families_and_resnet_depths():
    r20, r56, p20, p56 = _res(0.9, 0.7), _res(0.5, 0.5, 0.5, 0.5), _res(1.0, 1.2), _res(2.0, 2.0, 2.0, 2.0)
    claims = response_claims([("ResNet-20", "resnet", r20), ("ResNet-56", "resnet", r56),
                              ("plain-20", "plain", p20), ("plain-56", "plain", p56)])
    assert claims.largest_resnet == ("ResNet-20", pytest.approx(0.8))
    assert claims.smallest_plain == ("plain-20", pytest.approx(1.1))
    assert claims.resnets_smaller is True
    assert claims.shallow_resnet[0] == "ResNet-20" and claims.deep_resnet[0] == "ResNet-56"
    assert claims.deeper_smaller is True

    r110 = _res(*([1.15] * 6))  # the deepest ResNet responding more than plain-20, which is not its counterpart
    claims = response_claims([("ResNet-20", "resnet", r20), ("ResNet-110", "resnet", r110),
                              ("plain-20", "plain", p20)])
    assert claims.resnets_smaller is True and claims.largest_resnet[0] == "ResNet-20"
    assert claims.deeper_smaller is False
    claims = response_claims([("ResNet-20", "resnet", r20), ("ResNet-110", "resnet", r110),
                              ("plain-20", "plain", p20), ("plain-110", "plain", _res(*([1.1] * 6)))])
    assert claims.resnets_smaller is False  # ResNet-110 above its own counterpart decides
    assert claims.largest_resnet[0] == "ResNet-110" and claims.smallest_plain[0] == "plain-110"


def test_the_smaller_claim_compares_counterparts_of_one_depth():
    """The paper: "ResNets have generally smaller responses than their plain counterparts". Across depths it claims
    nothing: a plain-56 below a ResNet-20 (as in this project's 30-epoch runs) is no counter-example."""
    r20, p20, p56 = _res(0.33, 0.33), _res(0.37, 0.37), _res(0.25, 0.25, 0.25, 0.25)
    r56 = _res(0.21, 0.21, 0.21, 0.21)
    claims = response_claims([("ResNet-20", "resnet", r20), ("ResNet-56", "resnet", r56),
                              ("plain-20", "plain", p20), ("plain-56", "plain", p56)])
    assert claims.resnets_smaller is True  # 0.33 < 0.37 and 0.21 < 0.25, though 0.33 > 0.25
    assert (claims.largest_resnet[0], claims.smallest_plain[0]) == ("ResNet-20", "plain-20")  # margin 0.04
    assert response_claims([("ResNet-20", "resnet", r20), ("plain-56", "plain", p56)]).resnets_smaller is None


def test_response_claims_need_both_families_and_two_depths():
    only_resnets = response_claims([("a", "resnet", _res(0.5)), ("b", "resnet", _res(0.4))])
    assert only_resnets.resnets_smaller is None and only_resnets.deeper_smaller is None  # same depth
    assert response_claims([]).resnets_smaller is None
    one_each = response_claims([("r", "resnet", _res(0.5)), ("p", "plain", _res(0.4))])
    assert one_each.resnets_smaller is False and one_each.deeper_smaller is None


# ---------------------------------------------------------------- which images drive the pooled std

def test_per_image_moments_agree_with_the_pooled_values_and_a_manual_hook():
    model = _trained_like("resnet20", seed=3)
    images = _images(5, 16)
    seen = []
    handle = model.layer3[2].bn2.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().clone()))
    with torch.no_grad():
        model(normalize(images, MEAN, STD))
    handle.remove()

    plain = layer_responses(model, images, mean=MEAN, std=STD)
    result = layer_responses(model, images, mean=MEAN, std=STD, per_image=True, batch_size=2)
    assert plain.per_image is None and _hook_count(model) == 0
    np.testing.assert_allclose(result.std, plain.std, rtol=1e-6)
    np.testing.assert_allclose(result.per_image.pooled_std(), plain.std, rtol=1e-6)
    assert result.per_image.sums.shape == (19, 5)
    last = result.layers.index("layer3.2.conv2")
    own = seen[0].flatten(1).double().std(1, unbiased=False).numpy()
    n = result.per_image.counts[last]
    mean = result.per_image.sums[last] / n
    np.testing.assert_allclose(np.sqrt(result.per_image.sumsq[last] / n - mean ** 2), own, rtol=1e-5)
    share = result.per_image.variance_share()
    assert share.shape == (5,) and share.sum() == pytest.approx(1.0) and (share > 0).all()


def _moments(values: list[np.ndarray]) -> ImageMoments:
    """One layer whose images give these values."""
    return ImageMoments(np.array([float(len(values[0]))]), np.array([[v.sum() for v in values]]),
                        np.array([[(v * v).sum() for v in values]]))


def test_one_wild_image_carries_most_of_the_variance():
    rng = np.random.default_rng(0)
    calm = [rng.normal(0, 1, 400) for _ in range(99)]
    wild = rng.normal(0, 30, 400)
    moments = _moments(calm[:40] + [wild] + calm[40:])
    np.testing.assert_allclose(moments.pooled_std(), [np.concatenate(calm + [wild]).std()], rtol=1e-9)
    share = moments.variance_share()
    assert share.argmax() == 40 and share[40] > 0.85 and share.sum() == pytest.approx(1.0)
    assert moments.image_std()[40] == pytest.approx(30, rel=0.1)

    result = LayerResponses(("l0",), tuple(moments.pooled_std()), 100, moments)
    even = LayerResponses(("l0",), (1.0,), 99, _moments(calm))
    ranked = concentration([("even", "plain", even), ("wild", "resnet", result)], top=2)
    assert [c.label for c in ranked] == ["wild", "even"]
    assert ranked[0].top[0] == 40 and ranked[0].top_share > 0.85 and ranked[0].top_std[0] > 20
    assert ranked[0].even_share == pytest.approx(0.02)
    assert ranked[0].median_image_std == pytest.approx(1.0, rel=0.1) == median_image_std(result)
    assert ranked[1].top_share < 0.1
    assert ranked[0].dominated and not ranked[1].dominated
    assert ranked[0].outliers == (0,) and ranked[1].outliers == ()  # only the wild image holds 10x an even share
    assert ranked[0].top_shares[0] == pytest.approx(share[40])


def test_identical_images_share_evenly():
    same = np.linspace(-1, 1, 50)
    share = _moments([same, same, same, same]).variance_share()
    np.testing.assert_allclose(share, 0.25)
    flat = _moments([np.zeros(10), np.zeros(10)]).variance_share()  # no variance at all: still sums to 1
    np.testing.assert_allclose(flat, 0.5)


def test_response_claims_on_another_statistic_leave_out_networks_without_it():
    rng = np.random.default_rng(1)
    wild = LayerResponses(("l0",), (5.0,), 3, _moments([rng.normal(0, 0.3, 99), rng.normal(0, 0.3, 99),
                                                        rng.normal(0, 9, 99)]))
    calm = LayerResponses(("l0",), (0.8,), 3, _moments([rng.normal(0, 0.8, 99) for _ in range(3)]))
    results = [("ResNet-20", "resnet", wild), ("ResNet-110", "resnet", _res(0.7, 0.7)), ("plain-20", "plain", calm)]
    assert response_claims(results).resnets_smaller is False  # the pooled mean: the wild image wins
    assert response_claims(results).deeper_smaller is True
    typical = response_claims(results, median_image_std)  # ResNet-110 has no per-image moments: left out
    assert typical.largest_resnet[0] == "ResNet-20" and typical.resnets_smaller is True
    assert typical.deeper_smaller is None


# ---------------------------------------------------------------- uncertainty over images, and cost

def _synthetic(images: int, layers: int = 3, values: int = 64, seed: int = 0) -> LayerResponses:
    """Per-image moments of random responses whose spread differs from image to image."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (layers, images, values)) * rng.uniform(0.5, 2.0, (1, images, 1))
    moments = ImageMoments(np.full(layers, float(values)), x.sum(2), np.square(x).sum(2))
    return LayerResponses(tuple(f"l{i}" for i in range(layers)), tuple(map(float, moments.pooled_std())), images,
                          moments)


def test_resampling_every_image_once_gives_the_pooled_values():
    r = _synthetic(20)
    moments = r.per_image
    assert moments is not None
    once = moments.resampled_pooled_std(np.ones((1, 20)))
    np.testing.assert_allclose(once[0], r.std, rtol=1e-12)
    twice = moments.resampled_pooled_std(np.full((1, 20), 2.0))  # duplicating every image changes nothing
    np.testing.assert_allclose(twice[0], r.std, rtol=1e-12)
    weights = resample_weights(20, resamples=7, seed=3)
    assert weights.shape == (7, 20) and (weights.sum(1) == 20).all()
    picked = np.repeat(np.arange(20), weights[0].astype(int))  # the same resample, made by hand
    by_hand = ImageMoments(moments.counts, moments.sums[:, picked], moments.sumsq[:, picked])
    np.testing.assert_allclose(moments.resampled_pooled_std(weights[:1])[0], by_hand.pooled_std(), rtol=1e-12)


def _known(interval: tuple[float, float] | None) -> tuple[float, float]:
    assert interval is not None
    return interval


def _median_of(result: LayerResponses) -> float:
    value = median_image_std(result)
    assert value is not None
    return value


def test_bootstrap_interval_holds_the_value_is_seeded_and_shrinks_with_more_images():
    small, large = _synthetic(50), _synthetic(800)
    low, high = _known(bootstrap_interval(small))
    assert low < small.mean < high
    assert bootstrap_interval(small) == (low, high)  # the fixed seed
    assert bootstrap_interval(small, seed=1) != (low, high)
    large_low, large_high = _known(bootstrap_interval(large))
    assert large_low < large.mean < large_high
    assert (large_high - large_low) < 0.5 * (high - low)  # 16 times the images: about a quarter of the width
    wide = _known(bootstrap_interval(small, level=0.99))
    assert wide[0] <= low and wide[1] >= high
    m_low, m_high = _known(median_image_interval(small))
    assert m_low <= _median_of(small) <= m_high and median_image_interval(small) == (m_low, m_high)


def test_no_interval_without_per_image_moments():
    stored = _res(0.5, 0.7)
    assert bootstrap_interval(stored) is None and median_image_interval(stored) is None


def test_overlapping_intervals_make_a_claim_too_close_to_call():
    r20, r56, p20 = _res(0.6, 0.6), _res(0.5, 0.5, 0.5, 0.5), _res(0.7, 0.7)
    results = [("ResNet-20", "resnet", r20), ("ResNet-56", "resnet", r56), ("plain-20", "plain", p20)]
    apart = response_claims(results, intervals={"ResNet-20": (0.58, 0.62), "ResNet-56": (0.45, 0.55),
                                                "plain-20": (0.65, 0.75)})
    assert apart.resnets_smaller is True and apart.smaller_too_close is False
    assert apart.deeper_smaller is True and apart.deeper_too_close is False
    close = response_claims(results, intervals={"ResNet-20": (0.5, 0.71), "ResNet-56": (0.45, 0.55),
                                                "plain-20": (0.69, 0.75)})
    assert close.smaller_too_close is True and close.deeper_too_close is True
    unknown = response_claims(results, intervals={"ResNet-20": None, "plain-20": (0.65, 0.75)})
    assert unknown.smaller_too_close is None and unknown.deeper_too_close is None
    assert response_claims(results).smaller_too_close is None


def test_progress_is_reported_per_batch_and_an_exception_there_stops_cleanly():
    model, images = _trained_like("resnet20"), _images(5, 8)
    done: list[int] = []
    layer_responses(model, images, mean=MEAN, std=STD, batch_size=2, on_batch=done.append)
    assert done == [2, 4, 5]

    class Stop(Exception):
        pass

    def stop(_done: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        layer_responses(model, images, mean=MEAN, std=STD, batch_size=2, on_batch=stop)
    assert all(not m._forward_hooks for m in model.modules())


def test_cost_estimate_from_measurements_else_from_multiply_adds():
    meter = CostMeter(reference_seconds_per_mac)  # as ui/figure7.meter() builds it

    def record(model: str, images: int, seconds: float) -> None:
        meter.record(model, responses_work([model], images)[model], seconds)

    seconds, basis = meter.estimate(responses_work(FIGURE7_MODELS, REFERENCE_IMAGES))
    assert basis == "macs_reference" and seconds == pytest.approx(REFERENCE_SECONDS)
    record("resnet20", 100, 2.0)
    seconds, basis = meter.estimate(responses_work(["resnet20", "plain20"], 1000))  # same multiply-adds each
    assert basis == "macs_measured" and seconds == pytest.approx(40.0)
    record("plain20", 200, 1.0)
    assert meter.estimate(responses_work(["resnet20", "plain20"], 100)) == (pytest.approx(2.5), "measured")
    assert responses_work(["resnet20", "resnet20"], 10) == {"resnet20": 20 * network_macs("resnet20")}
    assert network_macs("resnet56") > 3 * network_macs("resnet20")


def test_sources_model_family_and_which_nets_are_computed_live():
    stored = Figure7Source("/c/r20.safetensors", "resnet20", "resnet", "r20", True, _res(0.5))
    bare = Figure7Source("/c/p20.safetensors", "plain20", "plain", "p20", False, None)
    by_path = {s.path: s for s in (stored, bare)}
    assert source_model(stored.path, by_path) == "resnet20" and source_family(bare.path, by_path) == "plain"
    assert source_model("random:plain20", by_path) == "plain20"  # an untrained net: its name after "random:"
    assert source_family("random:resnet20", by_path) == "resnet" and source_family("random:plain20", {}) == "plain"
    chosen = [stored.path, bare.path, "random:resnet20"]
    assert live_paths(chosen, by_path, live=False) == [bare.path, "random:resnet20"]  # no stored values
    assert live_paths(chosen, by_path, live=True) == chosen  # "Recompute live": every net


def test_figure7_marks_the_layers_that_output_f_of_x():
    """Only a basic block's second 3x3 conv outputs F(x) (before the addition); the stem conv, the first conv of a
    block and a bottleneck's only 3x3 conv do not."""
    from resnet_viz.paper.figure7 import outputs_residual
    from resnet_viz.render.plots.paper import figure7

    layers = ("conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2")
    assert outputs_residual(layers) == (False, False, True, False, True)
    assert outputs_residual(("conv1", "layer1.0.conv2", "layer1.1.conv2")) == (False, False, False)  # bottleneck
    res = layer_responses(_trained_like("resnet20"), _images(2, 8), mean=MEAN, std=STD)
    top = figure7([("ResNet-20", "resnet", res)], "en").data[0]
    marked = [name for name, size in zip(res.layers, top.marker.size) if size]
    assert marked == [f"layer{s}.{b}.conv2" for s in (1, 2, 3) for b in range(3)]
    assert top.customdata[2] == "stage1_1.conv2, outputs F(x)" and top.customdata[1] == "stage1_1.conv1"  # as named
    plain = figure7([("plain-20", "plain", res)], "en").data[0]
    assert not any(plain.marker.size or ())  # a plain net's block adds nothing to x: no F(x) to mark


def test_trained_alike_compares_recipe_iterations_and_batch():
    def src(path, schedule):
        return Figure7Source(path, "resnet20", "resnet", path, True, None, schedule, None)

    by_path = {s.path: s for s in (src("a", ("fast", 5850, 256)), src("b", ("fast", 5850, 256)),
                                   src("c", ("fast", 1500, 128)))}
    assert trained_alike(["a", "b"], by_path) and trained_alike(["a", "random:plain20"], by_path)
    assert not trained_alike(["a", "c"], by_path)  # the campaign's 30 epochs beside the 3.8-epoch ResNet-110
    shipped = {s.path: s for s in figure7_sources() if s.shipped}
    r20, r56, r110 = (next(p for p, s in shipped.items() if s.model == m)
                      for m in ("resnet20", "resnet56", "resnet110"))
    assert shipped[r20].epochs == 30 and shipped[r20].schedule == ("fast", 5850, 256)
    assert trained_alike([r20, r56], shipped) and not trained_alike([r56, r110], shipped)
