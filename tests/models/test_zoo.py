"""The zoo against the paper's reference sheet (../shared/reference/resnet-paper-facts.md)."""

import pytest
import torch

from resnet_viz.models import PadShortcut
from resnet_viz.models.registry import (
    IMAGENET_CLASSES,
    MODELS,
    build_model,
    count_params,
    display_name,
    get_spec,
    plain_twin,
)

# Copied from the reference sheet; every zoo model is checked.
PARAMS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808, "vgg19": 143_667_240, "plain18": 11_515_688, "plain34": 21_623_848,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018, "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    # Option A shortcuts have no parameters: plain and residual CIFAR nets have identical counts.
    "plain20": 269_722, "plain32": 464_154, "plain44": 658_586, "plain56": 853_018, "plain110": 1_727_962,
    # Not on the sheet: Table 1's ResNet-18/34 with a 3x3 stem and 10 outputs, as kuangliu/pytorch-cifar's
    # ResNet18/34 count (tests/checkpoints/test_community.py loads that code's files into them).
    "resnet18_cifar": 11_173_962, "resnet34_cifar": 21_282_122,
}


def _meta_params(name: str, **kwargs) -> int:
    with torch.device("meta"):
        return count_params(build_model(name, **kwargs))


def test_all_twenty_one_models_are_registered():
    assert set(MODELS) == set(PARAMS)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_param_counts_match_reference(name):
    assert _meta_params(name) == PARAMS[name]


def test_resnet34_option_a_equals_plain34():
    assert _meta_params("resnet34", shortcut="A") == PARAMS["plain34"]


def test_option_b_adds_projections_on_cifar():
    # Two stride-2 transitions (16->32, 32->64): a 1x1 conv + BN each.
    extra = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert _meta_params("resnet20", shortcut="B") == PARAMS["resnet20"] + extra


def test_option_c_projects_every_shortcut():
    assert _meta_params("resnet34", shortcut="C") > PARAMS["resnet34"]


@pytest.mark.parametrize("name,depth", [("resnet20", 20), ("plain56", 56), ("resnet110", 110)])
def test_cifar_depth_counts_weight_layers(name, depth):
    with torch.device("meta"):
        model = build_model(name)
    weighted = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weighted) == depth


def test_cifar_forward_shapes_and_option_a_padding():
    model = build_model("resnet20").eval()
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    pad = PadShortcut(16, 32, 2)
    x = torch.randn(1, 16, 8, 8)
    y = pad(x)
    assert y.shape == (1, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2]) and not y[:, :8].any() and not y[:, 24:].any()


def test_plain_net_has_no_shortcut():
    model = build_model("plain20")
    assert all(block.shortcut is None for layer in (model.layer1, model.layer2, model.layer3) for block in layer)
    with torch.device("meta"):
        plain34 = build_model("plain34")
    assert all(b.downsample is None for layer in (plain34.layer1, plain34.layer4) for b in layer)


def test_plain34_forward_at_small_size():
    model = build_model("plain18").eval()
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_specs_carry_what_pages_need():
    spec = get_spec("resnet34")
    assert spec.input_size == 224 and len(spec.classes) == 1000 and spec.mean == (0.485, 0.456, 0.406)
    assert list(spec.stages()) == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "fc"]
    assert spec.blocks()["conv3_1"] == "layer2.0" and len(spec.blocks()) == 16
    assert spec.paper_name("layer3.2.conv1") == "conv4_3"
    cifar = get_spec("resnet56")
    assert cifar.input_size == 32 and cifar.classes[3] == "cat" and len(cifar.blocks()) == 27
    assert list(cifar.stages())[1:4] == ["stage1", "stage2", "stage3"]
    assert get_spec("vgg19").paper_name("features.21") == "conv4_x"


def test_every_mapped_module_path_exists():
    for name in ("resnet18", "resnet50", "plain34", "vgg19", "resnet20", "plain56"):
        with torch.device("meta"):
            modules = dict(build_model(name).named_modules())
        spec = get_spec(name)
        for paths in list(spec.stages().values()) + list(spec.blocks().values()):
            for path in paths.split(","):
                assert path in modules, (name, path)


def test_unknown_names_are_refused_clearly():
    with pytest.raises(KeyError, match="unknown model"):
        get_spec("resnet9000")
    with pytest.raises(ValueError, match="6n\\+2"):
        from resnet_viz.models import cifar_net
        cifar_net(21)
    with pytest.raises(ValueError, match="shortcut option"):
        build_model("resnet20", shortcut="Z")


def test_plain_twin_is_the_same_depth_without_shortcuts():
    assert plain_twin("resnet20") == "plain20" and plain_twin("ResNet56") == "plain56"
    assert plain_twin("resnet34") == "plain34" and plain_twin("resnet18") == "plain18"
    for name in ("resnet50", "resnet1202", "plain20", "vgg19", "resnet9000"):  # no plain twin, or not a ResNet
        assert plain_twin(name) is None, name
    for name in MODELS:
        twin = plain_twin(name)
        if twin is not None:
            a, b = get_spec(name), get_spec(twin)
            assert (a.depth, a.dataset, a.family, b.family) == (b.depth, b.dataset, "resnet", "plain")


def test_shortcuts_are_told_apart_by_type():
    from torch import nn

    from resnet_viz.models.blocks import shortcut_of

    def kinds(model) -> list:
        return [shortcut_of(m).kind for m in model.modules() if shortcut_of(m).attr is not None]

    assert set(kinds(build_model("resnet20"))) == {"identity", "pad"} and kinds(build_model("plain20")) == []
    assert set(kinds(build_model("resnet20", shortcut="B"))) == {"identity", "projection"}
    with torch.device("meta"):
        resnet18, plain18 = build_model("resnet18"), build_model("plain18")
        option_a = build_model("resnet18", shortcut="A")
    first, down = shortcut_of(resnet18.layer1[0]), shortcut_of(resnet18.layer2[0])
    assert (first.kind, first.attr, first.module, first.transform) == ("identity", "downsample", None, None)
    assert down.kind == "projection" and down.transform is resnet18.layer2[0].downsample
    assert shortcut_of(option_a.layer2[0]).kind == "pad" and kinds(plain18) == []
    identity = shortcut_of(build_model("resnet20").layer1[0])
    assert isinstance(identity.module, nn.Identity) and identity.transform is None
    assert shortcut_of(resnet18).kind is None and shortcut_of(nn.Conv2d(1, 1, 1)).kind is None


def test_paper_names_of_the_nets():
    assert [display_name(n) for n in ("resnet56", "plain20", "vgg19", "ResNet110", "plain326")] == [
        "ResNet-56", "plain-20", "VGG-19", "ResNet-110", "plain-326"]  # also depths the zoo does not list
    assert {display_name(n) for n in MODELS} >= {"ResNet-18", "plain-34", "ResNet-1202"}
    with pytest.raises(ValueError):
        display_name("alexnet")


def test_one_stage_table_and_the_public_class_names():
    from resnet_viz.models.stages import STAGE_BLOCKS

    for depth, counts in STAGE_BLOCKS.items():
        assert len(get_spec(f"resnet{depth}").blocks()) == sum(counts)
        assert sum(counts) * (3 if depth >= 50 else 2) + 2 == depth  # the blocks' convs, the stem and the fc
    assert len(IMAGENET_CLASSES) == 1000 and IMAGENET_CLASSES[0] == "tench" and IMAGENET_CLASSES[-1] == "toilet tissue"


def test_blocks_are_named_in_the_papers_style_everywhere():
    from resnet_viz.models.registry import cifar_paper_path, get_spec

    cifar = get_spec("resnet56")
    assert cifar.paper_path("layer1.2.conv2") == "stage1_3.conv2" and cifar.paper_path("layer3.8") == "stage3_9"
    assert cifar.paper_path("conv1") == "conv1" and cifar.paper_path("linear") == "linear"
    assert all(cifar.paper_path(path) == name for name, path in cifar.blocks().items())
    assert cifar_paper_path("layer2.0.shortcut") == "stage2_1.shortcut" and cifar_paper_path("layer2") == "layer2"
    imagenet = get_spec("resnet34")
    assert imagenet.paper_path("layer2.0.downsample.0") == "conv3_1.downsample.0"
    assert all(imagenet.paper_path(path) == name for name, path in imagenet.blocks().items())
