"""Hostile and broken checkpoints (issue 11): each is refused with a one-line reason in both languages by
the loader, by ``python -m resnet_viz checkpoint`` and by the app's "Upload a checkpoint…" picker, and a
pickle that would run code never does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_viz import cli
from resnet_viz.checkpoints.find import SHIPPED_DIR
from resnet_viz.checkpoints.read import MAX_CHECKPOINT_BYTES, load_checkpoint, load_checkpoint_bytes
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import LoadError
from tests.conftest import uploader
from tests.corpus import CHECKPOINT_CASES, MARKER, deflate_bomb, resnet20_state

# The fallback model: the shipped ResNet-20 checkpoint when there is one, else an untrained ResNet-20.
DEFAULT_SOURCE = "checkpoint" if (SHIPPED_DIR / "resnet20.safetensors").is_file() else "random"

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
CASES = {c.name: c for c in CHECKPOINT_CASES}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[Path, bytes]]:
    """Every case written once to its own directory (a file name may repeat across cases)."""
    base = tmp_path_factory.mktemp("checkpoints")
    out = {}
    for i, case in enumerate(CHECKPOINT_CASES):
        d = base / f"{i:02d}"
        d.mkdir()
        data = case.make(base)
        (d / case.filename).write_bytes(data)
        out[case.name] = (d / case.filename, data)
    yield out
    assert not (base / MARKER).exists(), "a pickle in the corpus ran code"


def assert_clear_message(exc: LoadError) -> None:
    for lang in ("en", "zh"):
        text = exc.message(lang)
        assert text.strip() and "\n" not in text and "Traceback" not in text, (lang, text)
        assert len(text) < 600, (lang, len(text))
        assert "{" not in text or "}" not in text.split("{", 1)[1], f"unfilled placeholder: {text}"
    assert CJK.search(exc.message("zh")) and not CJK.search(exc.message("en"))
    # the advice that comes with torch's own error must never reach a user
    assert "weights_only` set to `False" not in exc.message("en")


def test_corpus_is_big_enough():
    assert len(CHECKPOINT_CASES) >= 25


@pytest.mark.parametrize("name", list(CASES))
def test_loader_refuses(name, corpus):
    case = CASES[name]
    path, data = corpus[name]
    limit = case.max_bytes or MAX_CHECKPOINT_BYTES
    with pytest.raises(LoadError) as from_bytes:
        load_checkpoint_bytes(data, case.filename, max_bytes=limit)
    assert from_bytes.value.key in case.keys, (from_bytes.value.key, from_bytes.value.message("en"))
    assert_clear_message(from_bytes.value)
    with pytest.raises(LoadError) as from_file:
        load_checkpoint(path, max_bytes=limit)
    assert from_file.value.key in case.keys
    assert not (path.parent.parent / MARKER).exists()


def test_code_running_pickles_never_run(corpus):
    evil = [name for name in CASES if "code-running" in name]
    assert len(evil) == 3
    base = corpus[evil[0]][0].parent.parent
    for name in evil:
        path, data = corpus[name]
        with pytest.raises(LoadError):
            load_checkpoint_bytes(data, path.name)
        with pytest.raises(LoadError):
            load_checkpoint(path)
    assert not (base / MARKER).exists()
    # the payload is real: an unsafe load (done here on purpose) does create the marker
    import torch

    try:
        torch.load(corpus[evil[0]][0], weights_only=False)
    except Exception:
        pass
    assert (base / MARKER).exists()
    (base / MARKER).unlink()


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.max_bytes is None])
def test_cli_refuses_in_one_line(name, corpus, capsys):
    path, _ = corpus[name]
    assert cli.main(["checkpoint", str(path)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    assert captured.out == ""


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "resnet_viz", "checkpoint", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_process_refuses_a_pickle_over_the_limit_and_a_bomb(tmp_path, corpus):
    """The real command, end to end: no traceback, non-zero exit, one line each; files made for the real
    limits (a sparse file over 600 MB costs no disk; the bomb is 0.7 MB that would unpack to 700 MB)."""
    evil = corpus["code-running pickle (zip format)"][0]
    huge = tmp_path / "huge.pt"
    with open(huge, "wb") as f:
        f.truncate(MAX_CHECKPOINT_BYTES + 2**20)
    bomb = tmp_path / "bomb.pt"
    bomb.write_bytes(deflate_bomb(700 * 2**20))
    assert bomb.stat().st_size < 2**20
    script = "; ".join([
        "import sys", "from resnet_viz.cli import main",
        f"codes = [main(['checkpoint', p]) for p in {[str(evil), str(huge), str(bomb)]!r}]",
        "print(codes)",
    ])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    # one interpreter for the three files (starting torch costs seconds on a shared machine) ...
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[2, 2, 2]", (proc.stdout, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "code" in errors[0] and "600 MB" in errors[1] and "700.0 MB" in errors[2]
    # ... and the module entry point itself once, warnings on (torch warns about plain pickles)
    plain = corpus["code-running plain pickle"][0]
    proc = _cli(str(plain))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and plain.name in lines[0], proc.stderr
    assert not (plain.parent.parent / MARKER).exists()
    assert not (evil.parent.parent / MARKER).exists()


def test_a_good_checkpoint_still_loads(tmp_path, capsys):
    """The refusals above are not a loader that refuses everything."""
    path = save_checkpoint(resnet20_state(), tmp_path / "good", {"model": "resnet20", "shortcut": "A"})
    assert load_checkpoint(path).name == "resnet20"
    assert cli.main(["checkpoint", str(path)]) == 0
    assert "resnet20" in capsys.readouterr().out


# ---------------------------------------------------------------- through the app's sidebar upload

def _picker_script():
    import streamlit as st

    from ui.models import current_model, model_picker

    model_picker()
    loaded = current_model()
    st.text(f"loaded:{loaded.name}:{loaded.source}:{loaded.label}")


def _app(lang: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_picker_script, default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state["model_choice"] = "upload"
    at.run()
    assert not at.exception
    return at


def _upload(at, filename: str, data: bytes):
    uploader(at, "model_upload").set_value((filename, data, "application/octet-stream")).run()
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_app_upload_refuses_each_with_a_message(lang, corpus):
    at = _app(lang)
    assert at.text[0].value.startswith(f"loaded:resnet20:{DEFAULT_SOURCE}")  # nothing uploaded yet: the default
    good = save_checkpoint(resnet20_state(seed=1), corpus[CHECKPOINT_CASES[0].name][0].parent / "mine",
                           {"model": "resnet20", "shortcut": "A"})
    in_use = f"loaded:resnet20:{DEFAULT_SOURCE}"
    for case in CHECKPOINT_CASES:
        if case.max_bytes is not None or not case.filename.endswith((".safetensors", ".pt", ".pth", ".th")):
            continue
        path, data = corpus[case.name]
        _upload(at, case.filename, data)
        assert not at.exception, (case.name, [e.value for e in at.exception])
        with pytest.raises(LoadError) as info:
            load_checkpoint_bytes(data, case.filename)
        messages = [e.value for e in at.error]
        assert messages == [info.value.message(lang)], (case.name, messages)
        # the page keeps working on the model in use before (the default, or the student's good file), and says so
        assert at.text[0].value.startswith(in_use), case.name
        # then a good file in the same session is accepted: nothing was lost or poisoned
        if case is CHECKPOINT_CASES[0] or case.name == "NaN weights":
            _upload(at, "mine.safetensors", good.read_bytes())
            assert not at.exception and not at.error
            in_use = "loaded:resnet20:checkpoint:resnet20 (mine.safetensors)"
            assert at.text[0].value.startswith(in_use)
    assert not (corpus[CHECKPOINT_CASES[0].name][0].parent.parent / MARKER).exists()
