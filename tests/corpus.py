"""Generators for the robustness corpora: hostile checkpoints and odd or broken image uploads.

Everything is made in memory by the tests themselves (no binary files in the repository). Each case is a
name, a file name (its suffix matters to the loaders) and the bytes, plus what the loader must answer.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save as st_save

# ---------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointCase:
    name: str
    filename: str
    make: Callable[[Path], bytes]  # gets a scratch directory (for the code-running pickle's marker)
    keys: tuple[str, ...]  # acceptable LoadError keys
    max_bytes: int | None = None  # a smaller limit for load_checkpoint_bytes (None: the default)


class CodeRunner:
    """Unpickling this object runs code: it creates ``marker``. A safe loader never lets that happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


MARKER = "pickle-code-ran.txt"


def _torch_bytes(obj, *, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def akamaster_file_bytes(net: torch.nn.Module, best_prec1: float = 91.73) -> bytes:
    """A checkpoint in the exact shape of akamaster/pytorch_resnet_cifar10's released files (resnet20-12fca82f.th,
    ...), saved by PyTorch 0.3/0.4: the legacy (non-zip) serialisation, ``{'state_dict', 'best_prec1'}``, keys
    prefixed ``module.`` (nn.DataParallel), and no ``num_batches_tracked`` buffers (they came with PyTorch 0.4.1)."""
    state = {f"module.{k}": v.clone() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    return _torch_bytes({"state_dict": state, "best_prec1": best_prec1}, legacy=True)


def resnet20_state(seed: int = 0) -> dict[str, torch.Tensor]:
    from resnet_viz.models.registry import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return {k: v.clone() for k, v in build_model("resnet20").state_dict().items()}


def _safetensors_with_meta(meta) -> bytes:
    return st_save(resnet20_state(), metadata={"resnet_viz": json.dumps(meta)})


def _rewrite_safetensors_header(data: bytes, edit: Callable[[dict], None]) -> bytes:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    edit(header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n:]


def _first_tensor(header: dict) -> dict:
    return header[next(k for k in sorted(header) if k != "__metadata__" and header[k]["dtype"] == "F32")]


def _zip_by_hand(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip archive from (name, stored bytes, method, crc32, uncompressed size) entries."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, raw, method, crc, size in entries:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(raw), size, len(n), 0))
        out.write(n + raw)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(raw), size,
                                  len(n), 0, 0, 0, 0, 0, offset) + n)
    cd = central.getvalue()
    out_offset = out.tell()
    out.write(cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), out_offset, 0))
    return out.getvalue()


def deflate_bomb(expanded_bytes: int) -> bytes:
    """A zip-format torch file whose one storage is ``expanded_bytes`` zeros, deflated (about 1000:1).

    It is a valid torch file: torch.load would inflate it and allocate all of it. The deflate stream is
    one compressed MB of zeros repeated (a full flush resets the compressor, so every block is the same),
    so making a 700 MB bomb takes a fraction of a second and no memory.
    """
    import zlib

    mb = 1 << 20
    assert expanded_bytes < 2**31 and expanded_bytes % mb == 0
    src = zipfile.ZipFile(io.BytesIO(_torch_bytes({"conv1.weight": torch.zeros(4, dtype=torch.uint8)})))
    big = b"J" + struct.pack("<i", expanded_bytes)
    zeros = bytes(mb)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * (expanded_bytes // mb) + comp.flush()
    crc = 0
    for _ in range(expanded_bytes // mb):
        crc = zlib.crc32(zeros, crc)
    entries = []
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.endswith("data.pkl"):
            data = data.replace(b"cpuq\x06K\x04t", b"cpuq\x06" + big + b"t")
            data = data.replace(b"QK\x00K\x04\x85", b"QK\x00" + big + b"\x85")
            assert data.count(big) == 2, "torch's pickle layout changed"
        if info.filename.endswith("/data/0"):
            entries.append((info.filename, stream, zipfile.ZIP_DEFLATED, crc, expanded_bytes))
        else:
            entries.append((info.filename, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data)))
    return _zip_by_hand(entries)


def _evil(scratch: Path, legacy: bool = False) -> bytes:
    state = resnet20_state()
    return _torch_bytes({"state_dict": state, "payload": CodeRunner(scratch / MARKER)}, legacy=legacy)


def _wrong_shapes(_: Path) -> bytes:
    state = resnet20_state()
    state["linear.weight"] = torch.zeros(5, 64)
    state["layer2.0.conv1.weight"] = torch.zeros(32, 16, 5, 5)
    return _torch_bytes(state)


def _nan(_: Path) -> bytes:
    state = resnet20_state()
    state["layer1.0.conv1.weight"][0, 0, 1, 1] = float("nan")
    return _torch_bytes(state)


def _inf_safetensors(_: Path) -> bytes:
    state = resnet20_state()
    state["linear.bias"][3] = float("-inf")
    return st_save(state, metadata={"resnet_viz": json.dumps({"model": "resnet20"})})


def _truncated_zip(_: Path) -> bytes:
    data = _torch_bytes(resnet20_state())
    return data[: len(data) // 2]


def _truncated_tail(_: Path) -> bytes:
    data = _torch_bytes(resnet20_state())
    return data[:-100]


def _truncated_legacy(_: Path) -> bytes:
    data = _torch_bytes(resnet20_state(), legacy=True)
    return data[: len(data) // 2]


def _header_not_json(_: Path) -> bytes:
    data = st_save({"w": torch.zeros(4)})
    (n,) = struct.unpack("<Q", data[:8])
    return data[:8] + b"{" + b"\x00\xff" * ((n - 1) // 2) + b"}" * ((n - 1) % 2) + data[8 + n:]


def _header_length_lies(_: Path) -> bytes:
    return struct.pack("<Q", 2**62) + b'{"w": {}}' + bytes(64)


def _header_offsets_lie(_: Path) -> bytes:
    return _rewrite_safetensors_header(st_save(resnet20_state()),
                                       lambda h: _first_tensor(h).__setitem__("data_offsets", [0, 10**12]))


def _header_shape_lies(_: Path) -> bytes:
    return _rewrite_safetensors_header(st_save(resnet20_state()),
                                       lambda h: _first_tensor(h).__setitem__("shape", [10**6, 10**6]))


def _header_dtype_lies(_: Path) -> bytes:
    return _rewrite_safetensors_header(st_save(resnet20_state()),
                                       lambda h: _first_tensor(h).__setitem__("dtype", "F64"))


def _other_architecture(_: Path) -> bytes:
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    return _torch_bytes(mlp.state_dict())


def _says_resnet32(_: Path) -> bytes:
    return _safetensors_with_meta({"model": "resnet32", "shortcut": "A"})


def _says_plain_imagenet(_: Path) -> bytes:
    return _safetensors_with_meta({"model": "resnet18"})


def _unknown_model(_: Path) -> bytes:
    return _safetensors_with_meta({"model": "resnet9000"})


def _pickle_bytes(obj) -> bytes:
    import pickle

    return pickle.dumps(obj, protocol=4)


CHECKPOINT_CASES: list[CheckpointCase] = [
    CheckpointCase("code-running pickle (zip format)", "evil.pth", _evil, ("load.unsafe_pickle",)),
    CheckpointCase("code-running pickle (legacy format)", "evil_legacy.pth", lambda d: _evil(d, legacy=True),
                   ("load.unsafe_pickle",)),
    CheckpointCase("code-running plain pickle", "evil_plain.pkl.pt",
                   lambda d: _pickle_bytes(CodeRunner(d / MARKER)), ("load.unsafe_pickle", "load.corrupt")),
    CheckpointCase("random bytes named .pth", "noise.pth",
                   lambda _: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                   ("load.corrupt",)),
    CheckpointCase("zip-format .pt cut in half", "half.pt", _truncated_zip, ("load.corrupt",)),
    CheckpointCase("zip-format .pt missing its last bytes", "tail.pt", _truncated_tail, ("load.corrupt",)),
    CheckpointCase("legacy-format .pth cut in half", "half_legacy.pth", _truncated_legacy, ("load.corrupt",)),
    CheckpointCase("safetensors whose header is not JSON", "garbled.safetensors", _header_not_json,
                   ("load.corrupt",)),
    CheckpointCase("safetensors header length of 2^62", "huge_header.safetensors", _header_length_lies,
                   ("load.corrupt",)),
    CheckpointCase("safetensors header whose offsets point past the file", "offsets.safetensors",
                   _header_offsets_lie, ("load.corrupt",)),
    CheckpointCase("safetensors header declaring a 10^12-element tensor", "shape.safetensors", _header_shape_lies,
                   ("load.corrupt",)),
    CheckpointCase("safetensors header with the wrong dtype", "dtype.safetensors", _header_dtype_lies,
                   ("load.corrupt",)),
    CheckpointCase("random bytes named .safetensors", "noise.safetensors",
                   lambda _: np.random.default_rng(1).integers(0, 256, 512, dtype=np.uint8).tobytes(),
                   ("load.corrupt",)),
    CheckpointCase("a .pt file named .safetensors", "really_pt.safetensors",
                   lambda _: _torch_bytes(resnet20_state()), ("load.corrupt",)),
    CheckpointCase("state dict of another architecture (an MLP)", "mlp.pt", _other_architecture,
                   ("load.unknown_architecture",)),
    CheckpointCase("resnet20 weights whose metadata says resnet32", "says32.safetensors", _says_resnet32,
                   ("load.mismatch",)),
    CheckpointCase("CIFAR weights whose metadata says resnet18", "says18.safetensors", _says_plain_imagenet,
                   ("load.mismatch",)),
    CheckpointCase("metadata naming a model outside the zoo", "unknown.safetensors", _unknown_model,
                   ("load.unknown_model",)),
    CheckpointCase("right keys, wrong shapes", "shapes.pt", _wrong_shapes, ("load.mismatch",)),
    CheckpointCase("NaN weights", "nan.pt", _nan, ("load.nonfinite",)),
    CheckpointCase("-inf weights in safetensors", "inf.safetensors", _inf_safetensors, ("load.nonfinite",)),
    CheckpointCase("empty file", "empty.pth", lambda _: b"", ("load.corrupt",)),
    CheckpointCase("empty .safetensors", "empty.safetensors", lambda _: b"", ("load.corrupt",)),
    CheckpointCase(".pt holding a plain list", "list.pt", lambda _: _torch_bytes([1, 2, 3]), ("load.no_state_dict",)),
    CheckpointCase(".pt holding one tensor", "tensor.pt", lambda _: _torch_bytes(torch.zeros(3)),
                   ("load.no_state_dict",)),
    CheckpointCase(".pt holding an empty dict", "emptydict.pt", lambda _: _torch_bytes({}), ("load.no_state_dict",)),
    CheckpointCase("akamaster-like dict whose state_dict holds non-tensors", "aka.th",
                   lambda _: _torch_bytes({"state_dict": {"conv1.weight": 1.0, "linear.weight": "x"},
                                           "best_prec1": 91.0}), ("load.no_state_dict",)),
    CheckpointCase("akamaster-like dict whose best_prec1 is text", "aka_text.th",
                   lambda _: _torch_bytes({"state_dict": resnet20_state(), "best_prec1": "ninety"}),
                   ("load.bad_metadata",)),
    CheckpointCase("metadata whose classes is a number", "classes.safetensors",
                   lambda _: _safetensors_with_meta({"model": "resnet20", "classes": 10}), ("load.bad_metadata",)),
    CheckpointCase("metadata whose mean is text", "mean.safetensors",
                   lambda _: _safetensors_with_meta({"model": "resnet20", "mean": "abc"}), ("load.bad_metadata",)),
    CheckpointCase("metadata whose std is zero", "std.safetensors",
                   lambda _: _safetensors_with_meta({"model": "resnet20", "std": [0, 0, 0]}), ("load.bad_metadata",)),
    CheckpointCase("metadata that is a JSON list", "metalist.safetensors",
                   lambda _: _safetensors_with_meta([1, 2, 3]), ("load.bad_metadata",)),
    CheckpointCase("metadata with an unknown shortcut option", "shortcut.safetensors",
                   lambda _: _safetensors_with_meta({"model": "resnet20", "shortcut": "Z"}), ("load.corrupt",)),
    CheckpointCase("deflated zip that unpacks to 16 MB (limit 1 MB)", "bomb.pt",
                   lambda _: deflate_bomb(16 * 2**20), ("load.expands_too_large",), max_bytes=2**20),
    CheckpointCase("file over the size limit", "big.pt", lambda _: _torch_bytes(resnet20_state()) + bytes(2**20),
                   ("load.too_large",), max_bytes=2**20),
    CheckpointCase("unsupported suffix", "model.onnx", lambda _: _torch_bytes(resnet20_state()), ("load.bad_suffix",)),
]


# ---------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageCase:
    name: str
    filename: str
    make: Callable[[], bytes]
    error: tuple[str, ...] = ()  # acceptable ImageError keys; empty: the file must decode
    size: tuple[int, int] | None = None  # expected RGB size after load_image (max_side default)
    check: Callable[[Image.Image], None] | None = None  # extra checks of the decoded image


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(w: int, h: int) -> Image.Image:
    """An RGB image whose pixel values say where they are (R grows to the right, G downwards)."""
    x = np.linspace(0, 255, w, dtype=np.float64)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float64)[:, None].repeat(w, 1)
    arr = np.stack([x, y, np.full_like(x, 128)], -1).round().astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def _pixel(im: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(im.convert("RGB").getpixel(xy))


def _near(a, b, tol: int = 12) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b))


def _expect_pixel(xy: tuple[int, int], rgb: tuple[int, int, int], tol: int = 12):
    def check(im: Image.Image) -> None:
        got = _pixel(im, xy)
        assert _near(got, rgb, tol), f"pixel {xy} is {got}, expected about {rgb}"
    return check


def _all_checks(*checks):
    def check(im: Image.Image) -> None:
        for c in checks:
            c(im)
    return check


def _exif_rotated() -> bytes:
    # Stored 60 x 40 with a red left half and blue right half; orientation 6 means "rotate 90° clockwise to
    # view", so the upright picture is 40 x 60 with red on top and blue at the bottom.
    im = Image.new("RGB", (60, 40), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def _exif_mirrored() -> bytes:
    # Orientation 2: mirrored horizontally. Stored red-left; upright it is red on the right.
    im = Image.new("RGB", (40, 30), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 2
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def _broken_exif() -> bytes:
    data = encode(Image.new("RGB", (20, 20), (10, 200, 10)), "JPEG", quality=95,
                  exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    return data


def _palette_transparent() -> bytes:
    im = Image.new("P", (16, 16), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * (254 * 3))
    im.paste(1, (8, 0, 16, 16))
    return encode(im, "PNG", transparency=0)  # left half (index 0, red) transparent


def _rgba() -> bytes:
    arr = np.zeros((10, 20, 4), np.uint8)
    arr[..., 2] = 255
    arr[:, :10, 3] = 0  # transparent left half
    arr[:, 10:, 3] = 255
    return encode(Image.fromarray(arr, "RGBA"), "PNG")


def _la() -> bytes:
    arr = np.zeros((10, 10, 2), np.uint8)
    arr[..., 0] = 50
    arr[:5, :, 1] = 0
    arr[5:, :, 1] = 255
    return encode(Image.fromarray(arr, "LA"), "PNG")


def _gray16() -> bytes:
    arr = np.zeros((8, 16), np.uint16)
    arr[:, 8:] = 65535
    arr[:, :8] = 32768
    im = Image.fromarray(arr)
    assert im.mode == "I;16"
    return encode(im, "PNG")


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def _multipage_tiff() -> bytes:
    pages = [Image.new("RGB", (30, 20), (0, 200, 0)), Image.new("RGB", (50, 50), (200, 0, 0))]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of white pixels: 20000 x 20000 is a few hundred KB that decodes to 400 megapixels.

    The zlib stream is written row by row (all rows are identical), so nothing large is held in memory.
    """
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _zip_named_png() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photo.jpg", encode(gradient(8, 8), "JPEG"))
    return buf.getvalue()


def _truncated_jpeg() -> bytes:
    data = encode(gradient(64, 64), "JPEG", quality=90)
    return data[: len(data) // 3]


def _truncated_png() -> bytes:
    data = encode(gradient(64, 64), "PNG")
    return data[: len(data) // 2]


def _header_only_png() -> bytes:
    return encode(gradient(64, 64), "PNG")[:33]  # signature + IHDR, no pixel data


def _photo(w: int = 4000, h: int = 3000) -> bytes:
    # A smooth "photo" (gradients plus a little noise) saved as a normal JPEG.
    rng = np.random.default_rng(0)
    base = np.asarray(gradient(w // 8, h // 8).resize((w, h), Image.Resampling.BILINEAR), dtype=np.int16)
    noisy = np.clip(base + rng.integers(-6, 7, size=(h, w, 1), dtype=np.int16), 0, 255).astype(np.uint8)
    return encode(Image.fromarray(noisy, "RGB"), "JPEG", quality=85)


_GRAD = gradient(40, 30)


def _gradient_check(im: Image.Image) -> None:
    assert im.size == (40, 30)
    assert _near(_pixel(im, (0, 0)), (0, 0, 128), 2) and _near(_pixel(im, (39, 29)), (255, 255, 128), 2)


IMAGE_CASES: list[ImageCase] = [
    # invalid: an ImageError with a clear message
    ImageCase("zero bytes", "empty.jpg", lambda: b"", ("images.empty",)),
    ImageCase("truncated JPEG", "cut.jpg", _truncated_jpeg, ("images.truncated", "images.corrupt")),
    ImageCase("truncated PNG", "cut.png", _truncated_png, ("images.truncated", "images.corrupt")),
    ImageCase("PNG with a header and no pixels", "header.png", _header_only_png,
              ("images.truncated", "images.corrupt", "images.not_image")),
    ImageCase("text named .jpg", "notes.jpg", lambda: b"Dear diary, today I trained a ResNet.\n" * 20,
              ("images.not_image",)),
    ImageCase("HTML named .png", "page.png",
              lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
              ("images.not_image",)),
    ImageCase("ZIP named .png", "archive.png", _zip_named_png, ("images.not_image",)),
    ImageCase("random bytes named .jpg", "noise.jpg",
              lambda: np.random.default_rng(3).integers(0, 256, 10_000, dtype=np.uint8).tobytes(),
              ("images.not_image", "images.corrupt")),
    ImageCase("random bytes after a JPEG signature", "sig.jpg",
              lambda: b"\xff\xd8\xff\xe0" + np.random.default_rng(4).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
              ("images.not_image", "images.corrupt", "images.truncated")),
    ImageCase("SVG named .png", "vector.png",
              lambda: (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                       b'<rect width="10" height="10"/></svg>'),
              ("images.not_image",)),
    ImageCase("decompression bomb: 20000 x 20000 1-bit PNG", "bomb.png", _bomb_png, ("images.too_many_pixels",)),
    ImageCase("50000 x 1000 1-bit PNG (50 megapixels)", "strip.png", lambda: _bomb_png(50_000, 1000),
              ("images.too_many_pixels",)),
    # valid but odd: decoded correctly
    ImageCase("plain RGB PNG", "gradient.png", lambda: encode(_GRAD, "PNG"), size=(40, 30), check=_gradient_check),
    ImageCase("grayscale PNG", "gray.png", lambda: encode(Image.new("L", (12, 9), 77), "PNG"), size=(12, 9),
              check=_expect_pixel((5, 5), (77, 77, 77), 0)),
    ImageCase("1-bit PNG", "bits.png", lambda: encode(Image.new("1", (9, 7), 1), "PNG"), size=(9, 7),
              check=_expect_pixel((3, 3), (255, 255, 255), 0)),
    ImageCase("palette PNG with transparency", "palette.png", _palette_transparent, size=(16, 16),
              check=_all_checks(_expect_pixel((2, 8), (255, 255, 255), 0), _expect_pixel((12, 8), (0, 255, 0), 0))),
    ImageCase("RGBA PNG (half transparent)", "rgba.png", _rgba, size=(20, 10),
              check=_all_checks(_expect_pixel((2, 5), (255, 255, 255), 0), _expect_pixel((15, 5), (0, 0, 255), 0))),
    ImageCase("LA PNG", "la.png", _la, size=(10, 10),
              check=_all_checks(_expect_pixel((5, 2), (255, 255, 255), 0), _expect_pixel((5, 8), (50, 50, 50), 0))),
    ImageCase("CMYK JPEG", "cmyk.jpg", lambda: encode(Image.new("CMYK", (20, 20), (0, 255, 255, 0)), "JPEG",
                                                      quality=95),
              size=(20, 20), check=_expect_pixel((10, 10), (255, 0, 0), 40)),
    ImageCase("16-bit grayscale PNG", "gray16.png", _gray16, size=(16, 8),
              check=_all_checks(_expect_pixel((2, 4), (128, 128, 128), 1), _expect_pixel((12, 4), (255, 255, 255), 0))),
    ImageCase("1 x 1 PNG", "dot.png", lambda: encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"), size=(1, 1),
              check=_expect_pixel((0, 0), (1, 2, 3), 0)),
    ImageCase("2000 x 20 PNG", "wide.png", lambda: encode(gradient(2000, 20), "PNG"), size=(2000, 20),
              check=_expect_pixel((1999, 0), (255, 0, 128), 1)),
    ImageCase("20 x 2000 PNG", "tall.png", lambda: encode(gradient(20, 2000), "PNG"), size=(20, 2000),
              check=_expect_pixel((0, 1999), (0, 255, 128), 1)),
    ImageCase("EXIF-rotated JPEG (orientation 6)", "phone.jpg", _exif_rotated, size=(40, 60),
              check=_all_checks(_expect_pixel((20, 5), (255, 0, 0), 40), _expect_pixel((20, 55), (0, 0, 255), 40))),
    ImageCase("EXIF-mirrored JPEG (orientation 2)", "mirror.jpg", _exif_mirrored, size=(40, 30),
              check=_all_checks(_expect_pixel((35, 15), (255, 0, 0), 40), _expect_pixel((5, 15), (0, 0, 255), 40))),
    ImageCase("JPEG with a broken EXIF block", "badexif.jpg", _broken_exif, size=(20, 20),
              check=_expect_pixel((10, 10), (10, 200, 10), 20)),
    ImageCase("animated GIF (first frame)", "anim.gif", _animated_gif, size=(24, 24),
              check=_expect_pixel((12, 12), (255, 0, 0), 10)),
    ImageCase("multi-page TIFF (first page)", "pages.tif", _multipage_tiff, size=(30, 20),
              check=_expect_pixel((15, 10), (0, 200, 0), 0)),
    ImageCase("lossless WebP", "pic.webp", lambda: encode(_GRAD, "WEBP", lossless=True), size=(40, 30),
              check=_gradient_check),
    ImageCase("BMP", "pic.bmp", lambda: encode(_GRAD, "BMP"), size=(40, 30), check=_gradient_check),
    ImageCase("PNG named .jpg", "misnamed.jpg", lambda: encode(_GRAD, "PNG"), size=(40, 30), check=_gradient_check),
    ImageCase("4000 x 3000 photo (reduced to 2048 on the long side)", "photo.jpg", _photo, size=(2048, 1536),
              check=_expect_pixel((1024, 768), (128, 128, 128), 20)),
]
