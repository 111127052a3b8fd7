"""Compute units: CPU clusters, NPUs, DSPs and FPGA fabric, discriminated on ``kind``.

Every unit has the same outer shape (cores, DVFS, power, memories, supported ops and dtypes);
each kind adds the micro-architectural parameters its cost model in :mod:`socsim.hw` reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from socsim.config._base import (
    AccumulatorBits,
    Align,
    ArrayDim,
    Bytes,
    Cores,
    Cycles,
    DType,
    Energy,
    FpgaBw,
    FpgaCount,
    FpgaCycles,
    FpgaDepth,
    FpgaReal,
    Fraction,
    Prefetch,
    Rate,
    Size,
    Spec,
    TimeNs,
    VectorBits,
)
from socsim.config.limits import OpLimits
from socsim.config.power import Dvfs, Power, Thermal

#: Operator families the cost models distinguish (see :func:`socsim.graph.cost.family_of`).
OpFamily = Literal["conv", "depthwise", "gemm", "elementwise", "pool", "reduce", "normalize",
                   "quantize", "data"]
OP_FAMILIES: tuple[str, ...] = OpFamily.__args__  # type: ignore[attr-defined]


class Arithmetic(Spec):
    """Integer arithmetic of a unit: accumulator width and requantization rounding."""

    accumulator_bits: AccumulatorBits = Field(
        32, description="Accumulator width; results saturate at this width.")
    requant: Literal["onnx_rne", "tflite_double", "tflite_single"] = Field(
        "onnx_rne", description="Requantization: float scale + round-half-even (ONNX), or the "
        "fixed-point multiplier + shift of TFLite (double or single rounding).")
    dot: Literal["exact", "u8s8_pairs_int16"] = Field(
        "exact", description="How 8-bit products are added before the accumulator: exact "
        "(Arm SDOT/I8MM, x86 VNNI, Ethos-U, HiFi) or u8s8_pairs_int16 (x86 VPMADDUBSW: adjacent "
        "u8 x s8 products summed in int16 with saturation, MLAS's AVX2 / AVX-512BW kernels).")
    float_kernels: Literal["mlas_avx512f", "mlas_fma3"] = Field(
        "mlas_avx512f", description="Float32 kernels whose summation order is followed "
        "(Softmax, Gelu, LayerNormalization, MatMul): MLAS AVX-512F (16 lanes) or FMA3 (8).")


class _UnitBase(Spec):
    description: str = Field("", description="Free text: what real part this models.")
    cores: Cores = Field(1, description="Cores / engines; each runs one op at a time.")
    dvfs: Dvfs
    power: Power
    memories: list[str] = Field(
        min_length=1, description="Memories this unit addresses directly, in order of "
        "preference for the tensors it produces. Sharing one with another unit makes zero-copy "
        "hand-offs possible.")
    weights_in: str = Field(description="Memory the unit streams its weights from (must be in "
                            "`memories`).")
    weights_cache: str | None = Field(
        None, description="An SRAM of `memories` that weights are paged into from `weights_in` "
        "on demand (a DMA page-in on a miss), kept there LRU across ops and inferences and "
        "evicted when the SRAM needs room; None: weights stream from `weights_in` every op.")
    weights_prefetch: Prefetch = Field(
        0, description="With a `weights_cache`: how many of the unit's next ops (graph "
        "order, same inference) get their weights paged in while the current op computes, as "
        "a compiler's double buffering does (1 = double buffering). A prefetch only uses room "
        "free or evictable now; it never waits. 0: page in on demand only.")
    ops: list[str] = Field(min_length=1, description="ONNX op types the unit executes.")
    dtypes: list[DType] = Field(min_length=1, description="Compute dtypes the unit supports.")
    launch_overhead_cycles: Cycles = Field(
        0, description="Fixed cycles per launch (dispatch, descriptor setup, kernel call). "
        "Every op is one launch, unless the plan groups consecutive ops of the unit into one "
        "(policy `subgraph`: a compiled subgraph pays it once).")
    limits: OpLimits | None = Field(
        None, description="Attribute limits of the unit's ops (kernel size, stride, dilation, "
        "groups); None: any attributes.")
    arithmetic: Arithmetic = Field(default_factory=Arithmetic)
    thermal: Thermal | None = Field(None, description="RC thermal model; None: the unit "
                                    "stays at ambient temperature.")
    thermal_zone: str | None = Field(
        None, description="A name in the SoC's `thermal_zones`: the unit heats that shared RC "
        "node (a die region) with the units that name it, instead of one of its own.")
    layout: Literal["NCHW", "NHWC"] = Field(
        "NCHW", description="Layout of the 4-D activations the unit's kernels read and write. "
        "A unit reading a 4-D tensor another unit wrote in a different layout or channel "
        "alignment converts it first (docs/model.md, \"Layouts\").")
    channel_align: Align = Field(
        1, description="Channels of the 4-D activations it writes are padded to a multiple of "
        "this (e.g. 16 for a 16-lane channel-parallel datapath); the padding is stored and "
        "moved.")
    convert_bytes_per_cycle: Rate | None = Field(
        None, description="Bytes per cycle the unit rearranges when converting a tensor's "
        "layout or alignment (a strided load/store pass). Required only if a placement makes "
        "the unit convert.")

    @field_validator("memories", "ops")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dup = sorted({v for v in value if value.count(v) > 1})
        if dup:
            raise ValueError(f"lists {dup} more than once")
        return value

    @model_validator(mode="after")
    def _weights_addressable(self) -> _UnitBase:
        if self.weights_in not in self.memories:
            raise ValueError(f"weights_in={self.weights_in!r} is not one of this unit's "
                             f"memories {self.memories}")
        if self.weights_cache is not None and self.weights_cache not in self.memories:
            raise ValueError(f"weights_cache={self.weights_cache!r} is not one of this unit's "
                             f"memories {self.memories}")
        if self.weights_cache is not None and self.weights_cache == self.weights_in:
            raise ValueError("weights_cache is the same memory as weights_in: nothing to page; "
                             "drop weights_cache or name an SRAM")
        for table in ("energy_pj_per_mac", "energy_pj_per_op"):
            missing = [d for d in self.dtypes if d not in getattr(self.power, table)]
            if missing:
                raise ValueError(f"power.{table} has no entry for supported dtypes {missing}; "
                                 "add one per entry of `dtypes`")
        return self

    @property
    def engines(self) -> int:
        """Ops the unit runs at once (cores, or fewer when an op spans several cores)."""
        return self.cores // getattr(self, "threads_per_op", 1)

    def supports(self, op_type: str, dtype: str) -> bool:
        """Whether this unit executes ``op_type`` in ``dtype``."""
        return op_type in self.ops and dtype in self.dtypes


def _check_families(value: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(value) - set(OP_FAMILIES) - {"default"})
    if unknown:
        raise ValueError(f"unknown op families {unknown}; valid: {['default', *OP_FAMILIES]}")
    if "default" not in value:
        raise ValueError("needs a 'default' entry for op families not listed")
    return value


Efficiency = dict[str, Fraction]


class Cpu(_UnitBase):
    """CPU cluster with a SIMD datapath; MACs per cycle per core = vector bits / dtype bits."""

    kind: Literal["cpu"] = "cpu"
    vector_bits_per_cycle: VectorBits = Field(
        description="SIMD datapath bits retired per cycle per core (e.g. 64 for a dual-beat "
        "128-bit Helium M55 or a 64-bit-wide NEON A53 pipe).")
    threads_per_op: Cores = Field(
        1, description="Cores one op is split across (a multi-threaded kernel); the cluster "
        "runs cores // threads_per_op ops at once.")
    efficiency: Efficiency = Field(
        description="Fraction of peak SIMD throughput reached per op family (must have "
        "'default').")
    cache_kib: Size | None = Field(
        None, description="Last-level cache of the cluster, KiB. A conv or matrix op whose "
        "operands do not fit re-reads its activations once per half-cache block of weights "
        "(docs/model.md, \"CPU caches\"); None: every operand byte moves once.")

    @field_validator("efficiency")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_families(value)

    @model_validator(mode="after")
    def _threads_fit(self) -> Cpu:
        if self.threads_per_op > self.cores:
            raise ValueError(f"threads_per_op={self.threads_per_op} exceeds cores={self.cores}")
        return self


class Npu(_UnitBase):
    """A MAC-array (systolic) NPU: rows x cols processing elements."""

    kind: Literal["npu"] = "npu"
    array_rows: ArrayDim = Field(description="PE array rows.")
    array_cols: ArrayDim = Field(description="PE array columns.")
    dataflow: Literal["output_stationary", "weight_stationary", "input_stationary"] = Field(
        "output_stationary", description="Which operand stays in the PEs.")
    macs_per_pe_per_cycle: dict[DType, Rate] = Field(
        description="MACs one PE retires per cycle per dtype (e.g. int8: 1, int16: 0.5).")
    elementwise_ops_per_cycle: Rate = Field(
        description="Throughput of the elementwise / activation / pooling engine, ops/cycle.")
    ifmap_sram_kib: Size | None = Field(
        None, description="Double-buffered input-feature-map SRAM (SCALE-Sim's IFMAP SRAM), "
        "KiB. None: buffers large enough, no fill/drain prologue is modelled.")
    filter_sram_kib: Size | None = Field(
        None, description="Double-buffered weight SRAM (SCALE-Sim's Filter SRAM), KiB. None: "
        "as for ifmap_sram_kib.")
    ofmap_sram_kib: Size | None = Field(
        None, description="Double-buffered output SRAM (SCALE-Sim's OFMAP SRAM), KiB. None: "
        "as for ifmap_sram_kib.")
    sram_fill_words_per_cycle: Rate = Field(
        10, description="Words per cycle that fill the ifmap / filter SRAMs from the backing "
        "memory before the first fold (SCALE-Sim's estimate-bandwidth default is 10). Only "
        "read when all three SRAM sizes are set.")

    @model_validator(mode="after")
    def _buffers_all_or_none(self) -> Npu:
        sizes = (self.ifmap_sram_kib, self.filter_sram_kib, self.ofmap_sram_kib)
        if any(s is None for s in sizes) and any(s is not None for s in sizes):
            raise ValueError("set all of ifmap_sram_kib, filter_sram_kib, ofmap_sram_kib or "
                             f"none of them (got {sizes})")
        return self

    @property
    def buffered(self) -> bool:
        """Whether the SRAM sizes are given (and the fill/drain prologue is modelled)."""
        return self.ifmap_sram_kib is not None


class Dsp(_UnitBase):
    """A VLIW/SIMD DSP: MACs per cycle per dtype."""

    kind: Literal["dsp"] = "dsp"
    macs_per_cycle: dict[DType, Rate] = Field(
        description="Peak MACs per cycle per core per dtype.")
    ops_per_cycle: dict[DType, Rate] = Field(
        description="Peak elementwise ops per cycle per core per dtype.")
    efficiency: Efficiency = Field(description="Fraction of peak reached per op family.")

    @field_validator("efficiency")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_families(value)




class FpgaFabric(Spec):
    """The programmable logic a kernel library shares, and how it is reconfigured.

    A kernel that is not resident is loaded as a partial bitstream through the configuration
    port: ``time = setup_ns + bytes / reconfig_bw_mb_per_s``, ``energy = bytes ×
    reconfig_pj_per_byte`` (docs/model.md, "FPGA fabric").
    """

    dsp_slices: FpgaCount = Field(description="DSP slices of the fabric (DSP48E2 on "
                                    "UltraScale+).")
    luts: FpgaCount = Field(description="6-input LUTs of the fabric.")
    bram36: FpgaReal = Field(description="36 Kb block RAMs (a RAMB18 counts 0.5).")
    uram: FpgaCount = Field(0, description="288 Kb UltraRAM blocks (0 if the part has "
                                 "none).")
    reconfig_bw_mb_per_s: FpgaBw = Field(
        description="Sustained bandwidth of the configuration port (PCAP / ICAP), MB/s "
        "(10^6 bytes per second).")
    reconfig_setup_ns: TimeNs = Field(
        0, description="Fixed time per reconfiguration (driver, decoupling, start-up), ns.")
    reconfig_pj_per_byte: Energy = Field(
        description="Energy per partial-bitstream byte: fetching it and writing the "
        "configuration memory, pJ.")
    full_bitstream_bytes: Bytes | None = Field(
        None, description="Bytes of a full-device bitstream; a kernel without "
        "`bitstream_bytes` gets this times its largest resource share. Required if a kernel "
        "omits `bitstream_bytes`.")


class FpgaKernel(Spec):
    """One accelerator of an FPGA kernel library: what it runs, what it occupies, how fast.

    Datapath fields left out take the unit's value of the same name.
    """

    ops: list[str] = Field(min_length=1, description="ONNX op types the kernel implements "
                           "(a subset of the unit's `ops`).")
    dtypes: list[DType] | None = Field(
        None, description="Compute dtypes it implements (a subset of the unit's `dtypes`); "
        "None: all of them.")
    dsp_slices: FpgaCount = Field(description="DSP slices the kernel occupies.")
    luts: FpgaCount = Field(description="LUTs the kernel occupies.")
    bram36: FpgaReal = Field(0, description="36 Kb block RAMs it occupies.")
    uram: FpgaCount = Field(0, description="UltraRAM blocks it occupies.")
    parallelism: FpgaCycles | None = Field(None, description="MACs started per initiation.")
    initiation_interval: FpgaCycles | None = Field(None, description="Cycles between "
                                                    "initiations (II).")
    pipeline_depth: FpgaDepth | None = Field(None, description="Pipeline fill latency, "
                                                    "cycles.")
    elementwise_ops_per_cycle: Rate | None = Field(
        None, description="Throughput of its elementwise datapath, ops/cycle.")
    bitstream_bytes: Bytes | None = Field(
        None, description="Partial bitstream size; None: the fabric's full_bitstream_bytes × "
        "the kernel's largest share of any resource.")
    preloaded: bool = Field(False, description="Resident at t = 0 (in the boot bitstream).")


#: Resource fields shared by :class:`FpgaFabric` and :class:`FpgaKernel`, in report order.
FPGA_RESOURCES: tuple[str, ...] = ("dsp_slices", "luts", "bram36", "uram")
_DATAPATH = ("parallelism", "initiation_interval", "pipeline_depth", "elementwise_ops_per_cycle")


class Fpga(_UnitBase):
    """A programmable-logic accelerator.

    Without ``kernels``: one pipelined MAC datapath of fixed parallelism, always resident.
    With ``kernels`` (and ``fabric``): a library of accelerators sharing the fabric; an op runs
    on the first kernel (declaration order) implementing its op type and dtype, which must be
    resident (see :class:`socsim.hw.fabric.Fabric`). The unit-level datapath fields are then
    the defaults of each kernel's.
    """

    kind: Literal["fpga"] = "fpga"
    parallelism: FpgaCycles | None = Field(
        None, description="MACs the datapath starts per initiation (required without "
        "`kernels`).")
    initiation_interval: FpgaCycles = Field(1, description="Cycles between initiations (II).")
    pipeline_depth: FpgaDepth | None = Field(
        None, description="Fill latency of the pipeline, cycles (required without `kernels`).")
    elementwise_ops_per_cycle: Rate | None = Field(
        None, description="Throughput of the elementwise datapath, ops/cycle (required "
        "without `kernels`).")
    fabric: FpgaFabric | None = Field(None, description="Fabric resources and reconfiguration "
                                      "model (required with `kernels`).")
    kernels: dict[str, FpgaKernel] | None = Field(
        None, description="Kernel library by name; None: the single fixed datapath above.")

    @field_validator("kernels")
    @classmethod
    def _kernels_fit(cls, kernels: dict[str, FpgaKernel] | None,
                     info: ValidationInfo) -> dict[str, FpgaKernel] | None:
        if kernels is None:
            return kernels
        if not kernels:
            raise ValueError("is empty; list at least one kernel or drop `kernels`")
        problems = _kernel_problems(kernels, info.data)
        if problems:
            raise ValueError("; ".join(problems))
        return kernels

    @model_validator(mode="after")
    def _datapath_or_kernels(self) -> Fpga:
        if self.kernels is None:
            missing = [f for f in _DATAPATH if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{missing} required: a unit without `kernels` is one fixed "
                                 "datapath (or add `fabric` and `kernels`)")
            if self.fabric is not None:
                raise ValueError("`fabric` without `kernels` has no effect; add `kernels` or "
                                 "drop `fabric`")
            return self
        if self.fabric is None:
            raise ValueError("`kernels` need `fabric` (total resources and reconfiguration "
                             "model)")
        covered = {op for k in self.kernels.values() for op in k.ops}
        uncovered = [op for op in self.ops if op not in covered]
        if uncovered:
            raise ValueError(f"ops {uncovered} have no kernel; add them to a kernel's ops or "
                             "drop them from the unit's ops")
        return self

    def supports(self, op_type: str, dtype: str) -> bool:
        """Whether this unit executes ``op_type`` in ``dtype`` (with kernels: one implements
        it)."""
        if not super().supports(op_type, dtype):
            return False
        return self.kernels is None or self.kernel_for(op_type, dtype) is not None

    def kernel_for(self, op_type: str, dtype: str) -> str | None:
        """Name of the kernel that runs ``op_type`` in ``dtype``: the first in declaration
        order implementing it; None without kernels or if none does."""
        for name, k in (self.kernels or {}).items():
            if op_type in k.ops and dtype in (k.dtypes or self.dtypes):
                return name
        return None

    def datapath(self, kernel: str | None = None) -> tuple[int, int, float, float]:
        """``(parallelism, initiation_interval, pipeline_depth, elementwise_ops_per_cycle)`` of
        ``kernel`` (its own values, else the unit's), or of the fixed datapath (None).

        Raises:
            KeyError: ``kernel`` is not in the library (the message lists it).
        """
        k = None
        if kernel is not None:
            if not self.kernels or kernel not in self.kernels:
                raise KeyError(f"no kernel {kernel!r}; this unit has "
                               f"{sorted(self.kernels or {})}")
            k = self.kernels[kernel]
        values = [getattr(k, f) if k is not None and getattr(k, f) is not None
                  else getattr(self, f) for f in _DATAPATH]
        return tuple(values)  # type: ignore[return-value]


def _kernel_problems(kernels: dict[str, FpgaKernel], unit: dict[str, Any]) -> list[str]:
    """Problems of a kernel library against the unit fields validated before it."""
    problems: list[str] = []
    ops, dtypes, fabric = unit.get("ops"), unit.get("dtypes"), unit.get("fabric")
    for name, k in kernels.items():
        where = f"kernels.{name}"
        extra = [op for op in k.ops if ops is not None and op not in ops]
        if extra:
            problems.append(f"{where}.ops: {extra} not in the unit's ops {ops}")
        bad = [d for d in (k.dtypes or []) if dtypes is not None and d not in dtypes]
        if bad:
            problems.append(f"{where}.dtypes: {bad} not in the unit's dtypes {dtypes}")
        for f in _DATAPATH:
            if getattr(k, f) is None and unit.get(f) is None:
                problems.append(f"{where}.{f} is missing and the unit sets no default; set it "
                                "on the kernel or the unit")
        if fabric is None:
            continue
        for res in FPGA_RESOURCES:
            need, have = getattr(k, res), getattr(fabric, res)
            if need > have:
                problems.append(f"{where}.{res}={need:g} exceeds the whole fabric "
                                f"(fabric.{res}={have:g}): the kernel can never be loaded")
        if k.bitstream_bytes is None and fabric.full_bitstream_bytes is None:
            problems.append(f"{where}.bitstream_bytes is missing and "
                            "fabric.full_bitstream_bytes is not set to derive it")
    preloaded = [n for n, k in kernels.items() if k.preloaded]
    for res in FPGA_RESOURCES if fabric is not None else ():
        total = sum(getattr(kernels[n], res) for n in preloaded)
        if total > getattr(fabric, res):
            problems.append(f"preloaded kernels {preloaded} need {res}={total:g} together, more "
                            f"than fabric.{res}={getattr(fabric, res):g}")
    return problems


Unit = Annotated[Cpu | Npu | Dsp | Fpga, Field(discriminator="kind")]
