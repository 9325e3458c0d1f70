"""calibration.py: the measures of evaluate.py and the temperature train.py fits, checked on
numbers worked out by hand and on logits whose true temperature is known."""

import numpy as np
import pytest

import calibration


def test_measures_by_hand():
    labels = np.array([0, 1, 2, 0])
    probabilities = np.array([
        [0.9, 0.05, 0.05],  # right, confidence 0.9
        [0.6, 0.3, 0.1],  # wrong (says 0), confidence 0.6
        [0.2, 0.2, 0.6],  # right, confidence 0.6
        [1.0, 0.0, 0.0],  # right, sure
    ])
    assert calibration.log_loss(probabilities, labels) == pytest.approx(
        -(np.log(0.9) + np.log(0.3) + np.log(0.6) + np.log(1.0)) / 4)
    assert calibration.brier_score(probabilities, labels) == pytest.approx(
        (0.01 + 0.0025 + 0.0025 + 0.36 + 0.49 + 0.01 + 0.04 + 0.04 + 0.16 + 0) / 4)
    # 15 bins of 1/15: 0.6 falls in bin 9 (0.6 <= 9/15), 0.9 in bin 13, 1.0 in bin 14.
    rows = calibration.reliability(probabilities, labels)
    assert [row["count"] for row in rows] == [0] * 8 + [2, 0, 0, 0, 0, 1, 1]
    assert rows[8] == {"count": 2, "confidence": pytest.approx(0.6), "accuracy": 0.5}
    assert rows[0] == {"count": 0, "confidence": None, "accuracy": None}
    # Gaps: |0.6 - 0.5| for two images, |0.9 - 1| for one, |1 - 1| for one.
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(
        (2 * 0.1 + 0.1) / 4)


def test_bin_edges_hold_their_upper_end():
    labels = np.zeros(3, int)
    # 1/3 exactly is the upper edge of bin 4 (5/15); a hair above is in bin 5.
    probabilities = np.array([[1 / 3, 1 / 3, 1 / 3], [1 / 3 + 1e-9, 1 / 3, 1 / 3 - 1e-9],
                              [1.0, 0.0, 0.0]])
    counts = [row["count"] for row in calibration.reliability(probabilities, labels)]
    assert counts[4] == 1 and counts[5] == 1 and counts[14] == 1


def test_the_fitted_temperature_is_the_one_that_made_the_labels():
    """Labels drawn from softmax(logits / 0.4): the fit finds 0.4, and at that temperature
    the probabilities are calibrated, with every answer as it was."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(20_000, 10))
    truth = calibration.softmax(logits, 0.4)
    labels = np.array([rng.choice(10, p=p) for p in truth])
    temperature = calibration.fit_temperature(logits[None], labels)
    assert temperature == pytest.approx(0.4, rel=0.03)
    fitted = calibration.averaged_probabilities(logits[None], temperature)
    assert np.array_equal(fitted.argmax(axis=1), logits.argmax(axis=1))
    assert calibration.expected_calibration_error(fitted, labels) < 0.01
    assert calibration.expected_calibration_error(calibration.softmax(logits), labels) > 0.05
    assert (calibration.log_loss(fitted, labels)
            < calibration.log_loss(calibration.softmax(logits), labels))


def test_an_ensembles_temperature_is_fitted_on_the_average_of_its_members():
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 2, size=(10_000, 10))
    members = np.stack([shared + rng.normal(0, 0.5, shared.shape) for _ in range(3)])
    labels = np.array([rng.choice(10, p=p) for p in calibration.softmax(shared, 0.5)])
    temperature = calibration.fit_temperature(members, labels)
    losses = {t: calibration.log_loss(calibration.averaged_probabilities(members, t), labels)
              for t in (temperature * 0.97, temperature, temperature * 1.03)}
    assert min(losses, key=losses.get) == temperature
    # Not the temperature of any one member's probabilities: of their average.
    alone = calibration.fit_temperature(members[:1], labels)
    assert abs(alone - temperature) > 0.005


def test_a_split_with_no_mistakes_stops_at_the_end_of_the_range():
    logits = np.eye(10)[np.arange(100) % 10] * 5
    temperature = calibration.fit_temperature(logits[None], np.arange(100) % 10)
    assert temperature == pytest.approx(calibration.MIN_TEMPERATURE, rel=0.01)


def test_softmax_of_large_logits_is_finite():
    probabilities = calibration.softmax(np.array([[1000.0, 0.0, -1000.0]]), 0.05)
    assert np.isfinite(probabilities).all() and probabilities[0, 0] == 1.0
