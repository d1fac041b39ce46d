"""The catalogues: same keys and placeholders in every language, and every key used in the code exists."""

import re
import string

import pytest

from resnet_viz.errors import LoadError
from resnet_viz.i18n import LANGUAGES, catalogue, normalize_language, t
from tests.conftest import ROOT


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_the_same_keys():
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        missing = keys["en"] - keys[lang]
        extra = keys[lang] - keys["en"]
        assert not missing and not extra, f"{lang}: missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"


def test_placeholders_agree_across_languages():
    for key, text in catalogue("en").items():
        for lang in LANGUAGES:
            assert _placeholders(catalogue(lang)[key]) == _placeholders(text), (lang, key)


def test_chinese_catalogue_is_actually_translated():
    zh = catalogue("zh")
    prose = re.compile(r"[A-Za-z]{4,} [a-z]{3,} [a-z]{3,}")
    identical = [k for k, v in catalogue("en").items() if zh[k] == v and prose.search(v)]
    assert not identical, identical[:10]


# Literal keys passed to tr(...) / t(...) / errors anywhere in the code must exist.
_KEY_RE = re.compile(r"""(?:\btr|\bt|Error)\(\s*f?["']([a-z_0-9]+\.[a-z_0-9.]+)["']""")


def test_every_literal_key_used_in_the_code_exists():
    known = set(catalogue("en"))
    missing = []
    for path in [ROOT / "app.py", *ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("resnet_viz/**/*.py")]:
        for key in _KEY_RE.findall(path.read_text(encoding="utf-8")):
            if key not in known:
                missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, missing


def test_translation_and_fallbacks():
    assert t("nav.home", "zh") == "首页"
    assert t("load.offline", "en", model="resnet50", reason="x").startswith("Could not download")
    assert t("no.such_key", "zh") == "no.such_key"
    assert normalize_language("zh-CN") == "zh" and normalize_language("en_US") == "en"
    assert normalize_language("fr") is None and normalize_language(None) is None


def test_errors_speak_both_languages():
    err = LoadError("load.too_large", file="a.pt", size_mb=900, limit_mb=600)
    assert "900" in str(err) and "600" in err.message("zh") and "上限" in err.message("zh")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_empty_entries(lang):
    assert all(text.strip() for text in catalogue(lang).values())


def _broken_bold(text: str) -> bool:
    """True when a ``**`` pair would not render as bold under CommonMark's flanking rules."""
    import unicodedata

    def punct(ch: str) -> bool:
        return ch == "" or ch.isspace() or unicodedata.category(ch).startswith("P")

    for i, m in enumerate(re.finditer(r"\*\*", text)):
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if i % 2 == 0 and punct(after) and not punct(before):  # opener: not left-flanking
            return True
        if i % 2 == 1 and punct(before) and not punct(after):  # closer: not right-flanking
            return True
    return False


def test_chinese_bold_markers_render():
    """CommonMark does not close ``**`` between full-width punctuation and a CJK character (``**词（x）**把``),
    which turns the rest of a paragraph bold; such markers must be moved or spaced."""
    assert _broken_bold("**捷径连接（shortcut）**把") and not _broken_bold("**捷径连接**（shortcut）把")
    broken = [k for lang in ("en", "zh") for k, v in catalogue(lang).items() if _broken_bold(v)]
    assert not broken, broken


def test_cifar10_class_names_are_translated_for_display_only():
    from resnet_viz.i18n import class_label
    from resnet_viz.models.registry import CIFAR10_CLASSES

    zh = [class_label(name, "zh") for name in CIFAR10_CLASSES]
    assert zh == ["飞机", "汽车", "鸟", "猫", "鹿", "狗", "青蛙", "马", "船", "卡车"]
    assert [class_label(name, "en") for name in CIFAR10_CLASSES] == list(CIFAR10_CLASSES)
    assert class_label("golden retriever", "zh") == "golden retriever"  # ImageNet's names stay as they are
    assert CIFAR10_CLASSES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                               "truck")  # the models' data keep the English names


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plotly_placeholders_survive_formatting(lang):
    """A hover text with a Python parameter ({run}) must write Plotly's %{x} as %{{x}}: otherwise ``format`` fails
    and the reader sees a literal "{run}"."""
    bad = []
    for key, text in catalogue(lang).items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text.replace("%{{", "").replace("}}", "")) if f}
        if "%{" in text.replace("%{{", "") and fields - {f.split(":")[0] for f in re.findall(r"%\{([^}]*)\}", text)}:
            bad.append(key)
    assert not bad, bad


def test_plural_forms():
    from resnet_viz.i18n import plural

    assert plural("lesion.acc_lesioned", 1) == "Accuracy, 1 block deleted"
    assert plural("lesion.acc_lesioned", 2) == "Accuracy, 2 blocks deleted"
    assert plural("lesion.acc_lesioned", 0) == "Accuracy, 0 blocks deleted"
    assert plural("lesion.acc_lesioned", 1, "zh") == "准确率（删除 1 个块）"


# ---------------------------------------------------------------- every placeholder filled where a text is used

_CALLERS = {"t": 1, "tr": 0, "plural": 2, "trn": 1}  # function -> index of its first argument after the key


def _calls(path):
    """(key, keyword names, line) of every call with a literal key and no **params: tr, t, plural, trn and the
    errors that carry a catalogue key (LoadError("load.x", model=...))."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in _CALLERS and not name.endswith("Error"):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and "." in first.value):
            continue
        if any(k.arg is None for k in node.keywords):  # **params: not checkable here
            continue
        yield name, first.value, {k.arg for k in node.keywords}, node.lineno


def test_every_placeholder_of_a_text_is_filled_where_the_text_is_used():
    """A placeholder left unfilled shows as "{name}" on the page (``t`` returns the text unformatted)."""
    en = catalogue("en")
    unfilled = []
    for path in [ROOT / "app.py", *ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("resnet_viz/**/*.py")]:
        for name, key, given, line in _calls(path):
            keys = [f"{key}.one", f"{key}.other"] if name in ("plural", "trn") else [key]
            for k in keys:
                if k not in en:
                    continue
                own = re.sub(r"%\{\{?[^}]*\}\}?", "", en[k])  # Plotly's %{x} (or %{{x}}) is Plotly's
                needed = _placeholders(own) - ({"count"} if name in ("plural", "trn") else set())
                if needed - given:
                    unfilled.append(f"{path.relative_to(ROOT)}:{line}: {k} needs {sorted(needed - given)}")
    assert not unfilled, unfilled
def _chinese_texts() -> dict[str, str]:
    """Every Chinese text the app shows: the zh catalogue, and the Chinese comments of the hand-written code."""
    texts = {f"zh/{key}": text for key, text in catalogue("zh").items()}
    for path in ROOT.glob("resnet_viz/**/*_zh.py"):
        texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return texts


# The students' own words (their notes, /work/shared/reference/student-notes), one word for one thing.
FORBIDDEN_ZH = {
    "普通网络": "朴素网络 (the notes' word for a plain net)", "普通块": "朴素块",
    "选项 A": "方案 A", "选项 B": "方案 B", "选项 C": "方案 C", "快捷连接选项": "快捷连接方案",
    "滤波器": "卷积核 (filters)", "降采样": "下采样", "膨胀": "空洞率 (dilation)",
    "随项目发布": "随应用提供 (shipped)", "随应用附带": "随应用提供", "随附": "随应用提供", "自带": "随应用提供",
    "说明文件": "附属文件 (the .json sidecar)", "附属 JSON 文件": "JSON 附属文件",
}


def test_chinese_speaks_the_students_terms():
    found = [f"{where}: {bad} -> {good}" for where, text in _chinese_texts().items()
             for bad, good in FORBIDDEN_ZH.items() if bad in text]
    assert not found, found


def test_chinese_says_epochs_in_rounds_and_tells_laptops_from_notebooks():
    """轮 for an epoch (a command's flag in backticks, or a placeholder, may keep the English word); 笔记本电脑 for a
    laptop, a notebook named as Colab's, Kaggle's or Jupyter's: never a bare 笔记本 for either."""
    epochs = [k for k, v in _chinese_texts().items()
              if re.search(r"\bepochs?\b", re.sub(r"`[^`]*`|\{[^}]*\}", "", v), re.IGNORECASE)]
    assert not epochs, epochs
    notebook = re.compile(r"(?<!Colab )(?<!Kaggle )(?<!Jupyter )笔记本(?!电脑)")
    bare = [k for k, v in _chinese_texts().items() if notebook.search(v)]
    assert not bare, bare


def test_chinese_names_the_plain_net_and_the_highway_once():
    """"plain" is said once, where 朴素网络 is introduced; the notes' 梯度高速公路 once, where the +1 path is
    explained."""
    zh = catalogue("zh")
    assert [k for k, v in zh.items() if "朴素网络（plain" in v] == ["home.degradation"]
    assert [k for k, v in zh.items() if "梯度高速公路" in v] == ["gradient_flow.formula_after"]
