"""`eventlab hist`: JSON output, PNG without a browser, and one-line errors."""

from __future__ import annotations

import json

import pytest

from app.cli import main

DIMUON_MASS = "inv_mass(pt1, eta1, phi1, 0.1057, pt2, eta2, phi2, 0.1057)"


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("x;w;q\n1;1;1\n2;2;-1\n2.5;1;1\n7;1;1\nnan;1;1\n")
    return path


def run_json(capsys, *argv):
    """Run `eventlab hist ... --json` and parse its output."""
    capsys.readouterr()
    assert main(["hist", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_output(small_csv, capsys):
    document = run_json(capsys, str(small_csv), "--x", "x", "--cut", "q > 0", "--bins", "3")
    assert document["fit"] is None
    assert len(document["bins"]["counts"]) == 3
    document = run_json(
        capsys, str(small_csv), "--x", "x", "--cut", "q > 0", "--bins", "3", "--range", "0,3"
    )
    assert document["bins"]["edges"] == [0, 1, 2, 3]
    assert document["bins"]["counts"] == [0, 1, 1]
    statistics = document["statistics"]
    assert statistics["rows"] == 5 and statistics["selected"] == 4
    assert statistics["no_value"] == 1 and statistics["entries"] == 3
    assert statistics["overflow"] == 1 and statistics["underflow"] == 0
    assert statistics["mean"] == pytest.approx((1 + 2.5 + 7) / 3)


def test_weighted_json(small_csv, capsys):
    document = run_json(capsys, str(small_csv), "--x", "x", "--weight", "w", "--range", "0,3")
    assert document["statistics"]["sum_of_weights"] == pytest.approx(5.0)  # NaN row left out


def test_cms_fit_and_png(cms_zmumu_csv, tmp_path, capsys):
    png = tmp_path / "z.png"
    document = run_json(
        capsys,
        str(cms_zmumu_csv),
        "--x",
        DIMUON_MASS,
        "--cut",
        "Q1*Q2 < 0",
        "--bins",
        "60",
        "--range",
        "60,120",
        "--fit",
        "bw",
        "--background",
        "linear",
        "--fit-range",
        "80,100",
        "--png",
        str(png),
    )
    mass = document["fit"]["parameters"]["mass"]
    assert abs(mass["value"] - 91.19) < 1.0
    assert 0 < mass["error"] < 0.5
    assert mass["unit"] == "GeV"
    assert document["fit"]["ndf"] > 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob(".z.png.*"))


def test_text_report(small_csv, capsys):
    assert main(["hist", str(small_csv), "--x", "x"]) == 0
    output = capsys.readouterr().out
    assert "rows 5, selected 5" in output and "mean" in output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--x", "x +"], "In the variable"),
        (["--x", "x", "--cut", "y > 1"], "unknown name 'y'"),
        (["--x", "x", "--bins", "0"], "bins"),
        (["--x", "x", "--fit", "gauss", "--range", "0,3", "--bins", "3"], "at least 5"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(small_csv, capsys, argv, message):
    assert main(["hist", str(small_csv), *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("eventlab hist: error:")
    assert message in error
    assert "Traceback" not in error


def test_missing_file(tmp_path, capsys):
    assert main(["hist", str(tmp_path / "nope.csv"), "--x", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bad_range_option(small_csv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["hist", str(small_csv), "--x", "x", "--range", "3,1"])
    assert caught.value.code == 2
    assert "expected LO below HI" in capsys.readouterr().err
