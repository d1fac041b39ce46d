"""Errors a user can act on. Each names a message in the i18n catalogue, so the app shows it in the
user's language and the CLI prints the English one on a single line."""

from __future__ import annotations

from resnet_viz.i18n import t


class VizError(Exception):
    """Base class: ``key`` is an i18n key, ``params`` fill its placeholders."""

    def __init__(self, key: str, /, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        return " ".join(t(self.key, lang, **self.params).split())


class LoadError(VizError):
    """A model or checkpoint could not be loaded (offline, unsafe, corrupt, wrong architecture, ...)."""


class ImageError(VizError):
    """An image could not be decoded or is outside the accepted limits."""


class InputError(VizError):
    """Impossible values typed into a calculator or a form."""


class DataError(VizError):
    """A dataset is missing, unreadable or laid out wrongly."""
