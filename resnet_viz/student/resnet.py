"""``check resnet``: a student's own ResNet (homework 3) against the zoo.

The worker builds their network (their class, with no arguments, or their function), traces its skeleton
(``resnet_viz.inspect.skeleton``) and runs it on a few random images. Here the closest zoo network is found and, when
the structures agree, the student's weights are copied into it by structure and the two networks' logits compared:
the same logits mean the same computation (ReLUs, additions and zero padding in the same places), which no count of
parameters can show. For the check the batch norms first get random statistics, so that a misplaced ReLU cannot
hide behind a norm that is still the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from resnet_viz.checkpoints.read import load_state
from resnet_viz.errors import InputError
from resnet_viz.i18n import t
from resnet_viz.inspect.skeleton import INPUT_SIZE, Match, Skeleton, closest, kind_key, map_state, shape_text, trace
from resnet_viz.models.registry import MODELS
from resnet_viz.student.code import Runner, Target, call, load_object, needed_arguments

SEED = 0
IMAGES = 4  # random images the logits are compared on
TOLERANCE = 1e-4  # the largest logit difference allowed, relative to the largest logit (float32 rounding)
NORM_JITTER = 0.25  # random statistics of the check's norms: scale and variance in 1 ± this, shift and mean ± this
SHAPE_WIDTH = len("64 × 32 × 32")  # the report's column of shapes


@dataclass(frozen=True)
class Network:
    """What the worker learnt about the student's network."""

    skeleton: Skeleton
    logits: torch.Tensor  # on random_images()
    state: dict[str, torch.Tensor]
    built_by: str  # "class", "function" or "object"


def random_images(size: int = INPUT_SIZE, n: int = IMAGES, seed: int = SEED) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def build(target: Target) -> tuple[nn.Module, str]:
    """The student's network and how it was made: their class called with no arguments, their function called with
    none, or the module object itself."""
    obj = load_object(target)
    if isinstance(obj, nn.Module):
        return obj, "object"
    if not callable(obj):
        raise InputError("check.not_callable", target=str(target), kind=type(obj).__name__)
    built_by = "class" if isinstance(obj, type) else "function"
    required = needed_arguments(obj)
    if required:
        raise InputError("check.needs_arguments", target=str(target), names=", ".join(required), name=target.name,
                         file=target.path.name)
    model = call(target, f"{target.name}()", obj)
    if not isinstance(model, nn.Module):
        raise InputError("check.not_a_module", target=str(target), kind=type(model).__name__)
    return model, built_by


def _randomise_norms(model: nn.Module, skeleton: Skeleton, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    tensors = model.state_dict()
    for conv in skeleton.convs():
        if conv.norm is None:
            continue
        for key, centre in ((conv.norm.weight, 1.0), (conv.norm.running_var, 1.0), (conv.norm.bias, 0.0),
                            (conv.norm.running_mean, 0.0)):
            if key is not None:
                value = tensors[key]
                noise = (torch.rand(value.shape, generator=g) * 2 - 1) * NORM_JITTER
                value.copy_(centre + noise)


def network_job(target: Target, state: dict[str, torch.Tensor] | None, randomise: bool, size: int) -> Network:
    """In the worker: build, load ``state`` (the student's weights) or randomise the norms, trace, run."""
    model, built_by = build(target)
    if state is not None:
        load_state(model, state, target.name)
    model.eval()
    skeleton = call(target, f"{target.name}.forward", trace, model, size)
    if randomise:
        _randomise_norms(model, skeleton, SEED)
    with torch.no_grad():
        logits = call(target, f"{target.name}.forward", model, random_images(size))
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != IMAGES:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError("check.bad_output", target=str(target), images=IMAGES, got=str(shape))
    return Network(skeleton, logits.detach().float().clone(),
                   {k: v.detach().clone() for k, v in model.state_dict().items()}, built_by)


@dataclass(frozen=True)
class Comparison:
    """The student's logits against the zoo network's with their weights."""

    largest: float  # the largest absolute difference
    scale: float  # the largest absolute logit

    @property
    def allowed(self) -> float:
        return TOLERANCE * max(1.0, self.scale)

    @property
    def same(self) -> bool:
        return self.largest <= self.allowed


def zoo_twin(network: Network, match: Match, size: int = INPUT_SIZE) -> tuple[nn.Module, Comparison]:
    """The zoo network of ``match`` holding the student's weights, and its logits against theirs."""
    model = MODELS[match.name].build(shortcut=match.option, num_classes=network.skeleton.classes)
    load_state(model, map_state(network.skeleton, network.state, match.skeleton), match.name)
    model.eval()
    with torch.no_grad():
        logits = model(random_images(size))
    largest = float((logits - network.logits).abs().max())
    return model, Comparison(largest, float(network.logits.abs().max()))


@dataclass(frozen=True)
class ResNetCheck:
    target: str
    network: Network
    match: Match
    comparison: Comparison | None  # None when the structures differ

    @property
    def passed(self) -> bool:
        return self.match.exact and self.comparison is not None and self.comparison.same


def check_resnet(target: Target, runner: Runner, *, option: str | None = None, size: int = INPUT_SIZE,
                 timeout: float | None = None) -> ResNetCheck:
    """Build, trace and run the student's network (through ``runner``), and compare it with the zoo."""
    network = runner.run(network_job, target, None, True, size, what=str(target), timeout=timeout)
    match = closest(network.skeleton, option)
    comparison = zoo_twin(network, match, size)[1] if match.exact else None
    return ResNetCheck(str(target), network, match, comparison)


# ---------------------------------------------------------------- the report

def _count(n: int) -> str:
    return f"{n:,}"


def stage_lines(skeleton: Skeleton, lang: str) -> list[str]:
    """The stem, each stage with its blocks and their shortcuts, and the head, with output shapes."""
    lines = [t("check.shapes", lang, size=skeleton.input_size)]
    if skeleton.stem:
        lines.append(t("check.row_stem", lang, names=", ".join(c.name for c in skeleton.stem),
                       shape=shape_text(skeleton.stem[-1].output).ljust(SHAPE_WIDTH)))
    for stage in skeleton.stages:
        blocks = " · ".join(f"{b.name} {t(kind_key(b.shortcut), lang)}" for b in stage.blocks)
        lines.append(t("check.row_stage", lang, stage=stage.number, count=len(stage.blocks),
                       shape=shape_text(stage.output).ljust(SHAPE_WIDTH), blocks=blocks))
    lines.append(t("check.row_head", lang, names=", ".join(h.name for h in skeleton.head) or "-",
                   shape=shape_text(skeleton.output).ljust(SHAPE_WIDTH)))
    return lines


def difference_lines(match: Match, lang: str) -> list[str]:
    label = match.label(lang)
    return [t("check.bullet", lang, text=d.text(lang, label)) for d in match.differences]


def report(check: ResNetCheck, lang: str) -> list[str]:
    """``check resnet``'s output in ``lang``."""
    s, match = check.network.skeleton, check.match
    label = match.label(lang)
    lines = [t(f"check.network_{check.network.built_by}", lang, target=check.target, params=_count(s.params))]
    head = "check.closest_same" if match.exact else "check.closest_differs"
    lines.append(t(head, lang, zoo=label, params=_count(match.skeleton.params), count=len(match.differences)))
    lines += difference_lines(match, lang)
    lines += stage_lines(s, lang)
    if s.unused:
        lines.append(t("check.unused", lang, keys=", ".join(s.unused[:5]), count=len(s.unused)))
    c = check.comparison
    if c is not None:
        key = "check.same_yes" if c.same else ("check.same_no_pad" if "pad" in {b.shortcut for b in s.blocks}
                                               else "check.same_no")
        lines.append(t(key, lang, zoo=label, images=IMAGES, largest=f"{c.largest:.1e}", allowed=f"{c.allowed:.1e}"))
    if check.passed:
        lines.append(t("check.next_convert", lang, target=check.target))
    elif not match.exact:
        lines.append(t("check.no_convert", lang))
    return lines
