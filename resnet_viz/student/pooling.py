"""``check pooling``: a student's own max and average pooling (homework 2) against ``torch.nn.functional``.

Their functions are called as ``f(x, kernel, stride)``, with ``padding`` as a fourth argument when they take one,
on a table of cases: the lecture notes' example, odd and non-square sizes, overlapping windows and gaps between
them, a window as large as the input, negative values (a maximum that starts from 0 is wrong there), fractions, and
with ``--channels`` C x H x W arrays too. Each call runs in the worker with its own time limit. The expected output
is ``torch.nn.functional``'s (``resnet_viz.conv_lab.pooling.torch_pool2d``); cells are compared as the conv lab's
exercise compares typed answers (``pool_lesson.check_cells``), with a tolerance for float32 instead of two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_viz.conv_lab.pool_lesson import EXERCISE_SIZES, RIGHT, check_cells, pool_exercise
from resnet_viz.conv_lab.pooling import torch_pool2d
from resnet_viz.errors import InputError, VizError
from resnet_viz.i18n import t
from resnet_viz.student.code import Runner, Target, call, load_object, parameters

KINDS = ("max", "avg")
TOLERANCE = 1e-5  # float32 arithmetic in the student's code is right
TORCH_NAMES = {"max": "torch.nn.functional.max_pool2d", "avg": "torch.nn.functional.avg_pool2d"}
EXERCISE_GRIDS = {(n, n) for n in EXERCISE_SIZES}
NOTES_EXAMPLE = ((1, 4, 2, 8), (3, 9, 5, 7), (2, 6, 4, 1), (5, 3, 7, 2))  # the lecture notes' 2x2 max-pooling example


@dataclass(frozen=True)
class Case:
    """One call: an input, kernel, stride and padding; ``what`` names it in the catalogue (``check.case_<what>``)."""

    what: str
    shape: tuple[int, ...]
    kernel: int
    stride: int
    padding: int = 0
    values: str = "digits"  # "digits" 0..9, "negative" -9..-1, "normal" fractions, "notes" the notes' example
    seed: int = 0

    def input(self) -> np.ndarray:
        if self.values == "notes":
            return np.array(NOTES_EXAMPLE, dtype=np.float64)
        rng = np.random.default_rng(self.seed)
        if self.values == "normal":
            return np.round(rng.normal(size=self.shape), 3)
        if self.values == "digits" and self.shape in EXERCISE_GRIDS:
            return pool_exercise(self.shape[0], self.seed).input  # the conv lab's exercise grids
        digits = rng.integers(0, 10, size=self.shape).astype(np.float64)
        return digits - 10 if self.values == "negative" else digits


CASES: tuple[Case, ...] = (
    Case("notes", (4, 4), 2, 2, values="notes"),
    Case("digits", (6, 6), 2, 2, seed=1),
    Case("odd", (5, 5), 2, 2, seed=2),
    Case("rectangle", (7, 5), 3, 2, seed=3),
    Case("overlap", (5, 5), 3, 1, seed=4),
    Case("overlap", (4, 6), 2, 1, seed=5),
    Case("gaps", (7, 7), 2, 3, seed=6),
    Case("one", (3, 4), 1, 1, seed=7),
    Case("whole", (4, 4), 4, 4, seed=8),
    Case("negative", (4, 4), 2, 2, values="negative", seed=9),
    Case("negative", (5, 6), 3, 2, values="negative", seed=10),
    Case("fractions", (6, 6), 3, 3, values="normal", seed=11),
    Case("padding", (4, 4), 2, 2, 1, seed=12),
    Case("padding_negative", (5, 5), 3, 1, 1, values="negative", seed=13),
    Case("padding", (7, 6), 3, 2, 1, values="normal", seed=14),
)
CHANNEL_CASES: tuple[Case, ...] = (
    Case("channels", (3, 4, 4), 2, 2, seed=15),
    Case("channels", (2, 5, 7), 3, 2, values="negative", seed=16),
    Case("channels_padding", (2, 5, 5), 3, 1, 1, values="normal", seed=17),
)


def cases(*, channels: bool, padding: bool) -> list[Case]:
    """The cases a function is called on: padding ones only when it takes padding, C x H x W ones on request."""
    table = CASES + (CHANNEL_CASES if channels else ())
    return [c for c in table if padding or not c.padding]


def parameters_job(target: Target) -> int | None:
    """In the worker: how many positional parameters the student's function takes."""
    fn = load_object(target)
    if not callable(fn):
        raise InputError("check.not_callable", target=str(target), kind=type(fn).__name__)
    return parameters(fn)


def call_text(target: Target, case: Case, with_padding: bool) -> str:
    args = f"x, {case.kernel}, {case.stride}" + (f", {case.padding}" if with_padding else "")
    return f"{target.name}({args})"


def pool_job(target: Target, case: Case, with_padding: bool) -> np.ndarray:
    """In the worker: the student's function on one case (an array of floats, whatever it returned)."""
    fn = load_object(target)
    args = (case.input(), case.kernel, case.stride) + ((case.padding,) if with_padding else ())
    out = call(target, call_text(target, case, with_padding), fn, *args)
    try:
        return np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("check.pool_not_array", what=call_text(target, case, with_padding),
                         kind=type(out).__name__) from None


@dataclass(frozen=True)
class Failure:
    case: Case
    call: str
    expected: np.ndarray
    received: np.ndarray | None = None  # None: no array came back (see error)
    error: VizError | None = None

    @property
    def verdicts(self) -> np.ndarray | None:
        """Per cell of the received array: RIGHT or not (None when the shapes differ)."""
        if self.received is None or self.received.shape != self.expected.shape:
            return None
        return verdicts(self.received, self.expected)


def verdicts(received: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``check_cells`` on each 2-D map of arrays of the same shape (a C x H x W array map by map)."""
    maps = [check_cells(r, e, TOLERANCE) for r, e in zip(received.reshape((-1, *expected.shape[-2:])),
                                                          expected.reshape((-1, *expected.shape[-2:])))]
    return np.stack(maps).reshape(expected.shape)


@dataclass(frozen=True)
class FunctionCheck:
    kind: str  # "max" or "avg"
    name: str
    takes_padding: bool
    passed: int = 0
    total: int = 0
    failure: Failure | None = None
    skipped: int = 0  # padding cases left out (the function takes no padding)
    error: VizError | None = None  # the function could not be called at all
    cases: tuple[Case, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.failure is None and self.total > 0


def _arguments(target: Target, runner: Runner, timeout: float | None) -> int:
    count = runner.run(parameters_job, target, what=target.name, timeout=timeout)
    if count is not None and count < 3:
        raise InputError("check.pool_parameters", name=target.name, count=count)
    return 4 if count is None else count


def check_function(target: Target, kind: str, runner: Runner, *, channels: bool = False,
                   timeout: float | None = None) -> FunctionCheck:
    """``target`` (a student's pooling function of ``kind``) on every case it can take; stops at the first wrong
    one."""
    try:
        takes_padding = _arguments(target, runner, timeout) >= 4
    except VizError as exc:
        return FunctionCheck(kind, target.name, False, error=exc)
    table = cases(channels=channels, padding=takes_padding)
    skipped = len(cases(channels=channels, padding=True)) - len(table)
    passed = 0
    for case in table:
        expected = torch_pool2d(case.input(), kind, case.kernel, case.stride, case.padding)
        what = call_text(target, case, takes_padding)
        try:
            received = runner.run(pool_job, target, case, takes_padding, what=what, timeout=timeout)
        except VizError as exc:
            return FunctionCheck(kind, target.name, takes_padding, passed, len(table),
                                 Failure(case, what, expected, error=exc), skipped, cases=tuple(table))
        if received.shape != expected.shape or not (verdicts(received, expected) == RIGHT).all():
            return FunctionCheck(kind, target.name, takes_padding, passed, len(table),
                                 Failure(case, what, expected, received), skipped, cases=tuple(table))
        passed += 1
    return FunctionCheck(kind, target.name, takes_padding, passed, len(table), None, skipped, cases=tuple(table))


def check_pooling(path: Path, names: dict[str, str], runner: Runner, *, channels: bool = False,
                  timeout: float | None = None) -> list[FunctionCheck]:
    """Each of ``names`` (kind -> function name in ``path``) checked."""
    return [check_function(Target(Path(path), name), kind, runner, channels=channels, timeout=timeout)
            for kind, name in names.items()]


# ---------------------------------------------------------------- the report

def grid(a: np.ndarray, marks: np.ndarray | None = None) -> list[str]:
    """An array as rows of numbers (a C x H x W one channel by channel); ``marks`` puts * after wrong cells."""
    if a.ndim == 0:
        return [f"{float(a):g}"]
    if a.ndim == 1:
        a = a[None]
    if a.ndim > 2:
        out = []
        for c in range(a.shape[0]):
            out.append(f"[{c}]")
            out += grid(a[c], None if marks is None else marks[c])
        return out
    cells = [[f"{v:g}" for v in row] for row in a.tolist()]
    width = max((len(text) for row in cells for text in row), default=1)
    rows = []
    for i, row in enumerate(cells):
        shown = [text.rjust(width) + ("*" if marks is not None and marks[i, j] != RIGHT else " ")
                 for j, text in enumerate(row)]
        rows.append("  " + " ".join(shown).rstrip())
    return rows


def _case_text(case: Case, lang: str) -> str:
    return t(f"check.case_{case.what}", lang, shape=" × ".join(map(str, case.shape)), kernel=case.kernel,
             stride=case.stride, padding=case.padding)


def function_lines(check: FunctionCheck, path: str, lang: str) -> list[str]:
    torch_name = TORCH_NAMES[check.kind]
    if check.error is not None:
        return [t("check.pool_error", lang, name=check.name, file=path, message=check.error.message(lang))]
    lines = [t("check.pool_function", lang, name=check.name, file=path,
               call="x, kernel, stride, padding" if check.takes_padding else "x, kernel, stride")]
    if check.skipped:
        lines.append(t("check.pool_no_padding", lang, name=check.name, skipped=check.skipped))
    f = check.failure
    if f is None:
        lines.append(t("check.pool_all_equal", lang, name=check.name, total=check.total, torch=torch_name))
        return lines
    lines.append(t("check.pool_failed", lang, name=check.name, passed=check.passed, total=check.total,
                   number=check.passed + 1, case=_case_text(f.case, lang), call=f.call))
    if f.error is not None:
        lines.append(t("check.bullet", lang, text=f.error.message(lang)))
        return lines
    lines += [t("check.pool_input", lang), *grid(f.case.input())]
    lines += [t("check.pool_expected", lang, torch=torch_name, shape=" × ".join(map(str, f.expected.shape))),
              *grid(f.expected)]
    received = f.received if f.received is not None else np.array([])
    marks = f.verdicts
    if marks is None:
        lines += [t("check.pool_received_shape", lang, shape=" × ".join(map(str, received.shape)) or "()"),
                  *grid(received)]
    else:
        wrong = int((marks != RIGHT).sum())
        lines += [t("check.pool_received", lang, wrong=wrong, cells=f.expected.size), *grid(received, marks)]
    return lines


def report(checks: list[FunctionCheck], path: str, lang: str) -> list[str]:
    """``check pooling``'s output in ``lang``, ending with the line for the homework report when all passed."""
    lines = [line for check in checks for line in function_lines(check, path, lang)]
    if checks and all(c.ok for c in checks):
        functions = ", ".join(f"{c.name} {c.passed}/{c.total}" for c in checks)
        kinds = {c.kind for c in checks}
        run = [case for c in checks for case in c.cases]
        lines.append(t("check.pool_pass", lang, file=Path(path).name, functions=functions,
                       torch=", ".join(TORCH_NAMES[k] for k in KINDS if k in kinds),
                       padding=t("check.pool_with_padding" if all(c.takes_padding for c in checks)
                                 else "check.pool_without_padding", lang),
                       channels=t("check.pool_with_channels" if any(len(case.shape) == 3 for case in run)
                                  else "check.pool_2d", lang),
                       kernels=_span(case.kernel for case in run), strides=_span(case.stride for case in run)))
    return lines


def _span(values) -> str:
    values = list(values)
    return f"{min(values)}–{max(values)}"
