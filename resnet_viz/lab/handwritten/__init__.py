"""Hand-written code shown on the conv lab's pages, one file per language with the same code and comments in that
language. The pages show the files' text; nothing here is imported or run by the app (the tests run it)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def source(name: str, lang: str) -> str:
    """The text of ``<name>_<lang>.py`` (English when there is no such language)."""
    path = HERE / f"{name}_{lang}.py"
    return (path if path.is_file() else HERE / f"{name}_en.py").read_text(encoding="utf-8")


def homework_pooling(lang: str) -> list[str]:
    """The Pooling tab's answer, one text per function: the tested functions of ``resnet_viz.lab.pooling`` as they
    are, or (Chinese) ``pooling_full_zh.py``, the same functions with Chinese comments (a test keeps them equal)."""
    if lang == "zh":
        text = (HERE / "pooling_full_zh.py").read_text(encoding="utf-8")
        return ["def " + part.strip() + "\n" for part in text.split("\ndef ")[1:]]
    import inspect

    from resnet_viz.lab.pooling import HOMEWORK_FUNCTIONS

    return [inspect.getsource(fn) for fn in HOMEWORK_FUNCTIONS]
