"""Running a student's file (resnet_viz.student.code): FILE.py:NAME, an import that fails said with its line, and
the worker process that stops what runs too long or ends the process, then starts again."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_viz.errors import InputError
from resnet_viz.student import code
from resnet_viz.student.pooling import Case, pool_job
from resnet_viz.student.resnet import build
from tests.conftest import ROOT

EXAMPLES = ROOT / "tests" / "examples"


def test_targets():
    assert code.parse_target("my_resnet.py:MyResNet") == code.Target(Path("my_resnet.py"), "MyResNet")
    assert code.parse_target(r"C:\homework\my_resnet.py:resnet20").path == Path(r"C:\homework\my_resnet.py")
    for bad in ("my_resnet.py", "my_resnet.py:", ":MyResNet", "my_resnet.py:My-ResNet"):
        with pytest.raises(InputError) as info:
            code.parse_target(bad)
        assert info.value.key == "check.bad_target"


def _error(fn, *args) -> InputError:
    with pytest.raises(InputError) as info:
        fn(*args)
    return info.value


def test_a_file_that_raises_on_import_is_said_with_its_line():
    exc = _error(code.import_file, EXAMPLES / "raises_on_import.py")
    assert exc.key == "check.import_failed" and exc.params["kind"] == "FileNotFoundError"
    assert exc.params["where"] == 'raises_on_import.py:5: data = torch.load("cifar10_train.pt")  # a file only the ' \
                                  "student has"
    assert "if __name__" in exc.message("en") and "导入" in exc.message("zh")


def test_files_that_are_no_python_source(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("class MyResNet(nn.Module)\n    pass\n")
    exc = _error(code.import_file, broken)
    assert exc.key == "check.syntax_error" and exc.params["where"].startswith("broken.py:1: class MyResNet")
    big = tmp_path / "huge.py"
    big.write_bytes(b"#" * (code.MAX_SOURCE_BYTES + 1))
    assert _error(code.import_file, big).key == "check.source_too_large"
    assert _error(code.import_file, tmp_path / "weights.pth").key == "check.not_python"
    assert _error(code.import_file, tmp_path / "missing.py").key == "check.no_file"


def test_a_name_the_file_does_not_define_lists_what_it_does():
    exc = _error(code.load_object, code.Target(EXAMPLES / "wrong_resnets.py", "ResNet20"))
    assert exc.key == "check.no_name" and "four_stages" in exc.params["known"]


def test_building_a_network_says_what_went_wrong():
    cases = {"NeedsArguments": "check.needs_arguments", "NotAModule": "check.not_a_module",
             "returns_a_dict": "check.not_a_module"}
    for name, key in cases.items():
        path = EXAMPLES / ("wrong_resnets.py" if name == "NeedsArguments" else "bad_code.py")
        assert _error(build, code.Target(path, name)).key == key, name
    exc = _error(build, code.Target(EXAMPLES / "wrong_resnets.py", "NeedsArguments"))
    assert exc.params["names"] == "n, widths" and "wrong_resnets.py:resnet20" in exc.message("en")


@pytest.mark.slow  # starts the worker process three times (torch's import each time)
def test_the_worker_stops_what_runs_too_long_or_ends_the_process_and_starts_again():
    pool = code.Target(EXAMPLES / "my_pool.py", "max_forever")
    case = Case("notes", (4, 4), 2, 2, values="notes")
    with code.Worker(timeout=60) as worker:
        exc = _error(lambda: worker.run(pool_job, pool, case, False, what="max_forever(x, 2, 2)", timeout=1))
        assert exc.key == "check.timeout" and exc.params == {"what": "max_forever(x, 2, 2)", "seconds": "1"}
        done = worker.run(pool_job, code.Target(EXAMPLES / "my_pool.py", "max_pool"), case, True, what="max_pool")
        assert done.tolist() == [[9, 8], [6, 7]]  # a new worker, the notes' example
        exc = _error(lambda: worker.run(build, code.Target(EXAMPLES / "bad_code.py", "ends_the_process"),
                                        what="ends_the_process()"))
        assert exc.key == "check.worker_died" and exc.params["code"] == 3
        exc = _error(lambda: worker.run(build, code.Target(EXAMPLES / "raises_on_import.py", "MyResNet"),
                                        what="MyResNet"))
        assert exc.key == "check.import_failed" and exc.params["where"].startswith("raises_on_import.py:5:")
