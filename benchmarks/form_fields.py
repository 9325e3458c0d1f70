"""Scores predict.py on phone photos of forms with a number written in their boxes.

Each form is laid out as a printer would: a title and its rule, a field's label, and one
box or a row of 2 to 7 boxes (one comb of cells, or boxes apart, 1.5-4% of their height
thick), a number of 1 to 6 digits written one a box from the first (half from the stroke
model, half MNIST *test* digits), the boxes after it left empty, a digit now and then
crossing its box's top, and sometimes a line of small print under the row. The writing is
as dark as the print, or paler (a lighter pen, pencil); the whole is photographed as
custom_images.py does (tinted paper, uneven light, shadows, blur, noise, JPEG). Each photo
is read as predict.py reads it (no flag), then with digit_image's form step
(form_boxes.py) off, to measure what it buys. A form is read right when its answer is its
number (one digit, for one box).

Reads:  ../shared/mnist/t10k-*.gz and models/digit_cnn.keras
Writes: runs/form_fields/ (the photos, labels.csv) and reports/form_fields.json

    python -m benchmarks.form_fields            # seed 0, 200 forms
"""

import sys
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import common
import digit_image
import model_files
from benchmarks import sets, synthetic

TITLES = ["Application", "Delivery note", "Attendance", "Lab record", "Membership",
          "Claim form", "Enrolment", "Visitor log"]
LABELS = ["Code:", "Room", "Qty", "Ref. no.", "Age:", "Seat", "PIN", "Date"]
SMALL_PRINT = ["Write one figure in each box", "For office use", "Block capitals please",
               "Keep inside the lines"]
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf"]


def main(argv=None):
    args = sets.photo_set_args("form_fields", __doc__, argv)
    x_test, y_test = sets.load_mnist_test(args.mnist_dir)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    rows = build_set(args.out, args.seed, args.count, x_test, y_test)

    def accuracy(chosen):
        if not chosen:  # A small --count may draw no single box.
            return None
        records, _ = sets.read_in_process([args.out / row["file"] for row in chosen], classify)
        answers = [record["number"] or ("" if record["digit"] is None else str(record["digit"]))
                   for record in records]
        return sets.score(np.array(answers), np.array([row["label"] for row in chosen]))

    def by_layout():
        return {layout: accuracy([row for row in rows if row["layout"] == layout])
                for layout in ("one box", "comb", "apart")}

    results = {"set": str(args.out), "seed": args.seed, "pictures": len(rows),
               "all": accuracy(rows), "by_layout": by_layout()}
    with sets.steps_off((digit_image.ink, "form_boxes", lambda mask, faint: None)):
        results["all_form_step_off"] = accuracy(rows)
        results["by_layout_form_step_off"] = by_layout()
    sets.report(args.report, results)
    return common.EXIT_OK


def build_set(folder, seed, count, x_test, y_test):
    """Photographs count forms; returns the rows of labels.csv."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    fonts = [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name) for name in FONTS]
    rows = []
    for index in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 7))))
        layout = "one box" if len(text) == 1 else str(rng.choice(["comb", "apart"]))
        ink = form(text, layout, rng, x_test, y_test, fonts)
        size = (int(rng.integers(700, 1400)), int(rng.integers(600, 1200)))
        # The form fills half the photo's width or more, as a person frames it.
        scale = min(rng.uniform(0.5, 0.9) * size[0] / ink.shape[1], 0.9 * size[1] / ink.shape[0])
        ink = np.asarray(Image.fromarray(ink).resize(
            (round(ink.shape[1] * scale), round(ink.shape[0] * scale)), Image.Resampling.BILINEAR))
        colour = synthetic.INK_COLOURS[rng.choice(["black", "blue", "pencil"])]
        picture = synthetic.photograph(ink, size, colour, rng)
        row = {"file": f"{index:04d}_form.jpg", "label": text, "layout": layout}
        picture.save(folder / row["file"], quality=int(rng.integers(60, 91)))
        rows.append(row)
    sets.write_csv(folder / "labels.csv", rows)
    return rows


def form(text, layout, rng, x_test, y_test, fonts):
    """Ink coverage (0..1) of a form with text written in its boxes, one digit a box."""
    cell = int(rng.integers(70, 120))  # a box's height, in pixels
    width = int(cell * rng.uniform(0.7, 1.05))
    gap = 0 if layout != "apart" else int(width * rng.uniform(0.1, 0.4))
    boxes = len(text) if layout == "one box" else len(text) + int(rng.choice([0, 0, 1, 2]))
    line = max(1, round(cell * rng.uniform(0.015, 0.04)))
    font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], int(cell * rng.uniform(0.25, 0.4)))
    label = str(rng.choice(LABELS))
    label_width = int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(label, font=font))
    left = int(cell * 0.3) + label_width + int(cell * 0.3)
    top = int(cell * 1.4)
    row_width = boxes * width + (boxes - 1) * gap
    canvas = Image.new("L", (left + row_width + int(cell * 0.6), top + int(cell * 2.2)), 0)
    pen = ImageDraw.Draw(canvas)
    # The print: title, its rule, the field's label, and perhaps a line of small print.
    pen.text((int(cell * 0.3), int(cell * 0.2)), str(rng.choice(TITLES)), fill=255, font=font)
    rule = int(cell * 0.75)
    pen.line([(int(cell * 0.3), rule), (canvas.width - int(cell * 0.3), rule)], fill=255,
             width=max(1, line // 2))
    pen.text((int(cell * 0.3), top + cell // 2), label, fill=255, font=font, anchor="lm")
    if rng.random() < 0.5:
        small = ImageFont.truetype(fonts[0], int(cell * 0.18))
        pen.text((int(cell * 0.3), top + int(cell * 1.4)), str(rng.choice(SMALL_PRINT)),
                 fill=255, font=small)
    for box in range(boxes):
        x = left + box * (width + gap)
        pen.rectangle((x, top, x + width, top + cell), outline=255, width=line)
    printed = np.asarray(canvas, np.float32) / 255
    # The writing: one digit a box, at its own height and place in it, perhaps paler.
    writing = np.zeros_like(printed)
    pressure = rng.uniform(0.55, 1.0)
    for box, digit in enumerate(text):
        shape, _ = synthetic.digit_shape(int(digit), rng.random() < 0.5, rng, x_test, y_test)
        ink = shape(cell * rng.uniform(0.55, 0.8), (0.04, 0.1))
        room = width - 2 * line
        if ink.shape[1] > room:  # a wide digit, squeezed into its box
            ink = np.asarray(Image.fromarray(ink).resize((room, ink.shape[0])), np.float32)
        x = left + box * (width + gap) + (width - ink.shape[1]) // 2
        x += int(rng.uniform(-0.1, 0.1) * max(0, room - ink.shape[1]))
        y = top + (cell - ink.shape[0]) // 2 + int(rng.uniform(-0.08, 0.08) * cell)
        if rng.random() < 0.15:  # over the box's top
            y = top - int(rng.uniform(0.02, 0.12) * cell)
        y = max(0, y)
        region = writing[y : y + ink.shape[0], x : x + ink.shape[1]]
        np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
    return np.maximum(printed, pressure * writing)


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
