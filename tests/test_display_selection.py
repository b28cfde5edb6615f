"""A click on any part of a physics object selects the object: its mass, not its tracks'."""

from __future__ import annotations

import math

import pytest

from app.config import BUNDLED_DATA_DIR
from app.display.events import EventFile, read_event_file
from app.display.physics import invariant_mass
from app.display.scene import build_scene
from app.display.selection import Selection, owners_of

MUON_TRACKS = (
    "InDetTrackParticles",
    "CombinedMuonTrackParticles",
    "ExtrapolatedMuonTrackParticles",
    "MuonSpectrometerTrackParticles",
)


def event_of(file: EventFile, number: str) -> dict:
    """The event called `number` of a file."""
    position = file.position_of(number)
    assert position is not None, f"event {number} is not in {file.name}"
    return file.event(position)


@pytest.fixture(scope="module")
def dimuon_event() -> dict:
    """Bundled event 3000279: a Z -> mu mu candidate drawn with all four muon track kinds."""
    return event_of(read_event_file(BUNDLED_DATA_DIR / "toy_events.json"), "3000279")


def selection_of(event: dict) -> Selection:
    """A selection on the event, as the display sets it up for a new event."""
    selection = Selection()
    selection.reset(build_scene(event), event)
    return selection


def test_every_track_of_a_muon_picks_the_muon(dimuon_event):
    selection = selection_of(dimuon_event)
    muons = dimuon_event["Muons"]["AnalysisMuons"]
    for index, muon in enumerate(muons):
        for link in muon["LinkedTracks"]:
            collection, _, position = link.rpartition(":")
            assert collection in MUON_TRACKS
            owner = selection.physics_object(f"Tracks/{collection}", int(position))
            assert owner == ("Muons/AnalysisMuons", index)


def test_picking_both_spectrometer_tracks_gives_the_muons_mass_not_the_tracks(dimuon_event):
    selection = selection_of(dimuon_event)
    spectrometer = selection.layer("Tracks/MuonSpectrometerTrackParticles")
    track_mass = invariant_mass([spectrometer, spectrometer], [0, 1])
    assert track_mass == pytest.approx(69.7, abs=0.05)  # what adding the lines used to give
    selection.pick("Tracks/MuonSpectrometerTrackParticles", 0, add=True)
    selection.pick("Tracks/MuonSpectrometerTrackParticles", 1, add=True)
    assert selection.chosen == [("Muons/AnalysisMuons", 0), ("Muons/AnalysisMuons", 1)]
    assert selection.mass_gev() == pytest.approx(74.2, abs=0.05)
    assert selection.total_charge() == 0
    info = selection.focus_info()
    assert info["Type"] == "muon" and info["pT"] == "17.37 GeV"  # the muon's, not the track's
    assert info["Clicked"] == "its track in MuonSpectrometerTrackParticles"


def test_an_electrons_track_and_cluster_pick_the_electron(dimuon_event):
    selection = selection_of(dimuon_event)
    assert selection.physics_object("Tracks/GSFTrackParticles", 1) == (
        "Electrons/AnalysisElectrons",
        1,
    )
    assert selection.physics_object("CaloClusters/egammaClusters", 0) == (
        "Electrons/AnalysisElectrons",
        0,
    )
    assert selection.parts_of(("Electrons/AnalysisElectrons", 0)) == [
        ("Tracks/GSFTrackParticles", 0),
        ("CaloClusters/egammaClusters", 0),
        ("Tracks/InDetTrackParticles", 0),  # the track the GSF track was refitted from
    ]


def test_a_track_of_no_physics_object_stays_a_track(dimuon_event):
    selection = selection_of(dimuon_event)
    owned = {part for part in selection.owners if part[0] == "Tracks/InDetTrackParticles"}
    free = next(
        index
        for index in range(selection.layer("Tracks/InDetTrackParticles").size)
        if ("Tracks/InDetTrackParticles", index) not in owned
    )
    assert selection.pick("Tracks/InDetTrackParticles", free) == (
        "Tracks/InDetTrackParticles",
        free,
    )
    assert "Clicked" not in selection.focus_info()


def test_choosing_and_clearing_and_a_new_event_forget_the_picks(dimuon_event):
    selection = selection_of(dimuon_event)
    selection.set_chosen(("Muons/AnalysisMuons", 0), True)
    selection.set_chosen(("Muons/AnalysisMuons", 0), True)
    selection.set_chosen(("Vertices/PrimaryVertices", 0), True)  # no four-momentum: refused
    assert selection.chosen == [("Muons/AnalysisMuons", 0)]
    selection.set_chosen(("Muons/AnalysisMuons", 0), False)
    assert selection.chosen == [] and math.isnan(selection.mass_gev())
    selection.pick("Muons/AnalysisMuons", 1, add=True)
    selection.reset(build_scene(dimuon_event), dimuon_event)
    assert (selection.focus, selection.chosen) == (None, [])


def test_links_to_absent_or_too_short_collections_are_ignored(dimuon_event):
    event = {
        "Tracks": {"T": [{"pT": 1000, "eta": 0.1, "phi": 0.2}]},
        "Muons": {
            "M": [{"pT": 30000, "eta": 0.1, "phi": 0.2, "LinkedTracks": ["T:0", "T:5", "X:0", 3]}]
        },
    }
    assert owners_of(event, build_scene(event)) == {("Tracks/T", 0): ("Muons/M", 0)}


@pytest.mark.shared_data
def test_real_physlite_muon_tracks_pick_their_muon(physlite_example):
    """The real example file: the two-muon event's combined and ID tracks select its muons."""
    from converters import convert_events

    events = convert_events(str(physlite_example), events=slice(40, 41))
    (event,) = events.values()
    selection = selection_of(event)
    muons = selection.layer("Muons/AnalysisMuons")
    picked = [
        selection.pick("Tracks/CombinedMuonTrackParticles", 0, add=True),
        selection.pick("Tracks/CombinedMuonTrackParticles", 2, add=True),
    ]
    assert picked == [("Muons/AnalysisMuons", 0), ("Muons/AnalysisMuons", 1)]
    assert selection.mass_gev() == pytest.approx(invariant_mass([muons, muons], [0, 1]))
    assert selection.physics_object("Tracks/InDetTrackParticles", 8) == ("Muons/AnalysisMuons", 0)


def test_the_object_table_lists_physics_objects_first_and_tracks_on_request(dimuon_event):
    from app.display.object_table import parse_row_id, table_rows

    layers = build_scene(dimuon_event).layers
    rows = table_rows(layers)
    assert [row["type"] for row in rows] == ["electron"] * 2 + ["muon"] * 2 + ["jet", "MET"]
    muon = rows[2]
    assert (muon["id"], muon["pt"], muon["charge"], muon["collection"]) == (
        "Muons/AnalysisMuons:0",
        26.04,
        -1,
        "Muons",
    )
    assert muon["addable"] and not rows[-1]["addable"]  # MET has no four-momentum to add
    assert len(table_rows(layers, tracks=True)) == len(rows) + 17
    assert parse_row_id("Muons/AnalysisMuons:1") == ("Muons/AnalysisMuons", 1)
    assert parse_row_id("x:-1") is None and parse_row_id(7) is None


@pytest.fixture(scope="module")
def display():
    """An event display session (no browser) on bundled event 3000279."""
    from app.config import AppConfig
    from app.display.offline import enable_offline_widgets

    enable_offline_widgets()
    from app.display.view import EventDisplay

    return EventDisplay(AppConfig(), file="toy_events.json", event="3000279")


def test_table_rows_focus_and_tick_the_same_selection_as_clicks(display):
    table = display.object_table
    assert table.rows[2]["id"] == "Muons/AnalysisMuons:0"
    table.focus = "Muons/AnalysisMuons:1"  # as the page sends a row click
    assert display.focus == ("Muons/AnalysisMuons", 1)
    assert "17.37 GeV" in display.info.object
    table.chosen = ["Muons/AnalysisMuons:0", "Muons/AnalysisMuons:1", "MissingEnergy/MET:0"]
    assert display.selection.chosen == [("Muons/AnalysisMuons", 0), ("Muons/AnalysisMuons", 1)]
    assert table.chosen == ["Muons/AnalysisMuons:0", "Muons/AnalysisMuons:1"]  # MET unticked
    assert "74.19 GeV" in display.selection_view.object
    table.focus = "Nope/Nothing:3"  # nonsense from a page changes nothing
    assert display.focus == ("Muons/AnalysisMuons", 1)
    display.clear_selection()
    assert table.chosen == []
    display.step(1)
    assert table.focus == "" and table.chosen == [] and display.focus is None
    display.step(-1)


def test_hidden_collections_say_so_in_the_list_and_the_table(display):
    listed = display.collection_list
    key = "Tracks/MuonSpectrometerTrackParticles"
    listed.shown = {**listed.shown, key: False}
    assert listed.counts[key] == "hidden" and key in display.object_table.hidden
    listed.shown = {**listed.shown, key: True}
    assert listed.counts[key] == "2 / 2" and key not in display.object_table.hidden


@pytest.mark.shared_data
def test_real_physlite_electrons_inner_detector_track_picks_the_electron(physlite_example):
    """A GSF track links to the inner-detector track it was refitted from: both the electron's."""
    from converters import convert_events

    events = convert_events(str(physlite_example), events=slice(0, 10))
    checked = 0
    for event in events.values():
        selection = selection_of(event)
        gsf_tracks = event["Tracks"].get("GSFTrackParticles", [])
        for index, track in enumerate(gsf_tracks):
            owner = selection.physics_object("Tracks/GSFTrackParticles", index)
            if owner[0] != "Electrons/AnalysisElectrons":
                continue
            for link in track.get("LinkedTracks", []):
                collection, _, position = link.rpartition(":")
                assert collection == "InDetTrackParticles"
                assert selection.physics_object(f"Tracks/{collection}", int(position)) == owner
                checked += 1
    assert checked >= 5
