"""Fast clicks (issue 19): server time of every interaction a student makes, on the real pages, on this machine.

    python -m benchmarks.clicks                     # warm view changes and cold first visits, English
    python -m benchmarks.clicks --skip-cold --repeat 5
    python -m benchmarks.clicks --profile fm_layer  # cProfile of one warm interaction (top 25 by cumulative time)
    python -m benchmarks.clicks --json clicks.json

Server time is one script run of ``app.py`` in Streamlit's AppTest (what the server does between a click
arriving and the page's last element sent; the browser's own drawing is not in it; the scripts' bytecode is
cached across runs, as on a server, which AppTest alone does not do), with the shipped ResNet-20
and a photo nobody on the project chose (matplotlib's ``grace_hopper.jpg``, else a shipped sample photo).

- warm: one process, the photo uploaded on the page first; each interaction is timed on values the session has
  not seen yet (so a new grid picture is encoded, a new Grad-CAM computed), median and max of ``--repeat``;
- cold: a fresh Python process per page (interpreter, Streamlit and the test harness imported untimed): the first
  run of the app on that page, which imports what the page needs and loads the model; Home likewise.

Targets (issue 19, 2 cores): a view change that reuses the forward pass <= 0.3 s warm, the conv lab's sliding
window <= 1 s (the lab draws all its tabs on a run, so this is the page's first run in a new session: "lab_open"),
a cold page <= 5 s, Home cold <= 3 s. Tests never assert timings. Each lab tab is a fragment: in a browser a widget
of one tab reruns that tab only, while AppTest reruns the whole page (lab_step, lab_kernel are upper bounds).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RESNET_VIZ_OFFLINE", "1")



def pages() -> list[str]:
    """Every page app.py routes (its file name without .py), Home first."""
    from tests.browser import routed_pages

    return [Path(file).stem for file, _ in routed_pages()]

TARGETS = {"view": 0.3, "tab": 1.0, "cold": 5.0, "home_cold": 3.0}


def photo() -> tuple[str, bytes]:
    try:
        import matplotlib.cbook

        path = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except Exception:  # matplotlib or its sample data missing
        path = ROOT / "assets" / "samples" / "photos" / "chelsea.jpg"
    return path.name, path.read_bytes()


def share_script_cache() -> None:
    """One ScriptCache for every run, as a server has: AppTest makes a new one per run, so each run would compile
    app.py and the page again (0.1-0.25 s here) where a server reuses the bytecode."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared  # type: ignore[assignment,misc]


def new_app(page: str | None, lang: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params["lang"] = lang
    at.session_state["lang"] = lang
    if page:
        at.switch_page(f"pages/{page}.py")
    return at


CPU: list[float] = []  # process CPU seconds of each timed run, in order


def timed_run(at) -> float:
    """Wall seconds of one script run; its process CPU seconds go to CPU (on a machine shared with other work,
    CPU time moves less with the load than wall time; with several torch threads it can exceed wall time)."""
    start, cpu = time.perf_counter(), time.process_time()
    at.run()
    took = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return took


# ------------------------------------------------------------------ warm interactions

Interaction = tuple[str, str, Callable[[object, int], None]]  # (name, target kind, set the i-th new value)


def _set(widget: str, key: str, values: list) -> Callable[[object, int], None]:
    return lambda at, i: getattr(at, widget)(key=key).set_value(values[i % len(values)])


def feature_map_clicks() -> list[Interaction]:
    layers = ["stage1_1", "stage2_2", "stage3_3", "stage1_3", "stage2_1", "stage3_1", "conv1"]
    return [
        ("fm_layer", "view", _set("selectbox", "feature_maps_layer", layers)),
        ("fm_channel", "view", _channel),
        ("fm_order", "view", _set("radio", "feature_maps_order", ["index", "mean"])),
        ("fm_view_anatomy", "view", _set("segmented_control", "feature_maps_view", ["anatomy", "layers"])),
    ]


def _channel(at, i: int) -> None:
    layer = at.selectbox(key="feature_maps_layer").value
    at.selectbox(key=f"feature_maps_channel_{layer}").set_value(i + 1)


def anatomy_clicks() -> list[Interaction]:
    return [
        ("fm_block", "view", _set("selectbox", "feature_maps_block",
                                  ["stage2_1", "stage3_1", "stage1_2", "stage2_2", "stage3_3", "stage1_3"])),
        ("fm_block_channel", "view", lambda at, i: at.selectbox(key="feature_maps_block_channel").set_value(i)),
    ]


def attribution_clicks() -> list[Interaction]:
    return [
        ("attr_opacity", "view", _set("slider", "attribution_alpha", [0.3, 0.7, 0.45, 0.85, 0.2, 0.6])),
        ("attr_cmap", "view", _set("selectbox", "attribution_cmap", ["Hot", "Turbo", "Inferno", "Viridis", "Jet"])),
        ("attr_class", "view", lambda at, i: at.selectbox(key="attribution_target").set_value(i % 10)),
        ("attr_layer", "view", _set("selectbox", "attribution_layer", ["stage2", "stage1", "stage2_1", "stage3"])),
        ("attr_sign_computed", "view", _set("selectbox", "attribution_sign_right_saliency",
                                            ["negative", "positive", "absolute"])),
    ]


def _lab_tab(at, i: int) -> None:
    key, names = _lab_tabs()
    at.session_state[key] = names[i % len(names)]


def _lab_tabs() -> tuple[str, list[str]]:
    """The session key of the lab's open tab, and the tabs a switch visits: every one but the sliding window, which
    ``lab_step`` and ``lab_kernel`` time, the first (open on a new visit) last (ui.common.lazy_tabs: only the open
    tab runs)."""
    from ui.common import open_tab_key
    from ui.conv_lab import TAB_NAMES, TABS

    names = [name for name in TAB_NAMES if name != "tab_sliding"]
    return open_tab_key(TABS), names[1:] + names[:1]


def conv_lab_clicks() -> list[Interaction]:
    """"lab_open" is the page's first run in a new session, in a warm process (its first tab, the calculator, alone);
    "lab_tab" opens another tab (a rerun of the page with that tab); the step slider of the sliding window reruns
    only its fragment in a browser, the whole page in AppTest."""
    return [
        ("lab_open", "tab", lambda at, i: None),
        ("lab_tab", "tab", _lab_tab),
        ("lab_step", "view", lambda at, i: at.slider(key="conv_lab_step").set_value(i + 2)),
        ("lab_kernel", "view", _set("selectbox", "conv_lab_kernel", ["laplacian", "sharpen", "sobel_y", "box_blur"])),
    ]


def _upload(at, key: str) -> None:
    name, data = photo()
    at.file_uploader(key=key).set_value((name, data, "image/jpeg"))
    timed_run(at)


def warm(lang: str, repeat: int, only: str | None = None) -> dict[str, list[float]]:
    """Every interaction ``repeat`` times on new values: name -> seconds."""
    out: dict[str, list[float]] = {}
    fm = new_app("feature_maps", lang)
    timed_run(fm)
    _upload(fm, "feature_maps_image_upload")
    _measure(fm, feature_map_clicks(), repeat, out, only)
    fm.segmented_control(key="feature_maps_view").set_value("anatomy")
    timed_run(fm)
    _measure(fm, anatomy_clicks(), repeat, out, only)

    at = new_app("attribution", lang)
    timed_run(at)
    _upload(at, "attribution_upload")
    _measure(at, attribution_clicks(), repeat, out, only)

    lab = new_app("conv_lab", lang)
    timed_run(lab)
    out["lab_open"], out["lab_open:cpu"] = [], []
    for _ in range(repeat):  # a new session each time: the page's first run
        out["lab_open"].append(timed_run(new_app("conv_lab", lang)))
        out["lab_open:cpu"].append(CPU[-1])
    _measure(lab, conv_lab_clicks()[1:2], repeat, out, only)
    lab.session_state[_lab_tabs()[0]] = "tab_sliding"
    timed_run(lab)
    _measure(lab, conv_lab_clicks()[2:], repeat, out, only)
    return out


def _measure(at, clicks: list[Interaction], repeat: int, out: dict[str, list[float]], only: str | None) -> None:
    for name, _, change in clicks:
        if only and name != only:
            continue
        times, cpu = [], []
        for i in range(repeat):
            change(at, i)
            with _profiled(f"{name}, run {i + 1}") if only else contextlib.nullcontext():
                times.append(timed_run(at))
            cpu.append(CPU[-1])
        out[name] = times
        out[f"{name}:cpu"] = cpu


@contextlib.contextmanager
def _profiled(title: str, top: int = 30):
    """cProfile of the script thread (the run happens there, not in this thread) while the block runs."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    profile = cProfile.Profile()
    original = ScriptRunner._run_script

    def run_script(self, rerun_data):
        profile.enable()
        try:
            return original(self, rerun_data)
        finally:
            profile.disable()

    ScriptRunner._run_script = run_script  # type: ignore[method-assign]
    try:
        yield
    finally:
        ScriptRunner._run_script = original  # type: ignore[method-assign]
    print(f"--- {title}")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(top)


# ------------------------------------------------------------------ cold first visits

def cold_one(page: str, lang: str) -> tuple[float, float]:
    """In this (fresh) process: (wall, CPU) seconds of the first run of the app on ``page``."""
    at = new_app(None if page == "home" else page, lang)
    return timed_run(at), CPU[-1]


def cold(lang: str, pages: tuple[str, ...], timeout: float = 300) -> dict[str, tuple[float, float]]:
    out = {}
    for page in pages:
        try:
            done = subprocess.run([sys.executable, "-m", "benchmarks.clicks", "--cold-page", page, "--lang", lang],
                                  cwd=ROOT, capture_output=True, text=True, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            out[page] = (float("inf"), float("nan"))  # reported as a miss
            continue
        if done.returncode:
            raise RuntimeError(f"{page}: {done.stderr[-2000:]}")
        wall, cpu = done.stdout.strip().splitlines()[-1].split()
        out[page] = (float(wall), float(cpu))
    return out


# ------------------------------------------------------------------ report

def report(warm_times: dict[str, list[float]], cold_times: dict[str, tuple[float, float]]) -> dict[str, object]:
    kinds = {name: kind for name, kind, _ in
             feature_map_clicks() + anatomy_clicks() + attribution_clicks() + conv_lab_clicks()}
    rows: dict[str, object] = {}
    print(f"{'interaction':<22} {'median s':>9} {'max s':>7} {'cpu s':>7}  target")
    for name, times in warm_times.items():
        if name.endswith(":cpu"):
            continue
        limit = TARGETS[kinds[name]]
        med, cpu = statistics.median(times), statistics.median(warm_times[f"{name}:cpu"])
        verdict = "ok" if med <= limit else "MISSES"
        print(f"{name:<22} {med:>9.3f} {max(times):>7.3f} {cpu:>7.3f}  <= {limit} s {verdict}")
        rows[name] = {"median_s": round(med, 3), "max_s": round(max(times), 3), "cpu_s": round(cpu, 3),
                      "target_s": limit}
    for page, (took, cpu) in cold_times.items():
        limit = TARGETS["home_cold" if page == "home" else "cold"]
        verdict = "ok" if took <= limit else "MISSES"
        print(f"{'cold ' + page:<22} {took:>9.3f} {'':>7} {cpu:>7.3f}  <= {limit} s {verdict}")
        rows[f"cold_{page}"] = {"s": round(took, 3), "cpu_s": round(cpu, 3), "target_s": limit}
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lang", default="en", choices=("en", "zh"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-cold", action="store_true")
    p.add_argument("--skip-warm", action="store_true")
    p.add_argument("--pages", nargs="+", help="pages to visit cold (default: every page app.py routes)")
    p.add_argument("--profile", metavar="INTERACTION", help="cProfile this one warm interaction")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--cold-page", help=argparse.SUPPRESS)  # the child process of a cold visit
    args = p.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    share_script_cache()
    if args.cold_page:
        print(*cold_one(args.cold_page, args.lang))
        return 0
    print(f"cores {os.cpu_count()}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"RESNET_VIZ_THREADS={os.environ.get('RESNET_VIZ_THREADS', '(app default)')}")
    warm_times = {} if args.skip_warm else warm(args.lang, args.repeat, args.profile)
    if args.profile:
        return 0
    cold_times = {} if args.skip_cold else cold(args.lang, tuple(args.pages or pages()))
    rows = report(warm_times, cold_times)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
