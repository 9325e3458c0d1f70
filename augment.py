"""The training digits' distortions, and the tf.data pipelines that apply them.

train.py imports this only once its options are checked: it loads TensorFlow, and
`train.py --help` or a bad option should not wait for that.
"""

import common

common.quiet_tensorflow()  # must run before TensorFlow is first imported
import keras
import numpy as np
import tensorflow as tf

# How far the training digits are distorted, each drawn uniformly in +-this range per image:
# the ways one writer's digits differ from another's. Chosen on the validation split (see
# docs/training.md).
ROTATION_DEGREES = 9
SHEAR_DEGREES = 15  # slant
ZOOM = 0.08  # size
ASPECT = 0.10  # width against height
SHIFT = 0.08  # position, as a fraction of the 28 pixels
STROKE = 0.5  # stroke thickness: a blend towards a 3x3 dilation (+) or erosion (-)


def writer_distortion(seed, strength, elastic=0.0):
    """Returns a function that distorts a float32 batch (N, 28, 28, 1) as another writer
    might have drawn its digits: slanted, rotated, larger or smaller, wider or narrower,
    moved, with a thicker or thinner stroke. The geometric changes are composed into one
    affine warp per image, so each digit is resampled once, not once per change. strength
    scales every range above (1: as chosen for the default recipe). elastic > 0 adds a
    smooth random bend (Simard et al., ICDAR 2003, in a cheaper form): each point of a 4x4
    lattice over the frame moves by up to `elastic` pixels (times strength) per axis,
    bicubic upsampling spreads that over every pixel, and the bend joins the affine warp in
    one resampling."""
    # The input pipeline runs on the CPU: its random state is kept there too, so that where
    # TensorFlow sees a GPU the pipeline does not read a variable placed on it.
    with tf.device("/CPU:0"):
        generator = tf.random.Generator.from_seed(seed)
    center = (common.IMAGE_SIZE - 1) / 2

    def distort(images):
        count = tf.shape(images)[0]

        def uniform(limit, shape=None):
            limit *= strength
            return generator.uniform([count] if shape is None else shape, -limit, limit)

        angle, slant = uniform(np.radians(ROTATION_DEGREES)), uniform(np.radians(SHEAR_DEGREES))
        scale, aspect = 1 + uniform(ZOOM), 1 + uniform(ASPECT)
        shift_x, shift_y = uniform(SHIFT * common.IMAGE_SIZE), uniform(SHIFT * common.IMAGE_SIZE)
        # Where an input point lands: rotation @ shear @ scaling, about the centre, then the
        # shift. The warp needs the inverse, from each output pixel back into the input.
        cos, sin, tan = tf.cos(angle), tf.sin(angle), tf.tan(slant)
        scale_x, scale_y = scale * aspect, scale / aspect
        a, b = cos * scale_x, (cos * tan - sin) * scale_y
        c, d = sin * scale_x, (sin * tan + cos) * scale_y
        det = a * d - b * c
        inverse = (d / det, -b / det, -c / det, a / det)
        from_x, from_y = center + shift_x, center + shift_y
        zeros = tf.zeros_like(angle)
        transform = tf.stack([  # Keras's form: output (x, y) reads input (t0 x + t1 y + t2, ...).
            inverse[0], inverse[1], center - inverse[0] * from_x - inverse[1] * from_y,
            inverse[2], inverse[3], center - inverse[2] * from_x - inverse[3] * from_y,
            zeros, zeros,
        ], axis=1)
        stroke = uniform(STROKE, [count, 1, 1, 1])
        if elastic:
            images = bent(images, transform, uniform(elastic, [count, 4, 4, 2]))
        else:
            images = keras.ops.image.affine_transform(images, transform, fill_mode="constant")
        # A 3x3 dilation thickens the stroke, an erosion (minus the dilation of minus the
        # image) thins it: one max pool does both, over each image with its sign flipped
        # where the stroke thins.
        sign = tf.where(stroke > 0, 1.0, -1.0)
        morphed = sign * keras.ops.max_pool(sign * images, 3, strides=1, padding="same")
        return images + tf.abs(stroke) * (morphed - images)

    return distort


def bent(images, transform, lattice):
    """keras.ops.image.affine_transform(images, transform) with a smooth bend added: each
    output pixel first moves by the lattice's displacements, bicubic-upsampled to the frame,
    then maps back into the input through the transform, and is read there by bilinear
    interpolation (zero outside). Written with gathers because
    keras.ops.image.map_coordinates, which can do the same, took 2.7x the CPU even with the
    batch laid out as one 2-D picture (4.3 against 1.6 ms per batch of 64; 13 ms with the
    batch as a third axis, which it interpolates along too)."""
    size = common.IMAGE_SIZE
    field = tf.image.resize(lattice, (size, size), method="bicubic")
    rows, cols = np.mgrid[:size, :size].astype("float32")
    out_x, out_y = cols + field[..., 0], rows + field[..., 1]
    t = [transform[:, i, None, None] for i in range(6)]
    # Points outside the frame are clipped to the ring of zeros just outside it.
    x = tf.clip_by_value(t[0] * out_x + t[1] * out_y + t[2], -1.0, size)
    y = tf.clip_by_value(t[3] * out_x + t[4] * out_y + t[5], -1.0, size)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0
    # Read from the images padded with zeros (one row and column before, two after), where
    # every clipped point has all four neighbours.
    side = size + 3
    flat = tf.reshape(tf.pad(images[..., 0], [[0, 0], [1, 2], [1, 2]]), [-1])
    first = ((tf.range(tf.shape(images)[0]) * side * side)[:, None, None]
             + (tf.cast(y0, "int32") + 1) * side + tf.cast(x0, "int32") + 1)
    top = tf.gather(flat, first) * (1 - wx) + tf.gather(flat, first + 1) * wx
    bottom = tf.gather(flat, first + side) * (1 - wx) + tf.gather(flat, first + side + 1) * wx
    return (top * (1 - wy) + bottom * wy)[..., None]


def make_datasets(data, batch_size, seed, augmenting, distortion, elastic=0.0):
    """tf.data pipelines over the uint8 arrays held in memory; augmentation (of the given
    strength) runs per batch while the boolean tf.Variable `augmenting` is true (CleanEpochs
    sets it)."""
    augment = writer_distortion(seed, distortion, elastic)

    def distort(images):
        images = tf.cast(images, "float32")
        return tf.cond(augmenting, lambda: augment(images), lambda: images)

    def one_hot(images, labels):
        # A picture with no digit (label NUM_CLASSES) has none of the ten as its target, but
        # the same probability for each: outlier exposure (not_a_digit.py).
        none = tf.cast(labels == common.NUM_CLASSES, "float32")[:, None] / common.NUM_CLASSES
        return images, tf.one_hot(labels, common.NUM_CLASSES) + none

    train = (
        tf.data.Dataset.from_tensor_slices((data["x_train"][..., None], data["y_train"]))
        .shuffle(len(data["x_train"]), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        # One map thread, overlapped with training by prefetch: on 2 cores a parallel map's
        # threads take CPU from the training step and made each epoch twice as slow.
        .map(lambda x, y: (distort(x), y))
        .map(one_hot)
        .prefetch(2)
    )
    val = (
        tf.data.Dataset.from_tensor_slices((data["x_val"][..., None], data["y_val"]))
        .batch(1024)
        .map(one_hot)
        .cache()
    )
    return train, val
