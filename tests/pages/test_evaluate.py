"""The Evaluate page: confusion matrix, per-class accuracy and confident mistakes (resnet_viz.train.evaluate), its
figures, checkpoint uploads (ours with the sidecar, akamaster's, junk) and the page in both languages."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.checkpoints.find import SHIPPED_DIR
from resnet_viz.errors import DataError, LoadError
from resnet_viz.i18n import t
from resnet_viz.models.registry import build_model
from resnet_viz.render.plots.evaluate import confusion_figure, per_class_figure
from resnet_viz.train import evaluate as E
from tests.conftest import app_page, assert_no_exception, held_uploads, uploader
from tests.corpus import akamaster_file_bytes

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CLASSES = ("cat", "dog", "ship", "truck")


def _random(n: int = 60, c: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g)


def test_confusion_matrix_and_per_class_accuracy_match_a_brute_count():
    logits, labels = _random()
    result = E.evaluate_logits(logits, labels, CLASSES)
    predicted = logits.argmax(1).tolist()
    for i in range(4):
        for j in range(4):
            assert int(result.confusion[i, j]) == sum(1 for y, p in zip(labels.tolist(), predicted) if (y, p) == (i, j))
    assert result.confusion.sum(1).tolist() == torch.bincount(labels, minlength=4).tolist()
    assert int(result.confusion.sum()) == result.total == 60
    assert result.correct == sum(y == p for y, p in zip(labels.tolist(), predicted))
    for i, name in enumerate(CLASSES):
        rows = [p for y, p in zip(labels.tolist(), predicted) if y == i]
        assert result.per_class()[name] == pytest.approx(100 * sum(p == i for p in rows) / len(rows))
    assert result.loss == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)


def test_confident_mistakes_are_wrong_and_most_confident_first():
    logits = torch.tensor([[5.0, 0, 0], [0, 9.0, 0], [0, 0, 2.0], [0, 9.0, 0], [1.0, 0, 0], [0, 0, 7.0]])
    labels = torch.tensor([0, 0, 1, 2, 1, 2])  # rows 1, 2, 3, 4 are wrong; 1 and 3 tie
    mistakes = E.confident_mistakes(logits, labels, k=10)
    assert [m.index for m in mistakes] == [1, 3, 2, 4]
    assert [(m.true, m.predicted) for m in mistakes] == [(0, 1), (2, 1), (1, 2), (1, 0)]
    confidence = torch.softmax(logits.double(), 1).max(1).values
    assert [m.confidence for m in mistakes] == pytest.approx([float(confidence[i]) for i in (1, 3, 2, 4)])
    assert [m.index for m in E.confident_mistakes(logits, labels, k=2)] == [1, 3]
    assert E.confident_mistakes(logits, logits.argmax(1)) == []


def test_highlights_read_the_matrix():
    confusion = torch.tensor([[8, 2, 0], [5, 5, 0], [0, 1, 9]])
    h = E.highlights(E.EvalResult(0.0, 22, 30, confusion, ("a", "b", "c")))
    assert h.best == ("c", 90.0) and h.worst == ("b", 50.0) and h.confusion == ("b", "a", 5)
    clean = E.highlights(E.EvalResult(0.0, 4, 4, torch.diag(torch.tensor([2, 2])), ("a", "b")))
    assert clean.confusion is None


class _Tiny(nn.Module):
    """A fixed linear map of the mean colour: a model whose answers are easy to count by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.bn(self.fc(x.mean(dim=(2, 3))))


def test_sample_evaluation_renumbers_labels_and_leaves_the_model_as_found():
    torch.manual_seed(0)
    model = _Tiny().train()  # a shared model could be in any mode: it must come back in it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.randint(0, 256, (30, 3, 32, 32), dtype=torch.uint8)
    data_labels = torch.arange(30) % 3
    loaded = type("Loaded", (), dict(model=model, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                                     classes=("b", "c", "a")))()
    ev = E.evaluate_sample(loaded, images, data_labels, ("a", "b", "c"), batch_size=7)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model._forward_hooks and not model._forward_pre_hooks
    model.eval()
    with torch.no_grad():
        expected = model((images.float() / 255 - 0.5) / 0.25)
    assert torch.allclose(ev.logits, expected, atol=1e-5)
    assert ev.labels.tolist() == [[2, 0, 1][y] for y in data_labels.tolist()]  # a->2, b->0, c->1
    predicted = expected.argmax(1)
    assert ev.result.correct == int((predicted == ev.labels).sum()) and ev.result.total == 30
    with pytest.raises(DataError):
        E.evaluate_sample(loaded, images, data_labels, ("a", "b", "zebra"))


def test_figures_show_the_matrix_and_every_class():
    logits, labels = _random()
    result = E.evaluate_logits(logits, labels, CLASSES)
    heat = confusion_figure(result, "zh").data[0]
    assert heat.z == tuple(tuple(r) for r in result.confusion.tolist()) or list(map(list, heat.z)) == \
        result.confusion.tolist()
    assert list(heat.x) == ["猫", "狗", "船", "卡车"]
    bars = per_class_figure(result, "en").data[0]
    assert sorted(bars.x) == sorted(result.per_class().values()) and len(bars.y) == 4


def _shipped(name: str) -> tuple[bytes, bytes]:
    return ((SHIPPED_DIR / f"{name}.safetensors").read_bytes(), (SHIPPED_DIR / f"{name}.json").read_bytes())


def test_uploads_are_read_safely_with_their_sidecar():
    weights, sidecar = _shipped("resnet20")
    loaded = E.load_uploaded([("resnet20.safetensors", weights), ("resnet20.json", sidecar)], max_bytes=10**8)
    assert loaded.name == "resnet20" and loaded.accuracy == pytest.approx(json.loads(sidecar)["accuracy"])
    torch.manual_seed(1)
    aka = E.load_uploaded([("resnet20-12fca82f.th", akamaster_file_bytes(build_model("resnet20")))],
                          max_bytes=10**8)
    assert aka.source == "akamaster" and aka.meta["accuracy_source"] == "best_prec1"
    _, other = _shipped("plain20")
    with pytest.raises(LoadError) as wrong:
        E.load_uploaded([("resnet20.safetensors", weights), ("resnet20.json", other)], max_bytes=10**8)
    assert wrong.value.key == "load.sidecar_mismatch"
    for files, key in (([], "evaluate.upload_count"), ([("a.pt", b"x"), ("b.pt", b"y")], "evaluate.upload_count"),
                       ([("r.safetensors", weights), ("r.json", b"{not json")], "evaluate.bad_sidecar"),
                       ([("junk.pt", b"not a checkpoint at all")], "load.corrupt")):
        with pytest.raises(LoadError) as err:
            E.load_uploaded(files, max_bytes=10**8)
        assert err.value.key == key


@pytest.fixture(scope="module")
def shipped_accuracy() -> float:
    from resnet_viz.checkpoints.read import load_checkpoint
    from resnet_viz.samples import load_test_sample

    images, labels, classes = load_test_sample()
    return E.evaluate_sample(load_checkpoint(SHIPPED_DIR / "resnet20.safetensors"), images, labels,
                             classes).result.accuracy


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_evaluates_the_sidebar_model(lang, shipped_accuracy):
    at = app_page("pages/evaluate.py", lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("evaluate.title", lang)
    assert at.metric[0].value == f"{shipped_accuracy:.1f} %"
    assert len(at.get("plotly_chart")) == 2
    verdict = "evaluate.homework_pass" if shipped_accuracy >= 80 else "evaluate.homework_short"
    shown = [m.value for m in at.success] + [m.value for m in at.warning]
    assert t(verdict, lang, acc=f"{shipped_accuracy:.1f}", target="80") in shown
    assert any("python -m resnet_viz evaluate assets/checkpoints/resnet20.safetensors --data" in c.value
               for c in at.code)
    info = " ".join(i.value for i in at.info)
    margin = f"{E.sampling_margin(shipped_accuracy, 1000):.1f}"
    assert t("evaluate.sample_note", lang, images="1,000", per_class=100, margin=margin) in info
    assert at.radio(key="evaluate_source").options[0] == t("evaluate.source_sidebar", lang)
    claimed = float(at.metric[3].value.split()[0])  # the shipped file's own figure, on the whole JPEG test split
    claim = E.claim_gap(claimed, "CIFAR-10 (JPEG q75 copy)", shipped_accuracy, 1000)
    assert E.claim_sentence(claim, lang) in [c.value for c in at.caption]  # the same copy: sampling only


@pytest.mark.slow  # a second model's forward pass over the 1,000 images
def test_page_evaluates_an_akamaster_upload_lets_go_of_it_and_refuses_junk():
    torch.manual_seed(2)
    aka = akamaster_file_bytes(build_model("resnet20").eval(), best_prec1=91.73)
    at = app_page("pages/evaluate.py", lang="en")
    at.radio(key="evaluate_source").set_value("upload").run()
    assert_no_exception(at)
    assert t("evaluate.upload_waiting", "en") in [i.value for i in at.info]
    uploader(at, "evaluate_upload").set_value([("resnet20-12fca82f.th", aka, "application/octet-stream")])
    at.run()
    assert_no_exception(at)
    assert at.metric[3].value == "91.73 %" and len(at.get("plotly_chart")) == 2
    measured = float(at.metric[0].value.split()[0])
    sentence = next(c.value for c in at.caption if c.value.startswith("The file's own figure, 91.73 %"))
    assert "official CIFAR-10" in sentence and f"{measured:.1f} %" in sentence and "91.7 %" in sentence
    assert f"{91.73 - measured:.1f} points apart" in sentence
    assert any("format: akamaster" in c.value for c in at.caption)
    # the page keeps the model, not the file: the uploader is drawn anew and empty, no state holds the bytes
    assert uploader(at, "evaluate_upload").key == "evaluate_upload_1" and not held_uploads(at)
    assert t("evaluate.upload_held", "en", names="resnet20-12fca82f.th") in [c.value for c in at.caption]
    at.run()  # and the next run evaluates the same model
    assert at.metric[3].value == "91.73 %"
    uploader(at, "evaluate_upload").set_value([("model.pt", b"\x00junk", "application/octet-stream")])
    at.run()
    assert_no_exception(at)
    assert at.error and "model.pt" in at.error[0].value and not at.get("plotly_chart")
    # refused: the formats the page takes, and the line that converts a network of one's own
    assert any(i.value.startswith(t("evaluate.refused_formats", "en", limit_mb=128, out="checkpoints/model.safetensors")
                                  [:40]) for i in at.info)
    assert "python -m resnet_viz convert my_resnet.py:MyResNet model.pt" in [c.value for c in at.code]
    assert uploader(at, "evaluate_upload").key == "evaluate_upload_2" and not held_uploads(at)


@pytest.mark.slow  # a model's forward pass over the 1,000 images through the page, and the original code's too
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_evaluates_a_hub_file_as_the_original_code_scores_it(lang):
    from resnet_viz.checkpoints import community
    from resnet_viz.checkpoints.read import load_checkpoint_bytes
    from resnet_viz.samples import load_test_sample
    from tests import community_nets as N

    net = N.trained_like(N.CifarResNet(N.ChenyaofoBlock, [3, 3, 3]), seed=5)
    name, data = "cifar10_resnet20-4118986f.pt", N.torch_bytes(net.state_dict())
    images, labels, classes = load_test_sample()
    assert classes == tuple(community.FORMATS["chenyaofo"].classes)
    predicted = torch.cat([N.original_probabilities(net, images[i:i + 250], N.CHENYAOFO_NORMALIZE).argmax(1)
                           for i in range(0, len(images), 250)])
    at = app_page("pages/evaluate.py", lang=lang)
    at.radio(key="evaluate_source").set_value("upload").run()
    uploader(at, "evaluate_upload").set_value([(name, data, "application/octet-stream")]).run()
    assert_no_exception(at)
    assert at.metric[0].value == f"{100 * float((predicted == labels).float().mean()):.1f} %"
    assert at.metric[3].value == t("evaluate.metric_none", lang)  # a hub file claims nothing
    described = community.describe(load_checkpoint_bytes(data, name), lang)
    assert described in [c.value for c in at.caption] and "chenyaofo/pytorch-cifar-models" in described
    assert t("evaluate.maxpool_note", lang) not in [c.value for c in at.caption]


@pytest.mark.slow  # ResNet-18's forward pass over the 1,000 images
def test_page_evaluates_a_ckpt_and_a_torchvision_cifar_file():
    from tests import community_nets as N

    ckpt = N.kuangliu_ckpt(N.trained_like(N.ResNet(N.KuangliuBlock, [2, 2, 2, 2])), acc=95.44, epoch=199)
    tv = N.torch_bytes(N.trained_like(N.torchvision_cifar(18)).state_dict())
    at = app_page("pages/evaluate.py", lang="en")
    at.radio(key="evaluate_source").set_value("upload").run()
    uploader(at, "evaluate_upload").set_value([("ckpt.pth", ckpt, "application/octet-stream")]).run()
    assert_no_exception(at)
    assert at.metric[3].value == "95.44 %" and at.metric[3].help == t("evaluate.metric_claimed_file", "en", field="acc")
    assert any("format: kuangliu" in c.value for c in at.caption)
    assert any(c.value.startswith("ResNet-18 (CIFAR): ResNet18 of kuangliu/pytorch-cifar") for c in at.caption)
    uploader(at, "evaluate_upload").set_value([("resnet18_cifar10.pth", tv, "application/octet-stream")]).run()
    assert_no_exception(at)
    assert any("format: torchvision-cifar" in c.value for c in at.caption)
    assert t("evaluate.maxpool_note", "en") in [c.value for c in at.caption]


def test_claim_gaps_say_where_the_difference_comes_from():
    official = E.claim_gap(92.78, None, 83.1, 1000, official_claim=True)  # akamaster's ResNet-32 on the JPEG copy
    assert official.official and official.gap == pytest.approx(9.68)
    assert official.margin == pytest.approx(2.33, abs=0.01)  # 1.96 * sqrt(0.831 * 0.169 / 1000)
    for lang in ("en", "zh"):
        sentence = E.claim_sentence(official, lang)
        assert "92.78" in sentence and "83.1" in sentence and "9.7" in sentence and "±2.3" in sentence
        assert "91.7" in sentence and "81" in sentence and "11" in sentence  # the reference net: 91.7 -> 81, -11
    same = E.claim_gap(76.7, "CIFAR-10 (JPEG q75 copy)", 77.5, 1000)
    assert not same.official and same.within_sampling
    assert E.claim_sentence(same) == t("evaluate.claim_same_within", "en", claimed="76.70", measured="77.5",
                                       gap="0.8", images="1,000", margin=f"{same.margin:.1f}")
    assert not E.claim_gap(90.0, "CIFAR-10 (JPEG q75 copy)", 80.0, 1000).within_sampling
    assert E.claim_gap(90.0, "CIFAR-10", 80.0, 1000).official  # trained on the official files
    assert E.claim_gap(90.0, "image folder mine", 80.0, 1000) is None and E.claim_gap(None, "CIFAR-10", 80, 10) is None


def test_confidences_show_enough_digits_to_differ():
    assert E.percent_labels([0.9999, 0.99971, 0.9997]) == ["99.99", "99.971", "99.970"]
    assert E.percent_labels([0.999999999, 0.99]) == ["> 99.9999", "99"]
    assert E.percent_labels([0.5, 0.61]) == ["50", "61"] and E.percent_labels([1.0]) == ["100"]
    assert "100" not in E.percent_labels([0.9996, 0.9997, 0.9998])


def test_the_overall_line_is_labelled_above_the_bars():
    result = E.evaluate_logits(*_random(200, 4, 3), CLASSES)
    fig = per_class_figure(result)
    (note,) = fig.layout.annotations
    assert note.yref == "paper" and note.y == 1 and note.yanchor == "bottom"  # above the plot, not on the bars
    assert fig.data[0].insidetextanchor == "start" and fig.data[0].textposition == "inside"
