"""An arrow is no digit: a straight shaft with a head at one end, reaching out on both sides.

The model reads an arrow pointing up as a 1, and one pointing aside as a 7 or a 2, at up to
99.9%. A 1's flag or a 7's bar reaches out on one side of the stroke only, a 1's foot is
widest at the very end where a head comes to a point, and the loop that widens one end of a
9 or an 8 closes around paper.
"""

import cv2
import numpy as np

from .marks import outline_and_hole

ARROW_SLICES = 24  # The mark is cut across its long axis into this many slices;
ARROW_LONG = 2.0  # ...it is at least this many times as long as its widest slice,
ARROW_STRAIGHT = 0.3  # ...its middle third (the shaft) on a line to within this many pens,
ARROW_HEAD = 2.5  # ...and a slice near one end is at least this many pens wide (the head),
ARROW_REACH = 0.35  # ...within this share of the length from that end, and not the end's
ARROW_TIP = 4  # ...first slices (this many: a head comes to a point)
ARROW_POINT = 0.45  # ...where the mark is at most this share of the head's width,
ARROW_SIDES = 0.6  # ...reaching out on both sides of the shaft, the lesser this share of the other,
ARROW_STEADY = (0.2, 0.85)  # ...each side steadily: halfway from the point, this share of its
                            # reach (a 1's foot reaches out at once, a 4's bar under a small
                            # loop late, on one side).


def arrow(labels, marks):
    """Whether the marks are one arrow: a straight shaft, and at one end a head that comes to
    a point and reaches out on both sides of it (ARROW_*), closing around no paper."""
    if len(marks) != 1 or marks[0].area < ARROW_SLICES:
        return False
    mask = marks[0].mask(labels)
    ys, xs = np.nonzero(mask)
    points = np.stack([xs, ys], axis=1).astype(np.float32)
    points -= points.mean(axis=0)
    _, axes = np.linalg.eigh(np.cov(points.T))
    across, along = points @ axes[:, 0], points @ axes[:, 1]
    length = along.max() - along.min()
    if length * length < ARROW_LONG * marks[0].area:
        return False  # not long enough even for its average width (a blot), before slicing
    slices = np.minimum((along - along.min()) * ARROW_SLICES // max(length, 1e-3),
                        ARROW_SLICES - 1).astype(int)
    low, high = np.full(ARROW_SLICES, np.inf), np.full(ARROW_SLICES, -np.inf)
    np.minimum.at(low, slices, across)
    np.maximum.at(high, slices, across)
    if not np.isfinite(low).all():
        return False  # too short to slice
    width = high - low + 1
    shaft = slice(ARROW_SLICES // 3, 2 * ARROW_SLICES // 3)
    pen = np.median(width[shaft])
    centre = np.median(high[shaft] + low[shaft]) / 2
    if length < ARROW_LONG * width.max():
        return False
    if np.abs((high[shaft] + low[shaft]) / 2 - centre).max() > ARROW_STRAIGHT * pen:
        return False
    reach = round(ARROW_REACH * ARROW_SLICES)
    for end in (slice(None, reach), slice(None, -reach - 1, -1)):
        head = int(np.argmax(width[end]))
        widest = width[end][head]
        # How far the mark reaches out from the shaft on either side, slice by slice.
        sides = np.stack([centre - low[end], high[end] - centre])[:, :head + 1] - pen / 2
        if (head < ARROW_TIP or widest < ARROW_HEAD * pen
                or width[end][0] > ARROW_POINT * widest
                or sides[:, head].min() < ARROW_SIDES * sides[:, head].max()):
            continue
        halfway = [np.interp(head / 2, np.arange(head + 1), side) / side[head] for side in sides]
        if ARROW_STEADY[0] <= min(halfway) and max(halfway) <= ARROW_STEADY[1]:
            shapes = outline_and_hole(mask)
            return shapes is None or cv2.contourArea(shapes[1]) < pen * pen
    return False
