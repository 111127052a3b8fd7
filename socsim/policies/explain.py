"""Why a plan is what it is: per op, the unit chosen and the estimated cost on every unit
(``socsim run --explain``)."""

from __future__ import annotations

import pandas as pd

from socsim.config.soc import SoC
from socsim.graph.ir import Graph
from socsim.policies.base import Plan
from socsim.policies.compat import unsupported_reason
from socsim.policies.estimate import Estimator, at_points


def explain_frame(graph: Graph, plan: Plan, soc: SoC) -> pd.DataFrame:
    """One row per op: ``op``, ``op_type``, ``dtype``, ``unit`` (chosen), ``group`` (launch
    group, if the plan has them) and, per unit of ``soc``, the estimated run time of the op
    alone there in µs (inputs in its home memory, at the plan's operating point, else the
    unit's point in force), or why it cannot run it."""
    est = Estimator(graph, at_points(soc, plan.operating_points))
    rows = []
    for i, (op, chosen) in enumerate(zip(graph.ops, plan.units)):
        row = {"op": op.name, "op_type": op.op_type, "dtype": op.dtype, "unit": chosen}
        if plan.groups is not None:
            row["group"] = plan.groups[i]
        for name, unit in soc.units.items():
            why = unsupported_reason(unit, op, graph)
            row[f"{name}_us"] = (f"{est.run_ns(i, name) / 1e3:.2f}" if why is None
                                 else f"- ({why})")
        rows.append(row)
    return pd.DataFrame(rows)
