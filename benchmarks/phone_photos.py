"""Scores predict.py on full-size phone photos of digits written with a fine pen or a pencil.

A phone takes 12-megapixel photos (4032x3024). Photographed from a normal distance, a digit
written with a ballpoint or a pencil has strokes a few pixels wide in that photo: shrunk to
the 256 pixels a side at which digit_image works, they fade to a fraction of a pixel. Each
digit here is drawn by custom_images.py's stroke model (MNIST's own digits cannot be drawn
with a thin pen) at the size it would have in such a photo:

- the photo spans 12 to 30 cm of paper along its longer side, landscape or portrait (a third
  of them stored sideways with an EXIF orientation tag, as phones do);
- the digit is 1 to 4 cm tall, written with a ballpoint (0.3-0.6 mm, black or blue), a fine
  liner (0.2-0.4 mm, black) or a pencil (0.3-0.7 mm, dark or light grey), which makes
  strokes 2 to 23 pixels wide;
- then photographed as custom_images.py does (tinted, textured paper, uneven light, shadows,
  blur, noise, JPEG of quality 55-90).

The set is built once per seed and reused (a photo takes about 5 s to draw).

Reads:  models/digit_cnn.keras
Writes: runs/phone_photos/ (the photos, labels.csv) and reports/phone_photos.json

    python -m benchmarks.phone_photos                # seed 0, 100 photos
"""

import sys

import numpy as np

import common
import digit_image
import model_files
from benchmarks import sets, synthetic

SIZE = (4032, 3024)  # pixels of a 12-megapixel phone photo
PENS = {  # pen: (stroke width range in mm, ink colours)
    "ballpoint": ((0.3, 0.6), {"black": synthetic.INK_COLOURS["black"], "blue": synthetic.INK_COLOURS["blue"]}),
    "fine liner": ((0.2, 0.4), {"black": synthetic.INK_COLOURS["black"]}),
    "pencil": ((0.3, 0.7), {"dark": synthetic.INK_COLOURS["pencil"], "light": (150, 150, 155)}),
}


def main(argv=None):
    args = sets.photo_set_args("phone_photos", __doc__, argv, mnist=False, count=100)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    if sets.is_built(args.out, args.seed, {"labels.csv": args.count}):
        rows = sets.read_labels(args.out / "labels.csv")
    else:
        rows = build_set(args.out, args.seed, args.count)
    labels = np.array([int(row["label"]) for row in rows])
    records, seconds = sets.read_with_pipeline([args.out / row["file"] for row in rows], classify)
    guesses = sets.digits_read(records)
    # The stroke's width in the picture digit_image first looks at (WORK_SIZE a side).
    widths = np.array([float(row["pen_pixels"]) * digit_image.WORK_SIZE / max(SIZE)
                       for row in rows])
    bands = {"under 0.5": widths < 0.5, "0.5 to 1": (widths >= 0.5) & (widths < 1),
             "1 or more": widths >= 1}
    results = {
        "set": str(args.out), "seed": args.seed, "pictures": len(rows),
        "accuracy": sets.score(guesses, labels),
        "by_pen": {pen: sets.score(guesses[chosen], labels[chosen])
                   for pen in PENS if (chosen := np.array([r["pen"] == pen for r in rows])).any()},
        "by_stroke_at_work_size": {band: sets.score(guesses[chosen], labels[chosen])
                                   for band, chosen in bands.items() if chosen.any()},
        "unanswered": int((guesses == -1).sum()),
        "seconds_per_photo": round(seconds / len(rows), 3),
        "errors": [{"file": row["file"], "label": int(label), "read": int(guess),
                    "pen": row["pen"], "ink": row["ink"], "pen_pixels": row["pen_pixels"]}
                   for row, label, guess in zip(rows, labels, guesses) if guess != label],
    }
    common.write_json(args.report, results)
    print(f"{len(rows)} photos ({args.out}, seed {args.seed}): {results['accuracy']}, "
          f"{results['unanswered']} unanswered, {results['seconds_per_photo']} s a photo")
    for key in ("by_pen", "by_stroke_at_work_size"):
        for name, score in results[key].items():
            print(f"  {name:12} {score}")
    print(f"wrote {args.report}")
    return common.EXIT_OK


def build_set(folder, seed, count):
    """Photographs count digits; returns the rows of labels.csv."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        label = int(rng.integers(10))
        size = SIZE if rng.random() < 0.5 else SIZE[::-1]
        pixels_per_mm = max(size) / (10 * rng.uniform(12, 30))
        pen = str(rng.choice(list(PENS)))
        (thinnest, widest), inks = PENS[pen]
        ink = str(rng.choice(list(inks)))
        height = min(10 * rng.uniform(1, 4) * pixels_per_mm, 0.6 * min(size))
        pen_pixels = rng.uniform(thinnest, widest) * pixels_per_mm
        shape = synthetic.stroke_digit(label, height, (pen_pixels / height,) * 2, rng)
        picture = synthetic.photograph(shape, size, inks[ink], rng)
        exif = int(rng.choice([6, 8])) if rng.random() < 1 / 3 else None
        row = {"file": f"{index:03d}_{pen.replace(' ', '_')}.jpg", "label": label, "pen": pen,
               "ink": ink, "pen_pixels": round(pen_pixels, 1), "digit_pixels": round(height),
               "seed": seed}
        synthetic.save_picture(picture, folder / row["file"], exif, rng)
        rows.append(row)
    sets.write_csv(folder / "labels.csv", rows)
    return rows


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
