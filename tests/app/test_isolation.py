"""Isolation (issue 11): two sessions uploading different pictures at the same time each see only their
own results, and an upload is never written to disk.

Two AppTest sessions in one process share Streamlit's caches exactly as two browser tabs on one server
do, so a cache keyed wrongly (e.g. by file name instead of content) would show one user the other's
picture or prediction.
"""

from __future__ import annotations

import builtins
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REAL_SERVERS, ROOT, app_page, assert_no_exception

PAGES = [p for p in ("pages/feature_maps.py", "pages/attribution.py", "pages/figure7.py")
         if (ROOT / p).is_file()]


def _picture(colour: tuple[int, int, int], size: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.empty((size[1], size[0], 3), np.uint8)
    arr[:] = colour
    arr[::3, ::3] = rng.integers(0, 256, (len(range(0, size[1], 3)), len(range(0, size[0], 3)), 3))
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


# Same file name on purpose: only the content may tell the two apart.
ALICE = ("photo.png", _picture((230, 30, 30), (50, 40), 1))
BOB = ("photo.png", _picture((30, 30, 230), (36, 64), 2))


def _texts(at) -> list[str]:
    """Everything a user can read on the page (text, markdown, captions, metrics, errors)."""
    out = []
    for kind in ("markdown", "caption", "text", "metric", "error", "warning", "info", "success", "latex", "code"):
        for el in at.get(kind):
            value = getattr(el, "value", None)
            out.append(f"{kind}:{value}")
    for el in at.get("plotly_chart"):
        out.append(f"chart:{getattr(el, 'proto', None) and el.proto.spec[:20000]}")
    return out


def _uploader_key(at) -> str:
    keys = [u.key for u in at.get("file_uploader") if u.key and u.key.endswith("_upload") and u.key != "model_upload"]
    assert len(keys) == 1, keys
    return keys[0]


def _session(page: str, upload) -> tuple:
    at = app_page(page, lang="en")
    assert_no_exception(at)
    key = _uploader_key(at)
    at.file_uploader(key=key).set_value((upload[0], upload[1], "image/png"))
    return at, key


def _run(at) -> None:
    """A run, and a click on Figure 7's "Measure this image" where the page asks for one."""
    at.run()
    if any(b.key == "figure7_measure" for b in at.button):
        at.button(key="figure7_measure").click().run()


@pytest.mark.parametrize("page", PAGES)
def test_two_sessions_see_only_their_own_picture(page):
    # What each user sees when alone ...
    solo = {}
    for name, upload in (("alice", ALICE), ("bob", BOB)):
        at, _ = _session(page, upload)
        _run(at)
        assert_no_exception(at)
        assert not at.error, [e.value for e in at.error]
        solo[name] = _texts(at)
    assert solo["alice"] != solo["bob"], "the two pictures must give different pages for this test to mean anything"

    # ... is exactly what each sees when both work at once: runs interleaved, then truly concurrent.
    alice, _ = _session(page, ALICE)
    bob, _ = _session(page, BOB)
    _run(alice)
    _run(bob)
    alice.run()
    assert _texts(alice) == solo["alice"]
    assert _texts(bob) == solo["bob"]

    # Truly parallel sessions are tested in a real server with two browsers (below): AppTest swaps
    # process-wide globals while it runs, so two AppTests in threads would test AppTest, not the app.


# ---------------------------------------------------------------- two browsers on one real server

def _browser_skip_reason() -> str | None:
    from tests.browser import chromium_missing_reason

    return chromium_missing_reason()


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').text_content() or ""


@pytest.mark.browser
@REAL_SERVERS
@pytest.mark.skipif(_browser_skip_reason() is not None, reason=str(_browser_skip_reason()))
def test_two_browsers_upload_at_the_same_time(tmp_path):
    """Two people on one server upload different pictures (same file name) within milliseconds of each
    other: each page ends exactly as it does for that picture alone, and the server keeps serving."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_until_idle

    env = {"RESNET_VIZ_CHECKPOINTS": str(tmp_path / "ckpt"), "RESNET_VIZ_CACHE": str(tmp_path / "cache")}
    with streamlit_server(env_extra=env) as (url, proc), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            def open_page():
                context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
                page = context.new_page()
                page.goto(f"{url}/feature_maps?lang=en", wait_until="domcontentloaded")
                wait_until_idle(page)
                return context, page

            def upload(page, picture):
                page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(
                    files=[{"name": picture[0], "mimeType": "image/png", "buffer": picture[1]}])

            def settle(page):
                time.sleep(1.5)  # let the upload start the script run
                wait_until_idle(page)
                assert page.locator('[data-testid="stException"]').count() == 0
                return _main_text(page)

            solo = {}
            for name, picture in (("alice", ALICE), ("bob", BOB)):
                context, page = open_page()
                upload(page, picture)
                solo[name] = settle(page)
                context.close()
            assert solo["alice"] != solo["bob"]

            (ca, alice), (cb, bob) = open_page(), open_page()
            upload(alice, ALICE)
            upload(bob, BOB)  # both script runs overlap on the server
            together = {"alice": settle(alice), "bob": settle(bob)}
            assert together == solo
            assert proc.poll() is None, "the server died"
            ca.close()
            cb.close()
        finally:
            browser.close()


class _WriteRecorder:
    """Records every file this process opens for writing (builtins.open, io.open, os.open)."""

    def __init__(self):
        self.paths: list[str] = []

    def __enter__(self):
        self._open, self._io_open, self._os_open = builtins.open, io.open, os.open
        recorder = self

        def rec_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and any(c in str(mode) for c in "wax+"):
                recorder.paths.append(os.fsdecode(file))
            return recorder._open(file, mode, *args, **kwargs)

        def rec_os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                recorder.paths.append(os.fsdecode(path))
            return recorder._os_open(path, flags, *args, **kwargs)

        builtins.open = rec_open
        io.open = rec_open
        os.open = rec_os_open
        return self

    def __exit__(self, *exc):
        builtins.open, io.open, os.open = self._open, self._io_open, self._os_open
        return False


def _files_holding(roots: list[Path], needle: bytes, since: float) -> list[Path]:
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "node_modules", "__pycache__")]
            for f in filenames:
                p = Path(dirpath) / f
                try:
                    st = p.stat()
                    if st.st_mtime < since or st.st_size > 50 * 2**20 or not p.is_file():
                        continue
                    if needle in p.read_bytes():
                        found.append(p)
                except OSError:
                    continue
    return found


@pytest.mark.parametrize("page", PAGES[:1])
def test_uploads_are_not_written_to_disk(page):
    # a picture with a marker nobody else could have: found on disk, it could only be from this upload
    marker = os.urandom(16).hex().encode()
    im = Image.fromarray(np.random.default_rng(5).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=_png_text(marker))
    data = buf.getvalue()
    start = time.time() - 1
    at = app_page(page, lang="en")
    key = _uploader_key(at)
    with _WriteRecorder() as rec:
        at.file_uploader(key=key).set_value(("secret.png", data, "image/png")).run()
        assert_no_exception(at)
        assert not at.error
        at.run()  # a second run (a widget change) too
    assert_no_exception(at)
    assert rec.paths == [], rec.paths
    roots = [Path(tempfile.gettempdir()), Path.cwd(), ROOT, Path(os.environ["RESNET_VIZ_CACHE"]).parent]
    assert _files_holding(roots, marker, start) == []


def _png_text(marker: bytes):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("marker", marker.decode())
    return info


def test_the_write_recorder_sees_writes(tmp_path):
    """The check above can fail: the usual ways of writing a file are all recorded and found."""
    needle = b"needle-7f3a91"
    with _WriteRecorder() as rec:
        (tmp_path / "a.bin").write_bytes(needle)
        with open(tmp_path / "b.txt", "wb") as f:
            f.write(needle)
        fd, name = tempfile.mkstemp(dir=tmp_path)
        os.close(fd)
        Image.new("RGB", (2, 2)).save(tmp_path / "c.png")
        (tmp_path / "a.bin").read_bytes()  # reading is not writing
    assert rec.paths == [str(tmp_path / "a.bin"), str(tmp_path / "b.txt"), name, str(tmp_path / "c.png")]
    assert sorted(_files_holding([tmp_path], needle, time.time() - 60)) == [tmp_path / "a.bin", tmp_path / "b.txt"]
