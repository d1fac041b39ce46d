"""torchvision and torch's compiler (each ~2 s and ~150 MB on import) are loaded only when an ImageNet net is used:
a class served CIFAR nets never pays for them, and the copies that make this possible stay equal to torchvision's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from resnet_viz.checkpoints.pretrained import DOWNLOAD_HOST, HUB_FILES
from resnet_viz.models.registry import IMAGENET_CLASSES, MODELS

ROOT = Path(__file__).resolve().parents[2]

CIFAR_WORK = """
import sys
from PIL import Image
import ui.models, ui.images, ui.common  # the sidebar and the image input of every page
from resnet_viz.checkpoints.find import find_checkpoints, load_model
from resnet_viz.checkpoints.pretrained import pretrained_cached
from resnet_viz.images import preprocess
from resnet_viz.inspect.architecture import summarize
from resnet_viz.models.blocks import shortcut_of
from resnet_viz.models.registry import MODELS

cached = [pretrained_cached(n) for n in MODELS]  # the sidebar's question for every net
loaded = load_model(next(c.path for c in find_checkpoints() if c.model == "resnet20"))
x = preprocess(Image.new("RGB", (640, 480), (90, 120, 200)), loaded).tensor
loaded.model(x)
summarize("resnet56")
from resnet_viz.inspect.resnet_code import trace
from resnet_viz.paper.figure7 import reference_seconds_per_mac
trace(3, "A"), trace(3, None), reference_seconds_per_mac()  # the hand-written ResNet page, Figure 7's estimate
kinds = {shortcut_of(m).kind for m in loaded.model.modules()}
assert {"identity", "pad"} <= kinds, kinds
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torchvision", "torch._dynamo")))
"""


def test_cifar_work_imports_neither_torchvision_nor_the_compiler():
    env = {**os.environ, "RESNET_VIZ_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", CIFAR_WORK], cwd=ROOT, capture_output=True, text=True, env=env,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_an_imagenet_net_still_has_torchvisions_blocks_and_shortcuts():
    from torchvision.models import resnet as tv_resnet

    from resnet_viz.models.blocks import shortcut_of
    from resnet_viz.models.registry import build_model

    resnet, plain = build_model("resnet18"), build_model("plain18")
    assert isinstance(resnet, tv_resnet.ResNet)
    assert [shortcut_of(b).kind for b in resnet.layer2] == ["projection", "identity"]
    assert [shortcut_of(b).kind for b in plain.layer2] == [None, None]


def test_the_shipped_imagenet_class_names_are_torchvisions():
    from torchvision.models import ResNet18_Weights

    assert IMAGENET_CLASSES == tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if s.pretrained])
def test_the_hub_file_of_every_pretrained_net_is_torchvisions(name):
    from torchvision.models import get_weight

    spec = MODELS[name]
    url = get_weight(spec.pretrained).url
    assert HUB_FILES[spec.pretrained] == Path(url).name and urlparse(url).hostname == DOWNLOAD_HOST
