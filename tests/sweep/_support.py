"""Small sweep files over the bundled scenarios, written into a test's tmp folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import REPO

SCENARIOS = REPO / "scenarios"


def write_sweep(tmp_path: Path, body: str, name: str = "sweep.yaml") -> Path:
    """Write a sweep file whose ``scenario:`` may use {scenarios} for the bundled folder."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).replace("{scenarios}", str(SCENARIOS)))
    return path


#: quickstart with 3 periodic arrivals: 4 policies x 2 operating points x 2 rates = 16 points.
SMALL = """\
name: small
scenario: {scenarios}/quickstart.yaml
seed: 7
set: {workloads.0.duration_s: 0.3}
axes:
  policy:
    policies:
      - {name: single, params: {unit: npu}}
      - {name: single, params: {unit: cpu}}
      - {name: greedy_eft}
      - {name: rules, params: {rules: [{op_types: [Conv], unit: npu}], default: cpu}}
  npu_mhz:
    operating_point: npu
    values: [400, 100]
  rate:
    rate: kws
    values: [10, 20]
"""
