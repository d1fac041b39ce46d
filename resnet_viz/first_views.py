"""What every student's first visit computes for a shipped CIFAR-10 network, computed once when the network ships
(``python -m resnet_viz first-views``) and read back by the pages: the top patches of its stage layers over the
test sample (What each layer learns), its logits on that sample (Evaluate) and its gradient flow on the sample's
first batch (Gradient flow); and, in one file beside them, the gradient flow of the plain and residual nets that
page opens on at initialisation.

A file serves only the very weights and preprocessing it was computed from (``model_key``; at initialisation: the
weights this torch and this code draw from the seed) and the very sample (the sample file's hash): a retrained
network, another torch or a new sample never shows stale results, it computes them live.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from resnet_viz import ASSETS_DIR
from resnet_viz.checkpoints.identity import model_fingerprint, model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.checkpoints.write import atomic_write
from resnet_viz.inspect.layer_learns import TopActivations, stage_layers, top_activations
from resnet_viz.inspect.receptive_field import ReceptiveField
from resnet_viz.paper import gradient_flow as gf
from resnet_viz.paper.gradient_flow import GradientFlow
from resnet_viz.samples import TEST_SAMPLE, load_test_sample
from resnet_viz.train.evaluate import sample_logits

FIRST_VIEWS_DIR = ASSETS_DIR / "first_views"
AT_INIT_FILE = "gradient_flow_at_init.json"
TOP_LIMIT = 1000  # What each layer learns opens on its largest sample (pages/layer_learns.py SAMPLE_SIZES[-1])
# each array of a TopActivations: (dtype on disk, dtype in memory)
_ARRAYS = {"values": (np.float32, np.float32), "image": (np.int32, np.int64), "row": (np.int16, np.int64),
           "col": (np.int16, np.int64), "channel_mean": (np.float64, np.float64)}


@dataclass(frozen=True)
class FirstViews:
    model: str  # the zoo name
    key: str  # model_key of the network it was computed from
    sample: str  # sample_digest of the sample file
    limit: int  # the top patches are over the first ``limit`` sample images
    tops: dict[str, TopActivations]
    logits: np.ndarray  # (N, classes) float32 over the whole sample
    gradient_flow: GradientFlow | None = None  # on the sample's first gf.BATCH_SIZE images

    def serves(self, loaded: LoadedModel, sample: str) -> bool:
        return self.key == model_key(loaded) and self.sample == sample


@cache
def sample_digest(path: Path = TEST_SAMPLE) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:32]


def compute(loaded: LoadedModel, limit: int = TOP_LIMIT) -> FirstViews:
    """The first views of ``loaded`` on the shipped test sample: two passes, as the pages make them."""
    images, labels, _ = load_test_sample()
    tops = top_activations(loaded.model, stage_layers(loaded.model, loaded.spec), images[:limit], loaded.mean,
                           loaded.std)
    logits = sample_logits(loaded.model, images, mean=loaded.mean, std=loaded.std)
    flow = gf.of_checkpoint(loaded, images[:gf.BATCH_SIZE], labels[:gf.BATCH_SIZE])
    return FirstViews(loaded.spec.name, model_key(loaded), sample_digest(), limit, tops,
                      logits.numpy().astype(np.float32), flow)


def path_of(model: str, folder: Path = FIRST_VIEWS_DIR) -> Path:
    return folder / f"{model}.npz"


def save(views: FirstViews, folder: Path = FIRST_VIEWS_DIR) -> Path:
    layers = [{"key": t.key, "path": t.path, "rf": [t.rf.size, t.rf.jump, t.rf.start], "map_shape": t.map_shape,
               "input_shape": t.input_shape, "images": t.images} for t in views.tops.values()]
    meta = {"model": views.model, "key": views.key, "sample": views.sample, "limit": views.limit, "layers": layers,
            "gradient_flow": views.gradient_flow.to_dict() if views.gradient_flow is not None else None}
    arrays = {f"{i}_{name}": getattr(top, name).astype(disk)
              for i, top in enumerate(views.tops.values()) for name, (disk, _) in _ARRAYS.items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.array(json.dumps(meta, sort_keys=True)), logits=views.logits, **arrays)
    path = path_of(views.model, folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue())
    return path


def load(model: str, folder: Path = FIRST_VIEWS_DIR) -> FirstViews | None:
    """The shipped first views of zoo model ``model``; None when there are none or the file cannot be read."""
    path = path_of(model, folder)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            tops = {}
            for i, layer in enumerate(meta["layers"]):
                size, jump, start = layer["rf"]
                arrays = {name: data[f"{i}_{name}"].astype(memory) for name, (_, memory) in _ARRAYS.items()}
                tops[layer["key"]] = TopActivations(layer["key"], layer["path"], ReceptiveField(size, jump, start),
                                                    map_shape=tuple(layer["map_shape"]),
                                                    input_shape=tuple(layer["input_shape"]), images=layer["images"],
                                                    **arrays)
            flow = meta.get("gradient_flow")  # absent from a file written before it was shipped
            return FirstViews(meta["model"], meta["key"], meta["sample"], int(meta["limit"]), tops,
                              data["logits"].astype(np.float32), GradientFlow.from_dict(flow) if flow else None)
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):  # a truncated or foreign file
        return None


def shipped_for(loaded: LoadedModel, folder: Path = FIRST_VIEWS_DIR) -> FirstViews | None:
    """The shipped first views that were computed from exactly this network and the shipped sample, else None."""
    views = load(loaded.spec.name, folder)
    return views if views is not None and views.serves(loaded, sample_digest()) else None


def logits_tensor(views: FirstViews) -> torch.Tensor:
    return torch.from_numpy(views.logits.copy())


# ---------------------------------------------------------------- the gradient flow at initialisation

def at_init_key(depth: int, residual: bool, batch_norm: bool, init: str, seed: int) -> str:
    """What a measurement at initialisation depends on: the setting, the weights that this torch and this code draw
    for it (a plain and a residual net of one depth have the same weights) and the batch."""
    net = gf.fresh_net(depth, residual=residual, batch_norm=batch_norm, init=init, seed=seed)
    return f"{_setting(depth, residual, batch_norm, init, seed)}{model_fingerprint(net)}:{sample_digest()}"


def _setting(depth: int, residual: bool, batch_norm: bool, init: str, seed: int) -> str:
    return f"{depth}:{residual}:{batch_norm}:{init}:{seed}:"


def compute_at_init(depth: int = gf.DEFAULT_DEPTH, init: str = gf.DEFAULT_INIT,
                    seed: int = gf.SEED) -> dict[str, GradientFlow]:
    """The plain and residual nets of the page's first view at initialisation (BN on), by ``at_init_key``."""
    images, labels, _ = load_test_sample(limit=gf.BATCH_SIZE)
    return {at_init_key(depth, residual, True, init, seed):
            gf.at_init(depth, images, labels, residual=residual, seed=seed, init=init) for residual in (False, True)}


def at_init_current(folder: Path = FIRST_VIEWS_DIR) -> bool:
    """The folder's measurement at initialisation serves the page's first view (both nets): nothing to recompute,
    since it depends only on this code, this torch and the sample, not on any checkpoint."""
    return all(shipped_at_init(gf.DEFAULT_DEPTH, residual, True, gf.DEFAULT_INIT, gf.SEED, folder) is not None
               for residual in (False, True))


def save_at_init(flows: dict[str, GradientFlow], folder: Path = FIRST_VIEWS_DIR) -> Path:
    path = folder / AT_INIT_FILE
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({key: flow.to_dict() for key, flow in flows.items()}, indent=1, sort_keys=True)
    atomic_write(path, (text + "\n").encode())
    return path


def shipped_at_init(depth: int, residual: bool, batch_norm: bool, init: str, seed: int,
                    folder: Path = FIRST_VIEWS_DIR) -> GradientFlow | None:
    """The shipped measurement of this setting at initialisation, if it was made from the very weights this torch
    draws for it and the shipped sample; else None (the page computes it)."""
    try:
        shipped = json.loads((folder / AT_INIT_FILE).read_text())
        setting = _setting(depth, residual, batch_norm, init, seed)
        if not any(key.startswith(setting) for key in shipped):  # no net built for a setting never shipped
            return None
        flow = shipped.get(at_init_key(depth, residual, batch_norm, init, seed))
        return GradientFlow.from_dict(flow) if flow is not None else None
    except (OSError, ValueError, TypeError, AttributeError):  # no file, or a truncated or foreign one
        return None
