"""Facts and helpers shared by the stage scripts.

One place for the artifact paths, the dataset file's layout and its checks, the way every
script turns an expected failure into a one-line message and an exit status, and the
scripts' file writes (made safe by safe_outputs.py: staged, never over an input or a file of
another purpose). Reading a trained model is model_files.py's. Nothing here imports
TensorFlow at module level, so predict.py can run a LiteRT model without paying for it.

Exit statuses used by every script:
    0  success
    1  some inputs failed (the others were answered)
    2  usage error or unusable input data (nothing useful was done)
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
import zipfile
from pathlib import Path

import numpy as np

import safe_files
import safe_outputs

DATA_PATH = Path("data/mnist.npz")
MODEL_PATH = Path("models/digit_cnn.keras")
REPORTS_DIR = Path("reports")

IMAGE_SIZE = 28
NUM_CLASSES = 10
SPLIT_KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
# Pictures with no digit (not_a_digit.py), which preprocess.py adds to the dataset: training
# teaches the model to be unsure of them, and validation measures it.
NOT_A_DIGIT_KEYS = ("x_not_a_digit_train", "x_not_a_digit_val")

# The most pictures one model call or one training step takes: more only costs memory (a
# number past a C long stopped pyarrow and TensorFlow with their own errors).
MAX_BATCH_SIZE = 65_536

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2

# The most load_dataset reads of a dataset, in bytes (uncompressed): beyond it the file is
# refused before it is read. data/mnist.npz holds 55 MB.
MAX_DATASET_BYTES = 200_000_000


def named_for(model, name):
    """The file name of a record or plot of the model at path model: name itself for the
    default model (reports/training_curves.png), else prefixed with the model's name
    (reports/wide_training_curves.png), so that one model's files do not replace another's."""
    return name if Path(model).stem == MODEL_PATH.stem else f"{Path(model).stem}_{name}"


class UserError(Exception):
    """An expected failure: bad arguments or unusable input. Shown as one line, exit 2."""


def check_batch_size(parser, batch_size):
    """Stops with parser's one-line usage error when --batch-size is past MAX_BATCH_SIZE."""
    if batch_size > MAX_BATCH_SIZE:
        parser.error(f"--batch-size must be at most {MAX_BATCH_SIZE:,}")


def add_debug_flag(parser):
    parser.add_argument(
        "--debug", action="store_true", help="show the full Python traceback on errors"
    )


def add_model_flag(parser, what="a model file as predict.py --model takes it"):
    """--model, for the scripts that classify: model_files.named_or_default(args) is the
    model it names, or the one predict.py answers with."""
    parser.add_argument(
        "--model", type=Path, default=argparse.SUPPRESS,  # Not None, which --help would show.
        help=f"{what} (default: {MODEL_PATH.with_suffix('.tflite')} while export.py's record "
             f"ties it to {MODEL_PATH} as that file is now, else {MODEL_PATH})")


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
    atomic), named for this process (safe_outputs.temporary_name) and with the destination's
    suffix, since some writers (numpy, Keras) choose the format from it. kind says what the
    file is (safe_outputs.output_kind): a file at path of another kind, or one of inputs, is
    not replaced. On any failure the temporary file is removed and path is left as it was.
    """
    write_together({path: (kind, write)}, inputs)


def write_together(writes, inputs=()):
    """safe_outputs.write_together: {path: (kind, write)} written as one set, or none of them;
    an output that cannot or must not be written is a UserError, before any is replaced."""
    try:
        safe_outputs.write_together(writes, inputs)
    except safe_outputs.CannotWrite as error:
        raise UserError(str(error)) from None


def check_outputs(outputs, inputs=()):
    """Checks before the work that each output (path: kind) may be written, and is not one
    of the inputs: raises UserError otherwise, so that nothing is computed in vain."""
    try:
        safe_outputs.check_not_inputs(outputs, inputs)
        for path, kind in outputs.items():
            safe_outputs.check_output(path, kind, folder=kind == "savedmodel")
    except safe_outputs.CannotWrite as error:
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


def figure_writer(kind, figure, **savefig_options):
    """(output kind, write) for write_together: a Matplotlib figure saved marked with the
    purpose its kind names ("figure:evaluate.py confusion matrix"), so that a later run knows
    the file as its own."""
    metadata = safe_outputs.figure_metadata(kind.partition(":")[2])
    return kind, lambda tmp: figure.savefig(tmp, metadata=metadata, **savefig_options)


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
        # import itself runs with stderr silenced; an import that fails still raises. Ctrl-C
        # in its seconds, before run_cli can catch it, ends the script with run_cli's line.
        with interrupts_end_at_once():
            with native_stderr_silenced():
                import tensorflow  # noqa: F401
            import keras

        # Every layer and op here assumes images laid out (height, width, channels); a
        # keras.json elsewhere on the machine may have set the other order.
        keras.config.set_image_data_format("channels_last")


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


@contextlib.contextmanager
def interrupts_end_at_once():
    """Ctrl-C or SIGTERM end the process at once, with the one line run_cli would print and
    status 130, instead of raising KeyboardInterrupt: for an import, in which a library may
    catch the exception and carry on (a CI run once saw train.py, interrupted while
    TensorFlow loaded, train to the end and exit 0). Nothing is written by then, so nothing
    is left half-written. Signals are handled in the main thread only; elsewhere, or when
    SIGINT is ignored (a background job), nothing changes."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    terminal = os.dup(2)  # the user's stderr, while the import's own output is silenced

    def end(signum, frame):
        os.write(terminal, f"{Path(sys.argv[0]).name}: interrupted\n".encode())
        os._exit(130)

    previous = {number: signal.signal(number, end) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        os.close(terminal)


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
