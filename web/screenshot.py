"""Takes the README's screenshots of the page: a digit drawn on the pad, and its answer.

Reads:  the page and its answers from a running server (`make serve`, or --url)
Writes: docs/web_page.png (a desktop's window) and docs/web_page_phone.png (a phone's screen,
        the digit drawn with a finger)

Drives Debian's headless Chromium (apt-get install chromium chromium-driver) with Selenium;
tests/test_web_page.py drives it with the same functions.

    python serve.py &
    python web/screenshot.py
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the background-networking flags Chromium reaches out to Google's services at start,
# which a closed network refuses, and it waits; the others keep a run clean and offline.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PHONE = {"width": 390, "height": 844, "pixelRatio": 3, "touch": True}  # An iPhone 12-15's screen.
# A 7 and a 4 as strokes of points on the pad, as shares of its side.
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
FOUR = [[(0.55, 0.2), (0.3, 0.6), (0.72, 0.6)], [(0.6, 0.4), (0.6, 0.82)]]


def missing():
    """What is missing to drive Chromium here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            return f"{program} is missing (apt-get install chromium chromium-driver)"
    return None


def chromium(profile, phone=False):
    """A headless Chromium with a new empty profile in the folder profile: a 1000x800 window,
    or with phone, a phone's screen and touch."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    else:
        options.add_argument("--window-size=1000,800")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def draw(driver, strokes, pointer="mouse"):
    """Draws strokes on #pad with pointer events of a mouse, a pen or a finger ("touch"), a
    move every few pixels as a hand makes them."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By

    pad = driver.find_element(By.ID, "pad")
    side = pad.size["width"]
    actions = ActionBuilder(driver, mouse=PointerInput(pointer, pointer), duration=0)

    def to(x, y):  # Offsets are from the pad's centre.
        actions.pointer_action.move_to(pad, round((x - 0.5) * side), round((y - 0.5) * side))

    for points in strokes:
        to(*points[0])
        actions.pointer_action.pointer_down()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            steps = max(int(max(abs(x1 - x0), abs(y1 - y0)) * side / 8), 1)
            for step in range(1, steps + 1):
                to(x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps)
        actions.pointer_action.pointer_up()
    actions.perform()


def answer_after(driver, before, timeout=20):
    """The text of #answer once it is no longer before."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def changed(driver):
        text = driver.find_element(By.ID, "answer").text
        return text if text != before else False

    return WebDriverWait(driver, timeout).until(changed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000/", help="the page")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder of the PNGs")
    args = parser.parse_args(argv)
    if missing():
        raise SystemExit(f"screenshot.py: error: {missing()}")
    for name, phone, strokes in (("web_page.png", False, SEVEN), ("web_page_phone.png", True, FOUR)):
        with tempfile.TemporaryDirectory() as profile:
            driver = chromium(profile, phone)
            try:
                driver.get(args.url)
                draw(driver, strokes, "touch" if phone else "mouse")
                answer_after(driver, "")
                driver.save_screenshot(str(args.out / name))
            finally:
                driver.quit()
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    sys.exit(main())
