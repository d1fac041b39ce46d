"""``convert``: a student's trained network (their code and ``torch.save(model.state_dict(), ...)``) as this project's
checkpoint, so that it opens on every page.

Their weights are read here with ``weights_only`` (never their code), checked for NaN, and sent to the worker, which
loads them into their own network and traces it. The zoo network with the same skeleton receives them layer by
layer in the skeletons' order (names do not matter, shapes must agree; a convolution's bias is folded into the
batch norm after it), and both networks must give the same logits on random images before anything is written
(``save_checkpoint``: ``.safetensors`` and its ``.json`` sidecar). A structure no zoo network has is refused with
its first difference.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from resnet_viz.checkpoints.read import read_state_dict
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import LoadError
from resnet_viz.i18n import t
from resnet_viz.inspect.skeleton import INPUT_SIZE, Conv, Match, Skeleton, aligned, closest
from resnet_viz.models.registry import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD
from resnet_viz.student.code import Runner, Target
from resnet_viz.student.resnet import IMAGES, Comparison, network_job, zoo_twin

OUT_DIR = Path("checkpoints")  # where the app finds a student's checkpoints (resnet_viz.checkpoints.find)
EXAMPLE_TARGET = "my_resnet.py:MyResNet"  # how the pages write a student's network in a command line


class NoTwin(LoadError):
    """No zoo network has the student's structure; the message names the first difference in the reader's
    language."""

    def __init__(self, target: str, match: Match) -> None:
        self.match = match
        super().__init__("convert.no_twin", target=target, count=len(match.differences))

    def message(self, lang: str = "en") -> str:
        label = self.match.label(lang)
        return t(self.key, lang, **self.params, zoo=label, first=self.match.differences[0].text(lang, label))


def default_out(weights: Path) -> Path:
    return OUT_DIR / f"{weights.stem}.safetensors"


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The student's weights, read without running any code, with finite values only."""
    state = read_state_dict(path)
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise LoadError("load.nonfinite", key=key)
    return state


@dataclass(frozen=True)
class Conversion:
    """A student's network as the zoo network with the same structure, checked, not yet written."""

    model: nn.Module
    match: Match
    comparison: Comparison
    renamed: tuple[tuple[str, str], ...]  # (the student's key, the zoo's) of every layer's weight, in order
    folded: tuple[str, ...]  # convolutions whose bias went into their batch norm
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    default_normalisation: bool


def _renamed(match: Match, mine: Skeleton) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    pairs, folded = [], []
    for m, z in aligned(mine, match.skeleton):
        pairs.append((m.weight, z.weight))
        if isinstance(m, Conv) and m.bias and not z.bias:
            folded.append(m.name)
    return tuple(pairs), tuple(folded)


def convert_state(target: Target, state: dict[str, torch.Tensor], runner: Runner, *,
                  mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                  size: int = INPUT_SIZE, timeout: float | None = None) -> Conversion:
    """``state`` (the student's weights) in the zoo network with the student's structure, its logits checked."""
    mean_used, std_used = tuple(mean or CIFAR10_MEAN), tuple(std or CIFAR10_STD)
    if min(std_used) <= 0:
        raise LoadError("convert.bad_std", std=", ".join(map(str, std_used)))
    network = runner.run(network_job, target, state, False, size, what=str(target), timeout=timeout)
    match = closest(network.skeleton)
    if not match.exact:
        raise NoTwin(str(target), match)
    model, comparison = zoo_twin(network, match, size)
    if not comparison.same:
        raise LoadError("convert.logits_differ", target=str(target), zoo=match.name, images=IMAGES,
                        largest=f"{comparison.largest:.1e}", allowed=f"{comparison.allowed:.1e}")
    classes = network.skeleton.classes
    names = CIFAR10_CLASSES if classes == len(CIFAR10_CLASSES) else tuple(str(i) for i in range(classes))
    renamed, folded = _renamed(match, network.skeleton)
    return Conversion(model, match, comparison, renamed, folded, names, mean_used, std_used,
                      mean is None and std is None)


def out_path(out: Path) -> Path:
    """The weights file ``save_checkpoint`` writes for ``out``."""
    return out if out.suffix == ".safetensors" else out.with_name(out.name + ".safetensors")


def write(conversion: Conversion, target: Target, weights: Path, out: Path) -> Path:
    """``save_checkpoint`` of the converted network, with where it came from in its sidecar."""
    meta = {"model": conversion.match.name, "shortcut": conversion.match.option, "classes": list(conversion.classes),
            "mean": list(conversion.mean), "std": list(conversion.std),
            "converted_from": {"code": str(target), "weights": weights.name,
                               "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                               "largest_logit_difference": conversion.comparison.largest}}
    if conversion.classes == CIFAR10_CLASSES:
        meta["dataset"] = "CIFAR-10"
    return save_checkpoint(conversion.model, out, {k: v for k, v in meta.items() if v is not None})


def convert(target: Target, weights: Path, out: Path, runner: Runner, *, mean: tuple[float, ...] | None = None,
            std: tuple[float, ...] | None = None, timeout: float | None = None) -> tuple[Conversion, Path]:
    """Read, check, map and write; nothing is written unless every check passed."""
    weights, out = Path(weights), out_path(Path(out))
    if out.resolve() == weights.resolve():
        raise LoadError("convert.same_file", file=str(weights))
    conversion = convert_state(target, read_weights(weights), runner, mean=mean, std=std, timeout=timeout)
    return conversion, write(conversion, target, weights, out)


def report(done: Conversion, path: Path, target: str, weights: str, lang: str) -> list[str]:
    """``convert``'s output in ``lang`` (``path``: the checkpoint written)."""
    label = done.match.label(lang)
    first = ", ".join(f"{a} → {b}" for a, b in done.renamed[:3])
    lines = [t("convert.matched", lang, target=target, weights=weights, zoo=label),
             t("convert.renamed", lang, count=len(done.renamed), first=first)]
    if done.folded:
        lines.append(t("convert.folded", lang, count=len(done.folded), names=", ".join(done.folded)))
    c = done.comparison
    lines.append(t("convert.same_logits", lang, images=IMAGES, largest=f"{c.largest:.1e}", allowed=f"{c.allowed:.1e}"))
    normalisation = dict(mean=", ".join(f"{x:g}" for x in done.mean), std=", ".join(f"{x:g}" for x in done.std))
    lines.append(t("convert.normalisation_default" if done.default_normalisation else "convert.normalisation",
                   lang, **normalisation))
    lines.append(t("convert.wrote", lang, path=str(path), sidecar=str(path.with_suffix(".json"))))
    lines.append(t("convert.next", lang, path=str(path)))
    return lines


def command(target: str, weights: str) -> str:
    """The command line that converts ``weights`` of the network ``target``."""
    return f"python -m resnet_viz convert {target} {weights}"
