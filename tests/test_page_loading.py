"""A tab opened before the page reports loaded still arrives.

The browser pulls the page's document, builds it, and only then reports it loaded (Bokeh's
`document_ready`): on a slow computer that takes seconds, and a student clicks a tab meanwhile.
Bokeh's own Python client pulls the document and never reports it loaded, so it holds that moment
open for as long as the test needs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from conftest import start_app, stop_app

from app.server import HISTOGRAM_TAB

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import classroom
from bokeh.client import pull_session


def histogram_tab_texts(url: str) -> list[str]:
    """Open the page without reporting it loaded, click Histograms; the tab's texts that came."""
    classroom.load_client_models()
    session = pull_session(url=f"{url}/")
    try:
        document = session.document
        tabs = classroom.find_model(document, lambda m: type(m).__name__ == "Tabs", "tabs")
        tabs.active = HISTOGRAM_TAB

        def texts() -> list[str]:
            tab = tabs.tabs[HISTOGRAM_TAB]
            return [str(getattr(model, "text", "")) for model in tab.references()]

        assert not any("histogram-table" in text for text in texts())  # built when first shown

        classroom.wait_for(
            session, lambda: any("histogram-table" in text for text in texts()), "tab"
        )
        return texts()
    finally:
        session.close()


def in_daemon_thread(work: Callable[[], list[str]], timeout: float) -> list[str] | None:
    """What `work` returns, run in a thread of its own; None when it does not end in time.

    The Bokeh client runs an event loop of its own, and one that failed on a change it could
    not read may never end: nothing waits for that thread, not even the end of the tests.
    """
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else None


def test_a_tab_clicked_before_the_page_reports_loaded_arrives():
    process, url = start_app()
    try:
        texts = in_daemon_thread(lambda: histogram_tab_texts(url), timeout=60)
    finally:
        stop_app(process)
    assert texts is not None, "the Histograms tab never arrived"
    assert any("histogram-table" in text for text in texts)
