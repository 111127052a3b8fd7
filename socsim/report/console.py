"""The run summary as rich tables for the terminal (``socsim run``'s standard output).

Labels sit in their own column and values in another, one fact per row, so that nothing
wraps in the middle of a label at 80 columns.
"""

from __future__ import annotations

from rich.table import Table

from socsim.hw.kind import UNIT_KINDS


def _num(v: float | None, fmt: str = ".4g") -> str:
    return "-" if v is None else format(v, fmt)


def summary_tables(s: dict) -> list[Table]:
    """The tables ``socsim run`` prints for the summary dictionary ``s``: the run (with each
    workload's integer events when functional), its units and DMA engines, and the
    reconfigurations of each kind that reconfigures (when it reconfigured any)."""
    lat, en = s["latency_ms"], s["energy_mj"]
    head = Table(title=f"{s['scenario']} on {s['soc']} ({s['policy']['name']}): "
                       f"{s['inferences']} inferences in {_num(s['simulated_ms'])} ms simulated",
                 show_header=False)
    head.add_column("what", no_wrap=True)
    head.add_column("value", justify="right", no_wrap=True)
    head.add_row("latency ms (p50 / p99 / max)",
                 f"{_num(lat['p50'])} / {_num(lat['p99'])} / {_num(lat['max'])}")
    head.add_row("deadline misses", str(s["deadline_misses"]))
    head.add_row("energy mJ (total / per inference)",
                 f"{_num(en['total'])} / {_num(en['per_inference'])}")
    cats = ("compute", "sram", "dram", "dma", *(("reconfig",) if en["reconfig"] else ()),
            "static", "idle")
    for k in cats:
        head.add_row(f"  {k} mJ", _num(en[k]))
    head.add_row("DMA bytes", f"{s['dma_bytes']:,}")
    head.add_row("zero-copy hand-offs (bytes)",
                 f"{s['zero_copy_count']:,} ({s['zero_copy_bytes']:,})")
    head.add_row("spills", f"{s['spills']:,}")
    head.add_row("page faults / evictions",
                 f"{s['page_faults']:,} / {s['paging']['evictions']:,}")
    for w, f in s.get("functional", {}).items():
        for k, v in f["integer_events"].items():
            head.add_row(f"{w}: {k.replace('_', ' ')}", f"{v:,}")
    units = Table(title="Units and DMA engines")
    for col in ("component", "ops / transfers", "busy ms", "utilisation", "energy mJ"):
        units.add_column(col, justify="right")
    for name, u in s["units"].items():
        units.add_row(name, f"{u['ops']:,}", _num(u["busy_ms"]), f"{u['utilisation']:.1%}",
                      _num(u["energy_mj"]))
    for name, d in s["dma"].items():
        units.add_row(name, f"{d['transfers']:,}", _num(d["busy_ms"]),
                      f"{d['utilisation']:.1%}", "-")
    tables = [head, units]
    for kind in UNIT_KINDS.classes():
        section = s.get(kind.reconfig_section) if kind.reconfig_section else None
        if not section:
            continue
        table = Table(title=f"{kind.reconfig_label or kind.name} reconfiguration")
        for col in ("unit", "reconfigurations", "ms", "bitstream MB", "mJ", "evictions"):
            table.add_column(col, justify="right")
        for name, f in section.items():
            table.add_row(name, f"{f['reconfigurations']:,}", _num(f["reconfig_ms"]),
                          _num(f["bitstream_mb"]), _num(f["energy_mj"]), f"{f['evictions']:,}")
        tables.append(table)
    return tables
