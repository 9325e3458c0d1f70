"""1s written with a flag, as much of the world writes them, made from MNIST's plain 1s.

MNIST's writers (American Census staff and students) wrote a 1 as one stroke; in most of
Europe, Latin America and much of Asia a 1 starts with a flag, an upstroke to the top.
A model that saw only plain 1s reads a flagged 1 as a 7: it was the commonest misreading on
the project's picture sets, 95 times against 15 the other way. Training replaces a share of
the training split's straight 1s with the same stroke given a flag (and sometimes a foot),
laid out again in MNIST's form, so the count of 1s and the training time stay as they were.

A flag leaves the top of the stem down and to the left, 30-60 degrees below the horizontal
and at least 20 degrees away from the stem (a stem slanted under 50 degrees from the level,
2% of the 1s, gets 30), and is 15-40% of the stem's length: a 7's bar is near level and
about as long as the digit is wide.

    x_train = flagged_ones.flag_some(x_train, y_train, share=0.5, seed=0)
"""

import cv2
import numpy as np

from digit_image import to_mnist
from digit_image.marks import rectangle_sides

SCALE = 4  # The flag is drawn on the 1 enlarged to 112x112, then laid out at 28x28 again.
STRAIGHT = 3.0  # A stroke this many times longer than wide has no flag yet.
FLAG_ANGLE = (30.0, 60.0)  # Degrees below the horizontal.
FLAG_LENGTH = (0.15, 0.4)  # Of the stem's length.
MIN_TURN = 20.0  # Degrees between the flag and the stem: less reads as one thick stroke.
FOOT_SHARE = 0.25  # Of flagged 1s that also get a foot, a short level bar under the stem.
FOOT_HALF = (0.1, 0.2)  # Of the stem's length, each side of it.


def flag_some(images, labels, share, seed):
    """A copy of images in which that share of the straight 1s has a flag. The seed is the
    data's: train.py gives every member of an ensemble the same flagged 1s."""
    if share <= 0:
        return images
    rng = np.random.default_rng(seed)
    ones = np.flatnonzero(labels == 1)
    ones = ones[[_straight(images[index] > 127) for index in ones]]
    chosen = rng.choice(ones, int(len(ones) * min(share, 1.0)), replace=False)
    images = images.copy()
    for index in chosen:
        images[index] = with_flag(images[index], rng)
    return images


def with_flag(image, rng):
    """One MNIST 1 (uint8, 28x28) with a flag drawn at its top: uint8 (28, 28); the image as
    it was when it holds no stroke to flag."""
    ink = cv2.resize(image.astype(np.float32) / 255, None, fx=SCALE, fy=SCALE,
                     interpolation=cv2.INTER_CUBIC).clip(0, 1)
    rows, columns = np.nonzero(ink > 0.5)
    if len(np.unique(rows)) < 2:
        return image
    points = np.stack([columns, rows], 1).astype(np.float64)
    centre = points.mean(0)
    # The stem's direction: the principal axis of its pixels, pointing down the page.
    axis = np.linalg.eigh(np.cov((points - centre).T))[1][:, 1]
    axis = -axis if axis[1] < 0 else axis
    along = (points - centre) @ axis
    length = along.max() - along.min()
    width = len(points) / length
    top = centre + axis * (along.min() + width / 2)
    bottom = centre + axis * (along.max() - width / 2)

    stem_angle = np.degrees(np.arctan2(axis[1], -axis[0]))  # below the horizontal, leftwards
    low, high = FLAG_ANGLE
    angle = np.radians(rng.uniform(low, max(low, min(high, stem_angle - MIN_TURN))))
    end = top + rng.uniform(*FLAG_LENGTH) * length * np.array([-np.cos(angle), np.sin(angle)])
    pen = max(1, round(width * rng.uniform(0.8, 1.1)))

    # Drawn with room all round, so that a flag or foot past the 28x28 edge is kept whole.
    room = int(length)
    canvas = np.zeros((ink.shape[0] + 2 * room, ink.shape[1] + 2 * room), np.uint8)

    def at(point):
        return round(point[0]) + room, round(point[1]) + room

    cv2.line(canvas, at(top), at(end), 255, pen, cv2.LINE_AA)
    if rng.random() < FOOT_SHARE:
        half = np.array([rng.uniform(*FOOT_HALF) * length, 0.0])
        cv2.line(canvas, at(bottom - half), at(bottom + half), 255, pen, cv2.LINE_AA)
    drawn = canvas.astype(np.float32) / 255
    inside = drawn[room:room + ink.shape[0], room:room + ink.shape[1]]
    np.maximum(inside, ink, out=inside)
    return to_mnist(drawn, drawn > 0.3)


def _straight(mask):
    """Whether a mask is one straight stroke: its smallest rectangle at any angle is STRAIGHT
    times longer than wide."""
    sides = rectangle_sides(mask)
    return sides is not None and sides[0] >= STRAIGHT * sides[1]
