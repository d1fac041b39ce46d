"""``check resnet FILE.py:NAME`` and ``check pooling FILE.py --max NAME [--avg NAME]``: a student's own code (homework
2 and 3) checked, in a worker process with a time limit; the report in ``--lang``. Exit status 0 when everything
passed, 1 when the check found differences or wrong cases, 2 when the code could not be run."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnet_viz import cli_args
from resnet_viz.errors import InputError
from resnet_viz.models.registry import SHORTCUT_OPTIONS

TARGET_HELP = ("your network: a class, built with no arguments (my_resnet.py:MyResNet), or a function that returns "
               "one, called with no arguments (my_resnet.py:resnet20); a class that needs arguments is built by such "
               "a function")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    resnet = sub.add_parser("resnet", help="your hand-written ResNet against the zoo's CIFAR-10 networks",
                            description="Builds your network in a separate process, traces it on a 32x32 image and "
                                        "says its parameters, stage shapes, shortcuts, the closest zoo network and "
                                        "each difference, and whether it computes what that network computes.")
    resnet.add_argument("target", metavar="FILE.py:NAME", help=TARGET_HELP)
    resnet.add_argument("--shortcut", type=str.upper, choices=SHORTCUT_OPTIONS,
                        help="compare with the zoo's ResNets of this shortcut option only (default: every option)")
    cli_args.student_code(resnet, seconds=60, per="building and running your network")
    cli_args.language(resnet)
    pooling = sub.add_parser("pooling", help="your hand-written max / average pooling against torch.nn.functional",
                             description="Calls your functions as f(x, kernel, stride), and f(x, kernel, stride, "
                                         "padding) when they take a fourth parameter, on a table of cases, and "
                                         "compares each output with torch.nn.functional's.")
    pooling.add_argument("file", metavar="FILE.py", help="your file")
    pooling.add_argument("--max", metavar="NAME", help="your max-pooling function's name")
    pooling.add_argument("--avg", metavar="NAME", help="your average-pooling function's name")
    pooling.add_argument("--channels", action="store_true", help="also C x H x W inputs (pool each channel)")
    cli_args.student_code(pooling, seconds=5, per="one call of your function")
    cli_args.language(pooling)


def _resnet(args: argparse.Namespace) -> int:
    from resnet_viz.student.code import Worker, parse_target
    from resnet_viz.student.resnet import check_resnet, report

    target = parse_target(args.target)
    with Worker(args.timeout) as worker:
        check = check_resnet(target, worker, option=args.shortcut)
    print("\n".join(report(check, args.lang)))
    return 0 if check.passed else 1


def _pooling(args: argparse.Namespace) -> int:
    from resnet_viz.student.code import Worker, source_file
    from resnet_viz.student.pooling import check_pooling, report

    names = {kind: name for kind, name in (("max", args.max), ("avg", args.avg)) if name}
    if not names:
        raise InputError("check.pool_nothing")
    path = source_file(Path(args.file))
    with Worker(args.timeout) as worker:
        checks = check_pooling(path, names, worker, channels=args.channels)
    print("\n".join(report(checks, args.file, args.lang)))
    return 0 if all(c.ok for c in checks) else 1


def run(args: argparse.Namespace) -> int:
    return _resnet(args) if args.what == "resnet" else _pooling(args)
