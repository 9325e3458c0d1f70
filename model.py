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
    """A compute-lean CNN: no convolution at full 28x28 resolution, wider after pooling.

    A 5x5 convolution with stride 2 reads the image straight into 14x14 maps: on a CPU the
    full-resolution layers cost more than their multiply-adds suggest, mostly in batch
    normalization over large maps. Flatten keeps where features sit in the final 7x7 maps,
    which global average pooling would throw away. width is the channel count of the 14x14
    stage; the 7x7 stage has twice as many.
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
