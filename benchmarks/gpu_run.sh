#!/usr/bin/env bash
# The GPU run, one command: the reference set (`python -m resnet_viz reference`), the training-throughput benchmark
# (ResNet-56: our pipeline, eager and compiled, against a torchvision-style DataLoader) and a one-GPU NCCL torchrun
# smoke run of two iterations, all inside TOTAL seconds, everything into $OUT (at most 7 files; docs/gpu.md).
#
#   on the GPU machine:  bash benchmarks/gpu_run.sh          (the data: $DATA, data/, shared/data/ or ../shared/data/)
#   CPU check:           SMOKE=1 OUT=/tmp/x PYTHON=.venv/bin/python bash benchmarks/gpu_run.sh
#
# $OUT gets: reference.tar.gz (or reference.tar.gz.part-00, -01, ... of 15 MiB: `cat` them back together),
# summary.json (the reference run's), bench.json, ddp.json (the torchrun run's sidecar), gpu_run.log.
set -u -o pipefail

OUT=${OUT:?set OUT to the folder that receives the results}
PY=${PYTHON:-python3}
SMOKE=${SMOKE:-0}
SLOW=$([ "$SMOKE" = 1 ] && echo 4 || echo 1)  # a busy CPU imports torch far more slowly: smoke limits x 4
TOTAL=${TOTAL:-$(( 575 * SLOW ))}  # the whole script, seconds (the device runs one command for at most 600 s)
REF_BUDGET=${REF_BUDGET:-450}      # the reference command's own budget (decoding, compiling, calibrating, training)
BENCH_LIMIT=${BENCH_LIMIT:-$(( 80 * SLOW ))}
DDP_LIMIT=${DDP_LIMIT:-$(( 35 * SLOW ))}
WORK=${WORK:-/tmp/resnet_viz_gpu_run}
START=$(date +%s)
mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd) WORK=$(cd "$WORK" && pwd)  # absolute: the script works from the repository's root
if [ -n "${DATA:-}" ] && [ -f "$DATA" ]; then DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA"); fi
LOG="$OUT/gpu_run.log"
export RESNET_VIZ_CACHE="$WORK/cache" RESNET_VIZ_OFFLINE=1 PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# One command of resnet_viz without `python -m resnet_viz`, whose parser imports every command: one that imports
# Plotly at import time would stop this run on a machine with torch, torchvision and safetensors alone.
cat >"$WORK/one_command.py" <<'END'
import argparse, importlib, sys
from resnet_viz.errors import VizError
if __name__ == "__main__":  # (a process started with multiprocessing's spawn imports this file again)
    name = sys.argv[1]
    module = importlib.import_module(f"resnet_viz.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"python -m resnet_viz {name}")
    module.add_arguments(parser)
    try:
        sys.exit(int(module.run(parser.parse_args(sys.argv[2:])) or 0))
    except VizError as exc:
        sys.exit(f"error: {exc}")
END

say() { echo "[gpu_run $(( $(date +%s) - START )) s] $*" | tee -a "$LOG"; }
left() { local l=$(( START + TOTAL - $(date +%s) )); (( l < $1 )) && echo "$l" || echo "$1"; }  # min(limit, time left)
step() {  # step NAME LIMIT_S COMMAND...: run under a time limit, output appended to the log
    local name=$1 limit; limit=$(left "$2"); shift 2
    if (( limit < 5 )); then say "$name: skipped, no time left"; return 0; fi
    say "$name: start (limit ${limit} s): $*"
    timeout -k 10 "$limit" "$@" >>"$LOG" 2>&1
    say "$name: exit status $?"
}

if [ "$SMOKE" = 1 ]; then
    DEVICE=cpu
    REF_ARGS=(--smoke --models plain20,resnet20 --budget-s 300)
else
    DEVICE=cuda
    DATA=${DATA:-}
    for candidate in "$DATA" data/cifar10-jpeg.tar.gz shared/data/cifar10-jpeg.tar.gz ../shared/data/cifar10-jpeg.tar.gz; do
        if [ -n "$candidate" ] && [ -f "$candidate" ]; then DATA=$candidate; break; fi
    done
    if [ ! -f "${DATA:-}" ]; then say "no data archive: set DATA, or copy cifar10-jpeg.tar.gz into data/"; exit 2; fi
    REF_ARGS=(--data "$DATA" --budget-s "$REF_BUDGET")
    [ "${REF_COMPILE:-0}" = 1 ] && REF_ARGS+=(--compile)  # torch.compile in the reference run (docs/gpu.md)
fi

say "host: $(hostname), $(nproc) cores; smoke=$SMOKE"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$LOG" 2>&1
"$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "cuda", torch.version.cuda, "torchvision",
torchvision.__version__, "gpu", torch.cuda.get_device_name() if torch.cuda.is_available() else None)' >>"$LOG" 2>&1

# 1. the reference set: one archive (split for the trip back if over 15 MiB) and its summary
step reference $(( REF_BUDGET + 30 )) "$PY" "$WORK/one_command.py" reference "${REF_ARGS[@]}" --out "$WORK/ref"
if [ -f "$WORK/ref/reference.tar.gz" ]; then
    if [ "$(stat -c %s "$WORK/ref/reference.tar.gz")" -gt $(( 15 * 1024 * 1024 )) ]; then
        split -b 15M -d -a 2 "$WORK/ref/reference.tar.gz" "$OUT/reference.tar.gz.part-"
    else
        cp "$WORK/ref/reference.tar.gz" "$OUT/"
    fi
    cp "$WORK/ref/summary.json" "$OUT/summary.json"
fi
[ "$SMOKE" = 1 ] && DATA="$WORK/ref/reference-work/smoke-cifar10.tar"

# 2. throughput: ResNet-56, batch 512, ours (eager and compiled) against the DataLoader baseline
if [ "$SMOKE" = 1 ]; then
    BENCH_ARGS=(--device cpu --model resnet20 --batch-size 16 --workers 0 --iterations 2 --warmup 1)
else
    BENCH_ARGS=(--device cuda --model resnet56 --batch-size 512 --workers 8 --iterations 60 --warmup 10 --compile)
fi
step benchmark "$BENCH_LIMIT" "$PY" benchmarks/train_throughput.py "${BENCH_ARGS[@]}" --data "$DATA" \
    --json-out "$OUT/bench.json"

# 3. torchrun, one process: the process group (NCCL on CUDA) and DistributedDataParallel, two iterations
step torchrun "$DDP_LIMIT" env NCCL_DEBUG=VERSION "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 "$WORK/one_command.py" train \
    --model plain20 --data "$DATA" --iterations 2 --batch-size 16 --device "$DEVICE" --out "$WORK/ddp" \
    --overwrite --no-progress
[ -f "$WORK/ddp/plain20.json" ] && cp "$WORK/ddp/plain20.json" "$OUT/ddp.json"

# the short table the reply's tail shows
"$PY" - "$OUT" <<'EOF' 2>&1 | tee -a "$LOG"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
def read(name):
    try:
        return json.loads((out / name).read_text())
    except (OSError, ValueError):
        return {}
s, b, d = read("summary.json"), read("bench.json"), read("ddp.json")
print(f"reference: {s.get('epochs')} epochs, {s.get('wall_s')} s, {s.get('device', {}).get('gpu')}, "
      f"GPU memory peak {s.get('gpu_memory_peak_mb')} MB, phases {s.get('phases_s')}")
for m, r in s.get("models", {}).items():
    print(f"  {m:10s} {r.get('status'):8s} acc {r.get('test_accuracy')} % err {r.get('test_error')} % "
          f"train err {r.get('train_error')} % {r.get('images_per_s')} img/s complete {r.get('complete')} "
          f"compiled {r.get('compiled')}")
print("benchmark:", {k: b.get(k) for k in ("baseline_epoch_s", "ours_epoch_s", "ratio", "compiled_epoch_s",
                                            "compiled_ratio", "compile_s")})
print("torchrun:", d.get("hardware"), "accuracy", d.get("accuracy"), "complete", d.get("complete"))
EOF
say "done; files: $(ls "$OUT" | tr '\n' ' ')"
