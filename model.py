"""The digit CNN that every stage shares.

build_model() returns an uncompiled keras.Model that takes raw pixels in 0..255, shape
(N, 28, 28, 1), white digit on black as in MNIST, and returns the
probabilities of the ten digits. Scaling happens inside the model, so no caller can scale
differently from training.
"""

import keras
from keras import layers


def conv_block(x, filters, kernel_size=3, strides=1):
    x = layers.Conv2D(filters, kernel_size, strides, padding="same", use_bias=False)(x)
    # Momentum 0.9, not 0.99: the moving statistics settle within a short run.
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def build_model(width=32, dropout=0.2, num_classes=10, name="digit_cnn"):
    """A compute-lean CNN: few channels at full resolution, wider after each pooling.

    width is the channel count of the first stage; later stages use 2x and 4x.
    """
    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    x = layers.Rescaling(1 / 255)(inputs)
    x = conv_block(x, width, kernel_size=5, strides=2)  # 14x14
    x = conv_block(x, width)
    x = layers.MaxPooling2D()(x)  # 7x7
    x = conv_block(x, 2 * width)
    x = conv_block(x, 2 * width)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
