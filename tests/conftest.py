"""Shared fixtures. Tests run offline: pretrained downloads are switched off for the whole session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent

# Tests that run several real processes at once (servers, nginx, Chromium) depend on how two shared cores schedule
# them: CI failed on such tests where this machine passed, and kept no output. One more try, shown as "R" in the
# summary; a failure twice in a row fails. Tests of one process never get it.
REAL_SERVERS = pytest.mark.flaky(reruns=1, reruns_delay=5)
SHARED_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"

os.environ.setdefault("RESNET_VIZ_OFFLINE", "1")
os.environ.setdefault("RESNET_VIZ_THREADS", "1")  # what app.py sets once (resnet_viz.runtime)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Each test sees an empty user checkpoint directory and cache, never the developer's own."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("RESNET_VIZ_CHECKPOINTS", str(base / "checkpoints"))
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(base / "cache"))
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")


def app_page(page: str | None = None, *, lang: str = "en", timeout: float = 120, **session) -> AppTest:
    """An AppTest of app.py, switched to ``page`` (e.g. "pages/architecture.py") and run once.

    ``session`` entries are put into st.session_state before the first run.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.query_params["lang"] = lang
    at.session_state["lang"] = lang  # AppTest drops query parameters on switch_page
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def uploader(at, base: str):
    """The checkpoint uploader ``base`` as drawn now: each upload it takes gives it a new key (``base``, ``base_1``,
    ...; ui.models.uploader_key), so that it is drawn empty."""
    found = [u for u in at.get("file_uploader") if u.key == base or str(u.key).startswith(f"{base}_")]
    assert len(found) == 1, [u.key for u in at.get("file_uploader")]
    return found[0]


def held_uploads(at) -> list[str]:
    """The session-state keys whose values hold uploaded files (Streamlit's UploadedFile objects)."""
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    state = at.session_state.to_dict()
    return [k for k, v in state.items()
            if isinstance(v, UploadedFile) or (isinstance(v, list) and any(isinstance(f, UploadedFile) for f in v))]


def logits_close(a, b) -> bool:
    """Two computations of the same logits agree within float32 rounding, by the rule ``check resnet`` uses
    (resnet_viz.student.resnet.TOLERANCE): another CPU rounds another way (CI saw 2e-5 where this machine saw 1e-6)."""
    from resnet_viz.student.resnet import TOLERANCE

    return bool((a - b).abs().max() <= TOLERANCE * max(1.0, float(b.abs().max())))


def assert_no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="session")
def cifar_jpeg_archive() -> Path:
    if not SHARED_DATA.is_file():
        pytest.skip(f"CIFAR-10 JPEG archive not found at {SHARED_DATA} (only on the project's own machines)")
    return SHARED_DATA


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test, restored afterwards: bit-identical between runs, and on a machine shared
    by several jobs two spinning OpenMP threads made a ResNet-20 forward pass 50x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
