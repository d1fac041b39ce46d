"""Clicks that reuse earlier work (issue 19): a view change must not redo a computation that does not depend on it.
Timings themselves are printed by benchmarks/clicks.py, never asserted."""

from __future__ import annotations

from tests.conftest import app_page, assert_no_exception


def _methods(at) -> list[tuple]:
    return [key[2:] for key in at.session_state["_attribution_memo"]]  # (method, target, layer, params)


def test_another_grad_cam_layer_keeps_the_computed_saliency():
    at = app_page("pages/attribution.py")
    assert_no_exception(at)
    assert [m[0] for m in _methods(at)] == ["saliency"]
    at.selectbox(key="attribution_layer").set_value("stage2_1").run()
    assert_no_exception(at)
    assert [m[0] for m in _methods(at)] == ["saliency"]  # computed once, whatever the Grad-CAM layer
    at.selectbox(key="attribution_method_right").set_value("guided_grad_cam").run()
    at.selectbox(key="attribution_layer").set_value("stage1").run()
    assert_no_exception(at)
    guided = [m for m in _methods(at) if m[0] == "guided_grad_cam"]
    assert len(guided) == 2  # guided Grad-CAM does depend on the layer: one result per layer


def test_the_benchmark_knows_every_interaction_it_reports():
    from benchmarks import clicks

    names = [name for name, _, _ in clicks.feature_map_clicks() + clicks.anatomy_clicks()
             + clicks.attribution_clicks() + clicks.conv_lab_clicks()]
    assert len(names) == len(set(names)) and all(kind in clicks.TARGETS for _, kind, _ in clicks.conv_lab_clicks())
    rows = clicks.report({"fm_layer": [0.1, 0.2, 0.4], "fm_layer:cpu": [0.1, 0.1, 0.1]}, {"home": (2.0, 1.5)})
    assert rows["fm_layer"]["median_s"] == 0.2 and rows["cold_home"]["cpu_s"] == 1.5
