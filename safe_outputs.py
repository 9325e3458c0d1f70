"""Writing outputs safely: to a temporary file beside the destination, renamed into place,
several files as one set.

An output never replaces one of the inputs, nor a file this project did not write for the
same purpose (a record of another kind, a figure of another script, a user's photo): each
output has a kind (output_kind), and only a file of that kind is replaced. Temporary files
carry the writer's process ID, so that the next write in their folder removes those of a
writer that was killed. Reading is safe_files.py's.
"""

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import safe_files

# The mark in the figures the scripts write (PNG text, PDF and SVG metadata), followed by
# what the figure is.
FIGURE_MARK = "digit-cnn"


class CannotWrite(safe_files.Refused):
    """An output that cannot be written, or must not be: a full disk, a folder in its place,
    an input or a file of another purpose at its path. Nothing was replaced."""


_LEFTOVER = re.compile(r"^\..+\.(\d+)\.tmp-\w+$")


def temporary_name(path):
    """Beside path, a new empty file (or with a folder's path, folder) of a hidden name that
    carries this process's ID: .<name>.<pid>.tmp-<random><suffix>. The suffix is path's, in
    lower case, since some writers (NumPy, Keras, Matplotlib) choose the format from it."""
    path = Path(path)
    prefix = f".{path.stem}.{os.getpid()}.tmp-"
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=path.suffix.lower(), dir=path.parent)
    os.close(fd)
    return Path(name)


def temporary_folder(path):
    path = Path(path)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.tmp-", dir=path.parent))


def _is_leftover(name):
    """Whether name is a temporary file of a writer that is no longer running."""
    match = _LEFTOVER.match(Path(name).stem) or _LEFTOVER.match(name)
    if not match:
        return False
    pid = int(match.group(1))
    if pid in (0, os.getpid()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # Another user's process (alive), or no process ID.
        return False
    return False


def remove_leftovers(folder):
    """Removes the temporary files and folders that killed writers left in folder; returns
    their names. A failure to remove one (another process removing it too) is ignored."""
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in list(entries):
            if _is_leftover(entry.name):
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def check_not_inputs(outputs, inputs):
    """Raises Refused when an output would replace one of the inputs."""
    for output in outputs:
        for path in inputs:
            if path is not None and safe_files.same_file(output, path):
                raise CannotWrite(output, f"is also an input ({path}): an output never replaces "
                                  "an input; choose another name")


# What may be replaced at an output's path, by the kind of output: a test of the file there.
# Each is given the path of an existing file (or folder) and returns whether this project
# wrote it for that purpose.
def _json_object(path):
    try:
        data = json.loads(safe_files.read_bytes(path, 100_000_000))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# Records written before they carried a "kind" are told by keys only they have.
_LEGACY_RECORD_KEYS = {
    "dataset": {"npz_sha256", "sha256"},
    "training": {"config", "versions", "val_accuracy"},
    "export": {"artifacts", "source_model"},
    "metrics": {"confusion_matrix", "per_class"},
}


def record_kind(data):
    """The kind of record a JSON object is ("dataset", "training", "export", "metrics", ...),
    or None for a JSON object of no kind."""
    if "kind" in data:
        return data["kind"]
    for name, keys in _LEGACY_RECORD_KEYS.items():
        if keys <= data.keys():
            return name
    return None


def _is_record(kind_wanted):
    def test(path):
        data = _json_object(path)
        return data is not None and record_kind(data) == kind_wanted
    return test


def figure_metadata(purpose):
    """savefig's metadata for a figure of this purpose ("predict.py --show"): the mark that
    lets the next run know the file as its own."""
    return {"Creator": f"{FIGURE_MARK} {purpose}"}


def _is_figure(purpose, legacy):
    """A figure written by this purpose, or (legacy) by Matplotlib without any purpose's mark:
    before the marks, every figure of these scripts was such a file."""
    def test(path):
        try:
            data = safe_files.read_bytes(path, 200_000_000)
        except (OSError, ValueError):
            return False
        if f"{FIGURE_MARK} {purpose}".encode() in data:
            return True
        return legacy and FIGURE_MARK.encode() not in data and b"Matplotlib" in data
    return test


def _is_zip_holding(*names):
    def test(path):
        try:
            with safe_files.open_input(path) as file, zipfile.ZipFile(file) as archive:
                return set(names) <= set(archive.namelist())
        except (OSError, ValueError, zipfile.BadZipFile):
            return False
    return test


def _starts_with(offset, mark):
    def test(path):
        try:
            with safe_files.open_input(path) as file:
                return file.read(offset + len(mark))[offset:] == mark
        except (OSError, ValueError):
            return False
    return test


OUTPUT_KINDS = {
    "keras": ("a Keras model", _is_zip_holding("config.json")),
    "dataset npz": ("a dataset written by preprocess.py",
                    _is_zip_holding(*(f"{key}.npy" for key in
                                      ("x_train", "y_train", "x_val", "y_val", "x_test",
                                       "y_test")))),
    "tflite": ("a LiteRT model", _starts_with(4, b"TFL3")),
    "onnx": ("an ONNX model", _starts_with(0, b"\x08")),  # a ModelProto opens with ir_version
    "savedmodel": ("a SavedModel", lambda path: os.path.isfile(Path(path) / "saved_model.pb")),
    "any": ("", lambda path: True),
}


def output_kind(name):
    """(description, test) for an output kind: a name of OUTPUT_KINDS, "record:<kind>" for
    a JSON record ("record:" alone: a JSON of no kind), "figure:<purpose>" for a figure
    (accepting Matplotlib's figures of no mark too), "figure!:<purpose>" (only its own)."""
    if name.startswith("record:"):
        wanted = name.partition(":")[2] or None
        return (f"a {wanted} record" if wanted else "a JSON of no kind"), _is_record(wanted)
    if name.startswith(("figure:", "figure!:")):
        purpose = name.partition(":")[2]
        return f"a figure of {purpose}", _is_figure(purpose, legacy=name.startswith("figure:"))
    return OUTPUT_KINDS[name]


def is_output(path, kind_name):
    """Whether path holds an output of this kind (output_kind) that the project wrote."""
    return safe_files.kind(path) in ("file", "folder") and output_kind(kind_name)[1](path)


def check_output(path, kind_name, folder=False):
    """Raises Refused unless path is free for an output of this kind: nothing is there, or
    what is there is a file (a folder, with folder true) this project wrote for the same
    purpose, which the output may replace."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    found = safe_files.kind(path)
    if found == "folder" and not folder:
        raise CannotWrite(path, "is a folder: move it, or choose another name")
    if found == "file" and folder:
        raise CannotWrite(path, "is a file where a folder is written: move it, or choose another "
                      "name")
    if found not in ("file", "folder"):
        raise CannotWrite(path, f"{found}: it is not replaced by an output")
    description, test = output_kind(kind_name)
    if not test(path):
        raise CannotWrite(path, f"exists and is not {description}: it was left as it is; move it, "
                      "or choose another name")


def write_together(writes, inputs=()):
    """Writes a set of files so that a failure leaves the earlier set whole.

    writes maps each destination to (output kind, write), where write(tmp) writes the file
    at the temporary path tmp (a file beside the destination, of the same suffix). Every
    file is staged first; then every destination is checked (check_output, and not one of
    inputs); only then are they renamed into place, one after another in microseconds. A
    rename that fails puts back the files already replaced.
    """
    staged = {}
    try:
        for path, (kind_name, write) in writes.items():
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                remove_leftovers(path.parent)
                staged[path] = tmp = temporary_name(path)
            except OSError as error:
                raise _cannot_write(path, error) from None
            try:
                write(tmp)
                with open(tmp, "rb+") as file:
                    os.fsync(file.fileno())
            except OSError as error:
                # Said of the file the user asked for, not of the hidden temporary one; a
                # failure inside write() that is not the disk's passes through as it is.
                if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or (
                        error.filename in (str(tmp), str(path))):
                    raise _cannot_write(path, error) from None
                raise
            # mkstemp makes files readable by their owner only; give the usual permissions.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        check_not_inputs(staged, inputs)
        for path, (kind_name, _) in writes.items():
            check_output(path, kind_name)
        replace_together((tmp, path) for path, tmp in staged.items())
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)


def _cannot_write(path, error):
    reason = error.strerror or str(error)
    return CannotWrite(path, reason, f"cannot write {path}: {reason}")


def _aside(path):
    """A name beside path, not yet used, for the file or folder it replaces."""
    return Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp-{os.urandom(4).hex()}")


def replace_together(moves):
    """Renames each (staged, destination) pair, staged files and folders whose destinations
    were checked. A file is replaced in one rename, its earlier version kept under a hard
    link until all are done; an earlier folder is moved aside first (a folder cannot be
    renamed over one that is not empty). If a rename fails, every destination done so far
    gets its earlier file or folder back, and one that was not there is removed."""
    done = []  # (destination, its earlier version set aside or None, whether it existed)
    try:
        for staged, path in moves:
            path, backup, existed = Path(path), None, os.path.lexists(path)
            if existed:
                backup = _aside(path)
                if Path(staged).is_dir():
                    os.replace(path, backup)
                else:
                    try:
                        os.link(path, backup, follow_symlinks=False)
                    except OSError:  # No hard links here (or a folder in the way): no way back.
                        backup = None
            try:
                os.replace(staged, path)
            except BaseException:
                if backup is not None and Path(staged).is_dir():
                    os.replace(backup, path)  # The earlier folder comes back.
                elif backup is not None:
                    backup.unlink()
                raise
            done.append((path, backup, existed))
    except BaseException:
        for path, backup, existed in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None or not existed:
                    _remove(path)
                if backup is not None:
                    os.replace(backup, path)
        raise
    finally:
        for _, backup, _ in done:
            with contextlib.suppress(OSError):
                if backup is not None and os.path.lexists(backup):
                    _remove(backup)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
