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
import sys
from pathlib import Path

import numpy as np

import calibration
import common
import ensemble
import flagged_ones
import recognize
import runs
import safe_outputs
import training_curves

# TensorFlow, Keras and the modules that import them (model, augment, callbacks, schedules)
# are imported by the functions that use them, once main() has checked the options: --help
# and a bad option answer at once instead of after seconds of importing TensorFlow.

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
        "--flagged-ones", type=float, default=0.5,
        help="share of the training split's straight 1s given a flag, as most of the world "
             "writes a 1, so that it is not read as a 7 (flagged_ones.py; 0: none)",
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
    common.check_batch_size(parser, args.batch_size)
    if args.width > MAX_WIDTH:
        parser.error(f"--width must be at most {MAX_WIDTH}")
    if args.not_a_digit is not None and args.not_a_digit < 0:
        parser.error("--not-a-digit must be at least 0")
    if args.clean_epochs < 0:
        parser.error("--clean-epochs must be at least 0")
    if not 0 <= args.flagged_ones <= 1:
        parser.error("--flagged-ones must be in [0, 1]")
    if args.quick:  # A smoke test: one epoch of a slice, through the augmenting pipeline.
        args.epochs, args.clean_epochs = 1, 0
        args.not_a_digit = 200 if args.not_a_digit is None else args.not_a_digit
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
    from schedules import make_schedule

    keras.utils.set_random_seed(seed)
    with tf.device("/CPU:0"):  # Read by the input pipeline, as the generator's state.
        augmenting = tf.Variable(True, trainable=False)
    train_ds, val_ds = make_datasets(data, args.batch_size, seed, augmenting, args.distortion,
                                     args.elastic)
    schedule = make_schedule(args.schedule, args.learning_rate, args.epochs * len(train_ds))
    model = build_model(width=args.width)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
        # Sixteen batches per call into TensorFlow instead of one: the same arithmetic, with
        # 15% less wall time per epoch on 2 CPU cores.
        steps_per_execution=16,
    )
    history_path = run_dir / "history.csv"
    earlier = runs.read_history(history_path)
    callbacks = [
        # Stops at the first batch whose loss is NaN; main() then refuses to save the run.
        keras.callbacks.TerminateOnNaN(),
        CleanEpochs(augmenting, args.epochs, args.clean_epochs),
        # Keras's own progress line, placed before the clock: the times go to the history,
        # not to the screen, where Keras would print them to four decimals.
        keras.callbacks.ProgbarLogger(),
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
            run_dir / runs.KEPT_WEIGHTS,
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
    return runs.read_history(history_path)


def training_data(args):
    """The dataset, cut down for --quick, with a share of its 1s given a flag (flagged_ones.py)
    and the pictures with no digit joined to the training images under a label of their own,
    which the input pipeline turns into the same probability for every digit (augment.py).
    Returns it and how many such pictures joined."""
    data = common.load_dataset(args.data)
    if args.quick:
        data["x_train"], data["y_train"] = data["x_train"][:2000], data["y_train"][:2000]
        data["x_val"], data["y_val"] = data["x_val"][:500], data["y_val"][:500]
    data["x_train"] = flagged_ones.flag_some(data["x_train"], data["y_train"],
                                             args.flagged_ones, args.seed)
    no_digit = data.get("x_not_a_digit_train", np.zeros((0, 28, 28), np.uint8))
    no_digit = no_digit[: args.not_a_digit]
    data["x_train"] = np.concatenate([data["x_train"], no_digit])
    data["y_train"] = np.concatenate([data["y_train"],
                                      np.full(len(no_digit), common.NUM_CLASSES, np.uint8)])
    return data, len(no_digit)


def train_members(args, data, run_dir):
    """Trains each ensemble member not finished yet in run_dir (one, without --ensemble);
    returns, per member, its seed, kept weights, history and kept epoch."""
    members = []
    for seed in range(args.seed, args.seed + args.ensemble):
        member_dir = run_dir / f"seed{seed}"
        member_dir.mkdir(parents=True, exist_ok=True)
        history = runs.read_history(member_dir / "history.csv")
        finished = len(history) == args.epochs and (member_dir / runs.KEPT_WEIGHTS).exists()
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
        runs.check_finite(history, member_dir)
        kept = int(np.argmin([row["val_loss"] for row in history]))
        members.append({
            "seed": seed,
            "path": member_dir / runs.KEPT_WEIGHTS,
            "history": history,
            "kept_epoch": kept + 1,
            "val_accuracy": history[kept]["val_accuracy"],
            "wall_seconds": history[-1]["seconds"],
        })
    return members


def print_summary(args, members, record, json_path, curves):
    if args.ensemble == 1:
        history = members[0]["history"]
        best = int(np.argmax([row["val_accuracy"] for row in history]))
        kept = (f"Kept epoch {members[0]['kept_epoch']} of {len(history)} (lowest validation "
                f"loss): validation accuracy {100 * record['val_accuracy']:.2f}% (best "
                f"{100 * history[best]['val_accuracy']:.2f}%, epoch {best + 1})")
    else:
        kept = (f"The average of {args.ensemble} models: validation accuracy "
                f"{100 * record['val_accuracy']:.2f}%")
    temperature = record["calibration"]["temperature"]
    before, after = record["calibration"]["before"], record["calibration"]["after"]
    at_bound = min(temperature / calibration.MIN_TEMPERATURE,
                   calibration.MAX_TEMPERATURE / temperature) < 1.01
    bound = " (at the end of its range: too few validation mistakes to place it)"
    refused = record["not_a_digit"]
    print(
        f"{kept}; training wall time {record['wall_seconds']:.0f} s.\n"
        f"Temperature {temperature:.3f}, fitted on the validation split{bound if at_bound else ''}"
        f": log-loss {before['log_loss']:.4f} -> {after['log_loss']:.4f}, ECE "
        f"{100 * before['ece']:.2f}% -> {100 * after['ece']:.2f}%.\n"
        f"Below {recognize.MIN_CONFIDENCE:.0%}, where predict.py answers that there is no digit:"
        f" {refused['validation_digits_refused']:.2%} of the validation digits, "
        f"{refused['validation_pictures_with_no_digit_refused']:.1%} of "
        f"{refused['validation_pictures_with_no_digit']} pictures with no digit.\n"
        f"Wrote {args.out}, {json_path} and {curves}."
    )


def main(argv=None):
    args = parse_args(argv)
    common.writable_folder(args.out.parent)
    common.writable_folder(common.REPORTS_DIR)  # For the training curves, at the end.
    tag = runs.model_tag(args.out)
    json_path, curves = args.out.with_suffix(".json"), training_curves.path(tag)
    # Found now rather than after the training: an output that would replace the dataset,
    # another kind of record (data/mnist.json beside --out data/mnist.keras) or a file that
    # is not a model, a training record or training curves.
    outputs = {args.out: "keras", json_path: "record:training", curves: training_curves.KIND}
    common.check_outputs(outputs, inputs=[args.data])
    for folder in (args.out.parent, common.REPORTS_DIR, runs.RUNS_DIR):
        safe_outputs.remove_leftovers(folder)  # Temporary files of a killed train.py.
    data, no_digit_count = training_data(args)

    config = {key: (str(value) if isinstance(value, Path) else value)
              for key, value in vars(args).items() if key not in ("debug", "resume")}
    run_dir = runs.RUNS_DIR / tag
    lock = runs.lock(run_dir, args.out)  # Held until train.py exits.
    runs.start(run_dir, config, args.resume)

    # TensorFlow only now: --help, bad options and unusable files do not wait for it.
    common.quiet_tensorflow()
    import keras
    import tensorflow as tf

    members = train_members(args, data, run_dir)
    model, calibrated = ensemble.saved_model([member["path"] for member in members], args.width,
                                             data["x_val"], data["y_val"])
    record = {
        "config": config,
        "train_size": len(data["x_train"]),
        "not_a_digit": {"trained_on": no_digit_count, **ensemble.refusals(model, data)},
        "val_size": len(data["x_val"]),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "val_accuracy": (members[0]["val_accuracy"] if args.ensemble == 1
                         else calibrated["after"]["accuracy"]),
        "calibration": calibrated,
        "wall_seconds": sum(member["wall_seconds"] for member in members),
    }
    if args.ensemble == 1:
        record.update({key: members[0][key] for key in ("history", "kept_epoch")})
    else:
        record["members"] = [{key: value for key, value in member.items() if key != "path"}
                             for member in members]

    figure = training_curves.plot(members)
    # The model, its record and its curves as one set: a failure replaces none of them.
    try:
        common.write_together({
            args.out: ("keras", model.save),
            json_path: common.record_writer("training", record),
            curves: common.figure_writer(training_curves.KIND, figure, dpi=100),
        }, inputs=[args.data])
    finally:
        from matplotlib import pyplot

        pyplot.close(figure)
    runs.finish(run_dir, lock)
    print_summary(args, members, record, json_path, curves)
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
