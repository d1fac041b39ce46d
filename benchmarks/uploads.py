"""A class bringing its checkpoints to one server: N sessions upload a file each on the Evaluate page at once, over
Streamlit's own websocket protocol and upload endpoint (benchmarks/class_load.py's Session), while the server's RSS
is sampled.

    python -m benchmarks.uploads [--sessions 30] [--kind kuangliu|torchvision|junk] [--mb 150] [--root DIR]

Kinds: ``kuangliu``, kuangliu/pytorch-cifar's ResNet-18 checkpoint as it ships ({'net': state dict with
nn.DataParallel's ``module.`` prefix, 'acc', 'epoch'}, 44.7 MB; every session's bytes differ); ``torchvision``,
torchvision's ImageNet ResNet-18 state dict (44.7 MB, a zoo net: it loads); ``junk``, ``--mb`` MB of random bytes
named model.pt. Each session opens the Evaluate page, picks "Upload a checkpoint here" and uploads; the page it
gets back is recorded (loaded, refused with a message, or refused by the server's upload limit, HTTP 413). RSS:
before the uploads, the peak while they run, right after (every session still open, its page showing), and after
the sessions have closed. ``--root`` serves another checkout (e.g. ``git archive main | tar -x -C /tmp/main``) to
compare with.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import time
from collections import Counter
from pathlib import Path

import torch

from benchmarks.class_load import RssSampler, Session
from tests.browser import ROOT, streamlit_server

UPLOADER = "evaluate_upload"  # the page's uploader: evaluate_upload, then evaluate_upload_1, ... after each upload
LINGER_S = 5.0


def kuangliu_state() -> dict[str, torch.Tensor]:
    """kuangliu/pytorch-cifar's ResNet18 (CIFAR-10: a 3x3 stem, four stages of two blocks, 64-512 filters)."""
    state: dict[str, torch.Tensor] = {}

    def conv_bn(prefix: str, conv: str, bn: str, cin: int, cout: int, k: int) -> None:
        state[f"{prefix}{conv}.weight"] = torch.randn(cout, cin, k, k) * 0.05
        for leaf, value in (("weight", torch.ones(cout)), ("bias", torch.zeros(cout)),
                            ("running_mean", torch.zeros(cout)), ("running_var", torch.ones(cout)),
                            ("num_batches_tracked", torch.tensor(0))):
            state[f"{prefix}{bn}.{leaf}"] = value

    conv_bn("", "conv1", "bn1", 3, 64, 3)
    cin = 64
    for i, cout in enumerate((64, 128, 256, 512), 1):
        for j in range(2):
            p = f"layer{i}.{j}."
            conv_bn(p, "conv1", "bn1", cin, cout, 3)
            conv_bn(p, "conv2", "bn2", cout, cout, 3)
            if cin != cout:
                conv_bn(p, "shortcut.0", "shortcut.1", cin, cout, 1)
            cin = cout
    state["linear.weight"], state["linear.bias"] = torch.randn(10, 512) * 0.05, torch.zeros(10)
    return state


def torchvision_state() -> dict[str, torch.Tensor]:
    from torchvision.models import resnet18

    return resnet18(weights=None).state_dict()


def files(kind: str, n: int, mb: int) -> list[tuple[str, bytes]]:
    """One file per session, each with other bytes (no session gets another's cached model)."""
    if kind == "junk":
        return [("model.pt", i.to_bytes(8, "big") + bytes(mb * 2**20 - 8)) for i in range(n)]
    base = kuangliu_state() if kind == "kuangliu" else torchvision_state()
    out = []
    for i in range(n):
        state = dict(base)
        last = next(reversed(state))  # the classifier's bias: the session's number, so the bytes differ
        state[last] = torch.full_like(base[last], float(i))
        buf = io.BytesIO()
        if kind == "kuangliu":
            torch.save({"net": {f"module.{k}": v for k, v in state.items()}, "acc": 95.04, "epoch": 199}, buf)
            out.append(("ckpt.pth", buf.getvalue()))
        else:
            torch.save(state, buf)
            out.append(("resnet18.pth", buf.getvalue()))
    return out


def uploader_key(s: Session) -> str:
    keys = [k for k in s.page.widgets if k == UPLOADER or k.startswith(f"{UPLOADER}_")]
    if len(keys) != 1:
        raise LookupError(f"uploaders on the page: {keys}")
    return keys[0]


async def student(port: int, name: str, data: bytes, timeout: float, sessions: list[Session]) -> str:
    """One session: Evaluate, "upload here", the upload; what the page said."""
    s = Session(port, timeout)
    sessions.append(s)
    await s.open()
    await s.rerun(page="evaluate")
    await s.choose("evaluate_source", 1)
    try:
        page = await s.upload(uploader_key(s), name, data, "application/octet-stream")
    except RuntimeError as exc:
        return "refused by the server: " + str(exc).split(":")[0]
    if page.exceptions():
        return "exception: " + page.exceptions()[0][:80]
    if page.errors():
        return "refused: " + page.errors()[0].removeprefix("st.error: ")[:80]
    return "loaded" + ("" if not any("ImageNet" in line for line in page.lines()) else " (an ImageNet net)")


async def run(port: int, pid: int, args: argparse.Namespace, uploads: list[tuple[str, bytes]]) -> dict:
    warm = Session(port, args.timeout)  # the server imports torch and evaluates the default model once
    await warm.open()
    await warm.rerun(page="evaluate")
    await warm.close()
    rss = RssSampler([pid])
    figures = {"before": rss.now()}
    rss.start()
    started = rss.elapsed()
    t0 = time.perf_counter()
    sessions: list[Session] = []
    outcomes = await asyncio.gather(*(student(port, n, d, args.timeout, sessions) for n, d in uploads),
                                    return_exceptions=True)
    seconds = time.perf_counter() - t0
    figures["peak"] = rss.peak(since=started)
    await asyncio.sleep(1.0)
    figures["after, sessions open"] = rss.now()
    for s in sessions:
        await s.close()
    await asyncio.sleep(LINGER_S)
    figures["after, sessions closed"] = rss.now()
    rss.stop()
    said = Counter(o if isinstance(o, str) else f"failed: {type(o).__name__}: {o}"[:100] for o in outcomes)
    return {"kind": args.kind, "sessions": len(uploads), "file_mb": round(len(uploads[0][1]) / 2**20, 1),
            "root": str(args.root), "seconds": round(seconds, 1), "rss_mb": {k: round(v) for k, v in figures.items()},
            "outcomes": dict(said)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=30)
    p.add_argument("--kind", choices=("kuangliu", "torchvision", "junk"), default="kuangliu")
    p.add_argument("--mb", type=int, default=150, help="size of a junk file")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app.py is served")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    uploads = files(args.kind, args.sessions, args.mb)
    with streamlit_server(root=args.root.resolve(), timeout=300) as (url, proc):
        result = asyncio.run(run(int(url.rsplit(":", 1)[1]), proc.pid, args, uploads))
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
