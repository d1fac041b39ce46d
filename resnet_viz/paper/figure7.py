"""The data of the paper's Figure 7: the standard deviation of every 3x3 conv layer's response.

A response is the output of a 3x3 convolution after its BN and before the ReLU / the shortcut addition
(section 4.2). One std per layer, taken over every value the layer produces for the images (batch,
channels, positions together), in forward order: ResNet-20 has 19 such layers (the stem conv and the two
convs of each of its 9 blocks), ResNet-56 has 55.

Images are uint8 (N x 3 x H x W), normalised with the checkpoint's own mean and std; the forward pass is
batched, without gradients, under the model's lock (``resnet_viz.inspect.hooks``), and the hooks are removed
when it ends, also on error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from resnet_viz.cost import network_macs
from resnet_viz.data import normalize
from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import hooked
from resnet_viz.runtime import INFERENCE_BATCH
from resnet_viz.samples import TEST_SAMPLE_NAME


@dataclass(frozen=True)
class LayerResponses:
    """Figure 7 data of one network: ``std[i]`` belongs to the conv at ``layers[i]``."""

    layers: tuple[str, ...]  # module paths of the 3x3 convs, forward order
    std: tuple[float, ...]
    images: int
    per_image: ImageMoments | None = field(default=None, compare=False, repr=False)

    def sorted_desc(self) -> list[float]:
        """The paper's bottom panel: the same values, largest first."""
        return sorted(self.std, reverse=True)

    @property
    def mean(self) -> float:
        return float(np.mean(self.std))

    @property
    def median(self) -> float:
        return float(np.median(self.std))

    @property
    def max(self) -> float:
        return float(np.max(self.std))

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "std": list(self.std), "images": self.images}


@dataclass(frozen=True)
class ImageMoments:
    """Each image's own sums behind Figure 7's pooled std: ``sums[l, i]`` and ``sumsq[l, i]`` over the
    ``counts[l]`` values image ``i`` gives layer ``l`` (float64). They tell which images drive the pooled std.
    """

    counts: np.ndarray  # (layers,)
    sums: np.ndarray  # (layers, images)
    sumsq: np.ndarray  # (layers, images)

    def pooled_std(self) -> np.ndarray:
        """(layers,) the std over all images together: the values ``LayerResponses.std`` holds."""
        n = self.counts * self.sums.shape[1]
        mean = self.sums.sum(1) / n
        return np.sqrt(np.maximum(self.sumsq.sum(1) / n - mean * mean, 0.0))

    def resampled_pooled_std(self, weights: np.ndarray) -> np.ndarray:
        """(resamples, layers) the pooled std of each resample, ``weights[r, i]`` being how often resample ``r``
        draws image ``i`` (``pooled_std`` is the resample that draws every image once)."""
        n = weights.sum(1, keepdims=True) * self.counts
        mean = weights @ self.sums.T / n
        return np.sqrt(np.maximum(weights @ self.sumsq.T / n - mean * mean, 0.0))

    def image_std(self) -> np.ndarray:
        """(images,) each image's own response std, averaged over the layers."""
        n = self.counts[:, None]
        mean = self.sums / n
        return np.sqrt(np.maximum(self.sumsq / n - mean * mean, 0.0)).mean(0)

    def variance_share(self) -> np.ndarray:
        """(images,) each image's share of the pooled variance (its squared deviations from the pooled mean),
        averaged over the layers; the shares sum to 1. Equal images each hold 1 / images."""
        mean = (self.sums.sum(1) / (self.counts * self.sums.shape[1]))[:, None]
        dev = np.maximum(self.sumsq - 2 * mean * self.sums + self.counts[:, None] * mean * mean, 0.0)
        total = dev.sum(1, keepdims=True)
        share = np.divide(dev, total, out=np.full_like(dev, 1.0 / dev.shape[1]), where=total > 0)
        return share.mean(0)


def outputs_residual(layers: Sequence[str]) -> tuple[bool, ...]:
    """For each 3x3 layer path: True when it is the second 3x3 conv of a basic block (``<block>.conv2`` next to
    ``<block>.conv1``), whose response is the block's F(x) before the addition; the first conv is inside F.
    A bottleneck's F(x) ends with a 1x1 conv, so none of its 3x3 layers outputs F(x)."""
    names = set(layers)
    return tuple("." in name and name.endswith(".conv2") and name.removesuffix("conv2") + "conv1" in names
                 for name in layers)


def response_layers(model: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    """(conv path, the BN right after it) for every 3x3 conv, in forward order.

    Every zoo net with BN names the pair ``<prefix>convK`` / ``<prefix>bnK`` (torchvision's names), so the
    BN is found by name; a 3x3 conv without such a BN (VGG-19 has none) cannot give Figure 7's numbers.
    """
    modules = dict(model.named_modules())
    pairs = []
    for name, module in model.named_modules():
        if not (isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (3, 3)):
            continue
        prefix, _, last = name.rpartition(".")
        bn_name = (prefix + "." if prefix else "") + last.replace("conv", "bn", 1)
        bn = modules.get(bn_name)
        if not last.startswith("conv") or not isinstance(bn, nn.BatchNorm2d):
            raise InputError("figure7.no_bn", layer=name)
        pairs.append((name, bn))
    return pairs


class _Moments:
    """Each image's sum and sum of squares of one layer's response, in float64 (exact enough for std over
    millions of values); the pooled std of Figure 7 follows from them (``ImageMoments.pooled_std``)."""

    def __init__(self, images: int) -> None:
        self.count = 0  # values per image
        # Written in place: small results kept from every batch would split the heap that the batches' freed
        # activations leave (Figure 7 on 10,000 images grew to 2.9 GB that way).
        self.sums = torch.zeros(images, dtype=torch.float64)
        self.sumsq = torch.zeros(images, dtype=torch.float64)
        self.done = 0

    def add(self, x: torch.Tensor) -> None:
        # Reduced over each channel's H x W in float32 first (at most a few thousand values each), then in
        # float64: no copy of the batch's activations is made, so memory stays flat however many images run.
        x = x.detach()
        self.count = x[0].numel()
        span = slice(self.done, self.done + len(x))
        self.sums[span] = x.sum(dim=(2, 3)).double().sum(1)
        self.sumsq[span] = torch.linalg.vector_norm(x, dim=(2, 3)).double().square().sum(1)
        self.done += len(x)


def layer_responses(model: nn.Module, images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float],
                    batch_size: int = INFERENCE_BATCH, per_image: bool = False,
                    on_batch: Callable[[int], None] | None = None) -> LayerResponses:
    """Figure 7 data of ``model`` on uint8 ``images`` (N x 3 x H x W); with ``per_image`` the result also
    keeps each image's moments (``LayerResponses.per_image``), which the pooled values are computed from.
    ``on_batch(done)`` is called after each batch with the number of images done so far (a progress bar; an
    exception it raises stops the computation, hooks removed).

    The model runs in eval mode (BN uses its running statistics, as at test time); its mode is restored after.
    """
    images = check_images(images)
    pairs = response_layers(model)
    moments = [_Moments(len(images)) for _ in pairs]
    # The statistic is taken inside the hook: the ReLU that follows may work in place.
    hooks = [(bn, lambda _mod, _inp, out, m=m: m.add(out)) for (_, bn), m in zip(pairs, moments)]
    with torch.no_grad(), hooked(model, forward=hooks):
        for start in range(0, len(images), batch_size):
            model(normalize(images[start:start + batch_size], mean, std))
            if on_batch is not None:
                on_batch(min(start + batch_size, len(images)))
    detail = ImageMoments(np.array([m.count for m in moments], dtype=np.float64),
                          torch.stack([m.sums for m in moments]).numpy(),
                          torch.stack([m.sumsq for m in moments]).numpy())
    return LayerResponses(tuple(n for n, _ in pairs), tuple(map(float, detail.pooled_std())), len(images),
                          detail if per_image else None)


def responses_of(loaded, images: torch.Tensor, *, batch_size: int = INFERENCE_BATCH, per_image: bool = False,
                 on_batch: Callable[[int], None] | None = None) -> LayerResponses:
    """``layer_responses`` of a ``LoadedModel`` with its own normalisation."""
    return layer_responses(loaded.model, images, mean=loaded.mean, std=loaded.std, batch_size=batch_size,
                           per_image=per_image, on_batch=on_batch)


def check_images(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3 or len(images) == 0:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError("figure7.bad_images", shape=str(shape))
    if images.dtype != torch.uint8:
        raise InputError("figure7.bad_images", shape=f"{tuple(images.shape)} {images.dtype}")
    return images


def store_in_sidecar(checkpoint: str | Path, result: LayerResponses, *, sample: str | Path) -> None:
    """Keep ``result`` in the checkpoint's JSON sidecar under ``"responses"`` (the app shows it without recomputing)."""
    import json

    from resnet_viz.checkpoints.write import atomic_write

    side = Path(checkpoint).with_suffix(".json")
    data = json.loads(side.read_text(encoding="utf-8"))
    data["responses"] = {"sample": Path(str(sample)).stem, **result.to_dict()}
    atomic_write(side, json.dumps(data, indent=1).encode("utf-8"))


def stored_responses(meta: dict, *, sample: str = TEST_SAMPLE_NAME) -> LayerResponses | None:
    """The values a sidecar holds for ``sample`` (None when absent or malformed)."""
    entry = meta.get("responses")
    if not isinstance(entry, dict) or entry.get("sample") != sample:
        return None
    std, layers = entry.get("std"), entry.get("layers")
    if not isinstance(std, list) or not all(isinstance(v, (int, float)) for v in std):
        return None
    layers = layers if isinstance(layers, list) and len(layers) == len(std) else [f"{i + 1}" for i in range(len(std))]
    return LayerResponses(tuple(map(str, layers)), tuple(map(float, std)), int(entry.get("images") or 0))


# The networks of the paper's Figure 7, in its legend's order.
FIGURE7_MODELS = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")


@dataclass(frozen=True)
class Figure7Source:
    """A checkpoint Figure 7 can use, with the values its sidecar stores for the shipped sample (if any)."""

    path: str
    model: str
    family: str
    stem: str
    shipped: bool
    stored: LayerResponses | None
    schedule: tuple[object, ...] = ()  # the recipe's name, iterations and batch, as its sidecar records them
    epochs: float | None = None


def trained_alike(chosen: Sequence[str], by_path: Mapping[str, Figure7Source]) -> bool:
    """Every chosen checkpoint was trained with the same recipe, iterations and batch (untrained nets count as
    alike): otherwise a claim may hold or fail for the training, not the shortcuts."""
    return len({by_path[p].schedule for p in chosen if p in by_path}) <= 1


def figure7_sources(infos=None) -> list[Figure7Source]:
    """CIFAR-10 plain/ResNet checkpoints (shipped first), the paper's five networks first."""
    from resnet_viz.checkpoints.find import find_checkpoints
    from resnet_viz.checkpoints.read import trained_epochs
    from resnet_viz.models.registry import get_spec

    out = []
    for info in find_checkpoints() if infos is None else infos:
        spec = get_spec(info.model)
        if spec.layout == "cifar" and spec.family in ("plain", "resnet"):
            found = info.meta.get("recipe")
            recipe: dict = found if isinstance(found, dict) else {}
            out.append(Figure7Source(str(info.path), spec.name, spec.family, info.stem, info.shipped,
                                     stored_responses(info.meta),
                                     (recipe.get("name"), recipe.get("iterations"), recipe.get("batch_size")),
                                     trained_epochs(info.meta)))
    rank = {m: i for i, m in enumerate(FIGURE7_MODELS)}
    return sorted(out, key=lambda s: (rank.get(s.model, len(rank)), s.family, not s.shipped, s.stem))


def source_model(path: str, by_path: Mapping[str, Figure7Source]) -> str:
    """The model of the net at ``path``: its source's, else the name after "random:" (an untrained net)."""
    src = by_path.get(path)
    return src.model if src else path.rpartition(":")[2]


def source_family(path: str, by_path: Mapping[str, Figure7Source]) -> str:
    """"resnet" or "plain": the family of the net at ``path`` (an untrained net's by its name)."""
    src = by_path.get(path)
    return src.family if src else ("resnet" if "resnet" in path else "plain")


def live_paths(chosen: Sequence[str], by_path: Mapping[str, Figure7Source], live: bool) -> list[str]:
    """The chosen nets to compute live: all after "Recompute live", else those without stored values."""
    return [p for p in chosen if live or by_path.get(p) is None or by_path[p].stored is None]


def default_selection(sources: Sequence[Figure7Source]) -> list[str]:
    """One checkpoint per Figure 7 network (shipped preferred), else the first five found."""
    chosen: dict[str, str] = {}
    for src in sources:
        if src.model in FIGURE7_MODELS and src.model not in chosen:
            chosen[src.model] = src.path
    return list(chosen.values()) or [s.path for s in sources[:5]]


def image_to_uint8(image) -> torch.Tensor:
    """A PIL image (already at the network's input size) as a 1 x 3 x H x W uint8 tensor."""
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


def wide_range(results: Sequence[LayerResponses], *, factor: float = 1e3) -> bool:
    """True when the values span more than ``factor`` (a log axis then shows every curve; the paper's is linear)."""
    values = [v for r in results for v in r.std if v > 0]
    return bool(values) and max(values) / min(values) > factor


@dataclass(frozen=True)
class ResponseClaims:
    """Figure 7's two claims checked on the networks shown, each network summarised by one number (its mean
    std unless ``response_claims`` is given another statistic).

    ``resnets_smaller``: at every depth shown with both families, the ResNet's mean is below the plain net's: the
    paper's "ResNets have generally smaller responses than their plain counterparts". ``largest_resnet`` and
    ``smallest_plain`` are the pair of one depth with the smallest margin, which decides (None without a ResNet and
    a plain net of one depth: a ResNet-20 beside a plain-56 is not a pair the paper compares).
    ``deeper_smaller``: the deepest ResNet's mean is below the shallowest one's (None with one ResNet depth).
    Each side is a ``(label, mean)`` pair; depth is the number of 3x3 conv layers. ``intervals`` holds the
    networks' bootstrap intervals by label (``bootstrap_interval``), where known.
    """

    largest_resnet: tuple[str, float] | None
    smallest_plain: tuple[str, float] | None
    shallow_resnet: tuple[str, float] | None
    deep_resnet: tuple[str, float] | None
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def _overlap(self, a: tuple[str, float] | None, b: tuple[str, float] | None) -> bool | None:
        low_high = [self.intervals.get(side[0]) if side is not None else None for side in (a, b)]
        if low_high[0] is None or low_high[1] is None:
            return None
        (a_low, a_high), (b_low, b_high) = low_high[0], low_high[1]
        return a_low <= b_high and b_low <= a_high

    @property
    def smaller_too_close(self) -> bool | None:
        """True when the intervals of the two nets ``resnets_smaller`` compares overlap (None without both)."""
        return self._overlap(self.largest_resnet, self.smallest_plain)

    @property
    def deeper_too_close(self) -> bool | None:
        """True when the intervals of the two ResNets ``deeper_smaller`` compares overlap (None without both)."""
        return self._overlap(self.deep_resnet, self.shallow_resnet)

    @property
    def resnets_smaller(self) -> bool | None:
        if self.largest_resnet is None or self.smallest_plain is None:
            return None
        return self.largest_resnet[1] < self.smallest_plain[1]

    @property
    def deeper_smaller(self) -> bool | None:
        if self.shallow_resnet is None or self.deep_resnet is None:
            return None
        return self.deep_resnet[1] < self.shallow_resnet[1]


def response_claims(results: Sequence[tuple[str, str, LayerResponses]],
                    statistic: Callable[[LayerResponses], float | None] | None = None,
                    intervals: Mapping[str, tuple[float, float] | None] | None = None) -> ResponseClaims:
    """``results``: (label, family "plain"/"resnet", responses) per network, as Figure 7 plots them.

    ``statistic`` summarises a network (default: its mean std); networks it gives None are left out.
    ``intervals``: each network's uncertainty of that statistic by label (None where unknown).
    """
    value = statistic or (lambda r: r.mean)
    scored = [(label, family, r, value(r)) for label, family, r in results if r.std]
    resnets = [(label, r, v) for label, family, r, v in scored if family == "resnet" and v is not None]
    plains = [(label, r, v) for label, family, r, v in scored if family == "plain" and v is not None]
    pairs = []
    for depth in {len(r.std) for _, r, _ in resnets} & {len(r.std) for _, r, _ in plains}:
        pairs.append((max((item for item in resnets if len(item[1].std) == depth), key=lambda item: item[2]),
                      min((item for item in plains if len(item[1].std) == depth), key=lambda item: item[2])))
    largest, smallest = min(pairs, key=lambda pair: pair[1][2] - pair[0][2], default=(None, None))
    shallow = deep = None
    if len({len(r.std) for _, r, _ in resnets}) > 1:
        shallow = min(resnets, key=lambda item: len(item[1].std))
        deep = max(resnets, key=lambda item: len(item[1].std))

    def pair(item):
        return None if item is None else (item[0], float(item[2]))

    known = {label: iv for label, iv in (intervals or {}).items() if iv is not None}
    return ResponseClaims(pair(largest), pair(smallest), pair(shallow), pair(deep), known)


def median_image_std(result: LayerResponses) -> float | None:
    """The typical image's response std (median over images of each image's own std, averaged over layers);
    None without per-image moments."""
    return None if result.per_image is None else _median(result.per_image.image_std())


def _median(image_std: np.ndarray) -> float:
    return float(np.median(image_std))


@dataclass(frozen=True)
class Concentration:
    """How unevenly one network's images share its Figure 7 variance."""

    label: str
    images: int
    median_image_std: float
    top: tuple[int, ...]  # indices (into the images measured) of the largest shares, largest first
    top_std: tuple[float, ...]  # those images' own response std
    top_shares: tuple[float, ...]  # their shares of the variance, 0..1

    @property
    def top_share(self) -> float:
        return float(sum(self.top_shares))

    @property
    def even_share(self) -> float:
        """What the same number of images would hold if every image contributed equally."""
        return len(self.top) / self.images

    @property
    def dominated(self) -> bool:
        """A few images decide the pooled std: they carry a tenth of the variance or more, and ten times
        what they would if every image contributed equally."""
        return self.top_share >= max(0.1, 10 * self.even_share)

    @property
    def outliers(self) -> tuple[int, ...]:
        """Positions in ``top`` of the images that each carry ten times an even share or more."""
        return tuple(k for k, share in enumerate(self.top_shares) if share >= 10 / self.images)


def concentration(results: Sequence[tuple[str, str, LayerResponses]], *, top: int = 3) -> list[Concentration]:
    """Per network with per-image moments: its median image's std and the ``top`` images that carry most
    of its variance, most concentrated network first."""
    out = []
    for label, _family, r in results:
        if r.per_image is None:
            continue
        share, image_std = r.per_image.variance_share(), r.per_image.image_std()
        order = np.argsort(-share, kind="stable")[:max(1, min(top, len(share)))]
        out.append(Concentration(label, len(share), _median(image_std), tuple(int(i) for i in order),
                                 tuple(float(image_std[i]) for i in order), tuple(float(share[i]) for i in order)))
    return sorted(out, key=lambda c: -c.top_share)


# ---------------------------------------------------------------- uncertainty and cost

RESAMPLES = 200
SEED = 0
LEVEL = 0.95


def resample_weights(images: int, *, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, images): how often each bootstrap resample draws each image (``images`` draws with
    replacement per resample, from a generator seeded with ``seed``)."""
    draws = np.random.default_rng(seed).integers(0, images, size=(resamples, images))
    weights = np.zeros((resamples, images))
    np.add.at(weights, (np.arange(resamples)[:, None], draws), 1.0)
    return weights


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(result: LayerResponses, *, resamples: int = RESAMPLES, seed: int = SEED,
                       level: float = LEVEL) -> tuple[float, float] | None:
    """Percentile interval of ``result.mean`` (the mean over layers of the pooled std) over bootstrap resamples
    of the images: each resample's pooled per-layer std is recomputed from the per-image moments. None
    without per-image moments (values stored with a checkpoint)."""
    if result.per_image is None:
        return None
    weights = resample_weights(result.per_image.sums.shape[1], resamples=resamples, seed=seed)
    return _percentiles(result.per_image.resampled_pooled_std(weights).mean(1), level)


def median_image_interval(result: LayerResponses, *, resamples: int = RESAMPLES, seed: int = SEED,
                          level: float = LEVEL) -> tuple[float, float] | None:
    """The same bootstrap for ``median_image_std`` (the median image's std); None without per-image moments."""
    if result.per_image is None:
        return None
    image_std = result.per_image.image_std()
    draws = np.random.default_rng(seed).integers(0, len(image_std), size=(resamples, len(image_std)))
    return _percentiles(np.median(image_std[draws], axis=1), level)


# Before anything is measured on a server: the five networks of Figure 7 took 107 s on 1000 images (issue 19).
REFERENCE_SECONDS, REFERENCE_IMAGES = 107.0, 1000


def reference_seconds_per_mac() -> float:
    return REFERENCE_SECONDS / (REFERENCE_IMAGES * sum(network_macs(m) for m in FIGURE7_MODELS))


def responses_work(models: Sequence[str], images: int) -> dict[str, float]:
    """Multiply-adds of Figure 7's computation of each of ``models`` on ``images`` images (a network chosen twice
    counts twice): the unit of the server's ``resnet_viz.cost.CostMeter``."""
    work: dict[str, float] = {}
    for m in models:
        work[m] = work.get(m, 0.0) + max(images, 1) * network_macs(m)
    return work
