"""requirements.txt, the file Streamlit Community Cloud installs with uv, resolves one way only.

It names no extra index (uv would take every package the PyTorch index also mirrors from there alone), shares
requirements/base.txt with the local install, and names the CPU-only torch and torchvision wheels for Python 3.12
on Linux x86-64 by direct URL, in the versions that requirements/local.txt pins.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CLOUD = ROOT / "requirements.txt"
LOCAL = ROOT / "requirements" / "local.txt"
BASE = ROOT / "requirements" / "base.txt"
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu/"
CLOUD_TAG = Tag("cp312", "cp312", "manylinux_2_28_x86_64")  # Cloud's Python 3.12 on Linux x86-64


def _lines(path: Path) -> list[str]:
    """The file's lines without comments and blanks."""
    stripped = (line.split(" #", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def _options(path: Path) -> list[str]:
    return [line for line in _lines(path) if line.startswith("-")]


def _requirements(path: Path) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in _lines(path) if not line.startswith("-")]
    by_name: dict[str, Requirement] = {canonicalize_name(req.name): req for req in reqs}
    assert len(by_name) == len(reqs), f"{path.name} names a package twice"
    return by_name


def _included(path: Path) -> list[Path]:
    """The files that ``-r`` lines include, resolved as pip and uv do: relative to the including file."""
    return [(path.parent / option.split(maxsplit=1)[1]).resolve() for option in _options(path)
            if option.startswith("-r ")]


def _local_pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for name, req in _requirements(LOCAL).items():
        (spec,) = req.specifier
        assert spec.operator == "==", f"local.txt pins {name} exactly"
        pins[name] = Version(spec.version)
    return pins


def test_cloud_file_names_no_index_and_shares_base_with_local() -> None:
    assert _options(CLOUD) == ["-r requirements/base.txt"]
    assert _included(CLOUD) == _included(LOCAL) == [BASE.resolve()]
    assert not _options(BASE)


def test_torch_comes_only_from_the_files_that_choose_its_build() -> None:
    assert {"torch", "torchvision"}.isdisjoint(_requirements(BASE))
    assert set(_requirements(CLOUD)) == set(_local_pins()) == {"torch", "torchvision"}


@pytest.mark.parametrize("name", ["torch", "torchvision"])
def test_cloud_pins_the_cpu_wheel_for_python_312_linux(name: str) -> None:
    req = _requirements(CLOUD)[name]
    assert req.url is not None and not req.specifier and not req.marker and not req.extras
    assert req.url.startswith(PYTORCH_CPU_INDEX)
    filename = unquote(urlsplit(req.url).path.rsplit("/", 1)[1])
    wheel_name, version, _, tags = parse_wheel_filename(filename)
    assert wheel_name == name
    assert version.local == "cpu"
    assert Version(version.public) == _local_pins()[name]
    assert CLOUD_TAG in tags
