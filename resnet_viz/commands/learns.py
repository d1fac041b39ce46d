"""``learns CHECKPOINT...``: what each layer learns. Writes a channel's top patches over a dataset as a PNG grid
(one 3 x 3 grid per channel), or with ``--feature-vis`` regenerates the feature visualisations the app ships
(``assets/feature_vis/<model>.npz``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from resnet_viz import cli_args
from resnet_viz.checkpoints.identity import model_fingerprint
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.checkpoints.write import atomic_write
from resnet_viz.errors import InputError
from resnet_viz.explain.feature_vis import FEATURE_VIS_DIR, VisConfig, grid_for, save_grid
from resnet_viz.inspect.feature_maps import LayerSpec, layer_specs
from resnet_viz.inspect.layer_learns import class_agreement, crops, stage_layers, top_activations
from resnet_viz.render.colour import png_bytes
from resnet_viz.render.plots.layer_learns import mosaic, patch_grid
from resnet_viz.samples import Split

PER_STAGE = 6


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_args.checkpoints(p)
    cli_args.maxpool(p)
    p.add_argument("--layer", help="a layer key (conv1, stage2_3, conv4_2, ...; default: each stage's last layer)")
    p.add_argument("--channels", help="comma-separated channels (default: the busiest, see --busiest)")
    p.add_argument("--busiest", type=int, default=1,
                   help="how many of the busiest channels (highest mean activation) per layer (default 1)")
    cli_args.sample(p)
    p.add_argument("--out", default="top_patches.png", help="PNG to write (several checkpoints: NAME_ prefixed)")
    cli_args.threads(p)
    p.add_argument("--feature-vis", action="store_true",
                   help=f"regenerate the shipped feature visualisations: {PER_STAGE} channels per stage")
    p.add_argument("--out-dir", default=str(FEATURE_VIS_DIR), help="folder of --feature-vis's .npz files")
    p.add_argument("--steps", type=int, default=VisConfig().steps, help="optimisation steps per picture")
    p.add_argument("--seed", type=int, default=0)


def _layers(loaded: LoadedModel, key: str | None) -> list[LayerSpec]:
    if key is None:
        return stage_layers(loaded.model, loaded.spec)
    found = {layer.key: layer for layer in layer_specs(loaded.model, loaded.spec)}
    if key not in found:
        raise InputError("layer_learns.unknown_layer", layer=key, layers=", ".join(found))
    return [found[key]]


def top_patches(loaded: LoadedModel, args: argparse.Namespace, sample: Split, out: Path) -> None:
    images, labels, classes = sample
    if loaded.spec.dataset != "cifar10":
        print(f"note: {loaded.label} was trained on {loaded.input_size} px images; these are "
              f"{images.shape[-1]} px", file=sys.stderr)
    start = time.perf_counter()
    found = top_activations(loaded.model, _layers(loaded, args.layer), images, loaded.mean, loaded.std)
    print(f"{loaded.label}: {len(images)} images, {time.perf_counter() - start:.2f} s (one pass)")
    hwc = images.permute(0, 2, 3, 1).numpy()
    grids = []
    for key, top in found.items():
        chosen = [int(c) for c in args.channels.split(",")] if args.channels else top.busiest(args.busiest)
        print(f"  {key}: receptive field {top.rf.size} px, top-9 images of one class "
              f"{100 * class_agreement(top, labels.numpy()):.0f} % (mean over channels)")
        for c in chosen:
            if not 0 <= c < top.channels:
                raise InputError("layer_learns.bad_channel", layer=key, channel=c, last=top.channels - 1)
            names = [classes[int(labels[p.image])] if classes else str(int(labels[p.image])) for p in crops(top, c)]
            best = ", ".join(f"{v:.3f}" for v in top.values[c][:3])
            print(f"    channel {c}: top values {best}, ...; classes {', '.join(names)}")
            grids.append(patch_grid(hwc, crops(top, c), top.rf.size))
    width = max(g.shape[1] for g in grids)
    padded = [np.pad(g, ((0, max(x.shape[0] for x in grids) - g.shape[0]), (0, width - g.shape[1]), (0, 0)),
                     constant_values=255) for g in grids]
    atomic_write(out, png_bytes(mosaic(padded, cols=min(len(padded), 6), target=1)))
    print(f"  wrote {out}")


def feature_vis(loaded: LoadedModel, args: argparse.Namespace, images: torch.Tensor) -> None:
    layers = stage_layers(loaded.model, loaded.spec)
    found = top_activations(loaded.model, layers, images, loaded.mean, loaded.std)
    channels = [found[layer.key].busiest(PER_STAGE) for layer in layers]  # the busiest on --data
    config = VisConfig.for_dataset(loaded.spec.dataset, steps=args.steps, seed=args.seed)
    grid = grid_for(loaded.model, layers, channels, loaded.mean, loaded.std, config, name=loaded.spec.name,
                    fingerprint=model_fingerprint(loaded.model))
    path = save_grid(grid, Path(args.out_dir))
    print(f"{loaded.label}: {grid.meta['seconds']} s, {grid.meta['seconds_per_channel']} s per channel, "
          f"{path.stat().st_size / 1024:.0f} KB -> {path}")


def run(args: argparse.Namespace) -> int:
    cli_args.use_threads(args)
    sample = cli_args.read_sample(args, args.limit)
    for _, loaded in cli_args.each_model(args):
        if args.feature_vis:
            feature_vis(loaded, args, sample[0])
            continue
        out = Path(args.out)
        if len(args.checkpoints) > 1:
            out = out.with_name(f"{loaded.spec.name}_{out.name}")
        top_patches(loaded, args, sample, out)
    return 0
