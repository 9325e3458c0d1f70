"""A sheet or a note taken for ink: paper lying on a darker desk, with the writing as holes;
or a sheet lighter than a desk whose grain or clutter was taken for ink (paper_of).

When the largest mark is such a sheet, the digit is on it: the sheet is read again alone,
from the picture at a finer scale, turned square to the camera (OpenCV's perspective warp),
so that the desk around it and the trapezoid of a sheet seen from an angle are gone.
"""

import cv2
import numpy as np

from .lighting import SMALL_IMAGE, as_bytes, otsu
from .marks import (box_of, clear_of_edges, convex_outline, corners, dilate, erode, label_marks,
                    mask_of, rectangle_sides, square, stroke_width)
from .transparency import rectangle_area

SHEET_SIZE = 0.02  # A sheet or note covers at least this fraction of the picture,
SHEET_FILL = 0.9  # ...fills this much of a rectangle around it at some angle (holes filled),
SHEET_SLANTED = 0.82  # ...or, seen from an angle (a trapezoid), less (the first checks: this,
                      # less the writing),
SHEET_STRAIGHT = 1.03  # ...with four straight sides: at most this much of their polygon
SHEET_SOLID = 0.8  # ...and at least this much of it (paper lit unevenly is patchy ink),
SHEET_WRITING = 0.3  # ...and its holes, the writing, are at most this share of it,
SHEET_STROKE = 0.25  # ...strokes at most this wide for their extent.
SHEET_BLANK = 2  # A sheet with no writing showing is at most this many times as long as wide,
SHEET_BLANK_SOLID = 0.95  # ...and fills this much of its four sides' polygon.
PAPER_STROKE = 0.05  # Paper lighter than the desk is sought with strokes this wide erased;
PAPER_SIZE = 0.15  # ...it covers this share of the picture at least,
PAPER_SIDES = 2  # ...touches at most this many of the picture's sides,
PAPER_CONTRAST = 0.22  # ...is this much lighter than the desk,
PAPER_STEP = 0.15  # ...its outline a step of this share of that from one pixel to the next
PAPER_STEPS = (50, 30)  # ...at this percentile of its outline; touching two sides, this one.
PAPER_DESK = 0.25  # It is read alone when at least this share of the ink was found on the desk,
PAPER_INK = 0.25  # ...covering at most this share of it (more: a digit's strokes, cropped close);
PAPER_BARE = 0.9  # ...or more, when this share of the ink is on the desk and the paper is the
                  # light side's one region (the paper between a digit's strokes cropped close
                  # has other pieces, in the digit's corners and loops);
PAPER_TAKEN = 0.15  # ...or when the ink found, all on it, is this share of it or more: its
                    # lit part, since writing covers a few hundredths of a sheet (then the
                    # paper is at most SHEET_BLANK times as long as wide, where a bold bright 1
                    # on black, the "paper" its own shape, is longer).
PAPER_CONVEX = 0.95  # Not a quadrilateral (a corner cut off), it fills this much of its hull
PAPER_STRAIGHT = 1.06  # ...and at most this much more than the polygon of its 4-5 sides.
SHEET_INSET = 0.01  # The sheet is read this fraction of its size inside its outline.


def sheet_of(mark, labels):
    """The sheet, as a mask within mark's box, when a mark is a sheet of paper or a note
    lying on a darker desk, taken for ink; else None. A sheet is a rectangle (at any angle)
    or a quadrilateral once its holes are filled, and the holes, the writing on it, are a
    small part of it and thin strokes rather than the open middle of a thick digit."""
    # A rectangle fills at least half of its upright box, and the writing takes at most
    # SHEET_WRITING of it: most digits' strokes fill less, and are answered here.
    box = mark.height * mark.width
    if (mark.area < SHEET_SIZE * labels.size
            or mark.area < SHEET_SLANTED * (1 - SHEET_WRITING) / 2 * box):
        return None
    window = mark.mask(labels)
    # With its holes, the writing, filled in, a sheet fills most of its rectangle: the mark
    # alone fills at least (1 - SHEET_WRITING) of that, where a digit's strokes fill less.
    if mark.area < SHEET_SLANTED * (1 - SHEET_WRITING) * rectangle_area(window):
        return None
    hole_labels, holes = _holes(window)
    if not holes:
        # Writing too thin or faint to show at this size leaves no hole: a sheet, not a
        # stroke or a blot of a digit, when it is about as wide as tall and solid.
        if max(mark.height, mark.width) > SHEET_BLANK * min(mark.height, mark.width):
            return None
        filled, solid = window, SHEET_BLANK_SOLID
    else:
        solid = SHEET_SOLID
        writing = mask_of(hole_labels, holes)
        filled = window | writing
        if np.count_nonzero(writing) > SHEET_WRITING * np.count_nonzero(filled):
            return None
        # The strokes are the holes' pixels that are background here (the ink on the
        # sheet), not the paper inside a digit's loops, which is marked as the sheet is.
        strokes = writing & (labels[mark.box] == 0)
        top, left, bottom, right = box_of(holes)
        if stroke_width(strokes) > SHEET_STROKE * max(bottom - top, right - left):
            return None
    area = np.count_nonzero(filled)
    if area >= SHEET_FILL * rectangle_area(filled):
        return filled
    # Seen from an angle, a sheet is a trapezoid: it fills less of its rectangle, but its
    # sides stay straight, where a thick digit's loops, filled, bulge. Lit unevenly, the
    # paper taken for ink can leave out a patch along a side: its four sides still show.
    corners = quadrilateral(filled)
    if corners is not None and area >= solid * _polygon_area(corners):
        return filled
    return None


def paper_of(gray, labels, marks):
    """(its box, the sheet as a mask within it, bare) when a sheet of paper lighter than the
    desk lies in the picture and much of the ink (the marks found) lies beyond it, the desk's
    grain or clutter read as ink (bare: all but all of it); or when the ink is the sheet's
    lit part (_lit_part); else None. The paper is the light side of Otsu's cut once strokes
    are erased, in one piece with the desk on two sides at least (a sheet running out past a
    corner of the picture, or past its top and bottom), four straight sides and a sharp
    outline."""
    if max(gray.shape) < SMALL_IMAGE:
        return None
    # Most pictures are paper up to their edges: a quarter of the resolution, with a margin
    # for its coarser outline, says so.
    height, width = gray.shape
    small = cv2.resize(gray, (-(-width // 4), -(-height // 4)), interpolation=cv2.INTER_AREA)
    if _light_region(small, PAPER_SIDES + 1, PAPER_SIZE / 2) is None:
        return None
    region = _light_region(gray)  # at full resolution, as the ink was found
    if region is None:
        return None
    smooth, light, largest = region
    paper = light == largest.label
    alone = largest.area == np.count_nonzero(light)
    hole_labels, holes = _holes(paper)
    paper |= mask_of(hole_labels, holes)
    ink = mask_of(labels, marks)  # only now: most pictures never get this far
    beyond = np.count_nonzero(ink & ~paper)
    inked = np.count_nonzero(ink)
    all_on_desk = alone and beyond >= PAPER_BARE * inked
    on_desk = all_on_desk or PAPER_DESK * inked <= beyond <= PAPER_INK * np.count_nonzero(~paper)
    if not on_desk and not _lit_part(ink, paper, beyond):
        return None
    contrast = np.median(smooth[paper]) - np.median(smooth[~paper])
    if contrast < PAPER_CONTRAST:
        return None
    touched = _sides_touched(largest, gray.shape)
    if touched > 1 and not _holding_writing(paper, marks, gray.shape):
        return None
    # A sheet's outline is a step, where the edge of a shadow or of the light on a sheet is
    # a ramp: the grey changes by a good part of the contrast from one pixel to the next.
    # Where the light region touches two sides, a ramp (light falling off) may close it on
    # one, a hard shadow's step on the other: most of the outline must be a step.
    slope = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)) / 8
    outline = paper & ~erode(paper, 1)
    outline[[0, -1]] = outline[:, [0, -1]] = False
    steep = PAPER_STEPS[touched > 1]
    if not outline.any() or np.percentile(dilate(slope, 1)[outline], steep) < PAPER_STEP * contrast:
        return None
    window = paper[largest.box]
    if not _paper_shaped(window):
        return None
    # Bare when every mark is the desk, reaching from the picture's edge or from the sheet's
    # outline: a mark apart from both may be a digit on a part of the sheet in shadow.
    near = dilate(paper, 2)
    bare = all_on_desk and all((near[mark.box] & mark.mask(labels)).any()
                        for mark in clear_of_edges(marks, gray.shape))
    return box_of([largest]), window, bare


def _holding_writing(paper, marks, shape):
    """Whether paper reaching two of the picture's sides (a sheet running out past a corner,
    or longer than the photo) holds the writing: no mark away from it (beyond a stroke's
    erasing width of it) and clear of the picture's edges (a digit on the desk beside a
    white label) is taller than the tallest on it."""
    near = dilate(paper, round(PAPER_STROKE * max(shape)))
    on, off = [0], [0]
    for mark in marks:
        middle = (mark.top + mark.bottom) // 2, (mark.left + mark.right) // 2
        if paper[middle]:
            on.append(mark.height)
        elif not near[middle] and clear_of_edges([mark], shape):
            off.append(mark.height)
    return max(on) >= max(off)


def _lit_part(ink, paper, beyond):
    """Whether the ink (beyond of its pixels off the paper) is the lit part of a sheet on a
    darker desk, too patchy for sheet_of: it lies on the paper and covers PAPER_TAKEN of it,
    and the paper is at most SHEET_BLANK times as long as wide."""
    if beyond >= PAPER_DESK * np.count_nonzero(ink):
        return False
    if np.count_nonzero(ink & paper) < PAPER_TAKEN * np.count_nonzero(paper):
        return False
    long_side, short_side = rectangle_sides(paper)
    return long_side <= SHEET_BLANK * short_side


def _paper_shaped(mask):
    """Whether a light region has a sheet's shape: a quadrilateral (SHEET_SOLID of it at
    least); or, with a corner cut off by the picture's edge or a shadow, and rounded by the
    erasing of strokes, convex (PAPER_CONVEX of its hull) with four or five straight sides
    (within PAPER_STRAIGHT of their polygon), where a bold stroke's region bends."""
    area = np.count_nonzero(mask)
    hull = convex_outline(mask)
    sides = corners(hull).reshape(-1, 2).astype(np.float32)
    polygon = _polygon_area(sides)
    if len(sides) == 4 and SHEET_SOLID * polygon <= area <= SHEET_STRAIGHT * polygon:
        return True  # a quadrilateral()
    if not 4 <= len(sides) <= 5 or area < PAPER_CONVEX * cv2.contourArea(hull):
        return False
    return SHEET_SOLID * polygon <= area <= PAPER_STRAIGHT * polygon


def _holes(mask):
    """(labels, marks) of the holes in a mask: its background clear of the mask's edges."""
    if mask.all():
        return None, []
    hole_labels, holes = label_marks(~mask)
    return hole_labels, clear_of_edges(holes, mask.shape)


def _light_region(gray, sides=PAPER_SIDES, size=PAPER_SIZE):
    """(gray with strokes erased, the labels of its light side, the largest light mark) when
    that mark may be paper with the desk around it (touching at most sides of the picture's
    sides, covering size of it at least), else None."""
    radius = max(1, round(PAPER_STROKE * max(gray.shape) / 2))
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, square(radius))
    smooth = cv2.morphologyEx(closed, cv2.MORPH_OPEN, square(radius))
    light = smooth > otsu(as_bytes(smooth))
    if not light.any() or light.all():
        return None
    labels, marks = label_marks(light)
    largest = max(marks, key=lambda mark: mark.area)
    if _sides_touched(largest, light.shape) > sides or largest.area < size * light.size:
        return None
    return smooth, labels, largest


def _sides_touched(mark, shape):
    """How many of the picture's sides a mark reaches."""
    return ((mark.top == 0) + (mark.left == 0) + (mark.bottom == shape[0])
            + (mark.right == shape[1]))


def quadrilateral(mask):
    """The four corners (x, y; float32) of a mask with four straight sides, however it lies,
    or None: its convex outline simplified to four points (marks.corners), which the
    mask fills to within SHEET_STRAIGHT (a curved outline bulges past them: a disc by 1.11)."""
    hull_corners = corners(convex_outline(mask))
    if len(hull_corners) != 4:
        return None
    hull_corners = hull_corners.reshape(4, 2).astype(np.float32)
    if np.count_nonzero(mask) > SHEET_STRAIGHT * _polygon_area(hull_corners):
        return None
    return hull_corners


def _polygon_area(corners):
    """The pixels within a polygon through the outer pixels' centres: half a pixel of each
    side is outside it."""
    return cv2.contourArea(corners) + cv2.arcLength(corners, True) / 2 + 1


def flattened(gray, sheet):
    """The sheet alone, square to the camera: gray, a grey reading of the sheet's box at any
    scale, inside the outline of sheet (its mask, as sheet_of() gives it), warped onto an
    upright rectangle."""
    corners = quadrilateral(sheet)
    if corners is None:
        corners = cv2.boxPoints(cv2.minAreaRect(convex_outline(sheet)))
    scale = np.float32([gray.shape[1] / sheet.shape[1], gray.shape[0] / sheet.shape[0]])
    corners = (corners + 0.5) * scale - 0.5
    centre = corners.mean(axis=0)
    corners = _upright_order(centre + (corners - centre) * (1 - 2 * SHEET_INSET))
    width = max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3]))
    height = max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1]))
    size = (max(1, round(width)), max(1, round(height)))
    target = np.float32([(0, 0), (size[0] - 1, 0), (size[0] - 1, size[1] - 1), (0, size[1] - 1)])
    warp = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(gray, warp, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def _upright_order(corners):
    """The corners in the order top-left, top-right, bottom-right, bottom-left of the sheet
    turned by the smallest angle that makes it upright (a note turned by 70 degrees is read
    turned back by 20, not by 70: the writing on it follows its nearest side)."""
    centre = corners.mean(axis=0)
    corners = corners[np.argsort(np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0]))]
    # Clockwise on screen: the side that points most nearly to the right is the top.
    sides = np.roll(corners, -1, axis=0) - corners
    first = int(np.argmin(np.abs(np.arctan2(sides[:, 1], sides[:, 0]))))
    return np.roll(corners, -first, axis=0)
