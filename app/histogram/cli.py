"""`eventlab hist`: a histogram (and a peak fit) of a column file from the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from app.histogram.errors import BinningError, FitError

SIGNAL_CHOICES = ("gauss", "bw", "voigt", "cb")
Z_WIDTH_TEXT = "2.4952"
BACKGROUND_CHOICES = ("none", "linear", "exp")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `eventlab hist`."""
    parser = subparsers.add_parser(
        "hist",
        help="histogram a variable of a CSV, parquet or ROOT column file, optionally fit a peak",
        description=(
            "Fill a histogram of an expression over the rows of a CSV, parquet or ROOT file "
            "(NanoAOD `Events`, education ntuples `mini` and `analysis`: only the branches the "
            "expressions use are read), with an optional cut and weight, print its statistics "
            "(or JSON with --json), fit a peak with --fit, and save a PNG with --png. A list "
            "column such as Muon_pt gives Muon_pt_1 (leading), Muon_pt_2, Muon_pt_n (count), "
            "and all its elements as the variable."
        ),
        epilog=(
            "example: eventlab hist Zmumu_Run2011A.csv "
            "--x 'inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)' "
            "--cut 'Q1*Q2 < 0' --bins 60 --range 60,120 --fit bw --png z.png"
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="CSV, parquet or ROOT column file")
    parser.add_argument("--x", required=True, metavar="EXPR", help="variable or expression")
    parser.add_argument("--cut", default="", metavar="EXPR", help="keep rows where EXPR holds")
    parser.add_argument("--weight", default="", metavar="EXPR", help="weight of each row")
    parser.add_argument("--bins", type=int, metavar="N", help="number of bins (default: auto)")
    parser.add_argument("--range", type=number_pair, metavar="LO,HI", help="histogram range")
    parser.add_argument(
        "--fit",
        choices=SIGNAL_CHOICES,
        help="fit a peak: gauss, bw (Breit-Wigner), voigt (Breit-Wigner convolved with a "
        "Gaussian resolution: the Z's shape), cb (Crystal Ball)",
    )
    parser.add_argument(
        "--fix-width",
        nargs="?",
        type=float,
        const=float(Z_WIDTH_TEXT),
        metavar="WIDTH",
        help=f"hold the bw or voigt width fixed (default {Z_WIDTH_TEXT}, the Z's width in GeV)",
    )
    parser.add_argument(
        "--background", choices=BACKGROUND_CHOICES, default="none", help="background under the peak"
    )
    parser.add_argument("--fit-range", type=number_pair, metavar="LO,HI", help="fit range")
    parser.add_argument("--logy", action="store_true", help="logarithmic vertical axis (PNG)")
    parser.add_argument("--density", action="store_true", help="normalise to unit area")
    parser.add_argument("--png", type=Path, metavar="OUT", help="write the plot as a PNG image")
    parser.add_argument(
        "--json", action="store_true", help="print the bins, statistics and fit as JSON"
    )
    parser.set_defaults(func=run)


def number_pair(text: str) -> tuple[float, float]:
    """Parse "LO,HI" into two increasing finite numbers."""
    parts = text.split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers LO,HI, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise argparse.ArgumentTypeError(f"expected LO below HI, got {text!r}")
    return low, high


def run(args: argparse.Namespace) -> int:
    """Fill, fit, print and draw as the options ask."""
    from app.histogram.data import read_dataset
    from app.histogram.evaluation import Evaluator
    from app.histogram.figure import Layer, PlotData
    from app.histogram.filling import Binning, auto_binning, fill, summary
    from app.histogram.fitting import fit_peak, units_for
    from app.histogram.units import axis_label, expression_unit

    dataset = read_dataset(args.file, args.file.name)
    evaluator = Evaluator(dataset)
    selection = evaluator.selection(args.x, args.cut, args.weight)
    if args.bins is not None and args.bins < 1:
        raise BinningError("--bins must be at least 1")
    if args.range is None:
        binning = auto_binning(selection.values, args.bins)
    else:
        binning = Binning(args.bins or 50, *args.range)
    histogram = fill(selection, binning)
    fit = None
    if args.fix_width is not None and args.fit not in ("bw", "voigt"):
        raise FitError("--fix-width needs --fit bw or --fit voigt")
    if args.fit:
        weighted = selection.weighted
        fit = fit_peak(
            histogram, args.fit, args.background, args.fit_range, weighted, args.fix_width
        )
        fit = units_for(fit, expression_unit(args.x) or "")
    statistics = summary(selection, histogram)
    if args.png:
        from app.histogram.png import write_png

        label = args.cut.strip() or "all rows"
        plot = PlotData(
            layers=(Layer(label, histogram, "bars"),),
            x_label=axis_label(args.x),
            logy=args.logy,
            density=args.density,
            fit=fit,
            title=dataset.name,
        )
        write_png(plot, args.png)
    if args.json:
        document = {
            "file": str(args.file),
            "x": args.x,
            "cut": args.cut,
            "weight": args.weight,
            "unit": expression_unit(args.x),
            "bins": {
                "edges": histogram.edges.tolist(),
                "counts": histogram.counts.tolist(),
                "errors": histogram.errors.tolist(),
            },
            "statistics": statistics,
            "fit": None if fit is None else fit.as_dict(),
        }
        json.dump(finite_json(document), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text_report(args, statistics, fit))
    return 0


def finite_json(value):
    """The same structure with NaN and infinities as null (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    return value


def text_report(args: argparse.Namespace, statistics: dict, fit) -> str:
    """A short human-readable report of the statistics and fit."""
    lines = [
        f"{args.file.name}: {args.x}" + (f"  [cut: {args.cut}]" if args.cut else ""),
        f"  rows {statistics['rows']:,}, selected {statistics['selected']:,} "
        f"({100 * statistics['selected_fraction']:.1f} %), entries {statistics['entries']:,}",
        f"  mean {statistics['mean']:.6g}, std {statistics['std']:.6g}, "
        f"underflow {statistics['underflow']:g}, overflow {statistics['overflow']:g}, "
        f"no value {statistics['no_value']:,}",
    ]
    if fit is not None:
        from app.histogram.fit_report import fit_lines

        lines.extend(fit_lines(fit))
    if args.png:
        lines.append(f"  plot written to {args.png}")
    return "\n".join(lines)
