"""The model builder and the train/evaluate stages, end to end on tiny data."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import (ROOT, SHARED_MNIST, run_noting_imports, run_script, started_code,
                      synthetic_digits, write_dataset)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real model trained by train.py on the tiny learnable dataset (about 20 s)."""
    import train

    folder = tmp_path_factory.mktemp("trained")
    data = write_dataset(folder / "data" / "mnist.npz")
    model_path = folder / "models" / "digit_cnn.keras"
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        status = train.main(["--data", str(data), "--out", str(model_path), "--epochs", "4",
                             "--batch-size", "32", "--learning-rate", "0.01"])
    finally:
        os.chdir(cwd)
    assert status == 0
    return folder, data, model_path


def test_model_takes_raw_pixels_and_gives_probabilities():
    from model import build_model

    model = build_model()
    images, _ = synthetic_digits(4, seed=0)
    probabilities = model.predict(images[..., None], verbose=0)
    assert probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Scaling is inside the model: uint8 and float pixels of the same values agree.
    np.testing.assert_allclose(
        probabilities, model.predict(images[..., None].astype("float32"), verbose=0), rtol=1e-6
    )


def test_the_temperature_divides_the_logits_inside_the_model():
    import keras

    import calibration
    from model import build_model

    model = build_model(width=4)
    sharper = build_model(width=4, temperature=0.25)
    sharper.set_weights(model.get_weights())  # The temperature layer holds no weights.
    images = synthetic_digits(8, seed=0)[0][..., None]
    logits = keras.Model(model.inputs, model.get_layer("logits").output).predict(images,
                                                                                  verbose=0)
    np.testing.assert_allclose(model.predict(images, verbose=0), calibration.softmax(logits),
                               atol=1e-6)
    np.testing.assert_allclose(sharper.predict(images, verbose=0),
                               calibration.softmax(logits, 0.25), atol=1e-6)


def test_train_writes_model_config_history_and_curves(trained):
    folder, _, model_path = trained
    record = json.loads(model_path.with_suffix(".json").read_text())
    assert len(record["history"]) == 4
    assert record["config"]["epochs"] == 4 and record["config"]["seed"] == 0
    assert record["config"]["clean_epochs"] == 2 and record["config"]["distortion"] == 1.0
    losses = [row["val_loss"] for row in record["history"]]
    kept = record["history"][record["kept_epoch"] - 1]
    assert kept["val_loss"] == min(losses) and record["val_accuracy"] == kept["val_accuracy"]
    # The tiny classes are easy: a model that did not learn them is broken.
    assert record["val_accuracy"] > 0.9
    assert {"tensorflow", "keras", "numpy"} <= record["versions"].keys()
    assert (folder / "reports" / "training_curves.png").stat().st_size > 10_000
    assert not (folder / "runs" / "digit_cnn").exists(), "checkpoints left behind"


def test_train_saves_the_model_with_the_temperature_fitted_on_validation(trained):
    import keras

    import calibration
    import model_files

    _, data, model_path = trained
    fitted = json.loads(model_path.with_suffix(".json").read_text())["calibration"]
    temperature = fitted["temperature"]
    assert fitted["split"] == "validation"
    # The tiny split has no validation mistakes, so the fit sharpens as far as it may.
    assert calibration.MIN_TEMPERATURE <= temperature < 1
    # The log-loss it was fitted to lower is lower; the answers are the same.
    assert fitted["after"]["log_loss"] < fitted["before"]["log_loss"]
    assert fitted["after"]["accuracy"] == fitted["before"]["accuracy"]
    # The saved model divides its logits by that temperature, and loads with safe_mode.
    model = model_files.load_keras_model(model_path)
    x_val, y_val = (np.load(data)[key] for key in ("x_val", "y_val"))
    logits = keras.Model(model.inputs, model.get_layer("logits").output).predict(
        x_val[..., None], verbose=0)
    probabilities = model_files.keras_predict(model)(x_val)
    np.testing.assert_allclose(probabilities, calibration.softmax(logits, temperature),
                               atol=1e-5)
    assert calibration.log_loss(probabilities, y_val) == pytest.approx(
        fitted["after"]["log_loss"], rel=1e-4)


def test_the_last_epochs_train_on_the_images_as_they_are():
    import tensorflow as tf

    import augment
    import train
    from callbacks import CleanEpochs

    images, labels = synthetic_digits(64, seed=1)
    data = {"x_train": images, "y_train": labels, "x_val": images[:8], "y_val": labels[:8]}
    augmenting = tf.Variable(True, trainable=False)
    dataset, _ = augment.make_datasets(data, batch_size=64, seed=0, augmenting=augmenting,
                                       distortion=1.0)
    switch = CleanEpochs(augmenting, epochs=5, clean_epochs=2)
    originals = {image.astype("float32").tobytes() for image in images}
    unchanged = []
    for epoch in range(5):
        switch.on_epoch_begin(epoch)
        batch = next(iter(dataset))[0].numpy()[..., 0]  # a fresh iterator, as Keras makes
        unchanged.append(sum(image.tobytes() in originals for image in batch))
    # Epochs 1-3 see distorted copies (a random warp leaves next to none pixel-identical),
    # epochs 4 and 5 every image exactly as stored.
    assert max(unchanged[:3]) <= 2 and unchanged[3:] == [64, 64]
    # The default's two clean epochs are all of a one-epoch run.
    assert train.parse_args(["--epochs", "1"]).clean_epochs == 1


def test_writer_distortion_slants_within_its_range_and_is_exact_at_zero(monkeypatch):
    import tensorflow as tf

    import augment
    from benchmarks.writer_order import style

    bar = np.zeros((256, 28, 28, 1), np.float32)
    bar[:, 6:22, 13:15] = 255  # An upright stroke, 16 pixels tall.
    for name in ("ROTATION_DEGREES", "SHEAR_DEGREES", "ZOOM", "ASPECT", "SHIFT", "STROKE"):
        monkeypatch.setattr(augment, name, 0)
    unchanged = augment.writer_distortion(seed=0, strength=1)(tf.constant(bar)).numpy()
    np.testing.assert_allclose(unchanged, bar, atol=1e-3)  # Zero ranges: the identity warp.

    monkeypatch.setattr(augment, "SHEAR_DEGREES", 10)  # At strength 1.5: up to 15 degrees.
    slanted = augment.writer_distortion(seed=0, strength=1.5)(tf.constant(bar)).numpy()[..., 0]
    mass = slanted.sum(axis=(1, 2))
    slope = style(slanted)["slant"]  # How the ink's columns shift per row, as measured on MNIST.
    # Columns shift with height by the shear's tangent, both ways, never past 15 degrees.
    assert np.abs(slope).max() <= np.tan(np.radians(15)) + 0.01
    assert slope.min() < -0.15 and slope.max() > 0.15
    np.testing.assert_allclose(mass, bar.sum(axis=(1, 2, 3)), rtol=0.02)  # Ink kept.


def test_elastic_bend_joins_the_affine_warp_and_moves_ink_at_most_its_range(monkeypatch):
    import tensorflow as tf

    import augment

    images = tf.constant(synthetic_digits(64, seed=2)[0][..., None].astype("float32"))
    # A bend of next to nothing: the gather resampler must read what Keras's affine warp reads
    # (the same random draws; the bend's lattice is drawn last).
    flat = augment.writer_distortion(seed=3, strength=1, elastic=1e-6)(images).numpy()
    affine = augment.writer_distortion(seed=3, strength=1)(images).numpy()
    np.testing.assert_allclose(flat, affine, atol=0.05)

    for name in ("ROTATION_DEGREES", "SHEAR_DEGREES", "ZOOM", "ASPECT", "SHIFT", "STROKE"):
        monkeypatch.setattr(augment, name, 0)
    dots = np.zeros((256, 28, 28, 1), np.float32)
    dots[:, 12:15, 12:15] = 255  # A 3x3 dot in the middle, centred on (13, 13).
    np.testing.assert_allclose(  # Strength 0 turns the bend off too.
        augment.writer_distortion(seed=0, strength=0, elastic=2)(tf.constant(dots)).numpy(), dots,
        atol=1e-3)
    bent = augment.writer_distortion(seed=0, strength=1, elastic=2)(tf.constant(dots)).numpy()
    ink = bent[..., 0] / bent.sum(axis=(1, 2, 3))[:, None, None]
    rows, cols = np.mgrid[:28, :28]
    moved = np.hypot((ink * rows).sum(axis=(1, 2)) - 13, (ink * cols).sum(axis=(1, 2)) - 13)
    # Each axis moves by at most 2 pixels (bicubic upsampling overshoots its lattice a little).
    assert moved.max() <= 2 * np.sqrt(2) * 1.1 and np.median(moved) > 0.3


def test_saved_model_loads_with_the_same_outputs(trained):
    import model_files

    _, data, model_path = trained
    import keras

    images = np.load(data)["x_test"][:16]
    model = keras.saving.load_model(model_path, safe_mode=True)
    predict = model_files.load_classifier(model_path)
    np.testing.assert_allclose(predict(images), model.predict(images, verbose=0), atol=1e-6)


def test_evaluate_writes_metrics_and_plots(trained):
    import evaluate

    folder, data, model_path = trained
    out = folder / "reports"
    assert evaluate.main(["--data", str(data), "--model", str(model_path), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_size"] == 200
    assert metrics["accuracy"] > 0.9
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.sum() == 200
    assert np.trace(confusion) == round(metrics["accuracy"] * 200)
    assert sum(row["support"] for row in metrics["per_class"].values()) == 200
    assert 0 <= metrics["ece"] <= 1 and 0 <= metrics["brier"] <= 2
    assert metrics["nll"] == metrics["loss"] >= 0
    for name in ("confusion_matrix.png", "misclassified.png", "reliability.png"):
        assert (out / name).stat().st_size > 5_000


def test_evaluate_replaces_no_report_when_one_cannot_be_written(trained, tmp_path):
    import common
    import evaluate

    _, data, model_path = trained
    out = tmp_path / "reports"
    (out / "misclassified.png").mkdir(parents=True)
    (out / "metrics.json").write_text("{}")  # an earlier report, left as it was
    argv = ["--data", str(data), "--model", str(model_path), "--out", str(out)]
    assert common.run_cli(evaluate.main, argv) == common.EXIT_USAGE
    assert (out / "metrics.json").read_text() == "{}"
    assert not (out / "confusion_matrix.png").exists()


def test_shift_averaging_is_the_mean_over_the_nine_one_pixel_shifts(trained):
    import common
    import model_files

    _, data, model_path = trained
    images = np.load(data)["x_test"][:8].copy()
    images[:, [0, -1], :] = 0
    images[:, :, [0, -1]] = 0  # an empty border: rolling by one pixel is then shifting
    predict = model_files.load_classifier(model_path)
    expected = np.mean([predict(np.roll(images, (dy, dx), axis=(1, 2)))
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    np.testing.assert_allclose(common.with_shift_averaging(predict)(images), expected, atol=1e-6)


def test_evaluate_with_test_time_augmentation(trained):
    import evaluate

    folder, data, model_path = trained
    out = folder / "reports_tta"
    assert evaluate.main(["--data", str(data), "--model", str(model_path), "--out", str(out),
                          "--tta"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tta"] is True and metrics["accuracy"] > 0.9


def test_classification_metrics_by_hand():
    from evaluate import classification_metrics

    labels = np.array([0, 0, 1, 2])
    probabilities = np.eye(10)[[0, 1, 1, 2]] * 0.9 + 0.01
    metrics = classification_metrics(labels, probabilities)
    assert metrics["accuracy"] == 0.75
    assert metrics["per_class"]["0"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667,
                                         "support": 2}
    assert metrics["per_class"]["1"]["precision"] == 0.5
    # Three right at 0.91 and one wrong, whose true class got 0.01.
    assert metrics["loss"] == pytest.approx((-3 * np.log(0.91) - np.log(0.01)) / 4)
    assert metrics["nll"] == metrics["loss"]
    # All four at confidence 0.91, in one bin, where 3 of 4 are right.
    assert metrics["ece"] == pytest.approx(0.91 - 0.75)
    right = 0.09**2 + 9 * 0.01**2
    assert metrics["brier"] == pytest.approx((3 * right + 0.91**2 + 0.99**2 + 8 * 0.01**2) / 4)


def test_a_model_from_before_calibration_is_evaluated_and_read(tmp_path, tiny_dataset, capsys):
    """model.py's head was one Dense layer with a softmax, named "probabilities"; the models
    saved so are still loaded (safe_mode), evaluated and read."""
    import keras

    import common
    import evaluate
    import predict
    from test_predict import draw

    pixels = keras.Input((28, 28, 1), name="pixels")
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(pixels))
    head = keras.layers.Dense(10, activation="softmax", name="probabilities")
    model = keras.Model(pixels, head(x), name="digit_cnn")
    images, labels = synthetic_digits(600, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(images[..., None], labels, epochs=3, verbose=0)
    model.save(tmp_path / "old.keras")
    out = tmp_path / "reports"
    assert evaluate.main(["--data", str(tiny_dataset), "--model", str(tmp_path / "old.keras"),
                          "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9 and {"ece", "nll", "brier"} <= metrics.keys()
    capsys.readouterr()
    status = common.run_cli(predict.main, [str(draw(tmp_path / "a.png")), "--json", "--model",
                                           str(tmp_path / "old.keras"), "--min-confidence", "0"])
    assert status == common.EXIT_OK
    assert json.loads(capsys.readouterr().out)["digit"] is not None


@pytest.mark.parametrize("content", [b"", b"not a zip file", "wrong arrays", "no test images"])
def test_unusable_dataset_is_refused_with_a_hint(tmp_path, content):
    path = tmp_path / "mnist.npz"
    if content == "wrong arrays":
        np.savez(path, x_train=np.zeros((3, 28, 27), np.uint8))
    elif content == "no test images":  # evaluate.py reported an accuracy of nan%
        images, labels = np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.uint8)
        np.savez(path, x_train=images, y_train=labels, x_val=images, y_val=labels,
                 x_test=images[:0], y_test=labels[:0])
    else:
        path.write_bytes(content)
    for script in ("train.py", "evaluate.py"):
        result = run_script(script, "--data", path, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "preprocess.py" in result.stderr.strip().splitlines()[-1]


def npz_with_header(path, header):
    """An npz of the six arrays whose x_train.npy carries the given header text (a damaged
    or lying one) and no data."""
    import zipfile

    header = header.ljust(117) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                         + header.encode())
        for key in ("y_train", "x_val", "y_val", "x_test", "y_test"):
            with archive.open(f"{key}.npy", "w") as member:
                np.save(member, np.zeros((3, 28, 28) if key[0] == "x" else 3, np.uint8))
    return path


@pytest.mark.parametrize("kind, reason", [
    ("header cut short", "EOF"),
    ("header declaring 730 GB", "Unable to allocate"),
    ("one array saved with np.save", "not an .npz archive"),
    ("a PDF", "not an .npz archive"),
])
def test_a_damaged_dataset_file_is_one_line_not_a_traceback(tmp_path, kind, reason):
    """NumPy raises a parser's errors for a damaged array header and MemoryError for a
    shape it cannot hold; the scripts said so in a traceback."""
    import common

    path = tmp_path / "mnist.npz"
    if kind == "header cut short":
        npz_with_header(path, "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 28, ")
    elif kind == "header declaring 730 GB":
        npz_with_header(path, "{'descr': '|u1', 'fortran_order': False, 'shape': (784000000000,), }")
    elif kind == "a PDF":
        path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    else:
        with open(path, "wb") as file:
            np.save(file, np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(common.UserError, match="not a usable dataset") as caught:
        common.load_dataset(path)
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    assert "allow_pickle" not in str(caught.value)  # NumPy's advice to load it unsafely


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--width", "100000"], "--width must be at most 512"),
    (["--distortion", "2.5"], "--distortion must be in [0, 2]"),
    (["--distortion", "-1"], "--distortion must be in [0, 2]"),
    (["--elastic", "4"], "--elastic must be in [0, 3] pixels"),
    (["--elastic", "-0.5"], "--elastic must be in [0, 3] pixels"),
    (["--learning-rate", "nan"], "--learning-rate must be a positive number"),
    (["--learning-rate", "0"], "--learning-rate must be a positive number"),
    (["--seed", "-1"], "--seed must be between 0 and 4294967295"),
    (["--ensemble", "2", "--seed", "4294967295"], "--seed must be between 0 and 4294967294"),
    (["--out", "models/digit_cnn.h5"], "--out must name a .keras file"),
    (["--out", "models"], "--out must name a .keras file"),
])
def test_bad_arguments_exit_2(tmp_path, argv, message):
    (tmp_path / "models").mkdir()
    result = run_script("train.py", *argv, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("blocked", ["models", "reports"])
def test_a_model_that_cannot_be_written_is_found_before_training(tmp_path, tiny_dataset,
                                                                 blocked):
    (tmp_path / blocked).write_text("a file where the folder should be")
    started = time.perf_counter()
    result = run_script("train.py", "--data", tiny_dataset, "--epochs", "50",
                        "--out", "models/digit_cnn.keras", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"train.py: error: cannot write in {blocked}: it is a file, not a folder")
    assert time.perf_counter() - started < 60  # Fifty epochs would take minutes.
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_real_mnist_one_epoch_is_accurate(tmp_path):
    """preprocess -> train (2 epochs) -> evaluate on the real MNIST: well above 98.5%."""
    mirror = f"file://{SHARED_MNIST}/"
    assert run_script("preprocess.py", "--mirror", mirror, "--not-a-digit", "60",
                      cwd=tmp_path).returncode == 0
    result = run_script("train.py", "--epochs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_script("evaluate.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["test_size"] == 10_000
    assert metrics["accuracy"] >= 0.985


def test_killed_training_resumes_from_its_last_epoch(tmp_path):
    """SIGKILL a real training mid-run; --resume finishes it without redoing done epochs."""
    import signal
    import time

    data = write_dataset(tmp_path / "data" / "mnist.npz", train=2000, val=200, test=200)
    command = [sys.executable, str(ROOT / "train.py"), "--data", str(data), "--epochs", "5",
               "--batch-size", "16", "--learning-rate", "0.01"]
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, cwd=tmp_path, env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history_path = tmp_path / "runs" / "digit_cnn" / "seed0" / "history.csv"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if history_path.exists() and len(history_path.read_text().splitlines()) >= 3:
            break  # a header and two completed epochs
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    completed = len(history_path.read_text().splitlines()) - 1
    assert 2 <= completed < 5, "the kill did not land mid-run"
    assert not (tmp_path / "models" / "digit_cnn.keras").exists()

    # Resuming with another recipe would mix two in one history: refused, the run kept.
    result = subprocess.run([*command, "--resume", "--epochs", "6"], cwd=tmp_path,
                            env=environment, capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("train.py: error: --resume needs the options the run was started "
                                     "with: --epochs 5 (now 6)")
    assert len(history_path.read_text().splitlines()) - 1 == completed

    result = subprocess.run([*command, "--resume"], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "models" / "digit_cnn.json").read_text())
    epochs = [int(row["epoch"]) for row in record["history"]]
    # Each epoch once: the killed run's epochs were kept, the rest trained after resuming.
    assert epochs == [0, 1, 2, 3, 4]
    assert record["val_accuracy"] > 0.9


def test_resume_without_an_interrupted_run_is_a_usage_error(tmp_path, tiny_dataset):
    result = run_script("train.py", "--data", tiny_dataset, "--resume", cwd=tmp_path)
    assert result.returncode == 2
    assert "nothing to resume" in result.stderr


def test_a_model_of_another_name_gets_curves_of_its_own(tmp_path, tiny_dataset):
    result = run_script("train.py", "--quick", "--data", tiny_dataset, "--out",
                        "models/wide.keras", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(path.name for path in (tmp_path / "reports").iterdir()) == [
        "wide_training_curves.png"]  # The default model's curves are left alone.
    assert (tmp_path / "models" / "wide.json").is_file()


def test_the_smoke_test_leaves_the_trained_model_alone(tmp_path, tiny_dataset):
    """train.py --quick, run after a real training, replaced models/digit_cnn.keras with a
    model of one epoch on 2,000 images."""
    trained_model = tmp_path / "models" / "digit_cnn.keras"
    trained_model.parent.mkdir()
    trained_model.write_bytes(b"the model of a real training")
    result = run_script("train.py", "--quick", "--data", tiny_dataset, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert trained_model.read_bytes() == b"the model of a real training"
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == [
        "digit_cnn.keras", "quick.json", "quick.keras"]
    assert "Wrote models/quick.keras" in result.stdout


def test_a_training_that_diverges_writes_nothing(tmp_path, tiny_dataset, tiny_model):
    trained_model = tmp_path / "models" / "digit_cnn.keras"
    trained_model.parent.mkdir()
    trained_model.write_bytes(tiny_model.read_bytes())  # the model of a real training
    result = run_script("train.py", "--data", tiny_dataset, "--epochs", "3",
                        "--learning-rate", "1e30", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "train.py: error: training diverged: the loss became NaN in epoch 1; nothing was "
        "written (try a lower --learning-rate)")
    assert trained_model.read_bytes() == tiny_model.read_bytes()
    assert "Epoch 2/3" not in result.stdout  # Stopped at the first NaN, not after 3 epochs.


def test_a_second_training_into_the_same_run_stops_at_once(tmp_path, tiny_dataset):
    """Two train.py writing models of the same name share runs/<name>/: the second removed
    the first one's checkpoints, and the first then failed after its last epoch."""
    import fcntl

    earlier = tmp_path / "runs" / "digit_cnn" / "seed0"
    earlier.mkdir(parents=True)
    (earlier / "history.csv").write_text("epoch,loss\n")
    with open(tmp_path / "runs" / ".digit_cnn.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # As the first train.py holds it.
        result = run_script("train.py", "--data", tiny_dataset, "--epochs", "50", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "train.py: error: another train.py is training into runs/digit_cnn (a model named "
        "digit_cnn.keras): wait for it, or choose another --out")
    assert (earlier / "history.csv").exists()


def test_a_run_whose_options_file_is_not_an_object_is_not_resumed(tmp_path):
    import common
    import runs

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / runs.RUN_OPTIONS).write_text("[1, 2]")
    with pytest.raises(common.UserError, match="not started by this version of train.py"):
        runs.check_resumable(tmp_path / "run", {"epochs": 7})


def test_a_damaged_history_is_named_with_what_to_do(tmp_path):
    import common
    import runs

    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,0.5\n1,x\n")
    with pytest.raises(common.UserError, match=r"history.csv is damaged .*without --resume"):
        runs.read_history(history)


def test_a_run_left_by_an_older_train_py_is_not_resumed(tmp_path, tiny_dataset):
    """Before its options were recorded, a run kept its epoch as best.keras: --resume says
    to start afresh instead of mixing the two layouts, and leaves the folder alone."""
    member = tmp_path / "runs" / "digit_cnn" / "seed0"
    member.mkdir(parents=True)
    (member / "history.csv").write_text("epoch,accuracy,loss,val_accuracy,val_loss\n"
                                        "0,0.9,0.5,0.9,0.5\n")
    (member / "best.keras").write_bytes(b"PK")
    result = run_script("train.py", "--data", tiny_dataset, "--resume", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "train.py: error: runs/digit_cnn was not started by this version of train.py and cannot be "
        "resumed: train without --resume")
    assert (member / "best.keras").exists()


def test_unsafe_truncated_or_misshapen_keras_models_are_refused(tmp_path, trained):
    """safe_mode stays on: a Lambda layer (arbitrary code) is refused, like broken files."""
    import keras

    import common
    import model_files

    _, _, good_model = trained
    pixels = keras.Input((28, 28, 1))
    doubled = keras.layers.Lambda(lambda x: x * 2)(pixels)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(doubled))
    keras.Model(pixels, outputs).save(tmp_path / "lambda.keras")
    large = keras.Input((32, 32, 1))
    keras.Model(large, keras.layers.Dense(10)(keras.layers.Flatten()(large))).save(
        tmp_path / "large_input.keras")
    (tmp_path / "truncated.keras").write_bytes(good_model.read_bytes()[:5000])

    expected = {
        "lambda.keras": "could not be loaded safely",
        "truncated.keras": "could not be loaded safely",
        "large_input.keras": "takes input (32, 32, 1), not 28x28 images",
    }
    for name, message in expected.items():
        with pytest.raises(common.UserError) as caught:
            model_files.load_classifier(tmp_path / name)
        assert message in str(caught.value) and "\n" not in str(caught.value)
    # The Lambda refusal names the reason, so the user knows it is deliberate.
    with pytest.raises(common.UserError) as caught:
        model_files.load_classifier(tmp_path / "lambda.keras")
    assert "safe_mode" in str(caught.value) or "Lambda" in str(caught.value)


def test_a_keras_file_with_weights_of_other_shapes_is_one_line_with_its_reason(tmp_path, trained):
    """Keras warned once per layer (20 lines), then raised an error whose first line ends
    in a colon before the reason."""
    import keras

    import common
    import model_files
    from model import build_model

    build_model(width=16).save(tmp_path / "narrow.keras")
    with zipfile.ZipFile(tmp_path / "narrow.keras") as narrow, \
            zipfile.ZipFile(trained[2]) as full, \
            zipfile.ZipFile(tmp_path / "mismatch.keras", "w") as mixed:
        mixed.writestr("config.json", full.read("config.json"))
        mixed.writestr("metadata.json", full.read("metadata.json"))
        mixed.writestr("model.weights.h5", narrow.read("model.weights.h5"))
    with warnings.catch_warnings(record=True) as recorded, \
            pytest.raises(common.UserError) as caught:
        warnings.simplefilter("always")
        model_files.load_classifier(tmp_path / "mismatch.keras")
    message = str(caught.value)
    assert "\n" not in message and not message.endswith(":")
    assert "shape" in message.split("could not be loaded safely:")[1]
    assert not recorded
    assert keras.config.image_data_format() == "channels_last"


def test_a_folder_named_like_a_model_is_called_a_folder(tmp_path):
    import common
    import model_files

    (tmp_path / "model.keras").mkdir()
    with pytest.raises(common.UserError, match="is a folder, not a .keras file"):
        model_files.load_classifier(tmp_path / "model.keras")


def test_an_unwritable_output_is_named_as_the_user_gave_it(tmp_path):
    """The errors named a hidden temporary file, or a file in the way and not the output."""
    import common

    (tmp_path / "picture.png").write_bytes(b"a picture")
    with pytest.raises(common.UserError) as caught:
        common.writable_folder(tmp_path / "picture.png")
    assert str(caught.value) == f"cannot write in {tmp_path / 'picture.png'}: it is a file, not a folder"
    with pytest.raises(common.UserError, match=r"cannot write .*picture.png/seen.png: "):
        common.atomic_write(tmp_path / "picture.png" / "seen.png", lambda tmp: None)
    assert (tmp_path / "picture.png").read_bytes() == b"a picture"


def test_sigterm_stops_a_script_as_ctrl_c_does_leaving_no_partial_file(tmp_path):
    """preprocess.py left hidden partial files behind when stopped by kill or a scheduler."""
    code = ("import sys, time, common\n"
            "def main(argv):\n"
            "    common.atomic_write('out.npz', lambda tmp: (print('writing', flush=True), "
            "time.sleep(60)))\n"
            "sys.exit(common.run_cli(main))\n")
    process = started_code(code, cwd=tmp_path)
    assert process.stdout.readline() == "writing\n"
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stderr.strip() == "-c: interrupted"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_tensorflow_loads_is_one_line(tmp_path, tiny_dataset):
    """train.py and export.py import TensorFlow (seconds) once they have checked their
    options and files; Ctrl-C during that import is one line, not a traceback."""
    code = ("import sys, common, train\n"
            "common.quiet_tensorflow = lambda real=common.quiet_tensorflow: "
            "(print('importing', flush=True), real())\n"
            "sys.argv[0] = 'train.py'\n"
            "sys.exit(common.run_cli(train.main, sys.argv[1:]))\n")
    process = started_code(code, "--data", tiny_dataset, cwd=tmp_path)
    assert process.stdout.readline() == "importing\n"  # TensorFlow's import has begun.
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stdout == ""
    assert stderr.strip() == "train.py: interrupted"
    assert not (tmp_path / "models" / "digit_cnn.keras").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_in_an_import_that_swallows_it_still_ends_the_script(tmp_path, stop):
    """A library imported with TensorFlow may catch KeyboardInterrupt and carry on; inside
    common.interrupts_end_at_once the script ends anyway, with one line and status 130."""
    code = ("import sys, time, common\n"
            "sys.argv[0] = 'train.py'\n"
            "with common.interrupts_end_at_once():\n"
            "    print('importing', flush=True)\n"
            "    try:\n"
            "        time.sleep(30)\n"
            "    except BaseException:\n"
            "        pass  # as a careless library would\n"
            "print('carried on', flush=True)\n")
    process = started_code(code, cwd=tmp_path)
    assert process.stdout.readline() == "importing\n"
    process.send_signal(stop)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130 and stdout == ""
    assert stderr == "train.py: interrupted\n"


SCRIPTS = ["preprocess.py", "train.py", "evaluate.py", "export.py", "predict.py",
           *sorted(f"benchmarks/{path.name}" for path in (ROOT / "benchmarks").glob("*.py")
                   if "__main__" in path.read_text())]  # Not sets.py, synthetic.py


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_answers_without_importing_tensorflow(script, tmp_path):
    """--help took seconds where a script imported TensorFlow before reading its options."""
    result, imported = run_noting_imports(script, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: ") and imported == set()


def test_scripts_run_on_tensorflow_whatever_keras_is_set_to_elsewhere(tmp_path, trained):
    """KERAS_BACKEND=jax in the shell, or a keras.json laying images out channels first,
    gave a traceback (no module named jax) or a page of errors."""
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    (keras_home / "keras.json").write_text(json.dumps(
        {"backend": "jax", "image_data_format": "channels_first", "floatx": "float32",
         "epsilon": 1e-07}))
    _, data, model = trained
    result = run_script("evaluate.py", "--data", data, "--model", model, "--out",
                        tmp_path / "reports", cwd=tmp_path,
                        env={"KERAS_BACKEND": "jax", "KERAS_HOME": str(keras_home)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "reports" / "metrics.json").read_text())["accuracy"] > 0.9


def test_training_benchmark_quick_form_writes_its_table(tmp_path, tiny_dataset):
    from model import build_model

    out = tmp_path / "benchmark"
    result = run_script("benchmarks/train_speed.py", "--quick", "--data", tiny_dataset,
                        "--seeds", "0", "1", "--out", out, "--train-args=--width 16",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "train_speed.json").read_text())
    names = [run["name"] for run in report["runs"]]
    assert names == ["keras.io convnet (baseline)", "train.py --width 16, seed 0",
                     "train.py --width 16, seed 1"]
    for run in report["runs"][1:]:
        assert 0 <= run["test_accuracy_tta"] <= 1 and run["epochs"] == 1
        # The options reach train.py.
        assert run["parameters"] == build_model(width=16).count_params()
    summary = report["summary"]
    assert summary["ensemble_size"] == 2 and summary["wall_time_ratio_to_baseline"] > 0
    assert (out / "train_speed.png").stat().st_size > 5_000
    assert "| model | params |" in result.stdout


def test_elastic_option_trains_through_the_input_pipeline_and_is_recorded(tmp_path, tiny_dataset):
    # --quick trains one epoch, all of it on distorted copies: the bend runs inside tf.data.
    out = tmp_path / "bent.keras"
    result = run_script("train.py", "--quick", "--elastic", 1, "--data", tiny_dataset,
                        "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["elastic"] == 1 and record["config"]["clean_epochs"] == 0
    assert out.stat().st_size > 100_000 and np.isfinite(record["history"][0]["loss"])


def test_ensemble_size_benchmark_averages_members_as_the_saved_ensemble_does(tmp_path, trained,
                                                                              tiny_dataset):
    import common
    import model_files

    ensemble = tmp_path / "pair.keras"
    result = run_script("train.py", "--quick", "--ensemble", 2, "--data", tiny_dataset,
                        "--out", ensemble, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    single = trained[2]
    report_path = tmp_path / "size.json"
    result = run_script("benchmarks/ensemble_size.py", ensemble, single, "--data", tiny_dataset,
                        "--report", report_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(report_path.read_text())
    rows = report["rows"]
    assert [row["added"] for row in rows] == ["pair.keras:member_0", "pair.keras:member_1",
                                              "digit_cnn.keras"]
    # The average of the first two members is what the saved ensemble computes itself.
    data = common.load_dataset(tiny_dataset)
    saved = model_files.load_classifier(ensemble)(data["x_val"])
    # Each member divides its logits by the one temperature fitted to their average.
    import keras

    import calibration

    temperature = json.loads(ensemble.with_suffix(".json").read_text())["calibration"][
        "temperature"]
    members = [layer for layer in model_files.load_keras_model(ensemble).layers
               if isinstance(layer, keras.Model)]
    logits = np.stack([keras.Model(member.inputs, member.get_layer("logits").output).predict(
        data["x_val"][..., None], verbose=0) for member in members])
    np.testing.assert_allclose(saved, calibration.averaged_probabilities(logits, temperature),
                               atol=1e-5)
    assert rows[1]["val"] == round(100 * float((saved.argmax(1) == data["y_val"]).mean()), 2)
    assert rows[0]["val"] == rows[0]["val_alone"] and rows[2]["test_alone"] > 90
    assert 0 <= report["test_missed_by_all"] <= report["test_missed_by_half_or_more"]

    missing = run_script("benchmarks/ensemble_size.py", tmp_path / "none.keras",
                         "--data", tiny_dataset, "--report", tmp_path / "none.json", cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "none.keras" in missing.stderr and not (tmp_path / "none.json").exists()


@pytest.mark.parametrize(
    ("train_args", "message"),
    [("--epochs 0", "--epochs must be at least 1"), ("--seed 3", "may not set --seed"),
     ("--seed=3", "may not set --seed"), ("--ens 2", "may not set --ensemble"),
     ("--seed=0", "may not set --seed"), ("--data=x.npz", "may not set --data")],
)
def test_training_benchmark_refuses_bad_train_args_before_training(tmp_path, tiny_dataset,
                                                                   train_args, message):
    result = run_script("benchmarks/train_speed.py", "--quick", "--data", tiny_dataset,
                        "--out", tmp_path / "benchmark", f"--train-args={train_args}",
                        cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "benchmark").exists()


def test_linear_schedule_warms_up_then_falls_to_zero():
    import keras

    from schedules import WarmupLinearDecay

    schedule = WarmupLinearDecay(0.01, warmup_steps=10, total_steps=100)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 120)]
    np.testing.assert_allclose(rates, [0.001, 0.0055, 0.01, 0.005, 0.0, 0.0], atol=1e-9)
    copy = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert float(copy(55)) == pytest.approx(0.005)


def test_saved_model_loads_where_train_py_was_never_imported(trained):
    # What train.py writes is the model alone: evaluate.py, predict.py and an application
    # shipping the file load it without train.py's learning-rate schedule class.
    _, data, model_path = trained
    code = ("import sys, numpy as np, model_files; "
            "predict = model_files.load_classifier(sys.argv[1]); "
            "print(predict(np.load(sys.argv[2])['x_test'][:4]).shape)")
    result = subprocess.run([sys.executable, "-c", code, str(model_path), str(data)],
                            check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(4, 10)")


def test_evaluate_on_a_full_disk_keeps_the_earlier_reports_whole(trained, tmp_path):
    """On a nearly full disk evaluate.py replaced metrics.json and confusion_matrix.png but
    not misclassified.png. A limit on file sizes stands in for the disk: every report but the
    largest fits, and the three are staged before any is renamed."""
    import resource

    import evaluate

    _, data, model = trained
    out = tmp_path / "reports"
    assert evaluate.main(["--data", str(data), "--model", str(model), "--out", str(out)]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    sizes = sorted(len(content) for content in before.values())
    limit = (sizes[-1] + sizes[-2]) // 2

    def limit_file_sizes():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), "--data", str(data), "--model", str(model),
         "--out", str(out), "--tta"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=300, check=False, preexec_fn=limit_file_sizes)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(".png: File too large")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
