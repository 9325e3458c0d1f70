"""The model train.py saves from a run: the kept weights of one member, or the average of
several, calibrated by one temperature fitted on the validation split (calibration.py).

Imports Keras inside the functions: train.py calls them after TensorFlow is loaded.
"""

import numpy as np

import calibration
import recognize


def kept_model(path, width, name="digit_cnn", temperature=1.0):
    """The model of a run's kept epoch: model.py's network with the weights at path and the
    given temperature, and no optimizer, so that the saved file is small and loads without
    train.py's schedule."""
    from model import build_model

    model = build_model(width=width, name=name, temperature=temperature)
    model.load_weights(path)
    return model


def average_models(paths, width, temperature=1.0):
    """One model whose output is the mean of the members' probabilities, each member
    calibrated by the one temperature they share."""
    import keras

    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    outputs = [kept_model(path, width, name=f"member_{index}", temperature=temperature)(inputs)
               for index, path in enumerate(paths)]
    outputs = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=f"digit_cnn_ensemble_of_{len(paths)}")


def kept_logits(paths, width, images):
    """(members, N, 10): each kept model's logits, before its temperature, for images."""
    import keras

    logits = []
    for path in paths:
        model = kept_model(path, width)
        head = keras.Model(model.inputs, model.get_layer("logits").output)
        logits.append(head.predict(images[..., None], batch_size=1024, verbose=0))
    return np.stack(logits)


def calibrate(logits, labels):
    """Fits the temperature of the members' logits (calibration.fit_temperature) on these
    labels; returns it and what it changed, for the training record."""
    temperature = calibration.fit_temperature(logits, labels)

    def measured(t):
        probabilities = calibration.averaged_probabilities(logits, t)
        return {"log_loss": calibration.log_loss(probabilities, labels),
                "ece": calibration.expected_calibration_error(probabilities, labels),
                "accuracy": float((probabilities.argmax(axis=1) == labels).mean())}

    return temperature, {"temperature": temperature, "split": "validation",
                         "before": measured(1.0), "after": measured(temperature)}


def saved_model(paths, width, images, labels):
    """The model to save from the members' kept weights at paths, and the calibration record:
    one temperature, fitted on the validation images after training. The training loss is
    the same recipe's, and every answer stays the same. An ensemble's members share it,
    fitted on the average of their probabilities."""
    temperature, calibrated = calibrate(kept_logits(paths, width, images), labels)
    if len(paths) == 1:
        return kept_model(paths[0], width, temperature=temperature), calibrated
    return average_models(paths, width, temperature), calibrated


def refusals(model, data):
    """The share of the validation digits, and of the validation pictures with no digit, whose
    top probability is under recognize.MIN_CONFIDENCE: predict.py gives no digit for them."""
    def refused(images):
        probabilities = model.predict(images[..., None], batch_size=1024, verbose=0)
        return float((probabilities.max(axis=1) < recognize.MIN_CONFIDENCE).mean())

    no_digit = data.get("x_not_a_digit_val", np.zeros((0, 28, 28), np.uint8))
    return {"validation_digits_refused": refused(data["x_val"]),
            "validation_pictures_with_no_digit": len(no_digit),
            "validation_pictures_with_no_digit_refused": refused(no_digit) if len(no_digit) else 0.0}
