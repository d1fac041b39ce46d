"""The shipped image sets: class balance, shapes, and (with ../shared) the training subset's pixels are the JPEG
copy's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resnet_viz.data import load_split
from resnet_viz.errors import DataError
from resnet_viz.samples import balanced_order, load_npz, load_test_sample, load_train_subset
from tests.conftest import SHARED_DATA


def test_train_subset_is_balanced_and_decoded():
    images, labels, classes = load_train_subset()
    assert images.shape == (5000, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [500] * 10
    assert classes[0] == "airplane" and classes[9] == "truck"
    assert labels[:10].tolist() == list(range(10))  # class-balanced order
    assert 40 < float(images.float().mean()) < 200


def test_limit_keeps_every_class():
    images, labels, _ = load_test_sample(limit=30)
    assert len(images) == 30 and torch.bincount(labels).tolist() == [3] * 10


def test_balanced_order_is_stable_within_a_class():
    assert balanced_order(np.array([1, 1, 0, 0, 1])).tolist() == [2, 0, 3, 1, 4]


def test_bad_npz_is_a_data_error(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, images=np.zeros((2, 32, 32), np.uint8), labels=np.zeros(2))
    with pytest.raises(DataError):
        load_npz(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError):
        load_npz(tmp_path / "junk.npz")


@pytest.mark.slow
def test_train_subset_pixels_are_the_copys():
    if not SHARED_DATA.is_file():
        pytest.skip("needs ../shared/data/cifar10-jpeg.tar.gz")
    full, full_labels, _ = load_split(SHARED_DATA, "train")
    sub, sub_labels, _ = load_train_subset()
    # the subset holds the first 500 files of each class folder; the full split is decoded in file order too
    for c in range(10):
        want = full[full_labels == c][:500]
        got = sub[sub_labels == c]
        assert torch.equal(torch.sort(got.flatten(1).sum(1)).values, torch.sort(want.flatten(1).sum(1)).values)
