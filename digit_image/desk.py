"""The desk around a photographed sheet of paper, painted out as a continuation of the sheet.

A phone photo often shows the desk beyond the sheet's edge: a large region at the picture's
edge, clearly darker than the sheet, holding none of the strokes. Left alone, it can outvote
the ink when the background's brightness is judged, and it is larger and as dark as any
stroke. It is found at a quarter of the resolution, its outline traced at full resolution,
and it is filled in from the sheet around it (OpenCV's inpainting).
"""

import cv2
import numpy as np

from .lighting import SMALL_IMAGE, as_bytes, otsu
from .marks import along_edge, clear_of_edges, dilate, erode, label_marks, mask_of, square

DESK_STROKE = 0.1  # Strokes up to this fraction of the picture wide (markers) are erased;
DESK_MIN_STROKES = 0.002  # the sheet holds strokes on at least this share of the pixels;
DESK_CONTRAST = 0.15  # the desk is at least this much darker than the sheet,
DESK_SHEET = 0.4  # the sheet, in one piece, fills at least this fraction of the picture,
DESK_AREA = 0.03  # and the desk at least this fraction, at the picture's edge,
DESK_SOLID = 0.08  # holding a square of this half-side there (wider than any stroke)
DESK_SIDE = 0.4  # or running along this fraction of a side of the picture,
DESK_INK = 0.05  # with at most this share of the strokes on it or next to it.
DESK_EDGE = 0.01  # The sheet's edge is blurred over this fraction of the picture.


def without_desk(gray):
    """The grey picture with the desk around a photographed sheet painted as the sheet's
    continuation; gray itself when no desk is found."""
    height, width = gray.shape
    if max(height, width) < SMALL_IMAGE:
        return gray
    small = cv2.resize(gray, (-(-width // 4), -(-height // 4)), interpolation=cv2.INTER_AREA)
    found = find_desk(small)
    if found is None:
        return gray
    desk, sheet, threshold = found

    def enlarged(values):
        return cv2.resize(values.astype(np.float32), (width, height),
                          interpolation=cv2.INTER_CUBIC)

    # Near the coarse outline the desk is what lies on its side of the threshold; then a
    # margin for the sheet's blurred edge.
    near, core = dilate(desk, 1), erode(desk, 1)
    full = ((enlarged(near) > 0.5) & (gray <= threshold)) | (enlarged(core) > 0.5)
    full = dilate(full, max(1, round(DESK_EDGE * max(height, width))))
    # Navier-Stokes: OpenCV 5's Telea method mangles float pictures.
    paint = enlarged(cv2.inpaint(sheet, near.view(np.uint8), 3, cv2.INPAINT_NS))
    return np.where(full, paint, gray).astype(np.float32)


def find_desk(small):
    """(desk mask, sheet grey without strokes, threshold) in a grey picture at a quarter of
    the resolution, or None.

    A grey closing and opening erase the strokes, and Otsu's threshold splits the rest into
    light and dark. The sheet is the light side, in one piece, and holds the strokes. The
    desk is the dark side's regions at the picture's edge that are no stroke: they hold a
    square wider than any stroke there, or run along a good part of the edge; and no stroke
    comes near them. (A dark "sheet" with light strokes is far more often a thick digit
    around a narrow hole than a slate on a wall, and is left alone.)
    """
    radius = max(1, round(DESK_STROKE * max(small.shape) / 2))
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, square(radius))
    sheet = cv2.morphologyEx(closed, cv2.MORPH_OPEN, square(radius))
    threshold = otsu(as_bytes(sheet))
    light = sheet > threshold
    if light[[0, -1]].all() and light[:, [0, -1]].all():
        return None  # The desk shows at the picture's edge; most pictures stop here.
    difference = np.abs(small - sheet)
    strokes = difference > max(DESK_CONTRAST, 0.35 * difference.max())
    if np.count_nonzero(strokes) < DESK_MIN_STROKES * strokes.size:
        return None
    # Marks at the picture's edge are no evidence: there the closing also fills the narrow
    # end of a desk showing beyond a tilted sheet.
    labels, marks = label_marks(strokes)
    strokes = mask_of(labels, clear_of_edges(marks, strokes.shape))
    if np.count_nonzero(strokes) < DESK_MIN_STROKES * strokes.size:
        return None
    if not light.any():
        return None
    if np.median(sheet[light]) - np.median(sheet[~light]) < DESK_CONTRAST:
        return None
    if np.count_nonzero(strokes[light]) < np.count_nonzero(strokes[~light]):
        return None
    if max(mark.area for mark in label_marks(light)[1]) < DESK_SHEET * light.size:
        return None
    labels, marks = label_marks(~light)
    side = round(DESK_SOLID * max(small.shape))
    solid = erode(~light, side)
    solid[side + 1 : -side - 1, side + 1 : -side - 1] = False  # only squares at the edge
    inside = {mark.label for mark in clear_of_edges(marks, light.shape)}
    desk = mask_of(labels, [
        mark for mark in marks if mark.label not in inside
        and (along_edge(mark, labels, DESK_SIDE) or solid[mark.box][mark.mask(labels)].any())
    ])
    # Strokes on the desk or at its edge mean the "desk" is part of the digit (a stroke too
    # thick for the closing) or a shadow across it.
    reach = dilate(desk, radius)
    if desk.mean() < DESK_AREA or np.count_nonzero(strokes[reach]) > DESK_INK * np.count_nonzero(strokes):
        return None
    return desk, sheet, threshold
