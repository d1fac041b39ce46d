"""End-to-end, in headless Chromium: what the page shows refers to the input and can be read whole.

A sample, then a photo nobody on the project chose, on Feature maps: afterwards every value the page shows refers to
the photo, in English and in Chinese: the picker names the photo, the channel picker stands on the photo's most active
channel (where the grid starts), the strongest-unit caption and the receptive-field unit name the photo's strongest
unit, and those are the values resnet_viz computes for the photo. And Home's card titles are not cut."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from resnet_viz.i18n import t
from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason, streamlit_server, wait_until_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_missing_reason() is not None, reason=str(chromium_missing_reason()))]

PHOTO = Path(np.__file__).parent.parent / "matplotlib" / "mpl-data" / "sample_data" / "grace_hopper.jpg"
LAYER = "conv1"  # the layer the page opens on


def _expected(data: bytes) -> dict[str, int]:
    """What the page should say for ``data`` on the default model, computed here with resnet_viz alone."""
    from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
    from resnet_viz.images import load_image, preprocess
    from resnet_viz.inspect.feature_maps import capture, channel_order

    loaded = load_model(str(SHIPPED_DIR / "resnet20.safetensors"))  # the sidebar's default
    rec = capture(loaded.model, preprocess(load_image(data, PHOTO.name), loaded).tensor, loaded.spec).layers[LAYER]
    channel = int(channel_order(rec, "mean")[0])
    row, col = (int(v) for v in rec.channel_argmax[channel])
    return {"channel": channel, "row": row, "col": col}


def _pattern(key: str, lang: str, **numbers: str) -> re.Pattern:
    """A catalogue sentence with its numeric placeholders as capture groups."""
    text = re.escape(t(key, lang, **{k: f"\0{k}\0" for k in numbers}))
    for k, group in numbers.items():
        text = text.replace(f"\0{k}\0", group)
    return re.compile(text)


def _read(page, lang: str) -> dict[str, object]:
    main = page.locator('[data-testid="stMain"]')
    text = main.inner_text()
    strongest = _pattern("feature_maps.strongest", lang, row=r"(?P<row>\d+)", col=r"(?P<col>\d+)",
                         value=r"[-\d.]+", rf=r"\d+").search(text)
    unit = _pattern("feature_maps.rf_caption", lang, row=r"(?P<row>\d+)", col=r"(?P<col>\d+)", rf=r"\d+",
                    top=r"\d+", left=r"\d+", bottom=r"\d+", right=r"\d+").search(text)
    grid = _pattern("feature_maps.grid_caption", lang, channels=r"(?P<channels>[\d, ]+)").search(text)
    assert strongest and unit and grid, text[:2000]
    # a select box shows its value in its combo box's input
    boxes = {b.locator("label").inner_text().strip(): b.locator('input[role="combobox"]').input_value()
             for b in main.locator('[data-testid="stSelectbox"]').all()}
    numbers = [int(float(i.input_value())) for i in main.locator('[data-testid="stNumberInput"] input').all()]
    channel_box = boxes[t("feature_maps.channel", lang)]
    return {"strongest": (int(strongest["row"]), int(strongest["col"])),
            "unit_caption": (int(unit["row"]), int(unit["col"])),
            "unit_inputs": tuple(numbers[-2:]),
            "grid_first": int(grid["channels"].split(",")[0]),
            "channel_box": int(re.search(r"\d+", channel_box).group(0)),  # "#10 · mean 1.040 · max 4.238"
            "picker": boxes[t("images.sample", lang)]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with streamlit_server({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}) as (url, proc):
        yield url, proc


@contextmanager
def opened(url: str, path: str, ready: str, height: int = 1000):
    """A fresh Chromium page at ``url/path``, once ``ready`` (a selector) is there and the app is idle."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": height})
        try:
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            page.wait_for_selector(ready, timeout=90_000)
            wait_until_idle(page)
            yield page
        finally:
            browser.close()


@pytest.mark.skipif(not PHOTO.is_file(), reason=f"no photo at {PHOTO} (matplotlib's sample data)")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_after_a_photo_every_value_on_feature_maps_refers_to_the_photo(server, lang, tmp_path):
    url, proc = server
    data = PHOTO.read_bytes()
    want = _expected(data)
    with opened(url, f"feature_maps?lang={lang}", '[data-testid="stImage"]', height=2400) as page:
        sample = _read(page, lang)
        assert "airplane_1" in sample["picker"]
        page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(
            files=[{"name": PHOTO.name, "mimeType": "image/jpeg", "buffer": data}])
        time.sleep(1.5)  # the upload starts the script run
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        photo = _read(page, lang)
        page.screenshot(path=str(tmp_path / f"feature_maps_photo_{lang}.png"), full_page=True)
    assert t("images.photo_option", lang, name=PHOTO.name) in photo["picker"]  # not "airplane_1"
    assert photo["grid_first"] == photo["channel_box"] == want["channel"]
    unit = (want["row"], want["col"])
    assert photo["strongest"] == photo["unit_caption"] == photo["unit_inputs"] == unit
    assert sample["unit_inputs"] != unit  # the sample's unit was another: the page moved to the photo's
    assert proc.poll() is None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_card_titles_are_not_cut(server, lang):
    url, _ = server
    with opened(url, f"?lang={lang}", '[data-testid="stPageLink"]') as page:
        cut = page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid="stMain"] [data-testid="stPageLink-NavLink"] span')]
            .filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.innerText)""")
        count = page.locator('[data-testid="stMain"] [data-testid="stPageLink"]').count()
    assert count >= 14 and cut == []
