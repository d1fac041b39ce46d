"""Feature visualisation by optimisation (Olah, Mordvintsev & Schubert 2017, "Feature Visualization", distill.pub):
an input synthesised by gradient ascent so that one channel of one layer responds as strongly as it can.

Choices, and why (the article's section "The Enemy of Feature Visualization" motivates each):

- **Fourier parameterisation, scaled by 1 / frequency.** Plain pixel ascent finds high-frequency noise that
  excites a channel without looking like anything; optimising the image's spectrum with every frequency scaled by
  1/f (natural images' own fall-off) makes a step change low frequencies as much as high ones, so the image
  stays smooth. It costs one inverse real FFT per step and no dependency.
- **Decorrelated colour.** The three channels are mixed by the square root of the RGB covariance of the shipped
  CIFAR-10 test sample (computed from it, ``colour_basis``), so the optimiser moves along natural colour axes;
  a sigmoid keeps pixels in [0, 1].
- **Transformation robustness: random jitter and scale** (one affine resampling per step, reflected at the
  border, a few pixels at 32 px): a pattern has to excite the channel wherever it lands, which removes the
  adversarial pixel patterns a fixed frame allows. No rotation: at 32 px it mostly blurs.
- **Objective: the channel's mean before its last ReLU** (the article's "channel" objective, on the pre-ReLU
  value as in Lucid): after the ReLU a channel that is off everywhere gives no gradient.
- **A fixed seed per (seed, channel)**, drawn from generators of its own (the process's random state is never
  touched): the same channel gives the same picture whether it is optimised alone or with others.

The model is a shared one: everything runs inside ``hooks.hooked`` (its lock, eval mode, parameter gradients
off, ReLUs not in place so the pre-ReLU value survives), which restores the model exactly as found.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz import ASSETS_DIR
from resnet_viz.checkpoints.write import atomic_write
from resnet_viz.inspect.feature_maps import LayerSpec
from resnet_viz.inspect.hooks import hooked

FEATURE_VIS_DIR = ASSETS_DIR / "feature_vis"
CIFAR_SIZE = 32
IMAGENET_SIZE = 128  # of 128-224: the smallest that still shows ImageNet features, at a third of 224's cost


@dataclass(frozen=True)
class VisConfig:
    size: int = CIFAR_SIZE
    steps: int = 128
    lr: float = 0.05
    seed: int = 0
    jitter: float = 0.08  # largest shift, as a share of the side (2.6 px at 32 px)
    scale: tuple[float, float] = (0.9, 1.1)
    decay: float = 1.0  # the spectrum's 1 / f ** decay weighting
    init_sd: float = 0.01

    @staticmethod
    def for_dataset(dataset: str, **changes: object) -> VisConfig:
        size = IMAGENET_SIZE if dataset == "imagenet" else CIFAR_SIZE
        return VisConfig(**{"size": size, **changes})  # type: ignore[arg-type]


@dataclass(frozen=True)
class VisResult:
    images: np.ndarray  # (channels, size, size, 3) uint8
    start: np.ndarray  # (channels,) the objective on the initial image
    end: np.ndarray  # (channels,) the objective on the final image (no transform)
    channels: tuple[int, ...]
    seconds: float
    config: VisConfig


# ---------------------------------------------------------------- the parameterisation

@lru_cache(maxsize=1)
def colour_basis() -> np.ndarray:
    """3 x 3 square root of the RGB covariance of the shipped CIFAR-10 test sample (pixels in [0, 1]),
    columns scaled so that the largest has norm 1."""
    from resnet_viz.samples import load_test_sample

    images, _, _ = load_test_sample()
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1).double().numpy() / 255.0
    u, s, _ = np.linalg.svd(np.cov(pixels))
    root = u * np.sqrt(s)
    root.flags.writeable = False
    return root / np.linalg.norm(root, axis=0).max()


def frequency_weights(size: int, decay: float) -> torch.Tensor:
    """(size, size // 2 + 1) the 1 / f ** decay weight of every frequency of a real 2-D FFT."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    freq = torch.sqrt(fx * fx + fy * fy)
    return 1.0 / torch.clamp(freq, min=1.0 / size) ** decay


def to_image(spectrum: torch.Tensor, weights: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W // 2 + 1) complex parameters -> (B, 3, H, W) pixels in (0, 1)."""
    size = spectrum.shape[-2]
    decorrelated = torch.fft.irfft2(spectrum * weights, s=(size, size), norm="ortho")
    rgb = torch.einsum("ij,bjhw->bihw", basis, decorrelated)
    return torch.sigmoid(rgb)


def _transform(images: torch.Tensor, config: VisConfig, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """A random shift and scale of each image (one affine resampling, reflected at the border)."""
    rows = []
    for g in generators:
        u = torch.rand(3, generator=g)
        s = config.scale[0] + (config.scale[1] - config.scale[0]) * float(u[0])
        tx, ty = (2 * u[1:] - 1) * 2 * config.jitter
        rows.append(torch.tensor([[s, 0.0, float(tx)], [0.0, s, float(ty)]]))
    theta = torch.stack(rows)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


# ---------------------------------------------------------------- the objective

def final_relu(model: nn.Module, path: str) -> nn.Module:
    """The ReLU whose input is the layer's value before its last ReLU: the layer itself when it is a ReLU, else
    its last ReLU submodule (a block's ``relu2``; torchvision's blocks call one ``relu`` several times, the last
    call being the output's)."""
    layer = model.get_submodule(path)
    if isinstance(layer, nn.ReLU):
        return layer
    relus = [m for m in layer.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(f"layer {path!r} has no ReLU")
    return relus[-1]


class _Probe:
    """The value before the layer's last ReLU, caught by a pre-hook; the layer's own hook then stops the pass."""

    class Done(Exception):
        pass

    def __init__(self) -> None:
        self.value: torch.Tensor | None = None

    def catch(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self.value = inputs[0]

    def stop(self, module: nn.Module, inputs: object, output: object) -> None:
        raise _Probe.Done

    def objective(self, model: nn.Module, x: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
        """(B,) each image's own channel, averaged over positions, before the layer's last ReLU."""
        try:
            model(x)
        except _Probe.Done:
            pass
        assert self.value is not None
        return self.value[torch.arange(len(channels)), channels].mean(dim=(1, 2))


def _generators(seed: int, channels: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(seed) * 100_003 + int(c)) for c in channels]


def visualise(model: nn.Module, path: str, channels: Sequence[int], mean: Sequence[float], std: Sequence[float],
              config: VisConfig = VisConfig(), *, on_step: Callable[[int], None] | None = None) -> VisResult:
    """One picture per channel in ``channels`` of the layer at module ``path``, optimised together (each image
    has its own channel, seed and transforms, so batching does not change a picture).

    ``on_step(step)`` is called after every step (a Streamlit Stop button interrupts the run there).
    """
    start_time = time.perf_counter()
    chans = torch.tensor([int(c) for c in channels], dtype=torch.long)
    gens = _generators(config.seed, channels)
    n, half = config.size, config.size // 2 + 1
    spectrum = torch.stack([torch.randn(2, 3, n, half, generator=g) for g in gens]) * config.init_sd
    spectrum.requires_grad_(True)
    weights = frequency_weights(n, config.decay)
    basis = torch.as_tensor(colour_basis(), dtype=torch.float32)
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1)
    probe = _Probe()

    def pixels() -> torch.Tensor:
        return to_image(torch.complex(spectrum[:, 0], spectrum[:, 1]), weights, basis)

    with hooked(model, forward_pre={final_relu(model, path): probe.catch}, forward={path: probe.stop},
                requires_grad=False, relu_inplace=False):
        with torch.no_grad():
            first = probe.objective(model, (pixels() - m) / s, chans)
        optimiser = torch.optim.Adam([spectrum], lr=config.lr)
        for step in range(config.steps):
            optimiser.zero_grad(set_to_none=True)
            (-probe.objective(model, (_transform(pixels(), config, gens) - m) / s, chans).sum()).backward()
            optimiser.step()
            if on_step is not None:
                on_step(step + 1)
        with torch.no_grad():
            final_pixels = pixels()
            last = probe.objective(model, (final_pixels - m) / s, chans)
    images = (final_pixels.permute(0, 2, 3, 1).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
    return VisResult(images, first.numpy().astype(np.float32), last.numpy().astype(np.float32),
                     tuple(int(c) for c in channels), time.perf_counter() - start_time, config)


# ---------------------------------------------------------------- the shipped grids

@dataclass(frozen=True)
class VisGrid:
    """Precomputed pictures of one network: ``images[s, i]`` shows channel ``channels[s, i]`` of ``layers[s]``."""

    model: str
    layers: tuple[str, ...]  # layer keys ("stage1_3", ...), one per stage
    paths: tuple[str, ...]  # their module paths
    channels: np.ndarray  # (stages, per_stage) int64
    images: np.ndarray  # (stages, per_stage, size, size, 3) uint8
    end: np.ndarray  # (stages, per_stage) float32: the objective reached
    meta: dict

    def find(self, layer: str, channel: int) -> np.ndarray | None:
        """The shipped picture of ``channel`` of ``layer``, if there is one."""
        if layer not in self.layers:
            return None
        s = self.layers.index(layer)
        hits = np.flatnonzero(self.channels[s] == channel)
        return self.images[s, hits[0]] if hits.size else None


def grid_path(model: str, folder: Path = FEATURE_VIS_DIR) -> Path:
    return folder / f"{model}.npz"


def save_grid(grid: VisGrid, folder: Path = FEATURE_VIS_DIR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = grid_path(grid.model, folder)
    buf = io.BytesIO()
    np.savez_compressed(buf, layers=np.array(grid.layers), paths=np.array(grid.paths), channels=grid.channels,
                        images=grid.images, end=grid.end, meta=np.array(json.dumps(grid.meta, sort_keys=True)))
    atomic_write(path, buf.getvalue())
    return path


def load_grid(model: str, folder: Path = FEATURE_VIS_DIR) -> VisGrid | None:
    """The shipped grid of zoo model ``model`` (None when there is none or it cannot be read)."""
    path = grid_path(model, folder)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return VisGrid(model, tuple(str(v) for v in data["layers"]), tuple(str(v) for v in data["paths"]),
                           data["channels"].astype(np.int64), data["images"], data["end"],
                           json.loads(str(data["meta"])))
    except (OSError, KeyError, ValueError):
        return None


def grid_for(model: nn.Module, layers: Sequence[LayerSpec], channels: Sequence[Sequence[int]], mean: Sequence[float],
             std: Sequence[float], config: VisConfig, *, name: str, fingerprint: str,
             on_layer: Callable[[int], None] | None = None) -> VisGrid:
    """Pictures of ``channels[s]`` of each layer ``layers[s]`` (one optimisation per layer), with the metadata
    that says how they were made."""
    results, cpu = [], time.process_time()
    for s, layer in enumerate(layers):
        results.append(visualise(model, layer.path, channels[s], mean, std, config))
        if on_layer is not None:
            on_layer(s + 1)
    seconds = sum(r.seconds for r in results)
    count = sum(len(r.channels) for r in results)
    meta = {"model": name, "fingerprint": fingerprint, "seed": config.seed, "steps": config.steps, "lr": config.lr,
            "jitter": config.jitter, "scale": list(config.scale), "decay": config.decay, "size": config.size,
            "seconds": round(seconds, 2), "seconds_per_channel": round(seconds / max(count, 1), 3),
            "cpu_seconds": round(time.process_time() - cpu, 2), "load_average": round(os.getloadavg()[0], 1),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "made": time.strftime("%Y-%m-%d")}
    return VisGrid(name, tuple(layer.key for layer in layers), tuple(layer.path for layer in layers),
                   np.array([list(r.channels) for r in results], dtype=np.int64),
                   np.stack([r.images for r in results]), np.stack([r.end for r in results]), meta)
