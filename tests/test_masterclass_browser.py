"""The masterclass in headless Chromium: pick two muons, save the event, the teacher sees it.

The whole path on a server of its own with its class records in a fresh folder: a student picks
the first muon by clicking its spectrometer track in the 3D view and the second by ticking its
row in the object table, saves the event as mu mu; the teacher's page, open in a second browser
context, shows it live; after a server restart the record is still there for both.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import server_output, start_app, stop_app
from test_app_browser import SCENE, open_page, screen_points, wait_until

from app.config import BUNDLED_DATA_DIR
from app.display.events import read_event_file
from app.display.objects3d import PICK_STEP_MM
from app.display.scene import build_scene
from app.display.selection import Selection
from app.display.shapes import sample_segments

pytestmark = pytest.mark.browser

EVENT = "3000279"
CLASS = "3B"
STUDENT = "Ada <i>L</i>"
SPECTROMETER = "Tracks/MuonSpectrometerTrackParticles"
TEACHER_KEY = re.compile(r"teacher page \S+\?teacher=([A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def dimuon_event() -> dict:
    """Bundled event 3000279 (a Z -> mu mu candidate)."""
    file = read_event_file(BUNDLED_DATA_DIR / "toy_events.json")
    return file.event(file.position_of(EVENT))


def spot_on_first_muon(event: dict, box: dict) -> tuple[float, float]:
    """A screen point on muon 0's spectrometer track far from every other object's lines.

    The muon and its four tracks share one path on the screen: any of them stands for the muon.
    """
    scene = build_scene(event)
    selection = Selection()
    selection.reset(scene, event)
    own = ("Muons/AnalysisMuons", 0)
    track = scene.layer(SPECTROMETER)
    points, owner = sample_segments(track.segments, track.segment_owner, PICK_STEP_MM)
    candidates = screen_points(points[owner == 0], box)
    others = []
    for layer in scene.layers:
        if not len(layer.segments):
            continue
        samples, owners = sample_segments(layer.segments, layer.segment_owner, PICK_STEP_MM)
        foreign = [
            selection.physics_object(layer.key, int(index)) != own
            and (layer.key, int(index)) != own
            for index in owners
        ]
        others.append(screen_points(samples[np.array(foreign, dtype=bool)], box))
    everything = np.concatenate(others)
    inside = (candidates[:, 0] > 20) & (candidates[:, 0] < box["width"] - 20)
    inside &= (candidates[:, 1] > 20) & (candidates[:, 1] < box["height"] - 20)
    gaps = np.linalg.norm(candidates[:, None] - everything[None], axis=-1).min(axis=1)
    best = int(np.argmax(np.where(inside, gaps, -1.0)))
    return float(candidates[best, 0]), float(candidates[best, 1])


def teacher_key(process) -> str:
    """The teacher key the server printed."""
    found = TEACHER_KEY.search(server_output(process))
    assert found, f"no teacher page address printed:\n{server_output(process)}"
    return found.group(1)


def bokeh_texts(page) -> list[str]:
    """Every plot title on the page (they are drawn on canvases, not in the DOM)."""
    return page.evaluate(
        """() => [...window.Bokeh.documents].flatMap((doc) => [...doc.all_models])
              .filter((model) => model.type === "Title").map((model) => model.text)"""
    )


def teacher_total(page) -> str:
    """The number of events the teacher page counts."""
    total = page.locator("[data-testid=class-total]")
    return total.first.inner_text() if total.count() else ""


# Once more on failure: beside other tests its pages timed out in two of four runs (alone: none).
@pytest.mark.flaky(reruns=1)
def test_pick_two_muons_save_the_event_and_the_teacher_sees_it_after_a_restart(
    browser, tmp_path, dimuon_event, screenshot_dir
):
    records = tmp_path / "records"
    process, url = start_app("--class-dir", str(records), "--class", CLASS)
    contexts = []
    try:
        key = teacher_key(process)
        teacher_context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(teacher_context)
        teacher = teacher_context.new_page()
        teacher.goto(f"{url}/?teacher={key}")
        teacher.locator("[data-testid=class-state]").first.wait_for(timeout=60_000)
        assert teacher_total(teacher) == "0"

        student_context = browser.new_context(viewport={"width": 1400, "height": 1100})
        contexts.append(student_context)
        page = student_context.new_page()
        open_page(page, f"{url}/?file=toy_events.json&event={EVENT}")
        info = page.locator("[data-testid=object-info]")

        # First muon: shift-click its spectrometer track in the 3D view.
        scene = page.locator(SCENE).first
        x, y = spot_on_first_muon(dimuon_event, scene.bounding_box())
        for _ in range(5):  # a click before the event's arrays arrived is answered by nothing
            scene.click(position={"x": x, "y": y}, modifiers=["Shift"])
            if wait_until(
                lambda: info.count() and "26.04 GeV" in info.first.inner_text(), 3.0, fail=False
            ):
                break
        else:
            pytest.fail("clicking the muon's spectrometer track never selected the muon")
        text = info.first.inner_text()
        assert "muon" in text and "MuonSpectrometerTrackParticles" in text
        row = page.locator("[data-testid=object-row][data-id='Muons/AnalysisMuons:0']")
        wait_until(lambda: "focus" in (row.get_attribute("class") or ""))
        assert row.locator("input[type=checkbox]").is_checked()

        # Second muon: its row in the table, clicked (info) and ticked (mass).
        second = page.locator("[data-testid=object-row][data-id='Muons/AnalysisMuons:1']")
        second.locator("td").nth(2).click()
        wait_until(lambda: "17.37 GeV" in info.first.inner_text())
        second.locator("input[type=checkbox]").check()
        mass = page.locator("[data-testid=mass]")
        wait_until(lambda: mass.count() and mass.first.inner_text() == "74.19 GeV")

        # Join the class, classify and save.
        page.get_by_placeholder("your name, then Join").fill(STUDENT)
        page.get_by_placeholder("your name, then Join").press("Tab")
        page.get_by_role("button", name="Join").click()
        page.locator("[data-testid=student-name]").first.wait_for(timeout=10_000)
        assert page.locator("[data-testid=student-name]").first.inner_text() == STUDENT
        category = page.locator(".bk-input-group:has(label:text-is('This event is')) select")
        category.select_option(label="μ μ")
        page.get_by_role("button", name="Save this event").click()
        note = page.locator("[data-testid=saved-note]")
        note.first.wait_for(timeout=10_000)
        assert "74.19 GeV" in note.first.inner_text()
        wait_until(lambda: page.locator("[data-testid=record-row]").count() == 1, timeout=10.0)
        page.screenshot(path=str(screenshot_dir / "masterclass-student.png"), full_page=True)

        # The teacher's page follows on its own.
        wait_until(lambda: teacher_total(teacher) == "1", timeout=20.0)
        counts = teacher.locator("[data-testid=count-row][data-category=mumu]").first
        assert counts.inner_text().split()[-1] == "1"
        assert STUDENT in teacher.locator("[data-testid=progress-row]").first.inner_text()
        wait_until(lambda: "μ μ (1 event)" in bokeh_texts(teacher))
        teacher.screenshot(path=str(screenshot_dir / "masterclass-teacher.png"), full_page=True)
        for context in contexts:
            context.close()
        contexts.clear()

        # Restart: everything is still there.
        stop_app(process)
        process, url = start_app("--class-dir", str(records))
        assert teacher_key(process) == key
        again = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(again)
        teacher = again.new_page()
        teacher.goto(f"{url}/?teacher={key}")
        wait_until(lambda: teacher_total(teacher) == "1", timeout=60.0)
        student = browser.new_context(viewport={"width": 1400, "height": 1100})
        contexts.append(student)
        page = student.new_page()
        page.goto(
            f"{url}/?file=toy_events.json&event={EVENT}&class={CLASS}&student=Ada%20%3Ci%3EL%3C/i%3E"
        )
        page.locator("[data-testid=record-row]").first.wait_for(timeout=60_000)
        page.get_by_text("Already saved as μ μ").first.wait_for(timeout=10_000)
        wrong = again.new_page()
        wrong.goto(f"{url}/?teacher=guess")
        wrong.get_by_text("not the teacher key").first.wait_for(timeout=60_000)
        assert wrong.locator("[data-testid=class-state]").count() == 0
    finally:
        for context in contexts:
            context.close()
        stop_app(process)
