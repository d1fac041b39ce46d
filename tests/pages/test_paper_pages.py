"""The three paper pages in AppTest, without checkpoints and with checkpoints the tests write."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from resnet_viz.checkpoints import find as loading
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.i18n import class_label, t
from resnet_viz.models.registry import build_model
from resnet_viz.paper.figure7 import layer_responses, store_in_sidecar
from resnet_viz.samples import TEST_SAMPLE as SAMPLE_PATH
from tests.conftest import app_page, assert_no_exception
from tests.paper.test_figure6 import write_run


@pytest.fixture(autouse=True)
def _no_shipped_checkpoints(tmp_path, monkeypatch):
    """Hide assets/checkpoints: the pages see only what the tests write."""
    monkeypatch.setattr(loading, "SHIPPED_DIR", tmp_path / "shipped")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Small CIFAR nets: one intra-op thread is fastest on the shared CPU (and restored after each test)."""


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(parts)


def _charts(at) -> int:
    return len(at.get("plotly_chart"))


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    d = tmp_path / "ckpts"
    monkeypatch.setenv("RESNET_VIZ_CHECKPOINTS", str(d))
    return d


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure6_without_user_checkpoints(user_dir, lang):
    at = app_page("pages/figure6.py", lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("figure6.page_title", lang)
    assert _charts(at) >= 1  # Table 6's chart always has the paper's series
    assert str(user_dir) in _texts(at)
    table = at.table[0].value
    assert t("figure6.col_paper", lang) in table.columns and "8.75" in table[t("figure6.col_paper", lang)].tolist()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure6_gives_no_verdict_between_runs_trained_unalike(user_dir, lang):
    """A 3.8-epoch plain-56 beside a 30-epoch plain-20 (as shipped while the campaign runs): the gap is said with
    the schedules, not as the paper's degradation; the same for Table 6's depth trend."""
    def run(stem, train, test, iterations, batch):
        path = write_run(user_dir, stem, stem, train, test)
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        meta["recipe"].update(iterations=iterations, batch_size=batch)
        meta_path.write_text(json.dumps(meta))
        return str(path)

    runs = [run("plain20", [40, 20, 10], [42, 25, 15], 5850, 256),
            run("plain56", [50, 45, 40], [52, 48, 44], 1500, 128),
            run("resnet20", [38, 18, 9], [40, 22, 12], 5850, 256),
            run("resnet56", [45, 35, 30], [47, 38, 33], 1500, 128)]
    at = app_page("pages/figure6.py", lang=lang, figure6_runs=runs)
    assert_no_exception(at)
    text = _texts(at)
    assert t("figure6.plain_worse_unfair", lang, deep="plain-56", shallow="plain-20", deep_train="40.00",
             shallow_train="10.00", gap="30.00") in text
    assert t("figure6.plain_worse", lang, deep="plain-56", shallow="plain-20", deep_train="40.00",
             shallow_train="10.00", gap="30.00") not in text
    assert t("figure6.trend_unfair", lang, schedules="").split("{")[0][:10] in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure6_from_user_logs(user_dir, lang):
    p20 = write_run(user_dir, "plain20", "plain20", [40, 20, 10], [42, 25, 15])
    p32 = write_run(user_dir, "plain32", "plain32", [45, 28, 16], [47, 30, 19])
    r20 = write_run(user_dir, "resnet20", "resnet20", [38, 18, 9], [40, 22, 12])
    at = app_page("pages/figure6.py", lang=lang, figure6_runs=[str(p20), str(p32), str(r20)])
    assert_no_exception(at)
    assert _charts(at) == 3  # Figure 6's two panels, Table 6's chart
    text = _texts(at)
    expected = t("figure6.plain_worse", lang, deep="plain-32", shallow="plain-20", deep_train="16.00",
                 shallow_train="10.00", gap="6.00")
    assert expected in text
    assert t("figure6.one_depth", lang, family=t("figure6.family_resnet", lang)) in text
    table = at.table[0].value
    ours = dict(zip(table[t("figure6.col_model", lang)], table[t("figure6.col_ours", lang)]))
    assert ours["ResNet-20"] == "12.00" and ours["plain-32"] == "19.00"
    assert t("data.label_jpeg_copy", lang) in table[t("figure6.col_dataset", lang)].tolist()  # the label, translated
    # one ResNet depth among the user's runs: no Table 6 trend to state
    assert not any(t("figure6.trend_not", lang, errors="").split("{")[0][:12] in m.value for m in at.markdown)
    r56 = write_run(user_dir, "resnet56", "resnet56", [30, 15, 8], [35, 20, 10])
    at = app_page("pages/figure6.py", lang=lang, figure6_runs=[str(p20), str(p32), str(r20), str(r56)])
    assert_no_exception(at)
    errors = t("figure6.trend_sep", lang).join(["ResNet-20 12.00 %", "ResNet-56 10.00 %"])
    assert t("figure6.trend_falls", lang, errors=errors) in _texts(at)


def _trained_like(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.2, 1.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


def test_figure7_stored_then_live(user_dir):
    r20 = save_checkpoint(_trained_like("resnet20"), user_dir / "resnet20", {"model": "resnet20", "shortcut": "A"})
    p20 = save_checkpoint(_trained_like("plain20"), user_dir / "plain20", {"model": "plain20"})
    fake = layer_responses(build_model("resnet20"), torch.zeros(1, 3, 8, 8, dtype=torch.uint8), mean=(0, 0, 0),
                           std=(1, 1, 1))
    store_in_sidecar(r20, fake, sample=SAMPLE_PATH)
    at = app_page("pages/figure7.py", figure7_nets=[str(r20), str(p20)], figure7_images=100)
    assert_no_exception(at)
    assert _charts(at) == 1  # Figure 7 on the sample; the picked CIFAR-10 image is measured when asked for
    measure = at.button(key="figure7_measure")
    assert measure.label == t("figure7.measure_image", "en", n=2)
    measure.click().run()
    assert_no_exception(at)
    assert _charts(at) == 2 and not [b for b in at.button if b.key == "figure7_measure"]
    other = app_page("pages/figure7.py", figure7_nets=[str(r20), str(p20)], figure7_images=100)
    assert _charts(other) == 2  # another student on the same picture: measured once for the server
    table = at.dataframe[0].value
    sources = dict(zip(table[t("figure7.col_net", "en")], table[t("figure7.col_source", "en")]))
    assert sources["ResNet-20"] == t("figure7.source_stored", "en", images=1)
    assert sources["plain-20"] == t("figure7.source_live", "en", images=100)
    assert table[t("figure7.col_layers", "en")].tolist() == [19, 19]
    means = dict(zip(table[t("figure7.col_net", "en")], table[t("figure7.col_mean", "en")]))
    smaller = float(means["ResNet-20"]) < float(means["plain-20"])
    key = "figure7.claim_smaller_yes" if smaller else "figure7.claim_smaller_no"
    claims = [m.value for m in at.markdown if m.value.startswith(t(key, "en").split(":")[0])]
    assert len(claims) == 1 and "ResNet-20" in claims[0] and "plain-20" in claims[0]
    deeper = t("figure7.claim_deeper_yes", "en").split(":")[0], t("figure7.claim_deeper_no", "en").split(":")[0]
    assert not any(m.value.startswith(deeper) for m in at.markdown)  # one ResNet depth: nothing to compare

    spread = at.dataframe[1].value  # per-image data exists only for the values computed live
    assert spread[t("figure7.col_net", "en")].tolist() == ["plain-20"]
    assert float(spread[t("figure7.col_median_image", "en")][0]) > 0

    at.button(key="figure7_recompute").click().run()
    assert_no_exception(at)
    table = at.dataframe[0].value
    assert set(table[t("figure7.col_source", "en")]) == {t("figure7.source_live", "en", images=100)}
    spread = at.dataframe[1].value
    assert sorted(spread[t("figure7.col_net", "en")]) == ["ResNet-20", "plain-20"]
    shares = [float(v.rstrip(" %")) for v in spread[t("figure7.col_top_share", "en", k=3)]]
    assert all(0 < v <= 100 for v in shares)
    typical = t("figure7.typical_smaller_yes", "en").split(":")[0], t("figure7.typical_smaller_no", "en").split(":")[0]
    assert sum(m.value.startswith(typical) for m in at.markdown) == 1


def test_figure7_show_the_images_that_dominate(user_dir, monkeypatch):
    """The logic is tested in test_responses; here the page renders a dominated network's images."""
    from resnet_viz import samples
    from resnet_viz.paper import figure7 as responses

    r20 = save_checkpoint(_trained_like("resnet20"), user_dir / "resnet20", {"model": "resnet20", "shortcut": "A"})
    real = responses.concentration

    def one_wild_image(results, *, top=3):
        found = real(results, top=top)
        return [responses.Concentration(c.label, c.images, c.median_image_std, (7, 2, 5), (25.0, 9.0, 0.8),
                                        (0.5, 0.19, 0.01)) for c in found]

    monkeypatch.setattr(responses, "concentration", one_wild_image)
    at = app_page("pages/figure7.py", lang="zh", figure7_nets=[str(r20)], figure7_images=100)
    assert_no_exception(at)
    sentence = t("figure7.spread_sentence", "zh", net="ResNet-20", k=3, n=100, share="70 %", even="3.0 %")
    assert sentence in _texts(at)
    captions = [c for image in at.get("image") for c in image.captions]
    classes = samples.load_npz(limit=100)[2]
    labels = samples.load_npz(limit=100)[1]
    horse = class_label(classes[int(labels[7])], "zh")  # the page names classes in the reader's language
    caption = t("figure7.thumb_caption", "zh", cls=horse, std="25.00", share="50 %")
    assert caption in captions, captions
    assert len(captions) == 2 and "9.00" in captions[1]  # the third image holds an ordinary share: not shown


def test_figure7_without_checkpoints_in_chinese(user_dir):
    at = app_page("pages/figure7.py", lang="zh", figure7_images=100)
    assert_no_exception(at)
    assert str(user_dir) in _texts(at) and t("figure7.untrained", "zh") in _texts(at)
    names = at.dataframe[0].value[t("figure7.col_net", "zh")].tolist()
    assert names == [t("figure7.untrained_label", "zh", net=net) for net in ("plain-20", "ResNet-20")]
    assert not any(m.value.startswith("ResNet ") for m in at.markdown)  # untrained nets support no claim


def test_gradient_flow_page(user_dir):
    r20 = save_checkpoint(_trained_like("resnet20"), user_dir / "resnet20", {"model": "resnet20", "shortcut": "A"})
    at = app_page("pages/gradient_flow.py", gradient_flow_depth=20, gradient_flow_trained=[str(r20)])
    assert_no_exception(at)
    assert _charts(at) == 6  # at init: gradient path, factors, signal, weights; trained: weights, factors
    ratios = [float(m.value) for m in at.metric if m.label == t("gradient_flow.metric_overall", "en")]
    assert len(at.metric) == 6 and len(ratios) == 2
    assert ratios[0] > ratios[1] > 0  # plain-20 first: with BN its blocks grow the gradient more than ResNet-20's
    assert "ResNet-20" in _texts(at)


def test_gradient_flow_trained_section_starts_with_the_same_depth_pair(user_dir):
    for name in ("plain20", "resnet56", "resnet20", "plain56"):
        save_checkpoint(_trained_like(name), user_dir / name, {"model": name, "shortcut": "A"})
    at = app_page("pages/gradient_flow.py", gradient_flow_depth=20)
    assert_no_exception(at)
    chosen = at.multiselect(key="gradient_flow_trained").value
    assert [p.rsplit("/", 1)[-1] for p in chosen] == ["plain56.safetensors", "resnet56.safetensors"]
    assert len(at.multiselect(key="gradient_flow_trained").options) == 4
    rows = [m.value for m in at.markdown if "plain-56" in m.value or "ResNet-56" in m.value]
    assert any("plain-56" in r for r in rows) and any("ResNet-56" in r for r in rows)


def test_gradient_flow_page_in_chinese_without_checkpoints(user_dir):
    at = app_page("pages/gradient_flow.py", lang="zh", gradient_flow_depth=20)
    assert_no_exception(at)
    assert at.title[0].value == t("gradient_flow.page_title", "zh")
    assert str(user_dir) in _texts(at)


def test_values_from_elsewhere_fall_back_to_the_defaults(user_dir):
    at = app_page("pages/gradient_flow.py", gradient_flow_depth=57, gradient_flow_trained=["/no/such.safetensors"])
    assert_no_exception(at)
    assert at.select_slider(key="gradient_flow_depth").value == 56
    at = app_page("pages/figure7.py", figure7_images=-3, figure7_nets=["/no/such.safetensors"])
    assert_no_exception(at)
    assert at.select_slider(key="figure7_images").value == 100


def test_a_new_run_appears_without_restarting(user_dir):
    write_run(user_dir, "plain20", "plain20", [40, 20, 10], [42, 25, 15])
    at = app_page("pages/figure6.py")
    assert t("figure6.one_depth", "en", family=t("figure6.family_plain", "en")) in _texts(at)
    write_run(user_dir, "plain32", "plain32", [45, 28, 16], [47, 30, 19])
    at.run()
    assert_no_exception(at)
    one_depth = t("figure6.one_depth", "en", family=t("figure6.family_plain", "en"))
    assert "plain-32" in _texts(at) and one_depth not in _texts(at)


def test_gradient_flow_page_says_when_gradients_overflowed(user_dir, monkeypatch):
    """Where the float32 backward pass overflowed, the page says how many layers, in words, and gives no ratio."""
    import dataclasses
    import math

    import streamlit as st

    from resnet_viz.paper import gradient_flow

    real = gradient_flow.at_init

    def overflowing(depth, images, labels, *, residual, **kwargs):
        flow = real(14, images[:4], labels[:4], residual=residual, **kwargs)
        if residual:
            return flow
        return dataclasses.replace(flow, weight_grad_norm=(math.inf,) * 3 + flow.weight_grad_norm[3:],
                                   grad_in_norm=flow.grad_in_norm[:1] + (math.inf,) + flow.grad_in_norm[2:])

    monkeypatch.setattr(gradient_flow, "at_init", overflowing)
    st.cache_data.clear()  # the page caches its nets by depth and setting: no real plain-326 may answer
    try:
        at = app_page("pages/gradient_flow.py", gradient_flow_depth=326, gradient_flow_trained=[])
    finally:
        st.cache_data.clear()  # nor may this fake answer a later test
    assert_no_exception(at)
    warnings = [w.value for w in at.warning]
    assert warnings == [t("gradient_flow.overflowed", "en", net="plain-14", count=3, layers=14)]
    ratios = [m.value for m in at.metric if m.label == t("gradient_flow.metric_overall", "en")]
    assert ratios[0] == t("gradient_flow.ratio_overflowed", "en") and ratios[1] != ratios[0]


def _stored_pair(user_dir):
    """ResNet-20 and plain-20 checkpoints, both with values stored for the shipped sample."""
    paths = []
    for name in ("resnet20", "plain20"):
        meta = {"model": name, "shortcut": "A"} if name.startswith("resnet") else {"model": name}
        path = save_checkpoint(_trained_like(name), user_dir / name, meta)
        store_in_sidecar(path, layer_responses(_trained_like(name), torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                                               mean=(0, 0, 0), std=(1, 1, 1)), sample=SAMPLE_PATH)
        paths.append(str(path))
    return paths


def _column(at, key: str, lang: str = "en", **params) -> dict:
    table = at.dataframe[0].value
    return dict(zip(table[t("figure7.col_net", lang)], table[t(key, lang, **params)]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure7_says_when_the_chosen_networks_were_not_trained_alike(user_dir, lang):
    """The user's pair records no training; beside a ResNet-20 that records 30 epochs of fast the claims get a
    caption that lists each network's epochs, or that its training is not recorded."""
    pair = _stored_pair(user_dir)
    at = app_page("pages/figure7.py", lang=lang, figure7_nets=pair, figure7_images=100)
    assert_no_exception(at)
    unfair = t("figure7.unfair", lang, epochs="").split("(")[0].split("（")[0]
    assert not any(unfair in c.value for c in at.caption), "two networks recorded alike: no caption"
    recipe = {"name": "fast", "epochs": 30, "iterations": 5850, "batch_size": 256}
    path = save_checkpoint(_trained_like("resnet20"), user_dir / "long", {"model": "resnet20", "shortcut": "A",
                                                                         "recipe": recipe})
    store_in_sidecar(path, layer_responses(_trained_like("resnet20"), torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                                           mean=(0, 0, 0), std=(1, 1, 1)), sample=SAMPLE_PATH)
    at = app_page("pages/figure7.py", lang=lang, figure7_nets=[*pair, str(path)], figure7_images=100)
    assert_no_exception(at)
    caption = next(c.value for c in at.caption if unfair in c.value)
    assert t("figure7.unfair_net", lang, net="", epochs="30").strip() in caption
    assert t("figure7.unfair_net_unknown", lang, net="").strip() in caption


def test_figure7_computes_only_on_the_button_and_shows_intervals(user_dir, monkeypatch):
    from resnet_viz.paper import figure7 as responses

    calls = []
    real = responses.responses_of

    def counted(loaded, images, **kwargs):
        if kwargs.get("per_image"):  # the sample, not the uploaded picture
            calls.append(len(images))
        return real(loaded, images, **kwargs)

    monkeypatch.setattr(responses, "responses_of", counted)
    at = app_page("pages/figure7.py", figure7_nets=_stored_pair(user_dir), figure7_images=100)
    assert_no_exception(at)
    level = "95 %"
    assert calls == [] and set(_column(at, "figure7.col_source").values()) == {
        t("figure7.source_stored", "en", images=2)}
    assert set(_column(at, "figure7.col_interval", level=level).values()) == {t("figure7.interval_needs_live", "en")}
    assert t("figure7.claim_no_interval", "en") in _texts(at)
    assert t("figure7.estimate", "en").split("{")[0] in _texts(at)

    at.select_slider(key="figure7_images").set_value(200).run()  # the slider alone computes nothing
    assert_no_exception(at)
    assert calls == [] and t("figure7.estimate", "en").split("{")[0] + "200" in _texts(at)

    at.button(key="figure7_recompute").click().run()
    assert_no_exception(at)
    assert calls == [200, 200]
    assert set(_column(at, "figure7.col_source").values()) == {t("figure7.source_live", "en", images=200)}
    means, intervals = _column(at, "figure7.col_mean"), _column(at, "figure7.col_interval", level=level)
    for net, text in intervals.items():
        low, high = map(float, text.split("–"))
        assert low <= float(means[net]) <= high
    assert t("figure7.claim_no_interval", "en") not in _texts(at)
    close = t("figure7.claim_smaller_close", "en").split("{")[0]
    apart = t("figure7.intervals_apart", "en").split("(")[0].replace("{level}", level)
    assert (apart in _texts(at)) != any(m.value.startswith(close) for m in at.markdown)  # one or the other
    assert t("figure7.interval_note", "en", resamples=200, images=200, level=level) in _texts(at)
    measured = t("figure7.basis_measured", "en")
    assert measured in _texts(at)  # the estimate now rests on this server's measurement

    at.select_slider(key="figure7_images").set_value(100).run()  # live values stay; nothing recomputed
    assert_no_exception(at)
    assert calls == [200, 200]
    assert set(_column(at, "figure7.col_source").values()) == {t("figure7.source_live", "en", images=200)}
    assert t("figure7.shown_size", "en", shown=200, images=100) in _texts(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure7_overlapping_intervals_are_too_close_to_call(user_dir, monkeypatch, lang):
    from resnet_viz.paper import figure7 as responses

    monkeypatch.setattr(responses, "bootstrap_interval", lambda r: (0.0, 1e9))  # every pair overlaps
    at = app_page("pages/figure7.py", lang=lang, figure7_nets=_stored_pair(user_dir), figure7_images=100)
    at.button(key="figure7_recompute").click().run()
    assert_no_exception(at)
    head = t("figure7.claim_smaller_close", lang).split("{")[0]
    claims = [m.value for m in at.markdown if m.value.startswith(head)]
    assert len(claims) == 1 and "ResNet-20" in claims[0] and "plain-20" in claims[0] and "100" in claims[0]
    for verdict in ("yes", "no"):
        other = t(f"figure7.claim_smaller_{verdict}", lang).split("{")[0]
        assert not any(m.value.startswith(other) for m in at.markdown)


def test_figure7_a_stopped_size_is_not_started_again(user_dir):
    p20 = save_checkpoint(_trained_like("plain20"), user_dir / "plain20", {"model": "plain20"})
    at = app_page("pages/figure7.py", figure7_nets=[str(p20)], figure7_images=200, figure7_size=200,
                  figure7_live=True, figure7_stopped=200)
    assert_no_exception(at)
    assert t("figure7.stopped", "en") in _texts(at)
    assert t("figure7.not_computed", "en", net="plain-20", images=200) in _texts(at)
    assert _charts(at) == 0 and at.button(key="figure7_measure")  # the image's chart waits for its button
    at.button(key="figure7_recompute").click().run()
    assert_no_exception(at)
    assert _column(at, "figure7.col_source") == {"plain-20": t("figure7.source_live", "en", images=200)}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_table6_shows_a_dash_in_empty_cells_whole_names_and_the_translated_recipe(user_dir, lang):
    write_run(user_dir, "resnet20", "resnet20", [38, 18, 9], [40, 22, 12])
    at = app_page("pages/figure6.py", lang=lang)
    assert_no_exception(at)
    table = at.table[0].value  # a static table: cells wrap, none is cut ("ResNet-120", a recipe mid-word)
    cells = table.astype(str).to_numpy()
    assert "None" not in cells and "nan" not in cells
    assert "12.00" in table[t("figure6.col_ours", lang)].tolist() and "–" in table[t("figure6.col_ours", lang)].tolist()
    assert "ResNet-1202" in table[t("figure6.col_model", lang)].tolist()
    recipes = table[t("figure6.col_recipe", lang)].tolist()
    assert any(r.startswith(t("figure6.recipe_fast", lang)) for r in recipes) and "–" in recipes
