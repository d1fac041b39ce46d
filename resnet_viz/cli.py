"""``python -m resnet_viz``: subcommands are small modules with ``add_arguments`` and ``run``.

A subcommand's ``run(args)`` returns the exit status; a ``VizError`` it raises is printed as one line
on stderr with exit status 2 (never a traceback). The inputs several commands take (checkpoints, sample or dataset,
threads, device, JSON) are declared once in ``resnet_viz.cli_args``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from resnet_viz.errors import VizError

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("resnet_viz.commands.models", "list every zoo model, its params and available weights"),
    "checkpoint": ("resnet_viz.commands.checkpoint", "show what is inside a checkpoint file (never runs its code)"),
    "summary": ("resnet_viz.commands.summary",
                "per-layer shapes, params, multiply-adds and receptive fields of a model"),
    "train": ("resnet_viz.commands.train",
              "train a CIFAR ResNet or plain net (fast or paper recipe; torchrun for DDP)"),
    "evaluate": ("resnet_viz.commands.evaluate", "top-1, per-class accuracy and confusion matrix of a checkpoint"),
    "campaign": ("resnet_viz.commands.campaign",
                 "train the shipped networks to convergence on the CPU, in the background, resumable"),
    "export": ("resnet_viz.commands.export", "fp16 copy of a checkpoint (half the size), accuracy checked"),
    "responses": ("resnet_viz.commands.responses", "Figure 7: std of each 3x3 conv layer's response (after BN)"),
    "reference": ("resnet_viz.commands.reference",
                  "train the reference nets on one GPU within a time budget (--smoke: CPU check), one archive"),
    "features": ("resnet_viz.commands.features",
                 "per-layer activation statistics of one image and ||F(x)||/||x|| per block"),
    "lesion": ("resnet_viz.commands.lesion",
               "delete blocks of a CIFAR-10 ResNet or plain net at test time (Veit et al. 2016): accuracy per "
               "deleted block and for k random blocks"),
    "learns": ("resnet_viz.commands.learns",
               "what each layer learns: top-patches grid as PNG, and the shipped feature visualisations"),
    "first-views": ("resnet_viz.commands.first_views",
                    "the shipped first views of a CIFAR-10 network (top patches, test-sample logits) for the app"),
    "landscape": ("resnet_viz.commands.landscape",
                  "loss surface on filter-normalised random directions (Li et al. 2018) and the init->trained line"),
    "check": ("resnet_viz.commands.check",
              "check your own code: your ResNet against the zoo (check resnet), your pooling against torch "
              "(check pooling)"),
    "convert": ("resnet_viz.commands.convert",
                "your own ResNet's trained weights as this project's checkpoint (structure and logits checked)"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's module is imported (a command's dependencies, e.g. Plotly,
    never load for another: the GPU machine runs ``train``/``reference`` with torch alone)."""
    parser = argparse.ArgumentParser(prog="python -m resnet_viz",
                                     description="resnet-viz: the ResNet paper's models, checkpoints and figures.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if only is None or name == only:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 1
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except VizError as exc:  # in the command's --lang when it has one
        print(f"error: {exc.message(getattr(args, 'lang', 'en'))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
