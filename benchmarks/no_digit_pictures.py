"""Scores how often predict.py refuses a picture that holds no digit, and says why.

Builds (once per seed) pictures of things people photograph or draw that are not digits, in
the capture styles of custom_images.py (phone photo, scan, marker, transparent canvas, paint
app, white on black or chalk), and reads them through predict.py's own path:
  letter  a letter a person would not read as a digit, set in one of HELD_OUT_FONTS: fonts
          the model never saw in training (it learns from not_a_digit.FONTS), bent, slanted
          and inked like a pen
  word    two to four such letters side by side
  symbol  a symbol (+ = ? @ # % & * $ ...), in the same fonts
  shape   a shape drawn with a pen: star, arrow, tick, cross, heart, spiral, scribble...
  blot    ink blots and smudges, or coffee stains
  blank   blank paper: its texture, uneven light and often a shadow, and nothing on it
A picture counts as refused when predict.py answers it with no digit and no number.

Reads:  the model (models/digit_cnn.keras by default)
Writes: OUT/ (pictures, labels.csv) and reports/no_digit_pictures.json (refused per kind, every
        picture answered with a digit, and what it was answered with)

    python -m benchmarks.no_digit_pictures                 # development set, seed 0
    python -m benchmarks.no_digit_pictures --seed 1 --out runs/no_digit_pictures_heldout \\
        --report reports/no_digit_pictures_heldout.json   # held out
"""

import collections
import sys
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import common
import model_files
import not_a_digit
from benchmarks import sets, synthetic

KINDS = {"letter": 0.3, "word": 0.1, "symbol": 0.15, "shape": 0.25, "blot": 0.1, "blank": 0.1}
HELD_OUT_FONTS = ["cmr10.ttf", "cmmi10.ttf", "cmti10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf"]
STAIN = (150, 110, 70)  # Coffee: a stain is light brown, not ink.


def parse_args(argv):
    return sets.photo_set_args("no_digit_pictures", __doc__, argv, mnist=False, count=300)


def main(argv=None):
    args = parse_args(argv)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    if not sets.is_built(args.out, args.seed, {"labels.csv": args.count}):
        print(f"building {args.count} pictures in {args.out} (seed {args.seed})")
        build_set(args.out, args.seed, args.count)
    rows = sets.read_labels(args.out / "labels.csv")
    records, _ = sets.read_with_pipeline([args.out / row["file"] for row in rows], classify)
    refused = collections.Counter()
    answered = []
    for row, record in zip(rows, records):
        if record["digit"] is None and record.get("number") is None:
            refused[row["kind"]] += 1
        else:
            answered.append({"file": row["file"], "kind": row["kind"], "what": row["what"],
                             "answer": record.get("number") or record["digit"],
                             "confidence": record["confidence"]})
    kinds = collections.Counter(row["kind"] for row in rows)
    results = {
        "set": str(args.out), "seed": args.seed, "pictures": len(rows), "model": str(args.model),
        "refused": round(sum(refused.values()) / len(rows), 4),
        "refused_by_kind": {kind: {"refused": refused[kind], "of": count}
                            for kind, count in sorted(kinds.items())},
        "reasons": dict(collections.Counter(
            record["error"].split(" (")[0] for record in records if record["error"])),
        "answered_with_a_digit": answered,
    }
    common.write_json(args.report, results)
    print(f"{len(rows)} pictures with no digit ({args.out}, seed {args.seed}): "
          f"{results['refused']:.1%} refused")
    for kind, outcome in results["refused_by_kind"].items():
        print(f"  {kind:<7} {outcome['refused']:4} of {outcome['of']}")
    print(f"wrote {args.report}")
    return common.EXIT_OK


def build_set(folder, seed, count):
    """Draws the pictures; writes them and labels.csv (file, kind, what, style, seed)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    fonts = [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name) for name in HELD_OUT_FONTS]
    rows = []
    for index in range(count):
        kind = str(rng.choice(list(KINDS), p=list(KINDS.values())))
        style = str(rng.choice(list(synthetic.STYLES), p=list(synthetic.STYLES.values())))
        if kind == "blank":
            style = "photo"
            size = (int(rng.integers(600, 1300)), int(rng.integers(600, 1300)))
            picture = synthetic.photograph(np.zeros((8, 8), np.float32), size, (0, 0, 0), rng, shadow=0.8)
            what, suffix, exif = "paper", ".jpg", None
        elif kind == "blot" and rng.random() < 0.4:
            style = "photo"
            size = (int(rng.integers(600, 1300)), int(rng.integers(600, 1300)))
            stains = not_a_digit.draw_one("blot", rng, fonts)
            picture = synthetic.photograph(stains, size, STAIN, rng)
            what, suffix, exif = "stain", ".jpg", None
        else:
            what, shape = _shape(kind, rng, fonts)
            picture, suffix, exif, _ = synthetic.draw_picture(style, shape, rng)
        name = synthetic.save_picture(picture, folder / f"{index:04d}_{kind}_{style}{suffix}",
                                      exif, rng).name
        rows.append({"file": name, "kind": kind, "what": what, "style": style, "seed": seed})
    sets.write_csv(folder / "labels.csv", rows)
    return rows


def _shape(kind, rng, fonts):
    """(what it is, a function (height, pen) -> ink) for synthetic.draw_picture."""
    if kind in ("letter", "word", "symbol"):
        pool = not_a_digit.LETTERS if kind != "symbol" else not_a_digit.SYMBOLS
        length = int(rng.integers(2, 5)) if kind == "word" else 1
        font = fonts[int(rng.integers(len(fonts)))]
        text = "".join(str(rng.choice(pool)) for _ in range(length))
        while not not_a_digit.drawable(text, ImageFont.truetype(font, 40)):
            text = "".join(str(rng.choice(pool)) for _ in range(length))
        return text, lambda height, pen: _typeset(text, font, height, rng)
    if kind == "shape":
        shape = str(rng.choice(not_a_digit.SHAPES))
        return shape, lambda height, pen: _drawn(shape, height, pen, rng)
    return "blot", lambda height, pen: _fitted(not_a_digit.draw_one("blot", rng, fonts), height)


def _typeset(text, font, height, rng):
    """text set in font, its letters about height pixels tall, bent and slanted by hand."""
    size = max(8, int(height))
    typeface = ImageFont.truetype(font, size)
    left, top, right, bottom = typeface.getbbox(text)
    picture = Image.new("L", (right - left + 2 * size // 4, bottom - top + 2 * size // 4), 0)
    ImageDraw.Draw(picture).text((size // 4 - left, size // 4 - top), text, fill=255, font=typeface)
    return _slanted(np.asarray(picture, np.float32) / 255, rng)


def _drawn(shape, height, pen, rng):
    """A shape drawn with a pen pen[0]..pen[1] of its height wide, about height tall."""
    size = int(height * 1.3)
    picture = Image.new("L", (size, size), 0)
    width = max(1, int(rng.uniform(*pen) * height))
    draw = ImageDraw.Draw(picture)
    for stroke in not_a_digit.shape_strokes(shape, rng):
        points = np.asarray(stroke, float) * height + size / 2
        points += rng.normal(0, 0.01 * height, points.shape)
        draw.line([tuple(point) for point in points], fill=255, width=width, joint="curve")
    return np.asarray(picture, np.float32) / 255


def _fitted(ink, height):
    """ink (a not_a_digit canvas) scaled so that the canvas is about height pixels tall."""
    size = max(8, int(height * 1.3))
    return cv2.resize(ink, (size, size), interpolation=cv2.INTER_AREA)


def _slanted(ink, rng):
    slant = np.tan(np.radians(rng.uniform(-15, 15)))
    height, width = ink.shape
    matrix = np.float32([[1, slant, -slant * height / 2 + abs(slant) * height / 2], [0, 1, 0]])
    return cv2.warpAffine(ink, matrix, (width + int(abs(slant) * height), height))


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
