"""``check resnet`` and ``check pooling`` as a student runs them: a real process, the report in the environment's
language or --lang, exit status 0 / 1 / 2, and never a traceback."""

from __future__ import annotations

import pytest

from resnet_viz.i18n import t
from tests.conftest import ROOT
from tests.test_cli import run_cli

pytestmark = pytest.mark.slow  # a new Python process per call, and a worker process in it
EXAMPLES = ROOT / "tests" / "examples"


def _clean(result) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr


def test_check_resnet_passes_a_hand_written_resnet20_in_the_environments_language(tmp_path):
    (tmp_path / "my_resnet.py").write_text((ROOT / "resnet_viz/student/examples/my_resnet.py").read_text())
    result = run_cli("check", "resnet", "my_resnet.py:resnet20", cwd=tmp_path, LANG="zh_CN.UTF-8")
    _clean(result)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == t("check.network_function", "zh", target="my_resnet.py:resnet20", params="269,722")
    assert lines[1] == t("check.closest_same", "zh", zoo="ResNet-20 方案 A", params="269,722")


def test_check_resnet_lists_the_differences_and_fails():
    result = run_cli("check", "resnet", f"{EXAMPLES / 'wrong_resnets.py'}:four_stages", "--lang", "en")
    _clean(result)
    assert result.returncode == 1
    assert "  - the network has 4 stages; ResNet-20, option A has 3." in result.stdout.splitlines()


@pytest.mark.parametrize("target,key", [
    (f"{EXAMPLES / 'raises_on_import.py'}:MyResNet", "raises FileNotFoundError"),
    (f"{EXAMPLES / 'bad_code.py'}:NotAModule", "not a torch.nn.Module"),
    (f"{EXAMPLES / 'bad_code.py'}:builds_forever", "did not finish within 3 s"),
    ("my_resnet.pth", "name your network as FILE.py:NAME"),
])
def test_check_resnet_says_what_went_wrong_in_one_line(target, key):
    result = run_cli("check", "resnet", target, "--timeout", "3", LANG="C")
    _clean(result)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert key.replace("raises", "raised") in result.stderr


def test_check_pooling_passes_fails_and_stops_a_loop():
    good = run_cli("check", "pooling", str(EXAMPLES / "my_pool.py"), "--max", "max_pool", "--avg", "avg_pool",
                   "--channels")
    _clean(good)
    assert good.returncode == 0 and good.stdout.splitlines()[-1].startswith("PASS my_pool.py: max_pool 18/18")
    bad = run_cli("check", "pooling", str(EXAMPLES / "my_pool.py"), "--max", "max_forever", "--avg", "avg_ceil",
                  "--timeout", "2", "--lang", "zh")
    _clean(bad)
    assert bad.returncode == 1 and "在 2 秒内没有结束，已被停止" in bad.stdout and "3 × 3" in bad.stdout
    none = run_cli("check", "pooling", str(EXAMPLES / "my_pool.py"))
    assert none.returncode == 2 and t("check.pool_nothing", "en") in none.stderr
