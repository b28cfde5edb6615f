"""`eventlab hist`: a histogram (and a peak fit) of a column file or dataset folder from the
command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from pathlib import Path

from app.histogram.errors import BinningError, DatasetError, FitError

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
            "expressions use are read) or of a dataset folder of parquet parts (`eventlab "
            "columns -o FOLDER`: only the columns used are read, and with --workers or "
            "--scheduler each part is filled on a Dask worker), with an optional cut and "
            "weight, print its statistics "
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
    parser.add_argument(
        "files",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="CSV, parquet or ROOT column file, or a dataset folder of parquet parts; several "
        "files fill one histogram, summed",
    )
    parser.add_argument(
        "--stack-files",
        action="store_true",
        help="with several files: stack them in the plot, one colour per file (the sum is fitted)",
    )
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
    parser.add_argument(
        "--lumi",
        type=float,
        metavar="L",
        help="scale simulated files to L fb^-1 with their education-ntuple weight columns "
        "(XSection, SumWeights ... or xsec, kfac, filteff, sum_of_weights); files without them "
        "are data, drawn as points over the stacked simulation with a ratio below",
    )
    parser.add_argument("--logy", action="store_true", help="logarithmic vertical axis (PNG)")
    parser.add_argument("--density", action="store_true", help="normalise to unit area")
    parser.add_argument("--png", type=Path, metavar="OUT", help="write the plot as a PNG image")
    parser.add_argument(
        "--json", action="store_true", help="print the bins, statistics and fit as JSON"
    )
    add_parallel_options(parser)
    parser.set_defaults(func=run)


def add_parallel_options(parser: argparse.ArgumentParser) -> None:
    """Where the parts of dataset folders are filled: local Dask workers or a Dask cluster."""
    from converters.cli import non_negative_int

    group = parser.add_argument_group("dataset folders filled where their parts are (Dask)")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=non_negative_int,
        metavar="N",
        help="fill each part on a local Dask cluster of N worker processes (0: one per CPU)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="fill each part on a running Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers "
        "need EventLab and must see the folder's path)",
    )


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
    from app.histogram.filling import DEFAULT_BINS
    from app.histogram.plotting import compute_plot
    from app.histogram.settings import PlotSettings
    from app.histogram.units import expression_unit

    if args.bins is not None and args.bins < 1:
        raise BinningError("--bins must be at least 1")
    if args.lumi is not None and not (math.isfinite(args.lumi) and args.lumi > 0):
        raise BinningError("--lumi must be a positive luminosity in fb^-1")
    if args.fix_width is not None and args.fit not in ("bw", "voigt"):
        raise FitError("--fix-width needs --fit bw or --fit voigt")
    datasets = {str(path): read_dataset(path, path.name) for path in args.files}
    keys = list(datasets)
    settings = PlotSettings(
        dataset=keys[0],
        combine=tuple(keys[1:]),
        combine_mode="stack" if args.stack_files else "sum",
        x=args.x,
        cut=args.cut,
        weight=args.weight,
        bins=args.bins or DEFAULT_BINS,
        low=args.range[0] if args.range else None,
        high=args.range[1] if args.range else None,
        auto_range=args.range is None,
        logy=args.logy,
        density=args.density,
        fit=args.fit or "",
        background=args.background,
        fit_range=args.fit_range or (None, None),
        fixed_width=args.fix_width,
        luminosity=args.lumi,
    )
    title = " + ".join(path.name for path in args.files)
    with evaluators_for(datasets, args.workers, args.scheduler) as evaluators:
        outcome = compute_plot(settings, evaluators.__getitem__, title=title)
    histogram, fit = outcome.histogram, outcome.fit
    notes = [*outcome.notes, *incomplete_notes(datasets)]
    summed = [numbers for label, numbers, _ in outcome.statistics if label == "all datasets"]
    statistics = summed[0] if summed else outcome.statistics[0][1]
    if args.png:
        from app.histogram.png import write_png

        write_png(outcome.plot, args.png)
    if args.json:
        document = {
            "file": str(args.files[0]),
            "files": [str(path) for path in args.files],
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
            "luminosity_fb": args.lumi,
            "notes": notes,
        }
        if len(keys) > 1:
            document["datasets"] = [
                {"file": key, "statistics": numbers, "counts": layer_counts}
                for key, (_, numbers, _), layer_counts in zip(
                    keys, outcome.statistics, per_file_counts(outcome, len(keys)), strict=False
                )
            ]
        json.dump(finite_json(document), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text_report(args, outcome.statistics, fit))
        for note in notes:
            print(f"  {note}")
    return 0


def incomplete_notes(datasets: dict) -> list[str]:
    """A note for each dataset folder whose run has not written every part."""
    from app.histogram.folder_columns import FolderDataset

    return [
        f"{Path(key).name}: {dataset.metadata['dataset folder']}"
        for key, dataset in datasets.items()
        if isinstance(dataset, FolderDataset) and dataset.incomplete
    ]


@contextlib.contextmanager
def evaluators_for(datasets: dict, workers: int | None, scheduler: str | None):
    """The evaluator of each dataset: dataset folders filled on Dask when asked, else here."""
    from app.histogram.evaluation import Evaluator
    from app.histogram.folder_columns import FolderDataset

    if workers is None and scheduler is None:
        yield {key: Evaluator(dataset) for key, dataset in datasets.items()}
        return
    if not any(isinstance(dataset, FolderDataset) for dataset in datasets.values()):
        raise DatasetError(
            "--workers and --scheduler fill the parts of dataset folders (`eventlab columns "
            "-o FOLDER`); no FILE given is one"
        )
    from app.histogram.part_fills import PartsEvaluator
    from converters.cluster import runner_for

    with runner_for(workers, scheduler) as runner:
        yield {
            key: PartsEvaluator(dataset, runner)
            if isinstance(dataset, FolderDataset)
            else Evaluator(dataset)
            for key, dataset in datasets.items()
        }


def per_file_counts(outcome, files: int) -> list[list[float] | None]:
    """Each file's bin contents when the plot stacks them, else nothing per file."""
    layers = outcome.plot.layers[:files]
    if len(layers) == files and all(layer.style == "stack" for layer in layers):
        return [layer.histogram.counts.tolist() for layer in layers]
    return [None] * files


def finite_json(value):
    """The same structure with NaN and infinities as null (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    return value


def text_report(args: argparse.Namespace, rows, fit) -> str:
    """A short human-readable report of the statistics (per file and summed) and fit."""
    names = " + ".join(path.name for path in args.files)
    lines = [f"{names}: {args.x}" + (f"  [cut: {args.cut}]" if args.cut else "")]
    for label, statistics, _weighted in rows:
        prefix = f"  {label}: " if len(rows) > 1 else "  "
        lines += [
            f"{prefix}rows {statistics['rows']:,}, selected {statistics['selected']:,} "
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
