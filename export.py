"""Exports the trained digit CNN for serving: a SavedModel, LiteRT float and int8, and ONNX.

Reads:  models/digit_cnn.keras (from train.py)
        data/mnist.npz: training images calibrate the int8 model; validation images check
        that every export still gives the Keras model's answers
Writes, beside the model:
        models/digit_cnn_savedmodel/   TensorFlow SavedModel (TF Serving, tf.saved_model.load)
        models/digit_cnn.tflite        LiteRT (TensorFlow Lite) model, float32
        models/digit_cnn_int8.tflite   LiteRT model computing in int8; it takes the uint8
                                       pixels as they are and returns float32 probabilities
        models/digit_cnn.onnx          ONNX, float32; only where tf2onnx and onnxruntime are
                                       installed (`pip install tf2onnx onnx onnxruntime`)
        models/export.json             formats, sizes, SHA-256 hashes of the .keras and of
                                       each export file, agreement with the Keras model, time
                                       (NAME_export.json for a model NAME.keras)

Every artifact is checked, and only when all have passed, with their record, do they
replace the earlier ones, so a failed export leaves the previous set and record as they
were. No export replaces a file that is not an export of its format, nor one that another
model's record lists. evaluate.py and predict.py take any of them with --model; predict.py
answers with the float LiteRT model by default while the record's hash of the .keras
matches the file (model_files.model_to_serve).

    python export.py
    python export.py --model models/digit_cnn.keras --calibration-size 1000
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import importlib.util
import json
import shutil
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import common
import model_files
import safe_files
import safe_outputs

# TensorFlow is imported by the functions that use it, once main() has checked the options
# and files (through common.quiet_tensorflow(), which keeps its start-up chatter quiet):
# --help and a bad option answer at once.

# What each artifact is called (after the model's stem), what it holds, and what an earlier
# file at its path must be to be replaced (safe_outputs.output_kind).
FORMATS = {
    "savedmodel": ("_savedmodel", "TensorFlow SavedModel, float32", "savedmodel"),
    "float": (".tflite", "LiteRT flatbuffer, float32", "tflite"),
    "int8": ("_int8.tflite", "LiteRT flatbuffer, int8 inside, uint8 pixels in, float32 out",
             "tflite"),
    "onnx": (".onnx", "ONNX, float32", "onnx"),
}
# ONNX is written only where its converter and runtime are installed; they are not needed
# for anything else.
ONNX_INSTALLED = all(importlib.util.find_spec(name) for name in ("tf2onnx", "onnxruntime"))

# Each export must give the Keras model's answer on at least this share of the validation
# images. The check catches a broken export (wrong input scaling, a failed calibration: those
# agree at about chance), not a weak model. Float exports differ only in rounding; int8 also
# flips near-ties, of which a barely trained model (train.py --quick) has many.
MIN_AGREEMENT = {"savedmodel": 0.99, "float": 0.99, "int8": 0.90, "onnx": 0.99}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", type=Path, default=common.MODEL_PATH, help=".keras model")
    parser.add_argument("--data", type=Path, default=common.DATA_PATH, help="dataset npz")
    parser.add_argument(
        "--calibration-size", type=int, default=500,
        help="training images that set the int8 model's value ranges",
    )
    parser.add_argument(
        "--check-size", type=int, default=2000,
        help="validation images on which each export is compared with the Keras model",
    )
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.calibration_size < 1 or args.check_size < 1:
        parser.error("--calibration-size and --check-size must be at least 1")
    if args.model.suffix.lower() != ".keras":
        parser.error(f"--model must be a .keras file, not {args.model}")
    return args


def check_agreement(kind, path, images, keras_labels):
    """Returns the share of images on which the export at path gives keras_labels.

    The export is loaded as evaluate.py and predict.py load it, so one that passes here is
    one they can use. Raises UserError below MIN_AGREEMENT.
    """
    predict = model_files.load_classifier(path)
    share = float(np.mean(predict(images).argmax(axis=1) == keras_labels))
    if share < MIN_AGREEMENT[kind]:
        raise common.UserError(
            f"the {kind} export agrees with the Keras model on only {100 * share:.2f}% of "
            f"{len(images)} validation images (at least {100 * MIN_AGREEMENT[kind]:.0f}% "
            "expected); earlier exports were kept"
        )
    return share


def stage_exports(writers, staged, images, keras_labels):
    """Writes every export with writers[kind](staged[kind], staged SavedModel) into the
    hidden staging folder and checks each; returns each one's agreement with the Keras
    model. Nothing outside the staging folder is touched."""
    import tensorflow as tf
    from tensorflow.lite.python.convert_phase import ConverterError

    agreement = {}
    for kind, write in writers.items():
        try:
            write(staged[kind], staged["savedmodel"])
            agreement[kind] = check_agreement(kind, staged[kind], images, keras_labels)
        except (tf.errors.OpError, ConverterError, ValueError, RuntimeError) as error:
            raise common.UserError(f"the {kind} export failed ({failure_reason(error)}); "
                                   "earlier exports were kept") from None
    return agreement


def check_not_anothers(paths, model):
    """Raises UserError when one of paths is an export that another model's record in the
    same folder lists (models/digit_cnn_int8.keras's float export would be
    models/digit_cnn_int8.tflite, digit_cnn's int8 export)."""
    for record_path in model.parent.glob("*.json"):
        try:
            record = json.loads(safe_files.read_bytes(record_path, 1_000_000))
            if (not isinstance(record, dict) or safe_outputs.record_kind(record) != "export"
                    or Path(record["source_model"]).name == model.name):
                continue
            listed = {Path(artifact["path"]).name for artifact in record["artifacts"].values()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # Not a record this can read: it lists nothing.
        for path in paths:
            if path.name in listed:
                raise common.UserError(
                    f"{path} is an export of {Path(record['source_model']).name} (listed in "
                    f"{record_path}): it is not replaced; rename {model.name}")


def failure_reason(error):
    """One line from an error of TensorFlow or its LiteRT converter. The converter's text is
    a list of "<where>: error: <what>" lines, the last the conclusion: its first sentence."""
    from tensorflow.lite.python.convert_phase import ConverterError

    lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    reason = lines[-1].rsplit("error: ", 1)[-1] if isinstance(error, ConverterError) else lines[0]
    return reason.split(". ")[0].strip()[:300]


def convert_to_litert(saved_model_path, calibration_images=None):
    """Converts the SavedModel to LiteRT bytes: float32, or int8 when given calibration images.

    Keras 3 models reach LiteRT through a SavedModel (model.export(format="litert") makes one
    in a temporary folder); converting the SavedModel just exported and checked means every
    served format holds the same graph.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_path))
    if calibration_images is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # The converter runs these through the float model to find each tensor's range of
        # values, which sets its int8 scale.
        converter.representative_dataset = lambda: (
            [image[None, :, :, None].astype(np.float32)] for image in calibration_images
        )
        # Integer kernels only: conversion fails rather than leave float ops behind.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # uint8 input: the pixels 0..255 go in as they are (scale 1, zero point 0), so callers
        # do no arithmetic. The output stays float32: the model computes the probabilities in
        # int8 and its last op dequantizes them, so they read like the float model's.
        converter.inference_input_type = tf.uint8
    with common.native_stderr_silenced():  # The converter's C++ log lines, even on success.
        return converter.convert()


def export_onnx(model, tmp):
    with warnings.catch_warnings():
        # Keras patches tf2onnx for NumPy 2, touching a deprecated NumPy name as it does.
        warnings.simplefilter("ignore", FutureWarning)
        model.export(tmp, format="onnx", verbose=False)


def size_in_bytes(path):
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    stem = args.model.with_suffix("")
    path_of = {kind: Path(f"{stem}{ending}") for kind, (ending, _, _) in FORMATS.items()
               if kind != "onnx" or ONNX_INSTALLED}
    json_path = model_files.export_record_path(args.model)
    if model_files.model_kind(args.model) == "folder":  # Said as load_keras_model says it.
        raise common.UserError(f"model {args.model} is a folder, not a .keras file")
    # What ties the exports to this .keras file: predict.py uses them only while it matches.
    # Taken before the model is read, and again once the exports are made: a file replaced
    # in between (trained again) is found, and nothing is put in place.
    source_sha256 = model_files.file_sha256(args.model)
    model = model_files.load_keras_model(args.model)  # The first to import TensorFlow.
    data = common.load_dataset(args.data)
    # Checked before the work, and again before the set replaces the earlier one.
    outputs = {path_of[kind]: FORMATS[kind][2] for kind in path_of}
    outputs[json_path] = "record:export"
    inputs = [args.model, args.data]
    common.check_outputs(outputs, inputs)
    check_not_anothers(outputs, args.model)

    x_train = data["x_train"]
    rng = np.random.default_rng(0)
    calibration_images = x_train[
        rng.choice(len(x_train), min(args.calibration_size, len(x_train)), replace=False)
    ]
    check_images = data["x_val"][: args.check_size]
    if len(check_images) == 0:
        raise common.UserError(f"{args.data} has no validation images to check the exports on")
    # Refuses, naming this model, one whose outputs are not probabilities, before exporting.
    predict = model_files.checked_probabilities(args.model, model_files.keras_predict(model))
    keras_labels = predict(check_images).argmax(axis=1)

    # Each writer gets its file and the SavedModel written (and checked) before it.
    writers = {
        "savedmodel": lambda tmp, _: model.export(tmp, format="tf_saved_model", verbose=False),
        "float": lambda tmp, saved_model: tmp.write_bytes(convert_to_litert(saved_model)),
        "int8": lambda tmp, saved_model: tmp.write_bytes(
            convert_to_litert(saved_model, calibration_images)),
    }
    if ONNX_INSTALLED:
        writers["onnx"] = lambda tmp, _: export_onnx(model, tmp)
    else:
        print("Skipping ONNX: it needs `pip install tf2onnx onnx onnxruntime`.")

    # Staged in a hidden folder beside the model, named for this process so that a later
    # export removes it if this one is killed.
    safe_outputs.remove_leftovers(args.model.parent)
    staging = safe_outputs.temporary_folder(path_of["savedmodel"])
    staged = {kind: staging / path.name for kind, path in path_of.items()}
    try:
        agreement = stage_exports(writers, staged, check_images, keras_labels)
        if model_files.file_sha256(args.model) != source_sha256:
            raise common.UserError(f"{args.model} changed while it was being exported (trained "
                                   "again?): export it again; earlier exports were kept")
        record = export_record(args, source_sha256, path_of, staged, agreement,
                               len(calibration_images), len(check_images), start)
        staged_record = staging / json_path.name
        common.record_writer("export", record)[1](staged_record)
        # Every destination checked again, then the exports and their record renamed together.
        common.check_outputs(outputs, inputs)
        check_not_anothers(outputs, args.model)
        try:
            safe_outputs.replace_together([(staged[kind], path_of[kind]) for kind in agreement]
                                        + [(staged_record, json_path)])
        except OSError as error:
            raise common.UserError(f"cannot put the exports in place ({error.strerror}); the "
                                   "earlier ones were kept") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for kind in agreement:
        print(f"Wrote {path_of[kind]}")

    print(f"\n{'file':<34} {'bytes':>10} {'size vs .keras':>15}  same digit as the .keras")
    print(f"{args.model!s:<34} {record['source_bytes']:>10,} {1:>15.0%}")
    for artifact in record["artifacts"].values():
        print(
            f"{artifact['path']:<34} {artifact['bytes']:>10,}"
            f" {artifact['bytes'] / record['source_bytes']:>15.0%}"
            f"  on {100 * artifact['agreement_with_keras']:.2f}% of {len(check_images)} images"
        )
    print(f"Wrote {json_path} in {record['wall_seconds']:.0f} s.")
    return common.EXIT_OK


def export_record(args, source_sha256, path_of, staged, agreement, calibration_count,
                  check_count, start):
    """What export.json holds: the exports (sized and hashed as staged), their agreement,
    the settings. The hashes tie them to the .keras file (model_files.model_to_serve)."""
    import keras
    import tensorflow as tf

    return {
        "source_model": str(args.model),
        "source_bytes": size_in_bytes(args.model),
        "source_sha256": source_sha256,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "calibration": {"split": "train", "images": calibration_count, "seed": 0},
        "check": {"split": "validation", "images": check_count},
        "artifacts": {
            kind: {
                "path": str(path_of[kind]),
                "format": FORMATS[kind][1],
                "bytes": size_in_bytes(staged[kind]),
                # A SavedModel is a folder: it is listed, not hashed.
                **({} if staged[kind].is_dir() else {"sha256": model_files.file_sha256(staged[kind])}),
                "agreement_with_keras": share,
            }
            for kind, share in agreement.items()
        },
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
