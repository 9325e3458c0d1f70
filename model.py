"""The digit CNN that every stage shares.

build_model() returns an uncompiled keras.Model that takes raw pixels in 0..255, shape
(N, 28, 28, 1), white digit on black as in MNIST, and returns the
probabilities of the ten digits. Scaling happens inside the model, so no caller can scale
differently from training; so does the temperature that calibrates the probabilities, so
every export carries it.
"""

import keras
import numpy as np
from keras import layers


def conv_block(x, filters, kernel_size=3, strides=1):
    x = layers.Conv2D(filters, kernel_size, strides, padding="same", use_bias=False)(x)
    # Momentum 0.9, not 0.99: the moving statistics settle within a short run.
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def blurred_max_pool(x):
    """Max pooling that a one-pixel shift of the input changes little (Zhang, "Making
    convolutional networks shift-invariant again", ICML 2019): the maximum over each 2x2
    window at every position, then a fixed [1 2 1] x [1 2 1] / 16 blur sampled at every
    second pixel, where plain max pooling would just keep every second maximum."""
    x = layers.MaxPooling2D(pool_size=2, strides=1, padding="same")(x)
    binomial = np.outer([1, 2, 1], [1, 2, 1]) / 16
    blur = layers.DepthwiseConv2D(
        3, strides=2, padding="same", use_bias=False, trainable=False,
        depthwise_initializer=keras.initializers.Constant(binomial[:, :, None, None]),
    )
    return blur(x)


def build_model(width=32, dropout=0.2, num_classes=10, name="digit_cnn", temperature=1.0):
    """A compute-lean CNN: no convolution at full resolution, wider after pooling.

    MNIST centres each digit's 20x20 box in the 28x28 frame, so the network reads only the
    central 24x24 (0.24% of the training digits' ink lies outside it) and saves a quarter
    of the arithmetic. A 5x5 convolution with stride 2 reads that straight into 12x12 maps:
    on a CPU the full-resolution layers cost more than their multiply-adds suggest, mostly
    in batch normalization over large maps. Flatten keeps where features sit in the final
    6x6 maps, which global average pooling would throw away. width is the channel count of
    the 12x12 stage; the 6x6 stage has twice as many.

    The head is three named layers: "logits" (Dense, no activation), "temperature" (the
    logits divided by temperature) and "probabilities" (softmax). Training runs at
    temperature 1; train.py then fits the temperature on the validation split
    (calibration.py) and saves the model built with it, standard layers only, so that
    safe_mode loads it and every export carries it.
    """
    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Cropping2D(2)(x)  # 24x24
    x = conv_block(x, width, kernel_size=5, strides=2)  # 12x12
    x = conv_block(x, width)
    x = blurred_max_pool(x)  # 6x6
    x = conv_block(x, 2 * width)
    x = conv_block(x, 2 * width)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    x = layers.Rescaling(1 / temperature, name="temperature")(logits)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
