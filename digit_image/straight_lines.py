"""Straight lines through ink, found by OpenCV's Hough transform: the lines of ruled paper
(ruled_lines.py) and the sides of a box drawn around a digit (boxes.py).

A line must cross most of the span it is looked for in, and show its own ink in a strip near
each end, clear of the digit's strokes: there its thickness is measured. Where a stroke of the
digit crosses it, the stroke keeps the crossing.
"""

import cv2
import numpy as np

LINE_SPAN = 0.5  # A line crosses at least this fraction of the span,
LINE_MARGIN = 0.15  # ...with this fraction of it in a strip towards each end.
ANGLE_STEP = 0.5  # Degrees between the slopes tried.


def end_strips(shape, inset):
    """The pixels of a picture of shape (height, width) that lie in the two strips, each
    LINE_MARGIN of the width wide, towards the left and right ends, inset from them by
    inset of the width."""
    width = shape[1]
    columns = np.arange(width)
    low, high = inset * width, (1 - inset) * width
    inside = ((columns >= low) & (columns < low + LINE_MARGIN * width)) | (
        (columns < high) & (columns >= high - LINE_MARGIN * width))
    return np.broadcast_to(inside, shape)


def straight_lines(points, strips, thickest, degrees):
    """The near-horizontal lines (tilted up to degrees) through the ink of points, a boolean
    image: for each line, strongest first, (its ink, the ink within two pixels of its band,
    its slope dy/dx).

    strips marks the pixels in the two strips, one towards each end, that a line must cross
    with ink of its own (end_strips()): there the band's thickness is measured, thickest
    pixels at most.
    """
    width = points.shape[1]
    if np.count_nonzero(points & strips) < LINE_MARGIN * width:
        return []  # Too little ink there for any line: most pictures stop here.
    step = np.radians(ANGLE_STEP)
    found = cv2.HoughLinesWithAccumulator(
        points.view(np.uint8), 1, step, int(np.ceil(LINE_SPAN * width)) - 1,
        min_theta=np.pi / 2 - np.radians(degrees), max_theta=np.pi / 2 + np.radians(degrees) + step / 2)
    found = np.zeros((0, 3)) if found is None else found.reshape(-1, 3)
    if not len(found):
        return []
    rows, columns = np.nonzero(points)
    in_strips = strips[rows, columns]
    # A line has ink of its own through the end strips, where its band is measured: for all
    # the lines at once, on the strips' few pixels (a thick stroke gives a line at every level).
    reach = int(np.ceil(thickest))
    bands = _bands(_strip_counts(rows[in_strips], columns[in_strips], found, reach), reach,
                   LINE_MARGIN * width)
    lines, taken = [], np.zeros(len(rows), bool)
    for index in np.flatnonzero(bands[:, 1] - bands[:, 0] < thickest):
        first, last = bands[index]
        # Each pixel's distance from the line, in whole pixels across it.
        offset = _offsets(rows, columns, found[index : index + 1])[0]
        line = (offset >= first) & (offset <= last)
        if np.count_nonzero(line & taken) > 0.5 * np.count_nonzero(line):
            continue  # The same line found at a neighbouring slope.
        # A stroke crossing the line has ink just above and just below it: it stays.
        above = columns[(offset >= first - 2) & (offset < first)]
        below = columns[(offset > last) & (offset <= last + 2)]
        line &= ~np.isin(columns, np.intersect1d(above, below))
        if not line.any():
            continue  # Strokes crossing it all along: a row of strokes, no printed line.
        # The line's ragged fringe: one pixel beside the band with no ink beyond it.
        for edge, beyond in ((first - 1, first - 2), (last + 1, last + 2)):
            line |= (offset == edge) & ~np.isin(columns, columns[offset == beyond])
        taken |= line
        near = (offset >= first - 2) & (offset <= last + 2)
        lines.append((_image(points.shape, rows[line], columns[line]),
                      _image(points.shape, rows[near], columns[near]),
                      -1 / np.tan(found[index, 1])))
    return lines


def _offsets(rows, columns, lines):
    """Each pixel's distance (rows, columns) from each line (rho, theta, votes), in whole
    pixels across it: an array of lines by pixels."""
    rho, theta = lines[:, :1], lines[:, 1:2]
    return np.floor(columns * np.cos(theta) + rows * np.sin(theta) - rho + 0.5).astype(int)


def _strip_counts(rows, columns, lines, reach):
    """How many of the pixels (rows, columns) lie at each offset -reach-1 .. reach+1, in
    whole pixels, across each line (rho, theta, votes): an array of lines by offsets. The
    lines come at a few slopes: the pixels are counted along each slope once."""
    levels = 2 * reach + 3
    counts = np.zeros((len(lines), levels), np.int64)
    fraction = lines[0, 0] - np.floor(lines[0, 0])  # The same for every line's rho.
    for theta in np.unique(lines[:, 1]):
        chosen = np.flatnonzero(lines[:, 1] == theta)
        at = np.floor(columns * np.cos(theta) + rows * np.sin(theta) - fraction + 0.5).astype(int)
        lowest = at.min() - levels if len(at) else 0
        histogram = np.bincount(at - lowest, minlength=1)
        starts = np.floor(lines[chosen, 0]).astype(int) - reach - 1 - lowest
        indices = starts[:, None] + np.arange(levels)
        inside = (indices >= 0) & (indices < len(histogram))
        counts[chosen] = np.where(inside, histogram[np.clip(indices, 0, len(histogram) - 1)], 0)
    return counts


def _bands(counts, reach, least):
    """Each line's band (first, last offset) from the counts of its ink in the end strips at
    each offset across it (_strip_counts): the offsets next to its strongest with at least
    0.3 of that ink, out to reach on each side. A line whose strips hold less than least of
    its ink gets a band too wide for any line."""
    centre = reach + 1
    strongest = counts[:, centre - 1 : centre + 2].max(axis=1)
    floor = 0.3 * strongest[:, None]
    steps = np.arange(1, reach + 1)
    below = np.cumprod(counts[:, centre - steps] >= floor, axis=1).sum(axis=1)
    above = np.cumprod(counts[:, centre + steps] >= floor, axis=1).sum(axis=1)
    bands = np.stack([-below, above], axis=1)
    bands[strongest < least] = (-reach - 1, reach + 1)
    return bands


def _image(shape, rows, columns):
    image = np.zeros(shape, bool)
    image[rows, columns] = True
    return image
