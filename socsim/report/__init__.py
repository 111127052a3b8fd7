"""Reports: pandas tables, the summary, Chrome/Perfetto trace, plots, and the writer."""

from socsim.report.chrome import chrome_trace
from socsim.report.plots import energy, timeline
from socsim.report.reconcile import reconcile
from socsim.report.tables import Tables, summary, tables
from socsim.report.write import write_report

__all__ = ["Tables", "chrome_trace", "energy", "reconcile", "summary", "tables", "timeline",
           "write_report"]
