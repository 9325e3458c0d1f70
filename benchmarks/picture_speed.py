"""Measures how many pictures a second predict.py answers, start-up excluded.

Two kinds of picture: MNIST test digits drawn as 112x112 PNG files (dark on white, as a
drawing app exports them), the common case of a batch of small drawings or scans; and any
folder of photos given with --photos (phone_photos.py builds 12-megapixel ones). Each is read
through predict.py's own path (predict.answer: decoding, digit_image.normalize, the model in
batches) with every worker count asked for, the same files alternately, and the median of
--repeats runs is reported.

Reads:  ../shared/mnist (the test split), the model (models/digit_cnn.keras by default)
Writes: runs/picture_speed/ (the PNG files, once) and reports/picture_speed.json

    python -m benchmarks.picture_speed
    python -m benchmarks.picture_speed --photos runs/phone_photos --model models/digit_cnn.tflite
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import common
import model_files
import reading_pool
from benchmarks import sets


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="112x112 drawings to read")
    parser.add_argument("--photos", type=Path, help="a folder of photos to read too")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, reading_pool.cores()],
                        help="worker counts to measure")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, median reported")
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH)
    parser.add_argument("--mnist-dir", type=Path, default=sets.MNIST_DIR)
    parser.add_argument("--out", type=Path, default=Path("runs/picture_speed"))
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / "picture_speed.json")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.count < 1 or args.repeats < 1 or min(args.workers) < 1:
        parser.error("--count, --repeats and --workers must be at least 1")
    return args


def drawings(folder, count, mnist_dir):
    """The first count MNIST test digits as 112x112 PNG files, dark on white: their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    images, _ = sets.load_mnist_test(mnist_dir)
    paths = [folder / f"{index:05d}.png" for index in range(count)]
    for path, image in zip(paths, images):
        if not path.exists():
            Image.fromarray(255 - image).resize((112, 112), Image.Resampling.BICUBIC).save(path)
    return paths


def files_per_second(paths, classify, workers):
    """Pictures answered per second through predict.answer, and how many were read."""
    records, seconds = sets.read_with_pipeline(paths, classify, "--workers", str(workers))
    return len(paths) / seconds, sum(record["error"] is None for record in records)


def main(argv=None):
    args = parse_args(argv)
    classify = model_files.load_classifier(args.model)
    classify(np.zeros((256, 28, 28), np.uint8))  # The first call sets the model up: not timed.
    folders = {"drawings_112px_png": drawings(args.out, args.count, args.mnist_dir)}
    if args.photos:
        folders["photos"] = sorted(path for path in args.photos.iterdir()
                                   if path.suffix.lower() in {".jpg", ".jpeg", ".png"})
    results = {"model": str(args.model), "repeats": args.repeats, "sets": {}}
    for name, paths in folders.items():
        runs = {workers: [] for workers in args.workers}
        for _ in range(args.repeats):  # Alternating, so that a busy moment hits all alike.
            for workers in args.workers:
                rate, answered = files_per_second(paths, classify, workers)
                runs[workers].append(rate)
        results["sets"][name] = {
            "files": len(paths), "answered": answered,
            "files_per_second": {str(workers): round(statistics.median(rates), 1)
                                 for workers, rates in runs.items()},
            "runs": {str(workers): [round(rate, 1) for rate in rates] for workers, rates in runs.items()},
        }
        rates = ", ".join(f"{workers} worker{'s' * (workers > 1)}: {statistics.median(r):.0f}"
                          for workers, r in runs.items())
        print(f"{name}: {len(paths)} files, files/s (median of {args.repeats}) {rates}")
    common.write_json(args.report, results)
    print(f"wrote {args.report}")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
