"""The arithmetic of the installed onnxruntime on this host, chosen as MLAS chooses its kernels.

MLAS (onnxruntime's math library) picks its kernels once per process from CPUID
(``onnxruntime/core/mlas/lib/platform.cpp``, ``MLAS_PLATFORM::MLAS_PLATFORM``). On x86-64:

- AVX2 + FMA3: U8S8 GEMM with VPMADDUBSW (pairs of u8 x s8 products saturate in int16), float
  kernels in 8 lanes (``*Fma3``);
- AVX-VNNI: U8S8 GEMM with VPDPBUSD (exact);
- AVX-512F: float kernels in 16 lanes (``*Avx512F``);
- AVX-512BW/DQ/VL (``Avx512Core``): U8S8 GEMM with 512-bit VPMADDUBSW (saturating);
- AVX-512 VNNI: U8S8 GEMM with VPDPBUSD (exact);
- AMX-INT8: exact tiles.

Other hosts (aarch64, x86 without AVX2) are not modelled: :func:`onnxruntime_arithmetic`
raises :class:`HostNotModelledError` naming what is.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Mapping
from dataclasses import dataclass

from socsim.errors import SocsimError
from socsim.kernels.arithmetic import Arithmetic

__all__ = ["HostISA", "HostNotModelledError", "host_isa", "onnxruntime_arithmetic",
           "MODELLED_HOSTS"]

MODELLED_HOSTS = ("x86-64 with AVX2+FMA3 (MLAS Avx2 / Fma3 kernels)",
                  "x86-64 with AVX-VNNI (MLAS AvxVnni)",
                  "x86-64 with AVX-512F/BW/DQ/VL (MLAS Avx512F / Avx512Core)",
                  "x86-64 with AVX-512 VNNI (MLAS Avx512Vnni)",
                  "x86-64 with AMX-INT8 (MLAS Amx)")


class HostNotModelledError(SocsimError):
    """The host's onnxruntime kernels are not modelled by socsim."""


@dataclass(frozen=True)
class HostISA:
    """What MLAS would pick on a host, from its CPU features.

    Attributes:
        machine: ``platform.machine()``.
        cpu: LLVM's name for the host CPU (e.g. ``haswell``, ``icelake-server``).
        u8s8_kernel: MLAS's U8S8 GEMM kernel family: ``Avx2``, ``AvxVnni``, ``Avx512Core``,
            ``Avx512Vnni`` or ``Amx``.
        float_kernels: ``mlas_avx512f`` or ``mlas_fma3``.
    """

    machine: str
    cpu: str
    u8s8_kernel: str
    float_kernels: str

    @property
    def dot(self) -> str:
        """The dot-product form of the U8S8 kernel: saturating pairs or exact."""
        return "u8s8_pairs_int16" if self.u8s8_kernel in ("Avx2", "Avx512Core") else "exact"

    def __str__(self) -> str:
        return (f"{self.machine} {self.cpu}: MLAS U8S8 {self.u8s8_kernel} ({self.dot}), "
                f"float {self.float_kernels}")


def _features() -> Mapping[str, bool]:
    import llvmlite.binding as ll  # numba's LLVM: CPUID and XCR0 as the OS reports them

    return ll.get_host_cpu_features()


def _cpu_name() -> str:
    import llvmlite.binding as ll

    return str(ll.get_host_cpu_name())


def isa_from_features(features: Mapping[str, bool], machine: str = "x86_64",
                      cpu: str = "?") -> HostISA:
    """The MLAS kernel choice for a feature set (LLVM feature names).

    Raises:
        HostNotModelledError: for anything but x86-64 with AVX2 and FMA3.
    """
    f = {k: bool(v) for k, v in features.items()}
    if machine.lower() not in ("x86_64", "amd64") or not (f.get("avx2") and f.get("fma")):
        raise HostNotModelledError(
            f"onnxruntime's arithmetic on this host ({machine}, {cpu}) is not modelled; "
            f"modelled: {'; '.join(MODELLED_HOSTS)}",
            hint="name the target explicitly, e.g. Arithmetic(dot='exact'), instead of "
                 "arithmetic='onnxruntime'")
    avx512f = f.get("avx512f", False)
    core = avx512f and all(f.get(k, False) for k in ("avx512bw", "avx512dq", "avx512vl"))
    kernel = "Avx2"
    if f.get("avxvnni"):
        kernel = "AvxVnni"
    if core:
        kernel = "Avx512Vnni" if f.get("avx512vnni") else "Avx512Core"
    if f.get("amx-int8") and f.get("amx-tile"):
        kernel = "Amx"
    return HostISA(machine, cpu, kernel, "mlas_avx512f" if avx512f else "mlas_fma3")


@functools.cache
def host_isa() -> HostISA:
    """What MLAS picks on this host (cached per process).

    Raises:
        HostNotModelledError: if the host is not modelled.
    """
    machine = platform.machine()
    if machine.lower() not in ("x86_64", "amd64"):
        return isa_from_features({}, machine, "?")
    return isa_from_features(_features(), machine, _cpu_name())


def onnxruntime_arithmetic(base: Arithmetic | None = None) -> Arithmetic:
    """The :class:`Arithmetic` of onnxruntime's CPU kernels on this host.

    Args:
        base: accumulator width and requantization to keep (default: int32, ``onnx_rne``).

    Raises:
        HostNotModelledError: if the host is not modelled.
    """
    isa = host_isa()
    base = base or Arithmetic()
    return Arithmetic(accumulator_bits=base.accumulator_bits, requant=base.requant,
                      dot=isa.dot, float_kernels=isa.float_kernels)  # type: ignore[arg-type]
