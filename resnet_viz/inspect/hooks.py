"""The one place that hooks a model, and the per-model lock every such computation takes.

A cached model is shared by every session's thread. A hook registered by one computation would also see
another computation's forward pass, and a mode or flag set by one would change what another computes, so
everything that hooks or modifies a model runs inside ``hooked(model, ...)`` (or ``locked(model)`` when it
only needs the model to itself, e.g. a Captum call or a deep copy): one computation per model at a time.

The lock is re-entrant and kept per model object (weakly: it goes with the model), so a computation may
call another on the same model in the same thread.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

Hook = Callable[..., Any]
Target = str | nn.Module  # a module path (``layer3.2.bn2``, "" for the model itself) or the module
Hooks = Mapping[str, Hook] | Mapping[nn.Module, Hook] | Iterable[tuple[Target, Hook]]
Mode = Literal["eval", "train"] | None

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The lock of ``model`` (one per model object, created on first use)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


@contextmanager
def locked(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` to this thread alone, for a computation that needs no hooks of its own."""
    with model_lock(model):
        yield model


def _pairs(model: nn.Module, hooks: Hooks) -> list[tuple[nn.Module, Hook]]:
    items = hooks.items() if isinstance(hooks, Mapping) else hooks
    return [(model.get_submodule(t) if isinstance(t, str) else t, fn) for t, fn in items]


@contextmanager
def _state(model: nn.Module, mode: Mode, requires_grad: bool | None, relu_inplace: bool | None) -> Iterator[None]:
    """Set the mode and flags asked for; restore every module's mode and each flag changed, also on error."""
    # Only what differs is set and restored: this runs under the model's lock, where every Python step of one
    # session's thread can wait for the interpreter behind thirty others.
    modes = [(m, m.training) for m in model.modules()]
    grads = ([(p, p.requires_grad) for p in model.parameters() if p.requires_grad != requires_grad]
             if requires_grad is not None else [])
    relus = ([(m, m.inplace) for m in model.modules() if isinstance(m, nn.ReLU) and m.inplace != relu_inplace]
             if relu_inplace is not None else [])
    try:
        if mode is not None and any(m.training != (mode == "train") for m, _ in modes):
            model.train(mode == "train")
        for p, _ in grads:
            p.requires_grad_(bool(requires_grad))
        for relu, _ in relus:
            relu.inplace = bool(relu_inplace)
        yield
    finally:
        for m, training in modes:
            if m.training != training:
                m.training = training
        for p, flag in grads:
            p.requires_grad_(flag)
        for relu, inplace in relus:
            relu.inplace = inplace


@contextmanager
def hooked(model: nn.Module, *, forward: Hooks = (), forward_pre: Hooks = (), backward: Hooks = (),
           mode: Mode = "eval", requires_grad: bool | None = None,
           relu_inplace: bool | None = None) -> Iterator[nn.Module]:
    """``model`` locked, in ``mode`` (None: as it is), with hooks registered; all undone on exit, also on error.

    ``forward`` hooks are ``fn(module, inputs, output)``, ``forward_pre`` hooks ``fn(module, inputs)`` and
    ``backward`` hooks ``fn(module, grad_inputs, grad_outputs)`` (full backward hooks), each given as
    ``{target: fn}`` or as ``(target, fn)`` pairs, registered in that order. ``requires_grad`` sets the flag of
    every parameter (False: no weight gradients are built), ``relu_inplace`` the ``inplace`` flag of every
    ReLU; both are restored afterwards, as is the train/eval mode of every module.
    """
    with model_lock(model), _state(model, mode, requires_grad, relu_inplace):
        handles: list[RemovableHandle] = []
        try:
            for module, fn in _pairs(model, forward_pre):
                handles.append(module.register_forward_pre_hook(fn))
            for module, fn in _pairs(model, forward):
                handles.append(module.register_forward_hook(fn))
            for module, fn in _pairs(model, backward):
                handles.append(module.register_full_backward_hook(fn))
            yield model
        finally:
            for handle in handles:
                handle.remove()


def on_grad(tensor: torch.Tensor, fn: Callable[[torch.Tensor], Any]) -> RemovableHandle:
    """Call ``fn(gradient)`` when the gradient of ``tensor`` is computed (e.g. an output seen by a forward
    hook). The hook belongs to the tensor and goes with it; use it inside ``hooked``."""
    return tensor.register_hook(fn)


Replacement = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@contextmanager
def lesioned(model: nn.Module, replacements: Mapping[str, Replacement] | Mapping[nn.Module, Replacement],
             *, mode: Mode = "eval") -> Iterator[nn.Module]:
    """``model`` locked, each target module's output replaced by ``fn(module, its input)`` (a lesion: the module
    is deleted and something of the caller's choosing is passed on instead); all undone on exit, also on error.

    The targets still compute their own output (forward hooks cannot skip it); it is thrown away. Nothing of
    the model is swapped or changed: its modules, parameters and buffers are the same objects before, during
    and after, and another thread's forward pass waits for the lock (it never sees a lesion).
    """
    hooks = [(target, lambda module, inputs, _output, fn=fn: fn(module, inputs[0]))
             for target, fn in replacements.items()]
    with hooked(model, forward=hooks, mode=mode):
        yield model
