"""Scores predict.py on pictures cropped close around their digit.

A user trims a photo to the digit, or an application cuts each digit out of a form by its
box: the picture is then mostly the digit, with little or no paper around it. This takes the
single-digit pictures of sets the other benchmarks built (custom_images.py, desk_photos.py
and ruled_paper.py: their pictures on plain paper; phone_photos.py), finds the digit in each
as predict.py does, crops the picture (as decoded, EXIF orientation applied, in its own mode)
to the digit's box widened on every side by each --margins fraction of the box, and reads
the crops. Pictures whose digit was found in another read than the whole picture at
digit_image.WORK_SIZE (a region read closer, or the whole picture read finer) are left out.

Reads:  the sets' folders (labels.csv and the pictures) and models/digit_cnn.keras
Writes: runs/close_crops/margin_<M>/ (the crops, labels.csv) and reports/close_crops.json

    python -m benchmarks.close_crops runs/custom_eval runs/desk_photos
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

import common
import digit_image
import model_files
from benchmarks import sets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", type=Path, help="set folders holding a labels.csv")
    parser.add_argument("--margins", type=float, nargs="+", default=[0, 0.03, 0.1, 0.3],
                        help="paper left around the digit's box, as a fraction of the box")
    parser.add_argument("--out", type=Path, default=Path("runs") / "close_crops")
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH)
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / "close_crops.json")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if not all(0 <= margin <= 1 for margin in args.margins):
        parser.error("--margins must be between 0 and 1")
    for folder in args.sets:
        if not (folder / "labels.csv").is_file():
            parser.error(f"{folder} holds no labels.csv: build it with its benchmark first")
        rows = sets.read_labels(folder / "labels.csv")
        if not rows or not {"file", "plain"} & set(rows[0]):
            parser.error(f"{folder}/labels.csv lists no pictures (as file or plain)")
        if not all((row.get("label") or "").isdigit() for row in rows):
            parser.error(f"{folder}/labels.csv has a label that is not a digit")
    classify = model_files.load_classifier(args.model)
    for folder in (args.out, args.report.parent):  # before any picture is cropped
        common.writable_folder(folder)

    # custom_images.py and phone_photos.py list each picture as "file"; desk_photos.py and
    # ruled_paper.py several pictures of each digit, the one on plain paper as "plain".
    pictures = [(folder / (row.get("file") or row["plain"]), int(row["label"]))
                for folder in args.sets for row in sets.read_labels(folder / "labels.csv")]
    boxes = [(path, label, box) for path, label in pictures if (box := digit_box(path))]
    results = {"sets": [str(folder) for folder in args.sets], "pictures": len(boxes),
               "left_out": len(pictures) - len(boxes), "by_margin": {}}
    for margin in args.margins:
        folder = args.out / f"margin_{margin:g}"
        folder.mkdir(parents=True, exist_ok=True)
        rows = [crop(path, label, box, margin, folder) for path, label, box in boxes]
        sets.write_csv(folder / "labels.csv", rows)
        records, _ = sets.read_with_pipeline([folder / row["file"] for row in rows], classify)
        guesses = sets.digits_read(records)
        labels = np.array([row["label"] for row in rows])
        results["by_margin"][f"{margin:g}"] = {
            **sets.score(guesses, labels), "unanswered": int((guesses == -1).sum()),
            "wrong": [{"file": row["file"], "label": row["label"], "read": record["digit"],
                       "error": record["error"]}
                      for row, record, guess in zip(rows, records, guesses)
                      if guess != row["label"]],
        }
    common.write_json(args.report, results)
    print(f"{len(boxes)} pictures cropped close ({len(pictures) - len(boxes)} left out: "
          "no digit found, or found in a closer or finer read)")
    for margin, score in results["by_margin"].items():
        print(f"  margin {float(margin):>4.0%}: {score['accuracy']:.1%} "
              f"({score['errors']} errors, {score['unanswered']} unanswered)")
    print(f"wrote {args.report}")
    return common.EXIT_OK


def digit_box(path):
    """(top, left, bottom, right) of the digit's marks as a fraction of the picture's height
    and width, or None when no digit is found in the picture read whole."""
    try:
        found = digit_image.find_digits(path)
    except digit_image.ImageError:
        return None
    if found.view != "whole":
        return None  # Found in a closer or finer read, whose shape is not this one's.
    top, left, bottom, right = digit_image.box_of(found.marks)
    height, width = found.labels.shape
    return top / height, left / width, bottom / height, right / width


def crop(path, label, box, margin, folder):
    """Writes the picture cropped to box widened by margin; returns its labels.csv row."""
    with Image.open(path) as opened:
        picture = ImageOps.exif_transpose(opened)
    if picture.mode in ("P", "CMYK"):  # PNG keeps every other mode (16-bit grey, alpha...)
        picture = picture.convert("RGBA" if picture.mode == "P" else "RGB")
    top, left, bottom, right = box
    extra_rows, extra_columns = margin * (bottom - top), margin * (right - left)
    # Rounded outwards: with no margin, the crop still holds the whole box.
    pixels = (max(0, math.floor((left - extra_columns) * picture.width)),
              max(0, math.floor((top - extra_rows) * picture.height)),
              min(picture.width, math.ceil((right + extra_columns) * picture.width)),
              min(picture.height, math.ceil((bottom + extra_rows) * picture.height)))
    name = f"{path.parent.name}_{path.stem}.png"
    picture.crop(pixels).save(folder / name)
    return {"file": name, "label": label}


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
