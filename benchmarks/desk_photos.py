"""Scores predict.py on phone photos where the sheet of paper does not fill the picture.

A photo of a digit on paper often shows the desk around the sheet: a band along one side,
a corner, or the sheet lying askew with the desk on every side. Each digit (half from
custom_images.py's stroke model, half MNIST *test* digits) is photographed as
custom_images.py does (tinted paper, uneven light, shadows, blur, noise, JPEG) twice with
the same camera: with the sheet filling the picture, and with the sheet lying on a desk
(dark or light wood, black, grey, white, or a blue or green cutting mat; lit, textured and
noisy like the paper) that shows along one to four sides. The sheet is tilted up to 8
degrees and covers 45-95% of the picture; the digit stays on it, at least 3% of the
picture's size from its edge. Each digit is also photographed on a sticky note (yellow,
white, pink or blue; a third to three fifths of the picture's shorter side, turned up to 20
degrees) lying on one of the same desks: a sheet that covers well under half the picture.

Reads:  ../shared/mnist/t10k-*.gz and models/digit_cnn.keras
Writes: runs/desk_photos/ (the photos, labels.csv) and reports/desk_photos.json

    python -m benchmarks.desk_photos            # seed 0, 200 digits
"""

import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import common
import model_files
from benchmarks import sets, synthetic

DESKS = {
    "dark wood": (95, 62, 40),
    "light wood": (190, 150, 105),
    "black": (30, 30, 33),
    "grey": (125, 125, 130),
    "white": (232, 232, 228),
    "blue mat": (40, 75, 125),
    "green mat": (45, 105, 75),
}
NOTES = {"yellow": (250, 235, 120), "white": (240, 238, 230), "pink": (245, 170, 200),
         "blue": (150, 200, 240)}


def main(argv=None):
    args = sets.photo_set_args("desk_photos", __doc__, argv)
    x_test, y_test = sets.load_mnist_test(args.mnist_dir)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    rows = build_set(args.out, args.seed, args.count, x_test, y_test)
    labels = np.array([row["label"] for row in rows])
    results = {"set": str(args.out), "seed": args.seed, "pictures": len(rows)}
    for kind in ("plain", "desk", "note"):
        records, _ = sets.read_with_pipeline([args.out / row[kind] for row in rows], classify)
        guesses = sets.digits_read(records)
        results[kind] = sets.score(guesses, labels)
        if kind == "note":
            results["note_by_desk"] = {
                desk: sets.score(guesses[chosen], labels[chosen])
                for desk in DESKS
                if (chosen := np.array([row["note_desk"] == desk for row in rows])).any()
            }
        if kind == "desk":
            results["desk_by_surface"] = {
                desk: sets.score(guesses[chosen], labels[chosen])
                for desk in DESKS
                if (chosen := np.array([row["surface"] == desk for row in rows])).any()
            }
            results["desk_errors"] = [
                {"file": row["desk"], "label": int(label), "read": int(guess),
                 "surface": row["surface"]}
                for row, label, guess in zip(rows, labels, guesses) if guess != label
            ]
    common.write_json(args.report, results)
    for key in ("plain", "desk", "note"):
        print(f"  {key:12} {results[key]}")
        by = {"desk": "desk_by_surface", "note": "note_by_desk"}.get(key)
        for desk, result in results.get(by, {}).items():
            print(f"    {desk:12} {result}")
    print(f"wrote {args.report}")
    return common.EXIT_OK


def build_set(folder, seed, count, x_test, y_test):
    """Photographs count digits on a sheet filling the picture and on a sheet lying on a
    desk; returns the rows of labels.csv."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, shapes = [], []
    for index in range(count):
        label = int(rng.integers(10))
        shape, _ = synthetic.digit_shape(label, index % 2 == 1, rng, x_test, y_test)
        shapes.append(shape)
        size = (int(rng.integers(600, 1300)), int(rng.integers(600, 1300)))
        ink = shape(rng.uniform(0.2, 0.45) * min(size), (0.04, 0.1))
        colour = synthetic.INK_COLOURS[rng.choice(["black", "blue", "pencil"])]
        camera = int(rng.integers(2**32))  # The same camera, paper and light for both photos.
        desk = str(rng.choice(list(DESKS)))
        photo, paper, sheet = on_desk(ink, size, colour, camera, DESKS[desk], rng)
        quality = int(rng.integers(60, 91))
        row = {"label": label, "surface": desk, "sheet": round(float(sheet.mean()), 3),
               "plain": f"{index:04d}_plain.jpg", "desk": f"{index:04d}_desk.jpg"}
        paper.save(folder / row["plain"], quality=quality)
        photo.save(folder / row["desk"], quality=quality)
        rows.append(row)
    # The notes come after every sheet, so that adding them left the sheets as they were.
    for index, (row, shape) in enumerate(zip(rows, shapes)):
        note = str(rng.choice(list(NOTES)))
        desk = str(rng.choice(list(DESKS)))
        row.update(note=f"{index:04d}_note.jpg", note_colour=note, note_desk=desk)
        on_a_note(shape, NOTES[note], DESKS[desk], rng).save(folder / row["note"], quality=85)
    sets.write_csv(folder / "labels.csv", rows)
    return rows


def on_a_note(shape, note, desk, rng):
    """A photo of a sticky note (a square a third to three fifths of the picture's shorter
    side, turned up to 20 degrees) with the digit on it, lying on a desk."""
    size = (int(rng.integers(800, 1300)), int(rng.integers(700, 1100)))
    side = int(rng.uniform(0.3, 0.6) * min(size))
    ink = shape(side * rng.uniform(0.5, 0.75), (0.05, 0.1))
    colour = synthetic.INK_COLOURS[str(rng.choice(["black", "blue"]))]
    paper = synthetic.photograph(ink, (side, side), colour, rng, paper=note, shadow=0)
    paper = paper.convert("RGBA").rotate(rng.uniform(-20, 20), Image.Resampling.BICUBIC, expand=True)
    photo = Image.fromarray(np.clip(desk_photo(size, desk, rng), 0, 255).astype(np.uint8))
    photo = photo.convert("RGBA")
    photo.alpha_composite(paper, (int(rng.integers(0, size[0] - paper.width)),
                                  int(rng.integers(0, size[1] - paper.height))))
    return photo.convert("RGB")


def on_desk(ink, size, colour, camera, desk, rng):
    """(The photo of a sheet lying on a desk of colour desk; the photo of the sheet alone,
    synthetic.photograph(ink, ...) with the random numbers seeded by camera; the
    sheet's coverage)."""
    paper = synthetic.photograph(ink, size, colour, np.random.default_rng(camera))
    # The same photo without the ink shows where the digit lies.
    blank = synthetic.photograph(np.zeros_like(ink), size, colour, np.random.default_rng(camera))
    difference = np.abs(np.asarray(paper, np.float32) - np.asarray(blank, np.float32))
    rows, columns = np.nonzero(difference.max(axis=2) > 40)
    sheet = sheet_mask(size, (columns.min(), rows.min(), columns.max(), rows.max()), rng)
    surface = desk_photo(size, desk, rng)
    photo = np.asarray(paper, np.float32) * sheet[..., None] + surface * (1 - sheet[..., None])
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)), paper, sheet


def sheet_mask(size, digit_box, rng):
    """Coverage (0..1, a softened edge) of a sheet of paper lying askew in a picture of size,
    with the desk showing along one to four sides and digit_box well inside the sheet."""
    width, height = size
    margin = 0.03 * max(size)
    left, top, right, bottom = digit_box
    # Room between the digit and each side of the picture (left, top, right, bottom).
    room = np.array([left, top, width - right, height - bottom]) - margin
    sides = np.flatnonzero(room > 0.04 * max(size))
    for _ in range(100):
        # Each side of the sheet is in the picture (the desk shows beyond it) or outside it.
        shown = np.zeros(4, bool)
        shown[sides] = rng.random(len(sides)) < 0.45
        if not shown.any():
            shown[rng.choice(sides)] = True
        edges = [
            rng.uniform(0, max(left - margin, 1)) if shown[0] else -0.1 * width,
            rng.uniform(0, max(top - margin, 1)) if shown[1] else -0.1 * height,
            width - rng.uniform(0, max(width - right - margin, 1)) if shown[2] else 1.1 * width,
            height - rng.uniform(0, max(height - bottom - margin, 1)) if shown[3] else 1.1 * height,
        ]
        x0, y0, x1, y1 = edges
        angle = np.radians(rng.uniform(-8, 8))
        centre = np.array([(left + right) / 2, (top + bottom) / 2])
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        corners = (np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) - centre) @ turn.T + centre
        image = Image.new("L", (2 * width, 2 * height), 0)  # Drawn at twice the size: a soft edge.
        ImageDraw.Draw(image).polygon([tuple(2 * c) for c in corners], fill=255)
        mask = np.asarray(image.resize(size, Image.Resampling.BOX), np.float32) / 255
        inner = mask[max(int(top - margin), 0) : int(bottom + margin),
                     max(int(left - margin), 0) : int(right + margin)]
        if 0.45 <= mask.mean() <= 0.95 and inner.size and inner.min() == 1:
            return mask
    raise RuntimeError("no sheet placement found")  # never seen: margins leave room


def desk_photo(size, colour, rng):
    """A desk as the phone sees it: grain along one direction, uneven light, noise, blur."""
    width, height = size
    grain = synthetic.smooth_noise((height, max(8, width // 40)), 16, rng)  # streaks along x
    grain = np.asarray(Image.fromarray(grain, "F").resize((width, height)))
    texture = 1 + 0.08 * grain + 0.04 * synthetic.smooth_noise((height, width), 6, rng)
    rows, columns = np.mgrid[0:height, 0:width] / max(width, height)
    direction = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0, 0.3) * (rows * np.sin(direction) + columns * np.cos(direction) + 1) / 2
    surface = np.asarray(colour, np.float32) * (texture * light)[..., None]
    surface += rng.normal(0, 4, surface.shape)
    blurred = Image.fromarray(np.clip(surface, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return np.asarray(blurred, np.float32)


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
