"""Datasets: image folders (dir, zip, tar.gz), official CIFAR batches, the cache, errors, batched augmentation."""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_viz import data as data_mod
from resnet_viz.data import BatchLoader, channel_stats, dataset_label, load_split, random_crop_flip
from resnet_viz.errors import DataError
from tests.train.test_loop import CLASSES, write_tiny_zip


def _extract(zip_path: Path, dst: Path) -> Path:
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(dst)
    return dst


def test_zip_dir_and_targz_give_the_same_tensors(tmp_path):
    z = write_tiny_zip(tmp_path / "tiny.zip", per_class=3, test_per_class=2)
    folder = _extract(z, tmp_path / "folder")
    tgz = tmp_path / "tiny.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(folder, arcname="cifar")  # one extra top-level folder is fine
    x, y, classes = load_split(z, "train")
    assert x.dtype == torch.uint8 and x.shape == (9, 3, 8, 8)
    assert y.dtype == torch.int64 and y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert classes == CLASSES
    for other in (folder, tgz):
        x2, y2, c2 = load_split(other, "train")
        assert torch.equal(x, x2) and torch.equal(y, y2) and c2 == classes
    xt, yt, _ = load_split(tgz, "test")
    assert xt.shape == (6, 3, 8, 8)
    # the dominant colour of each class survived decoding (PNG is lossless)
    assert all(int(x[i, int(y[i])].float().mean()) > 130 for i in range(len(x)))


def test_decoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    z = write_tiny_zip(tmp_path / "tiny.zip", per_class=2, test_per_class=1)
    first = load_split(z, "test")
    cache = list((data_mod.cache_dir() / "data").glob("*.safetensors"))
    assert len(cache) == 1 and all(p.parent != z.parent for p in cache)
    monkeypatch.setattr(data_mod, "_decode", lambda path: pytest.fail("decoded again"))
    second = load_split(z, "test")
    assert torch.equal(first[0], second[0]) and first[2] == second[2]


def _write_batches(root: Path, per_batch: int = 4) -> Path:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [b"x.png"] * per_batch}
        (d / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [c.encode() for c in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                  "horse", "ship", "truck")], b"num_vis": 3072}
    (d / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return d


def test_official_python_batches(tmp_path):
    d = _write_batches(tmp_path)
    x, y, classes = load_split(d, "train")
    assert x.shape == (20, 3, 32, 32) and len(y) == 20 and classes[0] == "airplane" and len(classes) == 10
    raw = pickle.loads((d / "data_batch_1").read_bytes())
    assert torch.equal(x[0], torch.from_numpy(raw[b"data"][0].reshape(3, 32, 32)))
    assert load_split(d, "test")[0].shape == (4, 3, 32, 32)
    assert dataset_label(d) == "CIFAR-10"


def test_a_batch_pickle_that_runs_code_is_refused(tmp_path):
    d = _write_batches(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (d / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match="test_batch"):
        load_split(d, "test")


def test_missing_official_batches_offline_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="offline"):
        load_split(tmp_path / "cifar-10-batches-py", "test")


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _png(size=(8, 8)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_layout_and_image_errors_name_the_problem(tmp_path):
    broken = _zip(tmp_path / "broken.zip", {"train/cat/a.png": _png(), "train/cat/bad.png": b"not an image",
                                            "test/cat/a.png": _png()})
    with pytest.raises(DataError, match="train/cat/bad.png"):
        load_split(broken, "train")
    flat = _zip(tmp_path / "flat.zip", {"a.png": _png(), "b.png": _png()})
    with pytest.raises(DataError, match="train/<class>"):
        load_split(flat, "train")
    no_test = _zip(tmp_path / "notest.zip", {"train/cat/a.png": _png()})
    with pytest.raises(DataError, match='no "test" split'):
        load_split(no_test, "test")
    sizes = _zip(tmp_path / "sizes.zip", {"train/cat/a.png": _png(), "train/cat/b.png": _png((9, 8))})
    with pytest.raises(DataError, match="b.png is 9x8"):
        load_split(sizes, "train")
    folder = tmp_path / "emptyclass"
    (folder / "train" / "cat").mkdir(parents=True)
    (folder / "train" / "dog").mkdir(parents=True)
    (folder / "train" / "cat" / "a.png").write_bytes(_png())
    with pytest.raises(DataError, match="train/dog"):
        load_split(folder, "train")
    with pytest.raises(DataError, match="not found"):
        load_split(tmp_path / "missing.tar.gz")
    with pytest.raises(DataError, match="split"):
        load_split(broken, "validation")
    for exc_info in (DataError("data.empty_class", source="s", split="train", cls="dog"),):
        assert "\n" not in exc_info.message("en") and "dog" in exc_info.message("zh")


def test_channel_stats_match_numpy():
    x = torch.randint(0, 256, (7, 3, 5, 6), dtype=torch.uint8)
    mean, std = channel_stats(x, chunk=3)
    a = x.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(mean, a.mean(axis=(0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(std, a.std(axis=(0, 2, 3)), atol=1e-6)


def test_random_crop_is_a_window_of_the_zero_padded_image_and_flip_mirrors():
    x = torch.randint(1, 256, (64, 3, 6, 6), dtype=torch.uint8)
    out = random_crop_flip(x, pad=2, flip=False, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    shifts = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 6])]
        assert hits, i
        shifts.add(hits[0])
    assert len(shifts) > 10  # offsets really vary from image to image
    flipped = random_crop_flip(x, pad=0, flip=True, generator=torch.Generator().manual_seed(1))
    same = [torch.equal(flipped[i], x[i]) for i in range(len(x))]
    mirrored = [torch.equal(flipped[i], x[i].flip(-1)) for i in range(len(x))]
    assert all(s or m for s, m in zip(same, mirrored)) and 10 < sum(mirrored) < 54
    again = random_crop_flip(x, pad=2, flip=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, random_crop_flip(x, pad=2, flip=True, generator=torch.Generator().manual_seed(0)))


def test_loader_order_depends_only_on_seed_and_epoch_and_ranks_split_each_batch():
    x = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 3, 4, 4).contiguous()
    y = torch.arange(40)
    kw = dict(batch_size=8, mean=(0, 0, 0), std=(1 / 255,) * 3, train=True, pad=0, flip=False, seed=3)
    a, b = BatchLoader(x, y, **kw), BatchLoader(x, y, **kw)
    a.set_epoch(2)
    b.set_epoch(2)
    assert [t.tolist() for _, t in a] == [t.tolist() for _, t in b]
    b.set_epoch(3)
    assert [t.tolist() for _, t in a] != [t.tolist() for _, t in b]
    for xb, yb in a:  # images travel with their labels; normalisation with std 1/255 gives back the bytes
        assert torch.equal(xb[:, 0, 0, 0], yb.float())
    shards = [BatchLoader(x, y, **kw, rank=r, world_size=2) for r in (0, 1)]
    for s in shards:
        s.set_epoch(2)
    for (_, full), (_, r0), (_, r1) in zip(a, *shards):
        assert sorted(full.tolist()) == sorted(r0.tolist() + r1.tolist()) and len(r0) == len(r1) == 4
    assert len(a) == 5 and len(BatchLoader(x, y, batch_size=16, mean=(0,) * 3, std=(1,) * 3)) == 3


@pytest.mark.slow
def test_shared_cifar10_jpeg_archive(cifar_jpeg_archive):
    x, y, classes = load_split(cifar_jpeg_archive, "test")
    assert x.shape == (10000, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [1000] * 10
    assert classes == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    assert dataset_label(cifar_jpeg_archive) == "CIFAR-10 (JPEG q75 copy)"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_data_sets_label_is_translated_for_display_while_the_data_keep_it(lang):
    """Checkpoints store the label in English ("CIFAR-10 (JPEG q75 copy)"); a Chinese page shows it in Chinese."""
    from resnet_viz.data import JPEG_COPY_LABEL, TRAIN_SUBSET_LABEL, shown_dataset
    from resnet_viz.i18n import t

    assert dataset_label("/data/cifar10-jpeg.tar.gz") == JPEG_COPY_LABEL == "CIFAR-10 (JPEG q75 copy)"
    assert shown_dataset(JPEG_COPY_LABEL, lang) == t("data.label_jpeg_copy", lang)
    assert shown_dataset(TRAIN_SUBSET_LABEL, lang) == t("data.label_train_subset", lang)
    folder = dataset_label("/somewhere/my_pictures")
    assert folder == "image folder my_pictures" and "my_pictures" in shown_dataset(folder, lang)
    assert shown_dataset("CIFAR-10", lang) == "CIFAR-10" and shown_dataset("something else", lang) == "something else"
    assert ("副本" in shown_dataset(JPEG_COPY_LABEL, lang)) == (lang == "zh")
