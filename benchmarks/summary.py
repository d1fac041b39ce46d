"""How long does a layer summary take? Prints one line per model and a JSON object at the end.

    python benchmarks/summary.py [--repeat 3] [--models resnet152,vgg19,...]

Target (issue 5): ResNet-152 under 2 s on the project machine. Summaries run on the meta device, so the
time is spent in Python hooks and meta-tensor shape propagation, not in arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from resnet_viz.summary import summarize, table1  # noqa: E402

DEFAULT = "resnet18,resnet34,resnet50,resnet101,resnet152,vgg19,plain34,resnet20,resnet56,resnet110"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default=DEFAULT)
    args = ap.parse_args()
    results = {}
    for name in args.models.split(","):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            s = summarize(name)
            times.append(time.perf_counter() - t0)
        results[name] = {"best_s": round(min(times), 4), "median_s": round(sorted(times)[len(times) // 2], 4),
                         "rows": len(s.rows), "params": s.params, "gmacs": round(s.macs / 1e9, 4)}
        print(f"{name:<11} best {min(times):6.3f} s  median {results[name]['median_s']:6.3f} s  "
              f"{len(s.rows):5d} rows  {s.params:>12,} params  {s.macs / 1e9:7.3f} GMACs")
    t0 = time.perf_counter()
    table1()
    results["table1"] = {"best_s": round(time.perf_counter() - t0, 4)}
    print(f"table1      {results['table1']['best_s']:6.3f} s (8 summaries: 18/34/50/101/152 + three V1 variants)")
    ok = results.get("resnet152", {}).get("median_s", 0) < 2.0
    print(json.dumps({"benchmark": "summary", "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
                      "target_resnet152_under_2s": ok, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
