"""Compute units: CPU clusters, NPUs, DSPs and FPGA fabric, discriminated on ``kind``.

Every unit has the same outer shape (cores, DVFS, power, memories, supported ops and dtypes);
each kind adds the micro-architectural parameters its cost model in :mod:`socsim.hw` reads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from socsim.config._base import DType, NonNegativeFloat, PositiveFloat, PositiveInt, Spec
from socsim.config.power import Dvfs, Power, Thermal

#: Operator families the cost models distinguish (see :func:`socsim.graph.cost.family_of`).
OpFamily = Literal["conv", "depthwise", "gemm", "elementwise", "pool", "reduce", "normalize",
                   "quantize", "data"]
OP_FAMILIES: tuple[str, ...] = OpFamily.__args__  # type: ignore[attr-defined]


class Arithmetic(Spec):
    """Integer arithmetic of a unit: accumulator width and requantization rounding."""

    accumulator_bits: Annotated[int, Field(ge=8, le=32)] = Field(
        32, description="Accumulator width; results saturate at this width.")
    requant: Literal["onnx_rne", "tflite_double", "tflite_single"] = Field(
        "onnx_rne", description="Requantization: float scale + round-half-even (ONNX), or the "
        "fixed-point multiplier + shift of TFLite (double or single rounding).")


class _UnitBase(Spec):
    description: str = Field("", description="Free text: what real part this models.")
    cores: PositiveInt = Field(1, description="Cores / engines; each runs one op at a time.")
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
    ops: list[str] = Field(min_length=1, description="ONNX op types the unit executes.")
    dtypes: list[DType] = Field(min_length=1, description="Compute dtypes the unit supports.")
    launch_overhead_cycles: NonNegativeFloat = Field(
        0, description="Fixed cycles per op (dispatch, descriptor setup, kernel call).")
    arithmetic: Arithmetic = Field(default_factory=Arithmetic)
    thermal: Thermal | None = Field(None, description="RC thermal model; None: the unit "
                                    "stays at ambient temperature.")

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


Efficiency = dict[str, Annotated[float, Field(gt=0, le=1)]]


class Cpu(_UnitBase):
    """CPU cluster with a SIMD datapath; MACs per cycle per core = vector bits / dtype bits."""

    kind: Literal["cpu"] = "cpu"
    vector_bits_per_cycle: PositiveInt = Field(
        description="SIMD datapath bits retired per cycle per core (e.g. 64 for a dual-beat "
        "128-bit Helium M55 or a 64-bit-wide NEON A53 pipe).")
    threads_per_op: PositiveInt = Field(
        1, description="Cores one op is split across (a multi-threaded kernel); the cluster "
        "runs cores // threads_per_op ops at once.")
    efficiency: Efficiency = Field(
        description="Fraction of peak SIMD throughput reached per op family (must have "
        "'default').")

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
    array_rows: PositiveInt = Field(description="PE array rows.")
    array_cols: PositiveInt = Field(description="PE array columns.")
    dataflow: Literal["output_stationary", "weight_stationary", "input_stationary"] = Field(
        "output_stationary", description="Which operand stays in the PEs.")
    macs_per_pe_per_cycle: dict[DType, PositiveFloat] = Field(
        description="MACs one PE retires per cycle per dtype (e.g. int8: 1, int16: 0.5).")
    elementwise_ops_per_cycle: PositiveFloat = Field(
        description="Throughput of the elementwise / activation / pooling engine, ops/cycle.")
    ifmap_sram_kib: PositiveFloat | None = Field(
        None, description="Double-buffered input-feature-map SRAM (SCALE-Sim's IFMAP SRAM), "
        "KiB. None: buffers large enough, no fill/drain prologue is modelled.")
    filter_sram_kib: PositiveFloat | None = Field(
        None, description="Double-buffered weight SRAM (SCALE-Sim's Filter SRAM), KiB. None: "
        "as for ifmap_sram_kib.")
    ofmap_sram_kib: PositiveFloat | None = Field(
        None, description="Double-buffered output SRAM (SCALE-Sim's OFMAP SRAM), KiB. None: "
        "as for ifmap_sram_kib.")
    sram_fill_words_per_cycle: PositiveFloat = Field(
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
    macs_per_cycle: dict[DType, PositiveFloat] = Field(
        description="Peak MACs per cycle per core per dtype.")
    ops_per_cycle: dict[DType, PositiveFloat] = Field(
        description="Peak elementwise ops per cycle per core per dtype.")
    efficiency: Efficiency = Field(description="Fraction of peak reached per op family.")

    @field_validator("efficiency")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_families(value)


class Fpga(_UnitBase):
    """A programmable-logic accelerator: a pipelined MAC datapath of fixed parallelism."""

    kind: Literal["fpga"] = "fpga"
    parallelism: PositiveInt = Field(description="MACs the datapath starts per initiation.")
    initiation_interval: PositiveInt = Field(1, description="Cycles between initiations (II).")
    pipeline_depth: NonNegativeFloat = Field(description="Fill latency of the pipeline, cycles.")
    elementwise_ops_per_cycle: PositiveFloat = Field(
        description="Throughput of the elementwise datapath, ops/cycle.")


Unit = Annotated[Cpu | Npu | Dsp | Fpga, Field(discriminator="kind")]
