"""Draws the example pictures in examples/: handwriting-like digits made here, not MNIST.

Each file's name starts with its true digit (or number). They use the stroke model and the
capture simulation of custom_images.py, with fixed choices so every kind of input predict.py
expects appears once: phone photos (JPEG) with pen, marker and pencil, uneven light and a
shadow, one stored sideways with an EXIF orientation tag; paint-app drawings on a transparent
canvas; white on black; a four-digit number for --multi; a sheet lying on a desk; a
digit circled by hand; two lines of numbers written small on a page, for --multi; and a
sticky note on a desk.

Writes: examples/*.jpg, examples/*.png (each under 50 KB)

    python -m benchmarks.custom_make_examples
"""

import argparse
import functools
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import common
from benchmarks import desk_photos, ruled_paper
from benchmarks.synthetic import (
    INK_COLOURS,
    one_above_another,
    photograph,
    place,
    save_picture,
    side_by_side,
    stroke_digit,
)

MAX_BYTES = 50_000


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("examples"), help="folder to write")
    parser.add_argument("--seed", type=int, default=7)
    common.add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    pictures = {
        "0_photo.jpg": lambda: photo(0, "black", (0.07, 0.1), rng),
        "1_marker.jpg": lambda: photo(1, "black", (0.14, 0.18), rng),
        "2_transparent.png": lambda: transparent(2, (20, 20, 20), (255, 255, 255), rng),
        "3_blue_pen.jpg": lambda: photo(3, "blue", (0.04, 0.06), rng),
        "4_shadow.jpg": lambda: photo(4, "black", (0.07, 0.1), rng, shadow=1),
        "5_red_pen.jpg": lambda: photo(5, "red", (0.06, 0.09), rng),
        "6_white_on_black.png": lambda: white_on_black(6, rng),
        "7_photo_sideways.jpg": lambda: photo(7, "black", (0.06, 0.09), rng),
        "8_transparent.png": lambda: transparent(8, (40, 80, 220), (0, 0, 0), rng),
        "9_pencil.jpg": lambda: photo(9, "pencil", (0.05, 0.08), rng),
        "2024.png": lambda: number("2024", rng),
        "3_on_a_desk.jpg": lambda: on_a_desk(3, rng),
        "5_circled.jpg": lambda: circled(5, rng),
        "1999_2024_lines.jpg": lambda: lines(["1999", "2024"], rng),
        "4_sticky_note.jpg": lambda: desk_photos.on_a_note(
            functools.partial(stroke_digit, 4, rng=rng), desk_photos.NOTES["yellow"],
            desk_photos.DESKS["dark wood"], rng),
    }
    for name, draw in pictures.items():
        path = args.out / name
        exif = 6 if "sideways" in name else None
        picture = draw()
        common.atomic_write(
            path,
            lambda tmp, picture=picture, exif=exif: save_picture(picture, Path(tmp), exif, rng),
        )
        size = path.stat().st_size
        print(f"wrote {path} ({size / 1000:.0f} KB)")
        if size > MAX_BYTES:
            raise common.UserError(f"{path} is {size} bytes, over the {MAX_BYTES} limit")
    return common.EXIT_OK


def photo(digit, ink, pen, rng, shadow=0.5):
    size = (int(rng.integers(420, 520)), int(rng.integers(420, 560)))
    # A 1 with a long flag is read as a 7 by a model of MNIST, where such 1s are rare: the
    # example shows the plain stroke most of MNIST's writers used.
    template = 0 if digit == 1 else None
    coverage = stroke_digit(digit, rng.uniform(0.4, 0.6) * min(size), pen, rng, template)
    return photograph(coverage, size, INK_COLOURS[ink], rng, shadow=shadow, blur=1.2)


def on_a_desk(digit, rng):
    """A phone photo of the digit on a sheet lying askew on a dark wooden desk."""
    size = (int(rng.integers(420, 520)), int(rng.integers(420, 560)))
    coverage = stroke_digit(digit, rng.uniform(0.3, 0.4) * min(size), (0.06, 0.09), rng)
    camera = int(rng.integers(2**32))
    return desk_photos.on_desk(coverage, size, INK_COLOURS["black"], camera,
                               desk_photos.DESKS["dark wood"], rng)[0]


def circled(digit, rng):
    """A phone photo of the digit with a ring drawn around it by hand, clear of the digit
    (a ring the digit touches is a known limit)."""
    size = (int(rng.integers(420, 520)), int(rng.integers(420, 560)))
    coverage = stroke_digit(digit, rng.uniform(0.3, 0.4) * min(size), (0.06, 0.09), rng)
    ring = ruled_paper.circled(coverage, rng, larger=(1.7, 1.8))
    return photograph(ring, size, INK_COLOURS["blue"], rng, blur=1.2)


def transparent(digit, ink, hidden, rng):
    """Ink on a transparent canvas whose invisible pixels hold the colour hidden."""
    size = int(rng.integers(260, 340))
    coverage = place(stroke_digit(digit, 0.75 * size, (0.08, 0.12), rng), (size, size), rng)
    rgb = np.where(coverage[..., None] > 0, ink, hidden)
    rgba = np.dstack([rgb, coverage * 255]).round().astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def white_on_black(digit, rng):
    coverage = place(stroke_digit(digit, 210, (0.09, 0.12), rng), (280, 280), rng)
    return Image.fromarray((coverage * 255).round().astype(np.uint8))


def lines(texts, rng):
    """Numbers one above another, written small on a page photographed whole: --multi
    reads them line by line, through a closer look at the region they fill."""
    height, gap = 70, 14
    rows = [
        side_by_side(
            [stroke_digit(int(d), height * rng.uniform(0.9, 1.05), (0.08, 0.1), rng) for d in text],
            [gap] * (len(text) - 1),
            rng,
        )
        for text in texts
    ]
    ink = one_above_another(rows, [gap] * (len(rows) - 1), [0] * len(rows))
    return photograph(ink, (960, 720), INK_COLOURS["black"], rng, shadow=0, noise=2.0)


def number(text, rng):
    """Digits side by side as on a form, in blue pen, on paper lit from one side."""
    height = 150
    digits = [
        stroke_digit(int(d), height * rng.uniform(0.9, 1.05), (0.07, 0.09), rng) for d in text
    ]
    gap, margin = 8, 50
    width = sum(d.shape[1] for d in digits) + gap * (len(digits) - 1) + 2 * margin
    coverage = np.zeros((max(d.shape[0] for d in digits) + 2 * margin, width), np.float32)
    left = margin
    for digit in digits:
        coverage[margin : margin + digit.shape[0], left : left + digit.shape[1]] = digit
        left += digit.shape[1] + gap
    light = np.linspace(1.0, 0.75, width)[None, :, None]
    paper, ink = np.float32([245, 240, 228]), np.float32(INK_COLOURS["blue"])
    rgb = light * (paper * (1 - coverage[..., None]) + ink * coverage[..., None])
    return Image.fromarray(rgb.round().astype(np.uint8))


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
