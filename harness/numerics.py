"""The numerics environment of a run: what makes floating-point results depend on the machine.

The same config and seed give bit-identical per-query scores only where the same kernels run.
On CPU, torch picks its vectorised ATen kernels by the CPU's instruction set at first use
(``torch.backends.cpu.get_cpu_capability()``: ``DEFAULT``, ``AVX2``, ``AVX512``; capped by the
environment variable ``ATEN_CPU_CAPABILITY``), matrix products go through MKL (whose code path
follows the CPU unless ``MKL_CBWR`` fixes it) or oneDNN (capped by ``ONEDNN_MAX_CPU_ISA``), and
numpy's OpenBLAS is built ``DYNAMIC_ARCH`` (its kernel follows the CPU unless
``OPENBLAS_CORETYPE`` fixes it).  Different kernels sum in different orders, so the last bits of
a gradient differ, and training amplifies them.  On GPU the device, the driver and the
CUDA/cuDNN versions play that role.

:func:`numerics_environment` records all of it in the manifest (``manifest["numerics"]``);
:func:`numerics_differences` names the fields in which two records differ (``harness reproduce``
prints them when scores differ); ``summary`` is the one-line form that figures quote.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["KERNEL_ENV", "numerics_differences", "numerics_environment", "numerics_summary"]

#: Environment variables that change which kernels run (or how many threads sum a result).
KERNEL_ENV = (
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_NUM_THREADS",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "ONEDNN_DEFAULT_FPMATH_MODE",
    "OMP_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "NPY_DISABLE_CPU_FEATURES",
    "CUBLAS_WORKSPACE_CONFIG",
    "NVIDIA_TF32_OVERRIDE",
)

#: /proc/cpuinfo flags that select numeric kernels (SIMD width, FMA, bf16/int8 dot products, AMX tiles).
_ISA_FLAG = re.compile(r"^(sse4_[12]|avx|avx2|fma|f16c|avx512.*|avx_vnni.*|avx_ne_convert|amx.*)$")

#: Fields that are descriptive only: a difference in them alone does not change a number.
_DESCRIPTIVE = {"summary", "torch_config_lines"}


def _cpu() -> dict[str, Any]:
    info: dict[str, Any] = {"machine": platform.machine(), "model": platform.processor() or None, "isa_flags": []}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not info.get("model_name"):
            info["model_name"] = value.strip()
        elif key == "vendor_id" and not info.get("vendor"):
            info["vendor"] = value.strip()
        elif key == "flags" and not info["isa_flags"]:
            info["isa_flags"] = sorted(f for f in value.split() if _ISA_FLAG.match(f))
    if info.get("model_name"):
        info["model"] = info.pop("model_name")
    return info


def _torch_build() -> dict[str, Any]:
    """torch's CPU capability in use and the math libraries it was built with (``torch.__config__.show()``)."""
    import torch

    show = torch.__config__.show()
    lines = [ln.strip(" -\t") for ln in show.splitlines() if ln.strip()]

    def find(pattern: str) -> str | None:
        m = re.search(pattern, show)
        return m.group(1).strip() if m else None

    return {
        "version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": find(r"BLAS_INFO=([^,\s]+)"),
        "lapack": find(r"LAPACK_INFO=([^,\s]+)"),
        "mkl": find(r"Math Kernel Library Version ([^\n]+?) for"),
        "onednn": find(r"MKL-DNN (v[\d.]+)"),
        "openmp": find(r"OpenMP (\d+)"),
        "mkl_available": bool(torch.backends.mkl.is_available()),
        "onednn_available": bool(torch.backends.mkldnn.is_available()),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        # the build's full description, kept short: the lines naming libraries (not compiler flags)
        "torch_config_lines": [ln for ln in lines if not ln.startswith("Build settings")],
        "build_sha256": hashlib.sha256(show.encode()).hexdigest(),
    }


def _numpy_build() -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {"version": np.__version__}
    try:
        cfg: dict[str, Any] = dict(np.show_config(mode="dicts") or {})  # numpy >= 1.25
    except TypeError:  # pragma: no cover - older numpy prints only
        return out
    deps: dict[str, Any] = cfg.get("Build Dependencies") or {}
    for lib in ("blas", "lapack"):
        d: dict[str, Any] = deps.get(lib) or {}
        out[lib] = " ".join(str(d[k]) for k in ("name", "version") if d.get(k)) or None
    simd: dict[str, Any] = cfg.get("SIMD Extensions") or {}
    out["simd_baseline"] = list(simd.get("baseline") or [])
    out["simd_found"] = list(simd.get("found") or [])
    return out


def _gpu() -> dict[str, Any] | None:
    import torch

    if not torch.cuda.is_available():
        return None
    idx = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(idx)
    return {
        "device": torch.cuda.get_device_name(idx),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(idx))),
        "memory_gib": round(props.total_memory / 2**30, 1),
        "driver": _driver_version(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
    }


def _driver_version() -> str | None:
    """The NVIDIA driver version (``nvidia-smi``; None when it cannot be asked)."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def numerics_summary(env: Mapping[str, Any]) -> str:
    """One line naming the environment (what a figure quotes), e.g.

    ``CPU AMD EPYC (avx2 avx512f amx-), torch 2.13.0 CPU capability AVX512, MKL 2024.2, oneDNN v3.12.0,
    2 threads``.
    """
    cpu, t = env.get("cpu") or {}, env.get("torch") or {}
    flags = set(cpu.get("isa_flags") or [])
    isa = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "avx" if "avx" in flags else "no avx"
    if any(f.startswith("amx") for f in flags):
        isa += "+amx"
    parts = [
        f"CPU {cpu.get('model') or cpu.get('machine') or 'unknown'} ({isa})",
        f"torch {t.get('version')} CPU capability {t.get('cpu_capability')}",
    ]
    if t.get("mkl"):
        parts.append(f"MKL {str(t['mkl']).split('-')[0]}")
    if t.get("onednn"):
        parts.append(f"oneDNN {t['onednn']}")
    parts.append(f"{t.get('threads')} threads")
    pinned = {k: v for k, v in (env.get("env") or {}).items() if v is not None}
    if pinned:
        parts.append(" ".join(f"{k}={v}" for k, v in pinned.items()))
    gpu = env.get("gpu")
    if gpu:
        parts.append(
            f"GPU {gpu.get('device')} (driver {gpu.get('driver')}, CUDA {gpu.get('cuda')}, cuDNN {gpu.get('cudnn')})"
        )
    return ", ".join(parts)


def numerics_environment() -> dict[str, Any]:
    """The record of this process's numerics (``manifest["numerics"]``).

    Returns
    -------
    dict
        ``cpu`` (model, vendor, the ISA flags that select kernels), ``torch`` (version, the
        CPU capability in use, BLAS/LAPACK, MKL and oneDNN versions, threads), ``numpy`` (its
        BLAS/LAPACK and SIMD extensions), ``env`` (every variable of :data:`KERNEL_ENV`, None
        when unset), ``gpu`` (device, compute capability, driver, CUDA, cuDNN, TF32 and
        determinism switches; None without CUDA) and ``summary`` (:func:`numerics_summary`).
    """
    env: dict[str, Any] = {
        "cpu": _cpu(),
        "torch": _torch_build(),
        "numpy": _numpy_build(),
        "env": {k: os.environ.get(k) for k in KERNEL_ENV},
        "gpu": _gpu(),
    }
    env["summary"] = numerics_summary(env)
    return env


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping):
        out: dict[str, Any] = {}
        for k, v in d.items():
            if k in _DESCRIPTIVE:
                continue
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def numerics_differences(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """``(field, value in a, value in b)`` for every numerics field that differs (dotted paths).

    A record missing on one side (a manifest written before numerics were recorded) gives
    ``[("numerics", "not recorded", ...)]``.  Descriptive fields (the summary line, the build's
    text) are skipped; ``torch.build_sha256`` stands for the build.
    """
    if not a or not b:
        if not a and not b:
            return []
        return [("numerics", "recorded" if a else "not recorded", "recorded" if b else "not recorded")]
    fa, fb = _flatten(a), _flatten(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
