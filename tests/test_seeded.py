"""resnet_viz.seeded: seeded draws from torch's global generator give the same numbers whatever other threads draw
at the same time, and leave the generator as they found it."""

from __future__ import annotations

import sys
import threading

import torch

from resnet_viz.seeded import seeded

DRAWS, ROUNDS = 200, 30


def _draw(seed: int) -> torch.Tensor:
    with seeded(seed):
        return torch.cat([torch.randn(8) for _ in range(DRAWS)])  # many small draws: room for a thread switch


def test_threads_drawing_at_once_each_get_their_seeds_numbers():
    expected = {seed: _draw(seed) for seed in (0, 1, 2, 3)}
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    wrong: list[int] = []
    try:
        def worker(seed: int) -> None:
            for _ in range(ROUNDS):
                if not torch.equal(_draw(seed), expected[seed]):
                    wrong.append(seed)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in expected]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert not wrong, f"{len(wrong)} of {ROUNDS * len(expected)} draws took another thread's numbers"


def test_the_global_generator_is_left_as_found_and_blocks_nest():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded(0):
        first = torch.randn(3)
        with seeded(1):  # re-entrant: a seeded build inside a seeded block
            torch.randn(3)
    assert torch.equal(torch.random.get_rng_state(), before)
    with seeded(0):
        assert torch.equal(torch.randn(3), first)


def test_every_seeded_block_of_the_app_goes_through_seeded():
    from tests.conftest import ROOT

    files = [*ROOT.glob("resnet_viz/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
    forked = [str(p.relative_to(ROOT)) for p in files
              if "fork_rng" in p.read_text(encoding="utf-8") and p.name != "seeded.py"]
    assert not forked, forked


def test_a_network_built_in_another_thread_moves_no_seeded_sequence():
    from resnet_viz.models.registry import build_model

    expected = _draw(7)
    stop = threading.Event()

    def builder() -> None:
        while not stop.is_set():
            build_model("resnet20")  # kaiming_normal_ on every conv: unseeded draws

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    other = threading.Thread(target=builder)
    other.start()
    try:
        wrong = sum(not torch.equal(_draw(7), expected) for _ in range(ROUNDS))
    finally:
        stop.set()
        other.join()
        sys.setswitchinterval(old)
    assert wrong == 0, f"{wrong} of {ROUNDS} seeded draws were moved on by the other thread's builds"
