"""What an open page costs a student's computer while nobody touches it.

Opens each tab of the app in headless Chromium on the bundled samples, lets it settle, then
reads Chromium's own counters over a quiet interval: the page's main thread busy time per
second, its style recalculations and layouts, and the CPU of all of Chromium's processes
(compositor and GPU process included). A class leaves pages open for an hour; an idle
page should cost next to nothing (the upload box alone used to redraw every frame).

    python benchmarks/idle_page.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from classroom import free_port, start_server  # noqa: E402
from display import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PAGES = {"Event display": "/", "Histograms": "/?h_x=m_ll"}
SETTLE_MS = 8000  # past the page's first drawing and the upload box's lively start


def chromium_cpu_seconds() -> float:
    """CPU seconds used so far by every running Chromium process of this machine."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[0]
            if b"chrom" not in Path(command.decode(errors="replace")).name.encode():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def counters(cdp) -> dict[str, float]:
    """Chromium's performance counters of the page now."""
    return {item["name"]: item["value"] for item in cdp.send("Performance.getMetrics")["metrics"]}


def idle_cost(browser, url: str, seconds: float) -> dict[str, float]:
    """Busy fraction of the main thread, and style/layout passes per second, of an idle page."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url)
    page.wait_for_timeout(SETTLE_MS)
    before, cpu_before = counters(cdp), chromium_cpu_seconds()
    page.wait_for_timeout(seconds * 1000)
    after, cpu_after = counters(cdp), chromium_cpu_seconds()
    page.close()
    elapsed = after["Timestamp"] - before["Timestamp"]
    return {"browser": (cpu_after - cpu_before) / elapsed} | {
        name: (after[counter] - before[counter]) / elapsed
        for name, counter in (
            ("busy", "TaskDuration"),
            ("styles", "RecalcStyleCount"),
            ("layouts", "LayoutCount"),
        )
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the quiet interval")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port, num_procs=1)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print(f"idle page, {args.seconds:g} s after {SETTLE_MS / 1000:g} s to settle")
            for tab, path in PAGES.items():
                cost = idle_cost(browser, f"http://127.0.0.1:{port}{path}", args.seconds)
                print(
                    f"  {tab:14s} main thread busy {100 * cost['busy']:5.2f} %   "
                    f"style passes {cost['styles']:5.1f}/s   layouts {cost['layouts']:5.1f}/s   "
                    f"all of Chromium {100 * cost['browser']:5.1f} % of a core"
                )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
