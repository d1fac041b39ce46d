"""``first-views`` as the campaign's ship runs it: a real process writes a shipped network's first views, and the
file serves exactly that network (the pages read it instead of computing)."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_viz import first_views as fv
from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from tests.test_cli import run_cli

pytestmark = pytest.mark.slow  # a new Python process, two passes over the 1,000-image sample


def test_first_views_writes_what_the_pages_read(tmp_path):
    checkpoint = SHIPPED_DIR / "plain20.safetensors"
    done = run_cli("first-views", str(checkpoint), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and f"-> {tmp_path / 'plain20.npz'}" in done.stdout
    loaded = load_model(checkpoint)
    written, shipped = fv.shipped_for(loaded, tmp_path), fv.shipped_for(loaded)
    assert written is not None and shipped is not None
    np.testing.assert_allclose(written.logits, shipped.logits, rtol=1e-4, atol=1e-4)
    assert list(written.tops) == list(shipped.tops)
    assert fv.at_init_current(tmp_path) and "gradient flow at initialisation: " in done.stdout
    at_init = (tmp_path / fv.AT_INIT_FILE).read_bytes()
    again = run_cli("first-views", str(checkpoint), "--out", str(tmp_path))  # as a ship does for each network
    assert again.returncode == 0 and "gradient flow at initialisation: up to date" in again.stdout
    assert (tmp_path / fv.AT_INIT_FILE).read_bytes() == at_init


def test_first_views_refuses_a_missing_file_clearly(tmp_path):
    done = run_cli("first-views", str(tmp_path / "nothing.safetensors"), "--out", str(tmp_path))
    assert done.returncode != 0 and "Traceback" not in done.stderr and done.stderr.strip()
    assert not list(tmp_path.glob("*.npz"))
