"""Scores predict.py's picture pipeline on realistic pictures of handwritten digits.

Builds (once per seed) a set of pictures with known labels, then reads them with the model
twice: through digit_image.normalize(), as predict.py does, and through the naive pipeline
"convert to grey, resize to 28x28, invert". Also reports the speed of predict.py's path.

How the set is made (everything drawn from numpy's generator seeded by --seed, by
synthetic.py, which the other picture benchmarks draw with too):
- Shapes. Half of the digits are drawn by a stroke model: each digit has two or three
  templates of pen strokes (control points of Catmull-Rom curves in a unit box); each copy
  jitters the points, scales the width, slants and rotates the whole, and draws every stroke
  with a round pen whose width varies along it. The other half are digits of the MNIST *test*
  split (never used in training), cropped, enlarged with bicubic interpolation and cut at a
  random grey level, which makes their strokes thinner or thicker.
- Capture. Each picture takes one of six styles, in proportions given by STYLES:
  photo   phone photo: tinted, textured paper; uneven lighting and often a soft shadow;
          black, blue, red, green or pencil ink; off-centre, rotated, blurred, sensor noise;
          JPEG of quality 55-90; a third are stored sideways with an EXIF orientation tag
  scan    white paper, thin pen, 1200-2000 pixels; 8- or 16-bit PNG, TIFF or JPEG
  marker  a photo of thick marker strokes
  canvas  paint-app drawing on a transparent canvas: any ink colour (white too), the
          transparent pixels holding black, white, the ink colour or noise; PNG, WebP or GIF
  paint   paint-app drawing on white, thick brush; PNG, BMP, GIF or WebP
  dark    white-on-black canvas (PNG) or chalk on a blackboard photo (JPEG)
  Each digit also gets a clean rendering: its ink alone fitted into 28x28 by
  digit_image.to_mnist(), which measures how readable the shape itself is.
- Numbers. --numbers more pictures hold 2 to 5 digits side by side (either source, heights
  varying by 25%, each nudged up or down, gaps from slightly overlapping boxes, so some
  digits touch, to wide) in the photo, scan, canvas, paint or dark style; they are read
  with --multi and count as right only when every digit is. --lines more pictures hold 2 or
  3 such numbers one above another (gaps between the lines from a twentieth to half a
  digit's height plus the nudges, each line indented by up to half a digit), read as
  "2024 1999".
- Speed and a sanity check. The first --throughput-count MNIST test digits are written as
  28x28 PNG files: the pipeline must leave MNIST's own form alone (same accuracy as the
  model on the arrays), and reading them times predict.py's path on small files.

Reads:  ../shared/mnist/t10k-*.gz (the MNIST test split) and models/digit_cnn.keras
Writes: OUT/ (pictures, labels.csv, numbers.csv, lines.csv, clean.npz), OUT/throughput/ (the
        PNG files) and reports/custom_images.json (accuracies, by style, every error, speed)

    python -m benchmarks.custom_images                       # development set, seed 0
    python -m benchmarks.custom_images --seed 1 --out runs/custom_eval_heldout \\
        --report reports/custom_images_heldout.json          # held out, run once at the end
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import common
import digit_image
import model_files
from benchmarks import sets, synthetic


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("runs/custom_eval"), help="set folder")
    parser.add_argument("--seed", type=int, default=0,
                        help="0 for development; 1 and 2 were held out")
    parser.add_argument("--count", type=int, default=400, help="pictures of one digit")
    parser.add_argument("--numbers", type=int, default=60, help="pictures of 2-5 digits")
    parser.add_argument("--lines", type=int, default=40, help="pictures of 2-3 lines of them")
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH)
    parser.add_argument("--mnist-dir", type=Path, default=sets.MNIST_DIR, help="MNIST .gz files")
    parser.add_argument("--throughput-count", type=int, default=2000, help="28x28 PNG files")
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / "custom_images.json")
    parser.add_argument("--force", action="store_true", help="rebuild the set even if present")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if min(args.count, args.numbers, args.lines, args.throughput_count) < 1:
        parser.error("--count, --numbers, --lines and --throughput-count must be at least 1")
    if args.seed < 0:
        parser.error("--seed must be at least 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    x_test, y_test = sets.load_mnist_test(args.mnist_dir)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    counts = {"labels.csv": args.count, "numbers.csv": args.numbers, "lines.csv": args.lines}
    built = sets.is_built(args.out, args.seed, counts) and (args.out / "clean.npz").is_file()
    if args.force or not built:
        print(f"building {sum(counts.values())} pictures in {args.out} (seed {args.seed})")
        build_set(args.out, args.seed, args.count, args.numbers, args.lines, x_test, y_test)
    throughput_dir = args.out / "throughput"
    if not (throughput_dir / "labels.csv").is_file():
        sets.write_mnist_pngs(throughput_dir, x_test[: args.throughput_count], y_test)

    classify(np.zeros((1, 28, 28), np.uint8))  # The first call builds the graph: not timed.

    rows = sets.read_labels(args.out / "labels.csv")
    paths = [args.out / row["file"] for row in rows]
    labels = np.array([int(row["label"]) for row in rows])
    records, seconds = sets.read_with_pipeline(paths, classify)
    pipeline = sets.digits_read(records)
    naive = classify(np.stack([naive_pipeline(p) for p in paths])).argmax(axis=1)
    with np.load(args.out / "clean.npz") as clean:
        shapes = classify(clean["images"]).argmax(axis=1)

    mnist_rows = sets.read_labels(throughput_dir / "labels.csv")
    mnist_paths = [throughput_dir / row["file"] for row in mnist_rows]
    mnist_labels = np.array([int(row["label"]) for row in mnist_rows])
    mnist_records, mnist_seconds = sets.read_with_pipeline(mnist_paths, classify)
    mnist_predictions = sets.digits_read(mnist_records)
    mnist_direct = classify(x_test[: len(mnist_paths)]).argmax(axis=1)

    results = {
        "set": str(args.out),
        "seed": args.seed,
        "pictures": len(paths),
        "model": str(args.model),
        "pipeline": sets.score(pipeline, labels),
        "naive": sets.score(naive, labels),
        "clean_shapes": sets.score(shapes, labels),
        "error_ratio_naive_over_pipeline": round(
            int((naive != labels).sum()) / max(int((pipeline != labels).sum()), 1), 2
        ),
        "pipeline_by_style": by_style(pipeline, labels, rows),
        "naive_by_style": by_style(naive, labels, rows),
        "unreadable": [
            {"file": Path(r["path"]).name, "error": r["error"]} for r in records if r["error"]
        ],
        "pipeline_errors": [
            {"file": row["file"], "label": int(label), "predicted": int(guess)}
            for row, label, guess in zip(rows, labels, pipeline)
            if guess != label
        ],
        "numbers": read_numbers(args.out / "numbers.csv", classify),
        "numbers_multi": read_numbers(args.out / "numbers.csv", classify, multi=True),
        "lines": read_numbers(args.out / "lines.csv", classify),
        "mnist_test_pngs": {
            "files": len(mnist_paths),
            "pipeline": sets.score(mnist_predictions, mnist_labels),
            "model_on_the_arrays": sets.score(mnist_direct, mnist_labels),
        },
        "speed": {
            "machine": "2-core CPU",
            "custom_pictures_per_second": round(len(paths) / seconds, 1),
            "mnist_png_files_per_second": round(len(mnist_paths) / mnist_seconds, 1),
            "note": "reading, normalizing and classifying in batches of 256; no start-up",
        },
    }
    common.write_json(args.report, results)
    print_summary(results)
    print(f"wrote {args.report}")
    return common.EXIT_OK


def read_numbers(labels_csv, classify, multi=False):
    """Reads the pictures a labels file lists as predict.py does (with --multi: as numbers,
    whatever they look like): how many read right, and which not."""
    rows = sets.read_labels(labels_csv)
    records, _ = sets.read_with_pipeline([labels_csv.parent / row["file"] for row in rows],
                                         classify, *(["--multi"] if multi else []))
    wrong = [
        {"file": row["file"], "label": row["label"], "read": record["number"]}
        for row, record in zip(rows, records)
        if record["number"] != row["label"]
    ]
    return {"pictures": len(rows), "accuracy": round(1 - len(wrong) / len(rows), 4), "wrong": wrong}


def naive_pipeline(path):
    """What a first attempt does: grey, squeeze to 28x28, invert (assumes dark ink on white)."""
    with Image.open(path) as image:
        return 255 - np.asarray(image.convert("L").resize((28, 28)))


def by_style(predictions, labels, rows):
    styles = np.array([row["style"] for row in rows])
    return {
        style: sets.score(predictions[styles == style], labels[styles == style])
        for style in sorted(set(styles))
    }


def print_summary(results):
    print(f"{results['pictures']} pictures ({results['set']}, seed {results['seed']})")
    for name in ("pipeline", "naive", "clean_shapes"):
        outcome = results[name]
        print(f"  {name:<13} accuracy {outcome['accuracy']:.2%}  ({outcome['errors']} errors)")
    print(f"  naive makes {results['error_ratio_naive_over_pipeline']}x the pipeline's errors")
    for style, outcome in results["pipeline_by_style"].items():
        naive = results["naive_by_style"][style]["accuracy"]
        print(f"    {style:<7} pipeline {outcome['accuracy']:.1%}  naive {naive:.1%}")
    numbers, lines = results["numbers"], results["lines"]
    print(f"  numbers of 2-5 digits: {numbers['accuracy']:.1%} read right "
          f"({results['numbers_multi']['accuracy']:.1%} with --multi)")
    print(f"  2-3 lines of them: {lines['accuracy']:.1%} read right")
    mnist = results["mnist_test_pngs"]
    print(
        f"  MNIST test digits as PNG files: accuracy {mnist['pipeline']['accuracy']:.2%} "
        f"(the model on the arrays themselves: {mnist['model_on_the_arrays']['accuracy']:.2%})"
    )
    speed = results["speed"]
    print(
        f"  speed: {speed['custom_pictures_per_second']} custom pictures/s, "
        f"{speed['mnist_png_files_per_second']} 28x28 PNG files/s"
    )


def build_set(folder, seed, count, numbers, lines, x_test, y_test):
    """Draws the pictures; writes them, labels.csv, numbers.csv, lines.csv and clean.npz.

    count pictures hold one digit each, half from the stroke model and half from the MNIST
    test split; numbers pictures hold 2 to 5 digits side by side, some touching; lines
    pictures hold 2 or 3 such numbers, one above another. (Each part is drawn after the one
    before it, so adding a part left the earlier ones as they were.)
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, clean = [], []
    styles = rng.choice(list(synthetic.STYLES), size=count, p=list(synthetic.STYLES.values()))
    for index, style in enumerate(styles):
        label = int(rng.integers(10))
        shape, source = synthetic.digit_shape(label, index % 2 == 1, rng, x_test, y_test)
        picture, suffix, exif, ink = synthetic.draw_picture(style, shape, rng)
        name = synthetic.save_picture(picture, folder / f"{index:04d}_{style}{suffix}", exif,
                                      rng).name
        clean.append(digit_image.to_mnist(ink, ink > 0.5))
        rows.append({"file": name, "label": label, "style": style, "source": source, "seed": seed})
    np.savez_compressed(folder / "clean.npz", images=np.stack(clean))
    sets.write_csv(folder / "labels.csv", rows)

    rows = []
    for index, style in enumerate(rng.choice(synthetic.NUMBER_STYLES, size=numbers)):
        text, shape = synthetic.random_number(rng, x_test, y_test)
        picture, suffix, exif, _ = synthetic.draw_picture(style, shape, rng)
        name = synthetic.save_picture(picture, folder / f"number_{index:03d}_{style}{suffix}", exif,
                                      rng).name
        rows.append({"file": name, "label": text, "style": style, "seed": seed})
    sets.write_csv(folder / "numbers.csv", rows)

    rows = []
    for index, style in enumerate(rng.choice(synthetic.NUMBER_STYLES, size=lines)):
        numbers_in_lines = [synthetic.random_number(rng, x_test, y_test)
                            for _ in range(rng.integers(2, 4))]
        # Gaps between the lines' rows (each 1.2 digits tall, the digits nudged up or down
        # in it) and indents, as fractions of the digits' height.
        gaps = rng.uniform(0.05, 0.5, len(numbers_in_lines) - 1)
        indents = rng.uniform(0, 0.5, len(numbers_in_lines))

        def shape(height, pen, numbers_in_lines=numbers_in_lines, gaps=gaps, indents=indents):
            height /= len(numbers_in_lines)  # The block of lines takes one number's share.
            return synthetic.one_above_another(
                [line(height, pen) for _, line in numbers_in_lines],
                [round(gap * height) for gap in gaps],
                [round(indent * height) for indent in indents],
            )

        picture, suffix, exif, _ = synthetic.draw_picture(style, shape, rng)
        name = synthetic.save_picture(picture, folder / f"lines_{index:03d}_{style}{suffix}", exif,
                                      rng).name
        label = " ".join(text for text, _ in numbers_in_lines)
        rows.append({"file": name, "label": label, "style": style, "seed": seed})
    sets.write_csv(folder / "lines.csv", rows)


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
