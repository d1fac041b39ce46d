"""The CIFAR-10 images this project ships, as uint8 tensors (N x 3 x 32 x 32), int64 labels and class names.

- ``TEST_SAMPLE``: 100 test images per class (1,000), raw pixels in an ``.npz`` (Figure 7, evaluation, lesions,
  top patches);
- ``TRAIN_SUBSET``: 500 training images per class (5,000), the JPEG copy's own files concatenated in an ``.npz``
  (``jpeg`` bytes, ``offsets``, ``labels``, ``classes``): the copy's pixels exactly, in a third of the raw size
  (training lab, loss landscape).

Both come from the JPEG quality-75 copy of CIFAR-10 (``assets/samples/LICENSES.md``). ``load_images`` also reads
any dataset ``resnet_viz.data.load_split`` reads.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from resnet_viz import ASSETS_DIR
from resnet_viz.data import load_split
from resnet_viz.errors import DataError

SAMPLES_DIR = ASSETS_DIR / "samples"
TEST_SAMPLE = SAMPLES_DIR / "cifar10-test-sample.npz"
TEST_SAMPLE_NAME = TEST_SAMPLE.stem
TRAIN_SUBSET = SAMPLES_DIR / "cifar10-train-subset.npz"

Split = tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]


def balanced_order(labels: np.ndarray) -> np.ndarray:
    """Indices that take one image of each class in turn (stable within a class)."""
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rank[idx] = np.arange(len(idx))
    return np.lexsort((labels, rank))


def _balanced(images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], limit: int | None) -> Split:
    order = balanced_order(labels)
    if limit is not None:
        order = order[:max(int(limit), 1)]
    x = torch.from_numpy(np.ascontiguousarray(images[order].transpose(0, 3, 1, 2)))
    return x, torch.from_numpy(labels[order].astype(np.int64)), classes


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """N x H x W x 3 uint8 from concatenated JPEG files (``offsets`` has N + 1 entries)."""
    out = [np.asarray(Image.open(io.BytesIO(blob[a:b].tobytes())).convert("RGB"))
           for a, b in zip(offsets[:-1], offsets[1:])]
    return np.stack(out) if out else np.zeros((0, 32, 32, 3), np.uint8)


def load_npz(path: str | Path = TEST_SAMPLE, *, limit: int | None = None) -> Split:
    """(uint8 N x 3 x H x W, int64 labels, class names) of an ``.npz`` like the shipped ones (raw ``images`` or
    ``jpeg`` + ``offsets``).

    ``limit`` keeps the first ``limit`` images of a class-balanced order (one of each class in turn), so a
    small subset still covers every class.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            labels = data["labels"]
            classes = tuple(str(c) for c in data["classes"]) if "classes" in data.files else ()
            if "jpeg" in data.files:
                images = _decode_jpegs(data["jpeg"], data["offsets"])
            else:
                images = data["images"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError("data.bad_npz", path=str(path), reason=str(exc)[:200]) from None
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or len(labels) != len(images):
        raise DataError("data.bad_npz", path=str(path), reason=f"images {images.shape} {images.dtype}")
    return _balanced(images, np.asarray(labels), classes, limit)


def load_test_sample(limit: int | None = None) -> Split:
    """The shipped 1,000 test images (class-balanced order)."""
    return load_npz(TEST_SAMPLE, limit=limit)


def load_train_subset(limit: int | None = None) -> Split:
    """The shipped 5,000 training images (class-balanced order)."""
    return load_npz(TRAIN_SUBSET, limit=limit)


def load_images(source: str | Path, *, split: str = "test", limit: int | None = None) -> Split:
    """Images from an ``.npz`` sample or any dataset ``resnet_viz.data.load_split`` reads (class-balanced
    first ``limit``)."""
    if str(source).lower().endswith(".npz"):
        return load_npz(source, limit=limit)
    images, labels, classes = load_split(source, split=split)
    if limit is not None and limit < len(images):
        order = torch.from_numpy(balanced_order(labels.numpy())[:max(int(limit), 1)])
        images, labels = images[order], labels[order]
    return images, labels, tuple(classes)


def write_image_folder(path: str | Path) -> Path:
    """The shipped subsets as an image-folder ``.tar`` that ``train`` reads: the 5,000 training images as the JPEG
    copy's own files in ``train/<class>/``, the 1,000 test images as PNG in ``test/<class>/`` (a small CIFAR-10 for
    short training runs)."""
    import tarfile

    def add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))

    with np.load(TRAIN_SUBSET, allow_pickle=False) as subset:
        blob, offsets, labels = subset["jpeg"], subset["offsets"], subset["labels"]
        classes = [str(c) for c in subset["classes"]]
    test_x, test_y, _ = load_test_sample()
    path = Path(path)
    with tarfile.open(path, "w") as archive:
        for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
            add(archive, f"train/{classes[labels[i]]}/{i:05d}.jpg", blob[a:b].tobytes())
        for i, (image, label) in enumerate(zip(test_x, test_y)):
            buf = io.BytesIO()
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(buf, format="PNG")
            add(archive, f"test/{classes[int(label)]}/{i:05d}.png", buf.getvalue())
    return path
