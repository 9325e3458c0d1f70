"""Does MNIST's training file keep each writer's digits together? The measurement behind
preprocess.py's validation split (the last images of the file).

MNIST publishes no writer IDs, so this looks at style instead: each image's stroke thickness
(ink pixels over left edges of strokes, row by row) and slant (how the ink's rows shift with
height), each taken relative to the mean of its digit class and of its place's parity (even
and odd places come from two different NIST sets, which differ in style). If a writer's
digits sit together, images a few places apart are alike in style and images far apart are
not: the correlation across a gap of k places falls from high to nothing as k passes the
length of one writer's run.

Reads:  data/mnist.npz (training and validation splits together are the training file in its
        own order, as preprocess.py writes them)
Writes: a table on stdout; --json FILE also writes it as JSON

    python -m benchmarks.writer_order
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import common

GAPS = (1, 2, 4, 10, 20, 50, 100, 200, 300, 500, 1000, 5000)


def style(images):
    """Stroke thickness (pixels) and slant (column shift per row) of each image."""
    ink = images.astype(np.float32) / 255
    solid = ink > 0.5
    stroke_starts = (np.diff(solid.astype(np.int8), axis=2) == 1).sum(axis=(1, 2))
    thickness = solid.sum(axis=(1, 2)) / np.maximum(stroke_starts, 1)
    rows, columns = np.mgrid[: images.shape[1], : images.shape[2]]
    mass = ink.sum(axis=(1, 2))
    row_mean = (ink * rows).sum(axis=(1, 2)) / mass
    column_mean = (ink * columns).sum(axis=(1, 2)) / mass
    row_offset = rows - row_mean[:, None, None]
    covariance = (ink * row_offset * (columns - column_mean[:, None, None])).sum(axis=(1, 2))
    slant = covariance / (ink * row_offset**2).sum(axis=(1, 2))
    return {"thickness": thickness, "slant": slant}


def correlation_by_gap(values, labels):
    """Correlation of values k places apart, for each k in GAPS, after removing the mean of
    each (digit class, place parity) group."""
    parity = np.arange(len(values)) % 2
    centred = values.astype(np.float64).copy()
    for group in np.unique(labels * 2 + parity):
        members = labels * 2 + parity == group
        centred[members] -= centred[members].mean()
    centred /= centred.std()
    return {gap: round(float(np.mean(centred[:-gap] * centred[gap:])), 3) for gap in GAPS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=common.DATA_PATH)
    parser.add_argument("--json", type=Path, help="also write the results here")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)

    data = common.load_dataset(args.data)
    images = np.concatenate([data["x_train"], data["x_val"]])
    labels = np.concatenate([data["y_train"], data["y_val"]]).astype(np.int64)
    styles = style(images)
    test_thickness = style(data["x_test"])["thickness"]
    half = len(test_thickness) // 2
    results = {
        "correlation_by_gap": {name: correlation_by_gap(values, labels)
                               for name, values in styles.items()},
        "mean_thickness": {
            "training file, even places": round(float(styles["thickness"][0::2].mean()), 2),
            "training file, odd places": round(float(styles["thickness"][1::2].mean()), 2),
            "test file, first half (SD-3)": round(float(test_thickness[:half].mean()), 2),
            "test file, second half (SD-1)": round(float(test_thickness[half:].mean()), 2),
        },
    }

    print("Correlation of style between training images k places apart:")
    print("| k | " + " | ".join(str(gap) for gap in GAPS) + " |")
    print("|---|" + "---:|" * len(GAPS))
    for name, by_gap in results["correlation_by_gap"].items():
        print(f"| {name} | " + " | ".join(f"{value:.2f}" for value in by_gap.values()) + " |")
    print("\nMean stroke thickness (pixels):")
    for name, value in results["mean_thickness"].items():
        print(f"  {name}: {value}")
    if args.json:
        common.write_json(args.json, results)
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
