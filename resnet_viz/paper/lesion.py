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

A sweep (``lesion_study``) evaluates many sets of deleted blocks in one pass over the images: the blocks
before a set's first deleted block are the intact network's, so each batch runs through the network once and
every set starts from the activation entering its first deleted block (n blocks: about n^2/2 block
evaluations for all single deletions instead of n^2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from resnet_viz import ASSETS_DIR
from resnet_viz.data import normalize
from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import hooked, lesioned
from resnet_viz.models.cifar import CifarBlock, CifarNet, PadShortcut
from resnet_viz.runtime import INFERENCE_BATCH
from resnet_viz.samples import TEST_SAMPLE_NAME

LESION_DIR = ASSETS_DIR / "lesion"  # shipped sweeps, one JSON per network, named by its weights' hash
STUDY_FORMAT = "resnet_viz-lesion/1"
DRAWS = 3  # random sets per k
SEED = 0
K_POINTS = 8  # values of k in a sweep of a deep net (every k up to this many blocks)
CHANCE_ERROR = 90.0  # % error of a random guess among CIFAR-10's 10 classes
BARELY_HURTS = 5.0  # this app's threshold: a median error increase of at most 5 points "barely hurts"

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


def cifar_blocks(model: nn.Module) -> list[tuple[str, CifarBlock]]:
    """(module path, block) of every block of a CIFAR ResNet or plain net, forward order."""
    if not isinstance(model, CifarNet):
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


def _stem(model: CifarNet, x: torch.Tensor) -> torch.Tensor:
    return model.relu(model.bn1(model.conv1(x)))


def _head(model: CifarNet, x: torch.Tensor) -> torch.Tensor:
    return model.linear(torch.flatten(model.avgpool(x), 1))


def _run_from(blocks: Sequence[CifarBlock], x: torch.Tensor, start: int, deleted: frozenset[int]) -> torch.Tensor:
    for m in range(start, len(blocks)):
        x = deleted_output(blocks[m], x) if m in deleted else blocks[m](x)
    return x


def check_images(images: torch.Tensor, labels: torch.Tensor) -> None:
    if not (isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1] == 3
            and images.dtype == torch.uint8 and len(images) and len(images) == len(labels)):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError("lesion.bad_images", shape=str(shape))


def correct_counts(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, sets: Sequence[Sequence[int]], *,
                   mean: Sequence[float], std: Sequence[float], batch_size: int = INFERENCE_BATCH,
                   on_progress: Callable[[float], None] | None = None) -> list[int]:
    """How many of ``images`` the network classifies right with each set of blocks deleted (block indices in
    forward order; an empty set is the intact network). One pass per batch: each set starts from the intact
    network's activation entering its first deleted block. ``on_progress(fraction)`` after each set and batch
    (an exception it raises stops the work, the model left as found)."""
    check_images(images, labels)
    blocks = [b for _, b in cifar_blocks(model)]
    n = len(blocks)
    wanted = [frozenset(int(i) for i in s) for s in sets]
    if any(not 0 <= i < n for s in wanted for i in s):
        raise InputError("lesion.bad_block", n=n)
    first: dict[int, list[int]] = {}
    for k, s in enumerate(wanted):
        first.setdefault(min(s, default=n), []).append(k)
    cost_per_batch = sum(n - min(s, default=n) + 1 for s in wanted) + n
    total, done = cost_per_batch * -(-len(images) // batch_size), 0
    correct = [0] * len(wanted)
    assert isinstance(model, CifarNet)
    with torch.inference_mode(), hooked(model, mode="eval"):
        for start in range(0, len(images), batch_size):
            x = _stem(model, _input(images[start:start + batch_size], mean, std))
            y = labels[start:start + batch_size]
            for j in range(n + 1):
                for k in first.get(j, ()):
                    logits = _head(model, _run_from(blocks, x, j, wanted[k]))
                    correct[k] += int((logits.argmax(1) == y).sum())
                    done += n - j + 1
                    if on_progress is not None:
                        on_progress(done / total)
                if j < n:
                    x = blocks[j](x)
                    done += 1
    return correct


def random_sets(n: int, ks: Sequence[int], draws: int = DRAWS, seed: int = SEED) -> list[tuple[int, ...]]:
    """``draws`` random sets of ``k`` distinct blocks out of ``n`` for each k (seeded: the same sets every time)."""
    rng = np.random.default_rng(seed)
    return [tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False))) for k in ks for _ in range(draws)]


def default_ks(n: int, points: int = K_POINTS) -> list[int]:
    """Every k from 1 to n for a shallow net, else ``points`` values spread from 1 to n."""
    if n <= points + 1:
        return list(range(1, n + 1))
    return sorted({int(round(v)) for v in np.linspace(1, n, points)})


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

    def random_error(self) -> list[tuple[int, float, float, float]]:
        """(k, mean, lowest, highest error over the draws) per k."""
        return [(k, 100.0 - float(np.mean(a)), 100.0 - max(a), 100.0 - min(a)) for k, a in zip(self.ks, self.random)]

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


def lesion_study(loaded, images: torch.Tensor, labels: torch.Tensor, *, ks: Sequence[int] | None = None,
                 draws: int = DRAWS, seed: int = SEED, batch_size: int = INFERENCE_BATCH, sample: str = "",
                 on_progress: Callable[[float], None] | None = None) -> LesionStudy:
    """Every single deletion and ``draws`` random k-block deletions of a ``LoadedModel`` (its own
    normalisation), in one pass. ``ks`` defaults to ``default_ks``; ``ks=()`` skips the random sets."""
    from resnet_viz.inspect.feature_maps import model_fingerprint

    named = cifar_blocks(loaded.model)
    n = len(named)
    ks = default_ks(n) if ks is None else [k for k in ks if 1 <= k <= n]
    randoms = random_sets(n, ks, draws, seed)
    sets: list[Sequence[int]] = [(), *[(i,) for i in range(n)], *randoms]
    correct = correct_counts(loaded.model, images, labels, sets, mean=loaded.mean, std=loaded.std,
                             batch_size=batch_size, on_progress=on_progress)
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
            curve = ", ".join(f"k={k}: {m:.1f}" for k, m, _, _ in s.random_error())
            rows.append({col_what: t("lesion.row_random", lang), col_veit: t("lesion.veit_random", lang),
                         col_ours: t("lesion.ours_random", lang, net=label, curve=curve)})
    if plain is not None:
        rows.append(single("lesion.row_single_plain", "lesion.veit_vgg", *plain))
    return rows
