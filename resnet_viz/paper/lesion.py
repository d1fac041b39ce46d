"""Lesion study: delete blocks of a trained CIFAR network at test time and measure its accuracy (Veit, Wilber,
Belongie 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks", NIPS, arXiv:1605.06431).

What a deleted block passes on (``deleted_output``):

- a residual block of the paper computes y = ReLU(F(x) + shortcut(x)); deleting it sets F = 0, so it passes
  on y = ReLU(shortcut(x)). Its input x comes out of a ReLU (x >= 0), so with the identity or option-A shortcut
  this is x itself, subsampled and zero-padded where the block changes the shape; with a projection shortcut
  (option B) it is ReLU(BN(conv1x1(x))), the projection kept.
- a plain block has no shortcut to keep; deleting it passes x on unchanged where the shape stays, and where the
  block halves the size and doubles the channels, x subsampled by 2 and zero-padded with the new channels:
  exactly what an option-A shortcut would do (this app's choice; the net never saw that signal in training).

So for option-A ResNets and plain nets a deleted block does the same thing; what differs is what the rest of
the network learned to expect. Every computation runs batched, without gradients, in eval mode, under the
model's lock (``resnet_viz.inspect.hooks``), and leaves the model exactly as it found it.

A sweep (``lesion_study``) evaluates many sets of deleted blocks in one pass over the images, as a prefix tree:
sets share every block evaluation up to the first block where their deletions differ (the intact network's blocks
before a set's first deletion, and a single deletion's path up to a random set's second one; equal sets once), so
n blocks cost about n^2/2 block evaluations for all single deletions instead of n^2. The page's clicks restart from
the intact network's kept block inputs (``intact_pass``). Batches run on two threads (``resnet_viz.work.WORKERS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import torch
from torch import nn

from resnet_viz import ASSETS_DIR
from resnet_viz.cost import network_macs
from resnet_viz.data import normalize
from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import hooked, lesioned
from resnet_viz.models.cifar import CifarBlock, CifarNet, PadShortcut
from resnet_viz.models.cifar64 import Cifar64Net
from resnet_viz.models.fold import fold_batchnorm
from resnet_viz.models.registry import get_spec
from resnet_viz.runtime import INFERENCE_BATCH
from resnet_viz.samples import TEST_SAMPLE_NAME
from resnet_viz.work import WORKERS, parallel_map

LESION_DIR = ASSETS_DIR / "lesion"  # shipped sweeps, one JSON per network, named by its weights' hash
STUDY_FORMAT = "resnet_viz-lesion/1"
DRAWS = 10  # random sets per k: a mean and a spread (with 1-2 draws ResNet-56 seemed to get better from k=2 to 5)
SEED = 0
K_POINTS = 8  # values of k in a sweep of a deep net (every k up to this many blocks)
CHANCE_ERROR = 90.0  # % error of a random guess among CIFAR-10's 10 classes
BARELY_HURTS = 5.0  # this app's threshold: a median error increase of at most 5 points "barely hurts"
NOISE_SE = 2.0  # a fall of the mean error between two ks within this many standard errors is the draws' noise
AT_CHANCE = 5.0  # points: a network whose error is this close to chance is broken; its error cannot rise further
# Before this server has timed a sweep of its own: benchmarks/lesion.py's page sweep of the shipped ResNet-110 on the
# 1,000 sample images, two workers and one torch thread, on the project's shared 2-core machine (issue 33).
REFERENCE_MODEL, REFERENCE_IMAGES, REFERENCE_SECONDS = "resnet110", 1000, 250.0

# Veit et al. 2016, CIFAR-10: ResNet-110 (54 residual modules) vs a 15-layer VGG-style net, each layer/module
# deleted at test time (their Figure 3), and k random modules of ResNet-110 deleted (their Figure 5a).
# "single" and "vgg" quote their text; "downsampling" and "many" summarise their Figures 3 and 5. We could not
# retrieve the plotted values, so no number is read from their figures here. The chance level is arithmetic
# (10 classes), not a reading.
VEIT2016 = {
    "citation": "Veit, Wilber, Belongie 2016, Residual Networks Behave Like Ensembles of Relatively Shallow "
                "Networks, NIPS 2016, arXiv:1605.06431",
    "resnet_model": "resnet110",
    "resnet_blocks": 54,
    "vgg_layers": 15,
    "vgg_error_after_deletion": CHANCE_ERROR,  # "reduces performance to chance levels" (10 classes: 90 % error)
    "single": "deleting individual modules from residual networks has a minimal impact on performance",
    "vgg": "deleting any layer in VGG reduces performance to chance levels",
    "downsampling": "downsampling modules (which change the shape) hurt more when deleted",
    "many": "the error increases smoothly as more random modules are deleted",
}


CIFAR_NETS = (CifarNet, Cifar64Net)  # the zoo's CIFAR nets: a stem, CifarBlocks, global average pool, ``linear``


def cifar_blocks(model: nn.Module) -> list[tuple[str, CifarBlock]]:
    """(module path, block) of every block of a CIFAR ResNet or plain net, forward order."""
    if not isinstance(model, CIFAR_NETS):
        raise InputError("lesion.not_cifar", model=type(model).__name__)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, CifarBlock)]


def changes_shape(block: CifarBlock) -> bool:
    """True for a downsampling block (stride 2, more channels)."""
    return block.conv1.stride[0] != 1 or block.conv1.in_channels != block.conv2.out_channels


def deleted_output(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What ``block`` passes on when deleted (see the module's docstring): ReLU(shortcut(x)) for a residual
    block, the option-A subsampling/zero-padding of x (identity where the shape stays) for a plain one."""
    if not isinstance(block, CifarBlock):
        raise InputError("lesion.not_cifar", model=type(block).__name__)
    if block.shortcut is not None:
        return torch.relu(block.shortcut(x))
    if not changes_shape(block):
        return x
    return PadShortcut(block.conv1.in_channels, block.conv2.out_channels, block.conv1.stride[0])(x)


def _input(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalised, channels last: the convolutions then take about 30 % less CPU time (measured on ResNet-20)."""
    return normalize(images, mean, std).contiguous(memory_format=torch.channels_last)


def _stem(model: CifarNet | Cifar64Net, x: torch.Tensor) -> torch.Tensor:
    if isinstance(model, Cifar64Net):
        return model.stem(x)
    return model.relu(model.bn1(model.conv1(x)))


def _head(model: CifarNet | Cifar64Net, x: torch.Tensor) -> torch.Tensor:
    return model.linear(torch.flatten(model.avgpool(x), 1))


def _run_from(blocks: Sequence[CifarBlock], x: torch.Tensor, start: int, deleted: frozenset[int]) -> torch.Tensor:
    for m in range(start, len(blocks)):
        x = deleted_output(blocks[m], x) if m in deleted else blocks[m](x)
    return x


X = TypeVar("X")


def _walk_sets(x: X, start: int, n: int, group: list[int], sets: Sequence[frozenset[int]],
               run: Callable[[int, X], X], skip: Callable[[int, X], X], finish: Callable[[X, list[int]], None]) -> None:
    """Run every set of ``group`` (indices into ``sets``, all deleting the same blocks before ``start``) from ``x``,
    what enters block ``start``: ``run(j, x)`` evaluates block j, ``skip(j, x)`` passes on what deleted block j
    passes on, and ``finish(output, sets)`` takes each distinct output. Sets share every block evaluation up to
    the first block where their deletions differ (a prefix tree walked depth first)."""
    for j in range(start, n):
        deleting = [k for k in group if j in sets[k]]
        if len(deleting) < len(group):  # some keep block j: they go on here, the others branch off
            if deleting:
                _walk_sets(skip(j, x), j + 1, n, deleting, sets, run, skip, finish)
            group = [k for k in group if j not in sets[k]]
            x = run(j, x)
        else:
            x = skip(j, x)
    finish(x, group)


def block_evaluations(n: int, sets: Sequence[Sequence[int]]) -> int:
    """Block evaluations per image of a sweep of ``sets`` over a net of ``n`` blocks (``correct_counts``' work)."""
    count = [0]

    def run(_j: int, x: int) -> int:
        count[0] += 1
        return x

    _walk_sets(0, 0, n, list(range(len(sets))), [frozenset(s) for s in sets], run, lambda _j, x: x,
               lambda _x, _group: None)
    return count[0]


def check_images(images: torch.Tensor, labels: torch.Tensor) -> None:
    if not (isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1] == 3
            and images.dtype == torch.uint8 and len(images) and len(images) == len(labels)):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError("lesion.bad_images", shape=str(shape))


def correct_counts(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, sets: Sequence[Sequence[int]], *,
                   mean: Sequence[float], std: Sequence[float], batch_size: int = INFERENCE_BATCH,
                   workers: int = WORKERS, on_progress: Callable[[float], None] | None = None) -> list[int]:
    """How many of ``images`` the network classifies right with each set of blocks deleted (block indices in
    forward order; an empty set is the intact network). One pass per batch through the sets' prefix tree
    (``_walk_sets``), on a copy of the network with its BN folded into the convolutions (``fold_batchnorm``).
    Batches run on ``workers`` threads; ``on_progress(fraction)`` after each batch (an exception it raises stops
    the work, the model left as found)."""
    check_images(images, labels)
    n = len(cifar_blocks(model))
    wanted = [frozenset(int(i) for i in s) for s in sets]
    if any(not 0 <= i < n for s in wanted for i in s):
        raise InputError("lesion.bad_block", n=n)
    with hooked(model, mode="eval"):  # the shared model locked while it is copied, then left as found
        net = fold_batchnorm(model)  # a private copy: the sweep runs without the lock
    assert isinstance(net, CIFAR_NETS)
    blocks = [b for _, b in cifar_blocks(net)]

    def run(_worker: int, span: tuple[int, int]) -> list[int]:
        correct = [0] * len(wanted)
        y = labels[span[0]:span[1]]

        def finish(x: torch.Tensor, group: list[int]) -> None:
            right = int((_head(net, x).argmax(1) == y).sum())
            for k in group:
                correct[k] = right

        with torch.inference_mode():
            _walk_sets(_stem(net, _input(images[span[0]:span[1]], mean, std)), 0, n, list(range(len(wanted))),
                       wanted, lambda j, x: blocks[j](x), lambda j, x: deleted_output(blocks[j], x), finish)
        return correct

    spans = _batches(images, batch_size)
    per_batch = parallel_map(run, spans, workers=workers,
                             on_done=None if on_progress is None else lambda count: on_progress(count / len(spans)))
    return [sum(column) for column in zip(*per_batch)]


def random_sets(n: int, ks: Sequence[int], draws: int = DRAWS, seed: int = SEED) -> list[tuple[int, ...]]:
    """``draws`` random sets of ``k`` distinct blocks out of ``n`` for each k (seeded: the same sets every time)."""
    rng = np.random.default_rng(seed)
    return [tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False))) for k in ks for _ in range(draws)]


def default_ks(n: int, points: int = K_POINTS) -> list[int]:
    """Every k from 1 to n for a shallow net, else ``points`` values spread from 1 to n."""
    if n <= points + 1:
        return list(range(1, n + 1))
    return sorted({int(round(v)) for v in np.linspace(1, n, points)})


class RandomPoint(NamedTuple):
    """The error (%) with ``k`` random blocks deleted, over ``draws`` seeded draws."""

    k: int
    mean: float
    low: float
    high: float
    sd: float  # standard deviation over the draws
    draws: int

    @property
    def standard_error(self) -> float:
        return self.sd / self.draws ** 0.5


@dataclass(frozen=True)
class LesionStudy:
    """Test accuracy (%) of one network with blocks deleted: each block alone, and ``draws`` random sets of
    k blocks for each k."""

    model: str  # zoo name
    residual: bool
    blocks: tuple[str, ...]
    downsampling: tuple[bool, ...]
    images: int
    baseline: float
    single: tuple[float, ...]  # single[i]: block i deleted
    ks: tuple[int, ...] = ()
    random: tuple[tuple[float, ...], ...] = ()  # random[j]: each draw's accuracy with ks[j] blocks deleted
    random_sets: tuple[tuple[int, ...], ...] = ()  # the sets, ks-major
    seed: int = SEED
    sample: str = ""
    weights: str = field(default="", compare=False)

    @property
    def baseline_error(self) -> float:
        return 100.0 - self.baseline

    @property
    def single_error(self) -> list[float]:
        return [100.0 - a for a in self.single]

    @property
    def block_names(self) -> list[str]:
        """The blocks as every page names them (``stage1_3``; the sweep keeps module paths, ``layer1.2``)."""
        spec = get_spec(self.model)
        return [spec.paper_path(b) for b in self.blocks]

    def random_error(self) -> list[RandomPoint]:
        """The error over the draws of each k: mean, lowest, highest and standard deviation."""
        return [RandomPoint(k, 100.0 - float(np.mean(a)), 100.0 - max(a), 100.0 - min(a),
                            float(np.std(a, ddof=1)) if len(a) > 1 else 0.0, len(a))
                for k, a in zip(self.ks, self.random)]

    def to_dict(self) -> dict:
        return {"format": STUDY_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> LesionStudy:
        data = {k: v for k, v in data.items() if k != "format"}
        for key in ("blocks", "downsampling", "single", "ks"):
            data[key] = tuple(data.get(key, ()))
        data["random"] = tuple(tuple(r) for r in data.get("random", ()))
        data["random_sets"] = tuple(tuple(s) for s in data.get("random_sets", ()))
        return cls(**data)


def sweep_sets(n: int, ks: Sequence[int], draws: int = DRAWS, seed: int = SEED) -> list[tuple[int, ...]]:
    """A sweep's sets of deleted blocks: none, each block alone, then ``random_sets``."""
    return [(), *[(i,) for i in range(n)], *random_sets(n, ks, draws, seed)]


@lru_cache(maxsize=64)  # builds the net: pages ask on every run
def sweep_work(model: str, images: int = REFERENCE_IMAGES) -> float:
    """Multiply-adds of the page's sweep of zoo model ``model`` (a CIFAR net) on ``images`` images: the cost
    meter's unit (each block's share of the forward pass taken as equal)."""
    n = len(cifar_blocks(get_spec(model).build()))
    return images * block_evaluations(n, sweep_sets(n, default_ks(n))) * network_macs(model) / n


def reference_seconds_per_mac() -> float:
    return REFERENCE_SECONDS / sweep_work(REFERENCE_MODEL)


def lesion_study(loaded, images: torch.Tensor, labels: torch.Tensor, *, ks: Sequence[int] | None = None,
                 draws: int = DRAWS, seed: int = SEED, batch_size: int = INFERENCE_BATCH, sample: str = "",
                 workers: int = WORKERS, on_progress: Callable[[float], None] | None = None) -> LesionStudy:
    """Every single deletion and ``draws`` random k-block deletions of a ``LoadedModel`` (its own
    normalisation), in one pass. ``ks`` defaults to ``default_ks``; ``ks=()`` skips the random sets."""
    from resnet_viz.checkpoints.identity import model_fingerprint

    named = cifar_blocks(loaded.model)
    n = len(named)
    ks = default_ks(n) if ks is None else [k for k in ks if 1 <= k <= n]
    sets = sweep_sets(n, ks, draws, seed)
    randoms = sets[1 + n:]
    correct = correct_counts(loaded.model, images, labels, sets, mean=loaded.mean, std=loaded.std,
                             batch_size=batch_size, workers=workers, on_progress=on_progress)
    acc = [100.0 * c / len(images) for c in correct]
    rand = acc[1 + n:]
    return LesionStudy(loaded.spec.name, bool(named[0][1].shortcut is not None), tuple(name for name, _ in named),
                       tuple(changes_shape(b) for _, b in named), len(images), acc[0], tuple(acc[1:1 + n]),
                       tuple(ks), tuple(tuple(rand[j * draws:(j + 1) * draws]) for j in range(len(ks))),
                       tuple(randoms), seed, sample, model_fingerprint(loaded.model))


# ---------------------------------------------------------------- one forward pass with blocks deleted (the page)

@contextmanager
def blocks_deleted(model: nn.Module, deleted: Sequence[int]) -> Iterator[nn.Module]:
    """``model`` (locked, eval mode) with the blocks at indices ``deleted`` deleted, through
    ``resnet_viz.inspect.hooks.lesioned``; everything undone on exit."""
    named = cifar_blocks(model)
    if any(not 0 <= int(i) < len(named) for i in deleted):
        raise InputError("lesion.bad_block", n=len(named))
    replacements: dict[nn.Module, Callable[[nn.Module, torch.Tensor], torch.Tensor]] = {
        named[int(i)][1]: deleted_output for i in deleted}
    with lesioned(model, replacements):
        yield model


def probabilities(model: nn.Module, images: torch.Tensor, deleted: Sequence[int], *, mean: Sequence[float],
                  std: Sequence[float], batch_size: int = INFERENCE_BATCH,
                  on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
    """(N x classes) softmax of the network on uint8 ``images`` with the blocks ``deleted``."""
    out = []
    with torch.no_grad(), blocks_deleted(model, deleted):
        for start in range(0, len(images), batch_size):
            out.append(torch.softmax(model(_input(images[start:start + batch_size], mean, std)), 1))
            if on_batch is not None:
                on_batch(min(start + batch_size, len(images)))
    return torch.cat(out)


# ---------------------------------------------------------------- clicks on the page: the intact prefix kept

# Bytes of kept block inputs per network and image set. ResNet-56 keeps 64 KB per image at a stage-1 block's input,
# 32 KB at stage 2's, 16 KB at stage 3's: every input of 1,000 images would be 1.08 GB.
KEPT_BYTES = 48 * 1024 * 1024


def input_bytes(model: nn.Module, image: torch.Tensor, *, mean: Sequence[float], std: Sequence[float]) -> list[int]:
    """Bytes per image of each block's input (float32), from one pass of ``image`` (uint8, 1 x 3 x H x W)."""
    blocks = [b for _, b in cifar_blocks(model)]
    assert isinstance(model, CIFAR_NETS)
    out = []
    with torch.inference_mode(), hooked(model, mode="eval"):
        x = _stem(model, _input(image, mean, std))
        for block in blocks:
            out.append(x[0].numel() * x.element_size())
            x = block(x)
    return out


def kept_blocks(per_image: Sequence[int], images: int, budget: int = KEPT_BYTES) -> tuple[int, ...]:
    """The blocks whose inputs to keep for ``images`` images within ``budget`` bytes (``per_image[j]``: block j's
    input per image). A click whose first deleted block is j recomputes from the last kept block at or before j
    (from the images when there is none); one block at a time, the choice keeps the input that saves the most
    recomputed blocks per byte, summed over every j."""
    n = len(per_image)

    def recomputed(kept: set[int]) -> int:
        total, last = 0, 0
        for j in range(n):
            last = j if j in kept else last
            total += n - last
        return total

    kept: set[int] = set()
    used = 0
    while True:
        now = recomputed(kept)
        fits = [k for k in range(1, n) if k not in kept and used + per_image[k] * images <= budget]
        gains = {k: (now - recomputed(kept | {k})) / (per_image[k] * images) for k in fits}
        best = max(gains, key=gains.__getitem__, default=None)
        if best is None or gains[best] <= 0:
            return tuple(sorted(kept))
        kept.add(best)
        used += per_image[best] * images


@dataclass(frozen=True)
class IntactPass:
    """The intact network on a set of images, batch by batch: its softmax, and the input of each block in ``kept``
    (a click with blocks deleted restarts from the last kept input at or before its first deleted block)."""

    batch_size: int
    kept: tuple[int, ...]
    inputs: tuple[dict[int, torch.Tensor], ...]  # per batch: kept block -> its input
    probs: torch.Tensor  # N x classes

    @property
    def nbytes(self) -> int:
        tensors = [self.probs, *(x for batch in self.inputs for x in batch.values())]
        return sum(t.numel() * t.element_size() for t in tensors)


def _batches(images: torch.Tensor, batch_size: int) -> list[tuple[int, int]]:
    return [(start, min(start + batch_size, len(images))) for start in range(0, len(images), batch_size)]


def _images_done(on_batch: Callable[[int], None] | None, batch_size: int, images: int) -> Callable[[int], None] | None:
    """``parallel_map``'s count of finished batches as ``on_batch``'s count of images."""
    return None if on_batch is None else lambda count: on_batch(min(count * batch_size, images))


def intact_pass(model: nn.Module, images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float],
                budget: int = KEPT_BYTES, batch_size: int = INFERENCE_BATCH, workers: int = WORKERS,
                on_batch: Callable[[int], None] | None = None) -> IntactPass:
    """The intact network's softmax on uint8 ``images``, with the block inputs that fit ``budget`` kept
    (``kept_blocks``); batches on ``workers`` threads, ``on_batch(images done)`` after each."""
    blocks = [b for _, b in cifar_blocks(model)]
    kept = set(kept_blocks(input_bytes(model, images[:1], mean=mean, std=std), len(images), budget))
    assert isinstance(model, CIFAR_NETS)

    def run(_worker: int, span: tuple[int, int]) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        with torch.inference_mode():
            x = _stem(model, _input(images[span[0]:span[1]], mean, std))
            inputs = {}
            for j, block in enumerate(blocks):
                if j in kept:
                    inputs[j] = x
                x = block(x)
            return inputs, torch.softmax(_head(model, x), 1)

    spans = _batches(images, batch_size)
    with hooked(model, mode="eval"):
        done = parallel_map(run, spans, workers=workers, on_done=_images_done(on_batch, batch_size, len(images)))
    return IntactPass(batch_size, tuple(sorted(kept)), tuple(i for i, _ in done), torch.cat([p for _, p in done]))


def probabilities_from(model: nn.Module, intact: IntactPass, images: torch.Tensor, deleted: Sequence[int], *,
                       mean: Sequence[float], std: Sequence[float], workers: int = WORKERS,
                       on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
    """``probabilities(model, images, deleted, ...)`` computed from ``intact`` (the same images): only the blocks
    from the last kept input at or before the first deleted block run, and a deleted block does not."""
    blocks = [b for _, b in cifar_blocks(model)]
    wanted = frozenset(int(i) for i in deleted)
    if any(not 0 <= i < len(blocks) for i in wanted):
        raise InputError("lesion.bad_block", n=len(blocks))
    if not wanted:
        return intact.probs
    start = max((k for k in intact.kept if k <= min(wanted)), default=0)
    assert isinstance(model, CIFAR_NETS)

    def run(_worker: int, batch: tuple[int, tuple[int, int]]) -> torch.Tensor:
        b, (lo, hi) = batch
        with torch.inference_mode():
            x = intact.inputs[b][start] if start in intact.kept else _stem(model, _input(images[lo:hi], mean, std))
            return torch.softmax(_head(model, _run_from(blocks, x, start, wanted)), 1)

    spans = list(enumerate(_batches(images, intact.batch_size)))
    with hooked(model, mode="eval"):
        out = parallel_map(run, spans, workers=workers, on_done=_images_done(on_batch, intact.batch_size, len(images)))
    return torch.cat(out)


# ---------------------------------------------------------------- the claim, and Veit et al.'s beside it

@dataclass(frozen=True)
class LesionVerdict:
    """"Deleting one block barely hurts a ResNet and breaks a plain net", checked on one pair: the median over
    the blocks of the error after deleting each one alone, against each network's own error."""

    resnet_baseline: float  # error %
    resnet_median: float
    resnet_worst: float
    plain_baseline: float
    plain_median: float
    plain_worst: float

    @property
    def resnet_barely_hurt(self) -> bool:
        return self.resnet_median - self.resnet_baseline <= BARELY_HURTS

    @property
    def plain_broken(self) -> bool:
        """The plain net's median error is at least halfway from its own error to chance."""
        return self.plain_median >= (self.plain_baseline + CHANCE_ERROR) / 2

    @property
    def holds(self) -> bool:
        return self.resnet_barely_hurt and self.plain_broken


def verdict(resnet: LesionStudy, plain: LesionStudy) -> LesionVerdict:
    r, p = resnet.single_error, plain.single_error
    return LesionVerdict(resnet.baseline_error, float(np.median(r)), max(r), plain.baseline_error,
                         float(np.median(p)), max(p))


def downsampling_hurts_more(study: LesionStudy) -> bool | None:
    """True when deleting a downsampling block costs more, on average, than deleting any other (None without both)."""
    down = [e for e, d in zip(study.single_error, study.downsampling) if d]
    other = [e for e, d in zip(study.single_error, study.downsampling) if not d]
    if not down or not other:
        return None
    return float(np.mean(down)) > float(np.mean(other))


@dataclass(frozen=True)
class RandomTrend:
    """How the mean error goes with k random blocks deleted. A fall of the mean from one k to the next says nothing
    when it is within ``NOISE_SE`` standard errors of the difference of the two means (the draws' own spread), or
    when the network is already broken (its error within ``AT_CHANCE`` points of chance, where it cannot rise)."""

    points: tuple[RandomPoint, ...]  # k = 0 (the intact network) first
    falls: tuple[tuple[RandomPoint, RandomPoint], ...]  # consecutive ks where the mean error falls, as shown

    @staticmethod
    def meaningless(a: RandomPoint, b: RandomPoint) -> bool:
        noise = NOISE_SE * (a.standard_error ** 2 + b.standard_error ** 2) ** 0.5
        return a.mean - b.mean <= noise or a.mean >= CHANCE_ERROR - AT_CHANCE

    @property
    def real_falls(self) -> tuple[tuple[RandomPoint, RandomPoint], ...]:
        """The falls beyond the draws' noise, below chance level."""
        return tuple((a, b) for a, b in self.falls if not self.meaningless(a, b))

    @property
    def smooth(self) -> bool:
        """The mean error rises with k, or falls only where that says nothing."""
        return not self.real_falls

    @property
    def widest(self) -> float:
        """The largest difference between two draws at one k (points)."""
        return max(p.high - p.low for p in self.points)


def random_trend(study: LesionStudy) -> RandomTrend | None:
    """The trend of ``study``'s k-random-block errors from the intact network on (None without random sets)."""
    rows = study.random_error()
    if not rows:
        return None
    points = (RandomPoint(0, study.baseline_error, study.baseline_error, study.baseline_error, 0.0, 1), *rows)
    falls = tuple((a, b) for a, b in zip(points, points[1:]) if round(a.mean - b.mean, 1) > 0)  # as shown
    return RandomTrend(points, falls)


def random_sentence(study: LesionStudy, label: str, lang: str = "en") -> str | None:
    """What the k-random-block draws say: the mean error from k = 0 to the largest k, whether it rises with k beyond
    the draws' noise, and how far the draws spread."""
    from resnet_viz.i18n import t

    trend = random_trend(study)
    if trend is None:
        return None
    first, last = trend.points[0], trend.points[-1]
    shown = trend.real_falls or trend.falls
    steps = "; ".join(t("lesion.fall", lang, a=a.k, b=b.k, drop=f"{a.mean - b.mean:.1f}") for a, b in shown)
    key = ("lesion.random_rises" if not trend.falls else "lesion.random_rises_noise" if trend.smooth
           else "lesion.random_not_smooth")
    return t(key, lang, net=label, draws=last.draws, first=f"{first.mean:.1f}", last=f"{last.mean:.1f}",
             k_last=last.k, spread=f"{trend.widest:.1f}", steps=steps, se=f"{NOISE_SE:g}",
             chance=f"{CHANCE_ERROR - AT_CHANCE:.0f}")


# ---------------------------------------------------------------- sweeps shipped with the checkpoints

def study_path(weights: str, folder: Path | None = None) -> Path:
    """Where the sweep of the network with these weights (``model_fingerprint``) is kept."""
    return Path(LESION_DIR if folder is None else folder) / f"{weights.rpartition(':')[2]}.json"


def store_study(study: LesionStudy, folder: Path | None = None) -> Path:
    from resnet_viz.checkpoints.write import atomic_write

    path = study_path(study.weights, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(study.to_dict(), indent=1).encode("utf-8"))
    return path


def stored_study(weights: str, *, sample: str = TEST_SAMPLE_NAME, folder: Path | None = None) -> LesionStudy | None:
    """The shipped sweep of the network with these weights on ``sample`` (None when absent or malformed)."""
    path = study_path(weights, folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        study = LesionStudy.from_dict(data) if data.get("format") == STUDY_FORMAT else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if study is None or study.weights != weights or study.sample != sample or len(study.single) != len(study.blocks):
        return None
    return study


def verdict_sentences(v: LesionVerdict, resnet: str, plain: str, lang: str = "en") -> list[str]:
    """The verdict on "deleting one block barely hurts a ResNet and breaks a plain net", with its numbers."""
    from resnet_viz.i18n import t

    numbers = dict(resnet=resnet, plain=plain, rb=f"{v.resnet_baseline:.1f}", rm=f"{v.resnet_median:.1f}",
                   rw=f"{v.resnet_worst:.1f}", pb=f"{v.plain_baseline:.1f}", pm=f"{v.plain_median:.1f}",
                   pw=f"{v.plain_worst:.1f}", chance=f"{CHANCE_ERROR:.0f}", barely=f"{BARELY_HURTS:.0f}",
                   rise=f"{v.resnet_median - v.resnet_baseline:.1f}")
    out = [t("lesion.verdict_holds" if v.holds else "lesion.verdict_fails", lang, **numbers)]
    if not v.resnet_barely_hurt:
        out.append(t("lesion.verdict_resnet_hurt", lang, **numbers))
    if not v.plain_broken:
        out.append(t("lesion.verdict_plain_intact", lang, **numbers))
    return out


def downsampling_sentence(study: LesionStudy, label: str, lang: str = "en") -> str | None:
    """Whether deleting a downsampling block hurts more than deleting another one, with the two means."""
    from resnet_viz.i18n import t

    more = downsampling_hurts_more(study)
    if more is None:
        return None
    down = [e for e, d in zip(study.single_error, study.downsampling) if d]
    other = [e for e, d in zip(study.single_error, study.downsampling) if not d]
    return t("lesion.down_more" if more else "lesion.down_not_more", lang, net=label,
             down=f"{np.mean(down):.1f}", other=f"{np.mean(other):.1f}")


@dataclass(frozen=True)
class PredictionChange:
    """The intact and the lesioned network on the same images: accuracies (%) and how many predictions changed."""

    images: int
    intact: float
    lesioned: float
    changed: int

    @property
    def delta(self) -> float:
        return self.lesioned - self.intact


def prediction_change(intact: torch.Tensor, lesioned: torch.Tensor, labels: torch.Tensor) -> PredictionChange:
    """From the two (N x classes) outputs and the N labels."""
    a, b = intact.argmax(1), lesioned.argmax(1)
    n = len(labels)
    return PredictionChange(n, 100.0 * float((a == labels).sum()) / n, 100.0 * float((b == labels).sum()) / n,
                            int((a != b).sum()))


def comparison_rows(resnet: tuple[str, LesionStudy] | None, plain: tuple[str, LesionStudy] | None,
                    lang: str = "en") -> list[dict[str, str]]:
    """Veit et al.'s findings (their sentences) beside the same measurement on these checkpoints."""
    from resnet_viz.i18n import t

    col_what, col_veit, col_ours = (t(f"lesion.col_{c}", lang) for c in ("what", "veit", "ours"))

    def single(row: str, veit: str, label: str, s: LesionStudy) -> dict[str, str]:
        errs = s.single_error
        return {col_what: t(row, lang), col_veit: t(veit, lang),
                col_ours: t("lesion.ours_single", lang, net=label, base=f"{s.baseline_error:.1f}",
                            median=f"{np.median(errs):.1f}", worst=f"{max(errs):.1f}")}

    rows = []
    if resnet is not None:
        label, s = resnet
        rows.append(single("lesion.row_single_resnet", "lesion.veit_single", label, s))
        down = downsampling_sentence(s, label, lang)
        if down:
            rows.append({col_what: t("lesion.row_down", lang), col_veit: t("lesion.veit_down", lang), col_ours: down})
        if s.ks:
            curve = ", ".join(f"k={p.k}: {p.mean:.1f} ± {p.sd:.1f}" for p in s.random_error())
            rows.append({col_what: t("lesion.row_random", lang), col_veit: t("lesion.veit_random", lang),
                         col_ours: t("lesion.ours_random", lang, net=label, curve=curve)})
    if plain is not None:
        rows.append(single("lesion.row_single_plain", "lesion.veit_vgg", *plain))
    return rows
