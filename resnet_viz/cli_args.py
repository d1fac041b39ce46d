"""The inputs several ``python -m resnet_viz`` commands take, declared once: the checkpoints, the image sample or
dataset, threads, device, JSON output; and the handling their ``run(args)`` shares (threads set, sample read,
models loaded).

Not a command itself (``resnet_viz/commands/`` holds only the modules ``cli.COMMANDS`` names). It imports torch
and the data readers only, so that ``train`` and ``reference`` keep running on a machine without Plotly or
Streamlit; a model loader is imported where it is used.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from resnet_viz.data import SPLITS
from resnet_viz.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalize_language
from resnet_viz.runtime import configure_allocator, configure_threads
from resnet_viz.samples import TEST_SAMPLE, TRAIN_SUBSET, Split, load_images

if TYPE_CHECKING:
    from resnet_viz.checkpoints.read import LoadedModel

CHECKPOINT_FILES = ".safetensors with sidecar, .pt, .pth, .th"
DATASET = ("a cifar-10-batches-py directory, or an image folder (dir, .zip, .tar, .tar.gz) with train/<class>/* "
           "and test/<class>/*")
# The shipped sample a split stands for when --data is not given.
SAMPLES = {"test": (TEST_SAMPLE, "1,000 CIFAR-10 test images"),
           "train": (TRAIN_SUBSET, "5,000 CIFAR-10 training images")}
SAMPLE_BATCH = 250  # images per forward pass of the commands that sweep a sample (responses, lesion)


# ---------------------------------------------------------------- declarations

def checkpoints(p: argparse.ArgumentParser, *, one: bool = False) -> None:
    """The models a command runs on (``args.checkpoints``; with ``one``, a single file: ``args.checkpoint``)."""
    if one:
        p.add_argument("checkpoint", metavar="CHECKPOINT", help=f"a checkpoint file ({CHECKPOINT_FILES})")
    else:
        p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                       help=f"checkpoint files ({CHECKPOINT_FILES}) or random:NAME")


def model_name(p: argparse.ArgumentParser) -> None:
    """``--model``: the zoo name of a checkpoint that does not record it."""
    p.add_argument("--model", help="zoo model name, when the file does not say")


def maxpool(p: argparse.ArgumentParser) -> None:
    """``--maxpool``: a CIFAR ResNet-18/34 from torchvision's resnet18/34 whose stem kept its max pool."""
    p.add_argument("--maxpool", action="store_true",
                   help="torchvision's resnet18/34 adapted to CIFAR (3x3 stem) with its max pool kept; the weights "
                        "cannot tell (default: removed, the common adaptation)")


def split(p: argparse.ArgumentParser, default: str = "test") -> None:
    p.add_argument("--split", default=default, choices=SPLITS, help=f"split of a dataset (default: {default})")


def sample(p: argparse.ArgumentParser, *, default_split: str = "test", limit: bool = True) -> None:
    """``--data`` (the shipped sample of ``default_split`` unless a dataset is named), ``--split`` and ``--limit``."""
    path, what = SAMPLES[default_split]
    p.add_argument("--data", default=str(path),
                   help=f"an .npz sample (default: the shipped {what}) or a dataset: {DATASET}")
    split(p, default_split)
    if limit:
        p.add_argument("--limit", type=int, help="use only N images (class-balanced)")


def dataset(p: argparse.ArgumentParser) -> None:
    """``--data``: a whole dataset, required."""
    p.add_argument("--data", required=True, help=DATASET)


def sample_batch(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=int, default=SAMPLE_BATCH,
                   help=f"images per forward pass (default {SAMPLE_BATCH})")


def threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int,
                   help="intra-op CPU threads of this process (default: torch's; 1 is fastest on a busy CPU)")


def allocator(p: argparse.ArgumentParser) -> None:
    """For the benchmarks: the app's allocator setting unless told otherwise (a command always has it)."""
    p.add_argument("--no-allocator", action="store_true",
                   help="glibc's default allocator, not the app's (resnet_viz.runtime.configure_allocator)")


def device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: the GPU when there is one (default: auto)")


def environment_language() -> str:
    """The language the environment asks for (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as gettext reads
    them: ``zh_CN.UTF-8`` is Chinese), else English."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for value in os.environ.get(name, "").split(":"):
            if lang := normalize_language(value):
                return lang
    return DEFAULT_LANGUAGE


def language(p: argparse.ArgumentParser) -> None:
    """``--lang``: the language of a command's report and its error messages."""
    p.add_argument("--lang", choices=LANGUAGES, default=environment_language(),
                   help="language of the output: en or zh (default: the environment's, from LANG)")


def student_code(p: argparse.ArgumentParser, *, seconds: float, per: str) -> None:
    """``--timeout``: how long the student's code may run ``per`` call before it is stopped."""
    p.add_argument("--timeout", type=float, default=seconds, metavar="SECONDS",
                   help=f"stop your code when {per} takes longer (default: {seconds:g} s)")


def json_output(p: argparse.ArgumentParser, what: str = "") -> None:
    """``--json``: the command prints ``what`` as one JSON document instead of text."""
    p.add_argument("--json", action="store_true", help="print JSON" + (f": {what}" if what else ""))


# ---------------------------------------------------------------- what run(args) does with them

def use_threads(args: argparse.Namespace) -> None:
    """``--threads``, when given, for the whole process (before any work)."""
    if args.threads:
        configure_threads(args.threads)


def use_allocator(args: argparse.Namespace) -> bool:
    """The app's allocator setting unless ``--no-allocator``; True when it was applied."""
    return False if args.no_allocator else configure_allocator()


def read_sample(args: argparse.Namespace, limit: int | None) -> Split:
    """Images, labels and class names of ``--data`` (``--split`` of a dataset), the class-balanced first ``limit``."""
    return load_images(args.data, split=args.split, limit=limit)


def each_model(args: argparse.Namespace) -> Iterator[tuple[str, LoadedModel]]:
    """(source, model) for each of ``args.checkpoints``, loaded one at a time."""
    from resnet_viz.checkpoints.find import load_model

    for source in args.checkpoints:
        yield source, load_model(source, maxpool=args.maxpool)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=1, default=str))
