"""Clicks that reuse earlier work (issue 19): a view change must not redo a computation that does not depend on it.
Timings themselves are printed by benchmarks/clicks.py, never asserted."""

from __future__ import annotations

from tests.conftest import app_page, assert_no_exception


def _methods(at) -> list[tuple]:
    """The method results this session computed with passes of their own: (method, target, layer, params)."""
    memo = at.session_state["_attribution_memo"] if "_attribution_memo" in at.session_state else {}
    return [key[2:] for key in memo]


def test_saliency_needs_no_pass_of_its_own_and_guided_grad_cam_one_per_layer():
    at = app_page("pages/attribution.py")
    assert_no_exception(at)
    assert _methods(at) == []  # the saliency column reads the input's gradient from Grad-CAM's one pass
    at.selectbox(key="attribution_layer").set_value("stage2_1").run()
    assert_no_exception(at)
    assert _methods(at) == []
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
