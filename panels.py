"""predict.py --show: a figure of what the model saw, one row per picture.

Each row holds the picture as its user sees it, the 28x28 images the answer rests on, and
the probabilities of the ten digits (or the number read, or why there is no answer).
matplotlib is imported only when a panel is drawn: predict.py without --show never pays it.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

import common
import digit_image

LIMIT = 40  # Pictures drawn; a taller figure is unreadable.
SUFFIXES = (".png", ".pdf", ".svg")
# What a panel may replace: only a panel of its own (safe_outputs.output_kind), never a picture.
KIND = "figure!:predict.py --show"


def draw(shown, path):
    """Writes the rows of (record, 28x28 images) in shown to path, and says so on stderr."""
    if not shown:
        print("--show: no pictures to draw", file=sys.stderr)
        return
    import logging

    # Where it cannot write its cache (no writable home), matplotlib says so on stderr.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg")  # Files only; no window is opened.
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(
        len(shown),
        3,
        figsize=(9, 2.2 * len(shown)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 1, 1.6]},
    )
    for (record, images), row in zip(shown, axes):
        draw_row(record, images, *row)
    with warnings.catch_warnings():  # A long number's text may not fit its panel.
        warnings.simplefilter("ignore", UserWarning)
        figure.tight_layout()
    try:
        kind, write = common.figure_writer(KIND, figure, dpi=80)
        common.atomic_write(path, write, kind)
    finally:
        plt.close(figure)
    print(f"wrote {path}", file=sys.stderr)


def draw_row(record, images, picture_axis, seen_axis, bars_axis):
    """One picture's row: the picture, what the model saw, and the answer."""
    name = Path(record["path"]).name
    picture_axis.set_title(name if len(name) <= 30 else name[:27] + "...", fontsize=9,
                           parse_math=False)  # "$12_$7.png" is a name, not a formula
    thumbnail = read_thumbnail(record["path"])
    if thumbnail is not None:
        picture_axis.imshow(thumbnail, cmap="gray")
    for axis in (picture_axis, seen_axis):
        axis.set_axis_off()
    if not images:  # not read, or no ink: only the reason
        reason = record["error"] or record["no_digit"]
        seen_axis.text(0, 0.5, reason, fontsize=8, wrap=True, parse_math=False,
                       color="tab:red" if record["error"] else "black")
        bars_axis.set_axis_off()
        return
    seen_axis.imshow(np.hstack(images), cmap="gray", vmin=0, vmax=255)
    seen_axis.set_title("what the model saw", fontsize=9)
    if record["number"] is not None:
        confidences = ", ".join(f"{d['confidence']:.0%}" for d in record["digits"])
        bars_axis.text(0, 0.5, f"{record['number']}\n({confidences})", fontsize=12)
        bars_axis.set_axis_off()
        return
    best = int(np.argmax(record["probabilities"]))
    colours = ["tab:blue"] * 10
    colours[best] = "tab:green" if record["digit"] is not None else "tab:gray"
    bars_axis.bar(range(10), record["probabilities"], color=colours)
    bars_axis.set_xticks(range(10))
    bars_axis.set_ylim(0, 1)
    title = (f"{record['digit']}: {record['confidence']:.1%}" if record["digit"] is not None
             else f"no digit (best guess {best}: {record['probabilities'][best]:.0%})")
    bars_axis.set_title(title, fontsize=10)


def read_thumbnail(path):
    """The picture as its user sees it, small; None when it cannot be read."""
    try:
        return digit_image.thumbnail(path, 160)
    except (digit_image.ImageError, MemoryError):
        return None  # The row shows the error message instead.
