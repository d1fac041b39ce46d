"""Image input: decode and validate user images, the shipped samples, and a model's preprocessing.

``load_image`` turns any accepted file into an 8-bit RGB ``PIL.Image`` (EXIF orientation applied, first
frame of animations and multi-page TIFFs, alpha composited on white, 16-bit scaled down), or raises an
``ImageError`` naming an i18n message. ``preprocess`` shows every step a model applies to it.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet_viz import ASSETS_DIR
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import ImageError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Larger images are reduced (aspect kept) right after decoding: every model crops far below this.
MAX_SIDE = 2048
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff")

SAMPLES_DIR = ASSETS_DIR / "samples"
_SAMPLE_DIRS = {"imagenet": ("photos", "*.jpg"), "cifar10": ("cifar10", "*.png")}

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


# ---------------------------------------------------------------- decoding

def load_image(data: bytes, filename: str = "upload", *, max_side: int | None = MAX_SIDE) -> Image.Image:
    """An 8-bit RGB image from the bytes of an image file, or ImageError (message key ``images.*``)."""
    if not data:
        raise ImageError("images.empty", file=filename)
    if len(data) > MAX_BYTES:
        raise ImageError("images.too_large_bytes", file=filename, size_mb=round(len(data) / 2**20, 1),
                         limit_mb=round(MAX_BYTES / 2**20))
    with warnings.catch_warnings():
        # Pillow warns between its own limit and twice it; our explicit check below decides instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data": the pixels are still fine
        try:
            im: Image.Image = Image.open(io.BytesIO(data))  # reads the header only
        except Image.DecompressionBombError as exc:
            raise ImageError("images.too_many_pixels", file=filename, pixels=_bomb_pixels(exc),
                             limit=_mpx(MAX_PIXELS)) from None
        except UnidentifiedImageError:
            raise ImageError("images.not_image", file=filename) from None
        except (OSError, ValueError, SyntaxError, struct.error) as exc:
            raise ImageError("images.corrupt", file=filename, reason=_short(exc)) from None
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageError("images.corrupt", file=filename, reason="the image has no pixels")
        if width * height > MAX_PIXELS:
            raise ImageError("images.too_many_pixels", file=filename, pixels=_mpx(width * height),
                             limit=_mpx(MAX_PIXELS), width=width, height=height)
        try:
            im.seek(0)  # first frame of a GIF / first page of a TIFF
            if max_side and im.format == "JPEG" and max(im.size) > 2 * max_side:
                im.draft(im.mode, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale directly
            im.load()
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as exc:
            key = "images.truncated" if "truncated" in str(exc).lower() else "images.corrupt"
            raise ImageError(key, file=filename, reason=_short(exc)) from None
        except Image.DecompressionBombError as exc:
            raise ImageError("images.too_many_pixels", file=filename, pixels=_bomb_pixels(exc),
                             limit=_mpx(MAX_PIXELS)) from None
    im = _apply_orientation(im)
    try:
        rgb = to_rgb(im)
    except (ValueError, OSError) as exc:
        raise ImageError("images.unsupported_mode", file=filename, mode=im.mode, reason=_short(exc)) from None
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def _bomb_pixels(exc: BaseException) -> str:
    """The megapixels Pillow names when it refuses a decompression bomb by itself ("?" if it does not say)."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return _mpx(int(match.group(1))) if match else "?"


def _mpx(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _apply_orientation(im: Image.Image) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; the image itself is fine
            return ImageOps.exif_transpose(im) or im
    except Exception:  # a broken EXIF block must not cost the user the image
        return im


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB from any Pillow mode: alpha over white, 16/32-bit and float scaled (not clipped)."""
    if im.mode in _WIDE_MODES:
        im = _wide_to_l(im)
    if im.mode in _ALPHA_MODES or (im.mode in ("P", "L", "RGB", "1") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if im.mode == "RGB":
        return im.copy() if im.readonly else im
    return im.convert("RGB")


def _wide_to_l(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer or float grayscale -> 8-bit "L", by the value range of the format."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        scaled = arr.astype(np.float64) / 65535.0
    elif im.mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
        scaled = arr.astype(np.float64) / 65535.0  # Pillow opens 16-bit PNGs as "I"
    else:  # signed 32-bit or float data: map its own range onto 0..255
        arr = arr.astype(np.float64)
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scaled = np.nan_to_num((arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr))
    out = Image.fromarray(np.clip(np.round(scaled * 255.0), 0, 255).astype(np.uint8), "L")
    if "transparency" in im.info and isinstance(im.info["transparency"], int):
        mask = Image.fromarray(np.where(arr == im.info["transparency"], 0, 255).astype(np.uint8), "L")
        out = out.convert("LA")
        out.putalpha(mask)
    return out


# ---------------------------------------------------------------- shipped samples

def sample_images(dataset: str) -> dict[str, Path]:
    """Name -> path of the shipped samples for ``"imagenet"`` (photos) or ``"cifar10"`` (test images)."""
    try:
        folder, pattern = _SAMPLE_DIRS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(_SAMPLE_DIRS)}") from None
    return {p.stem: p for p in sorted((SAMPLES_DIR / folder).glob(pattern))}


def load_sample(path: str | Path) -> Image.Image:
    path = Path(path)
    return load_image(path.read_bytes(), path.name)


# ---------------------------------------------------------------- preprocessing

@dataclass
class Preprocessed:
    """What a model receives, and each step that led there (for display)."""

    tensor: torch.Tensor  # 1 x 3 x H x W, float32, normalised
    resized: Image.Image
    cropped: Image.Image
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def channel_ranges(self) -> list[tuple[float, float]]:
        """(min, max) of each normalised input channel."""
        t = self.tensor[0]
        return [(float(c.min()), float(c.max())) for c in t]


def _fmt(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


# torchvision.transforms.functional's resize, center_crop, to_tensor and normalize on a PIL image, value for value
# (a test compares them), without importing torchvision on CIFAR-only pages.
def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """The shorter side to ``size``, aspect kept (the longer side rounded down), bilinear."""
    w, h = image.size
    short, long = min(w, h), max(w, h)
    new_short, new_long = size, int(size * long / short)
    new = (new_short, new_long) if w <= h else (new_long, new_short)
    return image if new == (w, h) else image.resize(new, Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The central ``size`` x ``size`` square; a smaller image is first padded with black on both sides."""
    w, h = image.size
    if size > w or size > h:
        padded = Image.new(image.mode, (max(w, size), max(h, size)))
        padded.paste(image, ((size - w) // 2 if size > w else 0, (size - h) // 2 if size > h else 0))
        image, (w, h) = padded, padded.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def to_normalized_tensor(image: Image.Image, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(3, H, W) float32 in [0, 1], then ``(x - mean) / std`` per channel."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).to(torch.float32).div(255)
    return x.sub_(torch.as_tensor(mean, dtype=torch.float32)[:, None, None]).div_(
        torch.as_tensor(std, dtype=torch.float32)[:, None, None])


def preprocess(image: Image.Image, loaded: LoadedModel) -> Preprocessed:
    """The model's evaluation transform, step by step.

    ImageNet models: resize the shorter side to ``loaded.resize_size`` (256), centre-crop ``input_size``
    (224). CIFAR models: the same with 32 and 32, which turns a 32 x 32 image into itself and any other
    picture into 32 x 32 without distorting it. Then scale to [0, 1] and normalise with the model's mean/std.
    """
    image = to_rgb(image)
    resize = int(loaded.resize_size or loaded.spec.resize_size)
    crop = int(loaded.input_size)
    w, h = image.size
    resized = resize_shorter(image, resize)
    cropped = center_crop(resized, crop)
    x = to_normalized_tensor(cropped, tuple(loaded.mean), tuple(loaded.std)).unsqueeze(0).contiguous()
    rw, rh = resized.size
    steps: list[tuple[str, dict[str, Any]]] = [
        ("images.step_resize", {"size": resize, "width": w, "height": h, "new_width": rw, "new_height": rh}),
        ("images.step_crop", {"crop": crop, "width": rw, "height": rh}),
        ("images.step_scale", {}),
        ("images.step_normalize", {"mean": _fmt(loaded.mean), "std": _fmt(loaded.std)}),
        ("images.step_tensor", {"shape": " × ".join(str(s) for s in x.shape)}),
    ]
    return Preprocessed(tensor=x.float(), resized=resized, cropped=cropped, steps=steps,
                        mean=tuple(loaded.mean), std=tuple(loaded.std))
