"""Marks around the digits that are not digits: a ring drawn around them, as people circle an
answer, or the hard shadow a sticky note casts, an L along two sides of the writing."""

import numpy as np

RING_FILL = 0.4  # A ring covers at most this much of its box (a blob covers more),
RING_CONTENT = 0.35  # ...and holds marks reaching at least this fraction of its height.
CORNER_SPAN = 0.8  # An L runs along this share of the writing's extent on each of its sides.


def without_rings(marks, labels):
    """The marks without one drawn or cast around the others: a thin mark whose box holds
    other marks clear of it, reaching RING_CONTENT of its height (a dot in a 0 does not),
    with ink of its own above, below, left and right of them (a ring, open or closed), or
    along the whole of two adjacent sides of them (an L: a note's shadow, a corner mark)."""
    # Every mark's box, to find the marks inside a ring at once (a page holds thousands).
    boxes = np.array([(mark.top, mark.left, mark.bottom, mark.right) for mark in marks],
                     dtype=np.int64).reshape(-1, 4)
    for index in sorted(range(len(marks)), key=lambda i: marks[i].area, reverse=True):
        ring = marks[index]
        if ring.area > RING_FILL * ring.height * ring.width:
            continue  # a blob, not a loop
        within = ((ring.top < boxes[:, 0]) & (boxes[:, 2] < ring.bottom)
                  & (ring.left < boxes[:, 1]) & (boxes[:, 3] < ring.right))
        if not within.any():
            continue
        top, left = boxes[within, :2].min(axis=0)
        bottom, right = boxes[within, 2:].max(axis=0)
        if bottom - top < RING_CONTENT * ring.height:
            continue
        if _around(ring.mask(labels), top - ring.top, left - ring.left, bottom - ring.top,
                   right - ring.left):
            return [mark for mark in marks if mark is not ring]
    return marks


def _around(loop, top, left, bottom, right):
    """Whether a mark (loop, cropped to its box) runs around the region top..bottom,
    left..right of its box: ink on all four sides, or along the whole of two adjacent ones."""
    sides = {"above": loop[:top, left:right].any(axis=0), "below": loop[bottom:, left:right].any(axis=0),
             "left": loop[top:bottom, :left].any(axis=1), "right": loop[top:bottom, right:].any(axis=1)}
    if all(side.any() for side in sides.values()):
        return True
    along = {name: side.size > 0 and side.mean() >= CORNER_SPAN for name, side in sides.items()}
    return (along["above"] or along["below"]) and (along["left"] or along["right"])
