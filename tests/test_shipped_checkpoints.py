"""The reference checkpoints in assets/checkpoints: metadata, fp16 export record, and sensible predictions on the
shipped CIFAR-10 test sample (the full dataset is not needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resnet_viz.checkpoints.find import SHIPPED_DIR
from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.models.registry import CIFAR10_CLASSES, count_params, get_spec

pytestmark = pytest.mark.slow  # minutes of end-to-end work: outside the inner loop

REFERENCE = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")
SHIPPED = sorted(SHIPPED_DIR.glob("*.safetensors"))
SAMPLE = SHIPPED_DIR.parent / "samples" / "cifar10-test-sample.npz"


def test_the_five_reference_checkpoints_are_shipped_and_small():
    assert sorted(p.stem for p in SHIPPED) == sorted(REFERENCE)
    total = sum(p.stat().st_size + p.with_suffix(".json").stat().st_size for p in SHIPPED)
    assert total < 20 * 1024 * 1024


@pytest.fixture(scope="module")
def sample():
    data = np.load(SAMPLE)
    return torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(data["labels"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_metadata_is_complete_and_honest(path):
    loaded = load_checkpoint(path)
    meta = loaded.meta
    assert loaded.name == path.stem and loaded.source == "checkpoint"
    assert meta["dataset"] == "CIFAR-10 (JPEG q75 copy)" and meta["complete"] is True
    assert loaded.classes == CIFAR10_CLASSES and len(loaded.mean) == 3 and all(0 < s < 1 for s in loaded.std)
    assert count_params(loaded.model) == count_params(get_spec(path.stem).build())
    assert loaded.shortcut == ("A" if path.stem.startswith("resnet") else None)
    for key in ("recipe", "hardware", "seed", "date", "wall_time_s", "accuracy"):
        assert meta.get(key) not in (None, ""), key
    log = meta["log"]
    assert log and log[-1]["iteration"] == meta["recipe"]["iterations"]
    assert all({"iteration", "train_error", "test_error", "lr"} <= set(row) for row in log)
    export = meta["export"]
    assert meta["weights_dtype"] == "float16" and abs(export["accuracy_change"]) <= 0.1
    assert len(meta["responses"]["std"]) == get_spec(path.stem).depth - 1  # every 3x3 conv: all layers but the fc


def test_all_reference_runs_share_one_recipe_and_seed():
    metas = [load_checkpoint(p).meta for p in SHIPPED]
    recipes = {str({k: v for k, v in m["recipe"].items() if k not in ("steps_per_epoch",)}) for m in metas}
    assert len(recipes) == 1 and len({m["seed"] for m in metas}) == 1


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_predictions_on_the_shipped_sample_agree_with_the_recorded_accuracy(path, sample):
    images, labels = sample
    loaded = load_checkpoint(path)
    x = (images.float() / 255 - torch.tensor(loaded.mean).view(1, 3, 1, 1)) / torch.tensor(loaded.std).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = torch.cat([loaded.model(chunk).argmax(1) for chunk in x.split(250)])
    accuracy = 100 * float((pred == labels).float().mean())
    # 1,000 test images: within 6 points of the accuracy measured on the whole test split
    assert abs(accuracy - loaded.accuracy) < 6, (accuracy, loaded.accuracy)
    # the degraded plain-56 is allowed to be much worse: that is Figure 6's point
    assert accuracy > (25 if path.stem == "plain56" else 55)


def _shipped_metas() -> dict[str, dict]:
    return {p.stem: load_checkpoint(p).meta for p in SHIPPED}


def test_the_paper_orderings_the_readme_claims_hold_in_the_shipped_runs():
    """README, section "Shipped checkpoints": Figure 6's degradation and residual learning fixing it, and Table 6's
    accuracy growing with depth, read from the sidecars as the pages read them."""
    from resnet_viz.paper.figure6 import collect_runs, depth_comparison, depth_trend, table6

    metas = _shipped_metas()
    runs = [r for r in collect_runs() if r.shipped]
    plain = depth_comparison(runs, "plain")
    assert (plain.shallow.model, plain.deep.model) == ("plain20", "plain56") and plain.same_schedule
    assert plain.deeper_is_worse and plain.test_gap > 10
    assert metas["resnet56"]["accuracy"] > metas["plain56"]["accuracy"] + 1
    resnets, falls = depth_trend(table6(runs))
    assert [r.model for r in resnets] == ["resnet20", "resnet56", "resnet110"] and falls


def test_figure7_claims_hold_in_the_shipped_runs_and_no_few_images_decide_them(one_torch_thread):
    """README: every ResNet's responses are smaller than both plain nets', ResNet-110's smaller than ResNet-20's,
    by the paper's pooled measure and for the median image alike, and no network's pooled value hangs on a few
    images (an earlier, shorter round had three dark images carry 72 % of ResNet-110's variance). Also: the stored
    values are what a live pass computes."""
    from resnet_viz.paper.figure7 import (
        concentration,
        median_image_std,
        response_claims,
        responses_of,
        stored_responses,
    )
    from resnet_viz.samples import load_npz

    images, _, _ = load_npz()
    results = []
    for stem in REFERENCE:
        loaded = load_checkpoint(SHIPPED_DIR / f"{stem}.safetensors")
        live = responses_of(loaded, images, per_image=True)
        np.testing.assert_allclose(live.std, stored_responses(loaded.meta).std, rtol=1e-3)
        results.append((stem, get_spec(stem).family, live))
    for statistic in (None, median_image_std):
        claims = response_claims(results, statistic)
        assert claims.resnets_smaller and claims.deeper_smaller, statistic
        assert claims.shallow_resnet[0] == "resnet20" and claims.deep_resnet[0] == "resnet110"
    assert not any(c.dominated for c in concentration(results))
    assert min(results, key=lambda item: item[2].mean)[0] == "resnet110"


def test_the_readme_table_matches_the_sidecars():
    import re

    readme = (SHIPPED_DIR.parent.parent / "README.md").read_text(encoding="utf-8")
    metas = _shipped_metas()
    labels = {"plain20": "plain-20", "plain56": "plain-56", "resnet20": "ResNet-20", "resnet56": "ResNet-56",
              "resnet110": "ResNet-110"}
    for stem, label in labels.items():
        row = re.search(rf"^\| {re.escape(label)} \| ([\d,]+) \| ([\d.]+) % \| [^|]+ \| ([\d.]+) \| ([\d,]+) s,",
                        readme, re.M)
        assert row, label
        meta = metas[stem]
        assert int(row[1].replace(",", "")) == count_params(get_spec(stem).build())
        assert float(row[2]) == pytest.approx(100 - meta["accuracy"], abs=0.005)
        assert float(row[3]) == pytest.approx(np.mean(meta["responses"]["std"]), abs=0.0005)
        assert int(row[4].replace(",", "")) == round(meta["wall_time_s"])
    assert f"**{meta['recipe']['iterations']:,} iterations**" in readme
