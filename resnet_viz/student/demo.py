"""The three commands on the project's own examples, as the Homework and Hand-written ResNet pages show them: the
command a student types and the output it prints, computed here from the same functions (nothing typed by hand).

The examples are trusted code of this project, run in this process (the app never imports a student's file):
``examples/my_resnet.py``, a ResNet-20 with its own names, shown as ``my_resnet.py``, and the conv lab's hand-written
pooling (``conv_lab/handwritten/pooling_en.py``), shown as ``my_pool.py``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from resnet_viz.seeded import seeded
from resnet_viz.student import convert, pooling, resnet
from resnet_viz.student.code import InProcess, Target

HERE = Path(__file__).resolve().parent
RESNET = Target(HERE / "examples" / "my_resnet.py", "MyResNet", module="resnet_viz.student.examples.my_resnet")
POOLING = Target(HERE.parent / "conv_lab" / "handwritten" / "pooling_en.py", "",
                 module="resnet_viz.conv_lab.handwritten.pooling_en")
POOL_FUNCTIONS = {"max": "max_pool2d", "avg": "avg_pool2d"}
SHOWN_TARGET, SHOWN_WEIGHTS, SHOWN_POOL_FILE = convert.EXAMPLE_TARGET, "my_resnet.pth", "my_pool.py"
WEIGHTS_SEED = 0
COMMANDS = ("check_resnet", "convert", "check_pooling")


def check_resnet(lang: str) -> tuple[str, list[str]]:
    check = resnet.check_resnet(RESNET, InProcess())
    return (f"python -m resnet_viz check resnet {SHOWN_TARGET}",
            resnet.report(replace(check, target=SHOWN_TARGET), lang))


def convert_example(lang: str) -> tuple[str, list[str]]:
    from resnet_viz.student.examples.my_resnet import MyResNet

    with seeded(WEIGHTS_SEED):
        state = MyResNet().state_dict()  # as if trained: any weights convert the same way
    done = convert.convert_state(RESNET, state, InProcess())
    out = convert.default_out(Path(SHOWN_WEIGHTS))
    return (convert.command(SHOWN_TARGET, SHOWN_WEIGHTS),
            convert.report(done, out, SHOWN_TARGET, SHOWN_WEIGHTS, lang))


def check_pooling(lang: str) -> tuple[str, list[str]]:
    runner = InProcess()
    checks = [pooling.check_function(replace(POOLING, name=name), kind, runner)
              for kind, name in POOL_FUNCTIONS.items()]
    flags = " ".join(f"--{kind} {name}" for kind, name in POOL_FUNCTIONS.items())
    return (f"python -m resnet_viz check pooling {SHOWN_POOL_FILE} {flags}",
            pooling.report(checks, SHOWN_POOL_FILE, lang))


def example(which: str, lang: str) -> tuple[str, str]:
    """(command line, its output) of ``which`` (one of COMMANDS) in ``lang``."""
    make = {"check_resnet": check_resnet, "convert": convert_example, "check_pooling": check_pooling}[which]
    command, lines = make(lang)
    return command, "\n".join(lines)
