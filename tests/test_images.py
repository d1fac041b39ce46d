"""Image decoding, validation, samples and preprocessing (resnet_viz.images)."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from resnet_viz.checkpoints.read import load_random
from resnet_viz.errors import ImageError
from resnet_viz.images import (
    MAX_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    center_crop,
    load_image,
    load_sample,
    preprocess,
    resize_shorter,
    sample_images,
    to_normalized_tensor,
    to_rgb,
)


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a tiny (wrong) data chunk: never decodable."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------- modes and formats

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_plain_rgb_formats_decode(fmt):
    arr = np.zeros((12, 20, 3), np.uint8)
    arr[:, :10] = (200, 30, 30)
    arr[:, 10:] = (20, 40, 220)
    im = load_image(_encode(Image.fromarray(arr), fmt), f"x.{fmt.lower()}")
    assert im.mode == "RGB" and im.size == (20, 12)
    out = np.asarray(im).astype(int)
    assert np.abs(out[6, 3] - (200, 30, 30)).max() < 20
    assert np.abs(out[6, 16] - (20, 40, 220)).max() < 20


def test_exif_orientation_is_applied():
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white, right half black
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise for display
    im = load_image(_encode(Image.fromarray(arr), "JPEG", exif=exif.tobytes()), "phone.jpg")
    assert im.size == (20, 40)
    out = np.asarray(im).mean(axis=2)
    assert out[:15].mean() > 200 and out[25:].mean() < 50  # the white half is now on top


def test_gif_first_frame_and_tiff_first_page():
    red = Image.new("RGB", (8, 8), (255, 0, 0))
    blue = Image.new("RGB", (8, 8), (0, 0, 255))
    for fmt in ("GIF", "TIFF"):
        data = _encode(red, fmt, save_all=True, append_images=[blue])
        assert Image.open(io.BytesIO(data)).n_frames == 2
        out = np.asarray(load_image(data, f"anim.{fmt.lower()}")).astype(int)
        assert np.abs(out[4, 4] - (255, 0, 0)).max() < 10, fmt


def test_grayscale_and_bilevel():
    gray = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4, "L")
    out = np.asarray(load_image(_encode(gray, "PNG"), "g.png"))
    assert out.shape == (8, 8, 3)
    assert (out[..., 0] == np.asarray(gray)).all() and (out[..., 0] == out[..., 2]).all()
    bilevel = Image.new("1", (4, 4), 1)
    assert np.asarray(load_image(_encode(bilevel, "PNG"), "b.png")).min() == 255


def test_palette_with_transparency_is_white_where_transparent():
    im = Image.new("P", (6, 6), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.putpixel((0, 0), 1)
    for fmt in ("PNG", "GIF"):
        out = np.asarray(load_image(_encode(im, fmt, transparency=0), f"p.{fmt.lower()}")).astype(int)
        assert tuple(out[3, 3]) == (255, 255, 255), fmt  # index 0 is transparent -> white
        assert tuple(out[0, 0]) == (0, 255, 0), fmt


def test_rgba_and_la_are_composited_on_white():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 0] = 255  # red
    arr[0, 0, 3] = 255  # opaque
    arr[1, 1, 3] = 128  # half
    out = np.asarray(load_image(_encode(Image.fromarray(arr, "RGBA"), "PNG"), "a.png")).astype(int)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[2, 2]) == (255, 255, 255)
    assert abs(out[1, 1, 1] - 127) <= 2 and out[1, 1, 0] == 255
    la = Image.fromarray(np.stack([np.zeros((4, 4), np.uint8), np.full((4, 4), 0, np.uint8)], -1), "LA")
    assert np.asarray(load_image(_encode(la, "PNG"), "la.png")).min() == 255


def test_cmyk_is_converted():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[0, 0] = (255, 0, 0, 0)  # pure cyan ink
    im = Image.frombytes("CMYK", (4, 4), arr.tobytes())
    for fmt in ("JPEG", "TIFF"):
        out = np.asarray(load_image(_encode(im, fmt), f"c.{fmt.lower()}")).astype(int)
        assert out[3, 3].min() > 240, fmt  # no ink -> white
        assert out[0, 0, 0] < 40 and out[0, 0, 1] > 200 and out[0, 0, 2] > 200, fmt


def test_16_bit_is_scaled_not_clipped():
    values = np.array([[0, 257 * 64], [32768, 65535]], np.uint16)
    im16 = Image.fromarray(values)
    assert im16.mode.startswith("I;16")
    expected = np.array([[0, 64], [128, 255]])
    out = np.asarray(to_rgb(im16))[..., 0].astype(int)
    assert np.abs(out - expected).max() <= 1
    decoded = load_image(_encode(im16, "PNG"), "sixteen.png")  # Pillow opens it as "I" or "I;16"
    assert np.abs(np.asarray(decoded)[..., 1].astype(int) - expected).max() <= 1
    as_i = im16.convert("I")
    assert np.abs(np.asarray(to_rgb(as_i))[..., 2].astype(int) - expected).max() <= 1


def test_float_image_uses_its_range():
    im = Image.fromarray(np.array([[-1.0, 0.0], [0.5, 1.0]], np.float32), "F")
    out = np.asarray(to_rgb(im))[..., 0].astype(int)
    assert out[0, 0] == 0 and out[1, 1] == 255 and abs(out[0, 1] - 128) <= 1


def test_large_photo_is_accepted_and_reduced():
    arr = np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    im = load_image(_encode(Image.fromarray(arr), "JPEG", quality=70), "big.jpg")
    assert im.mode == "RGB" and max(im.size) == MAX_SIDE
    assert abs(im.size[0] / im.size[1] - 4 / 3) < 0.01


# ---------------------------------------------------------------- refusals

def test_empty_and_non_image_bytes():
    with pytest.raises(ImageError) as info:
        load_image(b"", "nothing.png")
    assert info.value.key == "images.empty" and "nothing.png" in info.value.message("zh")
    with pytest.raises(ImageError) as info:
        load_image(b"%PDF-1.4 this is not a picture at all" * 10, "doc.jpg")
    assert info.value.key == "images.not_image" and "doc.jpg" in info.value.message("en")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files(fmt):
    arr = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(arr), fmt)
    with pytest.raises(ImageError) as info:
        load_image(data[: len(data) // 2], "cut." + fmt.lower())
    assert info.value.key in ("images.truncated", "images.corrupt")
    assert "cut." + fmt.lower() in info.value.message("en")


def test_decompression_bomb_refused_before_decoding():
    for width, height in ((20000, 20000), (8000, 6000)):  # above Pillow's own limit, and above ours only
        assert width * height > MAX_PIXELS
        start = time.perf_counter()
        with pytest.raises(ImageError) as info:
            load_image(_png_header_only(width, height), "bomb.png")
        assert time.perf_counter() - start < 1.0  # nothing was decoded
        assert info.value.key == "images.too_many_pixels"
        assert "bomb.png" in info.value.message("en") and "bomb.png" in info.value.message("zh")


def test_too_many_bytes_refused_unread():
    with pytest.raises(ImageError) as info:
        load_image(b"\0" * (MAX_BYTES + 1), "huge.bmp")
    assert info.value.key == "images.too_large_bytes"


# ---------------------------------------------------------------- samples and preprocessing

def test_samples():
    photos, cifar = sample_images("imagenet"), sample_images("cifar10")
    assert {"chelsea", "coffee", "astronaut", "rocket"} <= set(photos)
    assert len(cifar) == 30 and "cat_1" in cifar
    im = load_sample(cifar["cat_1"])
    assert im.mode == "RGB" and im.size == (32, 32)
    with pytest.raises(ValueError):
        sample_images("mnist")


def test_preprocess_imagenet_matches_torchvision():
    loaded = load_random("resnet18")
    image = load_sample(sample_images("imagenet")["chelsea"])
    pre = preprocess(image, loaded)
    reference = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                           T.Normalize(loaded.mean, loaded.std)])(image).unsqueeze(0)
    assert pre.tensor.shape == (1, 3, 224, 224) and pre.tensor.dtype == torch.float32
    torch.testing.assert_close(pre.tensor, reference)
    assert min(pre.resized.size) == 256 and pre.cropped.size == (224, 224)
    keys = [k for k, _ in pre.steps]
    assert keys == ["images.step_resize", "images.step_crop", "images.step_scale", "images.step_normalize",
                    "images.step_tensor"]
    assert "0.485" in pre.steps[3][1]["mean"] and pre.steps[4][1]["shape"] == "1 × 3 × 224 × 224"


@pytest.mark.parametrize("size", [(32, 32), (640, 480), (480, 640), (33, 100), (1000, 31), (29, 29), (5, 300)])
@pytest.mark.parametrize("resize, crop", [(256, 224), (32, 32), (20, 32), (31, 32), (29, 32)])
def test_each_step_equals_torchvisions_value_for_value(size, resize, crop):
    """The steps are written without torchvision (kept out of CIFAR-only processes); they must not drift from it,
    also where the crop is larger than the resized image (padding) or odd sizes round."""
    image = Image.fromarray(np.random.default_rng(sum(size)).integers(0, 256, (*size[::-1], 3), dtype=np.uint8))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    theirs = TF.resize(image, [resize], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    ours = resize_shorter(image, resize)
    assert ours.size == theirs.size and np.array_equal(np.asarray(ours), np.asarray(theirs))
    theirs, ours = TF.center_crop(theirs, [crop, crop]), center_crop(ours, crop)
    assert ours.size == (crop, crop) and np.array_equal(np.asarray(ours), np.asarray(theirs))
    assert torch.equal(to_normalized_tensor(ours, mean, std), TF.normalize(TF.to_tensor(theirs), list(mean), list(std)))


def test_preprocess_cifar_keeps_a_32_pixel_image():
    loaded = load_random("resnet20")
    image = load_sample(sample_images("cifar10")["ship_1"])
    pre = preprocess(image, loaded)
    assert pre.tensor.shape == (1, 3, 32, 32)
    mean, std = torch.tensor(loaded.mean).view(3, 1, 1), torch.tensor(loaded.std).view(3, 1, 1)
    back = ((pre.tensor[0] * std + mean) * 255).round().permute(1, 2, 0).numpy().astype(int)  # undo the normalisation
    assert np.abs(back - np.asarray(image).astype(int)).max() <= 1
    wide = preprocess(Image.new("RGB", (96, 48), (10, 200, 30)), loaded)  # a photo: no distortion, 32 x 32
    assert wide.tensor.shape == (1, 3, 32, 32) and wide.resized.size == (64, 32)


# ---------------------------------------------------------------- the shared Streamlit input (ui.images)

def _input_script():
    import streamlit as st

    from ui.images import image_input

    got = image_input("pic", "cifar10")
    st.text("none" if got is None else f"{got[1]}|{got[0].size[0]}x{got[0].size[1]}|{got[0].mode}")


def test_image_input_sample_upload_and_bad_upload():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_input_script, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.text[0].value == "sample:cifar10/airplane_1|32x32|RGB"
    at.selectbox(key="pic_sample_cifar10").set_value("frog_2").run()
    assert at.text[0].value == "sample:cifar10/frog_2|32x32|RGB"

    rgba = Image.new("RGBA", (50, 40), (0, 0, 255, 0))
    data = _encode(rgba, "PNG")
    at.file_uploader(key="pic_upload").set_value(("mine.png", data, "image/png")).run()
    assert not at.exception and not at.error
    ident, size, mode = at.text[0].value.split("|")
    assert ident.startswith("upload:") and len(ident) == len("upload:") + 64
    assert size == "50x40" and mode == "RGB"

    at.file_uploader(key="pic_upload").set_value(("broken.jpg", b"not an image", "image/jpeg")).run()
    assert not at.exception
    assert at.error and "broken.jpg" in at.error[0].value
    assert at.text[0].value == "sample:cifar10/frog_2|32x32|RGB"  # falls back to the sample


def _two_pages_script():
    import streamlit as st

    from ui.images import image_input

    page = st.session_state.get("page", "first")
    got = image_input(page, "cifar10")
    st.text("none" if got is None else got[1])


def test_a_photo_follows_the_student_to_other_pages_until_they_choose_the_samples():
    from streamlit.testing.v1 import AppTest

    from resnet_viz.i18n import t

    at = AppTest.from_function(_two_pages_script, default_timeout=60)
    at.run()
    at.file_uploader(key="first_upload").set_value(("mine.png", _encode(Image.new("RGB", (40, 30)), "PNG"),
                                                   "image/png")).run()
    photo = at.text[0].value
    assert photo.startswith("upload:")
    at.session_state["page"] = "second"  # another page: its own uploader is empty
    at.run()
    assert not at.exception and at.text[0].value == photo
    assert t("images.photo_from_elsewhere", "en", name="mine.png") in [c.value for c in at.caption]
    at.button(key="second_use_samples").click().run()
    assert at.text[0].value == "sample:cifar10/airplane_1"
    at.session_state["page"] = "first"  # back on the first page (its uploader emptied by Streamlit): still the photo
    at.run()
    assert at.text[0].value == photo
    at.run()  # a rerun of the same page does not count as removing the file
    assert at.text[0].value == photo
    at.file_uploader(key="first_upload").set_value(("mine.png", _encode(Image.new("RGB", (40, 30)), "PNG"),
                                                   "image/png")).run()
    at.file_uploader(key="first_upload").set_value(None).run()  # removed by the student: the photo goes
    assert at.text[0].value == "sample:cifar10/airplane_1"
    at.session_state["page"] = "second"
    at.run()
    assert at.text[0].value == "sample:cifar10/airplane_1" and not at.caption
