"""What the picture benchmarks share around their sets: their options, the MNIST test split,
labels files, scoring through predict.py's own path (with pipeline steps switched off, to
measure what they buy), and the report.

A set is a folder of pictures and labels.csv (file, label, seed and how each was drawn);
is_built() tells whether a folder already holds the one a seed makes, so that a benchmark
run again reads it instead of drawing it anew.
"""

import argparse
import contextlib
import csv
import gzip
import time
from pathlib import Path

import numpy as np
from PIL import Image

import common
import predict

MNIST_DIR = Path("../shared/mnist")


def photo_set_args(name, doc, argv, mnist=True, count=200):
    """The options of the photo benchmarks (ruled_paper.py, desk_photos.py, phone_photos.py,
    no_digit_pictures.py): runs/<name>/ for the set and reports/<name>.json, checked; --mnist-dir
    for those that draw MNIST's digits."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs") / name, help="set folder")
    parser.add_argument("--seed", type=int, default=0,
                        help="draws the set: 0 for development, others held out")
    parser.add_argument("--count", type=int, default=count, help="pictures in the set")
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH, help="the model read with")
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


def digits_read(records):
    """The digit predict.py gave each picture, -1 where it gave none (a number, no digit, or
    a picture it could not read)."""
    return np.array([-1 if record["digit"] is None else record["digit"] for record in records])


def read_with_pipeline(paths, classify, *options):
    """predict.py's own path (predict.answer) over the files, with predict.py's options
    (such as "--multi"): (records, seconds taken)."""
    args = predict.parse_args([str(path) for path in paths] + list(options))
    started = time.perf_counter()
    records = [record for record, _ in predict.answer(args.inputs, classify, args)]
    return records, time.perf_counter() - started


def read_in_process(paths, classify):
    """read_with_pipeline() in this process alone, where steps_off() holds: predict.py's
    reading processes import digit_image anew."""
    return read_with_pipeline(paths, classify, "--workers", "1")


@contextlib.contextmanager
def steps_off(*steps):
    """digit_image's steps switched off where the pipeline calls them, while the block runs:
    each step (module, name, what to call instead)."""
    kept = [(module, name, getattr(module, name)) for module, name, _ in steps]
    try:
        for module, name, instead in steps:
            setattr(module, name, instead)
        yield
    finally:
        for module, name, step in kept:
            setattr(module, name, step)


def report(path, results):
    """Writes results to path as JSON and prints them, a line each."""
    common.write_json(path, results)
    for key, value in results.items():
        print(f"  {key:24} {value}")
    print(f"wrote {path}")


def score(predictions, labels):
    errors = int((predictions != labels).sum())
    return {"accuracy": round(1 - errors / len(labels), 4), "errors": errors}


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
