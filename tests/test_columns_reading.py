"""`columns` reads only what its columns need: the branches, the first MC weight, the imports."""

from __future__ import annotations

import os
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import PROJECT_ROOT

from converters.first_values import tree_first_values
from converters.pipeline import write_columns
from converters.read import EventSource, columns_plan, default_plan

TOY = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite.root"
TOY_RNTUPLE = PROJECT_ROOT / "sample_events" / "data" / "toy_physlite_rntuple.root"
WEIGHTS = "EventInfoAuxDyn.mcEventWeights"


@pytest.mark.shared_data
def test_first_weight_from_the_baskets_equals_the_whole_list_read(physlite_example):
    tree = uproot.open(physlite_example)["CollectionTree"]
    for start, stop in ((0, 100), (7, 93), (50, 51)):
        whole = ak.to_numpy(tree[WEIGHTS].array(entry_start=start, entry_stop=stop)[:, 0])
        firsts = tree_first_values(tree, WEIGHTS, start, stop, 1.0)
        assert firsts.dtype == np.float64
        np.testing.assert_array_equal(firsts, whole.astype(np.float64))


def test_first_value_of_empty_lists_is_the_default_over_several_baskets(tmp_path):
    lists = ak.Array([[], [2.5, 3.0], [], [-1.0], [4.0, 5.0, 6.0]] * 30)
    path = tmp_path / "lists.root"
    with uproot.recreate(path) as output:
        output.mktree("t", {"w": lists.type.content})
        for part in range(5):  # five baskets
            output["t"].extend({"w": lists[part * 30 : (part + 1) * 30]})
    tree = uproot.open(path)["t"]
    expected = np.array([1.0, 2.5, 1.0, -1.0, 4.0] * 30)
    np.testing.assert_array_equal(tree_first_values(tree, "w", 0, 150, 1.0), expected)
    np.testing.assert_array_equal(tree_first_values(tree, "w", 17, 101, 1.0), expected[17:101])


@pytest.mark.parametrize("path", [TOY, TOY_RNTUPLE], ids=["ttree", "rntuple"])
def test_columns_plan_reads_no_tracks_clusters_vertices(path):
    source = EventSource(str(path), planner=columns_plan)
    branches = " ".join(source.plan.branches())
    for unused in ("TrackParticles", "Clusters", "PrimaryVertices", "lumiBlock", "caloCluster"):
        assert unused not in branches
    assert "btaggingLink" in branches
    assert len(source.plan.branches()) < len(EventSource(str(path)).plan.branches()) / 2
    assert source.plan.first_branches() == [
        name for name in source.plan.info.values() if "mcEventWeights" in name
    ]


@pytest.mark.parametrize("path", [TOY, TOY_RNTUPLE], ids=["ttree", "rntuple"])
def test_columns_from_the_narrow_plan_equal_those_from_the_full_read(path):
    from converters.columns import columns

    narrow = EventSource(str(path), planner=columns_plan)
    full = EventSource(str(path), planner=default_plan)
    first = columns(narrow.read(0, narrow.num_entries))
    second = columns(full.read(0, full.num_entries))
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_the_columns_command_imports_neither_sympy_nor_panel(tmp_path):
    probe = (
        "import sys\n"
        "from app.cli import main\n"
        f"main(['columns', {str(TOY)!r}, '-o', {str(tmp_path / 'c.parquet')!r}])\n"
        "print(sorted(m for m in ('sympy', 'panel', 'bokeh', 'polars') if m in sys.modules))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "c.parquet").exists()


def test_vector_helpers_still_work_after_the_lazy_import(tmp_path):
    from converters.expressions import parse

    table = {"pt1": np.array([40.0]), "phi1": np.array([0.0])}
    table |= {"pt2": np.array([40.0]), "phi2": np.array([np.pi])}
    mt = parse("mt(pt1, phi1, pt2, phi2)", table.keys()).evaluate(table)
    np.testing.assert_allclose(mt, [80.0])
    write_columns(TOY, tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_text().startswith('"run","event"')
