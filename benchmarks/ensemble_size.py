"""How an ensemble's accuracy grows with its members: the average of the first N, N = 1, 2, ...

Takes the models train.py wrote, in order: a `--ensemble` model counts as its members (in
the order of its seeds), a single model as one. For every N it reports the accuracy of the
average of the first N members' probabilities on the validation and the test split, plain
and with test-time shift averaging (evaluate.py --tta), and, for all of them, how many test
digits every member misses and how many at least half of them do.

Reads:  the models given, data/mnist.npz
Writes: reports/benchmark/ensemble_size.json and a table on stdout

    python train.py --ensemble 4 --width 64 --epochs 15 --schedule cosine --out models/seeds0-3.keras
    python train.py --ensemble 4 --width 64 --epochs 15 --schedule cosine --seed 4 --out models/seeds4-7.keras
    python -m benchmarks.ensemble_size models/seeds0-3.keras models/seeds4-7.keras
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import common
import model_files
from evaluate import classification_metrics


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("models", type=Path, nargs="+", help=".keras files from train.py")
    parser.add_argument("--data", type=Path, default=common.DATA_PATH, help="dataset npz")
    parser.add_argument("--report", type=Path,
                        default=common.REPORTS_DIR / "benchmark" / "ensemble_size.json")
    common.add_debug_flag(parser)
    return parser.parse_args(argv)


def members_of(path):
    """The classifiers inside a model file: an ensemble's members, or the model itself."""
    model = model_files.load_keras_model(path)  # imports TensorFlow quietly
    import keras

    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return [(f"{path.name}:{layer.name}", layer) for layer in inner] or [(path.name, model)]


def accuracy(probabilities, labels):
    """In percent, as the table prints it."""
    return round(100 * classification_metrics(labels, probabilities)["accuracy"], 2)


def main(argv=None):
    args = parse_args(argv)
    for path in args.models:  # All of them, before the minutes spent on the first.
        if not path.is_file():
            raise common.UserError(f"model {path} not found")
    data = common.load_dataset(args.data)
    members = [member for path in args.models for member in members_of(path)]

    # probabilities[split][kind]: one array per member, kind "plain" or "tta".
    probabilities = {split: {"plain": [], "tta": []} for split in ("val", "test")}
    rows = []
    for name, model in members:
        predict = model_files.keras_predict(model)
        for split, kinds in probabilities.items():
            kinds["plain"].append(predict(data[f"x_{split}"]))
            kinds["tta"].append(common.with_shift_averaging(predict)(data[f"x_{split}"]))
        row = {"members": len(rows) + 1, "added": name}
        for split, kinds in probabilities.items():
            for kind, arrays in kinds.items():
                suffix = "" if kind == "plain" else "_tta"
                row[f"{split}_alone{suffix}"] = accuracy(arrays[-1], data[f"y_{split}"])
                row[f"{split}{suffix}"] = accuracy(np.mean(arrays, axis=0), data[f"y_{split}"])
        rows.append(row)
        print(f"{row['members']:>2}  {name:<40} alone: val {row['val_alone']:.2f}  test "
              f"{row['test_alone']:.2f}   average of {row['members']}: val {row['val']:.2f} "
              f"test {row['test']:.2f} (--tta: val {row['val_tta']:.2f} test {row['test_tta']:.2f})",
              flush=True)

    wrong = np.array([p.argmax(axis=1) != data["y_test"] for p in probabilities["test"]["plain"]])
    report = {
        "models": [str(path) for path in args.models],
        "rows": rows,
        "test_missed_by_all": int(wrong.all(axis=0).sum()),
        "test_missed_by_half_or_more": int((wrong.mean(axis=0) >= 0.5).sum()),
    }
    print(f"Test digits missed by every member: {report['test_missed_by_all']}; by at least half "
          f"of them: {report['test_missed_by_half_or_more']}.")
    common.write_json(args.report, report)
    print(f"Wrote {args.report}.")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
