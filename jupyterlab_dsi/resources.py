"""What a training run cost: wall and CPU seconds, peak memory, host, and where present the GPUs
(through ``pynvml``) and an energy estimate (through ``codecarbon``).

Both libraries are optional extras (``jupyterlab-dsi[gpu]``, ``jupyterlab-dsi[energy]``): when
one is not importable, or finds nothing to measure, its fields are simply absent, never zero.
A measuring library that fails mid-run costs its fields, never the run.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

GPU_SAMPLE_S = 1.0  # how often the GPU sampler reads memory use: a peak shorter than this may be missed


def host() -> str:
    return socket.gethostname() or "unknown"


def _cpu_seconds() -> float | None:
    """User + system CPU seconds of this process and its waited-for children."""
    try:
        import resource
    except ImportError:  # Windows: this process only
        return time.process_time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process (or of its largest child), in MiB; None where unknown."""
    try:
        import resource
    except ImportError:
        return None
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def _optional(name: str) -> Any:
    """An optional library, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install: the fields are absent either way
        return None


def _visible(count: int) -> list[int]:
    """Device indices this process may use: CUDA_VISIBLE_DEVICES when it lists indices, else all."""
    chosen = os.environ.get("CUDA_VISIBLE_DEVICES")
    if chosen is None:
        return list(range(count))
    picked = []
    for part in chosen.split(","):
        part = part.strip()
        if part.isdigit() and int(part) < count:
            picked.append(int(part))
        elif part:  # UUIDs or MIG names: NVML indices cannot be told from them
            return list(range(count))
    return picked


class _GpuMeter:
    """Peak memory and energy of the visible NVIDIA GPUs, through NVML, sampled on a thread."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        nvml.nvmlInit()
        self.handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in _visible(nvml.nvmlDeviceGetCount())]
        self.names = [self._name(h) for h in self.handles]
        self.peak = [0] * len(self.handles)
        self.energy0 = [self._energy_mj(h) for h in self.handles]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dsi-gpu-sampler", daemon=True)
        self.sample()
        self._thread.start()

    def _name(self, handle: Any) -> str:
        name = self.nvml.nvmlDeviceGetName(handle)
        return name.decode() if isinstance(name, bytes) else str(name)

    def _energy_mj(self, handle: Any) -> int | None:
        try:  # Volta and newer; older boards have no energy counter
            return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        except Exception:
            return None

    def _used(self, handle: Any) -> int:
        """Bytes this process holds on the device, or the device's whole use when NVML cannot
        see this process (a container's own pid namespace)."""
        with contextlib.suppress(Exception):
            for proc in self.nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == os.getpid() and proc.usedGpuMemory is not None:
                    return int(proc.usedGpuMemory)
        return int(self.nvml.nvmlDeviceGetMemoryInfo(handle).used)

    def sample(self) -> None:
        for i, handle in enumerate(self.handles):
            with contextlib.suppress(Exception):
                self.peak[i] = max(self.peak[i], self._used(handle))

    def _run(self) -> None:
        while not self._stop.wait(GPU_SAMPLE_S):
            self.sample()

    def stop(self) -> list[dict[str, Any]]:
        """[{name, count, peak_memory_mb, energy_j}], one entry per kind of board."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
        groups: dict[str, dict[str, Any]] = {}
        for i, handle in enumerate(self.handles):
            group = groups.setdefault(self.names[i], {"name": self.names[i], "count": 0,
                                                       "peak_memory_mb": 0.0, "energy_j": 0.0})
            group["count"] += 1
            group["peak_memory_mb"] = round(group["peak_memory_mb"] + self.peak[i] / (1 << 20), 1)
            end, start = self._energy_mj(handle), self.energy0[i]
            if end is None or start is None or group["energy_j"] is None:
                group["energy_j"] = None  # one board without a counter: no honest sum
            else:
                group["energy_j"] = round(group["energy_j"] + (end - start) / 1000.0, 3)
        with contextlib.suppress(Exception):
            self.nvml.nvmlShutdown()
        return list(groups.values())


def _gpu_meter() -> _GpuMeter | None:
    nvml = _optional("pynvml")
    if nvml is None:
        return None
    try:
        meter = _GpuMeter(nvml)
    except Exception as exc:  # no driver, no GPU: nothing to measure
        log.debug("no GPU measurement: %s", exc)
        return None
    if not meter.handles:
        meter.stop()
        return None
    return meter


def _energy_tracker() -> Any:
    """codecarbon's offline tracker, started; None without codecarbon or when it cannot start.

    The grid's carbon intensity needs a country: DSI_COUNTRY_ISO_CODE (e.g. "FRA"), else what
    codecarbon's own configuration says (CODECARBON_COUNTRY_ISO_CODE, .codecarbon.config).
    """
    codecarbon = _optional("codecarbon")
    if codecarbon is None:
        return None
    options: dict[str, Any] = {"save_to_file": False, "log_level": "error"}
    if os.environ.get("DSI_COUNTRY_ISO_CODE"):
        options["country_iso_code"] = os.environ["DSI_COUNTRY_ISO_CODE"]
    try:
        tracker = codecarbon.OfflineEmissionsTracker(**options)
        tracker.start()
    except Exception as exc:
        log.warning("codecarbon could not start (%s): the run records no energy estimate", exc)
        return None
    return tracker


class ResourceMeter:
    """Started with a run, read once at its end: ``ResourceMeter().stop()`` -> the resources object."""

    def __init__(self) -> None:
        self._wall0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self._gpu = _gpu_meter()
        self._energy = _energy_tracker()

    def stop(self) -> dict[str, Any]:
        """wall_s, cpu_s, peak_rss_mb, host; gpus and energy_kwh / emissions_kg when measured.

        peak_rss_mb is the process's peak since it started (the OS keeps no other): in a kernel
        that ran earlier work, it covers that work too.
        """
        out: dict[str, Any] = {"wall_s": round(time.perf_counter() - self._wall0, 3)}
        cpu = _cpu_seconds()
        if cpu is not None and self._cpu0 is not None:
            out["cpu_s"] = round(cpu - self._cpu0, 3)
        peak = _peak_rss_mb()
        if peak is not None:
            out["peak_rss_mb"] = peak
        out["host"] = host()
        if self._gpu is not None:
            with contextlib.suppress(Exception):
                out["gpus"] = self._gpu.stop()
            self._gpu = None
        if self._energy is not None:
            try:
                emissions = self._energy.stop()
                data = getattr(self._energy, "final_emissions_data", None)
                if data is not None and getattr(data, "energy_consumed", None) is not None:
                    out["energy_kwh"] = float(data.energy_consumed)
                if emissions is not None:
                    out["emissions_kg"] = float(emissions)
            except Exception as exc:
                log.warning("codecarbon failed at the run's end (%s): no energy estimate", exc)
            self._energy = None
        return out

    def cancel(self) -> None:
        """Stop the samplers without reading them (a run that could not start)."""
        if self._gpu is not None:
            with contextlib.suppress(Exception):
                self._gpu.stop()
        if self._energy is not None:
            with contextlib.suppress(Exception):
                self._energy.stop()
        self._gpu = self._energy = None
