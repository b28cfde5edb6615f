"""Server time to re-fill and redraw the histogram tab after a change of cut, binning or scale.

Builds a dimuon-like parquet file of N rows in a temporary folder, opens the Histograms tab on
it as a served session would (Bokeh document attached), then times, for each change, the span
from setting the widget value to the new plot being ready (fill, statistics, Bokeh update), and
the part of it spent showing the result (tables, the figure's data or a new figure): the
redraw's cost, which does not grow with the rows. The page's memory budget is raised so that a
10M-row file fits.

    python benchmarks/histogram.py [--rows 1000000 10000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import AppConfig
from app.histogram.view import HistogramLab

MASS = "inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)"
CUTS = ("pt1 > 20", "pt1 > 25", "pt1 > 30", "pt1 > 35", "pt1 > 40", "pt1 > 22", "pt1 > 27")
# A student moving one condition of three: the other two are kept from before.
ONE_OF_THREE_CUTS = tuple(f"pt1 > 25 & pt2 > {c} & Q1*Q2 < 0" for c in (10, 12, 14, 16, 18, 19, 27))
SESSION_MEMORY_MB = 2048
THREE_TERM_CUTS = tuple(f"pt1 > {c} & pt2 > {c} & Q1*Q2 < 0" for c in (20, 21, 22, 23, 24, 26, 28))


def write_sample(folder: Path, rows: int) -> Path:
    """A CMS-like dimuon file with `rows` rows (GeV)."""
    rng = np.random.default_rng(1)
    columns = {}
    for muon in ("1", "2"):
        columns[f"pt{muon}"] = rng.exponential(30, rows) + 5
        columns[f"eta{muon}"] = rng.uniform(-2.4, 2.4, rows)
        columns[f"phi{muon}"] = rng.uniform(-np.pi, np.pi, rows)
        columns[f"Q{muon}"] = rng.choice([-1.0, 1.0], rows)
    path = folder / f"dimuons_{rows}.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def timed(lab: HistogramLab, widget, values, repeat: int) -> tuple[list[float], list[float]]:
    """Milliseconds from setting each value to the refreshed plot, and of them the redraw's."""
    totals, redraws = [], []
    show = lab._show

    def timed_show(computed) -> None:
        started = time.perf_counter()
        show(computed)
        redraws.append(1e3 * (time.perf_counter() - started))

    lab._show = timed_show
    for value in values[:repeat]:
        started = time.perf_counter()
        widget.value = value
        totals.append(1e3 * (time.perf_counter() - started))
        if lab.error_alert.visible:
            raise SystemExit(f"the tab reported an error: {lab.error_alert.object}")
    lab._show = show
    return totals, redraws


def measure(rows: int, repeat: int) -> None:
    """Print the refresh times for one file size."""
    from bokeh.document import Document

    with tempfile.TemporaryDirectory() as folder:
        path = write_sample(Path(folder), rows)
        config = AppConfig(data_dirs=(Path(folder),), session_memory_mb=SESSION_MEMORY_MB)
        lab = HistogramLab(config)
        lab.layout.get_root(Document())
        lab.dataset_select.value = f"file:{path.name}"
        lab.x_input.value = MASS
        lab.auto_range.value = False
        lab.low_input.value, lab.high_input.value = 60.0, 120.0
        results = {
            "cut (1 term)": timed(lab, lab.cut_input, CUTS, repeat),
            "cut (3 terms)": timed(lab, lab.cut_input, THREE_TERM_CUTS, repeat),
            "cut (1 of 3)": timed(lab, lab.cut_input, ONE_OF_THREE_CUTS, repeat),
            "bins": timed(lab, lab.bins_input, [40, 60, 80, 100, 120, 30, 90], repeat),
            "log y": timed(lab, lab.logy, [True, False] * 4, repeat),
        }
        for change, (totals, redraws) in results.items():
            print(
                f"{rows:>11,} rows  {change:<14} median {statistics.median(totals):6.1f} ms"
                f"   max {max(totals):6.1f} ms   redraw median "
                f"{statistics.median(redraws):5.1f} ms  max {max(redraws):5.1f} ms"
                f"   (n={len(totals)})"
            )


def main() -> None:
    """Parse options and run the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for rows in args.rows:
        measure(rows, args.repeat)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
