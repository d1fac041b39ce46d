"""The training lab's settings: the nets a student picks, the run's length, batch and learning rate, and the
checks that turn them into a recipe (or an ``InputError`` naming the first impossible one)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from resnet_viz.cost import network_macs
from resnet_viz.errors import InputError
from resnet_viz.models.registry import MODELS, ModelSpec, display_name
from resnet_viz.train.recipes import Recipe, make_recipe

MAX_NETS = 3
MAX_ITERATIONS = 5000
MAX_DEPTH = 110  # the deepest zoo net a CPU trains in a lab session (ResNet-1202 is the zoo's, not the lab's)
MAX_BATCH = 512
MAX_LR = 5.0  # far above any useful rate (the paper's is 0.1): higher values are typing mistakes
DEFAULT_NETS = ("plain20", "plain56", "resnet56")
DEFAULT_ITERATIONS = 200
# The app's choice (the paper's batch is 128): a quarter of the work per step, so a 2-core CPU takes about four times
# as many steps in the minute or two a student watches.
DEFAULT_BATCH = 32
# The paper's 0.1 is for batches of 128; at the lab's 32 it kept ResNet-56 near chance (2.30) as long as plain-56 for
# the first 120 iterations (the residual gap -0.012 then, seed 1). At 0.02 (about the paper's rate per image) the
# page's verdict separated them from iteration 120 on, the gap growing to 0.45 by 200 (seed 0; 0.05: a gap of
# 0.05, barely above its noise). benchmarks/training_lab_verdict.py measures it over seeds.
DEFAULT_LR = 0.02
# Before this server has timed a run of its own: benchmarks/training_lab_verdict.py's default run, 200 iterations in
# 107 s of wall time (the median of five seeds) on the project's shared 2-core machine under load (issue 33,
# benchmarks/README.md).
REFERENCE_ITERATIONS, REFERENCE_SECONDS = 200, 107.0
TEST_POINTS = 10  # test-sample evaluations per run, unless eval_every says otherwise
TEST_IMAGES = 1000  # the whole shipped test sample


@dataclass(frozen=True)
class NetChoice:
    """One net of the lab: plain or residual, a depth 6n+2, a shortcut option for the residual ones."""

    residual: bool
    depth: int
    shortcut: str = "A"

    @property
    def name(self) -> str:
        return f"{'resnet' if self.residual else 'plain'}{self.depth}"

    @property
    def label(self) -> str:
        """The paper's name, with the option when it is not the paper's CIFAR choice (A)."""
        base = display_name(self.name)
        return base if not self.residual or self.shortcut == "A" else f"{base} ({self.shortcut})"

    @classmethod
    def of(cls, name: str, shortcut: str = "A") -> NetChoice:
        """``"resnet56"`` -> NetChoice(True, 56); the depth is checked by ``check_settings``."""
        residual = name.lower().startswith("resnet")
        digits = name.lower().removeprefix("resnet").removeprefix("plain")
        return cls(residual, int(digits) if digits.isdigit() else 0, shortcut)


@dataclass(frozen=True)
class LabSettings:
    nets: tuple[NetChoice, ...] = tuple(NetChoice.of(n) for n in DEFAULT_NETS)
    iterations: int = DEFAULT_ITERATIONS
    batch_size: int = DEFAULT_BATCH
    lr: float = DEFAULT_LR
    seed: int = 0
    eval_every: int | None = None  # None: TEST_POINTS evaluations spread over the run
    test_images: int = TEST_IMAGES  # the first N of the test sample (class-balanced: 100 cover every class)

    @property
    def test_every(self) -> int:
        return self.eval_every or max(1, math.ceil(self.iterations / TEST_POINTS))


def lab_depths() -> tuple[int, ...]:
    """The depths the lab offers: the zoo's 6n+2 CIFAR depths up to MAX_DEPTH (plain and residual alike)."""
    return tuple(sorted({s.depth for s in MODELS.values() if s.layout == "cifar" and s.depth <= MAX_DEPTH}))


def _check_net(net: NetChoice) -> ModelSpec:
    if net.depth < 8 or (net.depth - 2) % 6:
        raise InputError("training_lab.bad_depth", depth=net.depth)
    if net.depth not in lab_depths():
        raise InputError("training_lab.depth_not_offered", depth=net.depth,
                         depths=", ".join(map(str, lab_depths())))
    if net.residual and net.shortcut not in ("A", "B"):
        raise InputError("training_lab.bad_shortcut", option=net.shortcut)
    return MODELS[net.name]


def check_settings(s: LabSettings) -> Recipe:
    """The recipe the settings make, or InputError naming the first impossible one."""
    if not 1 <= len(s.nets) <= MAX_NETS:
        raise InputError("training_lab.bad_net_count", count=len(s.nets), most=MAX_NETS)
    if len(set(s.nets)) != len(s.nets):
        raise InputError("training_lab.same_net_twice")
    for net in s.nets:
        _check_net(net)
    for name, value, most in (("iterations", s.iterations, MAX_ITERATIONS), ("batch", s.batch_size, MAX_BATCH)):
        if not isinstance(value, int) or not 1 <= value <= most:
            raise InputError(f"training_lab.bad_{name}", value=value, most=most)
    if not (isinstance(s.lr, (int, float)) and math.isfinite(s.lr) and 0 < s.lr <= MAX_LR):
        raise InputError("training_lab.bad_lr", value=s.lr, most=MAX_LR)
    if not isinstance(s.test_images, int) or not 1 <= s.test_images <= TEST_IMAGES:
        raise InputError("training_lab.bad_test_images", value=s.test_images, most=TEST_IMAGES)
    if s.eval_every is not None and s.eval_every < 1:
        raise InputError("training_lab.bad_eval_every", value=s.eval_every)
    return make_recipe("paper", s.nets[0].name, iterations=s.iterations, batch_size=s.batch_size, lr=float(s.lr))


def run_key(s: LabSettings) -> str:
    """What a run's speed is kept under: its nets and batch (a small batch does less work per second)."""
    return f"{'+'.join(n.name for n in s.nets)}/{s.batch_size}"


def run_work(s: LabSettings, iterations: int | None = None) -> float:
    """Multiply-adds of the forward passes of ``iterations`` (default: all) training steps of the run's nets: the
    cost meter's unit (a backward pass costs about twice its forward pass, for every net alike)."""
    steps = s.iterations if iterations is None else iterations
    return steps * s.batch_size * sum(network_macs(n.name) for n in s.nets)


def reference_seconds_per_mac() -> float:
    return REFERENCE_SECONDS / run_work(LabSettings(), REFERENCE_ITERATIONS)
