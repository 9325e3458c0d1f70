"""Hostile inputs (issue 29), class by class, with the real things: FIFOs, links to
/dev/zero, link loops, a gzip bomb, closed standard streams, writers killed with SIGKILL,
outputs aimed at inputs and at other records. Every script run that could hang if a class
came back runs in a subprocess with a timeout.

The download classes (slow and endless mirrors, bad headers, bombs from a mirror) are in
test_preprocess.py, beside its local HTTP server."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, started_code, write_dataset
from PIL import Image

import common
import model_files
import preprocess
import safe_files
import safe_outputs

TIMEOUT = 60  # seconds for any one run: every refusal here takes well under one


def script(name, *args, cwd, close=(), env=None):
    """Runs a project script with a timeout; close: standard descriptors (1, 2) to close."""
    def close_streams():
        for fd in close:
            os.close(fd)

    return subprocess.run(
        [sys.executable, str(ROOT / name), *map(str, args)], cwd=cwd, timeout=TIMEOUT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})), capture_output=not close,
        stdout=subprocess.PIPE if close and 1 not in close else None,
        stderr=subprocess.PIPE if close and 2 not in close else None,
        text=True, check=False, preexec_fn=close_streams if close else None)


def our_lines(stderr, name):
    """What the script said, without what TensorFlow logs as it loads."""
    return [line for line in (stderr or "").splitlines() if line.startswith(f"{name}:")]


def make_special(path, special):
    """Puts a FIFO, a link to /dev/zero or a symbolic link loop at path; returns the name to
    pass (for "stdin", "-") and the words the refusal must hold."""
    if special == "fifo":
        os.mkfifo(path)
        return path, "is a FIFO (named pipe), not a file"
    if special == "device":
        path.symlink_to("/dev/zero")
        return path, "is a character device, not a file"
    if special == "loop":
        path.symlink_to(path.with_name(path.name + ".other"))
        path.with_name(path.name + ".other").symlink_to(path)
        return path, "is a symbolic link loop"
    return "-", "reading standard input is not supported"


SPECIALS = ["fifo", "device", "loop", "stdin"]


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "seven.png"
    image = np.full((120, 120), 255, np.uint8)
    image[20:30, 25:95] = 0
    image[30:100, 70:80] = 0
    Image.fromarray(image).save(path)
    return path


@pytest.mark.parametrize("special", SPECIALS)
@pytest.mark.parametrize("command", [
    ("predict.py", "--model", "{x.keras}", "seven.png"),
    ("predict.py", "--model", "{x.tflite}", "seven.png"),
    ("evaluate.py", "--data", "{x.npz}", "--model", "missing.keras"),
    ("evaluate.py", "--model", "{x.keras}", "--data", "data/mnist.npz"),
    ("preprocess.py", "--source", "{x.npz}"),
], ids=["predict-keras", "predict-tflite", "evaluate-data", "evaluate-model", "preprocess"])
def test_a_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path, picture, special,
                                                              command):
    """A FIFO blocked for good and /dev/zero ate memory without end (19 GB in 25 s); a link
    loop and "-" were "not found". Each is now one line, status 2, before anything reads."""
    write_dataset(tmp_path / "data" / "mnist.npz", 30, 10, 10)
    template = next(arg for arg in command if arg.startswith("{"))
    name, words = make_special(tmp_path / template.strip("{}"), special)
    started = time.monotonic()
    result = script(command[0], *[name if arg == template else arg for arg in command[1:]],
                    cwd=tmp_path)
    assert time.monotonic() - started < 20
    assert result.returncode == common.EXIT_USAGE, result.stderr
    lines = our_lines(result.stderr, command[0])
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "not found" not in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("special", ["fifo", "device"])
def test_a_special_file_in_a_source_folder_is_named(tmp_path, special):
    folder = tmp_path / "src"
    folder.mkdir()
    for name in preprocess.SHA256:
        (folder / f"{name}.gz").write_bytes(gzip.compress(b"not MNIST"))
    (folder / "train-images-idx3-ubyte.gz").unlink()  # The first file read.
    _, words = make_special(folder / "train-images-idx3-ubyte.gz", special)
    result = script("preprocess.py", "--not-a-digit", "0", "--source", folder, cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE
    assert f"{folder}/train-images-idx3-ubyte.gz {words}" in result.stderr
    assert "Traceback" not in result.stderr


def test_special_files_in_a_file_mirror_and_the_cache_are_refused(tmp_path):
    """A file:// mirror is read as a file, through the same check; a FIFO where a cached
    download goes is not replaced (it would not be, by a rename, but it is not ours)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    os.mkfifo(mirror / "train-images-idx3-ubyte.gz")
    result = script("preprocess.py", "--not-a-digit", "0", "--mirror", mirror.as_uri(), cwd=tmp_path,
                    env={"MNIST_MIRROR": ""})
    assert result.returncode == common.EXIT_USAGE
    assert (f"{mirror.as_uri()}: train-images-idx3-ubyte.gz: {mirror}/train-images-idx3-ubyte.gz "
            "is a FIFO (named pipe), not a file") in result.stderr


def test_train_refuses_special_files_too(tmp_path):
    os.mkfifo(tmp_path / "x.npz")
    result = script("train.py", "--quick", "--data", "x.npz", cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE
    assert our_lines(result.stderr, "train.py") == [
        "train.py: error: x.npz is a FIFO (named pipe), not a file"]


def test_a_saved_model_holding_a_fifo_is_refused_before_tensorflow_reads_it(tmp_path):
    folder = tmp_path / "m_savedmodel"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    os.mkfifo(folder / "variables" / "variables.data-00000-of-00001")
    with pytest.raises(common.UserError, match="holds variables/variables.data-00000-of-00001, "
                       "which is a FIFO"):
        model_files.load_classifier(folder)


def test_an_archive_declaring_more_than_its_cap_or_a_bomb_is_refused(tmp_path, monkeypatch):
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x_train.npy", bytes(20_000_000))  # 20 MB of zeros in 20 kB
    with pytest.raises(common.UserError, match="a decompression bomb: x_train.npy declares "
                       "20,000,000 bytes stored in"):
        common.load_dataset(path)
    monkeypatch.setattr(model_files, "MAX_MODEL_BYTES", 1000)
    with zipfile.ZipFile(tmp_path / "big.keras", "w") as archive:
        archive.writestr("config.json", "{}" * 1000)
    with pytest.raises(common.UserError, match="too large: its archive holds 2,000 bytes, over "
                       "the limit of 1,000"):
        model_files.load_classifier(tmp_path / "big.keras")


def gzip_bomb(path, gib):
    """A gzip file of zeros, gib GiB inside and about 4 MB per GiB: one gzip member of 16 MiB
    of zeros, repeated (a file of several members is a valid gzip file)."""
    member = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member = member.compress(bytes(1 << 24)) + member.flush()
    path.write_bytes(member * (gib * 64))
    return path


# Runs a command and prints its exit status and peak memory. A child's peak (ru_maxrss)
# counts the memory of the process that started it, as it was then (Linux keeps the larger of
# the two across exec): started from here, with TensorFlow loaded, it would read 800 MB. So a
# small Python in between starts it.
MEASURE = ("import os, subprocess, sys\n"
           "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
           "_, status, usage = os.wait4(child.pid, 0)\n"
           "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)\n")


def test_a_real_gzip_bomb_is_wrong_content_in_bounded_memory(tmp_path):
    """A 4 MB .gz of zeros, 4 GiB inside, took 8.4 GB of memory; it now stops at the cap,
    as wrong content, with the memory of an ordinary run."""
    folder = tmp_path / "src"
    folder.mkdir()
    assert gzip_bomb(folder / "train-images-idx3-ubyte.gz", gib=4).stat().st_size < 5_000_000
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, str(ROOT / "preprocess.py"), "--source",
         str(folder)], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=TIMEOUT, check=True, start_new_session=True)
    status, peak = map(int, result.stdout.split())
    assert status == common.EXIT_USAGE
    assert ("train-images-idx3-ubyte: wrong content (decompresses to more than 50,000,000 "
            "bytes)") in result.stderr
    assert peak < 400_000_000  # 4 GiB inside; the cap is 50 MB.


def test_a_large_transparent_png_is_read_in_bounded_memory(tmp_path):
    """A 7,000-pixel RGBA PNG of a stroke, 200 KB on disk and under Pillow's pixel limit, was
    turned into floats at full size: 2.2 GB. It is now shrunk by whole steps first: 0.44 GB."""
    picture = Image.new("RGBA", (7000, 7000), (255, 255, 255, 0))
    picture.paste((0, 0, 0, 255), (3000, 2000, 3400, 5000))
    picture.save(tmp_path / "canvas.png")
    read = "import recognize; print(recognize.read('canvas.png').line_lengths)"
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-c", read], cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
        timeout=TIMEOUT, check=True, start_new_session=True)
    status, peak = map(int, result.stdout.split())
    assert status == 0
    assert peak < 1_000_000_000  # the picture itself, decoded, is 196 MB


def test_gunzip_joins_members_and_stops_at_the_cap():
    data = gzip.compress(b"abc") + gzip.compress(b"def")
    assert safe_files.gunzip([data[:5], data[5:]], 10, "x") == b"abcdef"
    with pytest.raises(ValueError, match="x: wrong content \\(decompresses to more than 5 bytes"):
        safe_files.gunzip([data], 5, "x")
    with pytest.raises(ValueError, match="x: broken gzip"):
        safe_files.gunzip([data[:-3]], 10, "x")


# Outputs over inputs and over other records.

def test_show_never_replaces_a_picture_it_reads_or_any_file_but_its_panel(tmp_path, picture):
    before = picture.read_bytes()
    result = script("predict.py", picture, "--show", picture, cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE and picture.read_bytes() == before
    assert our_lines(result.stderr, "predict.py") == [
        f"predict.py: error: --show {picture} is one of the pictures read ({picture}): choose "
        "another name for the panel"]
    # Nor when the picture is read through its folder, or the panel is a photo not read.
    result = script("predict.py", tmp_path, "--show", picture, cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE and picture.read_bytes() == before
    photo = tmp_path / "holiday.png"
    photo.write_bytes(before)
    result = script("predict.py", tmp_path / "missing.png", "--show", photo, cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE and photo.read_bytes() == before
    assert "exists and is not a figure of predict.py --show" in result.stderr


def test_train_replaces_no_record_of_another_kind(tmp_path, tiny_dataset):
    """--out data/mnist.keras replaced the dataset's record, data/mnist.json; --out
    models/export.keras the export record. Refused before training, in one line."""
    import train

    (tmp_path / "data" / "mnist.json").write_text(json.dumps({"kind": "dataset"}))
    (tmp_path / "models").mkdir()
    legacy_export = {"source_model": "models/digit_cnn.keras", "artifacts": {}}
    (tmp_path / "models" / "export.json").write_text(json.dumps(legacy_export))
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for out, record in (("data/mnist.keras", "data/mnist.json"),
                            ("models/export.keras", "models/export.json")):
            before = Path(record).read_bytes()
            with pytest.raises(common.UserError, match=f"{record} exists and is not a training "
                               "record: it was left as it is"):
                train.main(["--quick", "--data", str(tiny_dataset), "--out", out])
            assert Path(record).read_bytes() == before
    finally:
        os.chdir(cwd)


def test_models_of_one_name_in_two_folders_share_no_run_and_no_curves(tmp_path):
    import runs
    import training_curves

    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        (tmp_path / "models").mkdir()
        default = runs.model_tag(Path("models/digit_cnn.keras"))
        a, b = runs.model_tag(Path("a/m.keras")), runs.model_tag(Path("b/m.keras"))
        in_models = runs.model_tag(Path("./models/m.keras"))
    finally:
        os.chdir(cwd)
    assert default == "digit_cnn" and in_models == "m"
    assert a != b and a.startswith("m-") and b.startswith("m-") and len(a) == len("m-") + 8
    assert training_curves.path(default) == Path("reports/training_curves.png")
    assert training_curves.path(a) != training_curves.path(b)


def test_preprocess_never_writes_over_its_source(tmp_path):
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=np.zeros((1, 28, 28), np.uint8))
    before = npz.read_bytes()
    result = script("preprocess.py", "--source", npz, "--out", npz, cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE and npz.read_bytes() == before
    assert our_lines(result.stderr, "preprocess.py") == [
        f"preprocess.py: error: {npz} is also an input ({npz}): an output never replaces an "
        "input; choose another name"]


def test_a_record_of_one_kind_is_never_replaced_by_another(tmp_path):
    record = tmp_path / "mnist.json"
    common.write_record(record, "dataset", {"counts": {}})
    assert json.loads(record.read_text())["kind"] == "dataset"
    for write in (lambda: common.write_record(record, "metrics", {}),
                  lambda: common.write_json(record, {"a benchmark's": "report"})):
        with pytest.raises(common.UserError, match="exists and is not a"):
            write()
    common.write_record(record, "dataset", {"counts": {"train": 1}})  # the same kind: replaced
    assert json.loads(record.read_text())["counts"] == {"train": 1}


# Sets of files.

def test_a_set_whose_last_rename_fails_gets_its_earlier_files_back(tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text("earlier first")
    second.mkdir()  # A rename of a file over a folder fails.
    (second / "inside").write_text("a user's file")
    staged = [tmp_path / "new1", tmp_path / "new2"]
    for path in staged:
        path.write_text("new")
    with pytest.raises(OSError):
        safe_outputs.replace_together(zip(staged, [first, second]))
    assert first.read_text() == "earlier first" and (second / "inside").exists()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_a_set_is_checked_whole_before_any_file_is_replaced(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"kind": "metrics", "accuracy": 0.5}))
    Image.new("L", (4, 4)).save(tmp_path / "misclassified.png")  # a picture of the user's
    writes = {tmp_path / "metrics.json": common.record_writer("metrics", {"accuracy": 0.9}),
              tmp_path / "misclassified.png": ("figure:evaluate.py misclassified digits",
                                               lambda tmp: Path(tmp).write_bytes(b"new"))}
    with pytest.raises(common.UserError, match="misclassified.png exists and is not a figure"):
        common.write_together(writes)
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"] == 0.5
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


# Leftovers of killed writers.

def test_a_writer_killed_mid_write_leaves_a_file_the_next_write_removes(tmp_path):
    code = ("import sys, time, common\n"
            "def write(tmp):\n"
            "    open(tmp, 'wb').write(b'half a dataset')\n"
            "    print('writing', flush=True)\n"
            "    time.sleep(60)\n"
            "common.atomic_write('data/mnist.npz', write)\n")
    process = started_code(code, cwd=tmp_path, stderr=None)
    assert process.stdout.readline() == "writing\n"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=TIMEOUT)
    left = [path.name for path in (tmp_path / "data").iterdir()]
    assert len(left) == 1 and left[0].startswith(f".mnist.{process.pid}.tmp-")
    # A writer still running keeps its file: this process's own, here.
    mine = safe_outputs.temporary_name(tmp_path / "data" / "other.npz")
    common.atomic_write(tmp_path / "data" / "mnist.npz", lambda tmp: Path(tmp).write_bytes(b"x"))
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == sorted(
        ["mnist.npz", mine.name])


def test_preprocess_removes_the_leftovers_of_a_dead_process_at_start(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    leftovers = [tmp_path / "data" / f".mnist.{pid}.tmp-abcd1234.npz",
                 tmp_path / "data" / "raw" / f".train-images-idx3-ubyte.{pid}.tmp-x1y2z3w4.gz"]
    for path in leftovers:
        path.write_bytes(bytes(1000))
    result = script("preprocess.py", "--not-a-digit", "0", "--source", tmp_path / "data" / "raw",
                    cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE  # It starts, then finds no idx file.
    assert not any(path.exists() for path in leftovers)


# Closed standard streams.

def test_predict_with_stderr_closed_answers_and_says_ok(tmp_path, picture, tiny_model):
    result = script("predict.py", picture, "--model", tiny_model, cwd=tmp_path, close=(2,))
    assert result.returncode == common.EXIT_OK
    assert str(picture) in result.stdout and "%" in result.stdout


def test_predict_with_stdout_closed_says_so_and_exits_2(tmp_path, picture, tiny_model):
    result = script("predict.py", picture, "--model", tiny_model, cwd=tmp_path, close=(1,))
    assert result.returncode == common.EXIT_USAGE
    assert result.stderr.strip() == ("predict.py: error: standard output is closed: there is "
                                     "nowhere to print the answers (send it to a file: > "
                                     "answers.txt)")


def test_export_with_stderr_closed_refuses_a_device_by_its_status(tmp_path):
    """export.py imports TensorFlow (which writes to descriptor 2) before anything else; with
    descriptor 2 closed the message is lost, the status still says what happened."""
    (tmp_path / "z.keras").symlink_to("/dev/zero")
    result = script("export.py", "--model", "z.keras", cwd=tmp_path, close=(2,))
    assert result.returncode == common.EXIT_USAGE and result.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["z.keras"]


def test_no_file_opened_takes_a_closed_descriptors_place(tmp_path):
    """With descriptor 2 closed, the next file opened took it, and TensorFlow's messages to
    "stderr" went into that file (a model being saved)."""
    code = ("import os, common\n"
            "common.standard_streams()\n"
            "fd = os.open('x', os.O_CREAT | os.O_WRONLY)\n"
            "print(fd, sorted(common.standard_streams()))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            preexec_fn=lambda: os.close(2), timeout=TIMEOUT, check=True)
    fd, closed = result.stdout.split()
    assert int(fd) > 2 and closed == "['stderr']"


# Messages.

def test_upper_case_suffixes_are_accepted(tmp_path, tiny_model):
    import shutil

    shutil.copy(tiny_model, tmp_path / "MODEL.KERAS")
    probabilities = model_files.load_classifier(tmp_path / "MODEL.KERAS")(
        np.zeros((2, 28, 28), np.uint8))
    assert probabilities.shape == (2, 10)
    import train

    assert train.parse_args(["--out", str(tmp_path / "NEW.KERAS")]).out.name == "NEW.KERAS"
    assert preprocess.parse_args(["--out", str(tmp_path / "D.NPZ")]).out.name == "D.NPZ"


def test_a_picture_named_dash_or_a_link_loop_says_what_it_is(tmp_path, picture, tiny_model,
                                                               capsys):
    import predict

    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    status = common.run_cli(predict.main, [str(picture), "-", str(tmp_path / "a.png"),
                                           "--model", str(tiny_model), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == common.EXIT_SOME_FAILED
    assert [record["error"] for record in records] == [
        None, "reading standard input is not supported: name a picture file",
        "a symbolic link loop"]


@pytest.mark.slow  # Prepares the real MNIST from ../shared/mnist and trains a --quick model.
def test_the_measurement_of_the_reproductions_runs(tmp_path):
    from conftest import SHARED_MNIST, run_script

    report = tmp_path / "hostile.json"
    result = run_script("benchmarks/hostile_inputs.py", "--mnist", SHARED_MNIST, "--only",
                        "model-fifo", "gzip-bomb-source", "show-over-input", "--json", report,
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(report.read_text())["results"]
    assert [result["status"] for result in results.values()] == [2, 2, 2]
    assert results["gzip-bomb-source"]["peak_mb"] < 400 and results["show-over-input"]["kept"]
    assert "wrong content" in results["gzip-bomb-source"]["said"]
    assert "| model-fifo | " in result.stdout
