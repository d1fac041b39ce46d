"""``python -m resnet_viz`` as a user runs it: real subprocesses, exit codes, no tracebacks."""

import argparse
import functools
import json
import os
import subprocess
import sys

import pytest

from resnet_viz import cli_args
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.cli import COMMANDS, build_parser
from resnet_viz.models.registry import build_model
from tests.checkpoints.test_read import malicious_pth
from tests.conftest import ROOT
from tests.models.test_zoo import PARAMS


def run_cli(*args: str, cwd=ROOT, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESNET_VIZ_OFFLINE": "1", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "resnet_viz", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


@pytest.mark.slow  # a new Python process per call
def test_help_lists_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("models", "checkpoint"):
        assert command in result.stdout


@pytest.mark.slow  # a new Python process per call
def test_models_json_lists_every_zoo_model_with_params():
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert {name: row["params"] for name, row in table.items()} == PARAMS
    assert table["resnet50"]["pretrained"]["available"] and not table["plain34"]["pretrained"]["available"]
    assert table["resnet56"]["pretrained"] == {"available": True, "weights": "cifar10_resnet56-187c023a.pt",
                                               "dataset": "CIFAR-10", "cached": False,
                                               "by": "chenyaofo/pytorch-cifar-models, option B"}
    assert table["resnet18_cifar"]["dataset"] == "cifar10" and table["resnet34_cifar"]["shortcut"] == "B"
    text = run_cli("models").stdout
    assert "resnet18_cifar resnet  cifar10      11,173,962  -" in text
    assert table["resnet56"]["family"] == "resnet" and table["plain56"]["dataset"] == "cifar10"


@pytest.mark.slow  # a new Python process per call
def test_checkpoint_describes_a_file(tmp_path):
    meta = {"model": "resnet20", "shortcut": "A", "dataset": "unit test", "accuracy": 42.0,
            "classes": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "mean": [0.5] * 3, "std": [0.25] * 3}
    path = save_checkpoint(build_model("resnet20"), tmp_path / "r20", meta)
    result = run_cli("checkpoint", str(path), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["model"] == "resnet20" and info["params"] == 269_722 and info["accuracy"] == 42.0
    text = run_cli("checkpoint", str(path))
    assert text.returncode == 0 and "269,722" in text.stdout


@pytest.mark.slow  # a new Python process per call
def test_checkpoint_refuses_malicious_pickle_without_running_it(tmp_path):
    path, marker = malicious_pth(tmp_path)
    result = run_cli("checkpoint", str(path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "code" in result.stderr
    assert not marker.exists()


@pytest.mark.slow  # a new Python process per call
def test_checkpoint_refuses_missing_and_garbage_files(tmp_path):
    missing = run_cli("checkpoint", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    garbage = tmp_path / "junk.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    result = run_cli("checkpoint", str(garbage))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "not a readable checkpoint" in result.stderr


def test_a_command_loads_only_its_own_module():
    """The GPU machine has torch but no Plotly or Streamlit: `train` must not import another command's needs."""
    code = ("import sys; from resnet_viz.cli import build_parser; build_parser('train'); "
            "print(sorted(m for m in ('plotly', 'streamlit', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the inputs several commands share

# (command, dest): a flag of the same name that means something else in that command, so it is declared there.
OWN_OPTIONS = {
    ("campaign", "data"): "a default archive on this machine",
    ("campaign", "threads"): "the background process's threads, default 1",
    ("export", "data"): "an optional dataset to compare fp32 and fp16 on",
    ("reference", "data"): "the GPU machine's archive",
    ("evaluate", "checkpoint"): "load_checkpoint's files only (akamaster's format included), no random:NAME",
    ("export", "checkpoint"): "several of train's own files",
    ("evaluate", "limit"): "a fixed random subset, not the class-balanced first N",
    ("evaluate", "batch_size"): "its own default",
    ("reference", "batch_size"): "a training batch",
    ("train", "batch_size"): "a training batch",
    ("features", "model"): "a model source, not a zoo name",
    ("train", "model"): "the zoo net to train",
    ("summary", "model"): "the zoo net to summarise (a positional)",
}


def _fields(action: argparse.Action) -> tuple:
    choices = list(action.choices) if action.choices is not None else None
    return (type(action), tuple(action.option_strings), action.dest, action.default, action.type, choices,
            action.nargs, action.const, action.required, action.metavar, action.help)


def _shared_declarations() -> dict[str, list[tuple]]:
    """dest -> the declarations resnet_viz.cli_args makes for it (every variant of each helper)."""
    calls = [cli_args.checkpoints, functools.partial(cli_args.checkpoints, one=True), cli_args.model_name,
             cli_args.maxpool, cli_args.sample, functools.partial(cli_args.sample, default_split="train"),
             cli_args.dataset, cli_args.sample_batch, cli_args.threads, cli_args.device, cli_args.language,
             functools.partial(cli_args.student_code, seconds=60, per="building and running your network"),
             functools.partial(cli_args.student_code, seconds=5, per="one call of your function")]
    out: dict[str, list[tuple]] = {}
    for declare in calls:
        p = argparse.ArgumentParser(add_help=False)
        declare(p)
        for action in p._actions:
            out.setdefault(action.dest, []).append(_fields(action))
    return out


def _command_parsers(parser: argparse.ArgumentParser | None = None, prefix: str = ""
                     ) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its name, a command's own subcommands too ("check resnet")."""
    out = {}
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[prefix + name] = sub
                out.update(_command_parsers(sub, f"{prefix}{name} "))
    return out


def test_shared_options_are_declared_once_in_cli_args():
    """A flag several commands take is cli_args's declaration in each (same help, default, type, choices), unless
    the command gives the name another meaning (OWN_OPTIONS, with the reason)."""
    shared = _shared_declarations()
    used: dict[str, set[str]] = {}
    for name, parser in _command_parsers().items():
        for action in parser._actions:
            if action.dest == "json":
                assert action.option_strings == ["--json"] and action.help.startswith("print JSON"), name
                used.setdefault("json", set()).add(name)
            elif action.dest in shared and (name, action.dest) not in OWN_OPTIONS:
                assert _fields(action) in shared[action.dest], (name, action.dest)
                key = "checkpoints" if action.dest == "checkpoint" else action.dest  # one checkpoint or several
                used.setdefault(key, set()).add(name)
    assert {"responses", "lesion", "learns", "landscape"} <= used["checkpoints"]
    assert {"responses", "lesion", "learns", "landscape", "train"} <= used["threads"]
    assert {"evaluate", "train", "reference", "export"} <= used["device"]
    # every command that loads a checkpoint through read.py can keep a torchvision-CIFAR net's max pool
    assert {"checkpoint", "evaluate", "features", "responses", "lesion", "learns"} <= used["maxpool"]
    assert {"check resnet", "check pooling", "convert"} <= used["lang"]
    assert {"check resnet", "convert"} <= used["timeout"]
    assert all(len(commands) > 1 for commands in used.values()), used


def test_every_module_in_commands_is_a_command():
    """Helpers shared by commands live beside cli.py (cli_args.py): resnet_viz/commands/ holds the commands only."""
    folder = ROOT / "resnet_viz" / "commands"
    modules = {f"resnet_viz.commands.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    assert modules == {module for module, _ in COMMANDS.values()}
