"""Shared test fixtures: a tiny learnable dataset in the layout preprocess.py writes, and a
tiny trained model of the project's CNN."""

import ast
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Started in the background by a shell, pytest ignores Ctrl-C, and so would every script the
# tests start (an ignored signal is inherited): the tests of Ctrl-C need it handled.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def real_mnist():
    """A folder holding the real MNIST's four idx files: the one MNIST_MIRROR names (a
    file:// folder), what `make run` verified into data/raw/, or ../shared/mnist; the last
    when none has them (the slow tests are then skipped, saying where they looked)."""
    mirror = os.environ.get("MNIST_MIRROR", "")
    places = [Path(mirror.removeprefix("file://"))] if mirror.startswith("file://") else []
    places += [ROOT / "data" / "raw", ROOT.parent / "shared" / "mnist"]
    return next((place for place in places
                 if all((place / name).is_file() for name in MNIST_FILES)), places[-1])


SHARED_MNIST = real_mnist()  # The real MNIST, wherever it was found.


def as_run(script):
    """How a user runs a script: `python SCRIPT`, a benchmark `python -m benchmarks.NAME`."""
    if script.startswith("benchmarks/"):
        return ["-m", script.removesuffix(".py").replace("/", ".")]
    return [str(ROOT / script)]


def run_script(script, *args, cwd, env=None):
    """Runs one of the project's scripts (a path from the project root) as a user would,
    with env's variables added to the environment."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, *as_run(script), *map(str, args)],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=900, check=False,
    )


def started_code(code, *args, cwd, stderr=subprocess.PIPE):
    """Starts `python -c CODE ARGS` with the project importable and its stdout (and stderr)
    piped, for a test to stop it midway."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=cwd, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.PIPE, stderr=stderr)


# Runs a script as `python SCRIPT ARGS` would, and says on its way out, as the last line on
# stderr, which of TensorFlow and Keras the process imported. (-X importtime cannot tell: the
# project imports TensorFlow with descriptor 2 silenced.)
_NOTING_IMPORTS = (
    "import atexit, os, runpy, sys\n"
    "atexit.register(lambda: print('imported:', sorted({'tensorflow', 'keras'} "
    "& set(sys.modules)), file=sys.stderr))\n"
    "if sys.argv[1] == '-m':  # As `python -m benchmarks.NAME` has it.\n"
    "    sys.argv = sys.argv[2:]\n"
    "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
    "else:  # As `python SCRIPT` has it.\n"
    "    sys.argv = sys.argv[1:]\n"
    "    sys.path.insert(0, os.path.dirname(sys.argv[0]))\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def run_noting_imports(script, *args, cwd):
    """run_script, and whether TensorFlow or Keras was imported: (result, imported), the
    result's stderr without the line that says so."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", _NOTING_IMPORTS, *as_run(script), *map(str, args)],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=900, check=False,
    )
    *rest, last = result.stderr.rstrip("\n").split("\n")
    if not last.startswith("imported: "):
        raise AssertionError(f"{script} did not finish: {result.stderr[-2000:]}")
    result.stderr = "".join(line + "\n" for line in rest)
    return result, set(ast.literal_eval(last.removeprefix("imported: ")))


@contextlib.contextmanager
def served(app):
    """Serves an ASGI app (serve.make_app) with uvicorn on a free loopback port, in a thread
    of this process; yields its base URL."""
    import uvicorn

    import serve

    sock = serve.listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        if not server.started:
            raise AssertionError("uvicorn did not start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def synthetic_digits(count, seed):
    """Images whose class is a bright 8x8 square at one of ten places, plus noise.

    A real model learns them in one short epoch, so tests can check learning happened.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, column = 2 + 12 * (label // 5), 1 + 5 * (label % 5)
        image[row:row + 10, column:column + 6] = 255
    return images, labels.astype(np.uint8)


def write_dataset(path, train=600, val=200, test=200):
    arrays = {}
    for split, count, seed in (("train", train, 1), ("val", val, 2), ("test", test, 3)):
        arrays[f"x_{split}"], arrays[f"y_{split}"] = synthetic_digits(count, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def tiny_dataset(tmp_path):
    return write_dataset(tmp_path / "data" / "mnist.npz")


def pytest_runtest_setup(item):
    if item.get_closest_marker("slow") and not SHARED_MNIST.is_dir():
        pytest.skip(f"the real MNIST is not at {SHARED_MNIST}")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The project's CNN, narrowed and fitted for a few steps on synthetic digits."""
    return fit_bars(tmp_path_factory.mktemp("model") / "tiny.keras", epochs=2)


def fit_bars(path, epochs, seed=None):
    """Saves to path the project's CNN, narrowed and fitted for epochs on synthetic digits:
    a bar whose height tells the class. Two epochs leave it unsure of everything; thirty
    make it sure of a bar (a dash drawn by hand, say, is then a 4)."""
    import common
    from model import build_model

    common.quiet_tensorflow()
    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    images = np.zeros((300, 28, 28), np.uint8)
    for image, label in zip(images, labels):
        image[4 + 2 * label : 6 + 2 * label, 6:22] = 255  # A bar whose height tells the class.
    model = build_model(width=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images[..., None], labels, epochs=epochs, batch_size=50, verbose=0)
    model.save(path)
    return path
