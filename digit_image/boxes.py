"""Boxes drawn around a digit (a form's field, a frame drawn by hand), taken out of the ink.

A box is a mark that closes around background and has a straight line along each of its four
sides, with a digit inside it. Strokes of the digit crossing a side stay.
"""

import cv2
import numpy as np

from .marks import box_of, convex_outline, corners, label_marks, outline_and_hole
from .ruled_lines import LINE_THICKNESS, SMALL_IMAGE
from .straight_lines import end_strips, straight_lines

FRAME_SIZE = 0.1  # A box spans at least this fraction of the picture,
FRAME_HOLE = 0.6  # ...closes around background at least this fraction of it across,
FRAME_SIDE = 0.2  # ...has a line within this fraction of each side of its extent,
FRAME_SPAN = 0.8  # ...running along this fraction of that side at least,
FRAME_THICKNESS = 0.15  # ...no thicker than this fraction of the box,
FRAME_CONTENT = 0.35  # ...and a digit inside it at least this fraction of its height,
FRAME_PIECE = 0.25  # ...its pieces at least this share of the largest one's area.
FRAME_DEGREES = 15  # Boxes drawn by hand tilt further than printed lines.
FRAME_SQUARE = 0.88  # A box's outline fills this much of its rectangle at least.
EMPTY_HOLE = 0.5  # A lone mark, four-sided inside and out, closing around this share of
                  # its area at least, is an empty box.
PRINT_FRINGE = 2  # A box's or a form's print fades out over this many pixels beyond its cut.


def box_sides(mask, faint):
    """The ink of boxes drawn around a digit: mask is the ink, faint a looser mask of it in
    which the boxes are sought."""
    found = np.zeros_like(mask)
    if min(mask.shape) < SMALL_IMAGE:
        return found
    labels, marks = label_marks(faint)
    for mark in marks:
        if min(mark.height, mark.width) < FRAME_SIZE * max(mask.shape):
            continue
        window = mark.mask(labels)
        if not encloses(window) or not _squarish(window):
            continue  # Most marks stop here: the search for sides below is the costly part.
        thickest = min(LINE_THICKNESS * max(mask.shape),
                       FRAME_THICKNESS * min(mark.height, mark.width))
        sides = {}  # 0 top, 1 bottom, 2 left, 3 right: each side's line.
        for first, across in ((0, window), (2, window.T)):
            # A side's thickness is measured inside the box, clear of the sides across it.
            strips = end_strips(across.shape, FRAME_SIDE)
            for line, _, slope in straight_lines(across, strips, thickest, FRAME_DEGREES):
                side = _side(line, slope)
                if side >= 0:
                    sides.setdefault(first + side, line if first == 0 else line.T)
            if len(sides) < first + 2:
                break
        if len(sides) < 4:
            continue
        lines = np.logical_or.reduce(list(sides.values()))
        # The digit: the other ink inside (of this mark where it touches a side), the largest
        # of its pieces, half its height at least, and those at least FRAME_PIECE of it (a
        # stroke the side cut off); a tick where a pen started drawing a square 0, or the
        # scraps of the sides' corners, are no digit.
        inside = mask[mark.box] & ~lines
        if inside.any():
            pieces = label_marks(inside)[1]
            largest = max(pieces, key=lambda piece: piece.area)
            top, _, bottom, _ = box_of([piece for piece in pieces
                                        if piece.area >= FRAME_PIECE * largest.area])
            if (bottom - top >= FRAME_CONTENT * mark.height
                    and largest.height >= FRAME_CONTENT / 2 * mark.height):
                found[mark.box] |= lines
    return found


def encloses(mark):
    """Whether a mark (a boolean image cropped to it) closes around background reaching
    across FRAME_HOLE of its height or width, as a box does (with a digit inside it or not)."""
    height, width = mark.shape
    for opening in openings(mark):
        _, _, opening_width, opening_height = cv2.boundingRect(opening)
        if opening_height >= FRAME_HOLE * height or opening_width >= FRAME_HOLE * width:
            return True
    return False


def openings(mark):
    """The outlines (contours, x then y, in the mark's coordinates) of the background a mark
    (a boolean image cropped to it) closes around."""
    # Grown by a pixel so that background cannot slip between diagonal steps of a thin line;
    # an opening's outline then runs through the background pixels next to the mark.
    padded = cv2.copyMakeBorder(mark.view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    grown = cv2.dilate(padded, np.ones((3, 3), np.uint8))
    contours, hierarchy = cv2.findContours(grown, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    return [contour - 1 for contour, (_, _, _, parent) in zip(contours, hierarchy[0])
            if parent >= 0]


def _squarish(mark):
    """Whether a mark's convex outline fills at least FRAME_SQUARE of the smallest rectangle
    around it, as a box's does (a digit's stroke crossing a side bulges it a little); an
    ellipse, such as a 0's loop, fills pi / 4 of it."""
    hull = convex_outline(mark)
    (_, _), (width, height), _ = cv2.minAreaRect(hull)
    return cv2.contourArea(hull) >= FRAME_SQUARE * width * height


def _side(line, slope):
    """Which side of a mark's box (line: a near-horizontal line's ink, in the box) the line
    lies along from end to end: 0 the top, 1 the bottom, -1 neither."""
    breadth, span = line.shape
    rows, columns = np.nonzero(line)
    # A tilted box's side spans less than the box's extent, by its tilt.
    if len(np.unique(columns)) < FRAME_SPAN * (span - breadth * abs(slope)):
        return -1
    middle = np.median(rows) / breadth
    return 0 if middle < FRAME_SIDE else 1 if middle > 1 - FRAME_SIDE else -1


def empty_box(labels, marks):
    """Whether the marks are one box with nothing in it: a form's empty field, the border of
    a paint program's canvas, a square drawn by hand (see box_inside)."""
    return box_inside(labels, marks) is not None


def box_inside(labels, marks):
    """The background inside the marks (a mask of the picture's shape) when they are one box
    with nothing in it large enough to be a mark, else None. Its outline and the background
    it closes around (at least EMPTY_HOLE of its area) both have four corners
    (marks.corners), where a 0's loop keeps more (a 0 drawn square, its corners rounded by
    less than about a fifth of its width, is taken for a box too)."""
    if len(marks) != 1:
        return None
    box = marks[0]
    # Its own outlines, not openings()': grown by a pixel, a stroke nearly closed would close.
    shapes = outline_and_hole(box.mask(labels))
    if shapes is None:
        return None
    outline, hole = shapes
    if not (cv2.contourArea(hole) >= EMPTY_HOLE * cv2.contourArea(outline)
            and _four_sided(outline) and _four_sided(hole)):
        return None
    inside = np.zeros(labels.shape, np.uint8)
    cv2.drawContours(inside, [hole], -1, 1, cv2.FILLED, offset=(box.left, box.top))
    # Off the box's soft edge, which is paler than its cut but may be darker than the writing.
    return cv2.erode(inside, None, iterations=PRINT_FRINGE).view(bool)


def _four_sided(contour):
    return len(corners(contour)) == 4
