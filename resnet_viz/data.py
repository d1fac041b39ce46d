"""Image-classification data for training and evaluation: decoded once, cached, kept as uint8 tensors.

Sources:
- the official CIFAR-10 python batches (a ``cifar-10-batches-py`` directory; downloaded through
  torchvision when it is missing and the machine is online), read with a restricted unpickler;
- an image-folder dataset ``train/<class>/*`` and ``test/<class>/*``, as a directory, ``.zip``,
  ``.tar`` or ``.tar.gz`` (e.g. the shared CIFAR-10 JPEG copy).

A split is decoded once into ``uint8`` N x 3 x H x W and cached as safetensors in the user cache
(``$RESNET_VIZ_CACHE`` or ``~/.cache/resnet_viz``), keyed by the source's path, size and mtime; nothing is
ever written next to the source. ``BatchLoader`` keeps a split on the training device and builds every
batch there (random crop with zero padding, horizontal flip, normalisation) with no per-sample Python.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save

from resnet_viz.errors import DataError
from resnet_viz.i18n import t

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")
CACHE_FORMAT = "resnet_viz-split/1"
CIFAR_BATCHES_DIR = "cifar-10-batches-py"
JPEG_COPY_LABEL = "CIFAR-10 (JPEG q75 copy)"
TRAIN_SUBSET_LABEL = f"{JPEG_COPY_LABEL}, 5,000-image training subset"  # the training lab's data
IMAGE_FOLDER_LABEL = "image folder "


def cache_dir() -> Path:
    return Path(os.environ.get("RESNET_VIZ_CACHE") or Path.home() / ".cache" / "resnet_viz")


def dataset_label(source: str | os.PathLike) -> str:
    """How accuracies on ``source`` are labelled (the shared JPEG copy is never called plain CIFAR-10)."""
    name = Path(source).name.lower()
    if name.startswith("cifar10-jpeg"):
        return JPEG_COPY_LABEL
    if name == CIFAR_BATCHES_DIR:
        return "CIFAR-10"
    return f"{IMAGE_FOLDER_LABEL}{Path(source).name}"


def shown_dataset(label: str, lang: str) -> str:
    """A data set's label as a reader of ``lang`` sees it. Checkpoints and results keep the label in English
    (``dataset_label``); the ones this project writes are translated for display, any other is shown as it is."""
    known = {JPEG_COPY_LABEL: "data.label_jpeg_copy", TRAIN_SUBSET_LABEL: "data.label_train_subset"}
    if label in known:
        return t(known[label], lang)
    if label.startswith(IMAGE_FOLDER_LABEL):
        return t("data.label_image_folder", lang, name=label.removeprefix(IMAGE_FOLDER_LABEL))
    return label


# ---------------------------------------------------------------- the public entry point

def load_split(source: str | os.PathLike, split: str = "test") -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """uint8 images N x 3 x H x W, int64 labels and the class names of one split of ``source``.

    The first call decodes the split and caches it; later calls read the cache.
    Raises ``DataError`` with a one-line reason for a missing source or split, or a wrong layout.
    """
    if split not in SPLITS:
        raise DataError("data.unknown_split", split=split, splits=", ".join(SPLITS))
    path = _resolve_source(Path(source))
    key = _cache_key(path)
    cached = _read_cache(key, split)
    if cached is not None:
        return cached
    images, labels, classes = _decode(path, split)
    _write_cache(key, split, images, labels, classes, path)
    return images, labels, classes


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 N x C x H x W images on the 0..1 scale (float64 sums)."""
    if images.ndim != 4 or images.shape[0] == 0:
        raise DataError("data.empty", source="images")
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk].to(torch.float64).div_(255.0)
        total += x.sum(dim=(0, 2, 3))
        total_sq += x.square().sum(dim=(0, 2, 3))
    n = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / n
    std = (total_sq / n - mean.square()).clamp_min(0).sqrt()
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


# ---------------------------------------------------------------- locating and decoding a source

def _resolve_source(path: Path) -> Path:
    if path.exists():
        return path
    if path.name == CIFAR_BATCHES_DIR:
        return _download_cifar10(path)
    raise DataError("data.not_found", source=str(path))


def _download_cifar10(path: Path) -> Path:
    from resnet_viz.checkpoints.pretrained import offline

    if offline():
        raise DataError("data.offline", source=str(path))
    from torchvision.datasets import CIFAR10

    try:
        CIFAR10(root=str(path.parent), train=True, download=True)
    except Exception as exc:  # network errors, disk full, bad archive: all one message to the user
        raise DataError("data.download_failed", source=str(path), reason=_short(exc)) from None
    return path


def _decode(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    if path.is_dir() and (path / "batches.meta").is_file():
        return _decode_cifar_batches(path, split)
    return _decode_image_folder(_list_members(path, split), str(path), split)


# The official batches are pickles; only these globals may appear in them (numpy arrays and plain data).
_ALLOWED_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                    ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _read_batch(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            data = _SafeUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError("data.missing_file", file=str(path)) from None
    except Exception as exc:
        raise DataError("data.unreadable", file=str(path), reason=_short(exc)) from None
    if not isinstance(data, dict):
        raise DataError("data.unreadable", file=str(path), reason="not a CIFAR batch dictionary")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


def _decode_cifar_batches(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    meta = _read_batch(path / "batches.meta")
    classes = tuple(str(c.decode() if isinstance(c, bytes) else c) for c in meta.get("label_names", []))
    if not classes:
        raise DataError("data.unreadable", file=str(path / "batches.meta"), reason="no label_names")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    arrays, labels = [], []
    for name in names:
        batch = _read_batch(path / name)
        try:
            arrays.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError("data.unreadable", file=str(path / name), reason=_short(exc)) from None
    images = torch.from_numpy(np.concatenate(arrays))
    target = torch.from_numpy(np.concatenate(labels))
    if len(images) != len(target) or int(target.min()) < 0 or int(target.max()) >= len(classes):
        raise DataError("data.unreadable", file=str(path), reason="labels do not match the images")
    return images, target, classes


@dataclass(frozen=True)
class _Member:
    split: str
    cls: str
    name: str  # the path inside the source, for messages
    read: Callable[[], bytes]


def _split_class(rel: str) -> tuple[str, str] | None:
    """(split, class) of an archive path ``.../<split>/<class>/<file>``, None for anything else."""
    parts = PurePosixPath(rel).parts
    if len(parts) < 3 or parts[-3] not in SPLITS or any(p.startswith(".") for p in parts[-3:]):
        return None
    return parts[-3], parts[-2]


def _list_members(path: Path, split: str) -> tuple[list[_Member], dict[str, set[str]]]:
    """The image files of one split of an image-folder source, and the class folders of every split."""
    members: list[_Member] = []
    folders: dict[str, set[str]] = {s: set() for s in SPLITS}
    for rel, reader in _source_entries(path, split):
        rel = rel.strip("/")
        if reader is None:  # a folder: <split>/<class> names a class even when it holds no file
            parts = PurePosixPath(rel).parts
            if len(parts) >= 2 and parts[-2] in SPLITS and not parts[-1].startswith("."):
                folders[parts[-2]].add(parts[-1])
            continue
        sc = _split_class(rel)
        if sc is None:
            continue
        folders[sc[0]].add(sc[1])
        if sc[0] == split and rel.lower().endswith(IMAGE_SUFFIXES):
            members.append(_Member(sc[0], sc[1], rel, reader))
    return members, folders


def _source_entries(path: Path, split: str) -> Iterator[tuple[str, Callable[[], bytes] | None]]:
    """(path inside the source, reader of its bytes) of every file of a directory, .zip or .tar(.gz) source;
    folders come with no reader (an archive's file also names its parent folder, which archives may not list)."""
    name = path.name.lower()
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            rel_root = Path(root).relative_to(path).as_posix()
            for d in dirs:
                yield f"{rel_root}/{d}", None
            for f in sorted(files):
                yield f"{rel_root}/{f}", (Path(root) / f).read_bytes
    elif name.endswith(".zip"):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError("data.unreadable", file=str(path), reason=_short(exc)) from None
        for info in zf.infolist():
            yield info.filename, None if info.is_dir() else functools.partial(zf.read, info.filename)
            if not info.is_dir():
                yield PurePosixPath(info.filename).parent.as_posix(), None
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        # A streamed read: each file's bytes are kept while listing (a gzip stream cannot seek back).
        try:
            with tarfile.open(path, "r:*") as tf:
                for member in tf:
                    if member.isdir():
                        yield member.name, None
                    elif member.isfile():
                        sc = _split_class(member.name.strip("/"))
                        if sc is None:
                            continue
                        stream = tf.extractfile(member) if sc[0] == split else None
                        data = stream.read() if stream is not None else b""
                        yield member.name, functools.partial(bytes, data)
                        yield PurePosixPath(member.name).parent.as_posix(), None
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError("data.unreadable", file=str(path), reason=_short(exc)) from None
    else:
        raise DataError("data.bad_layout", source=str(path))


def _decode_image_folder(listing: tuple[list[_Member], dict[str, set[str]]], source: str,
                         split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    from PIL import Image

    members, folders = listing
    if not folders["train"] and not folders["test"]:
        raise DataError("data.bad_layout", source=source)
    if not folders[split]:
        raise DataError("data.missing_split", source=source, split=split)
    classes = tuple(sorted(folders["train"] | folders["test"]))
    index = {c: i for i, c in enumerate(classes)}
    items = sorted((m for m in members if m.split == split), key=lambda m: (m.cls, m.name))
    counts = {c: 0 for c in folders[split]}
    for m in items:
        counts[m.cls] += 1
    empty = sorted(c for c, n in counts.items() if n == 0)
    if empty:
        raise DataError("data.empty_class", source=source, split=split, cls=empty[0])
    images = None
    labels = torch.empty(len(items), dtype=torch.int64)
    for i, m in enumerate(items):
        try:
            with Image.open(io.BytesIO(m.read())) as im:
                arr = np.array(im.convert("RGB"), dtype=np.uint8)
        except Exception as exc:  # Pillow raises many types for a broken file
            raise DataError("data.bad_image", file=m.name, reason=_short(exc)) from None
        if images is None:
            images = torch.empty((len(items), 3, arr.shape[0], arr.shape[1]), dtype=torch.uint8)
        if tuple(arr.shape[:2]) != tuple(images.shape[2:]):
            raise DataError("data.size_mismatch", file=m.name, size=f"{arr.shape[1]}x{arr.shape[0]}",
                            expected=f"{images.shape[3]}x{images.shape[2]}")
        images[i] = torch.from_numpy(arr).permute(2, 0, 1)
        labels[i] = index[m.cls]
    assert images is not None
    return images, labels, classes


# ---------------------------------------------------------------- the decoded-split cache

def _fingerprint(path: Path) -> str:
    st = path.stat()
    parts = [str(path.resolve()), str(st.st_size), str(st.st_mtime_ns)]
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                s = (Path(root) / f).stat()
                parts.append(f"{Path(root, f).relative_to(path)}:{s.st_size}:{s.st_mtime_ns}")
    return "\n".join(parts)


def _cache_key(path: Path) -> str:
    digest = hashlib.sha256(f"{CACHE_FORMAT}\n{_fingerprint(path)}".encode()).hexdigest()[:20]
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in path.name)[:40]
    return f"{stem}-{digest}"


def _cache_path(key: str, split: str) -> Path:
    return cache_dir() / "data" / f"{key}-{split}.safetensors"


def _read_cache(key: str, split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]] | None:
    path = _cache_path(key, split)
    if not path.is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = st_load_file(str(path))
        classes = tuple(json.loads(meta["classes"]))
        images, labels = tensors["images"], tensors["labels"]
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None
    if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(labels):
        return None
    return images, labels, classes


def _write_cache(key: str, split: str, images: torch.Tensor, labels: torch.Tensor, classes: tuple[str, ...],
                 source: Path) -> None:
    from resnet_viz.checkpoints.write import atomic_write

    data = st_save({"images": images.contiguous(), "labels": labels.contiguous()},
                   metadata={"format": CACHE_FORMAT, "classes": json.dumps(list(classes)), "source": str(source)})
    try:
        atomic_write(_cache_path(key, split), data)
    except OSError:
        pass  # a read-only or full cache only costs the next run a decode


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


# ---------------------------------------------------------------- device-resident batches

def normalize(images: torch.Tensor, mean: Iterable[float], std: Iterable[float], *,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 N x C x H x W -> ``dtype`` normalised with per-channel mean/std on the 0..1 scale."""
    m = torch.tensor(list(mean), dtype=dtype, device=images.device).view(1, -1, 1, 1) * 255.0
    s = torch.tensor(list(std), dtype=dtype, device=images.device).view(1, -1, 1, 1) * 255.0
    return (images.to(dtype) - m) / s


def random_crop_flip(images: torch.Tensor, *, pad: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Batched augmentation of uint8 images: zero-pad by ``pad``, crop back at a random offset, flip half.

    The offsets and flips come from ``generator`` (on the images' device), so a batch is reproducible.
    """
    n, c, h, w = images.shape
    dev = images.device
    out = images
    if pad > 0:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), device=dev, generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), device=dev, generator=generator)
        rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])  # n x h
        cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])  # n x w
        out = padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mask = torch.rand(n, device=dev, generator=generator) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out


class BatchLoader:
    """Batches of one split, built on ``device`` from a uint8 copy kept there.

    Training order and augmentation depend only on ``(seed, epoch)``: a resumed run sees the very
    batches it would have seen. With ``world_size > 1`` each rank takes its own shard of every global
    batch (``batch_size`` is the global batch).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int, mean, std,
                 device: torch.device | str = "cpu", train: bool = False, pad: int = 4, flip: bool = True,
                 seed: int = 0, rank: int = 0, world_size: int = 1, drop_last: bool | None = None,
                 channels_last: bool = False, dtype: torch.dtype = torch.float32) -> None:
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = int(batch_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.train = train
        self.pad, self.flip = (pad, flip) if train else (0, False)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.drop_last = train if drop_last is None else drop_last
        self.channels_last = channels_last
        self.dtype = dtype
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _generator(self, salt: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed((self.seed * 1_000_003 + self.epoch * 7_919 + salt) % (2**63))
        return g

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        if self.train:
            order = torch.randperm(n, device=self.device, generator=self._generator(0))
            aug = self._generator(1 + self.rank)
        else:
            order = torch.arange(n, device=self.device)
            aug = None
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.world_size > 1:
                idx = idx[self.rank::self.world_size]
            x = self.images[idx]
            if aug is not None:
                x = random_crop_flip(x, pad=self.pad, flip=self.flip, generator=aug)
            if self.channels_last:  # on the uint8 batch: a quarter of the bytes; normalising keeps the layout
                x = x.contiguous(memory_format=torch.channels_last)
            x = normalize(x, self.mean, self.std, dtype=self.dtype)
            yield x, self.labels[idx]
