"""The Evaluate page: confusion matrix, per-class accuracy and confident mistakes (resnet_viz.train.evaluate), its
figures, checkpoint uploads (ours with the sidecar, akamaster's, junk) and the page in both languages."""

from __future__ import annotations

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
from tests.conftest import app_page, assert_no_exception
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
    assert loaded.name == "resnet20" and loaded.accuracy == pytest.approx(76.67)
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
    assert t("evaluate.sample_note", lang, images="1,000", per_class=100) in info


@pytest.mark.slow  # a second model's forward pass over the 1,000 images
def test_page_evaluates_an_akamaster_upload_and_refuses_junk():
    torch.manual_seed(2)
    aka = akamaster_file_bytes(build_model("resnet20").eval(), best_prec1=91.73)
    at = app_page("pages/evaluate.py", lang="en")
    at.radio(key="evaluate_source").set_value("upload").run()
    assert_no_exception(at)
    assert t("evaluate.upload_waiting", "en") in [i.value for i in at.info]
    at.file_uploader(key="evaluate_upload").set_value([("resnet20-12fca82f.th", aka, "application/octet-stream")])
    at.run()
    assert_no_exception(at)
    assert at.metric[3].value == "91.73 %" and len(at.get("plotly_chart")) == 2
    assert any("format: akamaster" in c.value for c in at.caption)
    at.file_uploader(key="evaluate_upload").set_value([("model.pt", b"\x00junk", "application/octet-stream")])
    at.run()
    assert_no_exception(at)
    assert at.error and "model.pt" in at.error[0].value and not at.get("plotly_chart")
