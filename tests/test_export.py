"""Tests of export.py and of loading what it writes with model_files.load_classifier.

A real CNN from model.build_model() is trained for a few seconds on digits drawn with
Pillow's font, given a temperature as train.py gives one, exported to every format, and the
formats' answers are compared. Bad model files must be refused with one line and exit
status 2, and a failed export must leave the earlier files as they were. predict.py answers
with the float LiteRT export by default while its record ties it to the .keras file. The
slow test repeats the int8 comparison on real MNIST.
"""

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from conftest import run_noting_imports
from PIL import Image, ImageDraw, ImageFont

import calibration
import common
import export
import model_files
import preprocess
from conftest import SHARED_MNIST  # The real MNIST, wherever it was found.
from model import build_model

REPO = Path(__file__).parents[1]
FLOAT_EXPORTS = ["digit_cnn_savedmodel", "digit_cnn.tflite"] + (
    ["digit_cnn.onnx"] if export.ONNX_INSTALLED else []
)
# The exported model's temperature: its probabilities are softmax(logits / 0.5).
TEMPERATURE = 0.5


def font_digits(count, seed):
    """Digits drawn white on black in Pillow's font at random sizes, strokes and places.

    They look enough like MNIST for the CNN to learn them in seconds, with confident answers,
    so that comparing the exports' answers means something.
    """
    rng = np.random.default_rng(seed)
    fonts = {size: ImageFont.load_default(size=size) for size in range(16, 25)}
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = np.empty((count, 28, 28), np.uint8)
    for image, label in zip(images, labels, strict=True):
        canvas = Image.new("L", (28, 28))
        column, row = 14 + rng.integers(-2, 3, size=2)
        ImageDraw.Draw(canvas).text(
            (int(column), int(row)), str(label), fill=255, anchor="mm",
            font=fonts[int(rng.integers(16, 25))],
            stroke_width=int(rng.integers(0, 2)), stroke_fill=255,
        )
        image[:] = np.asarray(canvas)
    return images, labels


def train_model(images, labels, width, epochs, batch_size):
    model = build_model(width=width)
    # BatchNormalization keeps 99% of its moving statistics at each step (momentum 0.99), so
    # after the few dozen steps of a test they would still be mostly their initial values,
    # and inference would not match training. At 0.9 they follow the data within 50 steps.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    # A rate decaying to zero leaves weights that the last batches did not just shake up.
    steps = epochs * -(-len(images) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    model.fit(images[..., None], labels, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


def run_export(folder, *extra):
    argv = ["--model", str(folder / "digit_cnn.keras"), "--data", str(folder / "mnist.npz")]
    return common.run_cli(export.main, [*argv, *extra])


def contents(path):
    """The bytes of a file, or of every file in a folder by relative path."""
    if path.is_dir():
        return {str(file.relative_to(path)): file.read_bytes()
                for file in sorted(path.rglob("*")) if file.is_file()}
    return path.read_bytes()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A folder with a small trained model, its dataset and everything export.py writes."""
    folder = tmp_path_factory.mktemp("export")
    images, labels = font_digits(1600, seed=0)
    data = {
        "x_train": images[:1000], "y_train": labels[:1000],
        "x_val": images[1000:1300], "y_val": labels[1000:1300],
        "x_test": images[1300:], "y_test": labels[1300:],
    }
    np.savez(folder / "mnist.npz", **data)
    keras.utils.set_random_seed(0)
    model = train_model(data["x_train"], data["y_train"], width=16, epochs=8, batch_size=50)
    # As train.py saves it: the trained weights in the network built with a temperature.
    calibrated = build_model(width=16, temperature=TEMPERATURE)
    calibrated.set_weights(model.get_weights())
    calibrated.save(folder / "digit_cnn.keras")
    assert run_export(folder, "--calibration-size", "200") == common.EXIT_OK
    record = json.loads((folder / "export.json").read_text())
    return SimpleNamespace(folder=folder, data=data, record=record)


def test_export_writes_every_format_and_records_it(exported):
    record = exported.record
    expected_kinds = {"savedmodel", "float", "int8"} | ({"onnx"} if export.ONNX_INSTALLED else set())
    assert set(record["artifacts"]) == expected_kinds
    for kind, artifact in record["artifacts"].items():
        path = Path(artifact["path"])
        assert path.parent == exported.folder
        assert artifact["bytes"] == export.size_in_bytes(path) > 0
        assert artifact["agreement_with_keras"] >= export.MIN_AGREEMENT[kind]
    assert (exported.folder / "digit_cnn_savedmodel" / "saved_model.pb").is_file()
    assert record["source_model"] == str(exported.folder / "digit_cnn.keras")
    # The hashes that tie the exports to the .keras file they were made from.
    assert record["source_sha256"] == sha256(exported.folder / "digit_cnn.keras")
    for kind in ("float", "int8"):
        assert record["artifacts"][kind]["sha256"] == sha256(
            Path(record["artifacts"][kind]["path"]))
    assert "sha256" not in record["artifacts"]["savedmodel"]  # A folder.
    assert record["calibration"] == {"split": "train", "images": 200, "seed": 0}
    assert record["check"] == {"split": "validation", "images": 300}
    # int8 weights take a quarter of float32's bytes; the graph's description adds a fixed
    # part, large beside the weights of this small model.
    assert record["artifacts"]["int8"]["bytes"] * 2 < record["artifacts"]["float"]["bytes"]
    leftovers = [path.name for path in exported.folder.iterdir() if path.name.startswith(".")]
    assert leftovers == []


def test_float_exports_give_the_keras_probabilities(exported):
    images, labels = exported.data["x_test"], exported.data["y_test"]
    keras_probabilities = model_files.load_classifier(exported.folder / "digit_cnn.keras")(images)
    # Trained well enough that the answers are confident, so agreeing on them means something.
    assert np.mean(keras_probabilities.argmax(axis=1) == labels) >= 0.95
    for name in FLOAT_EXPORTS:
        probabilities = model_files.load_classifier(exported.folder / name)(images)
        assert probabilities.dtype == np.float32 and probabilities.shape == (len(images), 10)
        np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-4, err_msg=name)
        assert np.array_equal(probabilities.argmax(axis=1), keras_probabilities.argmax(axis=1))


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_export_carries_the_temperature(exported):
    images = exported.data["x_test"]
    model = model_files.load_keras_model(exported.folder / "digit_cnn.keras")
    logits = keras.Model(model.inputs, model.get_layer("logits").output).predict(
        images[..., None], verbose=0)
    expected = calibration.softmax(logits, TEMPERATURE)
    assert np.abs(expected - calibration.softmax(logits)).max() > 0.05  # It changes them.
    for name in FLOAT_EXPORTS:
        probabilities = model_files.load_classifier(exported.folder / name)(images)
        np.testing.assert_allclose(probabilities, expected, atol=1e-4, err_msg=name)
    # int8 rounds each probability to a step of 1/256, and its logits a little before that.
    int8 = model_files.load_classifier(exported.folder / "digit_cnn_int8.tflite")(images)
    assert np.median(np.abs(int8.max(axis=1) - expected.max(axis=1))) < 0.01


def test_int8_model_gives_the_keras_answers(exported):
    images = exported.data["x_test"]
    keras_probabilities = model_files.load_classifier(exported.folder / "digit_cnn.keras")(images)
    probabilities = model_files.load_classifier(exported.folder / "digit_cnn_int8.tflite")(images)
    assert probabilities.dtype == np.float32 and probabilities.shape == (len(images), 10)
    # A model trained for seconds has a few near-ties that int8 rounding may flip; the slow
    # test holds int8 to 99.5% on a model trained on real MNIST.
    assert np.mean(probabilities.argmax(axis=1) == keras_probabilities.argmax(axis=1)) >= 0.98
    # The probabilities are computed in int8, in steps of 1/256.
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=0.03)
    assert np.abs(probabilities - keras_probabilities).max() < 0.1


def test_int8_model_takes_pixels_as_they_are(exported):
    """What the README promises: uint8 pixels in, float32 probabilities out, no scaling."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(exported.folder / "digit_cnn_int8.tflite"))
    interpreter.allocate_tensors()
    (input_detail,), (output_detail,) = (
        interpreter.get_input_details(), interpreter.get_output_details()
    )
    assert input_detail["dtype"] == np.uint8 and input_detail["quantization"] == (1.0, 0)
    assert output_detail["dtype"] == np.float32
    image, label = exported.data["x_test"][0], exported.data["y_test"][0]
    interpreter.set_tensor(input_detail["index"], image[None, :, :, None])
    interpreter.invoke()
    assert interpreter.get_tensor(output_detail["index"])[0].argmax() == label


@pytest.mark.parametrize("name", ["digit_cnn.tflite", "digit_cnn_int8.tflite"])
def test_litert_models_run_without_tensorflow(exported, name):
    code = (
        "import sys, numpy as np, model_files\n"
        "probabilities = model_files.load_classifier(sys.argv[1])(np.zeros((3, 28, 28), np.uint8))\n"
        "print(probabilities.shape, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(exported.folder / name)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=True,
    )
    assert result.stdout.split("\n")[0] == "(3, 10) False"


@pytest.mark.parametrize("name", ["digit_cnn.tflite", "digit_cnn_int8.tflite"])
def test_litert_batches_of_any_size_give_the_same_answers(exported, name):
    predict = model_files.load_classifier(exported.folder / name)
    images = exported.data["x_test"][:260]  # One batch of 256, then a short one.
    together = predict(images)
    one_by_one = np.concatenate([predict(images[i : i + 1]) for i in (0, 255, 256, 259)])
    np.testing.assert_allclose(together[[0, 255, 256, 259]], one_by_one, atol=1e-6)
    assert predict(images[:0]).shape == (0, 10)


def write_litert(path, inputs, outputs):
    """Writes a LiteRT model of any shape, converted as export.py converts the real one."""
    saved_model = path.with_suffix(".savedmodel")
    keras.Model(inputs, outputs).export(saved_model, format="tf_saved_model", verbose=False)
    path.write_bytes(export.convert_to_litert(saved_model))


@pytest.fixture(scope="module")
def bad_models(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_models")
    float_model = (exported.folder / "digit_cnn.tflite").read_bytes()
    (folder / "truncated.tflite").write_bytes(float_model[: len(float_model) // 2])
    (folder / "text.tflite").write_text("not a model\n")
    (folder / "empty.tflite").write_bytes(b"")
    (folder / "text.keras").write_text("not a model\n")
    (folder / "text.onnx").write_text("not a model\n")
    (folder / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (folder / "not_a_savedmodel").mkdir()
    (folder / "not_a_savedmodel" / "notes.txt").write_text("no model here\n")
    shutil.copytree(exported.folder / "digit_cnn_savedmodel", folder / "broken_savedmodel")
    (folder / "broken_savedmodel" / "saved_model.pb").write_bytes(b"garbage")

    pixels = keras.Input((28, 28, 1))
    write_litert(folder / "five_classes.tflite", pixels,
                 keras.layers.Dense(5)(keras.layers.Flatten()(pixels)))
    flat = keras.layers.Flatten()(pixels)
    keras.Model(pixels, [keras.layers.Dense(10)(flat), keras.layers.Dense(10)(flat)]).save(
        folder / "two_outputs.keras")
    with pytest.warns(UserWarning, match="not yet been built"):  # What the user would see.
        keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)]).save(
            folder / "unbuilt.keras")
    keras.Model(pixels, keras.layers.Dense(10)(flat)).save(folder / "logits.keras")
    large_pixels = keras.Input((32, 32, 1))
    write_litert(folder / "large_input.tflite", large_pixels,
                 keras.layers.Dense(10)(keras.layers.Flatten()(large_pixels)))
    return folder


def test_a_litert_model_of_one_fixed_batch_size_reads_any_number(tmp_path):
    # Converted from a Keras model built for batches of 1, as many published .tflite files are.
    pixels = keras.Input((28, 28, 1), batch_size=1)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(pixels))
    write_litert(tmp_path / "batch1.tflite", pixels, outputs)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    probabilities = model_files.load_classifier(tmp_path / "batch1.tflite")(images)
    one_by_one = [model_files.load_classifier(tmp_path / "batch1.tflite")(image[None])
                  for image in images]
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities, np.concatenate(one_by_one), atol=1e-6)


BAD_MODELS = {
    "missing.tflite": "not found: run `python train.py` first",
    "truncated.tflite": "is not a usable LiteRT model: The model is not a valid Flatbuffer",
    "text.tflite": "is not a usable LiteRT model",
    "empty.tflite": "is not a usable LiteRT model",
    "text.keras": "could not be loaded safely: not a .keras file (a .keras file is a zip archive)",
    "weights.h5": "unknown format (expected .keras, .tflite, .onnx or a SavedModel folder)",
    "not_a_savedmodel": "is a folder but not a SavedModel (it has no saved_model.pb)",
    "broken_savedmodel": "could not be loaded",
    "five_classes.tflite": "gives output (5,), not 10 digit classes",
    "two_outputs.keras": "has 1 inputs and 2 outputs, not one of each",
    "unbuilt.keras": "has no defined input: build it before saving",
    "large_input.tflite": "takes input (32, 32, 1), not 28x28 images",
    "text.onnx": "is not a usable ONNX model" if importlib.util.find_spec("onnxruntime")
    else "running .onnx models needs `pip install onnxruntime`",
}


@pytest.mark.parametrize(("name", "message"), BAD_MODELS.items())
def test_bad_model_is_refused_in_one_line(bad_models, name, message):
    with pytest.raises(common.UserError) as caught:
        model_files.load_classifier(bad_models / name)
    assert str(caught.value).startswith(f"model {bad_models / name}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["truncated.tflite", "five_classes.tflite", "not_a_savedmodel"])
def test_predict_refuses_bad_model_with_status_2(bad_models, tmp_path, name):
    picture = tmp_path / "seven.png"
    Image.fromarray(font_digits(1, seed=7)[0][0]).save(picture)
    result = subprocess.run(
        [sys.executable, str(REPO / "predict.py"), str(picture), "--model", str(bad_models / name)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )
    assert result.returncode == common.EXIT_USAGE
    assert result.stderr.startswith(f"predict.py: error: model {bad_models / name}")
    assert BAD_MODELS[name] in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("name", "message"), [
    ("text.keras", "could not be loaded safely"),
    # Refused as the model given, not as the hidden export it was found out by.
    ("logits.keras", "does not give probabilities"),
])
def test_export_refuses_bad_model_with_status_2(exported, bad_models, name, message):
    result = subprocess.run(
        [sys.executable, str(REPO / "export.py"), "--model", str(bad_models / name),
         "--data", str(exported.folder / "mnist.npz")],
        capture_output=True, text=True, cwd=bad_models, timeout=120, check=False,
    )
    assert result.returncode == common.EXIT_USAGE
    last_line = result.stderr.strip().splitlines()[-1]  # TensorFlow may log while loading.
    assert last_line.startswith(f"export.py: error: model {bad_models / name} {message}")
    assert "Traceback" not in result.stderr
    stem = name.removesuffix(".keras")
    assert not (bad_models / f"{stem}_savedmodel").exists()
    assert not (bad_models / f"{stem}_int8.tflite").exists()


@pytest.mark.parametrize(("kind", "name"), [
    ("savedmodel", "digit_cnn_savedmodel"), ("int8", "digit_cnn_int8.tflite")
])
def test_export_failing_its_check_keeps_the_earlier_file(exported, tmp_path, monkeypatch, kind, name):
    folder = tmp_path / "models"
    shutil.copytree(exported.folder, folder)
    before = contents(folder / name)
    # The real check, made impossible to pass: the export is written and then refused.
    monkeypatch.setitem(export.MIN_AGREEMENT, kind, 1.01)
    assert run_export(folder) == common.EXIT_USAGE
    assert contents(folder / name) == before
    assert [path.name for path in folder.iterdir() if path.name.startswith(".")] == []


def test_a_model_of_another_name_gets_its_own_record(exported, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(exported.folder, folder)
    default_record = (folder / "export.json").read_bytes()
    shutil.copy(folder / "digit_cnn.keras", folder / "wide.keras")
    argv = ["--model", str(folder / "wide.keras"), "--data", str(folder / "mnist.npz")]
    assert common.run_cli(export.main, argv) == common.EXIT_OK
    assert (folder / "export.json").read_bytes() == default_record
    record = json.loads((folder / "wide_export.json").read_text())
    assert record["source_model"] == str(folder / "wide.keras")
    assert (folder / "wide.tflite").is_file() and (folder / "wide_savedmodel").is_dir()


def test_export_the_converter_refuses_keeps_the_whole_earlier_set(exported, tmp_path, capfd):
    folder = tmp_path / "models"
    shutil.copytree(exported.folder, folder)
    before = {path.name: contents(path) for path in folder.iterdir()}
    # A model of 28x28 images and 10 classes that LiteRT's built-in ops cannot run: its
    # SavedModel is written and passes its check, then the float conversion fails.
    pixels = keras.Input((28, 28, 1))
    rows = keras.layers.LSTM(8)(keras.layers.Reshape((28, 28))(pixels))
    keras.Model(pixels, keras.layers.Dense(10, activation="softmax")(rows)).save(
        folder / "digit_cnn.keras")
    capfd.readouterr()
    assert run_export(folder) == common.EXIT_USAGE
    last_line = capfd.readouterr().err.strip().splitlines()[-1]  # TensorFlow may log before.
    assert ": error: the float export failed (" in last_line
    assert last_line.endswith("); earlier exports were kept")
    assert {path.name: contents(path) for path in folder.iterdir()
            if path.name != "digit_cnn.keras"} == {
        name: value for name, value in before.items() if name != "digit_cnn.keras"}


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"real MNIST not found in {SHARED_MNIST}")
def test_int8_model_keeps_the_accuracy_on_real_mnist(tmp_path):
    arrays, _ = preprocess.load_local(SHARED_MNIST)
    data = {
        "x_train": arrays["x_train"][:12000], "y_train": arrays["y_train"][:12000],
        "x_val": arrays["x_train"][-2000:], "y_val": arrays["y_train"][-2000:],
        "x_test": arrays["x_test"], "y_test": arrays["y_test"],
    }
    np.savez(tmp_path / "mnist.npz", **data)
    keras.utils.set_random_seed(0)
    train_model(data["x_train"], data["y_train"], width=32, epochs=2, batch_size=64).save(
        tmp_path / "digit_cnn.keras"
    )
    assert run_export(tmp_path) == common.EXIT_OK

    images, labels = data["x_test"], data["y_test"]
    keras_answers = model_files.load_classifier(tmp_path / "digit_cnn.keras")(images).argmax(axis=1)
    int8_answers = model_files.load_classifier(tmp_path / "digit_cnn_int8.tflite")(images).argmax(axis=1)
    float_answers = model_files.load_classifier(tmp_path / "digit_cnn.tflite")(images).argmax(axis=1)
    keras_accuracy = np.mean(keras_answers == labels)
    assert keras_accuracy >= 0.96
    assert np.mean(float_answers == keras_answers) >= 0.9995
    assert np.mean(int8_answers == keras_answers) >= 0.995
    assert abs(np.mean(int8_answers == labels) - keras_accuracy) <= 0.002


def test_a_folder_where_the_record_goes_is_found_before_any_export_is_replaced(exported,
                                                                               tmp_path):
    """export.py replaced the three exports, then failed on its record (a folder in its
    place), leaving a stale record beside new exports."""
    folder = tmp_path / "models"
    shutil.copytree(exported.folder, folder)
    (folder / "export.json").unlink()
    (folder / "export.json").mkdir()
    before = {path.name: contents(path) for path in folder.iterdir()}
    assert run_export(folder) == common.EXIT_USAGE
    assert {path.name: contents(path) for path in folder.iterdir()} == before


def test_an_export_listed_in_another_models_record_is_not_replaced(exported, tmp_path, capsys):
    """digit_cnn_int8.keras's float export is digit_cnn_int8.tflite: digit_cnn's int8 one."""
    folder = tmp_path / "models"
    shutil.copytree(exported.folder, folder)
    shutil.copy(folder / "digit_cnn.keras", folder / "digit_cnn_int8.keras")
    before = contents(folder / "digit_cnn_int8.tflite")
    argv = ["--model", str(folder / "digit_cnn_int8.keras"), "--data", str(folder / "mnist.npz")]
    assert common.run_cli(export.main, argv) == common.EXIT_USAGE
    assert capsys.readouterr().err.strip().endswith(
        f"{folder / 'digit_cnn_int8.tflite'} is an export of digit_cnn.keras (listed in "
        f"{folder / 'export.json'}): it is not replaced; rename digit_cnn_int8.keras")
    assert contents(folder / "digit_cnn_int8.tflite") == before


# The default model of predict.py: the float export while it is the .keras file's.

@pytest.fixture
def models(exported, tmp_path, monkeypatch):
    """A project folder (the working directory) whose models/ holds the exported set."""
    shutil.copytree(exported.folder, tmp_path / "models")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "models"


def test_the_float_export_serves_while_its_record_ties_it_to_the_keras_file(models, capsys):
    assert model_files.model_to_serve() == Path("models/digit_cnn.tflite")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("change", "reason"), [
    ("keras trained again", "models/digit_cnn.keras has changed since the export"),
    ("record missing", "no export record models/export.json"),
    ("record from an older export.py",
     "models/export.json, from an older export.py, does not tie it to a .keras file"),
    ("record of another kind", "models/export.json is not an export record"),
    ("tflite replaced", "it is not the file models/export.json lists"),
])
def test_an_export_out_of_date_is_not_used_and_one_line_says_so(models, tiny_model, capsys,
                                                                 change, reason):
    record_path = models / "export.json"
    record = json.loads(record_path.read_text())
    if change == "keras trained again":
        shutil.copy(tiny_model, models / "digit_cnn.keras")
    elif change == "record missing":
        record_path.unlink()
    elif change == "record from an older export.py":
        del record["source_sha256"]
        record_path.write_text(json.dumps(record))
    elif change == "record of another kind":
        record_path.write_text(json.dumps({"kind": "metrics"}))
    else:
        shutil.copy(models / "digit_cnn_int8.tflite", models / "digit_cnn.tflite")
    assert model_files.model_to_serve() == Path("models/digit_cnn.keras")
    assert capsys.readouterr().err.splitlines() == [
        f"{Path(sys.argv[0]).name}: models/digit_cnn.tflite is out of date ({reason}): answering "
        "with models/digit_cnn.keras instead, which starts slower; `python export.py` "
        "refreshes it"]


def test_a_model_never_exported_is_served_as_it_is_without_a_word(models, capsys):
    (models / "digit_cnn.tflite").unlink()
    assert model_files.model_to_serve() == Path("models/digit_cnn.keras")
    shutil.copy(models / "digit_cnn.keras", models / "wide.keras")
    assert model_files.model_to_serve(models / "wide.keras") == models / "wide.keras"
    assert capsys.readouterr().err == ""


def pictures(folder, count=6):
    """Digits drawn in Pillow's font, large on a white page, as PNG files."""
    folder.mkdir()
    images, _ = font_digits(count, seed=3)
    for index, image in enumerate(images):
        page = Image.fromarray(255 - image).resize((140, 140), Image.Resampling.LANCZOS)
        page.save(folder / f"{index}.png")
    return folder


def test_predict_answers_from_the_float_export_without_tensorflow_as_the_keras_model(models):
    """The default of predict.py, the float export, gives the .keras model's answers;
    TensorFlow is not even imported."""
    folder = pictures(models.parent / "pictures")
    fast, imported = run_noting_imports("predict.py", folder, "--json", cwd=models.parent)
    assert fast.returncode == 0 and fast.stderr == "" and imported == set()
    slow, imported = run_noting_imports("predict.py", folder, "--json", "--model",
                                        "models/digit_cnn.keras", cwd=models.parent)
    assert slow.returncode == 0 and "tensorflow" in imported
    fast, slow = ([json.loads(line) for line in result.stdout.splitlines()]
                  for result in (fast, slow))
    assert [record["digit"] for record in fast] == [record["digit"] for record in slow]
    np.testing.assert_allclose([record["probabilities"] for record in fast],
                               [record["probabilities"] for record in slow], atol=1e-4)


def test_predict_with_an_out_of_date_export_answers_from_the_keras_file(models, tiny_model):
    shutil.copy(tiny_model, models / "digit_cnn.keras")  # Trained again, not yet exported.
    folder = pictures(models.parent / "pictures", count=2)
    result, imported = run_noting_imports("predict.py", folder, "--json", cwd=models.parent)
    assert result.returncode == 0 and "tensorflow" in imported
    ours = [line for line in result.stderr.splitlines() if line.startswith("predict.py:")]
    assert len(ours) == 1 and "models/digit_cnn.tflite is out of date" in ours[0]
    probabilities = model_files.load_classifier(tiny_model)(np.stack(
        [digit_image_of(path) for path in sorted(folder.iterdir())]))
    np.testing.assert_allclose([json.loads(line)["probabilities"]
                                for line in result.stdout.splitlines()], probabilities,
                               atol=1e-5)


def digit_image_of(path):
    import digit_image

    return digit_image.normalize(path)


def test_export_refuses_a_keras_file_replaced_while_it_exported(exported, tmp_path,
                                                                monkeypatch, tiny_model):
    """The record's hash must be of the .keras the exports were made from."""
    folder = tmp_path / "models"
    shutil.copytree(exported.folder, folder)
    before = {path.name: contents(path) for path in folder.iterdir()}
    real_stage = export.stage_exports

    def stage_then_retrain(*args):
        agreement = real_stage(*args)
        shutil.copy(tiny_model, folder / "digit_cnn.keras")
        return agreement

    monkeypatch.setattr(export, "stage_exports", stage_then_retrain)
    assert run_export(folder) == common.EXIT_USAGE
    assert {path.name: contents(path) for path in folder.iterdir()
            if path.name != "digit_cnn.keras"} == {
        name: value for name, value in before.items() if name != "digit_cnn.keras"}
