"""Marks at the picture's edge that are not the digit: the border of a shadow, the desk
beyond the sheet, a corner of it."""

import numpy as np

from .ink import MIN_CONTRAST
from .lighting import contrast_within
from .marks import (along_edge, clear_of_edges, dilate, edge_contact, mask_of,
                    reached_from_edge, stroke_width)
from .sheets import sheet_of

EDGE_SIDE = 0.4  # A mark running along this fraction of a side of the picture is at its edge.
EDGE_DIGIT_SIZE = 0.15  # Beside a digit this large (of the picture), a mark along an edge goes,
EDGE_CONTACT = 0.5  # ...as does one covering this share of the digit's size of a side's pixels
EDGE_WEAKER = 0.9  # ...with its ink's median under this share of the digit's (desk, not pen).
EDGE_FLUSH = 0.9  # A wedge of the desk lies along the edge over this share of its length,
EDGE_TAPER = 0.75  # ...fills at most this share of its box, and EDGE_FLUSH of its pixels
                   # are reached straight in from the edge (a digit's strokes turn away).
EDGE_ACROSS = 0.9  # Wedges all shorter than this share of the picture's sides,
EDGE_WEDGE = 0.1  # ...and longer than this share, are no digit.
EDGE_BAND = 0.015  # A lone band flush along EDGE_FLUSH of a side, this thin for the picture,
                   # is its border.
EDGE_SOLID = 0.5  # A solid mark at the edge, filling this much of its box, with strokes
EDGE_STROKE = 2  # ...this many times wider than the digit's, is the desk, not the digit.
SHADE_MARGIN = 3  # A shadow's soft border spans this many pixels beyond its threshold.
EDGE_INK = 0.5  # Marks along the edge of bare paper this dark are ink, not a shadow's edge.


def beyond_shadow_edges(contrast, labels, marks):
    """When every mark runs along the picture's edge, the Contrast with them taken out: the
    border of a shadow or of the desk, whose contrast set the threshold that left a fainter
    digit out (or a page with nothing on it). None when the marks are not all at the edge,
    or when they are a digit drawn or cropped up to it: the rest is bare paper, too even to
    hide anything, and they are as dark as ink (a 7's bar along the top of a canvas). Wedges
    of the desk (only_desk_wedges) and a lone band along a side (border_band) are taken out
    however dark."""
    if clear_of_edges(marks, labels.shape):
        return None
    wedges = only_desk_wedges(labels, marks) or (len(marks) == 1 and border_band(marks[0], labels))
    if not wedges and not all(along_edge(mark, labels, EDGE_SIDE) and sheet_of(mark, labels) is None
                              for mark in marks):
        return None
    shade = dilate(mask_of(labels, marks), SHADE_MARGIN)
    rest = contrast_within(contrast, ~shade)
    if rest.peak < MIN_CONTRAST and contrast.peak >= EDGE_INK and not wedges:
        return None
    return rest


def desk_wedge(mark, labels):
    """Whether a mark is a wedge of the desk past a tilted sheet, or a shadow's corner: it
    lies along the picture's edge over all its length and tapers, solid from the edge in
    (EDGE_FLUSH, EDGE_TAPER). A digit reaching the edge (a 7's bar along it) turns away
    from it, and a stroke cut lengthwise by the crop keeps its width."""
    return (edge_contact(mark, labels) >= EDGE_FLUSH * max(mark.height, mark.width)
            and mark.area <= EDGE_TAPER * mark.height * mark.width
            and reached_from_edge(mark, labels) >= EDGE_FLUSH * mark.area)


def border_band(mark, labels):
    """Whether a mark is a thin band flush along a whole side of the picture (EDGE_FLUSH of
    it, EDGE_BAND of the picture thick): the dark edge of a scanner's lid, the border of a
    page. A 1 drawn or cropped that close to the edge is wider for the picture, and the 1s
    of a number cropped to its box are more than one mark."""
    height, width = labels.shape
    if mark.height >= EDGE_FLUSH * height and mark.width <= EDGE_BAND * width:
        side = height
    elif mark.width >= EDGE_FLUSH * width and mark.height <= EDGE_BAND * height:
        side = width
    else:
        return False
    return edge_contact(mark, labels) >= EDGE_FLUSH * side


def only_desk_wedges(labels, marks):
    """Whether every mark is a desk wedge (desk_wedge) reaching less than EDGE_ACROSS of the
    picture's height and width, but not a speck (EDGE_WEDGE): a blank sheet photographed
    askew. A digit cropped to its own box reaches across the picture; the pieces of a faint
    one cut by the edge are small."""
    height, width = labels.shape
    return bool(marks) and all(
        desk_wedge(mark, labels)
        and EDGE_WEDGE <= max(mark.height / height, mark.width / width) < EDGE_ACROSS
        for mark in marks)


def without_edge_marks(ink, labels, marks):
    """The marks without those at the picture's edge apart from the digit (a shadow's
    border, the table).

    The digit is the largest mark clear of the edges (with the others about as large, the
    digits of a number). A mark touching an edge stays when it comes within a quarter of the
    digit's size of one of them (a detached stroke), or when it is larger and its ink as
    strong (the digit itself, cropped tightly), unless it is a solid wedge with strokes far
    wider than the digit's (a corner of the desk); what a shadow leaves behind after the
    lighting is evened out is fainter than ink. But a mark running along an edge, beside a
    digit of a size to be one, is a sliver of the desk or of the sheet's edge, and goes,
    even when near: along EDGE_SIDE of the picture's side; along EDGE_CONTACT of the
    digit's size when its ink is fainter than the digit's (a 1 or a 7's bar of a number
    cropped tightly may run along an edge as far, but in the same ink); or as far, a wedge
    of the desk past a tilted sheet (desk_wedge; a 1 cut lengthwise by the crop keeps its
    width, unless the cut slants along it).
    """
    inside = clear_of_edges(marks, labels.shape)
    if not inside:
        return marks
    inside_labels = {mark.label for mark in inside}  # A page may hold thousands of marks.
    digit = max(inside, key=lambda mark: mark.area)
    size = max(digit.height, digit.width)
    reach = size // 4
    real_digit = size >= EDGE_DIGIT_SIZE * max(labels.shape)
    # The digits of a number are the inside marks about as large as the largest.
    digits = [mark for mark in inside if max(mark.height, mark.width) >= size / 2]

    def strength(mark):
        return np.median(ink[mark.box][mark.mask(labels)])

    def keep(mark):
        if mark.label in inside_labels:
            return True
        if real_digit and (along_edge(mark, labels, EDGE_SIDE)
                           or (edge_contact(mark, labels) >= EDGE_CONTACT * size
                               and (strength(mark) < EDGE_WEAKER * strength(digit)
                                    or desk_wedge(mark, labels)))):
            # The edge of the sheet, or the desk beyond it, paler than the pen or tapering:
            # a digit cut by the edge (a 1, a 7's bar) may run along it as far, but in the
            # digits' ink and its pen's width.
            return False
        near = any(mark.left < other.right + reach and mark.right > other.left - reach
                   and mark.top < other.bottom + reach and mark.bottom > other.top - reach
                   for other in digits)
        if near:
            return True
        if mark.area < digit.area or strength(mark) < EDGE_WEAKER * strength(digit):
            return False
        # A digit cropped by the edge is drawn with the digits' pen; a corner of the desk,
        # as dark, is a solid wedge, far wider than their strokes.
        return not (mark.area >= EDGE_SOLID * mark.height * mark.width
                    and stroke_width(mark.mask(labels))
                    > EDGE_STROKE * stroke_width(digit.mask(labels)))

    return [mark for mark in marks if keep(mark)]
