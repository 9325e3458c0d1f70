"""Reading a trained model, in any of the four formats export.py writes.

load_classifier(path) gives predict(images) -> probabilities for a .keras file, a SavedModel
folder, a LiteRT .tflite file or an .onnx file, each checked before it is trusted: a regular
file (or folder) of at most MAX_MODEL_BYTES, a model of its format, mapping 28x28 images to
10 probabilities. model_to_serve() says which file answers when the user names none. The
LiteRT and ONNX paths never import TensorFlow, so predict.py starts in a fraction of a second.
"""

import json
import os
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np

import common
import safe_files
import safe_outputs

# The most a loader reads of a model, in bytes (uncompressed, for a .keras archive): beyond
# it the file is refused before it is read. The widest model train.py makes (--width 512)
# is 68 MB.
MAX_MODEL_BYTES = 1_000_000_000


def file_sha256(path):
    """The SHA-256 of a model file (a regular file of at most MAX_MODEL_BYTES), in hex;
    common.UserError otherwise."""
    try:
        return safe_files.file_sha256(path, MAX_MODEL_BYTES)
    except safe_files.Refused as error:
        raise common.UserError(str(error)) from None


def export_record_path(keras_path):
    """Where export.py records the exports of the .keras model at keras_path:
    models/export.json for the default model, models/NAME_export.json for NAME.keras."""
    keras_path = Path(keras_path)
    return keras_path.parent / common.named_for(keras_path, "export.json")


def named_or_default(args):
    """The model common.add_model_flag's --model names, else model_to_serve()'s."""
    return getattr(args, "model", None) or model_to_serve()


def model_to_serve(keras_path=common.MODEL_PATH):
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
    refresh = "python export.py" + ("" if keras_path == common.MODEL_PATH else f" --model {keras_path}")
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
        if not isinstance(record, dict) or safe_outputs.record_kind(record) != "export":
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
    except common.UserError as error:
        return str(error)
    return None


def load_classifier(path=common.MODEL_PATH, threads=None):
    """Loads a trained model and returns predict(images) -> (N, 10) float32 probabilities.

    images are uint8 (N, 28, 28) in MNIST form. path is a .keras file, a SavedModel folder,
    a LiteRT .tflite file (float or int8) or an .onnx file, as export.py writes them (the
    suffix in any case); .tflite and .onnx models run without importing TensorFlow. Raises
    common.UserError when the model is missing or not a regular file (a FIFO, a device: refused
    before anything reads it), is larger than MAX_MODEL_BYTES, is not a model of its format,
    does not map 28x28 images to 10 classes, gives something other than probabilities for a
    blank image (scores before a softmax, NaN), or (a .keras file) would run code on load;
    predict raises it too when a batch's outputs are not probabilities. threads is how many
    CPU threads a LiteRT or ONNX model runs on (default: every core; read_many.py's workers,
    one per core, take one each); TensorFlow, which runs the others, sets its own for the
    whole process.
    """
    path = Path(path)
    threads = threads or os.cpu_count()
    loader = {"savedmodel": _load_saved_model, ".keras": _load_keras,
              ".tflite": lambda tflite: _load_tflite(tflite, threads),
              ".onnx": lambda onnx: _load_onnx(onnx, threads)}[check_model_path(path)]
    return checked_probabilities(path, loader(path))


def check_model_path(path):
    """The format of the model at path (".keras", ".tflite", ".onnx" or "savedmodel"), told
    from its suffix and whether it is a file or a folder, without reading it; common.UserError when
    it is missing, neither a file nor a folder, or of no known format."""
    path = Path(path)
    suffix = path.suffix.lower()
    if model_kind(path) == "folder":
        if suffix in (".keras", ".tflite", ".onnx"):
            raise common.UserError(f"model {path} is a folder, not a {suffix} file")
        return "savedmodel"
    if suffix in (".keras", ".tflite", ".onnx"):
        return suffix
    raise common.UserError(f"model {path}: unknown format "
                    "(expected .keras, .tflite, .onnx or a SavedModel folder)")


def model_kind(path):
    """"file" or "folder" for a model's path; common.UserError for anything else (missing, a FIFO,
    a device, a link loop), said before any library opens it."""
    found = safe_files.kind(path)
    if found == "not found":
        raise common.UserError(f"model {path} not found: run `python train.py` first")
    if found not in ("file", "folder"):
        raise common.UserError(f"model {path} {found}")
    return found


def read_model_bytes(path):
    """The bytes of a model file, checked to be a regular file of at most MAX_MODEL_BYTES."""
    try:
        return safe_files.read_bytes(path, MAX_MODEL_BYTES)
    except safe_files.Refused as error:
        raise common.UserError(f"model {path} {error.reason}") from None


def checked_probabilities(path, predict):
    """predict, checked to give probabilities: on one blank image now, so that a model that
    does not is refused before anything is printed or written, and on every batch after."""

    def probabilities(images):
        values = predict(images)
        # An int8 model's probabilities are rounded to 1/256 each.
        if len(values) and not (np.isfinite(values).all() and values.min() >= -0.01
                                and np.allclose(values.sum(axis=1), 1, atol=0.05)):
            raise common.UserError(f"model {path} does not give probabilities (each image's 10 "
                            "outputs from 0 to 1, summing to 1): does it end in a softmax?")
        return values

    probabilities(np.zeros((1, common.IMAGE_SIZE, common.IMAGE_SIZE), np.uint8))
    return probabilities


def load_keras_model(path):
    """The keras.Model in a .keras file, checked to map 28x28 images to 10 classes."""
    path = Path(path)
    if model_kind(path) == "folder":  # Keras would say "File not found".
        raise common.UserError(f"model {path} is a folder, not a .keras file")
    try:
        file = safe_files.open_input(path)
    except safe_files.Refused as error:
        raise common.UserError(f"model {path} {error.reason}") from None
    with file:
        if not zipfile.is_zipfile(file):  # Keras would say "File not found".
            raise common.UserError(f"model {path} could not be loaded safely: not a .keras file (a "
                            ".keras file is a zip archive), or cut short")
        try:
            with zipfile.ZipFile(file) as archive:
                safe_files.check_archive(archive, MAX_MODEL_BYTES, path)
            file.seek(0)
            common.quiet_tensorflow()  # imports TensorFlow quietly, so Keras's import prints nothing
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
            raise common.UserError(f"model {path} could not be loaded safely: {error.reason}") from None
        except Exception as error:  # noqa: BLE001  Keras raises many types for a bad file.
            raise common.UserError(f"model {path} could not be loaded safely: {common.first_line(error)}"
                            ) from None
    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:  # A Sequential model saved before it was built.
        raise common.UserError(f"model {path} has no defined input: build it before saving") from None
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
        with common.native_stderr_silenced():
            interpreter = Interpreter(model_content=content, num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise common.UserError(f"model {path} is not a usable LiteRT model: {common.first_line(error)}") from None
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
        raise common.UserError(f"model {path} is a folder but not a SavedModel (it has no saved_model.pb)")
    try:  # TensorFlow would block on a FIFO inside, or read a device for ever.
        safe_files.check_tree(path, MAX_MODEL_BYTES)
    except safe_files.Refused as error:
        raise common.UserError(f"model {error}") from None
    common.quiet_tensorflow()
    import tensorflow as tf

    try:
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    except Exception as error:  # noqa: BLE001  TensorFlow raises many types for a bad folder.
        raise common.UserError(f"model {path} could not be loaded: {common.first_line(error)}") from None
    # A signature takes keyword arguments and returns a dict, both keyed by tensor name.
    inputs, outputs = serve.structured_input_signature[1], serve.structured_outputs
    _check_one_input_and_output(path, inputs, outputs)
    ((input_name, input_spec),), ((output_name, output_spec),) = inputs.items(), outputs.items()
    check_model_shapes(path, input_spec.shape, output_spec.shape)

    def run(batch):
        pixels = tf.constant(batch.reshape(-1, *input_spec.shape[1:]), dtype=input_spec.dtype)
        return serve(**{input_name: pixels})[output_name].numpy()

    return lambda images: _in_batches(run, images, batch_size=1024)


def _load_onnx(path, threads):
    try:
        import onnxruntime
    except ImportError:
        raise common.UserError(f"model {path}: running .onnx models needs `pip install onnxruntime`") from None
    content = read_model_bytes(path)
    try:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001  ONNX Runtime raises a type of its own per cause.
        raise common.UserError(f"model {path} is not a usable ONNX model: {common.first_line(error)}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    _check_one_input_and_output(path, inputs, outputs)
    # ONNX names a dimension of variable size (such as the batch) instead of giving a size.
    input_shape = [size if isinstance(size, int) else None for size in inputs[0].shape]
    output_shape = [size if isinstance(size, int) else None for size in outputs[0].shape]
    check_model_shapes(path, input_shape, output_shape)
    if inputs[0].type != "tensor(float)":
        raise common.UserError(f"model {path} takes {inputs[0].type}, not float pixels")

    def run(batch):
        pixels = batch.reshape(-1, *input_shape[1:]).astype(np.float32)
        return session.run(None, {inputs[0].name: pixels})[0]

    return lambda images: _in_batches(run, images, batch_size=1024)


def _in_batches(run, images, batch_size):
    """run(batch) over images, batch_size at a time, as one float32 array of probabilities."""
    results = [np.zeros((0, common.NUM_CLASSES), np.float32)]
    for start in range(0, len(images), batch_size):
        results.append(run(images[start : start + batch_size]))
    return np.concatenate(results).astype(np.float32, copy=False)


def _check_one_input_and_output(path, inputs, outputs):
    if len(inputs) != 1 or len(outputs) != 1:
        raise common.UserError(
            f"model {path} has {len(inputs)} inputs and {len(outputs)} outputs, not one of each"
        )


def check_model_shapes(path, input_shape, output_shape):
    """Raises common.UserError unless the model maps 28x28 images (any batch size) to 10 classes.

    The shapes include the batch dimension, as Keras (None), TensorFlow or LiteRT (-1) give it.
    """
    input_shape = tuple(None if size is None else int(size) for size in input_shape)[1:]
    output_shape = tuple(None if size is None else int(size) for size in output_shape)[1:]
    if input_shape not in ((common.IMAGE_SIZE, common.IMAGE_SIZE, 1), (common.IMAGE_SIZE, common.IMAGE_SIZE)):
        raise common.UserError(f"model {path} takes input {input_shape}, not 28x28 images")
    if output_shape != (common.NUM_CLASSES,):
        raise common.UserError(f"model {path} gives output {output_shape}, not 10 digit classes")
