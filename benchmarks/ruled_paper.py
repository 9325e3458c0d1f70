"""Scores predict.py on phone photos of digits on ruled or squared paper, boxed or circled.

Each digit (half from custom_images.py's stroke model, half MNIST *test* digits) is
photographed as custom_images.py does (tinted paper, uneven light, shadows, blur, noise,
JPEG), four times with the same camera: on plain paper; on paper printed with lines
(ruled, or squared for a third of them; 1 to 4 pixels thick at 600-1300 pixels, grey, blue
or dark, tilted up to 4 degrees, one to two digit-heights apart); inside a box drawn
around it with the same pen (from crossed by the digit to wide of it, tilted as the digit
is); and inside a ring drawn around it by hand with the same pen (an ellipse 15-60% larger
than the digit, wobbling, tilted, open or overlapping at its ends). The lined, boxed and
circled photos are read through predict.py's path with digit_image's line, box and ring
steps on, and again with them switched off, to measure what the steps buy.

Reads:  ../shared/mnist/t10k-*.gz and models/digit_cnn.keras
Writes: runs/ruled_paper/ (the photos, labels.csv) and reports/ruled_paper.json

    python -m benchmarks.ruled_paper            # seed 0, 200 digits
"""

import sys

import numpy as np
from PIL import Image, ImageDraw

import common
import digit_image
import model_files
from benchmarks import sets, synthetic

LINE_COLOURS = {"grey": (150, 150, 155), "blue": (110, 140, 200), "dark": (70, 70, 80)}


def main(argv=None):
    args = sets.photo_set_args("ruled_paper", __doc__, argv)
    x_test, y_test = sets.load_mnist_test(args.mnist_dir)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    rows = build_set(args.out, args.seed, args.count, x_test, y_test)

    def accuracy(kind, paper=None):
        chosen = [row for row in rows if paper in (None, row["paper"])]
        if not chosen:  # A small --count may draw no squared (or ruled) paper.
            return None
        records, _ = sets.read_in_process([args.out / row[kind] for row in chosen], classify)
        guesses = sets.digits_read(records)
        return sets.score(guesses, np.array([row["label"] for row in chosen]))

    results = {"set": str(args.out), "seed": args.seed, "pictures": len(rows)}
    results["plain_paper"] = accuracy("plain")
    for paper in ("ruled", "squared"):
        results[f"{paper}_lines_removed"] = accuracy("lined", paper)
    results["boxed_box_removed"] = accuracy("boxed")
    results["circled_ring_removed"] = accuracy("circled")
    # The steps, off, where the pipeline calls them: the ring step finds boxes too, when the
    # digit keeps clear of them.
    def no_lines(mask, faint):
        return np.zeros_like(mask)

    ink = digit_image.ink
    with sets.steps_off((ink, "ruled_lines", no_lines), (ink, "box_sides", no_lines),
                        (ink, "form_boxes", lambda mask, faint: None),
                        (digit_image, "without_rings", lambda marks, labels: marks)):
        for paper in ("ruled", "squared"):
            results[f"{paper}_lines_kept"] = accuracy("lined", paper)
        results["boxed_box_kept"] = accuracy("boxed")
        results["circled_ring_kept"] = accuracy("circled")
    sets.report(args.report, results)
    return common.EXIT_OK


def build_set(folder, seed, count, x_test, y_test):
    """Photographs count digits on plain and on lined paper; returns the rows of labels.csv."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        label = int(rng.integers(10))
        shape, _ = synthetic.digit_shape(label, index % 2 == 1, rng, x_test, y_test)
        size = (int(rng.integers(600, 1300)), int(rng.integers(600, 1300)))
        height = rng.uniform(0.2, 0.45) * min(size)
        ink = shape(height, (0.04, 0.1))
        paper = "squared" if rng.random() < 1 / 3 else "ruled"
        lines = ruled(size, height * rng.uniform(0.6, 1.2), paper == "squared", rng)
        printed = (lines, LINE_COLOURS[rng.choice(list(LINE_COLOURS))])
        colour = synthetic.INK_COLOURS[rng.choice(["black", "blue", "pencil"])]
        camera = int(rng.integers(2**32))  # The same camera, paper and light for both photos.
        row = {"label": label, "paper": paper}
        for kind, extra in (("plain", None), ("lined", printed)):
            picture = synthetic.photograph(ink, size, colour, np.random.default_rng(camera), printed=extra)
            row[kind] = f"{index:04d}_{kind}.jpg"
            picture.save(folder / row[kind], quality=int(rng.integers(60, 91)))
        # The box has its own random numbers, so the photos above stay as they were without it.
        box_rng = np.random.default_rng([seed, index])
        picture = synthetic.photograph(framed(ink, box_rng), size, colour, np.random.default_rng(camera))
        row["boxed"] = f"{index:04d}_boxed.jpg"
        picture.save(folder / row["boxed"], quality=int(box_rng.integers(60, 91)))
        ring_rng = np.random.default_rng([seed, index, 1])  # likewise for the ring
        picture = synthetic.photograph(circled(ink, ring_rng), size, colour, np.random.default_rng(camera))
        row["circled"] = f"{index:04d}_circled.jpg"
        picture.save(folder / row["circled"], quality=int(ring_rng.integers(60, 91)))
        rows.append(row)
    sets.write_csv(folder / "labels.csv", rows)
    return rows


def ruled(size, spacing, squared, rng):
    """Coverage (0..1) of lines ruled across a page of size, spacing pixels apart."""
    width, height = size
    image = Image.new("L", size, 0)
    pen = ImageDraw.Draw(image)
    thickness = int(rng.integers(1, 5))
    rise = np.tan(np.radians(rng.uniform(-4, 4)))
    offset = rng.uniform(0, spacing)
    for y in np.arange(offset - spacing, height + spacing, spacing):
        pen.line([(0, y), (width, y + width * rise)], fill=255, width=thickness)
    for x in np.arange(offset - spacing, width + spacing, spacing) if squared else []:
        pen.line([(x, 0), (x - height * rise, height)], fill=255, width=thickness)
    return np.asarray(image, np.float32) / 255


def framed(ink, rng):
    """ink with a box drawn around it by the same pen: 5% of the digit's height inside it
    (crossed by the digit) to 35% (above and below) or 60% (beside) clear of it."""
    height, width = ink.shape
    top, bottom = (rng.uniform(-0.05, 0.35, 2) * height).astype(int)
    left, right = (rng.uniform(-0.05, 0.6, 2) * height).astype(int)
    pad = max(top, bottom, left, right, 0) + 10
    box = Image.new("L", (width + 2 * pad, height + 2 * pad), 0)
    pen = rng.uniform(0.02, 0.08) * height
    ImageDraw.Draw(box).rectangle(
        [pad - left, pad - top, pad + width + right, pad + height + bottom],
        outline=255,
        width=max(1, int(pen)),
    )
    canvas = np.asarray(box, np.float32) / 255
    canvas[pad : pad + height, pad : pad + width] = np.maximum(
        canvas[pad : pad + height, pad : pad + width], ink
    )
    return canvas


def circled(ink, rng, larger=(1.15, 1.6)):
    """ink with a ring drawn around it by hand with the same pen: an ellipse 15-60% (larger)
    wider and taller than the digit, wobbling, tilted, its ends overlapping or leaving a gap
    of up to 8% of the way round."""
    height, width = ink.shape
    radii = np.array([width, height]) / 2 * rng.uniform(*larger, 2)
    pad = int(radii.max() - min(width, height) / 2) + 20
    canvas = Image.new("L", (width + 2 * pad, height + 2 * pad), 0)
    centre = np.array([pad + width / 2, pad + height / 2]) + rng.normal(0, 0.04, 2) * height
    start, sweep = rng.uniform(0, 2 * np.pi), 2 * np.pi * (1 + rng.uniform(-0.08, 0.12))
    angles = start + np.linspace(0, sweep, 200)
    wobble = 1 + 0.05 * np.sin(angles * rng.integers(2, 4) + rng.uniform(0, 2 * np.pi))
    tilt = np.radians(rng.uniform(-15, 15))
    x, y = radii[0] * np.cos(angles) * wobble, radii[1] * np.sin(angles) * wobble
    points = np.stack([x * np.cos(tilt) - y * np.sin(tilt), x * np.sin(tilt) + y * np.cos(tilt)], 1)
    pen = max(1, int(rng.uniform(0.02, 0.08) * height))
    ImageDraw.Draw(canvas).line([tuple(p) for p in points + centre], fill=255, width=pen,
                                joint="curve")
    canvas = np.asarray(canvas, np.float32) / 255
    canvas[pad : pad + height, pad : pad + width] = np.maximum(
        canvas[pad : pad + height, pad : pad + width], ink
    )
    return canvas


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
