"""Scale-out on one machine: the class load test through nginx in front of one or more replicas of the app.

    python -m benchmarks.scale_out [--replicas 1 2 3] [--sessions 8 30 60] [--kill-after S] [--json-out FILE]

For every replica count and class size: fresh replicas behind nginx (deploy/replicas.py: an empty HOME, one torch
thread each, nginx pinning each browser to one replica), each warmed by one tour of its own (imports, networks,
shared results; see ``_warm``); then benchmarks/class_load.py's tour with the view changes (``--views``: layer,
channel, class, opacity) through nginx: the solo tour, then N sessions at once, every page checked against the solo
tour's. nginx's access log says which replica served each request of each session: a session must stay on one.
``--kill-after S`` kills (SIGKILL) the replica with the most sessions S seconds into the concurrent tours: its
sessions must move to exactly one other each and go on (``--follow``: they connect again as the browser does and
upload their photo again), the others stay where they are.

Prints p50 / p95 seconds per step for each run, each replica's peak RSS, and the capacity table of the README: the
class sizes at which view changes keep p95 <= 3 s and every other step p95 <= 10 s, per replica and per core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.class_load import VIEW_CHANGES, VIEWS_TOUR, class_run, print_report, problems, run_tour, with_comment
from benchmarks.class_load import parse_args as class_args
from deploy.replicas import Replicas

VIEW_TARGET_S = 3.0
OTHER_TARGET_S = 10.0
COURSE = 300
# Streamlit Community Cloud's limits (issue 33): cores and memory of one app; more for education on request.
CLOUD_CORES = (0.078, 2.0)
CLOUD_MEMORY_GB = (0.69, 2.7)
KILL_WAIT_S = 120.0  # how long --kill-after waits for every student to have reached a replica
SERVED = re.compile(r'"class_load student (?P<student>-?\d+)" replica_cookie="[^"]*" upstream="(?P<upstream>[^"]*)"')


def replicas_by_session(log: Path) -> dict[int, list[str]]:
    """Session number -> the replicas that answered its requests, in order, each change kept once (after a retry,
    nginx lists several addresses: the last one answered)."""
    seen: dict[int, list[str]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        match = SERVED.search(line)
        if match is None or match["upstream"] in ("", "-"):
            continue
        served = re.split(r", | : ", match["upstream"])[-1]
        path = seen.setdefault(int(match["student"]), [])
        if not path or path[-1] != served:
            path.append(served)
    return seen


def affinity(paths: dict[int, list[str]], killed: str | None) -> dict[str, Any]:
    """Sessions that stayed on one replica, moved once from the replica ``killed`` to one other, or went wrong."""
    stayed = [n for n, p in paths.items() if len(p) == 1]
    moved = [n for n, p in paths.items() if len(p) == 2 and p[0] == killed]
    wrong = {n: p for n, p in paths.items() if n not in stayed and n not in moved}
    return {"sessions": len(paths), "one_replica": len(stayed), "moved_once": len(moved), "wrong": wrong,
            "per_replica": {a: sum(p[0] == a for p in paths.values()) for a in sorted({p[0] for p in paths.values()})}}


async def _warm(ports: list[int], photo: bytes, timeout: float) -> list[str]:
    """The tour once on each replica directly, as class_load's solo tour warms its one server: imports, the
    networks, the computations a server shares (Figure 7 live, gradient flow). A cold replica that a class opens
    at once fails otherwise: several sessions importing pandas at the same moment (st.dataframe imports it on
    first use) gave one of them "partially initialized module 'pandas'"; the problems of these tours."""
    found = []
    for port in ports:
        found += problems(await run_tour(port, -2, with_comment(photo, f"warm {port}"), VIEWS_TOUR, timeout))
    return found


async def _kill_later(cluster: Replicas, after_s: float, sessions: int, out: dict[str, Any]) -> None:
    """After ``after_s`` s, and once nginx has logged a request of each of the ``sessions`` students (on a slow
    machine they may not all have connected yet: a replica killed before would take none of them with it), kill
    (SIGKILL) the replica that serves the most of them."""
    await asyncio.sleep(after_s)
    deadline = time.monotonic() + KILL_WAIT_S
    while True:
        students = [p[-1] for n, p in replicas_by_session(cluster.access_log).items() if n > 0]
        if len(students) >= sessions or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    addresses = [r.address for r in cluster.replicas]
    index = max(range(len(addresses)), key=lambda i: students.count(addresses[i]))
    out["killed"] = addresses[index]
    cluster.stop_replica(index, signal.SIGKILL)


def one_run(replicas: int, sessions: int, args: argparse.Namespace) -> dict[str, Any]:
    """``sessions`` at once through nginx in front of ``replicas`` fresh replicas."""
    photo = args.photo.read_bytes()
    run_args = class_args(["--sessions", str(sessions), "--timeout", str(args.timeout), "--deadline",
                           str(args.deadline), "--settle", "1", "--follow", "--views"])
    run_args.photo = args.photo
    with tempfile.TemporaryDirectory(prefix="scale-out-home-") as home:
        env = {"HOME": home, "XDG_CACHE_HOME": str(Path(home) / ".cache"), "RESNET_VIZ_OFFLINE": "1"}
        with Replicas(replicas, env=env) as cluster:
            warm = asyncio.run(_warm(cluster.ports, photo, args.timeout))
            side: dict[str, Any] = {}
            during = None if args.kill_after is None else (
                lambda: _kill_later(cluster, args.kill_after, sessions, side))
            result = asyncio.run(class_run(cluster.port, [r.proc.pid for r in cluster.replicas], run_args, photo,
                                           VIEWS_TOUR, during))
            result["problems"] = [f"(warming) {p}" for p in warm] + result["problems"]
            time.sleep(0.5)  # nginx writes the last lines
            result["affinity"] = affinity(replicas_by_session(cluster.access_log), side.get("killed"))
            result["killed"] = side.get("killed")
            result["alive"] = [r.proc.poll() is None for r in cluster.replicas]
    result["replicas"] = replicas
    return result


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """p95 of the slowest view change and of the slowest other step, and whether both targets and the checks hold."""
    rows = result["interactions"]
    view = max((r["p95_s"] for name, r in rows.items() if name in VIEW_CHANGES), default=math.nan)
    other = max((r["p95_s"] for name, r in rows.items() if name not in VIEW_CHANGES), default=math.nan)
    clean = not result["problems"] and not result["affinity"]["wrong"]
    return {"view_p95_s": view, "other_p95_s": other, "clean": clean,
            "meets": clean and view <= VIEW_TARGET_S and other <= OTHER_TARGET_S}


def print_runs(runs: list[dict[str, Any]], cores: int, load: tuple[float, ...]) -> None:
    """Per step p50 / p95 for every run side by side, then the capacity table."""
    steps = list(dict.fromkeys(name for r in runs for name in r["interactions"]))
    labels = [f"{r['replicas']}r x {r['sessions']}s" for r in runs]
    print(f"\nScale-out through nginx on {cores} cores (load average before {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f}); p50 / p95 seconds; r: replicas, s: sessions at once")
    print(f"{'step':<22}" + "".join(f"{label:>15}" for label in labels))
    for step in steps:
        cells = []
        for r in runs:
            row = r["interactions"].get(step)
            cells.append(f"{row['p50_s']:.1f} / {row['p95_s']:.1f}" if row else "-")
        mark = " *" if step in VIEW_CHANGES else ""
        print(f"{step + mark:<22}" + "".join(f"{c:>15}" for c in cells))
    print(f"{'concurrent tours (s)':<22}" + "".join(f"{r['wall_s']:>15.0f}" for r in runs))
    print(f"{'server CPU (s)':<22}" + "".join(f"{r['server_cpu_s']:>15.0f}" for r in runs))
    print(f"{'peak RSS/replica MB':<22}" + "".join(
        f"{'/'.join(f'{mb:.0f}' for mb in r['rss_mb_each']['peak']):>15}" for r in runs))
    print(f"{'errors/wrong/failed':<22}" + "".join(
        f"{sum(x['errors'] + x['exceptions'] for x in r['interactions'].values())}/"
        f"{sum(x['wrong'] for x in r['interactions'].values())}/"
        f"{sum(x['failures'] for x in r['interactions'].values()):<3}".rjust(15) for r in runs))
    print(f"{'one replica/session':<22}" + "".join(
        f"{r['affinity']['one_replica'] + r['affinity']['moved_once']}/{r['affinity']['sessions']}".rjust(15)
        for r in runs))
    print("* view changes (target p95 <= 3 s); every other step: target p95 <= 10 s")
    print_capacity(runs, cores)


def print_capacity(runs: list[dict[str, Any]], cores: int) -> None:
    print(f"\nCapacity on {cores} cores (view changes p95 <= {VIEW_TARGET_S:g} s, other steps p95 <= "
          f"{OTHER_TARGET_S:g} s, 0 errors, 0 wrong, one replica per session)")
    print(f"{'replicas':>8}{'sessions':>10}{'view p95':>10}{'other p95':>11}{'meets':>7}{'per replica':>13}"
          f"{'per core':>10}")
    best: dict[int, int] = {}
    for r in runs:
        v = verdict(r)
        if v["meets"]:
            best[r["replicas"]] = max(best.get(r["replicas"], 0), r["sessions"])
        print(f"{r['replicas']:>8}{r['sessions']:>10}{v['view_p95_s']:>10.1f}{v['other_p95_s']:>11.1f}"
              f"{'yes' if v['meets'] else 'no':>7}{r['sessions'] / r['replicas']:>13.1f}{r['sessions'] / cores:>10.1f}")
    if not best:
        smallest = min(r["sessions"] for r in runs)
        print(f"No run met the targets: fewer than {smallest / cores:.1f} sessions per core. A course of {COURSE} "
              f"needs more than {math.ceil(COURSE / (smallest / cores))} cores at this speed.")
        return
    replicas, sessions = max(best.items(), key=lambda kv: (kv[1], -kv[0]))
    per_core = sessions / cores
    need = math.ceil(COURSE / per_core)
    print(f"Best: {sessions} sessions on {replicas} replica(s) = {per_core:.1f} sessions per core (classes sizes "
          f"measured: the true limit lies between this and the next size). A course of {COURSE} at once: {need} "
          f"cores, e.g. {need} replicas of one core each. Community Cloud: {CLOUD_CORES[0]:g}-{CLOUD_CORES[1]:g} "
          f"cores and {CLOUD_MEMORY_GB[0]:g}-{CLOUD_MEMORY_GB[1]:g} GB per app: about "
          f"{per_core * CLOUD_CORES[1]:.0f} sessions at best.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3], help="replica counts (default 1 2 3)")
    p.add_argument("--sessions", type=int, nargs="+", default=[8, 30, 60], help="class sizes (default 8 30 60)")
    p.add_argument("--kill-after", type=float, help="kill the first replica this many seconds into the tours")
    p.add_argument("--timeout", type=float, default=300, help="seconds one interaction may take (default 300)")
    p.add_argument("--deadline", type=float, default=3600, help="seconds one run may take (default 3600)")
    p.add_argument("--photo", type=Path, help="the JPEG to upload (default: matplotlib's Grace Hopper)")
    p.add_argument("--verbose", action="store_true", help="print class_load's report after each run")
    p.add_argument("--json-out", type=Path, help="write every run's whole result here")
    args = p.parse_args(argv)
    args.photo = args.photo or class_args([]).photo
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cores, load = os.cpu_count() or 1, os.getloadavg()
    runs = []
    for replicas in args.replicas:
        for sessions in args.sessions:
            print(f"{replicas} replica(s), {sessions} sessions ...", flush=True)
            runs.append(one_run(replicas, sessions, args))
            if args.verbose:
                print_report(runs[-1])
    print_runs(runs, cores, load)
    print(f"load average after: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"cores": cores, "load_before": load, "runs": runs}, indent=1,
                                            ensure_ascii=False, default=str), encoding="utf-8")
    return 0 if all(verdict(r)["clean"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
