"""Tests of preprocess.py on tiny fake MNIST files, served from folders, file:// URLs and a real
local HTTP server that misbehaves on request. No network, no TensorFlow."""

import gzip
import hashlib
import http.server
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import SHARED_MNIST

import common
import downloads
import preprocess

REPO = Path(__file__).parents[1]
TRAIN_LABELS = [5, 4, 4, 3, 3, 3, 2, 2, 2, 2]  # Images per class in the fake training set.


def idx_bytes(array):
    """The idx encoding of a uint8 array: magic number, sizes (big-endian uint32), pixels."""
    magic = 2051 if array.ndim == 3 else 2049
    return np.array([magic, *array.shape], ">u4").tobytes() + array.astype(np.uint8).tobytes()


def write_folder(folder, files, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def make_files(x_train, y_train, x_test, y_test):
    return {
        "train-images-idx3-ubyte": idx_bytes(x_train),
        "train-labels-idx1-ubyte": idx_bytes(y_train),
        "t10k-images-idx3-ubyte": idx_bytes(x_test),
        "t10k-labels-idx1-ubyte": idx_bytes(y_test),
    }


def accept(monkeypatch, files):
    """Makes preprocess expect these files' checksums instead of real MNIST's."""
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    monkeypatch.setattr(preprocess, "SHA256", checksums)


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Runs each test in tmp_path (so data/ is tmp_path/data) with no public source reachable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_MIRROR", raising=False)
    monkeypatch.setattr(preprocess, "PUBLIC_MIRRORS", [])
    monkeypatch.setattr(preprocess, "KERAS_URL", (tmp_path / "no-keras" / "mnist.npz").as_uri())


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """30 training and 10 test images of noise, with uneven classes, accepted by checksum."""
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "y_train": rng.permutation(np.repeat(np.arange(10), TRAIN_LABELS)).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10, dtype=np.uint8),
    }
    files = make_files(**arrays)
    accept(monkeypatch, files)
    return SimpleNamespace(arrays=arrays, files=files, folder=write_folder(tmp_path / "src", files))


def run(*argv):
    """Runs the CLI as a user would (status, one-line errors); a small validation split, and
    no pictures with no digit unless argv asks for some (drawing them takes seconds)."""
    return common.run_cli(preprocess.main, ["--val-size", "5", "--not-a-digit", "0", *map(str, argv)])


def test_pictures_with_no_digit_are_drawn_into_the_dataset(fake):
    assert run("--source", fake.folder, "--not-a-digit", "12") == 0
    dataset, info = load_output()
    assert dataset["x_not_a_digit_train"].shape == (12, 28, 28)
    assert dataset["x_not_a_digit_val"].shape == (2, 28, 28)
    assert info["not_a_digit"] == 12
    # Another count is another dataset: it is built again; the same count is not.
    assert run("--source", fake.folder, "--not-a-digit", "18") == 0
    assert load_output()[0]["x_not_a_digit_train"].shape == (18, 28, 28)
    assert run("--source", fake.folder, "--not-a-digit", "0") == 0
    assert "x_not_a_digit_train" not in load_output()[0]


def load_output(data=Path("data")):
    with np.load(data / "mnist.npz") as npz:
        dataset = {key: npz[key] for key in npz.files}
    return dataset, json.loads((data / "mnist.json").read_text())


def assert_data_clean(data=Path("data")):
    """data/ holds no temporary file, and its cache only verified downloads."""
    for path in data.rglob("*"):
        assert not path.name.startswith("."), f"stray temporary file {path}"
        if path.parent.name == "raw":
            preprocess.verified_idx(path, path.name.removesuffix(".gz"))


def assert_matches(pattern, text):
    assert re.search(pattern, text), f"{pattern!r} not in {text!r}"


def error_message(stderr):
    assert stderr.count("error:") == 1, stderr
    return stderr[stderr.index("error:"):]


class FaultHandler(http.server.BaseHTTPRequestHandler):
    """Serves the fake .gz files at /ok/NAME; other first path parts name a way to fail."""

    def do_GET(self):
        fault, _, name = self.path.strip("/").partition("/")
        self.server.requests.append(self.path)
        body = self.server.gz_files.get(name)
        if fault in HOSTILE:
            return HOSTILE[fault](self, body)
        if fault == "404" or body is None:
            return self.send_error(404)
        if fault == "500":
            return self.send_error(500)
        if fault == "reset":
            # Linger 0 makes close() send a TCP reset instead of an orderly end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if fault == "stall-headers":
            self.server.release.wait(10)
            return
        if fault == "bad-gzip":
            middle = len(body) // 2  # Flips the bits of 64 bytes inside the compressed stream.
            scrambled = bytes(byte ^ 0xFF for byte in body[middle : middle + 64])
            body = body[:middle] + scrambled + body[middle + 64 :]
        if fault == "wrong-content":
            body = gzip.compress(b"this is not MNIST")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault in ("stall-body", "truncated"):
            self.wfile.write(body[: len(body) // 2])
            if fault == "stall-body":
                self.server.release.wait(10)
            return
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # Keeps the test output clean.

    def trickle(self, data):
        """Sends data a byte every 0.2 s, until the test ends or the client goes."""
        for byte in data:
            if self.server.release.wait(0.2):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return

    def headers_then_trickle(self, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()
        self.trickle(b"\x1f" * 1000)

    def endless(self):
        self.send_response(200)  # No Content-Length: the body ends when the server closes.
        self.end_headers()
        block = bytes(1 << 16)
        while not self.server.release.is_set():
            try:
                self.wfile.write(block)
            except OSError:
                return


# Mirrors that a download must not trust: each gives way to the next source.
HOSTILE = {
    # Under every cap in size, a byte every 0.2 s: under MIN_RATE.
    "trickle": lambda handler, body: handler.headers_then_trickle(1_000_000),
    "trickle-large": lambda handler, body: handler.headers_then_trickle(100_000_000),
    "endless": lambda handler, body: handler.endless(),
    # Headers that never end, a byte at a time: only the deadline stops them.
    "slow-headers": lambda handler, body: (handler.wfile.write(b"HTTP/1.0 200 OK\r\nX-A: "),
                                           handler.trickle(b"a" * 10_000)),
    "bad-length": lambda handler, body: (
        handler.send_response(200), handler.send_header("Content-Length", "9,912,422"),
        handler.end_headers(), handler.wfile.write(body)),
    "redirect-loop": lambda handler, body: (
        handler.send_response(301), handler.send_header("Location", handler.path),
        handler.end_headers()),
    "bomb": lambda handler, body: (
        handler.send_response(200), handler.send_header("Content-Length", str(len(BOMB))),
        handler.end_headers(), handler.wfile.write(BOMB)),
}
BOMB = gzip.compress(bytes(3_000_000))  # 3 MB of zeros in 3 kB: over the tests' 1 MB cap.


@pytest.fixture
def server(fake):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultHandler)
    httpd.daemon_threads = True
    httpd.gz_files = {f"{name}.gz": gzip.compress(data) for name, data in fake.files.items()}
    httpd.requests = []
    httpd.release = threading.Event()
    httpd.url = lambda fault: f"http://127.0.0.1:{httpd.server_port}/{fault}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_idx_round_trip():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], np.uint8)
    parsed_images = preprocess.parse_idx(idx_bytes(images), "images file", "images")
    parsed_labels = preprocess.parse_idx(idx_bytes(labels), "labels file", "labels")
    np.testing.assert_array_equal(parsed_images, images)
    np.testing.assert_array_equal(parsed_labels, labels)
    assert parsed_images.dtype == parsed_labels.dtype == np.uint8


GOOD_IMAGES = idx_bytes(np.zeros((2, 28, 28), np.uint8))


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (GOOD_IMAGES, "labels", "magic number 2051, expected 2049"),
        (idx_bytes(np.zeros(20, np.uint8)), "images", "magic number 2049, expected 2051"),
        (idx_bytes(np.zeros((2, 28, 27), np.uint8)), "images", "28x27 pixels, expected 28x28"),
        (GOOD_IMAGES[:-1], "images", "1583 bytes, but its header says 1584"),
        (GOOD_IMAGES + b"\0", "images", "1585 bytes, but its header says 1584"),
        (GOOD_IMAGES[:10], "images", "too short for an idx header"),
    ],
    ids=["bad-magic", "labels-as-images", "wrong-dims", "truncated", "too-long", "no-header"],
)
def test_parse_idx_rejects_corrupt_files(data, kind, message):
    with pytest.raises(ValueError, match=message):
        preprocess.parse_idx(data, "some-file", kind)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_source_folder(fake, tmp_path, compress):
    folder = write_folder(tmp_path / "idx", fake.files, compress)
    assert run("--source", str(folder)) == 0
    dataset, info = load_output()
    np.testing.assert_array_equal(dataset["x_test"], fake.arrays["x_test"])
    np.testing.assert_array_equal(dataset["y_test"], fake.arrays["y_test"])
    # Train and val together are the original training set, each image exactly once.
    x_all = np.concatenate([dataset["x_train"], dataset["x_val"]])
    assert sorted(map(bytes, x_all)) == sorted(map(bytes, fake.arrays["x_train"]))
    assert info["source"] == f"--source {folder}"
    assert_data_clean()


def test_source_keras_npz(fake, tmp_path, monkeypatch):
    npz_path = tmp_path / "mnist.npz"
    np.savez(npz_path, **fake.arrays)
    digest = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    monkeypatch.setattr(preprocess, "KERAS_SHA256", digest)
    assert run("--source", str(npz_path)) == 0
    dataset, info = load_output()
    np.testing.assert_array_equal(dataset["x_test"], fake.arrays["x_test"])
    assert info["sha256"] == {"mnist.npz": preprocess.KERAS_SHA256}


def test_npz_that_is_not_keras_is_refused(fake, tmp_path, capsys):
    npz_path = tmp_path / "mnist.npz"
    np.savez(npz_path, **fake.arrays)
    assert run("--source", str(npz_path)) == 2
    assert "is not Keras's mnist.npz" in error_message(capsys.readouterr().err)
    assert not Path("data/mnist.npz").exists()


def test_source_is_the_only_source_tried(fake, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_MIRROR", fake.folder.as_uri())
    (tmp_path / "notes.txt").write_text("not MNIST")
    assert run("--source", str(tmp_path / "notes.txt")) == 2
    message = error_message(capsys.readouterr().err)
    assert "notes.txt is neither a folder nor an .npz file" in message
    assert "file://" not in message


def test_missing_source_is_refused_even_when_built(fake, tmp_path, capsys):
    assert run("--source", str(fake.folder)) == 0
    # Nothing would be read, but the name is still a mistake to point out.
    assert run("--source", str(tmp_path / "missing")) == common.EXIT_USAGE
    assert error_message(capsys.readouterr().err) == (
        f"error: --source {tmp_path / 'missing'} not found\n")


def test_wrong_content_in_source_folder(fake, tmp_path, capsys):
    files = dict(fake.files, **{"t10k-labels-idx1-ubyte": idx_bytes(np.ones(10, np.uint8))})
    folder = write_folder(tmp_path / "other", files)
    assert run("--source", str(folder)) == 2
    assert "t10k-labels-idx1-ubyte: wrong content" in error_message(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y_train": np.zeros(29, np.uint8)}, "train: 30 images but 29 labels"),
        ({"y_test": np.full(10, 10, np.uint8)}, "test: label 10 is out of range 0..9"),
    ],
    ids=["count-mismatch", "label-out-of-range"],
)
def test_inconsistent_files_are_refused(fake, tmp_path, monkeypatch, capsys, change, message):
    files = make_files(**dict(fake.arrays, **change))
    accept(monkeypatch, files)
    assert run("--source", str(write_folder(tmp_path / "bad", files))) == 2
    assert message in error_message(capsys.readouterr().err)


def test_source_and_mirror_together_are_a_usage_error(fake, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("--source", str(fake.folder), "--mirror", fake.folder.as_uri())
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_file_mirror_from_flag_and_environment(fake, monkeypatch):
    assert run("--mirror", fake.folder.as_uri()) == 0
    assert load_output()[1]["source"] == fake.folder.as_uri()
    shutil.rmtree("data")  # Else the downloads kept in data/raw would be used.
    monkeypatch.setenv("MNIST_MIRROR", fake.folder.as_uri() + "/")
    assert run() == 0
    assert load_output()[1]["source"] == fake.folder.as_uri() + "/"
    assert sorted(path.name for path in Path("data/raw").iterdir()) == sorted(
        f"{name}.gz" for name in fake.files
    )
    assert_data_clean()


def test_http_mirror_and_cache(server, capsys):
    assert run("--mirror", server.url("ok")) == 0
    assert len(server.requests) == 4
    first, _ = load_output()
    # --force rebuilds from the verified downloads in data/raw, without asking the server.
    assert run("--mirror", server.url("ok"), "--force") == 0
    assert len(server.requests) == 4
    cached = "data/raw, verified downloads of an earlier run"
    assert f"Reading MNIST from {cached}" in capsys.readouterr().out
    second, info = load_output()
    assert info["source"] == cached
    for key in common.SPLIT_KEYS:
        np.testing.assert_array_equal(first[key], second[key])


def test_corrupt_cache_is_downloaded_again(server, capsys):
    assert run("--mirror", server.url("ok")) == 0
    Path("data/raw/train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    assert run("--mirror", server.url("ok"), "--force") == 0
    err = capsys.readouterr().err
    assert "failed: data/raw, verified downloads of an earlier run: train-labels" in err
    assert "downloading it again" in err
    # The three good files are used from the cache; only the damaged one is fetched again.
    assert server.requests.count("/ok/train-labels-idx1-ubyte.gz") == 2
    assert server.requests.count("/ok/train-images-idx3-ubyte.gz") == 1
    assert_data_clean()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("404", "HTTP Error 404: Not Found"),
        ("500", "HTTP Error 500: Internal Server Error"),
        ("reset", "reset by peer|closed connection"),
        ("stall-headers", "no data for 1 s"),
        ("stall-body", "no data for 1 s"),
        ("truncated", r"connection closed after \d+ of \d+ bytes"),
        ("bad-gzip", "broken gzip"),
        ("wrong-content", "wrong content"),
    ],
)
def test_http_faults_fail_cleanly(fake, server, capsys, fault, reason):
    # A good dataset exists first; the failing --force run must leave it as it was.
    assert run("--source", str(fake.folder)) == 0
    good = Path("data/mnist.npz").read_bytes()
    capsys.readouterr()
    assert run("--mirror", server.url(fault), "--timeout", "1", "--force") == 2
    message = error_message(capsys.readouterr().err)
    assert message.startswith("error: no source gave a verified MNIST")
    mirror_line = next(line for line in message.splitlines() if server.url(fault) in line)
    assert mirror_line.strip().startswith(server.url(fault) + ": train-images-idx3-ubyte")
    assert_matches(reason, mirror_line)
    assert Path("data/mnist.npz").read_bytes() == good
    assert_data_clean()


def test_failing_mirror_falls_through_to_the_next(server, monkeypatch, capsys):
    monkeypatch.setattr(preprocess, "PUBLIC_MIRRORS", [server.url("500"), server.url("ok")])
    assert run("--mirror", server.url("404")) == 0
    err = capsys.readouterr().err
    assert f"failed: {server.url('404')}: train-images-idx3-ubyte.gz: HTTP Error 404" in err
    assert f"failed: {server.url('500')}: train-images-idx3-ubyte.gz: HTTP Error 500" in err
    assert load_output()[1]["source"] == server.url("ok")


def test_all_sources_failing(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(preprocess, "PUBLIC_MIRRORS", [server.url("reset"), "ftp://example/"])
    assert run("--mirror", server.url("wrong-content")) == 2
    message = error_message(capsys.readouterr().err)
    sources = [server.url("wrong-content"), server.url("reset"), "ftp://example/",
               preprocess.KERAS_URL]
    for source in sources:
        assert sum(line.strip().startswith(f"{source}: ") for line in message.splitlines()) == 1
    assert "ftp://example/: not an http://, https:// or file:// URL" in message
    assert f"mnist.npz: {tmp_path / 'no-keras' / 'mnist.npz'} not found" in message
    assert not Path("data/mnist.npz").exists()
    assert_data_clean()


def test_no_source_working_says_how_to_read_a_local_copy(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(preprocess, "PUBLIC_MIRRORS", [server.url("reset")])
    assert run() == 2
    assert "With no internet: --source FOLDER" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run("--source", str(tmp_path / "empty")) == 2  # a local copy already named
    assert "With no internet" not in capsys.readouterr().err


def test_rerun_does_nothing_unless_settings_change(fake, capsys):
    assert run("--source", str(fake.folder)) == 0
    written = Path("data/mnist.npz").stat().st_mtime_ns
    capsys.readouterr()
    assert run("--source", str(fake.folder)) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert Path("data/mnist.npz").stat().st_mtime_ns == written
    assert run("--source", str(fake.folder), "--val-size", "6") == 0  # Other settings: rebuilt.
    assert "Wrote" in capsys.readouterr().out
    # A damaged dataset is not "up to date" either.
    Path("data/mnist.npz").write_bytes(b"damaged")
    assert run("--source", str(fake.folder), "--val-size", "6") == 0
    assert "Wrote" in capsys.readouterr().out
    common.load_dataset(Path("data/mnist.npz"))


def test_out_names_the_dataset(fake, tmp_path):
    out = tmp_path / "elsewhere" / "digits.npz"
    assert run("--source", str(fake.folder), "--out", str(out)) == 0
    assert common.load_dataset(out)["x_val"].shape == (5, 28, 28)
    assert (tmp_path / "elsewhere" / "digits.json").is_file()
    assert not Path("data").exists()


def test_validation_is_the_end_of_the_training_file(fake):
    assert run("--source", str(fake.folder)) == 0
    dataset, info = load_output()
    x, y = fake.arrays["x_train"], fake.arrays["y_train"]
    # In file order: the first images train, the last five validate, nothing is lost.
    np.testing.assert_array_equal(dataset["x_train"], x[:-5])
    np.testing.assert_array_equal(dataset["y_train"], y[:-5])
    np.testing.assert_array_equal(dataset["x_val"], x[-5:])
    np.testing.assert_array_equal(dataset["y_val"], y[-5:])
    assert info["counts"]["val"] == 5 and info["validation"] == "end of the training file"


def test_val_size_out_of_range(fake, capsys):
    assert run("--source", str(fake.folder), "--val-size", "30") == 2
    assert "--val-size must be between 1 and 29" in error_message(capsys.readouterr().err)
    assert not Path("data/mnist.npz").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--val-size", "0"], "--val-size must be at least 1"),
    (["--timeout", "0"], "--timeout must be a positive number of seconds"),
    (["--timeout", "nan"], "--timeout must be a positive number of seconds"),
    (["--out", "data/mnist.data"], "--out must name a .npz file, not data/mnist.data"),
    (["--out", "data/mnist.json"], "--out must name a .npz file"),
    (["--out", "data"], "--out must name a .npz file"),
])
def test_bad_settings_are_refused_before_any_download(fake, capsys, argv, message):
    # np.savez adds ".npz" to a name without it: the file named was left empty.
    Path("data").mkdir()
    with pytest.raises(SystemExit) as stop:
        run("--source", str(fake.folder), *argv)
    assert stop.value.code == common.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert list(Path("data").iterdir()) == []


def test_json_describes_the_dataset(fake):
    assert run("--source", str(fake.folder), "--val-size", "10") == 0
    dataset, info = load_output()
    assert info["source"] == f"--source {fake.folder}"
    assert info["sha256"] == preprocess.SHA256
    assert info["val_size"] == 10
    assert info["counts"] == {"train": 20, "val": 10, "test": 10}
    for split in ("train", "val", "test"):
        expected = np.bincount(dataset[f"y_{split}"], minlength=10).tolist()
        assert info["class_counts"][split] == expected
    assert info["class_counts"]["val"] == np.bincount(fake.arrays["y_train"][-10:],
                                                      minlength=10).tolist()
    assert info["train_pixel_mean"] == pytest.approx(dataset["x_train"].mean(), abs=1e-4)
    assert info["train_pixel_std"] == pytest.approx(dataset["x_train"].std(), abs=1e-4)
    assert info["npz_sha256"] == hashlib.sha256(Path("data/mnist.npz").read_bytes()).hexdigest()


def test_command_line_exit_status_without_traceback(fake, tmp_path):
    # In a fresh process the real MNIST checksums apply, so the fake files are refused.
    out = tmp_path / "data" / "mnist.npz"
    result = subprocess.run(
        [sys.executable, str(REPO / "preprocess.py"), "--not-a-digit", "0", "--source", str(fake.folder),
         "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte: wrong content" in error_message(result.stderr)
    assert not out.exists()


@pytest.mark.slow  # Skipped by conftest when ../shared/mnist is absent.
def test_real_mnist():
    assert common.run_cli(preprocess.main, ["--source", str(SHARED_MNIST)]) == 0
    info = load_output()[1]
    assert info["counts"] == {"train": 55000, "val": 5000, "test": 10000}
    # Class counts from ../shared/mnist/README.md.
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train_and_val = np.add(info["class_counts"]["train"], info["class_counts"]["val"])
    assert train_and_val.tolist() == train_counts
    assert info["class_counts"]["test"] == test_counts
    assert common.load_dataset(Path("data/mnist.npz"))["x_train"].shape == (55000, 28, 28)


@pytest.mark.parametrize(("fault", "patch", "reason"), [
    ("trickle", {}, r"train-images-idx3-ubyte.gz: under 10,000 bytes/s over 1 s \(--timeout\), "
                    r"\d bytes in"),
    ("trickle-large", {}, "train-images-idx3-ubyte.gz: the server announces 100,000,000 bytes, "
                          "more than any MNIST file"),
    ("endless", {"MAX_FILE_BYTES": 1_000_000},
     "train-images-idx3-ubyte.gz: more than 1,000,000 bytes, larger than any MNIST file"),
    ("slow-headers", {"MAX_SECONDS": 2},
     r"train-images-idx3-ubyte.gz: not done in 2 s, the limit for one file \(0 bytes in\)"),
    ("bomb", {"MAX_FILE_BYTES": 1_000_000},
     r"train-images-idx3-ubyte: wrong content \(decompresses to more than 1,000,000 bytes\)"),
    ("bad-length", {}, r"train-images-idx3-ubyte.gz: the server sent a bad Content-Length "
                       r"\('9,912,422'\)"),
    ("redirect-loop", {}, "train-images-idx3-ubyte.gz: HTTP 301: redirected in a loop, or more "
                          "than 10 times"),
], ids=lambda value: value if isinstance(value, str) and " " not in value else "")
def test_a_mirror_that_crawls_floods_or_lies_gives_way_to_the_next(server, monkeypatch, capsys,
                                                                    fault, patch, reason):
    """A server announcing 100 MB and sending a byte a second kept preprocess.py for as long
    as it was allowed; one streaming for ever filled the disk; a gzip bomb took 8.4 GB. Each
    now ends in seconds with one line naming the file, and the next mirror is read."""
    for name, value in patch.items():
        monkeypatch.setattr(downloads, name, value)
    monkeypatch.setattr(preprocess, "PUBLIC_MIRRORS", [server.url("ok")])
    started = time.monotonic()
    assert run("--mirror", server.url(fault), "--timeout", "1") == 0
    assert time.monotonic() - started < 10
    failures = [line for line in capsys.readouterr().err.splitlines() if "failed:" in line]
    assert len(failures) == 1 and failures[0].startswith(f"  failed: {server.url(fault)}: ")
    assert_matches(reason, failures[0])
    assert load_output()[1]["source"] == server.url("ok")
    assert_data_clean()
