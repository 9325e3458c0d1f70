"""A training run's folder, runs/<model>/: its checkpoints, its options and its lock.

train.py keeps, for each ensemble member, runs/<model>/seed<N>/ with Keras's backup (to
--resume after an interruption), the epochs' history.csv and the weights of the epoch kept
so far. The options the run was started with sit beside them, since --resume must repeat
them, and runs/.<model>.lock keeps a second train.py writing the same model away.
"""

import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

import common
import safe_files

RUNS_DIR = Path("runs")
# In each member's run folder, runs/<model>/seed<N>/: the weights of the epoch kept so far.
KEPT_WEIGHTS = "best.weights.h5"
# In runs/<model>/: the options the run was started with, which --resume must repeat.
RUN_OPTIONS = "options.json"


def model_tag(out):
    """The name of a model's run folder and curves: the model's name for a model in models/
    ("digit_cnn"), else its name and 8 hex digits of its full path ("wide-1a2b3c4d"), so that
    two models of one name in two folders share neither."""
    folder = os.path.realpath(out.parent)
    if folder == os.path.realpath(common.MODEL_PATH.parent) and out.suffix == ".keras":
        return out.stem
    return f"{out.stem}-{hashlib.sha256(os.path.join(folder, out.name).encode()).hexdigest()[:8]}"


def start(run_dir, config, resume):
    """Makes run_dir ready to train in: with resume, checks that it holds a run started with
    the same options (config); without, removes any earlier run there and records config."""
    if resume:
        check_resumable(run_dir, config)
        return
    if run_dir.exists():
        print(f"Starting afresh: removing the earlier run in {run_dir} "
              "(use --resume to continue it)")
        shutil.rmtree(run_dir)
    common.write_record(run_dir / RUN_OPTIONS, "run options", config)


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


def read_history(path):
    """The epochs Keras's CSVLogger wrote to path, as dicts of floats; [] before the first."""
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


def lock(run_dir, out):
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
    lock_file = open(path, "w")  # noqa: SIM115  Held until the run is finished.
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise common.UserError(f"another train.py is training into {run_dir} (a model named "
                               f"{out.name}): wait for it, or choose another --out") from None
    return lock_file


def finish(run_dir, lock_file):
    """Removes a run whose model is saved, and its lock."""
    shutil.rmtree(run_dir)
    if lock_file:
        Path(lock_file.name).unlink()
