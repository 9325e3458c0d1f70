"""MNIST's layout: the digit fitted into 20x20, its aspect kept, anti-aliased, and placed in a
28x28 field with its centre of mass at the centre, white on black (LeCun, Cortes and Burges,
the MNIST database's page)."""

import cv2
import numpy as np

from .marks import dilate, stroke_width

IMAGE_SIZE = 28
BOX_SIZE = 20  # MNIST fits each digit into 20x20 and pads it to 28x28.
CENTRE = 14.0  # Where MNIST's centres of mass lie (row, column), measured on its training set.
# Strokes thinner than this in the 20-pixel box are thickened to it; MNIST's median width,
# measured the same way, is 2.1 pixels.
STROKE_WIDTH = 2.0


def to_mnist(ink, mask):
    """Lays out the ink of mask's marks as MNIST does: uint8 (28, 28).

    The marks' bounding box is fitted into 20x20; their anti-aliased edges (grey levels that
    touch them) come along, while other ink, such as specks or neighbouring digits, does not.
    """
    # The box is measured at half intensity, as MNIST's 20 pixels are.
    rows, columns = np.nonzero(mask & (ink >= 0.5))
    if len(rows) == 0:
        rows, columns = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    longest = max(bottom - top, right - left)

    # Thin strokes would shrink to faint hairlines in 20x20: widen them by a running maximum,
    # over a fraction of a pixel too (a blend of the two whole radii around it), so that the
    # result does not jump when the measured width crosses a rounding boundary.
    stroke = stroke_width(mask[top:bottom, left:right]) * BOX_SIZE / longest
    radius = max(0.0, (STROKE_WIDTH - stroke) * longest / BOX_SIZE / 2)
    whole, part = int(radius), radius - int(radius)

    margin = whole + (part > 0) + 2
    window = (top - margin, bottom + margin, left - margin, right + margin)
    digit = np.where(dilate(_crop(mask, *window), 1), _crop(ink, *window), 0).astype(np.float32)
    digit = dilate(digit, whole)
    if part:
        digit += part * (dilate(digit, 1) - digit)

    scale = BOX_SIZE / (longest + 2 * radius)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    # Averaging over the pixels each new one covers: the anti-aliased shrinking MNIST used.
    shrinking = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(digit, size, interpolation=shrinking), 0, 1)
    small /= max(small.max(), 1e-6)  # MNIST strokes reach full white.

    # Shift by whole pixels, as MNIST did, to put the centre of mass on pixel (14, 14).
    row, column = _centre_of_mass(small)
    down, across = round(CENTRE - row), round(CENTRE - column)
    height, width = small.shape
    # Paste into a field with room all round, then cut the middle out: nothing overflows.
    field = np.zeros((IMAGE_SIZE + 2 * height, IMAGE_SIZE + 2 * width), np.float32)
    field[height + down : 2 * height + down, width + across : 2 * width + across] = small
    field = field[height : height + IMAGE_SIZE, width : width + IMAGE_SIZE]
    return (field * 255 + 0.5).astype(np.uint8)


def as_laid_out(gray):
    """The picture itself, as uint8 (28, 28) white on black, when it is already laid out as
    MNIST: 28x28, a digit on a plain background (either polarity) whose box at half intensity
    fits BOX_SIZE and whose centre of mass is within a pixel of CENTRE. Else None.

    Laying such a picture out again would blur it (every step resamples), and the model
    reads MNIST's own images best as they are: 99.35% of 2,000 test digits saved as PNG,
    against 96.8% laid out again (docs/no_digit.md)."""
    if gray.shape != (IMAGE_SIZE, IMAGE_SIZE):
        return None
    if np.median(gray) > 0.5:
        gray = 1 - gray  # a dark digit on white
    if np.mean(gray < 0.1) < 0.5:
        return None  # no plain background: a photo or a texture
    rows, columns = np.nonzero(gray >= 0.5)
    # (A pixel more: anti-aliasing can take a 20-pixel box's edge over half intensity.)
    if len(rows) == 0 or max(np.ptp(rows), np.ptp(columns)) + 1 > BOX_SIZE + 1:
        return None
    if max(abs(coordinate - CENTRE) for coordinate in _centre_of_mass(gray)) > 1:
        return None
    return (gray * 255 + 0.5).astype(np.uint8)


def _centre_of_mass(image):
    """(row, column) of an image's centre of mass."""
    # A zero column more: OpenCV takes an array two columns wide for a list of points.
    moments = cv2.moments(np.pad(image, ((0, 0), (0, 1))))
    return moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]


def _crop(values, top, bottom, left, right):
    """values[top:bottom, left:right], with zeros where the window leaves the picture."""
    height, width = values.shape
    inside = values[max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
    return np.pad(inside, ((max(-top, 0), max(bottom - height, 0)),
                           (max(-left, 0), max(right - width, 0))))
