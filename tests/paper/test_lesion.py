"""Lesion study: deletions with answers known by hand, the two code paths agreeing, the shared model left exactly
as found (also on error and across threads), the stored sweeps, the verdict, the CLI and the page."""

from __future__ import annotations

import json
import threading

import pytest
import torch
from torch import nn

from resnet_viz.cli import main as cli_main
from resnet_viz.errors import InputError
from resnet_viz.i18n import plural, t
from resnet_viz.inspect.hooks import hooked, locked
from resnet_viz.models.cifar import CifarNet, PadShortcut
from resnet_viz.models.cifar64 import Cifar64Net
from resnet_viz.paper import lesion
from resnet_viz.paper.lesion import LesionStudy
from tests.conftest import app_page, assert_no_exception

MEAN, STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny nets: one intra-op thread is fastest on the shared CPU (restored after each test)."""


def _hand_net(residual: bool, option: str = "A") -> CifarNet:
    """One block per stage. The stem's conv is zero, so it outputs ReLU(beta) = 0.1 * c on channel c (BN with
    running mean 0, var 1 - eps: the identity); every block's last BN has gamma = beta = 0, so a block's
    residual branch F is 0 and a plain block outputs ReLU(0) = 0."""
    torch.manual_seed(0)
    net = CifarNet(1, residual=residual, option=option).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0 - m.eps)
        net.conv1.weight.zero_()
        net.bn1.bias.copy_(0.1 * torch.arange(16.0))
        for name in ("layer1", "layer2", "layer3"):
            block = getattr(net, name)[0]
            block.bn2.weight.zero_()
            block.bn2.bias.zero_()
        net.linear.weight.copy_(torch.linspace(-1, 1, 640).reshape(10, 64))
        net.linear.bias.copy_(torch.arange(10.0) * 0.01)
    return net


def _images(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(n) % 10


def _by_hand_logits(net: CifarNet) -> torch.Tensor:
    """Stem output 0.1 c on channel c, passed through: zero-padded 16 -> 32 (8 zeros first), 32 -> 64 (16 zeros
    first): the pooled features are 0.1 * c at position 24 + c."""
    features = torch.zeros(64)
    features[24:40] = 0.1 * torch.arange(16.0)
    return net.linear.weight.detach() @ features + net.linear.bias.detach()


def test_deleting_zero_residual_branches_changes_nothing_and_plain_net_by_hand():
    resnet, plain = _hand_net(True), _hand_net(False)
    images, _ = _images()
    expected = _by_hand_logits(resnet)
    for deleted in ((), (0,), (1,), (0, 1, 2)):
        probs = lesion.probabilities(resnet, images, deleted, mean=MEAN, std=STD)
        assert torch.allclose(probs, torch.softmax(expected, 0).expand_as(probs), atol=1e-6)
    # the intact plain net: every block outputs ReLU(0) = 0, so the logits are the bias alone
    intact = lesion.probabilities(plain, images, (), mean=MEAN, std=STD)
    assert torch.allclose(intact, torch.softmax(plain.linear.bias.detach(), 0).expand_as(intact), atol=1e-6)
    # all three deleted: the stem's output passed on with option-A padding, as in the ResNet
    gone = lesion.probabilities(plain, images, (0, 1, 2), mean=MEAN, std=STD)
    assert torch.allclose(gone, torch.softmax(expected, 0).expand_as(gone), atol=1e-6)


def test_deleted_output_of_each_kind_of_block():
    x = torch.rand(2, 16, 8, 8)
    plain = _hand_net(False)
    assert lesion.deleted_output(plain.layer1[0], x) is x  # same shape: passed on unchanged
    down = lesion.deleted_output(plain.layer2[0], x)
    assert down.shape == (2, 32, 4, 4)
    assert torch.equal(down[:, 8:24], x[:, :, ::2, ::2]) and not down[:, :8].any() and not down[:, 24:].any()
    resnet_a = _hand_net(True)
    assert torch.equal(lesion.deleted_output(resnet_a.layer2[0], x), PadShortcut(16, 32, 2)(x))  # ReLU(x) = x
    resnet_b = _hand_net(True, option="B")
    block = resnet_b.layer2[0]
    assert torch.allclose(lesion.deleted_output(block, x), torch.relu(block.shortcut(x)))
    with pytest.raises(InputError):
        lesion.deleted_output(nn.Conv2d(3, 3, 1), x)


@pytest.mark.parametrize("residual,option", [(True, "A"), (True, "B"), (False, "A"), (True, "64-wide")])
def test_the_one_pass_sweep_equals_full_forward_passes_with_hooks(residual, option):
    torch.manual_seed(3)
    if option == "64-wide":  # Table 1's stages on CIFAR (resnet18_cifar's kind), its stem keeping a max pool
        net = Cifar64Net((2, 1, 2, 1), maxpool=True).eval()
    else:
        net = CifarNet(2, residual=residual, option=option).eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.3, 1.5)
    images, _ = _images(12)
    intact = lesion.probabilities(net, images, (), mean=MEAN, std=STD).argmax(1)
    labels = intact.clone()
    labels[::3] = (labels[::3] + 1) % 10  # the intact net is right on 8 of 12
    sets = [(), (0,), (2,), (5,), (1, 4), (0, 2, 3, 5), (0, 2), (1, 4), (0, 2, 3)]  # shared prefixes, a set twice
    counts = lesion.correct_counts(net, images, labels, sets, mean=MEAN, std=STD, batch_size=5)
    assert counts[0] == 8
    for deleted, count in zip(sets, counts):
        pred = lesion.probabilities(net, images, deleted, mean=MEAN, std=STD).argmax(1)
        assert count == int((pred == labels).sum()), deleted


@pytest.mark.parametrize("residual,option", [(True, "A"), (True, "B"), (False, "A"), (True, "64-wide")])
@pytest.mark.parametrize("budget", [0, 4 * 16 * 32 * 32 * 4, 10**9])  # nothing kept, a few inputs, every input
def test_a_click_from_the_kept_inputs_equals_the_uncached_forward_pass_exactly(residual, option, budget):
    torch.manual_seed(4)
    net = (Cifar64Net((2, 1, 2, 1), maxpool=True) if option == "64-wide"
           else CifarNet(2, residual=residual, option=option)).eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.3, 1.5)
    images, _ = _images(11)
    before = _snapshot(net)
    intact = lesion.intact_pass(net, images, mean=MEAN, std=STD, budget=budget, batch_size=4)
    assert intact.nbytes <= budget + intact.probs.numel() * 4
    assert torch.equal(intact.probs, lesion.probabilities(net, images, (), mean=MEAN, std=STD, batch_size=4))
    n = len(lesion.cifar_blocks(net))
    for deleted in [(0,), (1,), (n - 1,), (2, 4), tuple(range(n)), (3, 1)]:
        cached = lesion.probabilities_from(net, intact, images, deleted, mean=MEAN, std=STD)
        assert torch.equal(cached, lesion.probabilities(net, images, deleted, mean=MEAN, std=STD, batch_size=4))
    assert _same(before, _snapshot(net))
    with pytest.raises(InputError):
        lesion.probabilities_from(net, intact, images, (n,), mean=MEAN, std=STD)


def test_kept_inputs_fit_their_budget_and_save_the_most_recomputation_per_byte():
    per_image = [64] * 9 + [32] * 9 + [16] * 9  # ResNet-56's stages, in units of 1 KB
    assert lesion.kept_blocks(per_image, 1000, budget=0) == ()
    assert lesion.kept_blocks(per_image, 1, budget=10**9) == tuple(range(1, 27))  # every input but the stem's
    for budget in (16_000, 50_000, 100_000, 300_000):
        kept = lesion.kept_blocks(per_image, 1000, budget)
        assert kept and sum(per_image[k] for k in kept) * 1000 <= budget
    # one stage-3 input only: the one halfway through what it can shorten, not the cheapest at its edge
    assert lesion.kept_blocks(per_image, 1000, 16_000) == (18,)
    assert lesion.kept_blocks([10] * 4, 1, budget=10) == (2,)  # j = 2, 3 restart at 2: 4 blocks saved, not 3


def test_the_sweep_evaluates_each_block_as_often_as_its_prefix_tree_says():
    net = CifarNet(1).eval()  # 3 blocks
    images, labels = _images(4)
    calls = [0]

    def count(_module, _inputs, _output) -> None:
        calls[0] += 1

    sets = [(), (0,), (1,), (2,), (0,), (0, 2), (1, 2)]
    with hooked(net, forward=[(b, count) for _, b in lesion.cifar_blocks(net)]):
        lesion.correct_counts(net, images, labels, sets, mean=MEAN, std=STD, batch_size=4, workers=1)
    assert calls[0] == lesion.block_evaluations(3, sets) == 6


def _snapshot(model: nn.Module):
    return ({k: v.clone() for k, v in model.state_dict().items()}, list(model.named_modules()),
            [m.training for m in model.modules()],
            [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in model.modules()])


def _same(a, b) -> bool:
    state_a, mods_a, modes_a, hooks_a = a
    state_b, mods_b, modes_b, hooks_b = b
    return (state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
            and [(n, id(m)) for n, m in mods_a] == [(n, id(m)) for n, m in mods_b]
            and modes_a == modes_b and hooks_a == hooks_b)


def test_the_model_is_left_exactly_as_found_also_on_error():
    net = _hand_net(True)
    net.train()  # a mode the lesion must not keep: it runs in eval mode and restores this
    before = _snapshot(net)
    images, labels = _images()
    with lesion.blocks_deleted(net, [1]):
        assert not net.training and net.layer2[0]._forward_hooks
    assert _same(before, _snapshot(net))

    def stop(_fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lesion.probabilities(net, images, [0, 2], mean=MEAN, std=STD, on_batch=lambda _done: stop(0))
    with pytest.raises(KeyboardInterrupt):
        lesion.correct_counts(net, images, labels, [(0,), (1, 2)], mean=MEAN, std=STD, on_progress=stop)
    with pytest.raises(InputError):
        lesion.probabilities(net, images, [7], mean=MEAN, std=STD)
    assert _same(before, _snapshot(net))


def test_another_threads_forward_waits_for_the_lesion_and_sees_the_intact_net():
    net = CifarNet(1, residual=False).eval()
    images, _ = _images(4)
    x = images.float() / 255
    with torch.no_grad():
        intact = net(x)
    result: dict[str, torch.Tensor] = {}
    started, finished = threading.Event(), threading.Event()

    def other() -> None:
        started.set()
        with torch.no_grad(), locked(net):
            result["out"] = net(x)
        finished.set()

    with lesion.blocks_deleted(net, [0, 1, 2]):
        with torch.no_grad():
            lesioned = net(x)
        worker = threading.Thread(target=other)
        worker.start()
        started.wait()
        assert not finished.wait(0.2)  # held by the lesion
    worker.join()
    assert not torch.allclose(lesioned, intact)
    assert torch.equal(result["out"], intact)


def test_random_sets_are_seeded_and_distinct():
    a = lesion.random_sets(27, [1, 5, 27], draws=3, seed=0)
    assert a == lesion.random_sets(27, [1, 5, 27], draws=3, seed=0) != lesion.random_sets(27, [1, 5, 27], 3, 1)
    assert [len(s) for s in a] == [1] * 3 + [5] * 3 + [27] * 3
    assert all(len(set(s)) == len(s) for s in a) and a[-1] == tuple(range(27))
    assert lesion.default_ks(9) == list(range(1, 10))
    ks = lesion.default_ks(54)
    assert ks[0] == 1 and ks[-1] == 54 and len(ks) == lesion.K_POINTS


def _study(residual: bool, baseline: float, single: list[float], down=None) -> LesionStudy:
    n = len(single)
    down = down or [i in (n // 3, 2 * n // 3) for i in range(n)]
    return LesionStudy("resnet20" if residual else "plain20", residual, tuple(f"b{i}" for i in range(n)),
                       tuple(down), 1000, baseline, tuple(single), (1, 2), ((80.0, 70.0), (60.0, 50.0)))


def test_verdict_holds_fails_and_says_its_numbers():
    resnet = _study(True, 92.0, [90.0, 91.0, 80.0, 89.0, 90.5, 70.0])
    plain = _study(False, 90.0, [10.0, 12.0, 11.0, 15.0, 9.0, 30.0])
    v = lesion.verdict(resnet, plain)
    assert v.resnet_baseline == pytest.approx(8.0) and v.resnet_median == pytest.approx(10.5)
    assert v.plain_median == pytest.approx(88.5) and v.plain_worst == pytest.approx(91.0)
    assert v.resnet_barely_hurt and v.plain_broken and v.holds
    for lang in ("en", "zh"):
        (sentence,) = lesion.verdict_sentences(v, "ResNet-20", "plain-20", lang)
        assert sentence == t("lesion.verdict_holds", lang, resnet="ResNet-20", plain="plain-20", rb="8.0",
                             rm="10.5", rw="30.0", pb="10.0", pm="88.5", pw="91.0", chance="90")
    hurt = lesion.verdict(_study(True, 92.0, [60.0] * 6), _study(False, 90.0, [60.0] * 6))
    assert not hurt.resnet_barely_hurt and not hurt.plain_broken and not hurt.holds  # 40 % < (10 + 90) / 2
    sentences = lesion.verdict_sentences(hurt, "R", "P", "en")
    assert sentences[0].startswith(t("lesion.verdict_fails", "en", resnet="R").split("{")[0][:30])
    assert "32.0" in sentences[1] and len(sentences) == 3
    assert lesion.downsampling_hurts_more(resnet) is False  # blocks 2 and 4: mean 14.75 % vs 15.0 % for the rest
    assert lesion.downsampling_hurts_more(_study(True, 90.0, [80.0, 80.0], [False, False])) is None
    assert "14.8" in lesion.downsampling_sentence(resnet, "R", "en")


def _random(draws_per_k: list[list[float]], baseline: float = 90.0) -> LesionStudy:
    """A ResNet-56 study whose random deletions scored ``draws_per_k`` (accuracies %) at k = 1, 2, ..."""
    ks = tuple(range(1, len(draws_per_k) + 1))
    return LesionStudy("resnet56", True, ("layer1.0", "layer2.0"), (False, True), 1000, baseline, (88.0, 80.0), ks,
                       tuple(tuple(d) for d in draws_per_k))


def test_random_draws_give_a_mean_a_spread_and_a_sentence_computed_from_them():
    rising = _random([[80.0, 82.0, 81.0], [70.0, 71.0, 72.0], [50.0, 60.0, 55.0]])
    rows = rising.random_error()
    assert [p.k for p in rows] == [1, 2, 3] and rows[0].mean == pytest.approx(19.0) and rows[0].draws == 3
    assert rows[2].sd == pytest.approx(5.0) and (rows[2].low, rows[2].high) == (40.0, 50.0)
    trend = lesion.random_trend(rising)
    assert trend is not None and not trend.falls and trend.smooth and trend.widest == pytest.approx(10.0)
    for lang in ("en", "zh"):
        assert lesion.random_sentence(rising, "ResNet-56", lang) == t(
            "lesion.random_rises", lang, net="ResNet-56", draws=3, first="10.0", last="45.0", k_last=3,
            spread="10.0", steps="", se="2", chance="85")
    # k = 2 -> 3: the mean error falls by 1 point while the draws spread by 10: noise, said so
    noisy = _random([[80.0, 81.0, 82.0], [60.0, 70.0, 80.0], [66.0, 76.0, 71.0]])
    trend = lesion.random_trend(noisy)
    assert [(a.k, b.k) for a, b in trend.falls] == [(2, 3)] and trend.smooth
    assert lesion.random_sentence(noisy, "R", "en").startswith(
        t("lesion.random_rises_noise", "en", net="R", draws=3, first="10.0", last="29.0", k_last=3, steps="", chance="",
          spread="", se="").split("(")[0])
    assert t("lesion.fall", "en", a=2, b=3, drop="1.0") in lesion.random_sentence(noisy, "R", "en")
    # a fall far beyond the draws' spread: not smooth, and the sentence says so with the step
    falls = _random([[50.0, 51.0, 52.0], [80.0, 80.5, 81.0]])
    trend = lesion.random_trend(falls)
    assert not trend.smooth
    sentence = lesion.random_sentence(falls, "R", "zh")
    assert sentence.startswith("R，") and t("lesion.fall", "zh", a=1, b=2, drop="29.5") in sentence
    # at chance the network is broken: a fall there (88 % -> 86 % error, draws all alike) is no trend
    broken = _random([[30.0, 30.0, 30.0], [12.0, 12.1, 11.9], [14.0, 14.0, 14.1]], baseline=90.0)
    trend = lesion.random_trend(broken)
    assert len(trend.falls) == 1 and trend.real_falls == () and trend.smooth
    # only the falls that count are listed when the mean does not rise smoothly
    mixed = _random([[50.0, 51.0, 52.0], [80.0, 80.5, 81.0], [10.0, 11.0, 12.0], [12.5, 12.6, 12.7]])
    trend = lesion.random_trend(mixed)
    assert [(a.k, b.k) for a, b in trend.falls] == [(1, 2), (3, 4)] and [(a.k, b.k) for a, b in trend.real_falls] \
        == [(1, 2)]
    assert "k = 3 → 4" not in lesion.random_sentence(mixed, "R")
    no_draws = _study(True, 92.0, [90.0])
    assert lesion.random_sentence(LesionStudy(**{**no_draws.__dict__, "ks": (), "random": ()}), "R") is None


def test_blocks_are_named_as_on_every_page():
    assert _random([[80.0]]).block_names == ["stage1_1", "stage2_1"]  # the sweep keeps module paths


def test_study_round_trip_and_stale_files(tmp_path):
    s = _study(True, 92.0, [90.0, 80.0, 85.0])
    s = LesionStudy(**{**s.__dict__, "weights": "CifarNet:abc", "sample": "cifar10-test-sample"})
    path = lesion.store_study(s, tmp_path)
    assert path == tmp_path / "abc.json"
    assert lesion.stored_study("CifarNet:abc", folder=tmp_path) == s
    assert lesion.stored_study("CifarNet:abc", sample="other", folder=tmp_path) is None
    assert lesion.stored_study("CifarNet:def", folder=tmp_path) is None
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "weights": "CifarNet:zzz"}))  # a file copied under another hash
    assert lesion.stored_study("CifarNet:abc", folder=tmp_path) is None
    path.write_text("{not json")
    assert lesion.stored_study("CifarNet:abc", folder=tmp_path) is None


def test_prediction_change_and_comparison_rows():
    labels = torch.tensor([0, 1, 2, 3])
    intact = torch.eye(4)[[0, 1, 2, 0]]
    lesioned = torch.eye(4)[[0, 3, 3, 3]]
    c = lesion.prediction_change(intact, lesioned, labels)
    assert (c.intact, c.lesioned, c.changed, c.delta) == (75.0, 50.0, 3, -25.0)
    resnet = _study(True, 92.0, [90.0, 91.0, 80.0, 89.0, 90.5, 70.0])
    plain = _study(False, 90.0, [10.0, 12.0, 11.0, 15.0, 9.0, 30.0])
    for lang in ("en", "zh"):
        rows = lesion.comparison_rows(("ResNet-20", resnet), ("plain-20", plain), lang)
        ours = [r[t("lesion.col_ours", lang)] for r in rows]
        assert len(rows) == 4 and "10.5" in ours[0] and "88.5" in ours[3]
        assert "k=1: 25.0 ± 7.1, k=2: 45.0 ± 7.1" in ours[2]  # mean ± standard deviation of the draws


def test_a_non_cifar_model_gets_a_clear_error():
    with pytest.raises(InputError) as err:
        lesion.cifar_blocks(nn.Sequential(nn.Conv2d(3, 3, 1)))
    assert "Sequential" in err.value.message("en") and "Sequential" in err.value.message("zh")


def test_cli_json_and_table(capsys):
    assert cli_main(["lesion", "random:plain20", "--limit", "20", "--k", "1", "9", "--draws", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["random:plain20"]
    assert len(data["single"]) == 9 and data["ks"] == [1, 9] and data["images"] == 20
    assert [len(r) for r in data["random"]] == [2, 2] and data["downsampling"] == [False] * 3 + [True] + [False] * 2 \
        + [True] + [False] * 2
    assert cli_main(["lesion", "random:resnet20", "--limit", "10", "--k"]) == 0
    out = capsys.readouterr().out
    assert "stage2_1" in out and "layer2.0" not in out and "downsampling" in out and "k random" not in out
    assert cli_main(["lesion", "random:resnet18", "--limit", "2", "--k"]) == 2
    assert "not one" in capsys.readouterr().err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_with_a_stored_sweep_and_a_live_deletion(lang, monkeypatch, tmp_path):
    from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
    from resnet_viz.checkpoints.identity import model_fingerprint

    monkeypatch.setattr(lesion, "LESION_DIR", tmp_path)
    weights = model_fingerprint(load_model(str(SHIPPED_DIR / "resnet20.safetensors")).model)
    fake = _study(True, 92.0, [90.0, 91.0, 80.0, 89.0, 90.5, 70.0, 88.0, 87.0, 86.0],
                  [False, False, True, False, False, True, False, False, False])
    lesion.store_study(LesionStudy(**{**fake.__dict__, "weights": weights, "sample": "cifar10-test-sample"}))
    at = app_page("pages/lesion.py", lang=lang, lesion_depth=20, lesion_images=100, lesion_deleted=[3])
    assert_no_exception(at)
    assert at.title[0].value == t("lesion.page_title", lang)
    assert len(at.get("plotly_chart")) >= 1
    texts = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert t("lesion.not_stored", lang, nets="plain-20").split("{")[0][:15] in texts  # plain-20 not stored here
    assert t("lesion.down_more", lang, net="ResNet-20", down="25.0", other="11.2") in texts
    labels = [m.label for m in at.metric]
    assert plural("lesion.acc_lesioned", 1, lang) in labels
    intact, after = (m.value for m in at.metric[:2])
    assert intact.endswith("%") and after.endswith("%")


def test_shipped_sweeps_are_well_formed():
    for path in sorted(lesion.LESION_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        study = LesionStudy.from_dict(data)
        assert lesion.study_path(study.weights) == path and study.sample == "cifar10-test-sample"
        assert len(study.single) == len(study.blocks) == len(study.downsampling) and study.images == 1000
        assert all(0 <= a <= 100 for a in (study.baseline, *study.single, *(x for r in study.random for x in r)))
        assert len(study.random) == len(study.ks) and len(study.random_sets) == sum(len(r) for r in study.random)
        assert all(len(r) == lesion.DRAWS for r in study.random), "regenerate: python -m resnet_viz lesion ... --store"



def test_the_live_section_says_when_the_sidebar_model_is_not_the_swept_depth():
    at = app_page("pages/lesion.py", lesion_depth=56, lesion_images=100)  # the sidebar: the default ResNet-20
    assert_no_exception(at)
    note = t("lesion.live_other_depth", "en", depth=56, net="ResNet-20", net_depth=20)
    assert note in [i.value for i in at.info]
    at.button(key="lesion_use_swept").click().run()
    assert_no_exception(at)
    assert at.session_state["model_choice"].endswith("resnet56.safetensors")
    assert note not in [i.value for i in at.info] and "lesion_use_swept" not in [b.key for b in at.button]
