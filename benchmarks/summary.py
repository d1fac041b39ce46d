"""How long does a layer summary take? Prints one line per model and a JSON object at the end.

    python benchmarks/summary.py [--repeat 3] [--models resnet152,vgg19,...] [--page]

Targets (issue 5): a ResNet-152 summary under 2 s on the project machine (the first call in a fresh
process, as the CLI makes it); the page's render with warm caches under 1 s (``--page``).
Summaries run on the meta device, so the time is spent in Python hooks and meta-tensor shape
propagation, not in arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from resnet_viz.inspect.architecture import summarize, table1

DEFAULT = "resnet18,resnet34,resnet50,resnet101,resnet152,vgg19,plain34,resnet20,resnet56,resnet110"


def page_timings() -> dict:
    """The Architecture page through AppTest (includes AppTest's own overhead, so an upper bound)."""
    os.environ.setdefault("RESNET_VIZ_OFFLINE", "1")
    from tests.conftest import app_page

    t0 = time.perf_counter()
    at = app_page("pages/architecture.py")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    at.run()
    warm = time.perf_counter() - t0
    at.selectbox(key="architecture_col_0").set_value("resnet50")
    t0 = time.perf_counter()
    at.run()
    change = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    return {"first_s": round(first, 3), "warm_rerun_s": round(warm, 3), "column_change_s": round(change, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--page", action="store_true", help="also time the Architecture page in Streamlit's AppTest")
    args = ap.parse_args()
    results = {}
    for name in args.models.split(","):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            s = summarize(name)
            times.append(time.perf_counter() - t0)
        warm = times[1:] or times
        results[name] = {"cold_s": round(times[0], 4), "warm_best_s": round(min(warm), 4),
                         "rows": len(s.rows), "params": s.params, "gmacs": round(s.macs / 1e9, 4)}
        print(f"{name:<11} cold {times[0]:6.3f} s  warm best {min(warm):6.3f} s  "
              f"{len(s.rows):5d} rows  {s.params:>12,} params  {s.macs / 1e9:7.3f} GMACs")
    t0 = time.perf_counter()
    table1()
    results["table1"] = {"best_s": round(time.perf_counter() - t0, 4)}
    print(f"table1      {results['table1']['best_s']:6.3f} s (8 summaries: 18/34/50/101/152 + three V1 variants)")
    if args.page:
        results["page"] = page_timings()
        print(f"page        first render {results['page']['first_s']:6.3f} s (cold caches), "
              f"rerun {results['page']['warm_rerun_s']:6.3f} s (warm caches), "
              f"one column changed {results['page']['column_change_s']:6.3f} s")
    ok = results.get("resnet152", {}).get("cold_s", 99) < 2.0
    print(json.dumps({"benchmark": "summary", "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
                      "target_resnet152_under_2s": ok, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
