"""Hand-written code shown on the conv lab's pages, one file per language with the same code and comments in that
language. The pages show the files' text; nothing here is imported or run by the app (the tests run it)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def source(name: str, lang: str) -> str:
    """The text of ``<name>_<lang>.py`` (English when there is no such language)."""
    path = HERE / f"{name}_{lang}.py"
    return (path if path.is_file() else HERE / f"{name}_en.py").read_text(encoding="utf-8")
