"""Timing one call and its peak memory: what ``hnsx bench speed`` measures with (:func:`time_call`).

The median wall time of repeated calls after a warm-up (CUDA synchronised; the warm-up alone when it is slow), and
the peak memory of the warm-up: on CUDA the allocator's peak, on the CPU the growth of the process's resident memory
sampled by a thread. Also what both speed measurements share: one training step of Hide-and-Seek against its seeker
alone (:func:`step_timings`), the machine record (:func:`machine`) and when Integrated Gradients passes its scaled
copies in chunks (:data:`IG_MAX_ELEMENTS`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch.nn import functional as F

from hnsx.loss import hns_loss
from hnsx.model import HideAndSeek


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _release_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # glibc only: hand freed heap pages back to the OS
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _PeakMemory:
    """Peak memory of a block in MiB: CUDA allocator peak, or sampled RSS growth on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mb: float | None = None

    def __enter__(self) -> _PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        _release_memory()
        self._start = _rss_bytes()
        self._peak = self._start
        self._stop = threading.Event()
        if self._start is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            rss = _rss_bytes()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._start) / 2**20
            return
        if self._start is None:
            return
        self._stop.set()
        self._thread.join()
        rss = _rss_bytes() or self._peak
        self.peak_mb = (max(self._peak, rss) - self._start) / 2**20


@dataclass
class Timing:
    """The median seconds of one call, how many calls it rests on, and peak memory."""

    seconds: float
    repeats: int
    peak_memory_mb: float | None
    samples: int
    all_seconds: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.samples / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "samples_per_s": self.throughput}


def time_call(
    fn: Callable[[], object], device: torch.device, samples: int, repeats: int, slow_seconds: float
) -> Timing:
    """Median wall time of ``fn()`` after one warm-up call (the warm-up alone if it took over ``slow_seconds``)."""
    with _PeakMemory(device) as memory:
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        warmup = time.perf_counter() - start
    if warmup > slow_seconds:
        return Timing(warmup, 1, memory.peak_mb, samples, [warmup])
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), len(times), memory.peak_mb, samples, times)


#: Integrated Gradients runs as Captum does by default (all ``n_steps`` scaled copies of the batch in one pass)
#: unless those copies hold more input elements than this; then, like ``integrated-gradients-chunked`` always, it
#: passes them in chunks of one batch (Captum's ``internal_batch_size``).
IG_MAX_ELEMENTS = 2**26


def ig_needs_chunks(n_steps: int, x: torch.Tensor) -> bool:
    """Whether Integrated Gradients' ``n_steps`` scaled copies of ``x`` hold more than :data:`IG_MAX_ELEMENTS`."""
    return n_steps * x.numel() > IG_MAX_ELEMENTS


def machine(device: torch.device, threads: int) -> dict[str, Any]:
    """What the figures were measured on: device, threads, torch and Python versions, processor, GPU name."""
    info = {
        "device": str(device),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def step_timings(
    model: HideAndSeek, alone: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: Any, device
) -> dict[str, Timing]:
    """One Adam step on ``(x, y)`` of ``model`` (hider + binarizer + seeker, the loss of :func:`hnsx.hns_loss` at
    alpha 0.5) and of the classifier ``alone`` (cross-entropy), ``config.train_repeats`` timed steps each (and
    ``config.slow_seconds``: :func:`time_call`); both are trained by the calls."""
    hns_opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def hns_step() -> None:
        parts = hns_loss(model(x), y, 0.5, model.binarizer, model.adapter.kept_fraction)
        hns_opt.zero_grad(set_to_none=True)
        parts.loss.backward()
        hns_opt.step()

    alone_opt = torch.optim.Adam(alone.parameters(), lr=1e-3)

    def seeker_step() -> None:
        loss = F.cross_entropy(alone(x).float(), y)
        alone_opt.zero_grad(set_to_none=True)
        loss.backward()
        alone_opt.step()

    timings = {}
    for label, step in (("hns", hns_step), ("seeker", seeker_step)):
        timings[label] = time_call(step, device, len(x), config.train_repeats, config.slow_seconds)
    return timings
