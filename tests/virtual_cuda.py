"""A virtual CUDA device for CPU-only test machines: ``with virtual_cuda(monkeypatch) as log:`` runs code that asks
for ``cuda`` on the CPU, but remembers which tensors are "on the GPU", so that a wrong placement shows.

Every move to ``cuda`` (``Tensor.to``, ``Module.to``, ``.cuda()``, a factory's ``device=``) runs on the CPU and marks
its result as a CUDA tensor; ``.device`` and ``.is_cuda`` of a marked tensor say ``cuda:0``; the results of any
operation on a marked tensor are marked; a move to the CPU unmarks. What would fail on a real GPU is logged instead:

* ``log.mixed``: an operation between a CUDA and a CPU tensor (both with at least one dimension; CPU indices of a
  CUDA tensor and copies across devices are allowed, as on a GPU);
* ``log.numpy``: ``.numpy()`` of a CUDA tensor;
* ``log.on_cpu``: a module with parameters that ran its forward pass with parameters left on the CPU (a model that
  was never moved: on a GPU machine it would run, slowly, on the CPU).

``torch.cuda.is_available`` answers ``True``; the memory statistics of ``torch.cuda`` answer 0; an ``Accelerator``
made by :func:`hnsx.training.fit.make_accelerator` without ``cpu`` places models and batches on the virtual device.
"""

from __future__ import annotations

import contextlib
import dataclasses
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

MARK = "_virtual_cuda"
CUDA = torch.device("cuda", 0)
MOVES = {torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu}
#: Calls between tensors that compute nothing on them (Module.to asks whether a moved tensor can replace its own).
METADATA = {"_has_compatible_shallow_copy_type"}
#: Calls that may take tensors of both devices on a GPU too (a copy, CPU indices of a CUDA tensor).
ACROSS = {torch.Tensor.__deepcopy__, torch.Tensor.copy_, torch.Tensor.__setitem__, torch.Tensor.__getitem__}


@dataclass
class Log:
    mixed: list[str] = field(default_factory=list)
    numpy: list[str] = field(default_factory=list)
    on_cpu: list[str] = field(default_factory=list)
    moved: int = 0  # tensors moved to the virtual device

    @property
    def problems(self) -> list[str]:
        return [*self.mixed, *self.numpy, *self.on_cpu]


def where() -> str:
    """The innermost lines of the project's code (hnsx, its adapters and benchmarks) on the stack."""
    root = Path(__file__).resolve().parents[1]
    frames = [
        f"{Path(f.filename).relative_to(root)}:{f.lineno}"
        for f in traceback.extract_stack()
        if f.filename.startswith(str(root)) and not any(part in f.filename for part in ("/tests/", "/.venv/"))
    ]
    return " < ".join(reversed(frames[-3:]))


def marked(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.__dict__.get(MARK, False)


def _mark(value: object, on: bool = True) -> None:
    for t in tree_flatten(value)[0]:
        if isinstance(t, torch.Tensor):
            t.__dict__[MARK] = on


def _is_cuda(device: object) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    return isinstance(device, str) and device.startswith("cuda")


def _is_cpu(device: object) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cpu"
    return isinstance(device, str) and device.startswith("cpu")


def _name(func) -> str:
    """The function's name; a property's name for its getter and setter (``device``, ``data``)."""
    name = getattr(func, "__name__", repr(func))
    if name in ("__get__", "__set__"):
        return getattr(getattr(func, "__self__", None), "__name__", name)
    return name


class _Mode(TorchFunctionMode):
    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log
        self.depth = 0  # torch calls made while handling one are not handled again

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.depth:
            return func(*args, **(kwargs or {}))
        self.depth += 1
        try:
            return self.handle(func, args, dict(kwargs or {}))
        finally:
            self.depth -= 1

    def handle(self, func, args, kwargs):
        name = _name(func)
        if name in ("device", "is_cuda") and getattr(func, "__name__", "") == "__get__":
            if marked(args[0]):
                return CUDA if name == "device" else True
            return func(*args, **kwargs)
        values = tree_flatten((args, kwargs))[0]
        parse = func is torch.device or name == "_parse_to"  # a device named, or Module.to reading its arguments
        to_cuda = not parse and (any(_is_cuda(v) for v in values) or func is torch.Tensor.cuda)
        to_cpu = func is torch.Tensor.cpu or (func is torch.Tensor.to and any(_is_cpu(v) for v in values))
        if func is torch.Tensor.to and any(marked(v) for v in values[1:]):  # x.to(other): other's device
            to_cuda = True
        if to_cuda:
            args = tuple("cpu" if _is_cuda(a) else a for a in args)
            kwargs = {k: "cpu" if _is_cuda(v) else v for k, v in kwargs.items()}
            if func is torch.Tensor.cuda:
                func, args, kwargs = torch.Tensor.to, (args[0], "cpu"), {}
        if func is torch.Tensor.numpy and marked(args[0]):
            self.log.numpy.append(f"numpy() of a CUDA tensor at {where()}")
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        accessor = getattr(func, "__name__", "") in ("__get__", "__set__") or name in METADATA
        if func not in MOVES and func not in ACROSS and not to_cuda and not accessor:
            sized = [t for t in tensors if t.dim() > 0]
            if any(marked(t) for t in sized) and not all(marked(t) for t in sized):
                shapes = [(tuple(t.shape), "cuda" if marked(t) else "cpu") for t in sized]
                self.log.mixed.append(f"{name}: {shapes} at {where()}")
        if func is torch.Tensor.__getitem__ and not marked(args[0]) and any(marked(t) for t in tensors[1:]):
            self.log.mixed.append(f"a CPU tensor indexed with CUDA indices at {where()}")
        result = func(*args, **kwargs)
        source = args[0] if args else None
        if (to_cuda or to_cpu) and isinstance(result, torch.Tensor) and result is source:
            result = result.view_as(result)  # a moved tensor is another tensor
        if to_cuda:
            self.log.moved += 1
            _mark(result)
        elif to_cpu:
            _mark(result, False)
        elif name == "data" and getattr(func, "__name__", "") == "__set__":
            _mark(args[0], marked(args[1]))  # Module.to: param.data = moved
        elif any(marked(t) for t in tensors):
            _mark(result)
        return result


def _forward_check(log: Log):
    def hook(module, inputs):
        own = [p for p in module.parameters(recurse=False)]
        if own and not any(marked(p) for p in own):
            log.on_cpu.append(f"{type(module).__name__} ran with its parameters on the CPU at {where()}")

    return hook


@contextlib.contextmanager
def virtual_cuda(monkeypatch) -> Iterator[Log]:
    """Run the block with ``cuda`` as a virtual device (module docstring); yields the :class:`Log`."""
    import importlib

    import accelerate

    fit = importlib.import_module("hnsx.training.fit")  # the module (hnsx.training.fit is also a function's name)
    log = Log()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for stat in ("memory_allocated", "max_memory_allocated"):
        monkeypatch.setattr(torch.cuda, stat, lambda *a, **k: 0)
    for noop in ("reset_peak_memory_stats", "synchronize"):
        monkeypatch.setattr(torch.cuda, noop, lambda *a, **k: None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "virtual")
    # the optimizers' check for a CUDA graph being captured asks the (absent) driver
    monkeypatch.setattr(torch.optim.Optimizer, "_accelerator_graph_capture_health_check", lambda self: None)
    make_accelerator = fit.make_accelerator

    class VirtualAccelerator(accelerate.Accelerator):
        device = property(lambda self: CUDA)

    def virtual_accelerator(config):
        accelerator = make_accelerator(dataclasses.replace(config, cpu=True))
        if not config.cpu:
            accelerator.__class__ = VirtualAccelerator
        return accelerator

    monkeypatch.setattr(fit, "make_accelerator", virtual_accelerator)
    new_parameter = torch.nn.Parameter.__new__

    def parameter(cls, data=None, requires_grad=True):  # a copied parameter (deepcopy) stays where its data is
        made = new_parameter(cls, data, requires_grad)
        _mark(made, marked(data))
        return made

    monkeypatch.setattr(torch.nn.Parameter, "__new__", parameter)
    as_subclass = torch.Tensor.as_subclass

    def subclass(self, cls):  # a view as a subclass that turns torch functions off (MaskedRows) is not seen by modes
        made = as_subclass(self, cls)
        _mark(made, marked(self))
        return made

    monkeypatch.setattr(torch.Tensor, "as_subclass", subclass)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(_forward_check(log))
    try:
        with _Mode(log):
            yield log
    finally:
        handle.remove()
