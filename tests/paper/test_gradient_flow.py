"""Gradient flow at initialisation: plain vs residual, and on a trained model without modifying it."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import InputError
from resnet_viz.models.registry import build_model
from resnet_viz.paper.gradient_flow import _norm, at_init, check_depth, compare_at_init, of_checkpoint
from resnet_viz.render.plots.layout import AXIS_LINE, wrap

# Small CIFAR nets: one intra-op thread is fastest on the shared CPU (and restored after each test).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(n: int = 8, size: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (n,), generator=g))


def test_shapes_and_finite_values():
    x, y = _batch()
    flow = at_init(20, x, y, residual=True)
    assert len(flow.layers) == 20 and flow.layers[0] == "conv1" and flow.layers[-1] == "linear"
    assert len(flow.blocks) == 10 and flow.blocks[0] == "stem" and flow.blocks[-1] == "stage3_3"
    for values in (flow.weight_grad_norm, flow.signal_std, flow.grad_in_norm, flow.grad_out_norm):
        assert all(math.isfinite(v) and v > 0 for v in values)
    assert len(flow.block_gain) == 9 and math.isfinite(flow.loss) and flow.images == 8


def test_deep_plain_net_gradients_grow_toward_the_input_resnet_stays_near_one():
    """With BN in training mode, each plain block multiplies the backward gradient by about sqrt(2);
    the identity path keeps a residual block's factor near 1 (dL/dx = dL/dy (dF/dx + 1))."""
    x, y = _batch(8, 8)
    plain, res = compare_at_init(44, x, y)
    assert plain.first_to_last_ratio > 10 * res.first_to_last_ratio
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    assert abs(med(res.block_gain) - 1) < abs(med(plain.block_gain) - 1)
    assert plain.grad_in_norm[0] > 100 * plain.grad_out_norm[-1]


def test_deterministic_by_seed():
    x, y = _batch(4, 8)
    a = at_init(14, x, y, residual=False, seed=3)
    b = at_init(14, x, y, residual=False, seed=3)
    c = at_init(14, x, y, residual=False, seed=4)
    assert a.weight_grad_norm == b.weight_grad_norm
    assert a.weight_grad_norm != c.weight_grad_norm


def test_trained_model_is_left_untouched(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet20")
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
    path = save_checkpoint(model, tmp_path / "r20", {"model": "resnet20", "shortcut": "A"})
    loaded = load_checkpoint(path)
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    x, y = _batch(4, 8)
    flow = of_checkpoint(loaded, x, y)
    assert all(math.isfinite(v) for v in flow.weight_grad_norm) and flow.residual
    after = loaded.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in loaded.model.parameters())
    assert not loaded.model.training
    assert sum(len(m._forward_hooks) for m in loaded.model.modules()) == 0


@pytest.mark.parametrize("depth", [7, 21, 0, 10_000])
def test_impossible_depths_are_refused(depth):
    with pytest.raises(InputError) as err:
        check_depth(depth)
    assert str(depth) in err.value.message("zh")


def test_figures_use_a_log_scale_for_gradients():
    from resnet_viz.i18n import t
    from resnet_viz.render.plots.paper import block_figure, gradient_norms_figure

    x, y = _batch(4, 8)
    plain, res = compare_at_init(14, x, y)
    fig = gradient_norms_figure([plain, res], "zh")
    assert fig.layout.yaxis.type == "log" and [tr.name for tr in fig.data] == ["plain-14", "ResNet-14"]
    assert list(fig.data[0].y) == list(plain.weight_grad_norm)
    gain = block_figure([plain, res], "gain", "en")
    assert list(gain.data[1].y) == list(res.block_gain)
    assert gain.layout.yaxis.title.text == wrap(t("gradient_flow.y_gain", "en"), AXIS_LINE)


def test_a_narrow_log_axis_writes_its_ticks_out_and_a_wide_one_keeps_the_decades():
    """Plotly labels the ticks between powers of ten with bare digits ("9" under "1" for 0.9)."""
    from resnet_viz.render.plots.paper import block_figure, gradient_path_figure

    x, y = _batch(4, 8)
    plain, res = compare_at_init(14, x, y)
    gain = block_figure([plain, res], "gain", "en")
    ticks = list(gain.layout.yaxis.tickvals)
    assert all(f"{v:.0e}"[0] in "125" for v in ticks) and 1.0 in ticks
    assert min(ticks) <= min(plain.block_gain + res.block_gain) * 2.5
    assert list(gain.layout.yaxis.ticktext) == [f"{v:g}" for v in ticks]
    vanishing = compare_at_init(14, x, y, batch_norm=False, init="small")
    assert gradient_path_figure(list(vanishing), "en").layout.yaxis.tickvals is None  # 10^-k: decades


def test_hooks_are_removed_when_the_pass_fails():
    from resnet_viz.paper.gradient_flow import measure

    model = build_model("resnet20").train()

    def broken(_x):
        raise RuntimeError("boom")

    model.layer3.forward = broken
    x, y = _batch(2, 8)
    with pytest.raises(RuntimeError, match="boom"):
        measure(model, x.float() / 255, y, name="resnet20", residual=True)
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_thread_count_is_left_alone_and_the_copy_waits_for_the_models_lock(tmp_path):
    import threading

    from resnet_viz.inspect.hooks import model_lock

    torch.set_num_threads(2)  # the fixture restores it
    x, y = _batch(4, 8)
    compare_at_init(8, x, y)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)
    path = save_checkpoint(build_model("resnet20"), tmp_path / "r20", {"model": "resnet20", "shortcut": "A"})
    loaded = load_checkpoint(path)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (of_checkpoint(loaded, x, y), done.set()))
    with model_lock(loaded.model):  # e.g. a capture hooking the cached model: a copy now would copy its hooks
        worker.start()
        assert not done.wait(0.3)
    worker.join(60)
    assert done.is_set() and torch.get_num_threads() == 1


def test_norms_of_huge_finite_gradients_do_not_overflow():
    """A deep plain net's gradients near the input reach 1e20: their squares overflow float32, not their norm."""
    g = torch.full((1000,), 1e20, dtype=torch.float32)
    assert not math.isfinite(float(g.norm()))  # float32 accumulation: the inf plain-326 showed
    assert _norm(g) == pytest.approx(1e20 * math.sqrt(1000), rel=1e-6)
    g[0] = math.inf  # an element that overflowed in the backward pass itself: no norm can recover it
    assert _norm(g) == math.inf


def test_overflowed_layers_are_counted_and_the_ratio_is_not_a_number():
    x, y = _batch(4, 8)
    flow = at_init(14, x, y, residual=False)
    norms = (math.inf, math.inf) + flow.weight_grad_norm[2:]
    broken = dataclasses.replace(flow, weight_grad_norm=norms)
    assert broken.overflowed_layers == 2
    assert not math.isfinite(broken.first_to_last_ratio)


# --- the controlled experiment: batch normalisation on/off, the initialisation, the chain rule ---------------------


def _sample(n: int = 8):
    from resnet_viz.samples import load_npz

    images, labels, _ = load_npz(limit=n)
    return images, labels


@pytest.mark.parametrize("batch_norm,init", [(True, "he"), (False, "small"), (False, "he"), (False, "xavier")])
def test_the_blocks_factors_multiply_to_the_whole_stacks_ratio(batch_norm, init):
    """The lesson's chain rule, measured: each block's output is the next block's input (the same gradient),
    so the per-block factors ||dL/dx_in|| / ||dL/dx_out|| multiply to ||dL/dx_0|| / ||dL/dx_N||."""
    x, y = _batch(4, 8)
    for flow in compare_at_init(20, x, y, batch_norm=batch_norm, init=init):
        assert flow.grad_out_norm[1:-1] == flow.grad_in_norm[2:]  # block i's output gradient is block i+1's input's
        assert flow.chain_product == pytest.approx(flow.overall_ratio, rel=1e-9)
        assert flow.overall_ratio == flow.grad_in_norm[1] / flow.grad_out_norm[-1]
        assert flow.mean_factor ** len(flow.block_gain) == pytest.approx(flow.overall_ratio, rel=1e-9)
        assert (flow.batch_norm, flow.init) == (batch_norm, init)


def test_without_bn_small_weights_a_plain_56_loses_its_gradient_a_resnet_56_keeps_it():
    x, y = _sample()
    plain, res = compare_at_init(56, x, y, batch_norm=False, init="small")
    assert plain.overall_ratio < 1e-30 and plain.verdict == "vanishing"  # measured: about 1e-51 per 27 blocks
    assert all(g < 0.1 for g in plain.block_gain)  # every block shrinks it: the factors compound
    assert res.verdict == "healthy" and 0.1 < res.overall_ratio < 10  # each block is close to the identity


def test_with_bn_the_paper_setting_no_gradient_vanishes():
    """The paper's plain nets use BN, and their gradients do not vanish: at initialisation in training mode a deep
    plain net's gradient even grows toward the input; the ResNet's stays within this app's healthy range."""
    x, y = _sample()
    plain, res = compare_at_init(56, x, y)
    assert plain.overall_ratio > 1 and plain.verdict != "vanishing"
    assert 1 < plain.mean_factor < 2
    assert res.verdict == "healthy" and res.overall_ratio < plain.overall_ratio / 10
    assert compare_at_init(20, x, y)[0].verdict == "healthy"  # 9 blocks of about 1.4 stay within 1000


def test_without_bn_he_residual_blocks_explode_plain_blocks_keep_their_scale():
    x, y = _sample()
    plain, res = compare_at_init(56, x, y, batch_norm=False, init="he")
    assert res.verdict == "exploding" and res.mean_factor > 1.2  # each block adds F(x)'s variance to x's
    assert plain.verdict == "healthy" and 0.8 < plain.mean_factor < 1.1  # He's initialisation keeps the scale
    assert res.signal_std[-1] > 100 * res.signal_std[0]


def test_xavier_without_bn_vanishes_more_slowly_than_small_weights():
    x, y = _batch(4, 8)
    xavier = at_init(32, x, y, residual=False, batch_norm=False, init="xavier")
    small = at_init(32, x, y, residual=False, batch_norm=False, init="small")
    assert small.mean_factor < xavier.mean_factor < 1


def test_fresh_nets_run_in_float64_and_without_bn_have_no_bn():
    from resnet_viz.paper.gradient_flow import SMALL_STD, fresh_net

    with_bn, without = fresh_net(14, residual=True), fresh_net(14, residual=True, batch_norm=False, init="small")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in without.modules())
    assert {next(net.parameters()).dtype for net in (with_bn, without)} == {torch.float64}
    assert float(without.layer2[0].conv1.weight.detach().std()) == pytest.approx(SMALL_STD, rel=0.05)
    assert without.training and fresh_net(14, residual=True) is not with_bn  # per request, never shared


def test_a_signal_below_float64s_reach_is_reported_not_computed():
    from resnet_viz.paper.gradient_flow import SignalUnderflow

    x, y = _batch(2, 8)
    with pytest.raises(SignalUnderflow) as err:
        at_init(326, x, y, residual=False, batch_norm=False, init="small")
    assert "plain-326" in err.value.message("zh") and "1e-200" in err.value.message("en")


def test_unknown_initialisations_are_refused():
    from resnet_viz.paper.gradient_flow import check_init

    with pytest.raises(InputError) as err:
        check_init("orthogonal")
    assert "orthogonal" in err.value.message("zh")


def test_path_figure_draws_the_gradient_between_blocks_on_a_log_scale():
    from resnet_viz.i18n import t
    from resnet_viz.render.plots.paper import gradient_path_figure

    x, y = _batch(4, 8)
    plain, res = compare_at_init(14, x, y, batch_norm=False, init="small")
    fig = gradient_path_figure([plain, res], "zh")
    assert fig.layout.yaxis.type == "log" and list(fig.data[0].y) == list(plain.grad_out_norm)
    assert fig.layout.title.text == wrap(t("gradient_flow.path_title", "zh"))  # a phone's width a line


def _page(lang: str = "en", **session):
    from tests.conftest import app_page

    return app_page("pages/gradient_flow.py", lang=lang, gradient_flow_trained=[], **session)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_shows_the_vanishing_preset_with_verdicts_computed_from_the_data(lang):
    from resnet_viz.i18n import t
    from resnet_viz.paper.gradient_flow import BATCH_SIZE
    from resnet_viz.samples import load_npz
    from tests.conftest import assert_no_exception

    at = _page(lang, gradient_flow_depth=20)
    assert_no_exception(at)
    assert at.title[0].value == t("gradient_flow.page_title", lang)
    at.button(key="gradient_flow_preset_vanishing").click().run()
    assert_no_exception(at)
    assert at.toggle(key="gradient_flow_bn").value is False and at.radio(key="gradient_flow_init").value == "small"
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    plain = at_init(20, images, labels, residual=False, batch_norm=False, init="small")
    verdict = t("gradient_flow.verdict_vanishing", lang, net="plain-20", ratio=f"{plain.overall_ratio:.3g}",
                factor=f"{plain.mean_factor:.3g}", blocks=9)
    texts = [m.value for m in at.markdown]
    assert verdict in texts
    chain = t("gradient_flow.chain_result", lang, net="plain-20", blocks=9, product=f"{plain.chain_product:.3g}",
              ratio=f"{plain.overall_ratio:.3g}")
    assert chain in texts and t("gradient_flow.paper_switch_bn", lang) in texts
    assert len(at.get("plotly_chart")) == 4 and len(at.dataframe) == 1


def test_page_with_bn_states_the_papers_view_and_links_figure6():
    from resnet_viz.i18n import t
    from tests.conftest import assert_no_exception

    at = _page(gradient_flow_depth=14)
    assert_no_exception(at)
    texts = "\n".join(m.value for m in at.markdown)
    assert t("gradient_flow.paper_view", "en") in texts and "Measured here with BN" in texts
    assert [link.label for link in at.get("page_link")] == [t("gradient_flow.figure6_link", "en")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_notes_vanishing_story_is_one_click_from_the_papers_setting(lang):
    from resnet_viz.i18n import t
    from tests.conftest import assert_no_exception

    at = _page(lang, gradient_flow_depth=20)  # opens on the paper's setting: BN, He
    assert_no_exception(at)
    (note,) = [i.value for i in at.info if t("gradient_flow.paper_quote", lang) in i.value]
    assert "unlikely to be caused by vanishing gradients" in note  # the paper's own words, section 4.1
    assert note.startswith(t("gradient_flow.notes_in_paper_setting", lang, net="plain-20", verdict="\0").split("\0")[0])
    at.button(key="gradient_flow_notes_show").click().run()  # one click: the notes' story
    assert_no_exception(at)
    assert at.toggle(key="gradient_flow_bn").value is False and at.radio(key="gradient_flow_init").value == "small"
    holds = [i.value for i in at.info if i.value.startswith(t("gradient_flow.notes_holds", lang, net="plain-20",
                                                              ratio="\0").split("\0")[0])]
    assert holds and t("gradient_flow.paper_quote", lang) in holds[0]
    at.button(key="gradient_flow_notes_back").click().run()
    assert at.toggle(key="gradient_flow_bn").value is True
