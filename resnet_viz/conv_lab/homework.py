"""The course's homework question 1 with numbers: what the homework page predicts and the conv lab checks.

Each preset is a setting of the conv lab (the calculator, or the stack-of-3x3 comparison of the receptive-field
tab) that a deep link opens; each answer's numbers come from ``resnet_viz.conv_lab.calc``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from resnet_viz.conv_lab import calc

SIZE = 32  # a CIFAR-10 image: the networks this app trains
VALID_LAYERS = 10


@dataclass(frozen=True)
class StackPreset:
    """The receptive-field tab's comparison: ``count`` stacked ``kernel`` x ``kernel`` convs against one conv."""

    kernel: int
    count: int
    channels: int


# name -> the lab's inputs; a name is also the deep link's ?preset= value
CALCULATOR_PRESETS: dict[str, calc.ConvSettings] = {
    "stride_gaps": calc.ConvSettings(SIZE, SIZE, 3, 16, 3, 3, stride=4, padding=0, bias=False),
    "stride_one": calc.ConvSettings(SIZE, SIZE, 16, 16, 3, 3, stride=1, padding=1, bias=False),
    "valid_3x3": calc.ConvSettings(SIZE, SIZE, 16, 16, 3, 3, stride=1, padding="valid", bias=False),
}
STACK_PRESETS: dict[str, StackPreset] = {
    "vgg_two": StackPreset(3, 2, 64),
    "vgg_three": StackPreset(3, 3, 64),
}
PRESETS: dict[str, calc.ConvSettings | StackPreset] = {**CALCULATOR_PRESETS, **STACK_PRESETS}
TAB_LINKS = {"pooling": "tab_exercise"}  # links that only open a tab of the lab (its i18n key conv_lab.<tab>)
# the question each link of the homework page belongs to (the i18n key homework.<question>_title)
LINK_QUESTIONS = {"stride_gaps": "stride", "stride_one": "stride", "valid_3x3": "padding", "vgg_two": "vgg",
                  "vgg_three": "vgg", "pooling": "q2"}


def covered(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """How many of ``size`` input positions along one axis at least one window reaches."""
    out = calc.conv_output(calc.ConvSettings(size, size, 1, 1, kernel, kernel, stride, padding, bias=False)).h.out
    seen = {start - padding + i for start in range(0, out * stride, stride) for i in range(kernel)}
    return sum(1 for i in seen if 0 <= i < size)


def windows_over(size: int, kernel: int, stride: int, padding: int, index: int) -> int:
    """How many windows along one axis contain input position ``index``."""
    out = calc.conv_output(calc.ConvSettings(size, size, 1, 1, kernel, kernel, stride, padding, bias=False)).h.out
    return sum(1 for o in range(out) if o * stride - padding <= index < o * stride - padding + kernel)


@dataclass(frozen=True)
class StrideAnswer:
    gaps: calc.ConvResult  # kernel 3, stride 4: windows leave columns out
    covered: int  # positions per axis some window reaches
    unseen_share: float  # share of the image's pixels no window reads, in percent
    stride_one: calc.ConvResult  # kernel 3, stride 1, padding 1
    stride_two: calc.ConvResult  # the same layer with stride 2
    cost_ratio: float  # multiply-adds of stride 1 over stride 2


def stride_answer() -> StrideAnswer:
    gaps, one = CALCULATOR_PRESETS["stride_gaps"], CALCULATOR_PRESETS["stride_one"]
    g = calc.conv_output(gaps)
    seen = covered(gaps.height, gaps.kernel_h, gaps.stride, int(gaps.padding))
    r1 = calc.conv_output(one)
    r2 = calc.conv_output(replace(one, stride=2))
    return StrideAnswer(g, seen, 100.0 * (1 - (seen / gaps.height) ** 2), r1, r2, r1.macs / r2.macs)


@dataclass(frozen=True)
class PaddingAnswer:
    one_valid: calc.ConvResult  # one valid 3x3 conv on 32 px
    valid_chain: list[calc.ChainRow]  # VALID_LAYERS valid 3x3 convs
    same_chain: list[calc.ChainRow]  # the same with padding 1
    max_valid_layers: int  # valid 3x3 layers before nothing is left of a 32 px image
    corner_uses: int  # windows of a valid 3x3 conv that read the corner pixel
    centre_uses: int  # ... and a pixel in the middle


def padding_answer() -> PaddingAnswer:
    valid = CALCULATOR_PRESETS["valid_3x3"]
    k = valid.kernel_h
    chain = calc.receptive_field_chain([calc.Layer("conv", k, 1, 0)] * VALID_LAYERS, SIZE)
    same = calc.receptive_field_chain([calc.Layer("conv", k, 1, k // 2)] * VALID_LAYERS, SIZE)
    corner = windows_over(SIZE, k, 1, 0, 0) ** 2
    centre = windows_over(SIZE, k, 1, 0, SIZE // 2) ** 2
    return PaddingAnswer(calc.conv_output(valid), chain, same, (SIZE - 1) // (k - 1), corner, centre)


@dataclass(frozen=True)
class VggAnswer:
    two: calc.StackComparison  # two 3x3 against one 5x5
    three: calc.StackComparison  # three 3x3 against one 7x7 (VGG, section 2.3)

    @property
    def extra_percent(self) -> float:
        """How many more weights the single 7x7 needs than the three 3x3 (VGG: "81% more")."""
        return 100.0 * (self.three.single_weights / self.three.stacked_weights - 1)


def vgg_answer() -> VggAnswer:
    two, three = STACK_PRESETS["vgg_two"], STACK_PRESETS["vgg_three"]
    return VggAnswer(calc.stack_vs_single(two.kernel, two.count, two.channels),
                     calc.stack_vs_single(three.kernel, three.count, three.channels))


# --- question 4: training on CIFAR-10 --------------------------------------------------------------------

EPOCHS, TARGET, AIM = 10, 80.0, 90.0  # the homework: at least 80 % after 10 epochs, aiming at 90 %
DATA = "data/cifar-10-batches-py"  # the official batches; torchvision downloads them there when missing
OUT = "checkpoints"
INSTALL = "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements/local.txt"  # the README's
TRAIN = f"python -m resnet_viz train --model resnet20 --recipe fast --epochs {EPOCHS} --data {DATA}"
CLOUD_OUT = "/content/drive/MyDrive/resnet_viz"
# where -> the commands to run there (each a real command line of this project's CLI; a test parses them)
TRAIN_COMMANDS: dict[str, tuple[str, ...]] = {
    "laptop": (f"{TRAIN} --compile",),
    "lab_gpu": (f"{TRAIN} --device cuda",
                f"python -m resnet_viz train --model resnet56 --recipe fast --epochs 30 --data {DATA} --device cuda"),
    "cloud": (f"{TRAIN} --device cuda --out {CLOUD_OUT}",),
}
RESUME_COMMAND = f"{TRAIN} --compile --resume"


def evaluate_command(checkpoint: str) -> str:
    """The command that evaluates ``checkpoint`` on the full official test set (10,000 images)."""
    return f"python -m resnet_viz evaluate {checkpoint} --data {DATA}"


EVALUATE_COMMAND = evaluate_command(f"{OUT}/resnet20.safetensors")


@dataclass(frozen=True)
class MeasuredRun:
    """A training run this project measured: what a student can expect from the same command."""

    model: str
    recipe: str
    epochs: float
    batch_size: int
    accuracy: float  # test accuracy in percent, on CIFAR-10 (JPEG q75 copy)
    seconds: float
    hardware: str

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / self.epochs

    def seconds_for(self, epochs: float) -> float:
        """The same machine's time for ``epochs`` epochs (a scaled estimate, not a measurement)."""
        return self.seconds_per_epoch * epochs


# README "Training your own ResNet": the fast recipe's full 30 epochs, ResNet-20, seed 0, --compile
FAST_FULL = MeasuredRun("resnet20", "fast", 30, 256, 87.19, 5333, "2-core CPU (AMD EPYC, 2 threads)")


def shipped_run(name: str = "resnet20") -> MeasuredRun | None:
    """The shipped checkpoint's own training run, read from its sidecar (None when it is missing)."""
    from resnet_viz.checkpoints.find import SHIPPED_DIR
    from resnet_viz.checkpoints.read import read_sidecar

    meta = read_sidecar(SHIPPED_DIR / f"{name}.safetensors")
    recipe = meta.get("recipe") or {}
    try:
        return MeasuredRun(name, str(recipe["name"]), float(recipe["epochs"]), int(recipe["batch_size"]),
                           float(meta["accuracy"]), float(meta["wall_time_s"]), str(meta.get("hardware", "")))
    except (KeyError, TypeError, ValueError):
        return None
