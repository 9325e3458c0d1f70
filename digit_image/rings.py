"""A ring drawn around the digits, as people circle an answer, left out of them."""

import numpy as np

RING_FILL = 0.4  # A ring covers at most this much of its box (a blob covers more),
RING_CONTENT = 0.35  # ...and holds marks reaching at least this fraction of its height.


def without_rings(marks, labels):
    """The marks without a ring drawn around the others: a thin loop, open or closed, with
    ink of its own above, below, left and right of other marks that lie clear of it inside
    its box and reach RING_CONTENT of its height (a dot in a 0 does not)."""
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
        loop = ring.mask(labels)
        top, bottom, left, right = top - ring.top, bottom - ring.top, left - ring.left, right - ring.left
        if (loop[:top, left:right].any() and loop[bottom:, left:right].any()
                and loop[top:bottom, :left].any() and loop[top:bottom, right:].any()):
            return [mark for mark in marks if mark is not ring]
    return marks
