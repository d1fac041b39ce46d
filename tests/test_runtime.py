"""resnet_viz.runtime: torch's thread count, set once per process (the app's start, a CLI command's --threads)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from resnet_viz import runtime
from resnet_viz.cli import main
from resnet_viz.runtime import configure_allocator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def fresh(monkeypatch):
    """A process that has not configured its threads yet; every torch.set_num_threads call recorded."""
    calls: list[int] = []
    real = torch.set_num_threads
    monkeypatch.setattr(runtime, "_configured", False)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    return calls


def test_default_is_one_thread_whatever_the_cores(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    for cores in (64, 2, 1, None):
        monkeypatch.setattr(runtime.os, "cpu_count", lambda cores=cores: cores)
        assert runtime.default_threads() == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert runtime.default_threads() == 2


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_a_bad_environment_value_is_refused(monkeypatch, raw):
    monkeypatch.setenv(runtime.THREADS_ENV, raw)
    with pytest.raises(ValueError, match=runtime.THREADS_ENV):
        runtime.default_threads()


def test_only_the_first_call_changes_anything(monkeypatch, fresh):
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert runtime.configure_threads() == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv(runtime.THREADS_ENV, "1")
    torch.set_num_threads(1)  # as if something else changed it: a rerun of the app must not fight it
    assert runtime.configure_threads() == 1 and torch.get_num_threads() == 1
    assert fresh == [2, 1]


def test_an_explicit_count_is_applied_and_not_repeated(fresh):
    assert runtime.configure_threads(2) == 2 and torch.get_num_threads() == 2
    assert runtime.configure_threads(2) == 2
    assert fresh == [2]
    with pytest.raises(ValueError):
        runtime.configure_threads(0)


def test_the_responses_command_sets_threads_at_its_start(tmp_path, fresh, capsys):
    npz = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, images=rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8), labels=np.arange(2),
             classes=np.array([str(i) for i in range(10)]))
    assert main(["responses", "random:resnet20", "--data", str(npz), "--json", "--threads", "2"]) == 0
    assert fresh == [2] and torch.get_num_threads() == 2
    capsys.readouterr()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_allocator_is_configured_on_linux():
    assert configure_allocator() is True
    assert configure_allocator() is True  # idempotent: the app's script calls it on every rerun
