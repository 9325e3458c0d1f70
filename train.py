"""Trains the digit CNN on the training split and keeps the epoch with the lowest validation loss.

Reads:  data/mnist.npz (from preprocess.py)
Writes: models/digit_cnn.keras     the model of the epoch with the lowest validation loss,
                                   its probabilities calibrated by a temperature fitted on
                                   the validation split (calibration.py)
        models/digit_cnn.json      its configuration, library versions, per-epoch history
                                   and the temperature with what it changed on validation
        reports/training_curves.png (reports/<name>_training_curves.png for --out <name>.keras)
        runs/digit_cnn/            checkpoints while training (removed when it finishes)
The three files are written as one set; none replaces the dataset, nor a file of another
purpose. A model outside models/ is known by its name and 8 hex digits of its path
(runs/<name>-1a2b3c4d/, reports/<name>-1a2b3c4d_training_curves.png), so that two models
of one name in two folders share nothing.

The test split is never read here: model selection looks at the validation split only.

    python train.py                 # the default recipe
    python train.py --quick         # a smoke test of a few seconds (writes models/quick.keras)
    python train.py --resume        # continue an interrupted run from its last epoch
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

import calibration
import common
import recognize
import safe_files

# TensorFlow, Keras and the modules that import them (model, augment, callbacks, schedules)
# are imported by the functions that use them, once main() has checked the options: --help
# and a bad option answer at once instead of after seconds of importing TensorFlow.

# In each member's run folder, runs/<model>/seed<N>/: the weights of the epoch kept so far.
KEPT_WEIGHTS = "best.weights.h5"
# In runs/<model>/: the options the run was started with, which --resume must repeat.
RUN_OPTIONS = "options.json"
QUICK_PATH = Path("models/quick.keras")
MAX_WIDTH = 512  # Channels of the first stage; the ensemble's members use 64.


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=common.DATA_PATH, help="dataset npz")
    parser.add_argument("--out", type=Path,
                        help=f"model to write (default {common.MODEL_PATH}; with --quick "
                             f"{QUICK_PATH}, so that a smoke test leaves the trained model be)")
    parser.add_argument("--epochs", type=int, default=7, help="passes over the training images")
    parser.add_argument("--batch-size", type=int, default=64, help="images per training step")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak rate")
    parser.add_argument("--width", type=int, default=32, help="channels of the first stage")
    parser.add_argument(
        "--schedule", choices=("linear", "cosine"), default="linear",
        help="after a warm-up over the first 10%% of steps, the rate falls to zero in a straight "
             "line, or along a cosine to 1%% of its peak (the ensemble recipe's)",
    )
    parser.add_argument("--label-smoothing", type=float, default=0.1,
                        help="share of each label's probability spread over the other digits")
    parser.add_argument(
        "--distortion", type=float, default=1.0,
        help="scales every range of the training distortions (rotation, slant, size, width, "
             "position, stroke), 0 to 2; longer runs can use more",
    )
    parser.add_argument(
        "--elastic", type=float, default=0.0,
        help="also bend each training digit by a smooth random field moving its points by up "
             "to this many pixels (0: off; the ensemble recipe in the README uses 1)",
    )
    parser.add_argument(
        "--clean-epochs", type=int, default=2,
        help="the last N epochs (all of a shorter run) train on the images as they are, "
             "without augmentation; --quick: 0",
    )
    parser.add_argument("--seed", type=int, default=0,
                        help="fixes the weights' start and the order and distortion of images")
    parser.add_argument(
        "--ensemble", type=int, default=1,
        help="train N models (seeds seed..seed+N-1) and save one model averaging them",
    )
    parser.add_argument(
        "--not-a-digit", type=int,
        help="pictures with no digit to train on, of those the dataset holds (default: all): "
             "the model learns to be unsure of them (not_a_digit.py)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="2,000 images, 1 epoch: a smoke test of seconds"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted run writing --out"
    )
    common.add_debug_flag(parser)
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "width", "ensemble"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.width > MAX_WIDTH:
        parser.error(f"--width must be at most {MAX_WIDTH}")
    if args.not_a_digit is not None and args.not_a_digit < 0:
        parser.error("--not-a-digit must be at least 0")
    if args.clean_epochs < 0:
        parser.error("--clean-epochs must be at least 0")
    args.clean_epochs = min(args.clean_epochs, args.epochs)
    if not 0 <= args.label_smoothing < 1:
        parser.error("--label-smoothing must be in [0, 1)")
    # Beyond 2 the stroke blend would overshoot a full dilation or erosion.
    if not 0 <= args.distortion <= 2:
        parser.error("--distortion must be in [0, 2]")
    if not 0 <= args.elastic <= 3:
        parser.error("--elastic must be in [0, 3] pixels")
    if not 0 < args.learning_rate < float("inf"):
        parser.error("--learning-rate must be a positive number")
    if not 0 <= args.seed <= 2**32 - args.ensemble:  # Keras takes seeds below 2**32.
        parser.error(f"--seed must be between 0 and {2**32 - args.ensemble}")
    if args.out is None:
        args.out = QUICK_PATH if args.quick else common.MODEL_PATH
    # Found now rather than after the training: a model that cannot be saved.
    if args.out.suffix.lower() != ".keras" or args.out.is_dir():
        parser.error(f"--out must name a .keras file, not {args.out}")
    return args


def train(args, data, run_dir, seed):
    """Fits one model; returns the per-epoch history read back from the run's CSV log."""
    import keras
    import tensorflow as tf

    from augment import make_datasets
    from callbacks import CleanEpochs, EpochClock
    from model import build_model
    from schedules import WarmupLinearDecay

    keras.utils.set_random_seed(seed)
    with tf.device("/CPU:0"):  # Read by the input pipeline, as the generator's state.
        augmenting = tf.Variable(True, trainable=False)
    train_ds, val_ds = make_datasets(data, args.batch_size, seed, augmenting, args.distortion,
                                     args.elastic)
    steps = args.epochs * len(train_ds)
    if args.schedule == "linear":
        schedule = WarmupLinearDecay(args.learning_rate, warmup_steps=steps // 10, total_steps=steps)
    else:
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
        # Sixteen batches per call into TensorFlow instead of one: the same arithmetic,
        # with 15% less wall time per epoch on 2 CPU cores (docs/experiments.md, ninth round).
        steps_per_execution=16,
    )
    history_path = run_dir / "history.csv"
    earlier = read_history(history_path)
    callbacks = [
        # Stops at the first batch whose loss is NaN; main() then refuses to save the run.
        keras.callbacks.TerminateOnNaN(),
        CleanEpochs(augmenting, args.epochs, args.clean_epochs),
        EpochClock(earlier[-1] if earlier else None),
        # Saves weights, optimizer state and the epoch after every epoch, so --resume loses
        # at most the epoch that was running.
        keras.callbacks.BackupAndRestore(run_dir / "backup"),
        keras.callbacks.CSVLogger(history_path, append=True),
        # Validation loss, not accuracy, chooses the epoch: on 5,000 images accuracy moves in
        # steps of 0.02 points and ties are common, and a tie once kept an epoch from halfway
        # through the schedule over the final one. The loss separates them. Only the weights:
        # the kept model is rebuilt from model.py, without the optimizer that trained it.
        keras.callbacks.ModelCheckpoint(
            run_dir / KEPT_WEIGHTS,
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=min((row["val_loss"] for row in earlier), default=None),
        ),
    ]
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
        shuffle=False,  # The dataset shuffles itself each epoch.
    )
    return read_history(history_path)


def read_history(path):
    if not os.path.lexists(path):
        return []
    try:
        with safe_files.open_input(path) as raw, io.TextIOWrapper(raw, newline="") as f:
            return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(f)]
    except safe_files.Refused as error:
        raise common.UserError(f"{error}: train without --resume to start afresh") from None
    except (ValueError, TypeError) as error:  # a value that is no number, a row cut short
        raise common.UserError(f"{path} is damaged ({error}): train without --resume to start "
                               "afresh") from None


def model_tag(out):
    """The name of a model's run folder and curves: the model's name for a model in models/
    ("digit_cnn"), else its name and 8 hex digits of its full path ("wide-1a2b3c4d"), so that
    two models of one name in two folders share neither."""
    folder = os.path.realpath(out.parent)
    if folder == os.path.realpath(common.MODEL_PATH.parent) and out.suffix == ".keras":
        return out.stem
    return f"{out.stem}-{hashlib.sha256(os.path.join(folder, out.name).encode()).hexdigest()[:8]}"


def curves_path(tag):
    name = "training_curves.png"
    return common.REPORTS_DIR / (name if tag == common.MODEL_PATH.stem else f"{tag}_{name}")


CURVES = "figure:train.py training curves"  # What the curves are, as their PNG says.


def plot_curves(members):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for member in members:
        history = member["history"]
        epochs = [int(row["epoch"]) + 1 for row in history]
        label = f" (seed {member['seed']})" if len(members) > 1 else ""
        ax_loss.plot(epochs, [row["loss"] for row in history], label="train" + label)
        ax_loss.plot(epochs, [row["val_loss"] for row in history], label="validation" + label)
        # Training accuracy is on distorted copies, except in the clean epochs at the end.
        ax_acc.plot(epochs, [100 * row["accuracy"] for row in history], label="train" + label)
        ax_acc.plot(epochs, [100 * row["val_accuracy"] for row in history],
                    label="validation" + label)
    ax_loss.set(xlabel="epoch", ylabel="loss (with label smoothing)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy", ylim=(97, 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def kept_model(path, width, name="digit_cnn", temperature=1.0):
    """The model of a run's kept epoch: model.py's network with the weights at path and the
    given temperature, and no optimizer, so that the saved file is small and loads without
    this file's schedule."""
    from model import build_model

    model = build_model(width=width, name=name, temperature=temperature)
    model.load_weights(path)
    return model


def average_models(paths, width, temperature=1.0):
    """One model whose output is the mean of the members' probabilities, each member
    calibrated by the one temperature they share."""
    import keras

    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    outputs = [kept_model(path, width, name=f"member_{index}", temperature=temperature)(inputs)
               for index, path in enumerate(paths)]
    outputs = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=f"digit_cnn_ensemble_of_{len(paths)}")


def kept_logits(paths, width, images):
    """(members, N, 10): each kept model's logits, before its temperature, for images."""
    import keras

    logits = []
    for path in paths:
        model = kept_model(path, width)
        head = keras.Model(model.inputs, model.get_layer("logits").output)
        logits.append(head.predict(images[..., None], batch_size=1024, verbose=0))
    return np.stack(logits)


def calibrate(logits, labels):
    """Fits the temperature of the members' logits (calibration.fit_temperature) on these
    labels; returns it and what it changed, for the training record."""
    temperature = calibration.fit_temperature(logits, labels)

    def measured(t):
        probabilities = calibration.averaged_probabilities(logits, t)
        return {"log_loss": calibration.log_loss(probabilities, labels),
                "ece": calibration.expected_calibration_error(probabilities, labels),
                "accuracy": float((probabilities.argmax(axis=1) == labels).mean())}

    return temperature, {"temperature": temperature, "split": "validation",
                         "before": measured(1.0), "after": measured(temperature)}


def refusals(model, data):
    """The share of the validation digits, and of the validation pictures with no digit, whose
    top probability is under recognize.MIN_CONFIDENCE: predict.py gives no digit for them."""
    def refused(images):
        probabilities = model.predict(images[..., None], batch_size=1024, verbose=0)
        return float((probabilities.max(axis=1) < recognize.MIN_CONFIDENCE).mean())

    no_digit = data.get("x_not_a_digit_val", np.zeros((0, 28, 28), np.uint8))
    return {"validation_digits_refused": refused(data["x_val"]),
            "validation_pictures_with_no_digit": len(no_digit),
            "validation_pictures_with_no_digit_refused": refused(no_digit) if len(no_digit) else 0.0}


def check_resumable(run_dir, config):
    """Raises UserError unless run_dir holds a run that this train.py started with the same
    options: resuming with others would mix two recipes in one history."""
    if not run_dir.exists():
        raise common.UserError(f"nothing to resume in {run_dir}: train without --resume")
    try:
        started = json.loads(safe_files.read_bytes(run_dir / RUN_OPTIONS, 1_000_000))
        if not isinstance(started, dict):
            raise TypeError("not an object")
    except (OSError, ValueError, TypeError):
        raise common.UserError(f"{run_dir} was not started by this version of train.py and "
                               "cannot be resumed: train without --resume") from None
    changed = [f"--{key.replace('_', '-')} {started.get(key)} (now {value})"
               for key, value in config.items() if started.get(key) != value]
    if changed:
        raise common.UserError("--resume needs the options the run was started with: "
                               + ", ".join(changed))


def check_finite(history, member_dir):
    """Raises UserError when the run stopped on a NaN loss or has no epoch to keep."""
    if not history:
        raise common.UserError(f"{member_dir} holds no finished epoch: was it removed by another "
                               "train.py writing the same --out name?")
    for row in history:
        if not (np.isfinite(row["loss"]) and np.isfinite(row["val_loss"])):
            raise common.UserError(
                f"training diverged: the loss became NaN in epoch {int(row['epoch']) + 1}; "
                "nothing was written (try a lower --learning-rate)")


def lock_run(run_dir, out):
    """Locks runs/.<run>.lock, so that a second train.py writing the same model (out) stops
    at once instead of removing this run's checkpoints; returns the open lock file.
    The lock is the operating system's: it lasts while the file is open, and ends with the
    process however it ends. Where there is no fcntl (Windows) runs are not locked."""
    try:
        import fcntl
    except ImportError:
        return None
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    path = run_dir.with_name(f".{run_dir.name}.lock")
    # A FIFO in its place would block the open for good.
    if os.path.lexists(path) and safe_files.kind(path) != "file":
        raise common.UserError(f"{path} {safe_files.kind(path)}: remove it")
    lock = open(path, "w")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise common.UserError(f"another train.py is training into {run_dir} (a model named "
                               f"{out.name}): wait for it, or choose another --out") from None
    return lock


def main(argv=None):
    args = parse_args(argv)
    common.writable_folder(args.out.parent)
    common.writable_folder(common.REPORTS_DIR)  # For the training curves, at the end.
    tag = model_tag(args.out)
    json_path, curves = args.out.with_suffix(".json"), curves_path(tag)
    # Found now rather than after the training: an output that would replace the dataset,
    # another kind of record (data/mnist.json beside --out data/mnist.keras) or a file that
    # is not a model, a training record or training curves.
    outputs = {args.out: "keras", json_path: "record:training", curves: CURVES}
    common.check_outputs(outputs, inputs=[args.data])
    for folder in (args.out.parent, common.REPORTS_DIR, Path("runs")):
        safe_files.remove_leftovers(folder)  # Temporary files of a killed train.py.
    data = common.load_dataset(args.data)
    if args.quick:
        args.epochs, args.clean_epochs = 1, 0  # a smoke test runs the augmenting pipeline
        data["x_train"], data["y_train"] = data["x_train"][:2000], data["y_train"][:2000]
        data["x_val"], data["y_val"] = data["x_val"][:500], data["y_val"][:500]
        args.not_a_digit = 200 if args.not_a_digit is None else args.not_a_digit
    # Pictures with no digit join the training images with a label of their own, which the
    # input pipeline turns into the same probability for every digit (augment.py).
    no_digit = data.get("x_not_a_digit_train", np.zeros((0, 28, 28), np.uint8))
    no_digit = no_digit[: args.not_a_digit]
    data["x_train"] = np.concatenate([data["x_train"], no_digit])
    data["y_train"] = np.concatenate([data["y_train"],
                                      np.full(len(no_digit), common.NUM_CLASSES, np.uint8)])

    config = {key: (str(value) if isinstance(value, Path) else value)
              for key, value in vars(args).items() if key not in ("debug", "resume")}
    run_dir = Path("runs") / tag
    lock = lock_run(run_dir, args.out)  # Held until train.py exits.
    if args.resume:
        check_resumable(run_dir, config)
    else:
        if run_dir.exists():
            print(f"Starting afresh: removing the earlier run in {run_dir} "
                  "(use --resume to continue it)")
            shutil.rmtree(run_dir)
        common.write_record(run_dir / RUN_OPTIONS, "run options", config)

    # TensorFlow only now: --help, bad options and unusable files do not wait for it.
    common.quiet_tensorflow()
    import keras
    import tensorflow as tf

    members = []
    for seed in range(args.seed, args.seed + args.ensemble):
        member_dir = run_dir / f"seed{seed}"
        member_dir.mkdir(parents=True, exist_ok=True)
        history = read_history(member_dir / "history.csv")
        finished = len(history) == args.epochs and (member_dir / KEPT_WEIGHTS).exists()
        if not finished:
            if args.ensemble > 1:
                print(f"Ensemble member {seed - args.seed + 1} of {args.ensemble}, seed {seed}")
            try:
                history = train(args, data, member_dir, seed)
            except KeyboardInterrupt:
                print("To continue from the last completed epoch: the same command with "
                      "--resume", file=sys.stderr)
                raise
            except (ValueError, OSError) as error:
                if not args.resume:
                    raise
                # The checkpoint Keras restores from (its weights or its epoch) is damaged.
                raise common.UserError(f"the run in {member_dir} cannot be resumed "
                                       f"({common.first_line(error)}): train without --resume "
                                       "to start afresh") from None
        check_finite(history, member_dir)
        kept = int(np.argmin([row["val_loss"] for row in history]))
        members.append({
            "seed": seed,
            "path": member_dir / KEPT_WEIGHTS,
            "history": history,
            "kept_epoch": kept + 1,
            "val_accuracy": history[kept]["val_accuracy"],
            "wall_seconds": history[-1]["seconds"],
        })

    # One temperature, fitted on the validation split after training (the test split is
    # never read here): the training loss is the same recipe's, and every answer stays the
    # same. An ensemble's members share it, fitted on the average of their probabilities.
    paths = [member["path"] for member in members]
    temperature, calibrated = calibrate(kept_logits(paths, args.width, data["x_val"]),
                                        data["y_val"])
    if args.ensemble == 1:
        model = kept_model(paths[0], args.width, temperature=temperature)
        val_accuracy = members[0]["val_accuracy"]
    else:
        model = average_models(paths, args.width, temperature)
        val_accuracy = calibrated["after"]["accuracy"]
    wall_seconds = sum(member["wall_seconds"] for member in members)

    refused = refusals(model, data)
    record = {
        "config": config,
        "train_size": len(data["x_train"]),
        "not_a_digit": {"trained_on": len(no_digit), **refused},
        "val_size": len(data["x_val"]),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "val_accuracy": val_accuracy,
        "calibration": calibrated,
        "wall_seconds": wall_seconds,
    }
    if args.ensemble == 1:
        record.update({key: members[0][key] for key in ("history", "kept_epoch")})
    else:
        record["members"] = [{key: value for key, value in member.items() if key != "path"}
                             for member in members]
    figure = plot_curves(members)
    # The model, its record and its curves as one set: a failure replaces none of them.
    try:
        common.write_together({
            args.out: ("keras", model.save),
            json_path: common.record_writer("training", record),
            curves: (CURVES, common.figure_writer(figure, CURVES.partition(":")[2], dpi=100)),
        }, inputs=[args.data])
    finally:
        from matplotlib import pyplot

        pyplot.close(figure)
    shutil.rmtree(run_dir)
    if lock:
        Path(lock.name).unlink()

    if args.ensemble == 1:
        history = members[0]["history"]
        best = int(np.argmax([row["val_accuracy"] for row in history]))
        kept = (f"Kept epoch {members[0]['kept_epoch']} of {len(history)} (lowest validation "
                f"loss): validation accuracy {100 * val_accuracy:.2f}% (best "
                f"{100 * history[best]['val_accuracy']:.2f}%, epoch {best + 1})")
    else:
        kept = f"The average of {args.ensemble} models: validation accuracy {100 * val_accuracy:.2f}%"
    before, after = calibrated["before"], calibrated["after"]
    at_bound = min(temperature / calibration.MIN_TEMPERATURE,
                   calibration.MAX_TEMPERATURE / temperature) < 1.01
    bound = " (at the end of its range: too few validation mistakes to place it)"
    print(
        f"{kept}; training wall time {wall_seconds:.0f} s.\n"
        f"Temperature {temperature:.3f}, fitted on the validation split{bound if at_bound else ''}"
        f": log-loss {before['log_loss']:.4f} -> {after['log_loss']:.4f}, ECE "
        f"{100 * before['ece']:.2f}% -> {100 * after['ece']:.2f}%.\n"
        f"Below {recognize.MIN_CONFIDENCE:.0%}, where predict.py answers that there is no digit:"
        f" {refused['validation_digits_refused']:.2%} of the validation digits, "
        f"{refused['validation_pictures_with_no_digit_refused']:.1%} of "
        f"{refused['validation_pictures_with_no_digit']} pictures with no digit.\n"
        f"Wrote {args.out}, {json_path} and {curves}."
    )
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
