"""Takes the README's screenshot of the page: a number drawn on the pad, and its answer.

Reads:  the model (by default the one predict.py answers with), which serve.py serves for
        the time of the screenshot on a free port of the loopback
Writes: docs/images/page.png

Drives Debian's headless Chromium (apt-get install chromium chromium-driver) with Selenium;
tests/test_serve.py drives the page with the same functions.

    python web/screenshot.py
"""

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import common  # (the project root is only on the path from here on)
import model_files
import safe_outputs
import serve

PURPOSE = "web/screenshot.py"  # The mark that lets a later run replace its own screenshot.

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the background-networking flags Chromium reaches out to Google's services at start,
# which a closed network refuses, and it waits; the others keep a run clean and offline.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PHONE = {"width": 390, "height": 844, "pixelRatio": 3, "touch": True}  # An iPhone 12-15's screen.
# Digits as strokes of points on the pad, as shares of its side.
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
FOUR = [[(0.55, 0.2), (0.3, 0.6), (0.72, 0.6)], [(0.6, 0.82), (0.6, 0.4)]]  # Stem drawn upwards.


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


@contextlib.contextmanager
def chromium(phone=False):
    """A headless Chromium with a new empty profile: a 1000x760 window, or with phone, a
    phone's screen and touch."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        if phone:
            options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
        else:
            options.add_argument("--window-size=1000,760")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def beside(*digits):
    """The strokes of digits drawn side by side on the pad, each squeezed into its share."""
    share = 1 / len(digits)
    return [[(share * (index + x), y) for x, y in stroke]
            for index, strokes in enumerate(digits) for stroke in strokes]


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
    common.add_model_flag(parser)
    parser.add_argument("--out", type=Path, default=Path("docs/images/page.png"))
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        raise common.UserError(reason)
    model = model_files.named_or_default(args)
    model_files.check_model_path(model)
    common.writable_folder(args.out.parent)
    with tempfile.TemporaryDirectory() as scratch, \
            serve.spawned(model, Path(scratch) / "server.log") as (_, url), \
            chromium() as driver:
        driver.get(url + "/")
        draw(driver, beside(FOUR, SEVEN))
        print(f"answer: {answer_after(driver, '')!r}")
        png = driver.get_screenshot_as_png()
    info = PngImagePlugin.PngInfo()
    for key, value in safe_outputs.figure_metadata(PURPOSE).items():
        info.add_text(key, value)
    image = Image.open(io.BytesIO(png))
    common.atomic_write(args.out, lambda tmp: image.save(tmp, pnginfo=info, optimize=True),
                        f"figure!:{PURPOSE}")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1000} kB)")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
