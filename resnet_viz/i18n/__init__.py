"""One small translation layer: ``t(key, lang, **params)``.

Each language has a folder of TOML catalogues (``en/``, ``zh/``), one file per page or topic. A key is
``<file stem>.<entry>``: ``t("home.title", "zh")`` reads entry ``title`` of ``zh/home.toml``. Entries are
whole sentences with named ``{placeholders}``, never fragments to glue together.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
_ROOT = Path(__file__).parent


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key of one language, flattened to ``stem.entry`` -> text."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    out: dict[str, str] = {}
    for path in sorted((_ROOT / lang).glob("*.toml")):
        with path.open("rb") as f:
            data = tomllib.load(f)
        for entry, text in _flatten(data):
            out[f"{path.stem}.{entry}"] = text
    return out


def _flatten(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", str(value)


def normalize_language(value: str | None) -> str | None:
    """``"zh-CN"`` -> ``"zh"``, ``"en_US"`` -> ``"en"``; None for anything else."""
    if not value:
        return None
    code = str(value).strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: object) -> str:
    """The text of ``key`` in ``lang`` with ``params`` filled in.

    A key missing from one language falls back to English (the catalogue test forbids that in the
    repository); a key missing everywhere is shown as itself so that it is noticed, never a crash.
    """
    text = catalogue(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def plural(key: str, count: int, lang: str = DEFAULT_LANGUAGE, /, **params: object) -> str:
    """``t`` of ``<key>.one`` for a count of 1, else of ``<key>.other``, with ``count`` among the parameters:
    English's two forms ("1 block", "2 blocks"); Chinese has one, written in both entries."""
    return t(f"{key}.{'one' if count == 1 else 'other'}", lang, count=count, **params)


def has_key(key: str) -> bool:
    return all(key in catalogue(lang) for lang in LANGUAGES)


def class_label(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A class name as shown to a reader of ``lang``: CIFAR-10's ten names are translated (``classes.toml``),
    any other name (ImageNet's thousand) is shown as it is. For display only: models and data keep ``name``."""
    key = f"classes.{name}"
    return t(key, lang) if key in catalogue(DEFAULT_LANGUAGE) else name
