"""The model registry: one call builds any network by name, with what a page needs to use it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from torch import nn

from resnet_viz import ASSETS_DIR
from resnet_viz.models.cifar import cifar_net
from resnet_viz.models.cifar64 import Cifar64Net
from resnet_viz.models.stages import STAGE_BLOCKS
from resnet_viz.seeded import drawing

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# torchvision's ImageNet category names (its weights' metadata), shipped so that a process serving only CIFAR nets
# never imports torchvision (2 s and 170 MB); a test keeps the copy equal to torchvision's.
IMAGENET_CLASSES = tuple((ASSETS_DIR / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines())
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Per-channel statistics of the official CIFAR-10 training split; a checkpoint carries its own.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

SHORTCUT_OPTIONS = ("A", "B", "C")
CIFAR64_SUFFIX = "_cifar"  # resnet18_cifar: Table 1's ResNet-18 adapted to CIFAR (models.cifar64)


def cifar_block(stage: int, block: int) -> str:
    """The name of block ``block`` (from 0, as in the module path) of CIFAR stage ``stage``: ``stage2_1``."""
    return f"stage{stage}_{block + 1}"


def cifar_paper_path(module_path: str) -> str:
    """A CIFAR net's module path with its block named as the pages name it (``layer1.2.conv2`` ->
    ``stage1_3.conv2``), whatever the depth; other paths stay as they are."""
    return re.sub(r"^layer(\d+)\.(\d+)(?=\.|$)", lambda m: cifar_block(int(m[1]), int(m[2])), module_path)


@dataclass(frozen=True)
class ModelSpec:
    """Everything about a zoo model that does not depend on its weights."""

    name: str
    family: str  # "resnet", "plain" or "vgg"
    dataset: str  # "imagenet" or "cifar10"
    depth: int
    input_size: int
    resize_size: int  # shorter side before the centre crop (= input_size for CIFAR)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]
    block: str | None  # "basic", "bottleneck" or None (VGG)
    layout: str  # "cifar" (section 4.2: three stages, 6n+2 layers), "table1" (Table 1's four stages) or "vgg"
    default_shortcut: str | None  # None for nets without shortcuts
    pretrained: str | None  # torchvision weights enum member, e.g. "ResNet18_Weights.DEFAULT"
    builder: Callable[..., nn.Module] = field(repr=False, compare=False)

    @property
    def residual(self) -> bool:
        return self.family == "resnet"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def maxpool_option(self) -> bool:
        """Whether the stem may keep torchvision's 3x3 max pool (Table 1's nets adapted to 32x32 inputs)."""
        return self.layout == "table1" and self.dataset == "cifar10"

    def build(self, *, shortcut: str | None = None, num_classes: int | None = None,
              maxpool: bool = False) -> nn.Module:
        """A freshly initialised model; ``shortcut`` picks option A/B/C on residual nets, ``maxpool`` keeps the
        stem's max pool where ``maxpool_option`` allows it."""
        kwargs: dict[str, int | str | bool] = {}
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        if maxpool:
            if not self.maxpool_option:
                raise ValueError(f"{self.name} has no max-pool option")
            kwargs["maxpool"] = True
        if self.residual:
            option = (shortcut or self.default_shortcut or "A").upper()
            if option not in SHORTCUT_OPTIONS:
                raise ValueError(f"unknown shortcut option {shortcut!r} (expected A, B or C)")
            kwargs["option"] = option
        with drawing():  # its weights' initialisation draws from torch's global generator
            return self.builder(**kwargs)

    def stages(self) -> dict[str, str]:
        """Paper stage name -> module path, in forward order."""
        if self.layout == "vgg":
            return dict(_VGG_STAGES)
        if self.layout == "cifar":
            return {"conv1": "conv1", "stage1": "layer1", "stage2": "layer2", "stage3": "layer3", "fc": "linear"}
        return {"conv1": "conv1", "conv2_x": "layer1", "conv3_x": "layer2", "conv4_x": "layer3",
                "conv5_x": "layer4", "fc": "linear" if self.dataset == "cifar10" else "fc"}

    def blocks(self) -> dict[str, str]:
        """Paper block name (conv3_1, stage2_1, ...) -> module path, in forward order."""
        if self.layout == "vgg":
            return {}
        if self.layout == "cifar":
            n = (self.depth - 2) // 6
            return {cifar_block(s, b): f"layer{s}.{b}" for s in (1, 2, 3) for b in range(n)}
        counts = STAGE_BLOCKS[self.depth]
        return {f"conv{s + 2}_{b + 1}": f"layer{s + 1}.{b}" for s, c in enumerate(counts) for b in range(c)}

    def paper_path(self, module_path: str) -> str:
        """``module_path`` with its block written as every page and command writes it: the paper's style, stage
        then block counted from 1 (``layer1.2.conv2`` -> ``stage1_3.conv2``, ``layer2.0`` -> ``conv3_1``); a path
        outside the blocks stays as it is."""
        if self.layout == "cifar":
            return cifar_paper_path(module_path)
        for paper, path in self.blocks().items():
            if module_path == path or module_path.startswith(path + "."):
                return paper + module_path[len(path):]
        return module_path

    def paper_name(self, module_path: str) -> str | None:
        """The paper's name of the stage or block that holds ``module_path`` (None: stem extras, pools)."""
        best, best_len = None, -1
        for table in (self.stages(), self.blocks()):
            for paper, path in table.items():
                for p in path.split(","):
                    if (module_path == p or module_path.startswith(p + ".")) and len(p) > best_len:
                        best, best_len = paper, len(p)
        return best


# VGG-19 `features` indices between its pooling layers (the paper's Figure 3 left column).
_VGG_STAGES = (("conv1_x", "features.0,features.1,features.2,features.3"),
               ("pool1", "features.4"),
               ("conv2_x", "features.5,features.6,features.7,features.8"),
               ("pool2", "features.9"),
               ("conv3_x", ",".join(f"features.{i}" for i in range(10, 18))),
               ("pool3", "features.18"),
               ("conv4_x", ",".join(f"features.{i}" for i in range(19, 27))),
               ("pool4", "features.27"),
               ("conv5_x", ",".join(f"features.{i}" for i in range(28, 36))),
               ("pool5", "features.36"),
               ("fc", "avgpool,classifier"))


def _imagenet(name: str, family: str, depth: int, pretrained: str | None, builder) -> ModelSpec:
    return ModelSpec(name=name, family=family, dataset="imagenet", depth=depth, input_size=224, resize_size=256,
                     mean=IMAGENET_MEAN, std=IMAGENET_STD, classes=IMAGENET_CLASSES,
                     block=None if family == "vgg" else ("bottleneck" if depth >= 50 else "basic"),
                     layout="vgg" if family == "vgg" else "table1",
                     default_shortcut="B" if family == "resnet" else None, pretrained=pretrained, builder=builder)


def _cifar(depth: int, residual: bool) -> ModelSpec:
    return ModelSpec(name=f"{'resnet' if residual else 'plain'}{depth}", family="resnet" if residual else "plain",
                     dataset="cifar10", depth=depth, input_size=32, resize_size=32, mean=CIFAR10_MEAN,
                     std=CIFAR10_STD, classes=CIFAR10_CLASSES, block="basic", layout="cifar",
                     default_shortcut="A" if residual else None, pretrained=None,
                     builder=partial(cifar_net, depth, residual=residual))


def _cifar64(depth: int) -> ModelSpec:
    """Table 1's ResNet-18/34 with a 3x3 stem for 32x32 inputs (``models.cifar64``), option B as in kuangliu's."""
    return ModelSpec(name=f"resnet{depth}{CIFAR64_SUFFIX}", family="resnet", dataset="cifar10", depth=depth,
                     input_size=32, resize_size=32, mean=CIFAR10_MEAN, std=CIFAR10_STD, classes=CIFAR10_CLASSES,
                     block="basic", layout="table1", default_shortcut="B", pretrained=None,
                     builder=partial(Cifar64Net, STAGE_BLOCKS[depth]))


# The ImageNet builders import torchvision when first called (see IMAGENET_CLASSES).
def _imagenet_resnet(depth: int, **kwargs) -> nn.Module:
    from resnet_viz.models.imagenet import imagenet_resnet

    return imagenet_resnet(depth, **kwargs)


def _imagenet_plain(depth: int, **kwargs) -> nn.Module:
    from resnet_viz.models.imagenet import imagenet_plain

    return imagenet_plain(depth, **kwargs)


def _vgg19(num_classes: int = 1000) -> nn.Module:
    from torchvision.models import vgg19

    return vgg19(weights=None, num_classes=num_classes)


def _registry() -> dict[str, ModelSpec]:
    specs: list[ModelSpec] = []
    for depth in (18, 34, 50, 101, 152):
        specs.append(_imagenet(f"resnet{depth}", "resnet", depth, f"ResNet{depth}_Weights.DEFAULT",
                               partial(_imagenet_resnet, depth)))
    specs.append(_imagenet("vgg19", "vgg", 19, "VGG19_Weights.DEFAULT", _vgg19))
    for depth in (18, 34):
        specs.append(_imagenet(f"plain{depth}", "plain", depth, None, partial(_imagenet_plain, depth)))
    for depth in (20, 32, 44, 56, 110, 1202):
        specs.append(_cifar(depth, True))
    for depth in (20, 32, 44, 56, 110):
        specs.append(_cifar(depth, False))
    for depth in (18, 34):
        specs.append(_cifar64(depth))
    return {s.name: s for s in specs}


MODELS: dict[str, ModelSpec] = _registry()


def model_names(dataset: str | None = None) -> list[str]:
    return [n for n, s in MODELS.items() if dataset is None or s.dataset == dataset]


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


_PAPER_FAMILY = {"resnet": "ResNet", "plain": "plain", "vgg": "VGG"}


def display_name(name: str) -> str:
    """The paper's name of a net: "resnet56" -> "ResNet-56", "plain20" -> "plain-20", "vgg19" -> "VGG-19",
    "resnet18_cifar" -> "ResNet-18 (CIFAR)" (also for depths the zoo does not list, e.g. a gradient-flow net of any
    6n+2 depth)."""
    match = re.fullmatch(rf"(resnet|plain|vgg)(\d+)({CIFAR64_SUFFIX})?", name.lower())
    if match is None:
        raise ValueError(f"not a zoo-style model name: {name!r} (expected resnet<depth>, plain<depth> or vgg<depth>)")
    return f"{_PAPER_FAMILY[match.group(1)]}-{int(match.group(2))}" + (" (CIFAR)" if match.group(3) else "")


def plain_twin(name: str) -> str | None:
    """The plain net a ResNet is compared with: the same depth without shortcuts (resnet20 -> plain20,
    resnet34 -> plain34). None for a net that is not a ResNet or whose depth the zoo has no plain net of."""
    spec = MODELS.get(name.lower())
    if spec is None or not spec.residual:
        return None
    plain = MODELS.get(f"plain{spec.depth}")
    return plain.name if plain is not None and plain.dataset == spec.dataset else None


def build_model(name: str, *, shortcut: str | None = None, num_classes: int | None = None,
                maxpool: bool = False) -> nn.Module:
    """A freshly initialised zoo model by name (``resnet56``, ``plain34``, ``vgg19``, ``resnet18_cifar``, ...)."""
    return get_spec(name).build(shortcut=shortcut, num_classes=num_classes, maxpool=maxpool)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
