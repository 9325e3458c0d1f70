"""The learning-rate schedules train.py chooses from with --schedule."""

import common

common.quiet_tensorflow()  # must run before TensorFlow is first imported
import keras


@keras.saving.register_keras_serializable(package="digit_cnn")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate climbs in a straight line from a tenth of `peak` to `peak` over the
    first `warmup_steps`, then falls in a straight line to zero at `total_steps`. Keras's
    CosineDecay has the warm-up but only the cosine's shape after it. The straight line is
    the worst-case optimum for the last iterate (Defazio et al., arXiv:2310.07831, 2023),
    and it read the validation digits better than the cosine here (docs/training.md)."""

    def __init__(self, peak, warmup_steps, total_steps):
        self.peak, self.warmup_steps, self.total_steps = peak, warmup_steps, total_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rising = self.peak * (0.1 + 0.9 * step / max(self.warmup_steps, 1))
        falling = self.peak * (self.total_steps - step) / (self.total_steps - self.warmup_steps)
        return keras.ops.where(step < self.warmup_steps, rising, keras.ops.maximum(falling, 0.0))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


def make_schedule(name, peak, total_steps):
    """The learning rate over total_steps: a warm-up over the first tenth, then "linear"
    (WarmupLinearDecay) or "cosine" (Keras's CosineDecay, to 1% of the peak)."""
    warmup_steps = total_steps // 10
    if name == "linear":
        return WarmupLinearDecay(peak, warmup_steps=warmup_steps, total_steps=total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        warmup_target=peak,
        warmup_steps=warmup_steps,
        decay_steps=total_steps - warmup_steps,
        alpha=0.01,
    )
