"""Boxes printed on a form, a digit written in each (a year, a postcode, an account number,
a single field): the form's print around them taken out, and the boxes of a row.

A box closes around an opening nearly as tall as it, whose outline is a rectangle (at any
slight tilt); a row is boxes of one height side by side, joined into one mark (a comb of
cells) or apart. A digit that touches its box's sides notches the opening, or cuts it in
two: the opening is the convex hull of the background the box closes around. What the
box's mark holds beyond the openings is the box. What lies beyond the rows (the form's
title, the field's label, its rule) is the form's, not the writer's: the digits are read
from the rows alone. A box or two count when a digit's height is written in them and the
form prints more beside them, or has a row of three boxes or more of their height (another
field, empty or not); a box drawn around a digit on bare paper, or a square 0, is boxes.py's.
Three or more count when anything is written in them; when nothing is, in any row, and
nothing but words of print lies beside them, the form is blank, and only a pen fainter
than its print is looked for in them."""

import itertools
import typing

import cv2
import numpy as np

from .boxes import FRAME_CONTENT, FRAME_HOLE, FRAME_SIZE, FRAME_THICKNESS, openings
from .marks import Mark, dilate, label_marks, mask_of, without_specks
from .ruled_lines import SMALL_IMAGE

MIN_CELLS = 3  # A row of this many boxes at least may have empty ones,
ROW_HEIGHT = 0.04  # ...each at least this fraction of the picture tall,
CELL_WIDTH = (0.3, 2.0)  # ...its opening this many times as wide as tall at least, at most,
SAME_HEIGHT = 0.75  # ...of heights within this fraction of each other,
SAME_WIDTH = 0.75  # ...the cells of one mark of widths within this fraction of each other,
CELL_SQUARE = 0.85  # ...its opening's outline filling this much of its tilted rectangle,
# and its sides (its mark beyond the openings) no thicker than FRAME_THICKNESS of its height.
OVERLAP = 0.25  # Cells side by side share this share of their columns at most (a tilt).
PART_WIDTH = 0.5  # Openings under this share of the widest beside them are parts of a cell;
PART_HEIGHT = 0.3  # ...under this share of the mark's height, a corner a digit cut off.
CROSSING = 1.6  # A digit's stroke crossing a side runs on this many times its reach out.
WRITTEN = 0.01  # A row's cells hold ink over this share of their area at least.
PRINT = 0.5  # A form around one or two boxes holds this much ink beside them at least,
WRITER = 0.75  # ...none of it as tall as this share of the writing in them.
PRINT_MARKS = 3  # Beside empty rows, a form's print is this many marks at least (words),
PRINT_TALLEST = 2.0  # ...none over this many times their median height (a digit written
                     # beside them) or WRITER of the boxes' height.
SPECK = 0.1  # Ink in a box under this share of its height both ways is dust, not writing.
ROW_MARGIN = 0.25  # Ink this fraction of the row's height above or below it is still read,
SIDE_MARGIN = 3  # ...and this many pixels beyond its ends.


def form_boxes(mask, faint):
    """Rows of boxes on a form: (the boxes' sides, the rows' region, whether the rows are
    empty), the first two boolean images; None when the picture has none. mask is the ink,
    faint a looser mask of it in which the boxes are sought. The rows are empty when nothing
    is written in any (the region is then that of the rows of MIN_CELLS boxes or more) and
    nothing but print lies beside them (_only_print_beside): a blank form, unless a pen
    paler than the print's half shows in them."""
    if min(mask.shape) < SMALL_IMAGE:
        return None
    found = np.zeros_like(mask)
    labels, marks = label_marks(faint)
    boxed = []
    for mark in marks:
        if mark.height < ROW_HEIGHT * max(mask.shape):
            continue
        window = mark.mask(labels)
        cells = _cells(window)
        if not cells:
            continue
        sides, inside = _sides(window, cells)
        length = sum(cv2.arcLength(hull, True) for hull in cells)
        if np.count_nonzero(sides) <= FRAME_THICKNESS * mark.height * length:
            boxed.append(Boxed(mark, sides, inside, len(cells)))
    rows = np.zeros_like(mask)
    grouped = _rows(boxed)
    # Each row's height and count of cells; the heights of the rows of MIN_CELLS boxes or
    # more, written in or not, are a form's fields.
    sizes = [(max(entry.mark.height for entry in row), sum(entry.count for entry in row))
             for row in grouped]
    combs = [tallest for tallest, count in sizes if count >= MIN_CELLS]
    empty = np.zeros_like(mask)  # the empty rows of MIN_CELLS boxes or more
    written_in = False  # any row, read or not
    for row, (tallest, count) in zip(grouped, sizes):
        inside = np.zeros_like(mask)
        for entry in row:
            inside[entry.mark.box] |= entry.cells
        # Specks of dust are no writing; the grains of a pencil's stroke, joined in faint, are.
        writing = mask & without_specks(faint & inside, SPECK * tallest)
        written = np.flatnonzero(writing.any(axis=1))
        writing_height = written[-1] + 1 - written[0] if len(written) else 0
        # Boxes with nothing written in them are more likely square zeros than a form; one
        # or two (which may be a box a digit touching its top and bottom cut in two) hold
        # ink FRAME_CONTENT of their height at least (not a 0 with a dot or a tick in it).
        few = count < MIN_CELLS
        if np.count_nonzero(faint & inside) < WRITTEN * np.count_nonzero(inside):
            if not few:
                empty |= inside
            continue
        written_in = True
        if few and writing_height < FRAME_CONTENT * tallest:
            continue
        # A comb running on past the picture's side has more cells (read closer, around the
        # digits in its first ones).
        few &= not any(entry.count > 1 and (entry.mark.left == 0
                                            or entry.mark.right == mask.shape[1])
                       for entry in row)
        # What is read: the row (the cells' convex hull: a cell between them that a digit
        # hid too), and a margin above and below it for strokes that stray out; not beyond
        # the row's ends (a cell cut open by the picture's edge is no cell, and the pieces of
        # its sides are no digit).
        outline = cv2.convexHull(cv2.findNonZero(inside.view(np.uint8)))
        inside = cv2.fillPoly(np.zeros(mask.shape, np.uint8), [outline], 1).view(bool)
        margin = dilate(inside, int(ROW_MARGIN * tallest))
        columns = np.flatnonzero(inside.any(axis=0))
        margin[:, : max(0, columns[0] - SIDE_MARGIN)] = False
        margin[:, columns[-1] + SIDE_MARGIN + 1 :] = False
        # One or two boxes are a form's field beside another field's row of boxes of their
        # height, or beside its print.
        field = any(min(height, tallest) >= SAME_HEIGHT * max(height, tallest) for height in combs)
        if few and not field and not _printed_around(mask, margin, row, labels,
                                                     np.count_nonzero(mask & inside),
                                                     writing_height):
            continue
        rows |= margin
        for entry in row:
            # A box apart as large as boxes.py looks for is its to take out, line by line,
            # as drawn; a comb's cells, a row's boxes, smaller boxes, are taken out here.
            if entry.count > 1 or not few or tallest < FRAME_SIZE * max(mask.shape):
                found[entry.mark.box] |= entry.sides
    if rows.any():
        return found, rows, False
    if empty.any() and not written_in and _only_print_beside(mask, labels, boxed, max(combs)):
        for entry in boxed:
            found[entry.mark.box] |= entry.sides
        return found, empty, True
    return None


def _only_print_beside(mask, labels, boxed, cell_height):
    """Whether the ink beyond the boxes is a form's print: words (PRINT_MARKS marks at
    least; square 0s side by side have none, "0.00" a dot) of letters alike, none standing
    out PRINT_TALLEST times their median height or WRITER of the boxes' (a digit written
    beside them)."""
    beside = mask & ~mask_of(labels, [entry.mark for entry in boxed])
    if not beside.any():
        return False
    _, others = label_marks(beside)
    heights = [other.height for other in others]
    return (len(heights) >= PRINT_MARKS and max(heights) <= PRINT_TALLEST * np.median(heights)
            and max(heights) < WRITER * cell_height)


class Boxed(typing.NamedTuple):
    """A mark found to be boxes: its sides and its cells (the openings), in its box, and
    how many cells it has."""

    mark: Mark
    sides: np.ndarray
    cells: np.ndarray
    count: int


def _printed_around(mask, margin, row, labels, writing_pixels, writing_height):
    """Whether the ink beside one or two boxes is a form's print: PRINT of the ink in them at
    least, and no mark of it as tall as WRITER of the writing in them (a digit beside, of
    the same number: a box drawn round part of a number on bare paper)."""
    beside = mask & ~margin & ~mask_of(labels, [entry.mark for entry in row])
    if not beside.any() or np.count_nonzero(beside) < PRINT * writing_pixels:
        return False
    _, others = label_marks(beside)
    return all(other.height < WRITER * writing_height for other in others)


def _sides(window, cells):
    """(the sides, the cells' pixels) of a mark's boxes (window: the mark cropped to its box;
    cells: its openings' outlines). The sides are the mark's pixels beyond the openings up
    to a line's thickness out (half of a side's pixels lie within half its thickness)."""
    inside = np.zeros(window.shape, np.uint8)
    for hull in cells:
        cv2.fillPoly(inside, [hull], 1)
    beyond = window & ~inside.view(bool)
    if not beyond.any():
        return beyond, inside.view(bool)
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)
    reach = 2 * np.median(distance[beyond]) + 1
    sides = beyond & (distance <= reach)
    # Where a digit's stroke crosses a side, the crossing stays with the stroke: what lies
    # beyond the side reaching CROSSING times as far out (not the blot where two printed
    # lines meet).
    _, pieces = cv2.connectedComponents((beyond & ~sides).view(np.uint8), connectivity=8)
    farthest = np.zeros(pieces.max() + 1, np.float32)
    np.maximum.at(farthest, pieces.ravel(), distance.ravel())
    crossing = np.isin(pieces, np.flatnonzero(farthest >= CROSSING * reach)) & (pieces > 0)
    if crossing.any():
        sides &= ~dilate(crossing, int(reach) + 1)
    return sides, inside.view(bool)


def _cells(window):
    """The openings of a mark (a boolean image cropped to it) that are a box's: convex
    hulls (int32 points, x then y) of the background it closes around, side by side, each
    nearly as tall as the mark, rectangular; [] when any opening fails."""
    height = window.shape[0]
    found = [opening for opening in openings(window)
             if np.ptp(opening[:, 0, 1]) >= PART_HEIGHT * height]
    # A digit touching its box joins the box's mark, and its loops are openings too: they
    # lie within the columns of a larger opening, the cell's.
    found.sort(key=lambda contour: -np.ptp(contour[:, 0, 0]))
    spans = []
    for contour in found:
        left, right = contour[:, 0, 0].min(), contour[:, 0, 0].max()
        if all(min(right, other_right) - max(left, other_left) < 0.5 * (right - left)
               for other_left, other_right, _ in spans):
            spans.append((left, right, contour))
    found = [contour for _, _, contour in sorted(spans, key=lambda span: span[0])]
    if not found:
        return []
    # Parts of a cell that a digit cut (touching its top and bottom) join up into the cell:
    # each part narrower than PART_WIDTH of the widest joins the neighbour beside which the
    # two come nearest to a whole cell's width.
    cells = [(contour, np.ptp(contour[:, 0, 0])) for contour in found]  # (points, width)
    while len(cells) > 1:
        widest = max(width for _, width in cells)
        parts = [index for index, (_, width) in enumerate(cells) if width < PART_WIDTH * widest]
        if not parts:
            break
        index = parts[0]
        joined = []
        for other in (index - 1, index + 1):
            if 0 <= other < len(cells):
                points = np.concatenate([cells[min(index, other)][0], cells[max(index, other)][0]])
                joined.append((abs(np.ptp(points[:, 0, 0]) - widest), other, points))
        _, other, points = min(joined, key=lambda entry: entry[0])
        first = min(index, other)
        cells[first : first + 2] = [(points, np.ptp(points[:, 0, 0]))]
    if min(width for _, width in cells) < SAME_WIDTH * max(width for _, width in cells):
        return []  # A form's cells are printed alike: these are a box's parts that a digit cut.
    hulls = []
    for points, _ in cells:
        hull = cv2.convexHull(points)
        _, (side_a, side_b), _ = cv2.minAreaRect(hull)
        _, _, width, tall = cv2.boundingRect(hull)
        if (tall < FRAME_HOLE * height or not CELL_WIDTH[0] * tall <= width <= CELL_WIDTH[1] * tall
                or cv2.contourArea(hull) < CELL_SQUARE * side_a * side_b):
            return []
        hulls.append(hull)
    # Side by side, not one inside another (a tilted row's cells share a few columns).
    for first, second in zip(hulls, hulls[1:]):
        if first[:, 0, 0].max() - second[:, 0, 0].min() > OVERLAP * min(
                np.ptp(first[:, 0, 0]), np.ptp(second[:, 0, 0])):
            return []
    return _with_hidden_cells(hulls, FRAME_THICKNESS * height)


def _with_hidden_cells(hulls, thickest):
    """The cells with those a digit hid added: where two cells lie more than half a cell's
    width apart, the cells between them (a digit filled theirs, touching all four sides),
    one divider's width inside the space between, as its corners show. [] when the cells
    are not parted by a printed line at most thickest pixels thick (but by a digit's
    strokes, touching the top and bottom of its box)."""
    if len(hulls) == 1:
        return hulls
    corners = [_corners(hull) for hull in hulls]
    gaps = [right[0] - left[1] for left, right in itertools.pairwise(corners)]
    width = np.median([corner[1] - corner[0] for corner in corners], axis=0)
    divider = min(gaps, key=lambda gap: gap[:, 0].mean())  # the thinnest: a divider alone
    if divider[:, 0].mean() > thickest:
        return []
    found = [hulls[0]]
    for (left, _), gap, hull in zip(itertools.pairwise(corners), gaps, hulls[1:]):
        count = int(np.round((gap[:, 0].mean() - divider[:, 0].mean())
                             / (width[:, 0].mean() + divider[:, 0].mean())))
        for index in range(count):
            # Corners top then bottom: the hidden cell's left side, then its right side.
            start = left[1] + divider + index * (width + divider)
            outline = np.concatenate([start, start + width])[[0, 2, 3, 1]]
            found.append(outline.round().astype(np.int32)[:, None, :])
        found.append(hull)
    return found


def _corners(hull):
    """A cell's corners as (left side, right side), each (top, bottom) points (x, y)."""
    box = cv2.boxPoints(cv2.minAreaRect(hull))
    box = box[np.argsort(box[:, 0])]
    left, right = box[:2], box[2:]
    return np.stack([left[np.argsort(left[:, 1])], right[np.argsort(right[:, 1])]])


def _rows(boxed):
    """The boxed marks grouped into rows: marks of heights within SAME_HEIGHT of each other
    whose rows overlap by half the shorter's height, left to right."""
    rows = []
    for entry in sorted(boxed, key=lambda entry: entry.mark.left):
        mark = entry.mark
        for row in rows:
            last = row[-1].mark
            shared = min(mark.bottom, last.bottom) - max(mark.top, last.top)
            if (shared >= 0.5 * min(mark.height, last.height) and min(mark.height, last.height)
                    >= SAME_HEIGHT * max(mark.height, last.height)):
                row.append(entry)
                break
        else:
            rows.append([entry])
    return rows
