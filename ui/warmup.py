"""The server's warm-up, once per process in one background thread that the first script run starts, while the first
student reads Home, in four stages: numpy, pandas and PIL (``FIRST``); torch, Captum, the model code and every
page's module (``IMPORTS``); each page's first view; and, once no script has run for ``QUIET_S`` seconds, this
server's speed for the times the pages promise (``SPEEDS``).

Home needs none of it: its first run waits only for the first stage (plotly's JSON encoder looks those up in
``sys.modules``, where a half-imported one would break it), and its sidebar shows the model picker from the first
run after the imports it needs. Every other page waits for what it imports (``needs``: torch, the shared modules, its
own module and what that page alone imports, such as torchvision or Captum), which the warm-up runs first; a spinner
says why. So no two threads ever import the same heavy packages at once (``resnet_viz.runtime.WarmUp``), a page does
not wait for other pages' libraries, and while a page runs the warm-up starts nothing that nobody waits for.

A page module (``ui/X.py``) may define ``warm_up()``: what its first visit would otherwise compute and that is the
same for every student (no Streamlit element in it), into the page's own caches; and ``measure_speed()``: a small
piece of its heavy work timed into its cost meter (``resnet_viz.cost.calibrate``).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from contextlib import AbstractContextManager

import streamlit as st

from resnet_viz.runtime import Step, WarmUp, configure_allocator, configure_threads
from ui.common import tr
from ui.navigation import PAGES

FIRST = ("numpy", "pandas", "PIL.Image")
# What every page's run may import: torch (its threads set before anything uses it), what torch and pandas import
# lazily from any page's run (torch._check: symbolic shapes; dataframes: pyarrow; pandas' Styler: jinja2), the
# shared ui modules.
LIBRARIES = ("torch", configure_threads, configure_allocator, "torch.fx.experimental.symbolic_shapes", "pyarrow",
             "jinja2", "safetensors.torch")
SHARED = ("ui.models", "ui.images", "ui.work")
# What only some pages import (beside their ui module): torchvision (ImageNet nets and VGG-19: Architecture's first
# view; a sidebar's ImageNet pick imports it in its own run, while the warm-up holds back), Captum (Attribution's ui
# module imports it).
OWN_LIBRARIES = {"architecture": ("torchvision.models",)}
LATER = ("torchvision.models", "captum.attr")
LIGHT_PAGES = ("home",)  # pages that run during the warm-up (they import none of it)
IMPORTS = 1  # the imports' stage in ``steps()`` (after ``FIRST``, before the first views)
SPEEDS = 3  # the last stage: it waits until no script has run for QUIET_S seconds
QUIET_S = 2.0

_server: WarmUp | None = None
_guard = threading.Lock()


def page_modules() -> list[str]:
    """``ui.X`` of every page that has one, in menu order."""
    names = [f"ui.{url}" for *_, url in PAGES]
    return [name for name in names if importlib.util.find_spec(name) is not None]


def page_steps(function: str) -> list[Step]:
    """Each page module's own ``function`` (``warm_up``, ``measure_speed``) as a step of its own (one that fails
    leaves the others), in menu order; run after every import."""
    def step(name: str) -> Step:
        def call() -> None:
            own = getattr(importlib.import_module(name), function, None)
            if own is not None:
                own()
        call.__qualname__ = f"{name}.{function}"
        return call

    return [step(name) for name in page_modules()]


def steps() -> tuple[tuple[Step, ...], ...]:
    """The stages of this server's warm-up: ``FIRST``, the imports, the first views, the speeds."""
    return (FIRST, (*LIBRARIES, *SHARED, *LATER, *page_modules()), tuple(page_steps("warm_up")),
            tuple(page_steps("measure_speed")))


def needs(url_path: str) -> tuple[Step, ...]:
    """What the page at ``url_path`` waits for before it runs (a light page: the first stage only)."""
    if url_path in LIGHT_PAGES:
        return FIRST
    own = f"ui.{url_path}"
    return (*FIRST, *LIBRARIES, *SHARED, *OWN_LIBRARIES.get(url_path, ()),
            *((own,) if importlib.util.find_spec(own) is not None else ()))


def server_warm_up() -> WarmUp:
    """This process's warm-up (started by the first script run, ``start``)."""
    global _server
    with _guard:
        if _server is None:
            _server = WarmUp(*steps(), quiet_from=SPEEDS, quiet_s=QUIET_S)
        return _server


def start() -> None:
    server_warm_up().start()


def before_page(url_path: str) -> None:
    """Wait for what the page at ``url_path`` needs (``needs``)."""
    warm, wanted = server_warm_up(), needs(url_path)
    if url_path in LIGHT_PAGES or warm.done(wanted):
        warm.need(wanted)
    else:
        with st.spinner(tr("common.warming_up")):
            warm.need(wanted)


def running() -> AbstractContextManager[None]:
    """Around a script run, the wait for the page's needs included (else the thread could start another step between
    the end of the wait and the page's run): the warm-up starts only what somebody waits for meanwhile."""
    return server_warm_up().running()


def sidebar_model_picker() -> None:
    """The sidebar's model picker; while the warm-up runs (only a light page gets here then), a line that says
    where it will be. Nothing polls for the end of the warm-up: the next run (any click, the next page) draws the
    picker, and a class arriving on a cold server does not rerun its scripts while the warm-up needs the CPU."""
    if server_warm_up().done((*LIBRARIES, *SHARED)):
        from ui.models import model_picker  # torch and the model code: imported by the warm-up

        model_picker()
    else:
        st.sidebar.caption(tr("common.picker_warming_up"))
