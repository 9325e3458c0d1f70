"""Marks: the connected pieces of ink that every step sorts, and their measures.

A mark is one 8-connected component of an ink mask, labelled by OpenCV. Each step decides
from a mark's box, area and stroke width whether it is part of a digit or something else on
the paper, so these measures live here, shared.
"""

import dataclasses

import cv2
import numpy as np

from .errors import NoInk


CORNER_EPSILON = 0.02  # Outlines are simplified to within this share of their length.


@dataclasses.dataclass(frozen=True)
class Mark:
    """One connected mark of ink: its label in the label image, area and bounding box."""

    label: int
    area: int
    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self):
        return self.bottom - self.top

    @property
    def width(self):
        return self.right - self.left

    @property
    def box(self):
        """The bounding box as a pair of slices, to index an image of the picture's shape."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def mask(self, labels):
        """The mark's pixels within its box of the label image."""
        return labels[self.box] == self.label


def label_marks(mask):
    """The 8-connected marks of a boolean mask: (labels, a list of Mark).

    labels is an int32 image numbering the marks from 1 (0 is background). Raises ImageError
    when the mask is empty.
    """
    # Grana's block-based labelling; its statistics cost a third of the default's here.
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask.view(np.uint8), 8, cv2.CV_32S, cv2.CCL_GRANA)
    if count < 2:
        raise NoInk("no ink found (the picture looks blank)")
    marks = [Mark(label, area, top, left, top + height, left + width)
             for label, (left, top, width, height, area) in enumerate(stats[1:].tolist(), start=1)]
    return labels, marks


def mask_of(labels, marks):
    """The pixels of the given marks, as a boolean image of the picture's shape."""
    chosen = np.zeros(labels.max() + 1, bool)
    chosen[[mark.label for mark in marks]] = True
    return chosen[labels]


def without_specks(mask, size):
    """A boolean mask without its marks under size pixels both tall and wide (dust)."""
    if not mask.any():
        return mask
    labels, marks = label_marks(mask)
    return mask_of(labels, [mark for mark in marks if max(mark.height, mark.width) >= size])


def box_of(marks):
    """(top, left, bottom, right) around several marks."""
    return (min(mark.top for mark in marks), min(mark.left for mark in marks),
            max(mark.bottom for mark in marks), max(mark.right for mark in marks))


def clear_of_edges(marks, shape):
    """The marks that touch no edge of a picture of shape (height, width)."""
    height, width = shape
    return [mark for mark in marks
            if mark.top > 0 and mark.left > 0 and mark.bottom < height and mark.right < width]


def along_edge(mark, labels, share):
    """Whether a mark runs along at least share of one side of the picture."""
    height, width = labels.shape
    if max(mark.width / width, mark.height / height) < share:
        return False  # too short, which most marks are: no need to look at its pixels
    return any(np.count_nonzero(seen[0]) >= share * length
               for seen, length in _seen_from_sides(mark, labels))


def edge_contact(mark, labels):
    """How many pixels of one side of the picture a mark covers, on the side it covers most
    (0 for a mark clear of the edges)."""
    return max((np.count_nonzero(seen[0]) for seen, _ in _seen_from_sides(mark, labels)),
               default=0)


def reached_from_edge(mark, labels):
    """How many of a mark's pixels are reached from a side of the picture in a straight run
    of its ink, on the side from which most are (0 for a mark clear of the edges)."""
    return max((int(np.cumprod(seen, axis=0).sum()) for seen, _ in _seen_from_sides(mark, labels)),
               default=0)


def _seen_from_sides(mark, labels):
    """For each side of the picture a mark touches: its pixels as seen from that side (its
    mask turned so that the first row lies on the side and the columns run in from it), and
    the side's length."""
    height, width = labels.shape
    sides = [(mark.top == 0, lambda mask: mask, width),
             (mark.bottom == height, lambda mask: mask[::-1], width),
             (mark.left == 0, lambda mask: mask.T, height),
             (mark.right == width, lambda mask: mask[:, ::-1].T, height)]
    touched = [(turn, length) for touches, turn, length in sides if touches]
    if not touched:
        return []  # most marks: no need to look at their pixels
    mask = mark.mask(labels)
    return [(turn(mask), length) for turn, length in touched]


def rectangle_sides(mask):
    """(long, short): the sides of the smallest rectangle around a mask's pixels at any angle,
    each plus a pixel (a lone pixel is 1 by 1); None for an empty mask."""
    points = cv2.findNonZero(mask.view(np.uint8))
    if points is None:
        return None
    (_, _), (width, height), _ = cv2.minAreaRect(points)
    return max(width, height) + 1, min(width, height) + 1


def corners(contour):
    """A closed outline (an OpenCV contour) simplified to its corners: approxPolyDP to
    within CORNER_EPSILON of its length, where a curve keeps more corners than a polygon."""
    return cv2.approxPolyDP(contour, CORNER_EPSILON * cv2.arcLength(contour, True), True)


def outline_and_hole(mask):
    """(outline, hole): the outer contour of one mark (mask, a boolean image of it) and the
    contour of the largest background it closes around, both as OpenCV gives them; None
    when it closes around none. A box, a ring and a 0 are told apart by these two shapes."""
    contours, hierarchy = cv2.findContours(mask.view(np.uint8), cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_NONE)
    holes = [contour for contour, (*_, parent) in zip(contours, hierarchy[0]) if parent >= 0]
    if not holes:
        return None
    return max(contours, key=cv2.contourArea), max(holes, key=cv2.contourArea)


def convex_outline(mask):
    """The convex outline (an OpenCV contour) of a mask's pixels, from their outer contours:
    the hull of a shape is the hull of its edge."""
    contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return cv2.convexHull(np.concatenate(contours))


def stroke_width(mask):
    """Average stroke width in pixels: twice the area over the outline's length.

    The outline is counted in pixel edges, which overstates a slanted edge's length by 4/pi
    on average over directions; the factor corrects for that.
    """
    area = np.count_nonzero(mask)
    outline = np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    outline += 2 * (np.count_nonzero(mask[0]) + np.count_nonzero(mask[-1])
                    + np.count_nonzero(mask[:, 0]) + np.count_nonzero(mask[:, -1]))
    return 2 * area / max(outline, 1) * 4 / np.pi


def square(radius):
    """A square structuring element 2 * radius + 1 pixels wide, for OpenCV's morphology."""
    return cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))


def dilate(values, radius):
    """Grey-level dilation (a running maximum) by a square; outside the picture counts as
    nothing, so near the edges the window simply holds fewer pixels."""
    if radius < 1:
        return values
    boolean = values.dtype == bool
    grown = cv2.dilate(values.view(np.uint8) if boolean else values, square(radius))
    return grown.view(bool) if boolean else grown


def erode(values, radius):
    """Grey-level erosion (a running minimum) by a square, the counterpart of dilate()."""
    if radius < 1:
        return values
    boolean = values.dtype == bool
    shrunk = cv2.erode(values.view(np.uint8) if boolean else values, square(radius))
    return shrunk.view(bool) if boolean else shrunk
