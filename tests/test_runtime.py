"""resnet_viz.runtime: torch's thread count, set once per process (the app's start, a CLI command's --threads)."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
import torch

from resnet_viz import runtime
from resnet_viz.cli import main
from resnet_viz.runtime import HeapKeeper, configure_allocator, resident_bytes

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
def test_allocator_is_configured_on_linux_with_one_heap_keeper():
    assert configure_allocator() is True
    assert configure_allocator() is True  # idempotent: the app's script calls it on every rerun
    keepers = [t for t in threading.enumerate() if t.name == "resnet-viz-heap-keeper"]
    assert len(keepers) == 1 and keepers[0].daemon and runtime.heap_keeper is not None


class Resident:
    """A fake resident size that a trim brings down to ``after_trim``."""

    def __init__(self, size: int, after_trim: int) -> None:
        self.size, self.after_trim, self.trims = size, after_trim, 0

    def __call__(self) -> int:
        return self.size

    def trim(self, pad: int) -> None:
        assert pad == 0
        self.trims += 1
        self.size = self.after_trim


def test_heap_keeper_trims_only_once_the_process_has_grown_by_its_step():
    rss = Resident(1000, after_trim=1020)
    keeper = HeapKeeper(rss, rss.trim, growth=100)
    rss.size = 1100
    assert keeper.tick() is False and rss.trims == 0  # grown by exactly the step: not yet
    rss.size = 1101
    assert keeper.tick() is True and rss.trims == 1 and keeper.base == 1020  # measured again after the trim
    rss.size = 1110
    assert keeper.tick() is False and rss.trims == 1


def test_heap_keeper_follows_the_process_down():
    rss = Resident(1000, after_trim=0)
    keeper = HeapKeeper(rss, rss.trim, growth=100)
    rss.size = 600  # a big block went back by munmap
    assert keeper.tick() is False and keeper.base == 600
    rss.size = 701
    assert keeper.tick() is True and rss.trims == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm: Linux only")
def test_the_heap_keeper_thread_sees_the_process_grow():
    trims: list[int] = []
    keeper = HeapKeeper(resident_bytes, trims.append, growth=64 << 20, every_s=0.01)
    thread = keeper.start()
    try:
        grown = np.ones(128 << 17)  # 128 MB, written: resident
        deadline = time.monotonic() + 30
        while not trims and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        keeper.stop()  # not left polling beside the rest of the suite
        thread.join(5)
    assert trims and set(trims) == {0}  # the trim may give back more than the array: no bound on the size after
    assert not thread.is_alive()
    del grown


# ---------------------------------------------------------------- WarmUp: one background thread, in order

class Importer:
    """A fake ``importlib.import_module``: records each name in order; ``hold`` blocks that name until released;
    ``broken`` raises."""

    def __init__(self, hold: str | None = None, broken: str | None = None) -> None:
        self.names: list[str] = []
        self.threads: set[str] = set()
        self.hold, self.broken = hold, broken
        self.release = threading.Event()

    def __call__(self, name: str) -> object:
        self.names.append(name)
        self.threads.add(threading.current_thread().name)
        if name == self.hold:
            self.release.wait(10)
        if name == self.broken:
            raise ImportError(f"No module named {name!r}")
        return object()


def test_a_warm_up_runs_every_step_once_in_order_in_its_own_thread():
    done: list[str] = []
    importer = Importer()
    warm = runtime.WarmUp(["a", "b"], ["c", lambda: done.append("call")], ["d"], importer=importer)
    assert not warm.ready()
    assert warm.start() and not warm.start()  # a second start does nothing
    assert warm.wait(10)
    assert importer.names == ["a", "b", "c", "d"] and done == ["call"]
    assert importer.threads == {"resnet-viz-warm-up"}
    assert warm.ready() and warm.ready(0) and warm.failed == {}
    assert [name.rsplit(".", 1)[-1] for name in warm.seconds] == ["a", "b", "c", "<lambda>", "d"]


def test_a_light_page_waits_for_the_first_stage_only():
    importer = Importer(hold="torch")
    warm = runtime.WarmUp(["numpy", "pandas"], ["torch", "captum"], importer=importer)
    assert warm.wait(10, stage=0)  # starts it; returns while torch is still importing
    assert importer.names[:2] == ["numpy", "pandas"] and "captum" not in importer.names
    assert warm.ready(0) and not warm.ready() and not warm.wait(0.05)  # a torch page would still be waiting
    importer.release.set()
    assert warm.wait(10) and importer.names == ["numpy", "pandas", "torch", "captum"]


def test_what_a_page_needs_goes_first_in_the_warm_ups_order_and_the_rest_follows():
    importer = Importer(hold="numpy")  # held, so that the page asks before the thread has gone on
    warm = runtime.WarmUp(["numpy", "pandas"], ["torch", "pyarrow", "captum", "ui.lesion", "ui.figure7"],
                          importer=importer)
    assert not warm.need(["ui.lesion", "numpy", "torch"], timeout=0)  # asked while numpy is under way
    importer.release.set()
    assert warm.need(["ui.lesion", "numpy", "torch"], timeout=10)
    assert importer.names[:3] == ["numpy", "torch", "ui.lesion"], importer.names
    assert warm.wait(10)
    assert sorted(importer.names) == sorted(["numpy", "pandas", "torch", "pyarrow", "captum", "ui.lesion",
                                             "ui.figure7"]) and len(importer.names) == 7


def test_a_stage_is_ready_only_when_it_and_every_stage_before_it_are_done():
    importer = Importer(hold="pandas")
    warm = runtime.WarmUp(["numpy", "pandas"], ["torch"], importer=importer)
    runs = warm.running()
    runs.__enter__()  # a student's script runs: only what somebody needs starts
    assert warm.need(["torch"], timeout=10)
    assert importer.names == ["torch"] and not warm.ready(1) and not warm.ready(0)
    runs.__exit__(None, None, None)
    importer.release.set()
    assert warm.wait(10) and warm.ready(0) and importer.names == ["torch", "numpy", "pandas"]


def test_while_a_script_runs_the_warm_up_starts_only_what_somebody_waits_for():
    importer = Importer()
    warm = runtime.WarmUp(["numpy"], ["torch", "captum"], ["views"], importer=importer)
    with warm.running():
        assert warm.need(["numpy", "torch"], timeout=10)
        time.sleep(0.2)  # time enough for the thread to start something it should not
        assert importer.names == ["numpy", "torch"], importer.names
    assert warm.wait(10) and importer.names == ["numpy", "torch", "captum", "views"]


def test_the_quiet_stages_wait_until_no_script_has_run_for_a_while():
    """Timings of the server's speed start only once the scripts have stopped for quiet_s: a class arriving keeps
    them back, and a script run in the meantime starts the wait again."""
    importer = Importer()
    warm = runtime.WarmUp(["numpy"], ["speed"], importer=importer, quiet_from=1, quiet_s=3.0)
    with warm.running():
        assert warm.need(["numpy"], timeout=10)
    assert not warm.wait(0.3) and importer.names == ["numpy"]  # 0.3 s after the run: still held (3 s to go)
    with warm.running():
        pass  # another student's click: the quiet begins again
    assert not warm.wait(0.3) and importer.names == ["numpy"]
    assert warm.wait(10) and importer.names == ["numpy", "speed"]
    assert warm.need(["speed"], timeout=0)  # somebody who needs it would not have waited for the quiet


def test_a_quiet_stage_that_somebody_needs_runs_at_once():
    importer = Importer()
    warm = runtime.WarmUp(["numpy"], ["speed"], importer=importer, quiet_from=1, quiet_s=60)
    with warm.running():
        assert warm.need(["speed"], timeout=10)
        assert importer.names == ["speed"]
    assert warm.wait(10) and importer.names == ["speed", "numpy"]


def test_a_failed_step_is_recorded_and_the_rest_goes_on():
    importer = Importer(broken="captum.attr")
    warm = runtime.WarmUp(["numpy"], ["captum.attr", "ui.models"], importer=importer)
    assert warm.wait(10)
    assert importer.names == ["numpy", "captum.attr", "ui.models"]
    assert list(warm.failed) == ["captum.attr"] and "No module named 'captum.attr'" in warm.failed["captum.attr"]


def test_a_stopped_warm_up_finishes_its_step_and_starts_no_other():
    """What the exit does (atexit): a daemon thread left inside torch at finalisation aborts the process."""
    importer = Importer(hold="torch")
    warm = runtime.WarmUp(["numpy"], ["torch", "captum"], ["views"], importer=importer)
    assert warm.wait(10, stage=0)
    stopper = threading.Thread(target=warm.stop, args=(10,))
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive(), "stop waits for the step under way"
    importer.release.set()
    stopper.join(10)
    assert not stopper.is_alive() and importer.names == ["numpy", "torch"]
    assert warm.wait(0) and warm.ready(0), "whoever waits is let go"


def test_a_warm_up_imports_for_real():
    warm = runtime.WarmUp(["json"], ["colorsys"])
    assert warm.wait(30) and warm.failed == {}
    assert "colorsys" in sys.modules
