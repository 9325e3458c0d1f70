"""The Keras callbacks train.py trains with, besides Keras's own."""

import time

import common

common.quiet_tensorflow()  # must run before TensorFlow is first imported
import keras


class CleanEpochs(keras.callbacks.Callback):
    """Turns augmentation off for the last `clean_epochs` epochs. Trained on distorted
    copies to the end, the net fits clean digits less well than it could: one epoch on the
    images as they are, at the schedule's lowest rates, raised validation accuracy on every
    seed tried, and two raised it again (docs/training.md)."""

    def __init__(self, augmenting, epochs, clean_epochs):
        super().__init__()
        self.augmenting, self.first_clean = augmenting, epochs - clean_epochs

    def on_epoch_begin(self, epoch, logs=None):
        # Keras makes a new iterator over the dataset each epoch, after this call, so no
        # batch of a clean epoch is prefetched with the old setting. On --resume, Keras
        # passes the epoch it resumes at.
        self.augmenting.assign(epoch < self.first_clean)


class EpochClock(keras.callbacks.Callback):
    """Adds to each epoch's logs the wall-clock `seconds` and the `cpu_seconds` (all threads)
    since training started; CPU time is the steadier measure on a shared machine."""

    def __init__(self, earlier=None):
        super().__init__()
        # What earlier runs spent, when --resume continues one.
        self.earlier = earlier or {"seconds": 0.0, "cpu_seconds": 0.0}

    def on_train_begin(self, logs=None):
        self.start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        wall, cpu = time.perf_counter() - self.start[0], time.process_time() - self.start[1]
        logs["seconds"] = round(self.earlier["seconds"] + wall, 1)
        logs["cpu_seconds"] = round(self.earlier["cpu_seconds"] + cpu, 1)
