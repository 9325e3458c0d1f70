"""A line drawn under the digits, as people underline a 6 or a 9, or an answer, a printed
rule across a form or a page, and the edge of a sheet lying in the picture, left out."""

import cv2
import numpy as np

from .marks import box_of, clear_of_edges, convex_outline, rectangle_sides, stroke_width

UNDERLINE_FLATNESS = 0.25  # A line under the digits is at most this tall for its width,
UNDERLINE_GAP = 0.05  # ...lies apart below all other ink, lower by this fraction of its height,
UNDERLINE_SPAN = 0.5  # ...and runs under at least this fraction of its width.
RULE_LENGTH = 2.5  # A printed rule, or a sheet's edge, is this many times as long as the
                   # tallest other mark (the writing),
RULE_THIN = 0.1  # ...at most this thick for its length,
RULE_SLOPE = 0.2  # ...and about level: its box at most this tall for its width (11 degrees),
RULE_BAR = 0.5  # ...with no mark starting this share of the tallest's height under it.
EDGE_MARK = 0.06  # A sheet's edge, beside writing at least this share of the picture (not specks),
EDGE_SPAN = 0.25  # ...spans this share of the picture at least,
EDGE_THIN = 0.03  # ...its stroke at most this share of its length,
EDGE_ALONG = 0.9  # ...and this share of it lies along its convex outline (a side, or a corner).


def without_underlines(marks):
    """The marks without the flat ones that lie apart below all the others and run under at
    least half of them. Only the mark that begins lowest can lie below all the others."""
    if len(marks) < 2:
        return marks
    line = max(marks, key=lambda mark: mark.top)
    rest = [mark for mark in marks if mark is not line]
    top, left, bottom, right = box_of(rest)
    if (line.height <= UNDERLINE_FLATNESS * line.width
            and line.top >= bottom + UNDERLINE_GAP * (bottom - top)
            and min(line.right, right) - max(line.left, left) >= UNDERLINE_SPAN * (right - left)):
        return without_underlines(rest)  # a second line under the first
    return marks


def without_rules(marks, labels):
    """The marks without printed rules: a form's title rule, the line of a field, apart from
    the writing (RULE_LENGTH, RULE_THIN, RULE_SLOPE). No stroke of a digit is that long for
    the digit's height; a line the digits touch is one mark with them, and a bar with a
    mark just under it (a 7's, drawn apart from its stem) is a digit's: both stay."""
    if len(marks) < 2:
        return marks
    tallest_other = _largest_other([mark.height for mark in marks])

    def rule(mark):
        tallest = tallest_other(mark.height)
        if mark.width < RULE_LENGTH * tallest or mark.height > RULE_SLOPE * mark.width:
            return False
        if not clear_of_edges([mark], labels.shape):
            return False  # the edge of the desk or of a shadow (edges.py), or a ruled line
        long_side, short_side = rectangle_sides(mark.mask(labels))
        if short_side > RULE_THIN * long_side:
            return False
        return not _bar_of_a_7(mark, marks, tallest)

    kept = [mark for mark in marks if not rule(mark)]
    return kept if kept else marks


def _largest_other(sizes):
    """A function of one mark's size (one of sizes, two at least) giving the largest size of
    the others: sorted once, as a page may hold thousands of marks."""
    first, second = sorted(sizes, reverse=True)[:2]
    return lambda size: second if size == first else first


def _bar_of_a_7(mark, marks, tallest):
    """Whether another mark starts just under mark (within RULE_BAR of tallest), in its
    columns: mark is then the bar of a 7 drawn apart from its stem."""
    return any(other is not mark and other.left < mark.right and other.right > mark.left
               and mark.bottom <= other.top <= mark.bottom + RULE_BAR * tallest
               for other in marks)


def without_sheet_edges(marks, labels):
    """The marks without the edges of a sheet or a card lying in the picture (RULE_LENGTH,
    EDGE_MARK, EDGE_SPAN, EDGE_THIN, EDGE_ALONG): a thin line, or two meeting at a corner,
    much longer than the writing. Where the paper meets a desk of its own grey, its rim,
    shaded or lit, is the only line between them; kept, it was the largest mark, read with
    the digit as a 1 or a 7. A digit beside nothing larger than specks, or curving inside
    its outline, and a 7's bar drawn apart from its stem, stay."""
    if len(marks) < 2:
        return marks
    side = max(labels.shape)
    largest_other = _largest_other([max(mark.height, mark.width) for mark in marks])

    def edge(mark):
        extent = max(mark.height, mark.width)
        largest = largest_other(extent)
        if largest < EDGE_MARK * side or extent < max(RULE_LENGTH * largest, EDGE_SPAN * side):
            return False
        mask = mark.mask(labels)
        width = stroke_width(mask)
        return (width <= EDGE_THIN * extent and _along_outline(mask, width)
                and not _bar_of_a_7(mark, marks, largest))

    kept = [mark for mark in marks if not edge(mark)]
    return kept if kept else marks


def _along_outline(mask, width):
    """Whether EDGE_ALONG of a mask's pixels lie within two stroke widths of its convex
    outline, as straight lines and corners do and a digit's curves do not."""
    band = np.zeros(mask.shape, np.uint8)
    rim = max(2, round(2 * width))
    cv2.polylines(band, [convex_outline(mask)], True, 1, thickness=2 * rim + 1)
    return np.count_nonzero(mask & band.view(bool)) >= EDGE_ALONG * np.count_nonzero(mask)
