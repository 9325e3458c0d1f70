"""Measures a trained model on the held-out test split: the only stage that reads it.

Reads:  data/mnist.npz, models/digit_cnn.keras (or an exported model: --model)
Writes: reports/metrics.json          accuracy, log-loss, calibration (ECE, Brier), per-class
                                      precision/recall/F1, confusion
        reports/confusion_matrix.png
        reports/misclassified.png     the wrong test digits with their true/predicted labels
        reports/reliability.png       accuracy against confidence, per bin of confidence
The four are written as one set: a failure leaves the earlier set whole. None replaces an
input, nor a file that is not this script's report of the same name.

    python evaluate.py
    python evaluate.py --model models/digit_cnn_int8.tflite --out reports/int8
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import sys
import time
from pathlib import Path

import numpy as np

import calibration
import common
import model_files


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=common.DATA_PATH, help="dataset npz")
    parser.add_argument(
        "--model", type=Path, default=common.MODEL_PATH,
        help="a .keras model or an export of one (.tflite, .onnx, SavedModel folder)",
    )
    parser.add_argument("--out", type=Path, default=common.REPORTS_DIR, help="reports folder")
    common.add_tta_flag(parser)
    common.add_debug_flag(parser)
    return parser.parse_args(argv)


def classification_metrics(labels, probabilities):
    """Accuracy, how far the probabilities can be trusted, per-class precision/recall/F1 and
    the confusion matrix.

    nll is the mean log-loss (Keras's cross-entropy without label smoothing; "loss" is the
    same number, under the name earlier reports gave it), ece the expected calibration
    error over 15 equal-width bins of the top probability (a fraction), brier the mean over
    images of the summed squared errors of the ten probabilities (0 to 2).
    """
    predictions = probabilities.argmax(axis=1)
    n = common.NUM_CLASSES
    confusion = np.zeros((n, n), dtype=np.int64)  # rows: true digit, columns: predicted
    np.add.at(confusion, (labels, predictions), 1)
    true_positives = np.diag(confusion)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = true_positives / np.maximum(predicted, 1)
    recall = true_positives / np.maximum(support, 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    log_loss = calibration.log_loss(probabilities, labels)
    return {
        "accuracy": float(true_positives.sum() / len(labels)),
        "loss": log_loss,
        "nll": log_loss,
        "ece": calibration.expected_calibration_error(probabilities, labels),
        "brier": calibration.brier_score(probabilities, labels),
        "test_size": len(labels),
        "errors": int(len(labels) - true_positives.sum()),
        "per_class": {
            str(digit): {
                "precision": round(float(precision[digit]), 4),
                "recall": round(float(recall[digit]), 4),
                "f1": round(float(f1[digit]), 4),
                "support": int(support[digit]),
            }
            for digit in range(n)
        },
        "confusion_matrix": confusion.tolist(),
    }


def plot_confusion(confusion):
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    figure, ax = plt.subplots(figsize=(6.5, 5.5))
    # A log colour scale, since the diagonal is a hundred times the largest error.
    shown = ax.imshow(np.log1p(confusion), cmap="Blues")
    for (true, predicted), count in np.ndenumerate(confusion):
        colour = "white" if true == predicted else "black"
        if count:
            ax.text(predicted, true, count, ha="center", va="center", fontsize=8, color=colour)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit",
           title="Confusion matrix on the test split")
    figure.colorbar(shown, ax=ax, label="log(1 + count)")
    figure.tight_layout()
    return figure


def plot_misclassified(images, labels, probabilities, limit=64):
    import matplotlib.pyplot as plt

    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    # The most confident mistakes first: those are the ones worth looking at.
    wrong = wrong[np.argsort(-probabilities[wrong, predictions[wrong]])][:limit]
    columns = 8
    rows = max(1, -(-len(wrong) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong):
        ax.imshow(images[index], cmap="gray")
        confidence = probabilities[index, predictions[index]]
        ax.set_title(f"{labels[index]}→{predictions[index]} {confidence:.0%}", fontsize=8)
    figure.suptitle(f"{len(wrong)} misclassified test digits (true→predicted, confidence)")
    figure.tight_layout()
    return figure


def plot_reliability(labels, probabilities):
    """The reliability diagram: in each of the 15 bins of the top probability, the share of
    right answers against the mean top probability, and below, how many answers fall there.
    A calibrated model's bars reach the diagonal."""
    import matplotlib.pyplot as plt

    rows = calibration.reliability(probabilities, labels)
    bins = len(rows)
    edges = np.linspace(0, 1, bins + 1)
    filled = [index for index, row in enumerate(rows) if row["count"]]
    ece = calibration.expected_calibration_error(probabilities, labels)
    figure, (ax_accuracy, ax_count) = plt.subplots(
        2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    ax_accuracy.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1,
                     label="calibrated")
    ax_accuracy.bar(edges[filled], [rows[i]["accuracy"] for i in filled], width=1 / bins,
                    align="edge", color="tab:blue", edgecolor="white", label="accuracy")
    ax_accuracy.scatter([rows[i]["confidence"] for i in filled],
                        [rows[i]["accuracy"] for i in filled], color="tab:red", zorder=3, s=14,
                        label="accuracy at the bin's mean confidence")
    ax_accuracy.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.05),
                    title=f"Reliability on the test split: ECE {100 * ece:.2f}% "
                          f"({bins} bins)")
    ax_accuracy.legend(loc="upper left", fontsize=8)
    # Top left, where no bar reaches: with ten classes the top probability is at least 0.1.
    ax_accuracy.text(0.02, 0.75, "above the diagonal: under-confident\nbelow: over-confident",
                     ha="left", va="top", fontsize=8, color="dimgrey",
                     transform=ax_accuracy.transAxes)
    ax_accuracy.grid(alpha=0.3)
    counts = [rows[i]["count"] for i in filled]
    # Nearly every answer lies in the last bin: a log scale shows the others too.
    ax_count.bar(edges[filled], counts, width=1 / bins, align="edge", color="tab:grey",
                 edgecolor="white")
    for index, count in zip(filled, counts):
        ax_count.text(edges[index] + 0.5 / bins, count, f"{count:,}", ha="center",
                      va="bottom", fontsize=7)
    ax_count.set(yscale="log", ylim=(0.5, 20 * max(counts)), xlabel="confidence (top probability)",
                 ylabel="test images")
    figure.tight_layout()
    return figure


# Each report and what it is (safe_outputs.output_kind): the file at its path that it replaces.
REPORTS = {"metrics.json": "record:metrics",
           "confusion_matrix.png": "figure:evaluate.py confusion matrix",
           "misclassified.png": "figure:evaluate.py misclassified digits",
           "reliability.png": "figure:evaluate.py reliability diagram"}


def main(argv=None):
    args = parse_args(argv)
    # Checked before the work, and again when they are written: the folder must take files,
    # and no report's path may hold a folder, an input or a file of another purpose.
    common.writable_folder(args.out)
    common.check_outputs({args.out / name: kind for name, kind in REPORTS.items()},
                         inputs=[args.data, args.model])
    data = common.load_dataset(args.data)
    predict = model_files.load_classifier(args.model)
    if args.tta:
        predict = common.with_shift_averaging(predict)
    x_test, y_test = data["x_test"], data["y_test"]

    start = time.perf_counter()
    probabilities = np.asarray(predict(x_test), dtype=np.float64)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(y_test, probabilities)
    metrics["model"] = str(args.model)
    metrics["tta"] = args.tta
    metrics["seconds"] = round(seconds, 2)

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figures = {"confusion_matrix.png": plot_confusion(metrics["confusion_matrix"]),
               "misclassified.png": plot_misclassified(x_test, y_test, probabilities),
               "reliability.png": plot_reliability(y_test, probabilities)}
    writes = {args.out / "metrics.json": common.record_writer("metrics", metrics)}
    for name, figure in figures.items():
        writes[args.out / name] = common.figure_writer(REPORTS[name], figure, dpi=100)
    try:
        common.write_together(writes, inputs=[args.data, args.model])
    finally:
        for figure in figures.values():
            pyplot.close(figure)

    print(
        f"Test accuracy {100 * metrics['accuracy']:.2f}% ({metrics['errors']} errors in "
        f"{metrics['test_size']:,}), log-loss {metrics['nll']:.4f}, ECE "
        f"{100 * metrics['ece']:.2f}%, Brier {metrics['brier']:.4f}, model {args.model}"
        f"{' with shift averaging' if args.tta else ''}, "
        f"{seconds:.1f} s.\nWrote {args.out / 'metrics.json'}, confusion_matrix.png, "
        "misclassified.png and reliability.png there."
    )
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
