"""The server's warm-up, once per process in one background thread that the first script run starts, while the first
student reads Home, in three stages: numpy, pandas and PIL (``FIRST``); torch, Captum, the model code and every
page's module (``IMPORTS``); each page's first view (``VIEWS``).

Home needs none of it: its first run waits only for the first stage (plotly's JSON encoder looks those up in
``sys.modules``, where a half-imported one would break it), and its sidebar shows the model picker from the first
run after the imports. Every other page waits for the imports before it runs (a spinner says why), so no two threads
ever import the same heavy packages at once (``resnet_viz.runtime.WarmUp``), and not for the first views.

A page module (``ui/X.py``) may define ``warm_up()``: what its first visit would otherwise compute and that is the
same for every student (no Streamlit element in it), into the page's own caches.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading

import streamlit as st

from resnet_viz.runtime import Step, WarmUp, configure_allocator, configure_threads
from ui.common import tr
from ui.navigation import PAGES

FIRST = ("numpy", "pandas", "PIL.Image")
LIBRARIES = ("torch", configure_threads, configure_allocator, "torch.fx.experimental.symbolic_shapes", "pyarrow",
             "safetensors.torch", "captum.attr")
SHARED = ("ui.models", "ui.images", "ui.work")
LIGHT_PAGES = ("home",)  # pages that run during the warm-up (they import none of it)
FIRST_STAGE, IMPORTS, VIEWS = 0, 1, 2

_server: WarmUp | None = None
_guard = threading.Lock()


def page_modules() -> list[str]:
    """``ui.X`` of every page that has one, in menu order."""
    names = [f"ui.{url}" for *_, url in PAGES]
    return [name for name in names if importlib.util.find_spec(name) is not None]


def page_warm_ups() -> list[Step]:
    """Each page module's own ``warm_up()`` as a step of its own (one that fails leaves the others), in menu order;
    run after every import."""
    def step(name: str) -> Step:
        def warm_up() -> None:
            warm = getattr(importlib.import_module(name), "warm_up", None)
            if warm is not None:
                warm()
        warm_up.__qualname__ = f"{name}.warm_up"
        return warm_up

    return [step(name) for name in page_modules()]


def steps() -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[Step, ...]]:
    """The stages of this server's warm-up: ``FIRST``, the imports, the first views."""
    return FIRST, (*LIBRARIES, *SHARED, *page_modules()), tuple(page_warm_ups())


def server_warm_up() -> WarmUp:
    """This process's warm-up (started by the first script run, ``start``)."""
    global _server
    with _guard:
        if _server is None:
            _server = WarmUp(*steps())
        return _server


def start() -> None:
    server_warm_up().start()


def before_page(url_path: str) -> None:
    """Wait for what the page at ``url_path`` needs: the first stage for a light page, else the imports."""
    warm = server_warm_up()
    if url_path in LIGHT_PAGES:
        warm.wait(stage=FIRST_STAGE)
    elif not warm.ready(IMPORTS):
        with st.spinner(tr("common.warming_up")):
            warm.wait(stage=IMPORTS)


def sidebar_model_picker() -> None:
    """The sidebar's model picker; while the warm-up runs (only a light page gets here then), a line that says
    where it will be. Nothing polls for the end of the warm-up: the next run (any click, the next page) draws the
    picker, and a class arriving on a cold server does not rerun its scripts while the warm-up needs the CPU."""
    if server_warm_up().ready(IMPORTS):
        from ui.models import model_picker  # torch and the model code: imported by the warm-up

        model_picker()
    else:
        st.sidebar.caption(tr("common.picker_warming_up"))
