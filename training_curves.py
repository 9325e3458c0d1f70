"""The training curves train.py draws beside the model: loss and accuracy per epoch."""

import common


def path(tag):
    """reports/training_curves.png for the default model, reports/<tag>_training_curves.png
    for another (tag: runs.model_tag)."""
    name = "training_curves.png"
    return common.REPORTS_DIR / (name if tag == common.MODEL_PATH.stem else f"{tag}_{name}")


# What the curves are, as their PNG says (safe_outputs.output_kind): only such a file is replaced.
KIND = "figure:train.py training curves"


def plot(members):
    """A figure of each member's loss and accuracy per epoch, on training and validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for member in members:
        history = member["history"]
        epochs = [int(row["epoch"]) + 1 for row in history]
        label = f" (seed {member['seed']})" if len(members) > 1 else ""
        ax_loss.plot(epochs, [row["loss"] for row in history], label="train" + label)
        ax_loss.plot(epochs, [row["val_loss"] for row in history], label="validation" + label)
        # Training accuracy is on distorted copies, except in the clean epochs at the end.
        ax_acc.plot(epochs, [100 * row["accuracy"] for row in history], label="train" + label)
        ax_acc.plot(epochs, [100 * row["val_accuracy"] for row in history],
                    label="validation" + label)
    ax_loss.set(xlabel="epoch", ylabel="loss (with label smoothing)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy", ylim=(97, 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    return figure
