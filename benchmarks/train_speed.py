"""Training speed and accuracy: the keras.io "Simple MNIST convnet" recipe against train.py.

Both run in this one invocation, on the same data and machine, one after the other, so their
ratio holds even when the machine's speed drifts from day to day. The baseline is the
keras.io recipe written here (two 3x3 convolutions of 32 and 64 channels with max pooling,
dropout 0.5, Adam, batch 128, 15 epochs, no augmentation), validated on our validation split.
train.py's default recipe (or the recipe --train-args gives) runs once per --seeds value; with
two or more seeds, the average of their models (what `train.py --ensemble N` saves) is
measured too.

Reads:  data/mnist.npz
Writes: reports/benchmark/train_speed.json, reports/benchmark/train_speed.png

    python -m benchmarks.train_speed                  # baseline + 3 seeds: 10-35 minutes
    python -m benchmarks.train_speed --train-args="--epochs 7"   # another recipe
    python -m benchmarks.train_speed --quick          # a smoke test on a slice, ~1 minute

The test split is read once per finished model, to report; nothing is chosen by it.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path


import numpy as np

import common
import model_files
import train
from evaluate import classification_metrics

# Keras is imported where it is used, after main() has read the options: --help and a bad
# option answer without TensorFlow.


def keras_io_model():
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ], name="keras_io_convnet")


def multiply_adds(model):
    """Multiply-adds per image in the convolutions and dense layers (the bulk of the work)."""
    import keras
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += multiply_adds(layer)
        elif isinstance(layer, layers.Conv2D):
            height, width, channels_out = layer.output.shape[1:]
            total += height * width * channels_out * int(np.prod(layer.kernel.shape[:-1]))
        elif isinstance(layer, layers.DepthwiseConv2D):  # one filter per channel
            height, width, channels_out = layer.output.shape[1:]
            total += height * width * channels_out * int(np.prod(layer.kernel.shape[:2]))
        elif isinstance(layer, layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def run_baseline(data, epochs):
    import keras

    from callbacks import EpochClock

    keras.utils.set_random_seed(0)
    model = keras_io_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    clock = EpochClock()
    fit = model.fit(data["x_train"][..., None], data["y_train"], batch_size=128, epochs=epochs,
                    validation_data=(data["x_val"][..., None], data["y_val"]),
                    callbacks=[clock], verbose=2)
    history = [{key: fit.history[key][epoch] for key in ("val_accuracy", "seconds", "cpu_seconds")}
               | {"epoch": epoch} for epoch in range(epochs)]
    probabilities = model.predict(data["x_test"][..., None], batch_size=1024, verbose=0)
    return model, history, probabilities


def run_project(data_path, seed, quick, folder, train_args):
    """train.py's recipe (the default, or with train_args), through its own main(), in a
    scratch folder. Returns the model's path and train.py's record of the run."""
    out = folder / f"seed{seed}.keras"
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        train.main(["--data", str(data_path), "--out", str(out), "--seed", str(seed)]
                   + train_args + (["--quick"] if quick else []))
    finally:
        os.chdir(cwd)
    return out, json.loads(out.with_suffix(".json").read_text())


def predict_test(path, images):
    """The model in path, its test probabilities, and those evaluate.py --tta gives (the mean
    over the nine 1-pixel shifts)."""
    model = model_files.load_keras_model(path)
    predict = model_files.keras_predict(model)
    return model, predict(images), common.with_shift_averaging(predict)(images)


def summarize(name, model, history, labels, probabilities):
    seconds = [row["seconds"] for row in history]
    per_epoch = np.diff([0.0] + seconds)

    def time_to(level):
        return next((row["seconds"] for row in history if row["val_accuracy"] >= level), None)

    return {
        "name": name,
        "parameters": model.count_params(),
        "multiply_adds": multiply_adds(model),
        "seconds_per_epoch": round(float(np.median(per_epoch)), 1),
        "epochs": len(history),
        "wall_seconds": seconds[-1],
        "cpu_seconds": history[-1]["cpu_seconds"],
        "seconds_to_val_99.0": time_to(0.99),
        "seconds_to_val_99.5": time_to(0.995),
        "best_val_accuracy": max(row["val_accuracy"] for row in history),
        "test_accuracy": classification_metrics(labels, probabilities)["accuracy"],
        "history": history,
    }


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 4.5))
    for result in results:
        if result["history"]:
            ax.plot([row["seconds"] for row in result["history"]],
                    [100 * row["val_accuracy"] for row in result["history"]],
                    marker="o", markersize=3, label=result["name"])
    ax.set(xlabel="wall-clock seconds of training", ylabel="validation accuracy (%)",
           ylim=(98, 100), title="Validation accuracy against training time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    common.atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=100))
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=common.DATA_PATH)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=common.REPORTS_DIR / "benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="2,000 training images, 1 epoch each: checks the script runs")
    parser.add_argument("--train-args", default="",
                        help="train.py options for the project's runs, e.g. \"--epochs 7\"")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    train_args = shlex.split(args.train_args)
    # train.py's own parser reads them, so a bad option stops here, before the baseline's
    # minutes. Parsed again onto placeholders for the options the benchmark sets (argparse
    # fills in a default only where the namespace has none), any of them the arguments name
    # is replaced, however spelled ("--seed=0", "--se 0") and even at its default value.
    train.parse_args(train_args)
    unset = object()
    own = ("data", "out", "seed", "ensemble", "resume", "quick")
    named = train.build_parser().parse_args(
        train_args, namespace=argparse.Namespace(**dict.fromkeys(own, unset)))
    for name in own:
        if getattr(named, name) is not unset:
            parser.error(f"--train-args may not set --{name}: the benchmark sets it")
    recipe = f"train.py {args.train_args.strip()}" if train_args else "train.py default"

    data = common.load_dataset(args.data)
    data_path = args.data.resolve()
    common.quiet_tensorflow()  # Only now, with the options and data checked.
    if args.quick:
        data["x_train"], data["y_train"] = data["x_train"][:2000], data["y_train"][:2000]
    started = time.strftime("%Y-%m-%d %H:%M")

    results = []
    model, history, probabilities = run_baseline(data, epochs=1 if args.quick else 15)
    results.append(summarize("keras.io convnet (baseline)", model, history, data["y_test"],
                             probabilities))

    members, members_tta, settings = [], [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            path, record = run_project(data_path, seed, args.quick, Path(scratch), train_args)
            history = record["history"]
            settings = {name: value for name, value in record["config"].items()
                        if name not in ("data", "out", "seed")}
            model, probabilities, probabilities_tta = predict_test(path, data["x_test"])
            members.append(probabilities)
            members_tta.append(probabilities_tta)
            results.append(summarize(f"{recipe}, seed {seed}", model, history,
                                     data["y_test"], probabilities))
            results[-1]["test_accuracy_tta"] = classification_metrics(
                data["y_test"], members_tta[-1])["accuracy"]

    project = results[1:]
    accuracies = [result["test_accuracy"] for result in project]
    summary = {
        "started": started,
        "train_args": train_args,
        # Every setting train.py recorded for its runs, defaults included: a run named
        # "default" trained with whatever the defaults were on the day.
        "train_settings": settings,
        "machine": f"{os.cpu_count()} CPU cores",
        "baseline_wall_seconds": results[0]["wall_seconds"],
        "default_test_accuracy_mean": statistics.mean(accuracies),
        "default_test_accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "default_wall_seconds_median": statistics.median(r["wall_seconds"] for r in project),
    }
    summary["wall_time_ratio_to_baseline"] = round(
        summary["default_wall_seconds_median"] / summary["baseline_wall_seconds"], 3)
    summary["cpu_time_ratio_to_baseline"] = round(
        statistics.median(r["cpu_seconds"] for r in project) / results[0]["cpu_seconds"], 3)
    if len(members) > 1:
        averaged = np.mean(members, axis=0)
        summary["ensemble_size"] = len(members)
        summary["ensemble_test_accuracy"] = classification_metrics(
            data["y_test"], averaged)["accuracy"]
        summary["ensemble_test_accuracy_tta"] = classification_metrics(
            data["y_test"], np.mean(members_tta, axis=0))["accuracy"]
        summary["ensemble_wall_seconds"] = sum(r["wall_seconds"] for r in project)
    summary["default_test_accuracy_tta_mean"] = statistics.mean(
        r["test_accuracy_tta"] for r in project)

    print("\n| model | params | multiply-adds/image | s/epoch | epochs | wall s | CPU s | "
          "s to val 99.0% | s to val 99.5% | test accuracy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['parameters']:,} | {r['multiply_adds'] / 1e6:.2f} M | "
              f"{r['seconds_per_epoch']} | {r['epochs']} | {r['wall_seconds']:.0f} | "
              f"{r['cpu_seconds']:.0f} | "
              f"{r['seconds_to_val_99.0'] or '-'} | {r['seconds_to_val_99.5'] or '-'} | "
              f"{100 * r['test_accuracy']:.2f}% |")
    print(f"\n{recipe}: test accuracy {100 * summary['default_test_accuracy_mean']:.2f}% "
          f"± {100 * summary['default_test_accuracy_std']:.2f} over {len(project)} seeds; "
          f"wall time {summary['wall_time_ratio_to_baseline']:.2f}x the baseline's, "
          f"CPU time {summary['cpu_time_ratio_to_baseline']:.2f}x. With evaluate.py --tta: "
          f"{100 * summary['default_test_accuracy_tta_mean']:.2f}%.")
    if "ensemble_test_accuracy" in summary:
        print(f"Average of the {summary['ensemble_size']} seeds' models: test accuracy "
              f"{100 * summary['ensemble_test_accuracy']:.2f}% "
              f"({100 * summary['ensemble_test_accuracy_tta']:.2f}% with --tta), "
              f"{summary['ensemble_wall_seconds']:.0f} s of training in all.")

    common.write_json(args.out / "train_speed.json", {"summary": summary, "runs": results})
    plot(results, args.out / "train_speed.png")
    print(f"Wrote {args.out / 'train_speed.json'} and {args.out / 'train_speed.png'}.")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
