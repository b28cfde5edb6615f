"""The app in headless Chromium: offline, drawn, navigable, toggles, screenshots."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from screen import screen_coordinates

from app.config import BUNDLED_DATA_DIR
from app.display.camera import DEFAULT_VIEW, preset_view
from app.display.events import count_objects, list_event_files, read_event_file
from app.display.objects3d import PICK_STEP_MM
from app.display.physics import object_info
from app.display.scene import build_scene
from app.display.shapes import sample_segments
from app.display.stage import CANVAS_SIZE

pytestmark = pytest.mark.browser

SCENE = ".eventlab-scene canvas"
EVENT_NUMBER = "[data-testid=event-number]"
DRAWN_COLOURS = 200  # distinct colours in a drawn scene (an empty canvas has one)


def png_pixels(data: bytes) -> np.ndarray:
    """RGB pixels (H, W, 3) of PNG bytes, as integers 0-255."""
    from matplotlib.image import imread

    image = imread(io.BytesIO(data), format="png")
    return np.round(image[..., :3] * 255).astype(np.int64)


def distinct_colours(pixels: np.ndarray) -> int:
    """How many different colours an image has."""
    flat = pixels.reshape(-1, 3)
    return len(np.unique(flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]))


def canvas_pixels(page) -> np.ndarray:
    """What the 3D canvas shows right now."""
    return png_pixels(page.locator(SCENE).first.screenshot())


def wait_until(condition, timeout: float = 20.0, interval: float = 0.25, fail: bool = True):
    """Poll `condition()` until it returns a true value; return it (on timeout fail, or None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    if fail:
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {condition.__doc__ or condition}")
    return None


def open_page(page, url: str) -> np.ndarray:
    """Load the app and wait until the 3D scene is drawn; return its pixels."""
    page.goto(url)
    page.locator(SCENE).first.wait_for(timeout=60_000)

    def drawn():
        """the 3D canvas to be drawn"""
        pixels = canvas_pixels(page)
        return pixels if distinct_colours(pixels) > DRAWN_COLOURS else None

    return wait_until(drawn, timeout=30.0)


def shown_number(page) -> str:
    """The event number in the navigation panel."""
    return page.locator(EVENT_NUMBER).first.inner_text().strip()


def checkbox(page, label: str):
    """The checkbox called `label`: a Panel Checkbox (detector group) or a collection's."""
    host = page.locator(".bk-Checkbox", has=page.get_by_text(label, exact=True))
    collection = page.get_by_role("checkbox", name=label, exact=True)
    return host.locator("input[type=checkbox]").or_(collection).first


def muon_pixels(pixels: np.ndarray) -> int:
    """Pixels in the muons' magenta."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((r > 170) & (g < 120) & (b > 140) & (b - g > 80)).sum())


@pytest.fixture(scope="module")
def muon_event() -> str:
    """Number of a bundled event with two muons (found in the bundled file, not assumed)."""
    files = list_event_files([BUNDLED_DATA_DIR])
    for name in ("toy_events.json", *files):
        if name in files:
            file = read_event_file(files[name])
            for position in range(len(file)):
                if count_objects(file.event(position), "Muons") >= 2:
                    return f"{name}|{file.numbers[position]}"
    pytest.skip("no bundled event with two muons")


def test_health_and_widget_modules_are_served(app_url):
    with urllib.request.urlopen(f"{app_url}/health") as response:
        assert response.status == 200
        status = json.loads(response.read())
    assert status["status"] == "ok" and status["event_files"] >= 1
    url = f"{app_url}/widget-modules/jupyter-threejs@^2.4.1/package.json"
    with urllib.request.urlopen(url) as response:
        assert json.loads(response.read())["name"] == "jupyter-threejs"
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{app_url}/widget-modules/leftpad@1.0.0/dist/index")
    assert error.value.code == 404


def test_page_is_drawn_offline(app_url, page, screenshot_dir: Path):
    pixels = open_page(page, app_url)
    assert distinct_colours(pixels) > DRAWN_COLOURS
    page.screenshot(path=str(screenshot_dir / "event_display.png"))
    assert page.offsite_requests == []
    assert page.get_by_text("simulated toy event").count() >= 1


def test_next_changes_the_event_and_the_scene(app_url, page):
    before = open_page(page, app_url)
    number = shown_number(page)
    page.locator("button:has-text('Next')").first.click()
    wait_until(lambda: shown_number(page) != number)

    def redrawn():
        """the scene to change"""
        return np.abs(canvas_pixels(page) - before).sum(axis=-1).astype(bool).sum() > 500

    wait_until(redrawn)
    page.keyboard.press("ArrowLeft")
    wait_until(lambda: shown_number(page) == number)
    assert page.offsite_requests == []


def test_collection_toggle_hides_its_objects(app_url, page, muon_event, screenshot_dir: Path):
    name, number = muon_event.split("|")
    pixels = open_page(page, f"{app_url}/?file={name}&event={number}")
    assert shown_number(page) == number
    before = muon_pixels(pixels)
    assert before > 100, "the muons should be drawn in magenta"
    page.screenshot(path=str(screenshot_dir / "event_display_muons.png"))
    for label in ("Muons", "Muon tracks (combined)", "Muon tracks (extrapolated)"):
        checkbox(page, label).uncheck()
    wait_until(lambda: muon_pixels(canvas_pixels(page)) < before / 10)


def test_collection_cut_slider_hides_objects_below_it(app_url, page, muon_event):
    name, number = muon_event.split("|")
    before = muon_pixels(open_page(page, f"{app_url}/?file={name}&event={number}"))
    count = page.locator("[data-collection='Muons/AnalysisMuons'] [data-testid=collection-count]")
    total = count.inner_text().split("/")[1].strip()
    assert int(total) >= 2 and count.inner_text() == f"{total} / {total}"
    for label in ("Muon tracks (combined)", "Muon tracks (extrapolated)"):
        checkbox(page, label).uncheck()
    page.get_by_role("slider", name="Muons: pT cut (GeV)").fill("200")
    wait_until(lambda: count.inner_text() == f"0 / {total}")
    wait_until(lambda: muon_pixels(canvas_pixels(page)) < before / 10)


def test_detector_card_opens_with_a_toggle_per_part_that_acts(app_url, page):
    before = open_page(page, app_url)
    assert not checkbox(page, "Tile").is_visible()  # the card starts closed
    page.get_by_text("Detector", exact=True).first.click()
    checkbox(page, "Tile").wait_for(timeout=20_000)
    for group in ("Pixel", "SCT", "TRT", "LAr EM", "Tile"):
        assert checkbox(page, group).is_checked(), group
        checkbox(page, group).uncheck()

    def changed():
        """the detector parts to disappear"""
        return np.abs(canvas_pixels(page) - before).sum(axis=-1).astype(bool).sum() > 5000

    wait_until(changed)


def test_a_click_on_a_detector_part_name_toggles_it(app_url, page, screenshot_dir: Path):
    before = open_page(page, app_url)
    page.get_by_text("Detector", exact=True).first.click()
    names = page.locator("[data-detector] label span")
    names.filter(has_text="Toroids").first.wait_for(timeout=20_000)
    assert not checkbox(page, "Toroids").is_checked()
    for group in ("Toroids", "Muon barrel", "Muon end-cap"):
        names.get_by_text(group, exact=True).click()  # the name, not the box
        wait_until(lambda group=group: checkbox(page, group).is_checked())

    def muon_system_drawn():
        """the muon system to be drawn"""
        return np.abs(canvas_pixels(page) - before).sum(axis=-1).astype(bool).sum() > 20000

    wait_until(muon_system_drawn)
    page.wait_for_timeout(500)
    page.locator(SCENE).first.screenshot(path=str(screenshot_dir / "detector_muon_system.png"))
    names.get_by_text("Toroids", exact=True).click()
    wait_until(lambda: not checkbox(page, "Toroids").is_checked())


def test_preset_views_redraw_the_scene(app_url, page, screenshot_dir: Path):
    before = open_page(page, app_url)
    # friendly labels, with the real collection name beside them
    assert page.get_by_text("Tracks (inner detector)", exact=True).count() >= 1
    assert page.get_by_text("InDetTrackParticles", exact=True).count() >= 1
    for view, name in (("End-on (x-y)", "end_on"), ("Side (z-y)", "side")):
        page.locator(f"button:has-text('{view}')").first.click()

        def moved(previous: np.ndarray = before) -> bool:
            """the camera to move to the preset"""
            return np.abs(canvas_pixels(page) - previous).sum(axis=-1).astype(bool).sum() > 5000

        wait_until(moved)
        time.sleep(0.5)  # the last frame of the move
        page.locator(SCENE).first.screenshot(path=str(screenshot_dir / f"view_{name}.png"))
        before = canvas_pixels(page)


def test_screenshot_button_saves_a_png_of_the_scene(app_url, page, screenshot_dir: Path):
    open_page(page, app_url)
    with page.expect_download(timeout=20_000) as download_info:
        page.locator("button:has-text('Screenshot')").first.click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"-event-{shown_number(page)}.png")
    path = screenshot_dir / "scene_download.png"
    download.save_as(str(path))
    pixels = png_pixels(path.read_bytes())
    assert pixels.shape[0] > 100 and distinct_colours(pixels) > DRAWN_COLOURS


def test_download_event_gives_phoenix_json(app_url, page):
    """The download is the shown event, named after it, also after moving to another event."""
    open_page(page, app_url)
    first = shown_number(page)
    page.locator("button:has-text('Next')").first.click()
    wait_until(lambda: shown_number(page) != first)
    number = shown_number(page)
    with page.expect_download(timeout=20_000) as download_info:
        page.locator("button:has-text('Download event')").first.click()
    assert download_info.value.suggested_filename.endswith(f"-event-{number}.json")
    content = json.loads(Path(download_info.value.path()).read_text())
    assert len(content) == 1
    event = next(iter(content.values()))
    assert str(event["event number"]) == number


def test_unknown_file_in_url_is_refused_with_a_message(app_url, page):
    open_page(page, f"{app_url}/?file=../../etc/passwd&event=1")
    alert = page.get_by_text("no event file called '../../etc/passwd'")
    alert.first.wait_for(timeout=10_000)
    assert page.offsite_requests == []


def screen_points(points: np.ndarray, box: dict) -> np.ndarray:
    """Where points (N, 3) in mm appear on the canvas `box` in the default 3D view (N, 2)."""
    aspect = CANVAS_SIZE[0] / CANVAS_SIZE[1]
    x, y = screen_coordinates(points, *preset_view(DEFAULT_VIEW, aspect), aspect)
    return np.stack([(x + 1.0) / 2.0 * box["width"], (1.0 - y) / 2.0 * box["height"]], axis=1)


def clear_spot_on_a_track(event: dict, box: dict) -> tuple[tuple[float, float], str]:
    """The screen point of an inner-detector track farthest from any other drawn line; its pT.

    Lines cross and overlap on the screen (a muon's tracks and the muon itself follow the same
    path); where they meet, a click rightly picks whichever is nearest the camera.
    """
    layers = [layer for layer in build_scene(event).layers if len(layer.segments)]
    track_layer = next(n for n, layer in enumerate(layers) if layer.kind == "track")
    tracks = layers[track_layer]
    samples = [
        sample_segments(layer.segments, layer.segment_owner, PICK_STEP_MM) for layer in layers
    ]
    screen = [screen_points(points, box) for points, _ in samples]
    where = np.concatenate([np.full(len(owner), n) for n, (_, owner) in enumerate(samples)])
    owners = np.concatenate([owner for _, owner in samples])
    everything = np.concatenate(screen)
    candidates = screen[track_layer]
    candidate_owner = samples[track_layer][1]
    distances = np.linalg.norm(candidates[:, None] - everything[None], axis=-1)
    same = (where[None] == track_layer) & (owners[None] == candidate_owner[:, None])
    gaps = np.where(same, np.inf, distances).min(axis=1)
    best = int(np.argmax(gaps))
    x, y = candidates[best]
    return (float(x), float(y)), object_info(tracks, int(candidate_owner[best]))["pT"]


def click_a_track(page, event: dict) -> str:
    """Click a track where no other line is near; return the pT its info should show."""
    scene = page.locator(SCENE).first
    (x, y), pt = clear_spot_on_a_track(event, scene.bounding_box())
    scene.click(position={"x": x, "y": y})
    return pt


def test_clicking_a_track_shows_its_numbers_also_after_changing_event(app_url, page):
    """Picking keeps working when the next event is drawn into the same 3D objects."""
    open_page(page, app_url)
    file = read_event_file(list_event_files([BUNDLED_DATA_DIR])["toy_events.json"])
    by_number = {number: file.event(i) for i, number in enumerate(file.numbers)}
    info = page.locator("[data-testid=object-info]").first
    for step in range(3):
        if step:
            number, before = shown_number(page), canvas_pixels(page)
            page.locator("button:has-text('Next')").first.click()
            wait_until(lambda previous=number: shown_number(page) != previous)

            def redrawn(previous: np.ndarray = before) -> bool:
                """the new event's arrays to reach the canvas"""
                return np.abs(canvas_pixels(page) - previous).sum(axis=-1).astype(bool).sum() > 500

            wait_until(redrawn)
        # The pick and the new event's arrays travel separately: a click that lands before the
        # arrays are in place is answered by nothing, and a student clicks again.
        for _ in range(5):
            pt = click_a_track(page, by_number[shown_number(page)])

            def shown(pt: str = pt) -> bool:
                """the track's pT in the info panel"""
                return info.count() > 0 and pt in info.inner_text()

            if wait_until(shown, 3.0, fail=False):
                break
        else:
            pytest.fail(f"clicking a track ({pt}) never showed its numbers")
