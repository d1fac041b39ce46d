"""Hand-written code shown on the conv lab's pages, one file per language with the same code and comments in that
language. The pages show the files' text; the Homework page also runs ``check pooling`` on the English one, as a
student's own file (``resnet_viz.student.demo``)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def source(name: str, lang: str) -> str:
    """The text of ``<name>_<lang>.py`` (English when there is no such language)."""
    path = HERE / f"{name}_{lang}.py"
    return (path if path.is_file() else HERE / f"{name}_en.py").read_text(encoding="utf-8")


# Every comment and docstring of the homework functions, as conv_lab catalogue keys (English = the source's text).
POOLING_COMMENTS = ("pool_src_max_loops", "pool_src_window", "pool_src_avg_loops", "pool_src_cells", "pool_src_global")


def homework_pooling(lang: str) -> list[str]:
    """The Pooling tab's answer, one text per function: the tested functions of ``resnet_viz.conv_lab.pooling``, their
    comments and docstrings in ``lang`` (a test checks that every one of them has its catalogue entry)."""
    import inspect

    from resnet_viz.conv_lab.pooling import HOMEWORK_FUNCTIONS
    from resnet_viz.i18n import t

    texts = [inspect.getsource(fn) for fn in HOMEWORK_FUNCTIONS]
    for key in POOLING_COMMENTS:
        english, translated = t(f"conv_lab.{key}", "en"), t(f"conv_lab.{key}", lang)
        texts = [text.replace(english, translated) for text in texts]
    return texts
