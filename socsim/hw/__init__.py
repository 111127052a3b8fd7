"""Cost and energy models of units, memories and DMA: pure functions of the device file.

Unit kinds are plug-ins (:mod:`socsim.hw.kind`): each kind's cycle model and hooks live in its
own module (``cpu``, ``npu``, ``dsp``, ``fpga``), found through the ``socsim.units`` registry.
"""

from socsim.hw.base import Cycles, input_rereads, op_cycles
from socsim.hw.kind import (
    UnitKind,
    available_unit_kinds,
    kind_of,
    register_unit_kind,
    unit_kind,
)
from socsim.hw.timing import compute_ns, dynamic_pj, leakage_mw, transfer_ns

__all__ = ["Cycles", "UnitKind", "available_unit_kinds", "compute_ns", "dynamic_pj",
           "input_rereads", "kind_of", "leakage_mw", "op_cycles", "register_unit_kind",
           "transfer_ns", "unit_kind"]
