"""Facts and helpers shared by the stage scripts.

One place for the artifact paths, the dataset file's layout and its checks, the way every
script turns an expected failure into a one-line message and an exit status, and the
scripts' file writes (made safe by safe_files.py: staged, never over an input or a file of
another purpose). Nothing here imports TensorFlow at module level, so predict.py can run a
LiteRT model without paying for it.

Exit statuses used by every script:
    0  success
    1  some inputs failed (the others were answered)
    2  usage error or unusable input data (nothing useful was done)
"""

import contextlib
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
import zipfile
from pathlib import Path

import numpy as np

import safe_files

DATA_PATH = Path("data/mnist.npz")
MODEL_PATH = Path("models/digit_cnn.keras")
REPORTS_DIR = Path("reports")

IMAGE_SIZE = 28
NUM_CLASSES = 10
SPLIT_KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
# Pictures with no digit (not_a_digit.py), which preprocess.py adds to the dataset: training
# teaches the model to be unsure of them, and validation measures it.
NOT_A_DIGIT_KEYS = ("x_not_a_digit_train", "x_not_a_digit_val")

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2

# The most a loader reads of a dataset or a model, in bytes (uncompressed, for archives):
# beyond it the file is refused before it is read. data/mnist.npz holds 55 MB; the widest
# model train.py makes (--width 512) 68 MB.
MAX_DATASET_BYTES = 200_000_000
MAX_MODEL_BYTES = 1_000_000_000


def named_for(model, name):
    """The file name of a record or plot of the model at path model: name itself for the
    default model (reports/training_curves.png), else prefixed with the model's name
    (reports/wide_training_curves.png), so that one model's files do not replace another's."""
    return name if Path(model).stem == MODEL_PATH.stem else f"{Path(model).stem}_{name}"


class UserError(Exception):
    """An expected failure: bad arguments or unusable input. Shown as one line, exit 2."""


def add_debug_flag(parser):
    parser.add_argument(
        "--debug", action="store_true", help="show the full Python traceback on errors"
    )


def add_tta_flag(parser):
    """--tta, for the scripts that classify: see with_shift_averaging()."""
    parser.add_argument(
        "--tta", action="store_true",
        help="test-time augmentation: average each digit's prediction over its 1-pixel shifts "
        "(9x the model calls)",
    )


def standard_streams():
    """Makes sure file descriptors 0, 1 and 2 are open, on /dev/null where they were closed
    (`2>&-`), and that sys.stdout and sys.stderr can be written to; returns the names of the
    streams that were found closed, since the script started.

    A closed descriptor would be taken by the next file the script opens (a model being
    saved, say), and what TensorFlow writes to "stderr" would go into that file. With stderr
    closed the messages are lost but the work is done, and the exit status still tells."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            _closed_streams.add(name)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or stream.closed:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115  Lives as long as the process.
            _closed_streams.add(name)
    return set(_closed_streams)


_closed_streams = set()


def run_cli(main, argv=None):
    """Runs a script's main(argv) and turns expected failures into a message and a status.

    main returns an exit status (or None for success). UserError, a file refused or missing,
    running out of memory and a broken pipe become one line on stderr; only --debug shows
    the traceback. SIGTERM (kill, a job scheduler's stop) stops the script as Ctrl-C does, so
    that it too leaves no half-written file. Closed standard streams: standard_streams().
    """
    standard_streams()
    argv = sys.argv[1:] if argv is None else argv
    prog = Path(sys.argv[0]).name
    if threading.current_thread() is threading.main_thread():  # Where signals are handled.
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return main(argv) or EXIT_OK
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{prog}: error: out of memory", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (for example `| head`); that is not our failure.
        sys.stderr.close()
        return EXIT_OK
    except (UserError, OSError, ValueError) as error:
        if "--debug" in argv:
            traceback.print_exc()
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def atomic_write(path, write, kind="any", inputs=()):
    """Calls write(tmp_path) and renames the result to path, so path is never half-written.

    The temporary file sits in the destination folder (a rename across file systems is not
    atomic), named for this process (safe_files.temporary_name) and with the destination's
    suffix, since some writers (numpy, Keras) choose the format from it. kind says what the
    file is (safe_files.output_kind): a file at path of another kind, or one of inputs, is
    not replaced. On any failure the temporary file is removed and path is left as it was.
    """
    write_together({path: (kind, write)}, inputs)


def write_together(writes, inputs=()):
    """safe_files.write_together: {path: (kind, write)} written as one set, or none of them;
    an output that cannot or must not be written is a UserError, before any is replaced."""
    try:
        safe_files.write_together(writes, inputs)
    except safe_files.CannotWrite as error:
        raise UserError(str(error)) from None


def check_outputs(outputs, inputs=()):
    """Checks before the work that each output (path: kind) may be written, and is not one
    of the inputs: raises UserError otherwise, so that nothing is computed in vain."""
    try:
        safe_files.check_not_inputs(outputs, inputs)
        for path, kind in outputs.items():
            safe_files.check_output(path, kind, folder=kind == "savedmodel")
    except safe_files.CannotWrite as error:
        raise UserError(str(error)) from None


def json_writer(data):
    return lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n")


def record_writer(kind, data):
    """(output kind, write) for write_together: a JSON record of this kind ("dataset",
    "training", "export", "metrics"), which carries "kind" first and replaces only a record
    of the same kind."""
    return f"record:{kind}", json_writer({"kind": kind, **data})


def write_record(path, kind, data, inputs=()):
    write_together({path: record_writer(kind, data)}, inputs)


def figure_writer(figure, purpose, **savefig_options):
    """write(tmp) saving a Matplotlib figure marked as written for purpose ("evaluate.py
    confusion matrix"), so that a later run knows the file as its own."""
    return lambda tmp: figure.savefig(tmp, metadata=safe_files.figure_metadata(purpose),
                                      **savefig_options)


def writable_folder(folder):
    """Makes folder if it is missing and checks that files can be written in it, by writing
    one: an output that cannot be saved is found before the work, not after it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except FileExistsError:
        raise UserError(f"cannot write in {folder}: it is a file, not a folder") from None
    except OSError as error:
        raise UserError(f"cannot write in {folder}: {error.strerror or error}") from None


def write_json(path, data):
    """Writes a JSON of no kind (a benchmark's report): it replaces no record of a kind."""
    atomic_write(path, json_writer(data), "record:")


def check_images(name, x, y):
    """Raises ValueError unless x is uint8 (N, 28, 28), N at least 1, and y holds N uint8
    labels 0..9."""
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{name}: images must be uint8 (N, 28, 28), got {x.dtype} {x.shape}")
    if y.dtype != np.uint8 or y.shape != (len(x),):
        raise ValueError(f"{name}: labels must be uint8 ({len(x)},), got {y.dtype} {y.shape}")
    if not len(y):
        raise ValueError(f"{name}: no images")
    if y.max() >= NUM_CLASSES:
        raise ValueError(f"{name}: label {int(y.max())} is out of range 0..9")


def load_dataset(path=DATA_PATH):
    """Loads the arrays written by preprocess.py, checked, as a dict: the six splits, and the
    pictures with no digit when the dataset holds them.

    Raises UserError, telling the user to rerun preprocess.py, when the file is missing,
    unreadable or not of the expected layout.
    """
    path = Path(path)
    hint = "run `python preprocess.py` (add --force to rebuild it)"
    try:
        file = safe_files.open_input(path)  # A regular file, or refused before it is read.
    except safe_files.Refused as error:
        missing = error.reason.startswith("not found") or "folder" in error.reason
        raise UserError(f"{path} {error.reason}{f': {hint}' if missing else ''}") from None
    with file:
        if not zipfile.is_zipfile(file):  # np.load would take it for a pickle or an array.
            raise UserError(f"{path} is not a usable dataset (not an .npz archive): {hint}")
        try:
            with zipfile.ZipFile(file) as archive:
                safe_files.check_archive(archive, MAX_DATASET_BYTES, path)
            file.seek(0)
            with np.load(file, allow_pickle=False) as npz:
                missing = [key for key in SPLIT_KEYS if key not in npz.files]
                if missing:
                    raise ValueError(f"missing arrays {', '.join(missing)}")
                data = {key: npz[key] for key in SPLIT_KEYS + NOT_A_DIGIT_KEYS if key in npz.files}
            for split in ("train", "val", "test"):
                check_images(split, data[f"x_{split}"], data[f"y_{split}"])
            for key in NOT_A_DIGIT_KEYS:
                if key in data and (data[key].dtype != np.uint8 or data[key].shape[1:] != (28, 28)):
                    raise ValueError(f"{key}: images must be uint8 (N, 28, 28)")
        except safe_files.Refused as error:
            raise UserError(f"{path} is not a usable dataset ({error.reason}): {hint}") from None
        # A damaged array header makes NumPy raise a parser's errors (SyntaxError, TokenError)
        # or, when it declares an absurd shape, MemoryError: all mean the same here.
        except Exception as error:  # noqa: BLE001
            raise UserError(f"{path} is not a usable dataset ({first_line(error)}): {hint}"
                            ) from None
    return data


def quiet_tensorflow():
    """Imports TensorFlow with its C++ start-up chatter (CUDA probing, CPU flags) kept off the
    terminal, and Keras on it with images laid out channels last, whatever the environment
    or keras.json says; call it where TensorFlow is needed anyway, before its first import."""
    standard_streams()  # Before TensorFlow writes to a descriptor 2 that may be closed.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Keras 3 can run on other backends, chosen by this variable; this project's training
    # and exports are TensorFlow's, whatever a user's shell sets for other work.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if "tensorflow" not in sys.modules:
        # TensorFlow 2.21 writes its CUDA probe before its logging reads that setting, so the
        # import itself runs with stderr silenced; an import that fails still raises.
        try:
            with native_stderr_silenced():
                import tensorflow  # noqa: F401
        except KeyboardInterrupt:  # The seconds of import come before run_cli catches it.
            print(f"{Path(sys.argv[0]).name}: interrupted", file=sys.stderr)
            sys.exit(130)
        import keras

        # Every layer and op here assumes images laid out (height, width, channels); a
        # keras.json elsewhere on the machine may have set the other order.
        keras.config.set_image_data_format("channels_last")


def file_sha256(path, cap=MAX_MODEL_BYTES):
    """The SHA-256 of a regular file of at most cap bytes, in hex; UserError otherwise."""
    digest = hashlib.sha256()
    try:
        with safe_files.open_input(path) as file:
            for chunk in safe_files.file_chunks(file, cap, path):
                digest.update(chunk)
    except safe_files.Refused as error:
        raise UserError(str(error)) from None
    return digest.hexdigest()


def export_record_path(keras_path):
    """Where export.py records the exports of the .keras model at keras_path:
    models/export.json for the default model, models/NAME_export.json for NAME.keras."""
    keras_path = Path(keras_path)
    return keras_path.parent / named_for(keras_path, "export.json")


def model_to_serve(keras_path=MODEL_PATH):
    """The model that answers when the user names none: the float LiteRT export beside
    keras_path (models/digit_cnn.tflite) when export.py wrote it from keras_path as that file
    is now, else keras_path itself.

    LiteRT starts in a fraction of a second where TensorFlow, which the .keras file needs,
    takes seconds, and the float export gives the same probabilities (within 1e-4). "As that
    file is now": the export record holds the SHA-256 of the .keras it was made from and of
    the .tflite it wrote, and both must match the files. When a .tflite is there but does
    not match (the model was trained again since, or the record is missing or from an older
    export.py), one line on stderr says so and how to refresh it, and the .keras answers.
    No .tflite at all is the plain case of a model not exported, and says nothing.
    """
    keras_path = Path(keras_path)
    tflite = keras_path.with_suffix(".tflite")
    if not os.path.lexists(tflite) or safe_files.kind(keras_path) != "file":
        return keras_path  # Loading it says what is wrong with it, if anything.
    reason = _export_mismatch(keras_path, tflite)
    if reason is None:
        return tflite
    refresh = "python export.py" + ("" if keras_path == MODEL_PATH else f" --model {keras_path}")
    print(f"{Path(sys.argv[0]).name}: {tflite} is out of date ({reason}): answering with "
          f"{keras_path} instead, which starts slower; `{refresh}` refreshes it",
          file=sys.stderr)
    return keras_path


def _export_mismatch(keras_path, tflite):
    """Why the float export tflite is not known to be keras_path's as it is now, or None."""
    record_path = export_record_path(keras_path)
    if not os.path.lexists(record_path):
        return f"no export record {record_path}"
    try:
        record = json.loads(safe_files.read_bytes(record_path, 1_000_000))
        if not isinstance(record, dict) or safe_files.record_kind(record) != "export":
            return f"{record_path} is not an export record"
        source_hash = record.get("source_sha256")
        float_export = record.get("artifacts", {}).get("float", {})
    except (OSError, ValueError, AttributeError):
        return f"{record_path} cannot be read"
    if not isinstance(source_hash, str) or not isinstance(float_export, dict):
        return f"{record_path}, from an older export.py, does not tie it to a .keras file"
    if source_hash != file_sha256(keras_path):
        return f"{keras_path} has changed since the export"
    try:
        if float_export.get("sha256") != file_sha256(tflite):
            return f"it is not the file {record_path} lists"
    except UserError as error:
        return str(error)
    return None


def load_classifier(path=MODEL_PATH, threads=None):
    """Loads a trained model and returns predict(images) -> (N, 10) float32 probabilities.

    images are uint8 (N, 28, 28) in MNIST form. path is a .keras file, a SavedModel folder,
    a LiteRT .tflite file (float or int8) or an .onnx file, as export.py writes them (the
    suffix in any case); .tflite and .onnx models run without importing TensorFlow. Raises
    UserError when the model is missing or not a regular file (a FIFO, a device: refused
    before anything reads it), is larger than MAX_MODEL_BYTES, is not a model of its format,
    does not map 28x28 images to 10 classes, gives something other than probabilities for a
    blank image (scores before a softmax, NaN), or (a .keras file) would run code on load;
    predict raises it too when a batch's outputs are not probabilities. threads is how many
    CPU threads a LiteRT model runs on (default: every core; read_many.py's workers, one per
    core, take one each).
    """
    path = Path(path)
    loader = {"savedmodel": _load_saved_model, ".keras": _load_keras,
              ".tflite": lambda tflite: _load_tflite(tflite, threads or os.cpu_count()),
              ".onnx": _load_onnx}[check_model_path(path)]
    return checked_probabilities(path, loader(path))


def check_model_path(path):
    """The format of the model at path (".keras", ".tflite", ".onnx" or "savedmodel"), told
    from its suffix and whether it is a file or a folder, without reading it; UserError when
    it is missing, neither a file nor a folder, or of no known format."""
    path = Path(path)
    suffix = path.suffix.lower()
    if model_kind(path) == "folder":
        if suffix in (".keras", ".tflite", ".onnx"):
            raise UserError(f"model {path} is a folder, not a {suffix} file")
        return "savedmodel"
    if suffix in (".keras", ".tflite", ".onnx"):
        return suffix
    raise UserError(f"model {path}: unknown format "
                    "(expected .keras, .tflite, .onnx or a SavedModel folder)")


def model_kind(path):
    """"file" or "folder" for a model's path; UserError for anything else (missing, a FIFO,
    a device, a link loop), said before any library opens it."""
    found = safe_files.kind(path)
    if found == "not found":
        raise UserError(f"model {path} not found: run `python train.py` first")
    if found not in ("file", "folder"):
        raise UserError(f"model {path} {found}")
    return found


def read_model_bytes(path):
    """The bytes of a model file, checked to be a regular file of at most MAX_MODEL_BYTES."""
    try:
        return safe_files.read_bytes(path, MAX_MODEL_BYTES)
    except safe_files.Refused as error:
        raise UserError(f"model {path} {error.reason}") from None


def checked_probabilities(path, predict):
    """predict, checked to give probabilities: on one blank image now, so that a model that
    does not is refused before anything is printed or written, and on every batch after."""

    def probabilities(images):
        values = predict(images)
        # An int8 model's probabilities are rounded to 1/256 each.
        if len(values) and not (np.isfinite(values).all() and values.min() >= -0.01
                                and np.allclose(values.sum(axis=1), 1, atol=0.05)):
            raise UserError(f"model {path} does not give probabilities (each image's 10 "
                            "outputs from 0 to 1, summing to 1): does it end in a softmax?")
        return values

    probabilities(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.uint8))
    return probabilities


def with_shift_averaging(predict):
    """Test-time augmentation: wraps a predict function so that it returns, for each image,
    the mean of the probabilities for the image and its eight one-pixel shifts (the vacated
    border filled with background). Nine model calls per image; on MNIST it removes a few
    errors of the kind a digit drawn slightly off-centre causes."""
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def averaged(images):
        padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
        views = [padded[:, 1 + dy:1 + dy + IMAGE_SIZE, 1 + dx:1 + dx + IMAGE_SIZE]
                 for dy, dx in shifts]
        return np.mean([predict(view) for view in views], axis=0, dtype=np.float32)

    return averaged


def first_line(error):
    """An error's message in one line: its first, and the next one when the first only
    introduces it ("... Example error message for object <Conv2D>:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return text[:300]


def load_keras_model(path):
    """The keras.Model in a .keras file, checked to map 28x28 images to 10 classes."""
    path = Path(path)
    if model_kind(path) == "folder":  # Keras would say "File not found".
        raise UserError(f"model {path} is a folder, not a .keras file")
    try:
        file = safe_files.open_input(path)
    except safe_files.Refused as error:
        raise UserError(f"model {path} {error.reason}") from None
    with file:
        if not zipfile.is_zipfile(file):  # Keras would say "File not found".
            raise UserError(f"model {path} could not be loaded safely: not a .keras file (a "
                            ".keras file is a zip archive), or cut short")
        try:
            with zipfile.ZipFile(file) as archive:
                safe_files.check_archive(archive, MAX_MODEL_BYTES, path)
            file.seek(0)
            quiet_tensorflow()  # imports TensorFlow quietly, so Keras's import prints nothing
            # The file already open, checked, is what Keras reads (its own load_model wants a
            # path ending in a lower-case ".keras", and would open the path again).
            from keras.src.saving import saving_lib

            # safe_mode=True refuses Lambda layers and other pickled Python code in the file:
            # a .keras from elsewhere must not be able to run code on this machine. Weights
            # that do not fit the layers make Keras warn once per layer before it raises.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = saving_lib.load_model(file, safe_mode=True)
        except safe_files.Refused as error:
            raise UserError(f"model {path} could not be loaded safely: {error.reason}") from None
        except Exception as error:  # noqa: BLE001  Keras raises many types for a bad file.
            raise UserError(f"model {path} could not be loaded safely: {first_line(error)}"
                            ) from None
    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:  # A Sequential model saved before it was built.
        raise UserError(f"model {path} has no defined input: build it before saving") from None
    _check_one_input_and_output(path, inputs, outputs)
    check_model_shapes(path, inputs[0].shape, outputs[0].shape)
    return model


def _load_keras(path):
    return keras_predict(load_keras_model(path))


def keras_predict(model):
    """predict(images) -> probabilities for a loaded keras.Model, as load_classifier gives it."""
    # predict_on_batch, not predict: predict sets up a dataset and a loop on every call,
    # about 130 ms, which made predict.py's batches of 256 pictures 2.3x slower.
    return lambda images: _in_batches(
        lambda batch: model.predict_on_batch(batch[..., None]), images, batch_size=256
    )


def _load_tflite(path, threads):
    # The LiteRT runtime alone imports in a fraction of a second; TensorFlow takes seconds.
    from ai_edge_litert.interpreter import Interpreter

    content = read_model_bytes(path)
    try:
        # LiteRT announces on stderr that it uses XNNPACK (its fast CPU kernels) the first time
        # it allocates, and no setting turns that off; its errors come back as exceptions.
        with native_stderr_silenced():
            interpreter = Interpreter(model_content=content, num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise UserError(f"model {path} is not a usable LiteRT model: {first_line(error)}") from None
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    _check_one_input_and_output(path, inputs, outputs)
    (input_detail,), (output_detail,) = inputs, outputs
    check_model_shapes(path, input_detail["shape_signature"], output_detail["shape_signature"])
    pixels_shape = tuple(input_detail["shape"][1:])  # (28, 28, 1) or (28, 28)
    # Models converted from a Keras model built for one batch size take only that size.
    fixed_batch = int(input_detail["shape_signature"][0])  # -1: any

    def run(batch):
        count = len(batch)
        if fixed_batch > 0:  # The last batch is filled up with blank images.
            batch = np.concatenate([batch, np.zeros((fixed_batch - count, *batch.shape[1:]),
                                                    batch.dtype)])
        # The interpreter's shapes are fixed until resized: resize it when the batch size
        # changes, which happens at most twice in a run (full batches, then the last one).
        elif interpreter.get_input_details()[0]["shape"][0] != count:
            interpreter.resize_tensor_input(input_detail["index"], (count, *pixels_shape))
            interpreter.allocate_tensors()
        pixels = _quantize(batch.reshape(-1, *pixels_shape), input_detail)
        interpreter.set_tensor(input_detail["index"], pixels)
        interpreter.invoke()
        return _dequantize(interpreter.get_tensor(output_detail["index"]), output_detail)[:count]

    return lambda images: _in_batches(run, images, batch_size=fixed_batch if fixed_batch > 0
                                      else 256)


@contextlib.contextmanager
def native_stderr_silenced():
    """Sends what compiled code writes to file descriptor 2 to /dev/null while it runs."""
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)


def _quantize(pixels, detail):
    """Pixels 0..255 as a LiteRT input wants them. An integer input holds
    q = real / scale + zero_point; export.py's int8 model has scale 1 and zero point 0."""
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return pixels.astype(dtype)
    scale, zero_point = detail["quantization"]
    quantized = np.round(pixels / scale) + zero_point if scale else pixels
    return np.clip(quantized, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)


def _dequantize(values, detail):
    """A LiteRT output as float32: an integer one holds real = scale * (q - zero_point)."""
    scale, zero_point = detail["quantization"]
    if np.issubdtype(values.dtype, np.integer) and scale:
        return scale * (values.astype(np.float32) - zero_point)
    return values.astype(np.float32)


def _load_saved_model(path):
    if safe_files.kind(path / "saved_model.pb") != "file":
        raise UserError(f"model {path} is a folder but not a SavedModel (it has no saved_model.pb)")
    try:  # TensorFlow would block on a FIFO inside, or read a device for ever.
        safe_files.check_tree(path, MAX_MODEL_BYTES)
    except safe_files.Refused as error:
        raise UserError(f"model {error}") from None
    quiet_tensorflow()
    import tensorflow as tf

    try:
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    except Exception as error:  # noqa: BLE001  TensorFlow raises many types for a bad folder.
        raise UserError(f"model {path} could not be loaded: {first_line(error)}") from None
    # A signature takes keyword arguments and returns a dict, both keyed by tensor name.
    inputs, outputs = serve.structured_input_signature[1], serve.structured_outputs
    _check_one_input_and_output(path, inputs, outputs)
    ((input_name, input_spec),), ((output_name, output_spec),) = inputs.items(), outputs.items()
    check_model_shapes(path, input_spec.shape, output_spec.shape)

    def run(batch):
        pixels = tf.constant(batch.reshape(-1, *input_spec.shape[1:]), dtype=input_spec.dtype)
        return serve(**{input_name: pixels})[output_name].numpy()

    return lambda images: _in_batches(run, images, batch_size=1024)


def _load_onnx(path):
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"model {path}: running .onnx models needs `pip install onnxruntime`") from None
    content = read_model_bytes(path)
    try:
        session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001  ONNX Runtime raises a type of its own per cause.
        raise UserError(f"model {path} is not a usable ONNX model: {first_line(error)}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    _check_one_input_and_output(path, inputs, outputs)
    # ONNX names a dimension of variable size (such as the batch) instead of giving a size.
    input_shape = [size if isinstance(size, int) else None for size in inputs[0].shape]
    output_shape = [size if isinstance(size, int) else None for size in outputs[0].shape]
    check_model_shapes(path, input_shape, output_shape)
    if inputs[0].type != "tensor(float)":
        raise UserError(f"model {path} takes {inputs[0].type}, not float pixels")

    def run(batch):
        pixels = batch.reshape(-1, *input_shape[1:]).astype(np.float32)
        return session.run(None, {inputs[0].name: pixels})[0]

    return lambda images: _in_batches(run, images, batch_size=1024)


def _in_batches(run, images, batch_size):
    """run(batch) over images, batch_size at a time, as one float32 array of probabilities."""
    results = [np.zeros((0, NUM_CLASSES), np.float32)]
    for start in range(0, len(images), batch_size):
        results.append(run(images[start : start + batch_size]))
    return np.concatenate(results).astype(np.float32, copy=False)


def _check_one_input_and_output(path, inputs, outputs):
    if len(inputs) != 1 or len(outputs) != 1:
        raise UserError(
            f"model {path} has {len(inputs)} inputs and {len(outputs)} outputs, not one of each"
        )


def check_model_shapes(path, input_shape, output_shape):
    """Raises UserError unless the model maps 28x28 images (any batch size) to 10 classes.

    The shapes include the batch dimension, as Keras (None), TensorFlow or LiteRT (-1) give it.
    """
    input_shape = tuple(None if size is None else int(size) for size in input_shape)[1:]
    output_shape = tuple(None if size is None else int(size) for size in output_shape)[1:]
    if input_shape not in ((IMAGE_SIZE, IMAGE_SIZE, 1), (IMAGE_SIZE, IMAGE_SIZE)):
        raise UserError(f"model {path} takes input {input_shape}, not 28x28 images")
    if output_shape != (NUM_CLASSES,):
        raise UserError(f"model {path} gives output {output_shape}, not 10 digit classes")
