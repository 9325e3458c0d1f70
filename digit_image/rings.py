"""Marks around the digits that are not digits: a ring drawn around them, as people circle an
answer, or the hard shadow a sticky note casts, an L along two sides of the writing; and a
ring alone, as exact as a tool or a cup's rim makes it, which no hand writes (round_ring())."""

import cv2
import numpy as np

from .marks import Mark, dilate, label_marks, outline_and_hole, stroke_width

RING_FILL = 0.4  # A ring covers at most this much of its box (a blob covers more),
RING_CONTENT = 0.35  # ...and holds marks reaching at least this fraction of its height.
RING_OUTLINE = 0.8  # A touching ring's outline lies this much on an ellipse,
RING_FOLLOWED = 0.8  # ...whose middle line its ink follows this much of the way round,
RING_CLEAR = 0.75  # ...and this much of the ink inside it is clear of it by a pen's width.
CORNER_SPAN = 0.8  # An L runs along this share of the writing's extent on each of its sides.
SLASH_SPAN = 0.5  # A touching ring holding one straight stroke this share of its height long,
SLASH_WIDTH = 2.0  # ...at most this many pens wide, leaning at least SLASH_LEAN degrees
SLASH_LEAN = 20  # ...from upright and from flat, is a slashed 0, not a ring round a digit.
ROUND_FIT = 0.99  # A ring alone whose outlines, outside and in, each lie this close to an
ROUND_ASPECT = 0.8  # ...ellipse whose axes are at least this near equal, its hole this share
ROUND_HOLE = 0.4  # ...of it, is as exact as a tool or a cup's rim draws a circle: no 0.


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


def cut_touching_ring(labels, marks):
    """(labels, marks) with a ring or a box drawn around a digit and touching it cut away.

    The ring or box is the largest mark: its outline lies on an ellipse or a rectangle at any
    angle (RING_OUTLINE of it), its ink follows the shape nearly all the way round
    (RING_FOLLOWED), and ink inside, clear of it, reaches RING_CONTENT of the shape's smaller
    side. It stays clear when the ring is taken out a pen wider (RING_CLEAR of it), where
    what is left inside a 0 or an 8 drawn as an ellipse (a thicker stretch of its loop, its
    crossing) hugs the loop. A slashed 0 (_slash) is left whole.
    """
    ring = max(marks, key=lambda mark: mark.area)
    window = np.pad(ring.mask(labels), 2)
    contours, _ = cv2.findContours(window.view(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=len)[:, 0]
    if len(outline) < 20:
        return labels, marks
    pen = stroke_width(window)
    inside = _inside(window, outline, cv2.fitEllipse(outline), pen, ellipse=True)
    if inside is None:
        inside = _inside(window, outline, cv2.minAreaRect(outline), pen, ellipse=False)
    if inside is None:
        return labels, marks
    piece_labels, pieces = label_marks(inside[2:-2, 2:-2])
    if len(pieces) == 1 and _slash(pieces[0].mask(piece_labels), pen, ring):
        return labels, marks  # a slashed 0, read whole
    # The ring's pixels go from the label image; what it held inside becomes marks of its own.
    labels = labels.copy()
    box = labels[ring.box]
    box[box == ring.label] = 0
    offset = labels.max()
    box[piece_labels > 0] = piece_labels[piece_labels > 0] + offset
    held = [Mark(offset + piece.label, piece.area, ring.top + piece.top, ring.left + piece.left,
                 ring.top + piece.bottom, ring.left + piece.right) for piece in pieces]
    return labels, [mark for mark in marks if mark is not ring] + held


def _slash(piece, pen, ring):
    """Whether what a ring holds (piece, cropped to its box) is the slash of a slashed 0: one
    straight stroke SLASH_SPAN of the ring's height long, no wider than SLASH_WIDTH pens,
    leaning SLASH_LEAN from upright and from flat at least (a circled 1 stands; a ringed 7 has
    a bar)."""
    points = cv2.findNonZero(piece.view(np.uint8))
    _, sides, _ = cv2.minAreaRect(points)
    if max(sides) < SLASH_SPAN * ring.height or min(sides) > SLASH_WIDTH * pen:
        return False
    across, down = np.abs(cv2.fitLine(points, cv2.DIST_L2, 0, 0.01, 0.01)[:2, 0])
    return SLASH_LEAN <= np.degrees(np.arctan2(across, down)) <= 90 - SLASH_LEAN


def _inside(window, outline, shape, pen, ellipse):
    """The ink inside a ring of this shape ((centre, size, angle): an ellipse, or a rectangle
    when not ellipse) clear of it, when the mark in window is such a ring around it; else None."""
    (x, y), (width, height), angle = shape
    # A ring's shape is about its box; a stroke's ellipse can be any size, far off.
    if not 6 * pen <= min(width, height) <= max(width, height) <= 1.5 * max(window.shape):
        return None

    # The shape's middle line lies half a pen inside the outline.
    middle_line = ((x, y), (width - pen, height - pen), angle)
    corners = np.round(cv2.boxPoints(middle_line)).astype(np.int32)

    def drawn(thickness):
        """The middle line drawn this thick (filled when negative)."""
        canvas = np.zeros(window.shape, np.uint8)
        if ellipse:
            cv2.ellipse(canvas, middle_line, 1, thickness)
        elif thickness < 0:
            cv2.fillPoly(canvas, [corners], 1)
        else:
            cv2.polylines(canvas, [corners], True, 1, thickness)
        return canvas.view(bool)

    middle = drawn(1)
    if not middle.any():
        return None
    if not ellipse:
        # A box has its four corners drawn, where a loop only comes near its box's sides.
        rows = np.clip(corners[:, 1], 0, window.shape[0] - 1)
        columns = np.clip(corners[:, 0], 0, window.shape[1] - 1)
        if not dilate(window, round(pen) + 1)[rows, columns].all():
            return None
    # The outline, half a pen from the middle line, within a pixel or so of where it should be.
    on_outline = dilate(middle, round(pen / 2) + 1)[outline[:, 1], outline[:, 0]].mean()
    followed = dilate(window, 1)[middle].mean()
    if on_outline < RING_OUTLINE or followed < RING_FOLLOWED:
        return None
    within = window & drawn(-1)
    inside = within & ~drawn(round(2 * pen) + 3)
    rows = np.flatnonzero(inside.any(axis=1))
    if len(rows) == 0 or rows[-1] - rows[0] < RING_CONTENT * min(width, height):
        return None
    clear = within & ~drawn(round(3 * pen) + 3)
    if np.count_nonzero(clear) < RING_CLEAR * np.count_nonzero(inside):
        return None
    return inside


def round_ring(labels, marks):
    """Whether the marks are one ring as exact as a compass, a stencil, a drawing app's tool
    or a cup's rim makes it: both its outlines, outside and inside, on ellipses within
    ROUND_FIT, near round, its hole ROUND_HOLE of it. The model reads each as a 0 at up to
    100%. A hand's 0 wavers, or leaves a hook where the pen began and ended (the
    measurements are in docs/no_digit.md)."""
    if len(marks) != 1:
        return False
    ring = marks[0]
    # A box is at least as near square as the ellipse in it: most marks stop here.
    if min(ring.height, ring.width) < ROUND_ASPECT * max(ring.height, ring.width):
        return False
    mask = np.pad(ring.mask(labels), 1)  # room for the fitted ellipse to run out a little
    shapes = outline_and_hole(mask)
    if shapes is None:
        return False
    outline, hole = shapes
    if cv2.contourArea(hole) < ROUND_HOLE * cv2.contourArea(outline):
        # A cup's rim is thin for its size; a broad pen evens out the hand's wavering.
        return False
    return _on_ellipse(outline, mask.shape) and _on_ellipse(hole, mask.shape)


def _on_ellipse(outline, shape):
    """Whether an outline (OpenCV's points) encloses a near-round ellipse: the ellipse fitted
    to it overlaps what it encloses by ROUND_FIT (intersection over union)."""
    if len(outline) < 5:
        return False
    ellipse = cv2.fitEllipse(outline)
    if min(ellipse[1]) < ROUND_ASPECT * max(ellipse[1]):
        return False
    enclosed = cv2.drawContours(np.zeros(shape, np.uint8), [outline], -1, 1, cv2.FILLED)
    fitted = cv2.ellipse(np.zeros(shape, np.uint8), ellipse, 1, cv2.FILLED)
    return np.count_nonzero(fitted & enclosed) >= ROUND_FIT * np.count_nonzero(fitted | enclosed)
