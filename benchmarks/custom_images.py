"""Scores predict.py's picture pipeline on realistic pictures of handwritten digits.

Builds (once per seed) a set of pictures with known labels, then reads them with the model
twice: through digit_image.normalize(), as predict.py does, and through the naive pipeline
"convert to grey, resize to 28x28, invert". Also reports the speed of predict.py's path.

How the set is made (everything drawn from numpy's generator seeded by --seed):
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

    python benchmarks/custom_images.py                       # development set, seed 0
    python benchmarks/custom_images.py --seed 1 --out runs/custom_eval_heldout \\
        --report reports/custom_images_heldout.json          # held out, run once at the end
"""

import argparse
import csv
import functools
import gzip
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common  # (the project root is only on the path from here on)
import digit_image
import model_files
import predict

MNIST_DIR = Path("../shared/mnist")
STYLES = {"photo": 0.35, "scan": 0.15, "marker": 0.1, "canvas": 0.2, "paint": 0.1, "dark": 0.1}
NUMBER_STYLES = ["photo", "scan", "canvas", "paint", "dark"]
INK_COLOURS = {
    "black": (25, 25, 35),
    "blue": (25, 45, 150),
    "red": (175, 30, 40),
    "green": (20, 95, 55),
    "pencil": (95, 95, 100),
}

# Control points of each digit's pen strokes: x to the right, y downwards, height 1 and width
# about 0.6. A template is a list of strokes; a corner is where two strokes meet.
# One stroke per line: the formatter would put each point on a line of its own.
# fmt: off
TEMPLATES = {
    0: [
        [
            [(0.33, 0.0), (0.1, 0.15), (0.02, 0.5), (0.12, 0.88), (0.34, 1.0), (0.56, 0.84),
             (0.62, 0.48), (0.53, 0.12), (0.33, 0.0), (0.2, 0.06)],
        ],
        [
            [(0.4, 0.02), (0.15, 0.1), (0.05, 0.45), (0.15, 0.9), (0.38, 0.98), (0.58, 0.75),
             (0.6, 0.35), (0.48, 0.05), (0.3, 0.04)],
        ],
    ],
    1: [
        [
            [(0.34, 0.0), (0.3, 1.0)],
        ],
        [
            [(0.12, 0.2), (0.38, 0.0), (0.32, 1.0)],
        ],
        [
            [(0.4, 0.0), (0.33, 0.5), (0.25, 1.0)],
        ],
    ],
    2: [
        [
            [(0.06, 0.25), (0.22, 0.03), (0.46, 0.02), (0.58, 0.22), (0.5, 0.45), (0.27, 0.72),
             (0.04, 0.97)],
            [(0.04, 0.97), (0.36, 0.95), (0.64, 0.97)],
        ],
        [
            [(0.1, 0.18), (0.32, 0.0), (0.55, 0.12), (0.52, 0.4), (0.1, 0.9), (0.06, 1.0),
             (0.2, 0.9)],
            [(0.2, 0.9), (0.45, 0.93), (0.65, 0.9)],
        ],
    ],
    3: [
        [
            [(0.06, 0.12), (0.3, 0.0), (0.52, 0.08), (0.55, 0.28), (0.28, 0.47)],
            [(0.28, 0.47), (0.55, 0.6), (0.58, 0.83), (0.35, 1.0), (0.04, 0.9)],
        ],
        [
            [(0.08, 0.05), (0.55, 0.04), (0.3, 0.42)],
            [(0.3, 0.42), (0.58, 0.6), (0.55, 0.88), (0.3, 1.0), (0.05, 0.88)],
        ],
    ],
    4: [
        [
            [(0.42, 0.0), (0.04, 0.66)],
            [(0.04, 0.66), (0.66, 0.64)],
            [(0.5, 0.3), (0.48, 1.0)],
        ],
        [
            [(0.1, 0.0), (0.06, 0.55)],
            [(0.06, 0.55), (0.62, 0.53)],
            [(0.54, 0.02), (0.5, 1.0)],
        ],
    ],
    5: [
        [
            [(0.58, 0.02), (0.12, 0.03)],
            [(0.12, 0.03), (0.08, 0.45)],
            [(0.08, 0.45), (0.35, 0.37), (0.58, 0.55), (0.58, 0.8), (0.35, 1.0), (0.04, 0.9)],
        ],
        [
            [(0.14, 0.02), (0.1, 0.45)],
            [(0.1, 0.45), (0.38, 0.38), (0.6, 0.6), (0.52, 0.9), (0.28, 1.0), (0.04, 0.88)],
            [(0.16, 0.02), (0.62, 0.0)],
        ],
    ],
    6: [
        [
            [(0.52, 0.0), (0.25, 0.2), (0.07, 0.55), (0.12, 0.87), (0.33, 1.0), (0.55, 0.85),
             (0.55, 0.62), (0.32, 0.5), (0.1, 0.66)],
        ],
        [
            [(0.45, 0.0), (0.2, 0.35), (0.08, 0.75), (0.3, 1.0), (0.55, 0.82), (0.45, 0.55),
             (0.2, 0.6), (0.1, 0.78)],
        ],
    ],
    7: [
        [
            [(0.04, 0.05), (0.62, 0.04)],
            [(0.62, 0.04), (0.4, 0.5), (0.26, 1.0)],
        ],
        [
            [(0.06, 0.14), (0.1, 0.02), (0.6, 0.03)],
            [(0.6, 0.03), (0.36, 0.55), (0.3, 1.0)],
        ],
    ],
    8: [
        [
            [(0.52, 0.1), (0.3, 0.0), (0.1, 0.12), (0.15, 0.35), (0.33, 0.5), (0.55, 0.66),
             (0.58, 0.87), (0.33, 1.0), (0.08, 0.87), (0.12, 0.65), (0.33, 0.5), (0.5, 0.35),
             (0.55, 0.15), (0.4, 0.02)],
        ],
        [
            [(0.3, 0.48), (0.08, 0.3), (0.2, 0.02), (0.45, 0.05), (0.5, 0.28), (0.3, 0.48),
             (0.08, 0.7), (0.22, 0.98), (0.5, 0.95), (0.55, 0.72), (0.3, 0.48)],
        ],
    ],
    9: [
        [
            [(0.56, 0.22), (0.36, 0.44), (0.1, 0.36), (0.1, 0.1), (0.35, 0.0), (0.56, 0.12),
             (0.58, 0.3)],
            [(0.58, 0.3), (0.52, 0.7), (0.44, 1.0)],
        ],
        [
            [(0.55, 0.1), (0.3, 0.0), (0.08, 0.2), (0.25, 0.42), (0.55, 0.25)],
            [(0.55, 0.05), (0.55, 0.55), (0.5, 1.0)],
        ],
    ],
}
# fmt: on


def photo_set_args(name, doc, argv, mnist=True, count=200):
    """The options of the photo benchmarks built on this one (ruled_paper.py, desk_photos.py,
    phone_photos.py): runs/<name>/ for the set and reports/<name>.json, checked; --mnist-dir
    for those that draw MNIST's digits."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs") / name, help="set folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=count, help="digits")
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH)
    if mnist:
        parser.add_argument("--mnist-dir", type=Path, default=MNIST_DIR, help="MNIST .gz files")
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / f"{name}.json")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    if args.seed < 0:
        parser.error("--seed must be at least 0")
    return args


def digit_shape(label, from_mnist, rng, x_test, y_test):
    """(A function (height, pen) -> ink of one digit, where it comes from): the stroke model,
    or a digit of the MNIST test split with that label."""
    if not from_mnist:
        return functools.partial(stroke_digit, label, rng=rng), "strokes"
    index = int(rng.choice(np.flatnonzero(y_test == label)))
    return functools.partial(mnist_digit, x_test[index], rng=rng), f"mnist-test-{index}"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("runs/custom_eval"), help="set folder")
    parser.add_argument("--seed", type=int, default=0, help="0 for development; 1 and 2 were held out")
    parser.add_argument("--count", type=int, default=400, help="pictures of one digit")
    parser.add_argument("--numbers", type=int, default=60, help="pictures of 2-5 digits")
    parser.add_argument("--lines", type=int, default=40, help="pictures of 2-3 lines of them")
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH)
    parser.add_argument("--mnist-dir", type=Path, default=MNIST_DIR, help="MNIST .gz files")
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
    x_test, y_test = load_mnist_test(args.mnist_dir)
    classify = model_files.load_classifier(args.model)  # Before building: a wrong path fails fast.
    counts = {"labels.csv": args.count, "numbers.csv": args.numbers, "lines.csv": args.lines}
    built = is_built(args.out, args.seed, counts) and (args.out / "clean.npz").is_file()
    if args.force or not built:
        print(f"building {sum(counts.values())} pictures in {args.out} (seed {args.seed})")
        build_set(args.out, args.seed, args.count, args.numbers, args.lines, x_test, y_test)
    throughput_dir = args.out / "throughput"
    if not (throughput_dir / "labels.csv").is_file():
        write_mnist_pngs(throughput_dir, x_test[: args.throughput_count], y_test)

    classify(np.zeros((1, 28, 28), np.uint8))  # The first call builds the graph: not timed.

    rows = read_labels(args.out / "labels.csv")
    paths = [args.out / row["file"] for row in rows]
    labels = np.array([int(row["label"]) for row in rows])
    records, seconds = read_with_pipeline(paths, classify)
    pipeline = digits_read(records)
    naive = classify(np.stack([naive_pipeline(p) for p in paths])).argmax(axis=1)
    with np.load(args.out / "clean.npz") as clean:
        shapes = classify(clean["images"]).argmax(axis=1)

    mnist_rows = read_labels(throughput_dir / "labels.csv")
    mnist_paths = [throughput_dir / row["file"] for row in mnist_rows]
    mnist_labels = np.array([int(row["label"]) for row in mnist_rows])
    mnist_records, mnist_seconds = read_with_pipeline(mnist_paths, classify)
    mnist_predictions = digits_read(mnist_records)
    mnist_direct = classify(x_test[: len(mnist_paths)]).argmax(axis=1)

    results = {
        "set": str(args.out),
        "seed": args.seed,
        "pictures": len(paths),
        "model": str(args.model),
        "pipeline": score(pipeline, labels),
        "naive": score(naive, labels),
        "clean_shapes": score(shapes, labels),
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
            "pipeline": score(mnist_predictions, mnist_labels),
            "model_on_the_arrays": score(mnist_direct, mnist_labels),
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


def digits_read(records):
    """The digit predict.py gave each picture, -1 where it gave none (a number, no digit, or
    a picture it could not read)."""
    return np.array([-1 if record["digit"] is None else record["digit"] for record in records])


def read_numbers(labels_csv, classify, multi=False):
    """Reads the pictures a labels file lists as predict.py does (with --multi: as numbers,
    whatever they look like): how many read right, and which not."""
    rows = read_labels(labels_csv)
    records, _ = read_with_pipeline([labels_csv.parent / row["file"] for row in rows], classify,
                                    multi=multi)
    wrong = [
        {"file": row["file"], "label": row["label"], "read": record["number"]}
        for row, record in zip(rows, records)
        if record["number"] != row["label"]
    ]
    return {"pictures": len(rows), "accuracy": round(1 - len(wrong) / len(rows), 4), "wrong": wrong}


def read_with_pipeline(paths, classify, multi=False):
    """predict.py's own path (predict.answer) over the files: (records, seconds taken)."""
    args = predict.parse_args([str(path) for path in paths] + (["--multi"] if multi else []))
    started = time.perf_counter()
    records = [record for record, _ in predict.answer(args.inputs, classify, args)]
    return records, time.perf_counter() - started


def naive_pipeline(path):
    """What a first attempt does: grey, squeeze to 28x28, invert (assumes dark ink on white)."""
    with Image.open(path) as image:
        return 255 - np.asarray(image.convert("L").resize((28, 28)))


def score(predictions, labels):
    errors = int((predictions != labels).sum())
    return {"accuracy": round(1 - errors / len(labels), 4), "errors": errors}


def by_style(predictions, labels, rows):
    styles = np.array([row["style"] for row in rows])
    return {
        style: score(predictions[styles == style], labels[styles == style])
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


# --- Building the set ---------------------------------------------------------------------


def load_mnist_test(folder):
    images_path, labels_path = (
        folder / "t10k-images-idx3-ubyte.gz",
        folder / "t10k-labels-idx1-ubyte.gz",
    )
    if not images_path.is_file() or not labels_path.is_file():
        raise common.UserError(f"MNIST test split not found in {folder} (use --mnist-dir)")
    with gzip.open(images_path) as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels_path) as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)
    return images, labels


def is_built(folder, seed, counts):
    """Whether folder holds a complete set made with this seed and these counts, given as
    {labels file name: pictures}."""
    if not all((folder / name).is_file() for name in counts):
        return False
    tables = {name: read_labels(folder / name) for name in counts}
    rows = [row for table in tables.values() for row in table]
    return (
        all(len(tables[name]) == count for name, count in counts.items())
        and all(row["seed"] == str(seed) for row in rows)
        and all((folder / row["file"]).is_file() for row in rows)
    )


def read_labels(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


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
    for index, style in enumerate(rng.choice(list(STYLES), size=count, p=list(STYLES.values()))):
        label = int(rng.integers(10))
        shape, source = digit_shape(label, index % 2 == 1, rng, x_test, y_test)
        picture, suffix, exif, ink = draw_picture(style, shape, rng)
        name = f"{index:04d}_{style}{suffix.replace('.png16', '.png')}"
        save_picture(picture, folder / name, exif, rng, sixteen_bit=suffix == ".png16")
        clean.append(digit_image.to_mnist(ink, ink > 0.5))
        rows.append({"file": name, "label": label, "style": style, "source": source, "seed": seed})
    np.savez_compressed(folder / "clean.npz", images=np.stack(clean))
    write_csv(folder / "labels.csv", rows)

    rows = []
    for index, style in enumerate(rng.choice(NUMBER_STYLES, size=numbers)):
        text, shape = random_number(rng, x_test, y_test)
        picture, suffix, exif, _ = draw_picture(style, shape, rng)
        name = f"number_{index:03d}_{style}{suffix.replace('.png16', '.png')}"
        save_picture(picture, folder / name, exif, rng, sixteen_bit=suffix == ".png16")
        rows.append({"file": name, "label": text, "style": style, "seed": seed})
    write_csv(folder / "numbers.csv", rows)

    rows = []
    for index, style in enumerate(rng.choice(NUMBER_STYLES, size=lines)):
        numbers_in_lines = [random_number(rng, x_test, y_test) for _ in range(rng.integers(2, 4))]
        # Gaps between the lines' rows (each 1.2 digits tall, the digits nudged up or down
        # in it) and indents, as fractions of the digits' height.
        gaps = rng.uniform(0.05, 0.5, len(numbers_in_lines) - 1)
        indents = rng.uniform(0, 0.5, len(numbers_in_lines))

        def shape(height, pen, numbers_in_lines=numbers_in_lines, gaps=gaps, indents=indents):
            height /= len(numbers_in_lines)  # The block of lines takes one number's share.
            return one_above_another(
                [line(height, pen) for _, line in numbers_in_lines],
                [round(gap * height) for gap in gaps],
                [round(indent * height) for indent in indents],
            )

        picture, suffix, exif, _ = draw_picture(style, shape, rng)
        name = f"lines_{index:03d}_{style}{suffix.replace('.png16', '.png')}"
        save_picture(picture, folder / name, exif, rng, sixteen_bit=suffix == ".png16")
        label = " ".join(text for text, _ in numbers_in_lines)
        rows.append({"file": name, "label": label, "style": style, "seed": seed})
    write_csv(folder / "lines.csv", rows)


def random_number(rng, x_test, y_test):
    """A number of 2 to 5 random digits: (its text, a function (height, pen) -> its ink)."""
    text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(2, 6)))
    shapes = [digit_shape(int(d), rng.random() < 0.5, rng, x_test, y_test)[0] for d in text]
    # Gaps are between the digits' ink boxes, whose margins are a pen width or so: the
    # narrowest gaps make neighbours touch.
    gaps = rng.uniform(-0.06, 0.25, len(text) - 1)

    def shape(height, pen):
        return side_by_side(
            [draw(height * rng.uniform(0.85, 1.1), pen) for draw in shapes],
            [round(gap * height) for gap in gaps],
            rng,
        )

    return text, shape


def one_above_another(rows, gaps, indents):
    """Lays rows of ink out top to bottom, with the given gaps between them and indents."""
    width = max(row.shape[1] + indent for row, indent in zip(rows, indents))
    block = np.zeros((sum(row.shape[0] for row in rows) + sum(gaps), width), np.float32)
    top = 0
    for row, gap, indent in zip(rows, [*gaps, 0], indents):
        block[top : top + row.shape[0], indent : indent + row.shape[1]] = row
        top += row.shape[0] + gap
    return block


def side_by_side(digits, gaps, rng):
    """Lays digits' ink out left to right with the given gaps, each nudged up or down."""
    height = max(digit.shape[0] for digit in digits)
    width = sum(digit.shape[1] for digit in digits) + sum(gaps)
    row = np.zeros((int(height * 1.2), max(width, 1)), np.float32)
    left = 0
    for digit, gap in zip(digits, [*gaps, 0]):
        top = int(rng.integers(0, row.shape[0] - digit.shape[0] + 1))
        right = min(left + digit.shape[1], row.shape[1])
        region = row[top : top + digit.shape[0], left:right]
        np.maximum(region, digit[:, : right - left], out=region)
        left += digit.shape[1] + gap
    return row


def write_csv(path, rows):
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_mnist_pngs(folder, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "label"])
        for index, image in enumerate(images):
            Image.fromarray(image).save(folder / f"{index:05d}.png")
            writer.writerow([f"{index:05d}.png", int(labels[index])])


def stroke_digit(digit, height, width_range, rng, template=None):
    """Renders one handwritten-looking digit: float32 ink coverage in 0..1, height pixels tall.

    width_range is the pen width as a fraction of the height; template picks one of the
    digit's TEMPLATES (a random one by default). The result has a margin of about one pen
    width around the ink.
    """
    if template is None:
        template = rng.integers(len(TEMPLATES[digit]))
    strokes = TEMPLATES[digit][template]
    width_scale, slant, angle = rng.uniform(0.8, 1.2), rng.uniform(-0.3, 0.25), rng.normal(0, 0.06)
    # One offset per control point, shared where two strokes meet so corners stay joined.
    offsets = {}
    curves = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            dx, dy = offsets.setdefault((x, y), rng.normal(0, 0.025, 2))
            x, y = (x + dx) * width_scale, y + dy
            x += slant * (1 - y)
            points.append(
                (x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle))
            )
        curves.append(catmull_rom(np.array(points)))
    pen = rng.uniform(*width_range)
    return draw_strokes(curves, height, pen, rng)


def catmull_rom(points, steps=24):
    """A smooth curve through the points (their ends repeated): (N, 2) array."""
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    pieces = []
    for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:]):
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    return np.vstack([*pieces, points[-1:]])


def draw_strokes(curves, height, pen, rng, supersample=3):
    """Draws curves (unit-height coordinates) with a round pen, anti-aliased by supersampling."""
    everything = np.vstack(curves)
    low, high = everything.min(axis=0), everything.max(axis=0)
    scale = height / (high[1] - low[1])
    pen_pixels = max(pen * height, 1.0)
    margin = pen_pixels + 2
    size = ((high - low) * scale + 2 * margin).astype(int) + 1
    canvas = Image.new("L", tuple(size * supersample), 0)
    draw = ImageDraw.Draw(canvas)
    for curve in curves:
        points = ((curve - low) * scale + margin) * supersample
        # The pen presses harder and lighter along the stroke: width varies by up to 25%.
        pressure = 1 + 0.25 * np.sin(
            np.linspace(0, rng.uniform(2, 6), len(points)) + rng.uniform(0, 6)
        )
        for start in range(0, len(points) - 1, 6):
            chunk = [tuple(p) for p in points[start : start + 7]]
            width = max(1, round(pen_pixels * supersample * pressure[start]))
            draw.line(chunk, fill=255, width=width, joint="curve")
            x, y = chunk[0]
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
        x, y = points[-1]
        draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    small = canvas.resize(tuple(size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


def mnist_digit(image, height, pen, rng):
    """An MNIST test digit enlarged to height pixels, cut at a grey level that suits the pen.

    pen is the (low, high) pen width as a fraction of the height: MNIST's own strokes are
    about 0.12, so a thin pen cuts high (thin strokes) and a marker cuts low.
    """
    rows, columns = np.nonzero(image)
    crop = image[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), round(height))
    big = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC), np.float32) / 255
    # A higher cut makes thinner strokes; the ramp keeps the edges anti-aliased.
    cut = (
        rng.uniform(0.55, 0.7)
        if pen[1] <= 0.07
        else rng.uniform(0.3, 0.5)
        if pen[0] >= 0.1
        else rng.uniform(0.4, 0.6)
    )
    ink = np.clip((big - cut) / 0.2 + 0.5, 0, 1)
    margin = max(2, round(0.1 * height))
    return np.pad(ink, margin)


def draw_picture(style, shape, rng):
    """Returns (PIL picture, file suffix, EXIF orientation or None, the clean ink)."""
    if style in ("photo", "marker"):
        thin = style == "photo" and rng.random() < 0.5
        pen = (0.03, 0.07) if thin else (0.07, 0.12) if style == "photo" else (0.13, 0.2)
        size = (int(rng.integers(600, 1300)), int(rng.integers(600, 1300)))
        ink = shape(rng.uniform(0.25, 0.7) * min(size), pen)
        colour = INK_COLOURS[rng.choice(list(INK_COLOURS))]
        picture = photograph(ink, size, colour, rng)
        exif = int(rng.choice([3, 6, 8])) if rng.random() < 1 / 3 else None
        return picture, ".jpg", exif, ink
    if style == "scan":
        size = (int(rng.integers(1200, 2000)), int(rng.integers(1200, 2000)))
        ink = shape(rng.uniform(0.15, 0.4) * min(size), (0.02, 0.05))
        colour = INK_COLOURS[rng.choice(["black", "blue"])]
        picture = photograph(ink, size, colour, rng, lighting=0.05, shadow=0, blur=0.8, noise=1.5)
        suffix = str(rng.choice([".png", ".png16", ".tif", ".jpg"]))
        return picture, suffix, None, ink
    if style == "canvas":
        size = int(rng.integers(200, 600))
        ink = shape(rng.uniform(0.5, 0.85) * size, (0.06, 0.15))
        colour = tuple(
            int(c)
            for c in rng.choice(
                [(0, 0, 0), (255, 255, 255), (220, 30, 30), (30, 60, 220), (30, 160, 60)]
            )
        )
        alpha = place(ink, (size, size), rng)
        hidden = rng.choice(["black", "white", "ink", "noise"])
        rgb = {
            "black": np.zeros((size, size, 3)),
            "white": np.full((size, size, 3), 255.0),
            "ink": np.broadcast_to(colour, (size, size, 3)),
            "noise": rng.integers(0, 256, (size, size, 3)),
        }[hidden]
        # Opaque pixels show the ink colour; transparent ones keep whatever the app left.
        rgb = np.where(alpha[..., None] > 0, colour, rgb)
        rgba = np.dstack([rgb, alpha * 255]).round().astype(np.uint8)
        return Image.fromarray(rgba, "RGBA"), str(rng.choice([".png", ".webp", ".gif"])), None, ink
    if style == "paint":
        size = int(rng.integers(200, 600))
        ink = shape(rng.uniform(0.5, 0.85) * size, (0.07, 0.16))
        colour = np.array(INK_COLOURS[rng.choice(["black", "blue", "red"])], np.float32)
        coverage = place(ink, (size, size), rng)[..., None]
        rgb = 255 * (1 - coverage) + colour * coverage
        return (
            Image.fromarray(rgb.round().astype(np.uint8)),
            str(rng.choice([".png", ".bmp", ".gif", ".webp"])),
            None,
            ink,
        )
    # dark: white on a black canvas, or chalk on a blackboard.
    if rng.random() < 0.5:
        size = int(rng.integers(200, 600))
        ink = shape(rng.uniform(0.5, 0.85) * size, (0.07, 0.15))
        coverage = place(ink, (size, size), rng)
        return Image.fromarray((coverage * 255).round().astype(np.uint8)), ".png", None, ink
    size = (int(rng.integers(600, 1200)), int(rng.integers(600, 1000)))
    ink = shape(rng.uniform(0.3, 0.7) * min(size), (0.05, 0.1))
    picture = photograph(ink, size, (225, 225, 215), rng, paper=(45, 65, 55), chalk=True)
    return picture, ".jpg", None, ink


def place(ink, size, rng, angle=0.0):
    """Places ink (rotated by angle degrees) off-centre on a canvas of size (width, height)."""
    image = Image.fromarray((ink * 255).astype(np.uint8))
    if angle:
        image = image.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    width, height = size
    if image.width > width or image.height > height:
        image.thumbnail((width, height), Image.Resampling.LANCZOS)
    left = int(rng.integers(0, width - image.width + 1))
    top = int(rng.integers(0, height - image.height + 1))
    canvas = np.zeros((height, width), np.float32)
    canvas[top : top + image.height, left : left + image.width] = np.asarray(image) / 255
    return canvas


def smooth_noise(shape, cells, rng):
    """Low-frequency noise in about -1..1: a random grid of cells x cells, smoothly enlarged."""
    grid = Image.fromarray(rng.normal(0, 1, (cells, cells)).astype(np.float32), "F")
    return np.asarray(grid.resize((shape[1], shape[0]), Image.Resampling.BICUBIC))


def photograph(
    ink,
    size,
    colour,
    rng,
    lighting=0.4,
    shadow=0.5,
    blur=2.0,
    noise=5.0,
    paper=None,
    chalk=False,
    printed=None,
):
    """Ink on paper as a phone sees it: texture, uneven light, blur and noise.

    lighting is the largest fall of light across the page; shadow the chance of a shadow;
    blur and noise the largest blur radius and sensor noise (in grey levels); printed, if
    given, is (coverage, colour) of what the paper came with, such as ruled lines.
    """
    width, height = size
    coverage = place(ink, size, rng, angle=rng.normal(0, 6))
    if chalk:
        # Chalk leaves grainy, partial strokes.
        coverage = coverage * np.clip(0.65 + 0.35 * rng.normal(0, 1, coverage.shape), 0, 1)
    if paper is None:
        paper = (rng.uniform(215, 250), rng.uniform(210, 245), rng.uniform(195, 240))
    grain = rng.normal(0, 0.003 * noise, (height, width))  # Paper fibres.
    texture = 1 + 0.03 * smooth_noise((height, width), 24, rng) + grain
    surface = np.asarray(paper, np.float32) * texture[..., None]
    if printed is not None:
        lines, line_colour = printed
        surface = surface * (1 - lines[..., None]) + np.asarray(line_colour) * lines[..., None]
    strength = rng.uniform(0.6, 1.0) * coverage[..., None]
    picture = surface * (1 - strength) + np.asarray(colour, np.float32) * strength

    rows, columns = np.mgrid[0:height, 0:width] / max(width, height)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = rows * np.sin(direction) + columns * np.cos(direction)
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    light = 1 - rng.uniform(0, lighting) * ramp
    if rng.random() < shadow:
        # A soft-edged shadow (a hand, the phone) across part of the page.
        angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.7)
        distance = rows * np.sin(angle) + columns * np.cos(angle) - offset
        light *= 1 - rng.uniform(0.2, 0.5) / (1 + np.exp(-distance / rng.uniform(0.01, 0.06)))
    picture = picture * light[..., None] + rng.normal(0, rng.uniform(0.5, noise), picture.shape)
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, blur)))


def save_picture(picture, path, exif_orientation, rng, sixteen_bit=False):
    """Saves in the format of path's suffix, optionally as a 16-bit grey PNG."""
    if sixteen_bit:
        Image.fromarray(np.asarray(picture.convert("L"), np.uint16) * 257).save(path)
    elif exif_orientation is not None:
        # Stored sideways; the tag tells viewers (and predict.py) how to turn it upright.
        undo = {
            3: Image.Transpose.ROTATE_180,
            6: Image.Transpose.ROTATE_90,
            8: Image.Transpose.ROTATE_270,
        }
        picture = picture.transpose(undo[exif_orientation])
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        picture.save(path, quality=int(rng.integers(55, 91)), exif=exif.tobytes())
    elif path.suffix == ".jpg":
        picture.save(path, quality=int(rng.integers(55, 91)))
    elif path.suffix == ".gif" and picture.mode == "RGBA":
        # GIF keeps one transparent palette entry, so the anti-aliased edge becomes hard.
        alpha = np.asarray(picture)[..., 3]
        paletted = picture.convert("RGB").quantize(255)
        paletted.paste(255, mask=Image.fromarray(((alpha < 128) * 255).astype(np.uint8)))
        paletted.save(path, transparency=255)
    elif path.suffix == ".webp":
        picture.save(path, lossless=True)
    elif path.suffix == ".tif":
        picture.save(path, compression="tiff_deflate")
    else:
        picture.save(path)


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
