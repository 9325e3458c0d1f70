"""A dot beyond the end of a stroke: i, j, !, ?, and the Spanish ¡ and ¿; round blots
alone (blots()); and solid blocks apart from the writing (without_blocks()).

No digit is written with a dot, while these are, and the model reads them as the digit their
stroke looks like (an i or a ! as a 1, a ? as a 7 or a 3, at up to 99.9%). A piece that came
away from a broken stroke lies almost touching it, or is drawn out along the stroke; a speck
of dust is smaller than the pen; the digit of a second line is about as tall as the first;
the end of a 0, a 2 or a 7 near a speck is wider than a stroke's.
"""

import cv2
import numpy as np

from .marks import convex_outline, rectangle_sides, stroke_width

DOT_GAP = (0.08, 0.45)  # Dot apart from the stroke by this share of the stroke's height,
DOT_SIZE = 0.4  # ...at most this share of the height across,
DOT_ROUND = 1.5  # ...no longer than this many times its width,
DOT_AREA = 0.4  # ...with at most this share of the stroke's ink,
DOT_PEN = 1.0  # ...at least this many stroke widths across,
DOT_END = 1.5  # ...over the stroke's end, or within this many stroke widths of it,
END_SHARE = 0.2  # ...whose end is this share of its height nearest the dot,
END_WIDTH = 5  # ...and at most this many stroke widths across (a stroke's, not a 0's or a 7's).
BLOT_FILL = 0.75  # A mark with no hole filling this much of its smallest circle is a blot.
BLOCK_FILL = 0.9  # A mark with no hole filling this much of its convex outline,
BLOCK_ROUND = 1.5  # ...no longer than this many times its width (a square, a disc),
BLOCK_SIZE = (0.15, 0.5)  # ...this share of the writing's size (its largest mark's side),
BLOCK_APART = 1.0  # ...and this many times that size from every mark of it, is no writing.


def dotted(labels, marks):
    """Whether the marks are a stroke with a dot above or below its end (see above): two
    marks, the smaller a dot over the end of the larger."""
    if len(marks) != 2:
        return False
    stroke, dot = sorted(marks, key=lambda mark: mark.area, reverse=True)
    height = stroke.height
    if dot.top >= stroke.bottom:
        gap, end = dot.top - stroke.bottom, slice(-max(1, round(END_SHARE * height)), None)
    elif dot.bottom <= stroke.top:
        gap, end = stroke.top - dot.bottom, slice(0, max(1, round(END_SHARE * height)))
    else:
        return False
    if not (DOT_GAP[0] * height <= gap <= DOT_GAP[1] * height
            and max(dot.height, dot.width) <= DOT_SIZE * height
            and dot.area <= DOT_AREA * stroke.area):
        return False
    long_side, short_side = rectangle_sides(dot.mask(labels))
    stroke_mask = stroke.mask(labels)
    pen = stroke_width(stroke_mask)
    if long_side > DOT_ROUND * short_side or long_side < DOT_PEN * pen:
        return False
    columns = np.flatnonzero(stroke_mask[end].any(axis=0)) + stroke.left
    if columns[-1] - columns[0] + 1 > END_WIDTH * pen:
        return False  # a digit's bar or loop beside a speck, not the end of a stroke
    centre = (dot.left + dot.right - 1) / 2
    return columns[0] - DOT_END * pen <= centre <= columns[-1] + DOT_END * pen


def blots(labels, marks):
    """Whether every mark is a round blot, solid and filling BLOT_FILL of its smallest
    enclosing circle: a ring binder's holes, the colours of an app's palette, ink spots. A 0
    has its hole, and every other digit is a stroke longer than wide."""
    for mark in marks:
        # The smallest circle is at least as wide as the mark's box: most marks stop here.
        if mark.area < BLOT_FILL * np.pi * (max(mark.height, mark.width) / 2) ** 2:
            return False
        contours = _solid_outline(mark.mask(labels))
        if contours is None:
            return False
        _, radius = cv2.minEnclosingCircle(np.concatenate(contours))
        if mark.area < BLOT_FILL * np.pi * (radius + 0.5) ** 2:
            return False
    return True


def without_blocks(marks, labels):
    """The marks less the solid blocks apart from the writing: a drawing app's colour
    swatches down the side of its canvas, a binder's punched holes, a sticker. A block is a
    square or a disc with no hole (BLOCK_FILL, BLOCK_ROUND); no digit is one, but a digit
    written with a marker can close up into one, as tall as its neighbours, and the circles
    of a % lie beside its stroke: only blocks BLOCK_SIZE of the writing's size, BLOCK_APART
    from it, are left out. Read with the digits, they were digits of a number, or made the
    picture one unsure digit."""
    if len(marks) < 2:
        return marks  # a block alone is apart from no writing: most pictures stop here
    blocks = [mark for mark in marks if _block(mark, labels)]
    block_labels = {block.label for block in blocks}
    writing = [mark for mark in marks if mark.label not in block_labels]
    if not blocks or not writing:
        return marks
    size = max(max(mark.height, mark.width) for mark in writing)
    smallest, largest = BLOCK_SIZE
    # The gaps to every mark of the writing at once: a page may hold thousands of each.
    tops, lefts, bottoms, rights = np.array([(mark.top, mark.left, mark.bottom, mark.right)
                                             for mark in writing]).T
    apart = {block.label for block in blocks
             if smallest * size <= max(block.height, block.width) <= largest * size
             and np.maximum.reduce([block.top - bottoms, tops - block.bottom,
                                    block.left - rights, lefts - block.right]).min()
             >= BLOCK_APART * size}
    return [mark for mark in marks if mark.label not in apart]


def _block(mark, labels):
    """Whether a mark is a square or a disc with no hole, filling BLOCK_FILL of its convex
    outline."""
    if max(mark.height, mark.width) > 2 * BLOCK_ROUND * min(mark.height, mark.width):
        return False  # far too long for its box: most marks stop here
    mask = mark.mask(labels)
    long_side, short_side = rectangle_sides(mask)
    if long_side > BLOCK_ROUND * short_side:
        return False
    return (mark.area >= BLOCK_FILL * cv2.contourArea(convex_outline(mask))
            and _solid_outline(mask) is not None)


def _solid_outline(mask):
    """The outline (OpenCV contours) of a mask with no hole, else None. Holes as they are: a
    slit a pixel wide in a smudged 3 is one (boxes.openings, made for thin lines, grows the
    mark and closes it)."""
    contours, hierarchy = cv2.findContours(mask.view(np.uint8), cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_SIMPLE)
    return None if (hierarchy[0][:, 3] >= 0).any() else contours
