"""Finding the ink: Otsu's cut through the contrast, the printed lines, boxes and rules taken
out, then the marks it leaves that are neither specks nor ghosts of fainter ink."""

import numpy as np

from .boxes import PRINT_FRINGE, box_sides
from .errors import NoDigit, NoInk
from .form_boxes import form_boxes
from .lighting import contrast_within, histogram, otsu, percentiles
from .marks import dilate, label_marks, mask_of
from .ruled_lines import ruled_lines
from .underlines import without_rules

MIN_CONTRAST = 0.12  # Ink is at least 12% darker (or lighter) than its background.
# The digits' marks, where they are read, are at their darkest tenth at least this much
# darker: fainter marks are a stain, a shadow, a fold or the paper's grain (measured on
# pictures of blank paper and on the photo sets, where pencil reaches 0.2: docs/no_digit.md).
FAINT_INK = 0.18
MIN_DIGIT_SIZE = 0.03  # The largest mark spans at least 3% of the picture's longer side.
MIN_MARK_AREA = 0.04  # Marks under 4% of the largest one's area are specks.
GHOST = 0.5  # So are marks whose ink is under half as dark as the largest one's.
# Otsu's cut between paper and ink, kept within these fractions of the ink's peak contrast:
# ink is the rarer class, and below 0.45 the soft borders of shadows and the paper's
# blotches come through (measured on the photo sets: docs/picture-pipeline.md).
LOWEST_CUT = 0.45
HIGHEST_CUT = 0.6


def find_ink(contrast, forms=True, without=None):
    """The ink of a picture, from its Contrast (lighting.py).

    forms: whether to look for rows of boxes on a form (form_boxes.py).
    without: a mask of pixels that are not ink, whatever their contrast (marks already
    found to be the desk or a wall), so that the rest is measured without them.
    Returns (ink, labels, marks): ink is float32 in 0..1 with the background at 0 and stroke
    cores at 1, anti-aliased edges in between; labels numbers the connected marks of the ink
    mask; marks are those that are not specks. Raises ImageError when there is no ink.
    """
    values, peak = contrast.values, contrast.peak
    if peak < MIN_CONTRAST:
        raise NoInk("no ink found (the picture looks blank)")
    if contrast.thin:
        # Strokes under two pixels wide show more or less of their contrast as they fall
        # across the pixels, and little else is left to be told from them: the lowest cut.
        threshold = 0.3 * peak
    else:
        threshold = np.clip(otsu(contrast.levels, round(peak * 255)), LOWEST_CUT * peak,
                            HIGHEST_CUT * peak)
    mask = values > threshold
    if without is not None:
        mask &= ~without
    # Printed lines and boxes, paler than the pen, come through the threshold broken: they
    # are looked for at half of it.
    faint = values > threshold / 2
    lines = ruled_lines(mask, faint)
    if forms:
        form = form_boxes(mask & ~lines, faint & ~lines)
        if form is not None:
            # The digits are read in the boxes alone; the form's print, darker than most
            # pens, set the cut between paper and ink, which is found anew without it.
            sides, rows, empty = form
            try:
                return find_ink(contrast_within(contrast, rows & ~dilate(sides, PRINT_FRINGE)),
                                forms=False)
            except NoInk:
                if empty:  # nothing written in them, however pale: a blank form
                    raise NoDigit("no digit: the form's boxes are empty") from None
                raise
    lines |= box_sides(mask & ~lines, faint & ~lines)
    if lines.any():
        mask &= ~lines
        values = np.where(lines, 0, values)
    labels, marks = label_marks(mask)
    # A printed rule apart from the writing (a form's title rule), before the digit's size,
    # its specks and its ghosts are measured against the largest mark, which it would be.
    # (Writing much paler than the rule is under the cut it set, and is not found here.)
    marks = without_rules(marks, labels)

    largest = max(marks, key=lambda mark: mark.area)
    if max(largest.height, largest.width) < MIN_DIGIT_SIZE * max(values.shape):
        raise NoInk(f"no ink found (only specks: a digit spans at least "
                         f"{MIN_DIGIT_SIZE:.0%} of the picture, so crop closer)")
    marks = [mark for mark in marks if mark.area >= MIN_MARK_AREA * largest.area]
    if not contrast.thin:
        # Marks much fainter than the largest are not written with its pen: the grain of the
        # paper, the stubs of printed lines, the ghosts of digits wiped off a whiteboard.
        # (Strokes thinner than a pixel show less of their darkness the thinner they are.)
        darkness = {mark.label: _tenth_darkest(values[mark.box][mark.mask(labels)])
                    for mark in marks}
        marks = [mark for mark in marks if darkness[mark.label] >= GHOST * darkness[largest.label]]

    # Stroke cores (the upper quarter of the marks' contrast) become 1; grey levels down to a
    # quarter of the threshold stay as anti-aliasing (layout.to_mnist keeps them only where
    # they touch the ink).
    kept = contrast.levels[mask_of(labels, marks)]
    (core,) = percentiles(histogram(kept), (75,))
    floor = threshold / 4
    ink = np.clip((values - floor) / max(core - floor, 1e-3), 0, 1).astype(np.float32)
    return ink, labels, marks


def darkness(contrast, labels, marks):
    """How much darker than their paper marks are at their darkest tenth (0..1)."""
    return float(_tenth_darkest(contrast.values[mask_of(labels, marks)]))


def _tenth_darkest(values):
    """The 90th percentile of values (nearest rank): a mark's darkness, above its soft edges."""
    rank = int(0.9 * (len(values) - 1) + 0.5)
    return np.partition(values, rank)[rank]
