"""A whole form page, scanned or photographed: its fields found by their printed lines, and
the writing read from the fields written in.

A lab sheet, a visitor slip or an order form prints a title, small print and labelled
fields, boxes for a word or a number, often in hairlines of light grey. On a page shrunk to
WORK_SIZE those lines fade apart, so form_boxes.py does not find the fields, and the print
is read with the writing (a page refused as words, or its title read as a 5). Here the page
is read at PAGE_SIZE, and its level and upright lines are drawn out of it by a grey-level
opening along each (what is shorter, the print's letters and most of the writing, goes). A
field is two level lines of one extent, one above the other, joined at both ends by upright
lines that end there, and none between them (a ruled page's rules run on through its
margin line, across the page). The writing is what lies in the fields beyond dust; it is
read from a crop around it, the fields' level lines taken away by the same opening (a
stroke crossing one keeps what it adds to it). A page whose fields are all empty is blank.
"""

import cv2
import numpy as np

from .errors import NoInk
from .form_boxes import PRINT_TALLEST
from .ink import FAINT_INK, darkness, find_ink
from .lighting import contrast_from, contrast_within
from .marks import dilate, label_marks, outline_and_hole, without_specks

PAGE_SIZE = 1024  # A page is looked at this many pixels a side,
PAGE_MARKS = 10  # ...when the first look found at least this many marks (print),
LEVEL_RUN = 0.04  # ...its level lines runs of this share of the page at least,
UPRIGHT_RUN = 0.012  # ...its upright lines (a field's short sides) of this share,
LINE_CUT = 0.05  # ...this much darker than the paper at least.
PAGE_LINES = 100  # A form prints at most this many level lines (not a grid, nor stripes).
LEVEL_GAP = 0.004  # A level line broken by gaps this share of the page is one.
LINE_THICK = 0.01  # A level line is at most this share of the page thick,
LEVEL_DEGREES = (-3, -2, -1, 0, 1, 2, 3)  # ...turned by these (a scan's or a photo's skew),
LEVEL_SLOPE = 0.06  # ...rising at most this much along its length.
ENDS = 0.03  # A field's two level lines end within this share of the page of each other,
FIELD_HEIGHT = (0.02, 0.25)  # ...this share of the page apart at least, at most,
FIELD_WIDE = 1.2  # ...at least this many times as long as that,
FIELD_LONG = (0.07, 0.9)  # ...and this share of the page long at least, of its width at most
                          # (a ruled page's lines run across it),
SIDES = 0.5  # ...upright lines along this share of the gap at both ends.
CONTINUED = 0.15  # ...ending there: not running on beyond the corners, through this share of
RUNS_ON = 0.9  # ...the gap next to them (a label above may begin a little further).
SPECK = 0.15  # Ink in a field under this share of its height both ways is dust.
WRITER = 0.4  # Beside blank fields, a mark this share of their height tall is writing,
                # when it is also PRINT_TALLEST times as tall as the marks there are.
SIDE_REACH = 0.15  # A field's sides lie within this share of its height beyond its polygon.
STRAY = 0.1  # Writing strays this share of a field's height over its level lines,
LINE_RUN = 0.8  # ...which run on longer than this share of it (a digit's bar does not),
LINE_FRINGE = 2  # ...their soft edges this many pixels beyond them.


def looks_like_a_form(labels, marks):
    """Whether a first look's marks are a page of print (PAGE_MARKS or more) or hold two
    boxes at least whose openings are wider than tall (fields with thick lines, which take
    the print's letters for specks beside them), so that the page is looked at for fields."""
    if len(marks) >= PAGE_MARKS:
        return True
    if len(marks) < 2:
        return False  # most pictures: one digit
    wide = 0
    for mark in marks:
        shapes = outline_and_hole(mark.mask(labels))
        if shapes is not None:
            _, _, width, tall = cv2.boundingRect(shapes[1])
            wide += width >= FIELD_WIDE * tall and tall >= SPECK * mark.height
    return wide >= 2


def page_fields(thin):
    """The fields of a page, from its Contrast taken against the thin strokes' background
    (thin: shading and blotches are background): (a list of int32 polygons (x, y) of their
    insides, in the page's pixels; the page's long level lines, a boolean image)."""
    values = thin.values
    side = max(values.shape)
    level = _level_lines(values, max(3, round(LEVEL_RUN * side))) > LINE_CUT
    upright = cv2.morphologyEx(values, cv2.MORPH_OPEN, cv2.getStructuringElement(
        cv2.MORPH_RECT, (1, max(3, round(UPRIGHT_RUN * side))))) > LINE_CUT
    level = cv2.morphologyEx(level.view(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(
        cv2.MORPH_RECT, (max(3, round(LEVEL_GAP * side)), 1))).view(bool)
    if not level.any():
        return [], level
    labels, marks = label_marks(level)
    lines = []  # (left, right, slope, intercept, thickness)
    for mark in marks:
        if mark.width < LEVEL_RUN * side:
            continue
        ys, xs = np.nonzero(mark.mask(labels))
        xs, ys = xs + mark.left, ys + mark.top
        slope, intercept = np.polyfit(xs, ys, 1) if np.ptp(xs) > 0 else (0.0, ys.mean())
        thickness = mark.area / mark.width
        if thickness <= LINE_THICK * side and abs(slope) < LEVEL_SLOPE:
            lines.append((mark.left, mark.right, slope, intercept, thickness))
    if len(lines) > PAGE_LINES:
        return [], level  # (and no time spent pairing them)
    lines.sort(key=lambda line: line[3] + line[2] * (line[0] + line[1]) / 2)
    fields = []
    tolerance = ENDS * side
    for index, top in enumerate(lines):
        for bottom in lines[index + 1:]:
            if abs(top[0] - bottom[0]) > tolerance or abs(top[1] - bottom[1]) > tolerance:
                continue
            left, right = max(top[0], bottom[0]), min(top[1], bottom[1])
            middle = (left + right) / 2
            gap = (bottom[3] + bottom[2] * middle) - (top[3] + top[2] * middle)
            if not (FIELD_HEIGHT[0] * side <= gap <= FIELD_HEIGHT[1] * side
                    and max(FIELD_WIDE * gap, FIELD_LONG[0] * side) <= right - left
                    <= FIELD_LONG[1] * values.shape[1]):
                continue
            if any(_between(line, top, bottom, left, right) for line in lines):
                break  # another line across: the nearest below is what closes a field
            if not all(_side(upright, x, top, bottom, tolerance) for x in (left, right)):
                continue
            fields.append(_inside(top, bottom, left, right))
            break
    return fields, level


def _at(line, x):
    return line[3] + line[2] * x


def _between(line, top, bottom, left, right):
    """Whether a level line lies between two others, across half of their common extent."""
    middle = (max(left, line[0]) + min(right, line[1])) / 2
    return (min(right, line[1]) - max(left, line[0]) >= 0.5 * (right - left)
            and _at(top, middle) + top[4] < _at(line, middle) < _at(bottom, middle) - bottom[4])


def _side(upright, x, top, bottom, tolerance):
    """Whether an upright line runs along SIDES of the rows between two level lines, in a
    column within tolerance of x, and does not run on beyond them (CONTINUED)."""
    first, last = int(_at(top, x) + top[4]), int(_at(bottom, x) - bottom[4])
    start = max(0, int(x - tolerance))
    columns = upright[first:last, start:int(x + tolerance) + 1]
    if last <= first or columns.size == 0:
        return False
    # The side: the column the upright line covers most (a pixel either side: a tilt).
    covered = np.convolve(columns.mean(axis=0), np.ones(3), mode="same")
    best = start + int(np.argmax(covered))
    near = slice(max(0, best - 1), best + 2)
    if upright[first:last, near].any(axis=1).mean() < SIDES:
        return False
    # A field's side ends at its corners; a ruled page's margin line runs on past them.
    beyond = round(CONTINUED * (last - first))
    above_end, below_start = first - 2 * int(top[4]) - 2, last + 2 * int(bottom[4]) + 2
    above = upright[max(0, above_end - beyond):max(0, above_end), near]
    below = upright[below_start:below_start + beyond, near]
    return all(part.size == 0 or part.any(axis=1).mean() < RUNS_ON for part in (above, below))


def _inside(top, bottom, left, right):
    """The polygon of a field between its level lines (their middles) and clear of its
    upright sides (and of their soft edges: as far again as a line is thick, two pixels)."""
    clear = max(top[4], bottom[4]) + 4
    left, right = left + clear, right - clear
    corners = [(left, _at(top, left)), (right, _at(top, right)), (right, _at(bottom, right)),
               (left, _at(bottom, left))]
    return np.round(np.array(corners)).astype(np.int32)


def field_height(fields):
    """The height of a page's fields, in its pixels: the median of theirs."""
    return float(np.median([np.ptp(field[:, 1]) for field in fields]))


def writing_in(contrast, fields, lines):
    """(top, left, bottom, right), the box in the page's pixels of what is written in its
    fields (marks as dark as ink at the least, larger than dust), a field's height around
    it, and the fields' insides (a boolean image of the page's shape, STRAY beyond their
    level lines); contrast: the page's, lines: its level lines. Raises NoInk when nothing
    but specks is written in them (a blank form)."""
    height = field_height(fields)
    inside = _around(contrast.values.shape, fields, round(STRAY * height), 0)
    clear = inside & ~dilate(lines, LINE_FRINGE)  # (a stroke crossing one is found in two)
    writing = without_specks(contrast_within(contrast, clear).values > FAINT_INK / 2,
                             SPECK * height)
    if not writing.any():
        raise NoInk("no ink found (only specks in the fields)")
    rows, columns = np.nonzero(writing)
    margin = round(height)
    return (max(0, rows.min() - margin), max(0, columns.min() - margin),
            min(writing.shape[0], rows.max() + 1 + margin),
            min(writing.shape[1], columns.max() + 1 + margin)), inside


def only_print_beside(contrast, fields, lines):
    """Whether what lies beyond a page's fields is print alone: no mark there (off the
    page's edge, larger than dust) as tall as WRITER of a field and PRINT_TALLEST times the
    median of them, as a digit written beside the fields or in one not found would be (a
    title's letters are a little taller than the labels')."""
    height = field_height(fields)
    # With their sides, which the fields' polygons stop short of.
    reach = max(1, round(SIDE_REACH * height))
    beyond = ~_around(contrast.values.shape, fields, reach, reach) & ~dilate(lines, LINE_FRINGE)
    ink = contrast_within(contrast, beyond).values > FAINT_INK
    if not ink.any():
        return True
    _, marks = label_marks(ink)
    rows, columns = ink.shape
    heights = [mark.height for mark in marks if mark.top > 0 and mark.left > 0
               and mark.bottom < rows and mark.right < columns
               and max(mark.height, mark.width) >= SPECK * height]
    if not heights:
        return True
    tallest = max(WRITER * height, PRINT_TALLEST * np.median(heights))
    return max(heights) < tallest


def written(contrast, inside, height):
    """(ink, labels, marks, darkness) of the writing in a crop around it (contrast: the
    crop's), read from the fields' insides (inside, a boolean image of the crop's shape;
    height, the fields' in its pixels) alone, as ink.find_ink reads a picture: its size
    measured against itself. The fields' level lines are taken away first: what a grey-level
    opening along LINE_RUN of their height leaves (a digit's bar is shorter), so that a
    stroke crossing a line keeps what it adds to it."""
    values = contrast.values
    lines = _level_lines(values, max(3, round(LINE_RUN * height)))
    contrast = contrast_within(contrast_from(np.clip(values - lines, 0, 1), False), inside)
    ink, labels, marks = find_ink(contrast, forms=False)
    return ink, labels, marks, darkness(contrast, labels, marks)


def _around(shape, fields, rows, columns):
    """A boolean image of shape: the fields' polygons, grown by rows above and below and by
    columns either side."""
    inside = np.zeros(shape, np.uint8)
    cv2.fillPoly(inside, fields, 1)
    grow = np.ones((2 * max(1, rows) + 1, 2 * columns + 1), np.uint8)
    return cv2.dilate(inside, grow).view(bool)


def _level_lines(values, run):
    """What of values lies on level lines at least run pixels long, turned by any of
    LEVEL_DEGREES: the greatest of grey-level openings along each such line."""
    found = None
    for degrees in LEVEL_DEGREES:
        rise = np.tan(np.radians(degrees)) * (run - 1) / 2
        middle = int(np.ceil(abs(rise)))
        kernel = np.zeros((2 * middle + 1, run), np.uint8)
        cv2.line(kernel, (0, round(middle - rise)), (run - 1, round(middle + rise)), 1, 1)
        opened = cv2.morphologyEx(values, cv2.MORPH_OPEN, kernel)
        found = opened if found is None else np.maximum(found, opened)
    return found
