"""How far a model's probabilities can be taken at their word, and one temperature that fixes them.

NumPy only: train.py fits the temperature on the validation split, evaluate.py measures the
test split. Temperature scaling (Guo et al., "On calibration of modern neural networks",
ICML 2017) divides the logits by one number T before the softmax: every answer stays the
same, only the probabilities sharpen (T < 1) or soften (T > 1). Label smoothing leaves the
trained model under-confident, so its T comes out below 1.
"""

import numpy as np

RELIABILITY_BINS = 15  # Equal-width bins of the top probability, as Guo et al. count them.
# Keras clips probabilities to [1e-7, 1 - 1e-7] in its cross-entropy; the same clip keeps one
# confident mistake from making the mean infinite.
EPSILON = 1e-7
# Where the temperature is looked for. A model whose validation answers are all right would
# push T towards 0 for ever (every sharpening lowers its log-loss); the bound stops it there.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def softmax(logits, temperature=1.0):
    """softmax(logits / temperature) along the last axis, in float64."""
    scaled = np.asarray(logits, np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)  # exp() of large logits would overflow
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def log_loss(probabilities, labels):
    """The mean of -log(probability of the true class), clipped as Keras clips it."""
    picked = np.asarray(probabilities)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, EPSILON, 1.0)).mean())


def brier_score(probabilities, labels):
    """The mean over images of the sum over classes of (probability - 1 if true else 0)^2:
    0 for sure right answers, 2 for sure wrong ones."""
    probabilities = np.asarray(probabilities, np.float64)
    truth = np.eye(probabilities.shape[1])[labels]
    return float(((probabilities - truth) ** 2).sum(axis=1).mean())


def reliability(probabilities, labels, bins=RELIABILITY_BINS):
    """Per equal-width bin of the top probability: {"count", "confidence" (the mean top
    probability in it), "accuracy"}, None for the last two in an empty bin."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    # Bin b holds (b/bins, (b+1)/bins]; a top probability of exactly 0 cannot occur.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        rows.append({"count": count,
                     "confidence": float(confidence[inside].mean()) if count else None,
                     "accuracy": float(right[inside].mean()) if count else None})
    return rows


def expected_calibration_error(probabilities, labels, bins=RELIABILITY_BINS):
    """The mean gap between confidence and accuracy over the bins of reliability(), each
    weighted by its share of the images, as a fraction."""
    rows = reliability(probabilities, labels, bins)
    return float(sum(row["count"] * abs(row["confidence"] - row["accuracy"])
                     for row in rows if row["count"]) / len(labels))


def averaged_probabilities(logits, temperature):
    """logits: (members, N, classes). The mean over the members of softmax(logits / T), as
    the saved ensemble computes it (a single model is an ensemble of one)."""
    return softmax(logits, temperature).mean(axis=0)


def fit_temperature(logits, labels):
    """The T in [MIN_TEMPERATURE, MAX_TEMPERATURE] giving the lowest log-loss of
    averaged_probabilities(logits, T) on these labels; logits (members, N, classes).

    A grid over log T in steps of 0.05 finds the valley, then golden-section search pins its
    floor between the grid's neighbours. For one model the log-loss is convex in 1/T, so the
    valley is the only one; for an average of several it has been one in every case tried.
    """
    logits = np.asarray(logits, np.float64)

    def loss(log_t):
        return log_loss(averaged_probabilities(logits, np.exp(log_t)), labels)

    low, high = np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)
    grid = np.linspace(low, high, int(round((high - low) / 0.05)) + 1)
    best = int(np.argmin([loss(log_t) for log_t in grid]))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    loss_c, loss_d = loss(c), loss(d)
    while b - a > 1e-4:  # T to within 0.01%
        if loss_c <= loss_d:
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(c)
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(d)
    return float(np.exp((a + b) / 2))
