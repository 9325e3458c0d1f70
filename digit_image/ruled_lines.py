"""The lines of ruled or squared paper, taken out of the ink.

A printed line crosses the picture and runs well past the digit at both ends; a stroke of the
digit, however long and straight (the bar of a 7, a 1), does not. Where a stroke crosses a
line, the stroke stays.
"""

import numpy as np

from .marks import box_of, clear_of_edges, label_marks
from .straight_lines import LINE_MARGIN, end_strips, straight_lines

SMALL_IMAGE = 64  # Below this a picture is a crop of the digit, with no room for lines.
LINE_DEGREES = 6  # Lines tilted up to this much off level or plumb,
LINE_THICKNESS = 0.05  # ...no thicker than this fraction of the picture (a marker's stroke is),
LINE_EDGE = 0.05  # ...coming this close to both edges (a stroke of the digit does not).
MIN_MARK_AREA = 0.04  # The digit's marks are at least this share of the largest mark.


def ruled_lines(mask, faint=None):
    """The ink of straight lines drawn across the picture and past the digit at both ends
    (the lines of ruled or squared paper), except where strokes of the digit cross them.

    mask is the ink; faint, if given, a looser mask of it in which the lines are sought
    (printed lines, paler than the pen, come through the ink's threshold broken).
    """
    found = np.zeros_like(mask)
    if min(mask.shape) < SMALL_IMAGE:
        return found
    points = mask if faint is None else faint
    # A line reaches the picture's edge at one end at least, and at the other an edge too (or
    # runs off the top or bottom): most pictures, with nothing at their edges, stop here.
    band = max(1, int(LINE_EDGE * max(mask.shape)))
    left, right = points[:, :band].any(), points[:, -band:].any()
    top, bottom = points[:band].any(), points[-band:].any()
    lines = []
    for horizontal in (True, False):
        ends, sides = (left, right), (top, bottom)
        if not horizontal:
            ends, sides = sides, ends
        if not any(ends) or sum(ends) + sum(sides) < 2:
            continue
        across = points if horizontal else points.T
        thickest = LINE_THICKNESS * across.shape[1]
        for line, near, _ in straight_lines(across, end_strips(across.shape, 0), thickest,
                                            LINE_DEGREES):
            lines.append((line if horizontal else line.T, near if horizontal else near.T,
                          horizontal))
    if not lines:
        return found
    # The digit: the other ink, leaving out what lies along a line (its ragged edges, a
    # stroke lying on it) and marks at the picture's edge (the end of a line cut off there).
    rest = mask.copy()
    for _, near, _ in lines:
        rest &= ~near
    if not rest.any():
        return found  # Nothing but lines: they may be the digit (a 1 lying down, a dash).
    inside = clear_of_edges(label_marks(rest)[1], mask.shape)
    if not inside:
        return found
    largest = max(mark.area for mark in inside)
    top, left, bottom, right = box_of([mark for mark in inside
                                       if mark.area >= MIN_MARK_AREA * largest])
    digit_rows, digit_columns = (top, bottom - 1), (left, right - 1)  # Inclusive.
    for line, _, horizontal in lines:
        rows, columns = np.nonzero(line)
        if horizontal:
            past = _runs_past(columns, rows, digit_columns, digit_rows, mask.shape)
        else:
            past = _runs_past(rows, columns, digit_rows, digit_columns, mask.shape[::-1])
        if past:
            found |= line
    return found


def _runs_past(along, across, digit_along, digit_across, shape):
    """Whether a line (its pixels' coordinates along it and across it) runs to the picture's
    edge at both ends, and past the digit (its extent along and across the line) by
    LINE_MARGIN of the picture at one end at least; an end may run off the top or bottom
    instead, away from the digit (a tilted line cut off there). A long stroke of the digit
    itself, however close to the edges, ends where the digit does. shape is the picture's
    (breadth, span): across, then along the line."""
    breadth, span = shape
    low, high = along.argmin(), along.argmax()

    def off_the_side(end):
        at, clear = across[end], LINE_MARGIN * breadth
        return (at <= LINE_EDGE * breadth and digit_across[0] > at + clear) or (
            at >= (1 - LINE_EDGE) * breadth - 1 and digit_across[1] < at - clear)

    low_edge = along[low] <= LINE_EDGE * span or off_the_side(low)
    high_edge = along[high] >= (1 - LINE_EDGE) * span - 1 or off_the_side(high)
    past = (along[low] <= digit_along[0] - LINE_MARGIN * span
            or along[high] >= digit_along[1] + LINE_MARGIN * span)
    return low_edge and high_edge and past
