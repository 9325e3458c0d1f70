"""Trains the digit CNN on the training split and keeps the best model by validation accuracy.

Reads:  data/mnist.npz (from preprocess.py)
Writes: models/digit_cnn.keras     the model with the best validation accuracy
        models/digit_cnn.json      its configuration, library versions and per-epoch history
        reports/training_curves.png
        runs/digit_cnn/            checkpoints while training (removed when it finishes)

The test split is never read here: model selection looks at the validation split only.

    python train.py                 # the default recipe
    python train.py --quick         # a smoke test of a few seconds
    python train.py --resume        # continue an interrupted run from its last epoch
"""

import argparse
import csv
import shutil
import sys
import time
from pathlib import Path

import common

common.quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow, which must run before TensorFlow loads)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from model import build_model  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=common.DATA_PATH, help="dataset npz")
    parser.add_argument("--out", type=Path, default=common.MODEL_PATH, help="model to write")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="peak rate")
    parser.add_argument("--width", type=int, default=32, help="channels of the first stage")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="2,000 images, 1 epoch: a smoke test of seconds"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted run writing --out"
    )
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "width"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.label_smoothing < 1:
        parser.error("--label-smoothing must be in [0, 1)")
    return args


def augmentation(seed):
    """Small affine distortions of the kind that separate writers: slant, size, position."""
    return keras.Sequential(
        [
            layers.RandomRotation(0.04, fill_mode="constant", seed=seed),  # +-14 degrees
            layers.RandomZoom(0.1, fill_mode="constant", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        ],
        name="augmentation",
    )


def make_datasets(data, batch_size, seed):
    """tf.data pipelines over the uint8 arrays held in memory; augmentation runs per batch."""
    augment = augmentation(seed)

    def one_hot(images, labels):
        return images, tf.one_hot(labels, common.NUM_CLASSES)

    train = (
        tf.data.Dataset.from_tensor_slices((data["x_train"][..., None], data["y_train"]))
        .shuffle(len(data["x_train"]), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (augment(tf.cast(x, "float32"), training=True), y),
             num_parallel_calls=tf.data.AUTOTUNE)
        .map(one_hot)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = (
        tf.data.Dataset.from_tensor_slices((data["x_val"][..., None], data["y_val"]))
        .batch(1024)
        .map(one_hot)
        .cache()
    )
    return train, val


def train(args, data, run_dir):
    """Fits the model; returns the per-epoch history read back from the run's CSV log."""
    keras.utils.set_random_seed(args.seed)
    train_ds, val_ds = make_datasets(data, args.batch_size, args.seed)
    steps = args.epochs * len(train_ds)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=args.learning_rate / 10,
        warmup_target=args.learning_rate,
        warmup_steps=steps // 10,
        decay_steps=steps - steps // 10,
        alpha=0.01,
    )
    model = build_model(width=args.width)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
    )
    callbacks = [
        # Saves weights, optimizer state and the epoch after every epoch, so --resume loses
        # at most the epoch that was running.
        keras.callbacks.BackupAndRestore(run_dir / "backup"),
        keras.callbacks.CSVLogger(run_dir / "history.csv", append=True),
        keras.callbacks.ModelCheckpoint(
            run_dir / "best.keras",
            monitor="val_accuracy",
            save_best_only=True,
            initial_value_threshold=best_val_accuracy(run_dir / "history.csv"),
        ),
    ]
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return read_history(run_dir / "history.csv")


def read_history(path):
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(f)]


def best_val_accuracy(history_path):
    history = read_history(history_path)
    return max((row["val_accuracy"] for row in history), default=None)


def plot_curves(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [int(row["epoch"]) + 1 for row in history]
    figure, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [row["loss"] for row in history], label="train")
    ax_loss.plot(epochs, [row["val_loss"] for row in history], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss (with label smoothing)", title="Loss")
    ax_acc.plot(epochs, [100 * row["accuracy"] for row in history], label="train (augmented)")
    ax_acc.plot(epochs, [100 * row["val_accuracy"] for row in history], label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    common.atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=100))
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    data = common.load_dataset(args.data)
    if args.quick:
        args.epochs = 1
        data["x_train"], data["y_train"] = data["x_train"][:2000], data["y_train"][:2000]
        data["x_val"], data["y_val"] = data["x_val"][:500], data["y_val"][:500]

    run_dir = Path("runs") / args.out.stem
    if not args.resume and run_dir.exists():
        print(f"Starting afresh: removing the earlier run in {run_dir} (use --resume to continue it)")
        shutil.rmtree(run_dir)
    if args.resume and not (run_dir / "backup").exists():
        raise common.UserError(f"nothing to resume in {run_dir}: train without --resume")
    run_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    history = train(args, data, run_dir)
    wall_seconds = time.perf_counter() - start  # of this process; an interrupted run adds more

    best_epoch = int(np.argmax([row["val_accuracy"] for row in history]))
    best = history[best_epoch]
    common.atomic_write(args.out, lambda tmp: shutil.copyfile(run_dir / "best.keras", tmp))
    config = {key: (str(value) if isinstance(value, Path) else value)
              for key, value in vars(args).items() if key != "debug"}
    record = {
        "config": config,
        "train_size": len(data["x_train"]),
        "val_size": len(data["x_val"]),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "history": history,
        "best_epoch": best_epoch + 1,
        "best_val_accuracy": best["val_accuracy"],
        "wall_seconds": round(wall_seconds, 1),
    }
    json_path = args.out.with_suffix(".json")
    common.write_json(json_path, record)
    plot_curves(history, common.REPORTS_DIR / "training_curves.png")
    shutil.rmtree(run_dir)

    print(
        f"Best validation accuracy {100 * best['val_accuracy']:.2f}% at epoch {best_epoch + 1}"
        f" of {len(history)}; wall time {wall_seconds:.0f} s.\n"
        f"Wrote {args.out}, {json_path} and {common.REPORTS_DIR / 'training_curves.png'}."
    )
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
