"""Running a student's own code: their file imported by path, and a worker process that runs it with a time limit.

``check resnet``, ``convert`` and ``check pooling`` take a student's file (``my_resnet.py:MyResNet``). The process
that prints the report never imports it: a worker process (a fresh Python) does, and runs one job at a time; a job
that does not answer within its time limit (a loop that never ends) is stopped by killing the worker, which starts
again for the next job. Whatever goes wrong in the student's code (an import that raises, a class that needs
arguments, a function that crashes or ends the process) comes back as one sentence of the ``check`` catalogue with
the line of their file where it happened, never as a traceback.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import pickle
import re
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

from resnet_viz.errors import InputError, VizError

T = TypeVar("T")
MAX_SOURCE_BYTES = 2 * 1024 * 1024  # a hand-written network or pooling is a few kilobytes of Python
START_TIMEOUT_S = 300.0  # the worker's own start (importing torch on a busy machine), not counted against a job


@dataclass(frozen=True)
class Target:
    """``FILE.py:NAME``: a class, a function or an object in a student's file (``module``: an importable module of
    this project instead, the pages' examples, imported by name)."""

    path: Path
    name: str
    module: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.name}"


def parse_target(text: str) -> Target:
    """``my_resnet.py:MyResNet`` -> Target (the last colon splits, so a Windows drive letter stays in the path)."""
    path, sep, name = str(text).rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise InputError("check.bad_target", target=text)
    return Target(Path(path), name)


def source_file(path: Path) -> Path:
    """``path`` if it is a Python file of a plausible size, else an InputError saying what it is instead."""
    if path.suffix != ".py":
        raise InputError("check.not_python", file=str(path))
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError("check.no_file", file=str(path)) from None
    if size > MAX_SOURCE_BYTES:
        raise InputError("check.source_too_large", file=str(path), size_mb=round(size / 2**20, 1),
                         limit_mb=MAX_SOURCE_BYTES // 2**20)
    return path


def where(exc: BaseException, path: Path) -> str:
    """"my_resnet.py:7: x = 1 / 0": the last line of the student's file the exception passed through ("" when it
    never did, e.g. an argument error raised by Python before their function ran)."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"{path.name}:{exc.lineno}: {(exc.text or '').strip()}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    if not frames:
        return ""
    last = frames[-1]
    return f"{path.name}:{last.lineno}: {(last.line or '').strip()}"


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


def failure(key: str, exc: BaseException, path: Path, **params: object) -> InputError:
    """An InputError ``key`` for ``exc`` raised by the student's code: its type, message and line."""
    return InputError(key, kind=type(exc).__name__, detail=_detail(exc), where=where(exc, path) or "-", **params)


_imported: dict[tuple[Path, int], ModuleType] = {}  # a check calls into the same file again and again


def import_file(path: Path) -> ModuleType:
    """The student's file imported as a module of its own (their other files beside it can be imported too); once
    per version of the file in this process."""
    path = source_file(Path(path)).resolve()
    version = (path, path.stat().st_mtime_ns)
    if version in _imported:
        return _imported[version]
    name = "_student_" + re.sub(r"\W", "_", str(path))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError("check.not_python", file=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes defined in it (dataclasses, pickling) find their module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise InputError("check.syntax_error", file=path.name, detail=exc.msg, where=where(exc, path)) from None
    except BaseException as exc:  # noqa: BLE001 - anything, SystemExit included, is the student's to fix
        raise failure("check.import_failed", exc, path, file=path.name) from None
    finally:
        sys.path.remove(str(path.parent))
    _imported[version] = module
    return module


def load_object(target: Target) -> Any:
    """The object ``target`` names in its file."""
    module = importlib.import_module(target.module) if target.module else import_file(target.path)
    if not hasattr(module, target.name):
        known = [n for n, v in vars(module).items() if not n.startswith("_") and callable(v)
                 and getattr(v, "__module__", None) == module.__name__]
        raise InputError("check.no_name", file=target.path.name, name=target.name, known=", ".join(known) or "-")
    return getattr(module, target.name)


def call(target: Target, what: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, the student's code: anything it raises becomes ``check.raised`` naming ``what``."""
    try:
        return fn(*args)
    except VizError:
        raise
    except BaseException as exc:  # noqa: BLE001
        raise failure("check.raised", exc, target.path, what=what) from None


def needed_arguments(fn: Callable) -> list[str]:
    """The parameters ``fn`` (a function, or a class: its ``__init__``) cannot be called without."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def parameters(fn: Callable) -> int | None:
    """How many positional arguments ``fn`` takes (None: any number, ``*args``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


# ---------------------------------------------------------------- where jobs run

class Runner(Protocol):
    def run(self, job: Callable[..., T], *args: Any, what: str, timeout: float | None = None) -> T: ...


class InProcess:
    """Jobs run here, with no time limit: for the project's own examples (the app's pages), never for a
    student's file."""

    def run(self, job: Callable[..., T], *args: Any, what: str, timeout: float | None = None) -> T:
        return job(*args)


def _send(conn: Connection, obj: Any) -> None:
    """Plain pickle: multiprocessing's own would hand tensors over through shared memory, which needs a process
    multiprocessing started."""
    conn.send_bytes(pickle.dumps(obj))


def _recv(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def serve() -> None:
    """The worker: read (job, args) from stdin, run it, write ("ok", result) or ("error", key, params) back. The
    student's print()s go to stderr: stdout carries the answers. Ctrl-C is the parent's to handle."""
    import os
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    questions = Connection(0, writable=False)
    torch.set_num_threads(1)  # this process alone: a student's small network needs no more
    _send(answers, ("ready",))
    while True:
        try:
            message = _recv(questions)
        except EOFError:
            return
        if message is None:
            return
        job, args = message
        try:
            reply: tuple = ("ok", job(*args))
        except VizError as exc:
            reply = ("error", exc.key, exc.params)
        except BaseException as exc:  # noqa: BLE001 - a job's own failure, still said in one line
            reply = ("error", "check.worker_failed", {"kind": type(exc).__name__, "detail": _detail(exc)})
        try:
            _send(answers, reply)
        except Exception as exc:  # a result that cannot be sent (it cannot be pickled)
            _send(answers, ("error", "check.worker_failed", {"kind": type(exc).__name__, "detail": _detail(exc)}))


class Worker:
    """A worker process for a student's code (a fresh Python running ``serve``, nothing inherited from this one's
    ``__main__``); ``run`` gives each job ``timeout`` seconds (the default one unless said otherwise) and kills the
    worker when a job takes longer. Use it in a ``with`` block."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._process: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> tuple[Connection, Connection]:
        if self._send is not None and self._recv is not None:
            return self._send, self._recv
        package_root = str(Path(__file__).resolve().parents[2])  # resnet_viz importable however it was found here
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen([sys.executable, "-c", "from resnet_viz.student.code import serve; serve()"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self._process.stdin is not None and self._process.stdout is not None
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        try:
            started = self._recv.poll(START_TIMEOUT_S) and _recv(self._recv) == ("ready",)
        except (EOFError, OSError):
            started = False
        if not started:
            self.close(kill=True)
            raise InputError("check.worker_start", seconds=int(START_TIMEOUT_S))
        return self._send, self._recv

    def run(self, job: Callable[..., T], *args: Any, what: str, timeout: float | None = None) -> T:
        send, recv = self._start()
        limit = self.timeout if timeout is None else timeout
        try:
            _send(send, (job, args))
            reply = _recv(recv) if recv.poll(limit) else None
        except (EOFError, OSError):
            code = self._exit_code()
            self.close(kill=True)
            raise InputError("check.worker_died", what=what, code=code) from None
        if reply is None:
            self.close(kill=True)
            raise InputError("check.timeout", what=what, seconds=f"{limit:g}")
        if reply[0] == "error":
            raise InputError(reply[1], **reply[2])
        return reply[1]

    def _exit_code(self) -> int | str:
        try:
            return self._process.wait(timeout=5) if self._process is not None else "?"
        except subprocess.TimeoutExpired:
            return "?"

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker: ask it to end, or ``kill`` it (a job still running)."""
        if self._send is not None:
            if not kill:
                try:
                    _send(self._send, None)
                except OSError:
                    pass
            self._send.close()
            self._send = None
        if self._recv is not None:
            self._recv.close()
            self._recv = None
        if self._process is not None:
            try:
                if kill:
                    self._process.kill()
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
