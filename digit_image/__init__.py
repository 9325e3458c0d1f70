"""Turns a photo, scan or drawing of handwritten digits into the 28x28 form of MNIST.

MNIST's digits were made by fitting each scanned digit into a 20x20 box, keeping its aspect
ratio and anti-aliasing, then placing it in a 28x28 field with its centre of mass at the
centre: a white digit on a black background. A picture from a user's phone or paint app is
brought into the same form by normalize() (segment() for several digits, line by line).
The steps, one module each, in the order they run:

    reading.py         the file, safely (regular files, raster formats only), upright, in grey
                       at WORK_SIZE; a transparent canvas through transparency.py
    desk.py            the desk around a photographed sheet, painted out
    lighting.py        which side is ink, and its contrast against the paper around it,
                       shadows and uneven light divided out
    ink.py             Otsu's cut, then the marks: specks and faint ghosts left out, the
                       paper's clutter taken out first: ruled_lines.py, boxes.py (both
                       through straight_lines.py); a form's rows of boxes (form_boxes.py),
                       whose digits are found anew without the form's print
    edges.py           marks at the picture's edge: a shadow's border, the desk beyond a sheet
    rings.py           a ring drawn around the digits
    underlines.py      a line drawn under them; a printed rule apart from them (in ink.py)
    sheets.py          a sheet or note lying on a darker desk, taken for ink, or lighter
                       than a desk whose grain was taken for ink: read alone,
                       squared to the camera
    grouping.py        (segment) marks into lines of writing and digits, touching ones cut
    layout.py          MNIST's 20x20 box and centre of mass in 28x28

Two more looks, as a person would take them (find_digits): a picture whose thin strokes
faded when shrunk is read again finer, at up to FINE_SIZE; digits written small on a large
page, and a sheet taken for ink, are read again closer, from the picture at up to ZOOM_SIZE.
What they find is no digit when it is too faint to be ink, an empty box (boxes.py; inside
a box that seems empty, writing much fainter than the box is looked for again), a stroke
with a dot beyond its end (dots.py: i, j, !, ?), round blots alone (a binder's holes), a
ring alone as exact as a tool or a cup's rim makes it (rings.py: a compass's circle), or an
arrow (arrows.py: a straight shaft with a head at one end); solid blocks apart from the
writing (an app's colour swatches) are left out.

OpenCV does the image processing; Pillow decodes the files. Both load in a fraction of a
second; nothing here imports TensorFlow.
"""

import dataclasses
import functools

import cv2
import numpy as np

from .arrows import arrow
from .boxes import box_inside, box_sides, empty_box
from .desk import without_desk
from .dots import blots, dotted, without_blocks
from .edges import beyond_shadow_edges, without_edge_marks
from .errors import ImageError, NoDigit, NoInk, NotAPicture, OutOfMemory
from .form_pages import (PAGE_SIZE, field_height, looks_like_a_form, only_print_beside,
                         page_fields, writing_in, written)
from .grouping import (digits_of, lines_of_writing, pieces_joined, split_touching,
                       typical_height)
from .ink import FAINT_INK, darkness
from .ink import find_ink as _find_ink
from .layout import as_laid_out, to_mnist
from .lighting import Contrast, contrast_of, contrast_within, ink_bright
from .marks import Mark, box_of, dilate, mask_of
from .reading import (HEIF_SUFFIXES, SVG_SUFFIXES, WORK_SIZE, grey, open_picture,
                      picture_suffixes, region, thumbnail)
from .rings import cut_touching_ring, round_ring, without_rings
from .ruled_lines import ruled_lines
from .sheets import flattened, paper_of, sheet_of
from .underlines import without_sheet_edges, without_underlines

__all__ = ["Contrast", "Found", "HEIF_SUFFIXES", "ImageError", "Mark", "NoDigit", "NoInk",
           "NotAPicture", "OutOfMemory", "SVG_SUFFIXES",
           "WORK_SIZE", "box_of", "box_sides", "find_digits", "find_ink", "ink_contrast",
           "normalize", "picture_suffixes", "read_grayscale", "ruled_lines", "segment",
           "thumbnail", "to_mnist"]

FINE_PEAK = 0.25  # Thin ink (strokes a few pixels wide) fainter than this at WORK_SIZE,
FINE_SHARE = 0.4  # ...yet at least this share of the contrast of all the ink (not a marker),
FINE_SIZE = 1024  # ...is looked for again in the whole picture at up to this size, and kept
FINE_GAIN = 1.5  # ...if it stands out there this many times more, and more than all ink did.
ZOOM_HEIGHT = 48  # Digits shorter than this in the WORK_SIZE picture are read again closer,
ZOOM_SIZE = 512  # ...from the picture at up to this size,
ZOOM_MARGIN = 1.0  # ...around them with a margin of this fraction of their height.

# The pictures here are at most FINE_SIZE pixels a side, where OpenCV's own threads cost more
# than they gain (labelling a 256x256 mask: 0.13 ms on one thread, 0.42 ms on two); callers
# that read many pictures run them side by side instead, as predict.py does.
cv2.setNumThreads(1)


# Shapes no digit has, each told from the marks (labels, marks), and what the answer says.
NO_DIGIT_SHAPES = (
    (empty_box, "an empty box (a form's field, a frame, a square)"),
    (dotted, "a stroke with a dot beyond its end, as in i, j, ! or ?"),
    (blots, "round blots, not strokes (a ring binder's holes, dots of paint)"),
    (round_ring, "a ring as exact as a compass, a stencil or a cup's rim makes it, not a "
                 "written 0"),
    (arrow, "an arrow (a straight stroke with a head at one end)"),
)


@dataclasses.dataclass(frozen=True)
class Found:
    """The digits' marks in a picture: ink (float32, 0..1), labels (the marks' label image),
    marks (the Marks of the digits), darkness (how much darker than their paper they are at
    their darkest tenth, 0..1), and view, which reading of the picture they are in:
    "whole" (at WORK_SIZE), "finer" (the whole picture at up to FINE_SIZE, for thin strokes),
    "closer" (small writing), "sheet" (a sheet or note, squared to the camera), "form" (the
    writing in a form page's fields, form_pages.py) or "as given" (a picture already laid
    out as MNIST, given: as_one() is that picture itself)."""

    ink: np.ndarray
    labels: np.ndarray
    marks: list
    darkness: float
    view: str = "whole"
    given: np.ndarray | None = None

    def mask(self, marks=None):
        """The pixels of the given marks (all of the digits' by default)."""
        return mask_of(self.labels, self.marks if marks is None else marks)

    def as_one(self):
        """All the marks as one digit, as MNIST would show it: uint8 (28, 28)."""
        return self._one

    @functools.cached_property
    def _one(self):
        # Laid out once: a picture of one digit is also its only line's only digit.
        return self.given if self.given is not None else to_mnist(self.ink, self.mask())

    def lines(self):
        """The marks as lines of writing, top to bottom, each a list of its digits, left to
        right, as MNIST would show them (grouping.py)."""
        lines = []
        for line in lines_of_writing(self.marks, self.labels):
            digits = digits_of(line)
            height = typical_height(digits)
            images = []
            for digit in digits:
                mask = self.mask(digit)
                parts = split_touching(mask, height)
                if len(parts) == 1 and len(digit) == len(self.marks):
                    images.append(self.as_one())  # every mark, uncut: the same picture
                    continue
                for columns in parts:
                    part = np.zeros_like(mask)
                    part[:, columns] = mask[:, columns]
                    images.append(to_mnist(self.ink, part))
            lines.append(images)
        return lines


def normalize(source):
    """The picture's digit as MNIST would show it: uint8 (28, 28), white on black.

    source is a path or a PIL image (left as it was). Raises ImageError for unreadable files,
    NoInk for pictures without ink, and NoDigit (a NoInk) for ink of a shape no digit has.
    """
    return find_digits(source).as_one()


def segment(source):
    """The digits of a picture such as "2024", line by line: a list of lines, top to bottom,
    each a list of its digits, left to right, as normalize() lays them out."""
    return find_digits(source).lines()


def find_digits(source):
    """The marks of the digits in a picture (a Found), looking again where a person would
    (_look), the pieces of a stroke broken apart joined (grouping.pieces_joined); marks
    fainter than FAINT_INK where they are read are no ink, and an empty box
    (boxes.py), a stroke with a dot beyond its end or round blots alone (dots.py), a ring
    as exact as a tool or a cup's rim makes it (rings.py), an arrow (arrows.py) no digit;
    solid blocks apart from the writing (dots.without_blocks) are left out.
    """
    found = _look(source)
    if found.given is None:
        labels, marks = pieces_joined(found.labels, found.marks, found.ink)
        found = dataclasses.replace(found, labels=labels, marks=marks)
    if found.darkness < FAINT_INK:
        raise NoInk("no ink found (only faint marks: a stain, a shadow, a fold)")
    for shape, reason in NO_DIGIT_SHAPES:
        if shape(found.labels, found.marks):
            raise NoDigit(f"no digit: {reason}")
    if found.given is None:
        # After the checks above, which count every mark (the dot of an i is such a block).
        found = dataclasses.replace(found, marks=without_blocks(found.marks, found.labels))
    return found


def _look(source):
    """The marks of the digits in a picture, looking again where a person would.

    A picture whose thin ink is faint once shrunk to WORK_SIZE is read whole at up to
    FINE_SIZE pixels a side, and its marks are found there if its ink stands out much more:
    a fine pen or a pencil on a large photo, whose strokes a few pixels wide had faded.
    Otherwise the marks are found anew in a region of the picture, read from it at up to
    ZOOM_SIZE pixels a side: the sheet, when the largest mark is a sheet of paper or a note
    lying on a darker desk (which made the paper look like ink); or the region around digits
    written small on a large page or photo (under ZOOM_HEIGHT pixels tall at WORK_SIZE),
    and then the sheet in it, when the closer look shows a small note taken for ink. A page
    of many small marks, at first or up close, is looked at whole for a form's fields
    (_form_page), whose writing alone is read.
    """
    picture = open_picture(source, WORK_SIZE)  # kept as decoded, for a closer look
    gray = grey(picture, WORK_SIZE)
    bright = ink_bright(without_desk(gray))
    contrast = contrast_of(bright)
    # Only a picture shrunk to WORK_SIZE can have strokes that faded in the shrinking.
    shrunk = max(gray.shape) == WORK_SIZE and max(picture.size) > WORK_SIZE
    thin_peak = contrast_of(bright, thin=True).peak if shrunk else 0
    finer_error = None
    if FINE_SHARE * contrast.peak <= thin_peak < FINE_PEAK:
        # Strokes thinner than a pixel fade in proportion to their width when the picture
        # shrinks, until they are paler than the paper's grain or break into specks; read
        # finer, they gain contrast, while ink that is simply pale does not.
        finer = region(source, picture, (0, 0, *gray.shape), gray.shape, FINE_SIZE, finer=True)
        if finer is not None:
            finer_contrast = ink_contrast(finer, thin=True)
            if finer_contrast.peak >= max(FINE_GAIN * thin_peak, contrast.peak):
                try:
                    return Found(*_marks_in(finer, finer_contrast), view="finer")
                except ImageError as error:  # Only specks of thin ink: the strokes are
                    finer_error = error  # wider, and read as they are.
    try:
        found = Found(*_marks_in(gray, contrast))
    except ImageError:
        if finer_error is None:
            raise
        raise finer_error from None  # What the finer look found says more: specks, not blank.
    given = as_laid_out(gray)
    if given is not None:
        return dataclasses.replace(found, view="as given", given=given)
    largest = max(found.marks, key=lambda mark: mark.area)
    tallest = max(mark.height for mark in found.marks)
    sheet, box, bare = sheet_of(largest, found.labels), box_of([largest]), False
    if sheet is None:
        box, sheet, bare = paper_of(gray, found.labels, found.marks) or (box, None, False)
    form_like = looks_like_a_form(found.labels, found.marks)
    if form_like:
        # A page of print, perhaps a form whose fields faded apart here, or wide boxes.
        form = _form_page(source, picture, gray, box, sheet)
        if form is not None:
            return form
    if sheet is not None:
        view = "sheet"
        closer = region(source, picture, box, gray.shape, ZOOM_SIZE, finer=False)
        if closer is not None:
            closer = flattened(closer, sheet)
    elif max(gray.shape) == WORK_SIZE and tallest < ZOOM_HEIGHT:
        view = "closer"
        # Room for a box or a ring drawn around a digit, so that the closer look takes it out too.
        margin = ZOOM_MARGIN * tallest
        top, left, bottom, right = box_of(found.marks)
        box = (top - margin, left - margin, bottom + margin, right + margin)
        closer = region(source, picture, box, gray.shape, ZOOM_SIZE, finer=True)
    else:
        return found
    if closer is None:
        return found
    seen = _unless_no_ink(_marks_in, closer)
    if seen is None:
        # What was taken for ink lay around a sheet with no mark on it at all: the desk. (A
        # mark found there and then left out, at the sheet's edge or in its shade, may be a
        # digit the squaring cut.)
        if bare and _unless_no_ink(_find_ink, ink_contrast(closer)) is None:
            raise NoInk("no ink found (a blank sheet: the marks were the desk around it)")
        return found
    seen = Found(*seen, view=view)
    if not form_like and looks_like_a_form(seen.labels, seen.marks):
        form = _form_page(source, picture, gray, box, sheet)  # the print seen only up close
        if form is not None:
            return form
    if view == "closer":
        # A small note on a large desk: its writing shows as holes in it only up close.
        largest = max(seen.marks, key=lambda mark: mark.area)
        sheet = sheet_of(largest, seen.labels)
        if sheet is not None:
            top, left, bottom, right = box_of([largest])
            on_sheet = _unless_no_ink(_marks_in, flattened(closer[top:bottom, left:right], sheet))
            if on_sheet is not None:
                return Found(*on_sheet, view="sheet")
    return seen


def _form_page(source, picture, gray, box, sheet):
    """The writing in a form page's fields (form_pages.py), the page read at PAGE_SIZE (the
    sheet alone, squared, when there is one: sheet, in box); None when the page has
    fewer than two fields, or when they are empty and more than print lies beside them.
    Raises NoDigit for a form whose fields are all empty, with print alone beside them."""
    if sheet is None:
        page = region(source, picture, (0, 0, *gray.shape), gray.shape, PAGE_SIZE, finer=True)
    else:
        page = region(source, picture, box, gray.shape, PAGE_SIZE, finer=True)
        page = None if page is None else flattened(page, sheet)
    if page is None:
        return None
    fields, lines = page_fields(ink_contrast(page, thin=True))
    if len(fields) < 2:
        return None
    contrast = ink_contrast(page)
    try:
        (top, left, bottom, right), inside = writing_in(contrast, fields, lines)
    except NoInk:
        if only_print_beside(contrast, fields, lines):
            raise NoDigit("no digit: the form's boxes are empty") from None
        return None  # writing beside the fields, or in one not found: read as before
    crop = None
    if sheet is None:
        # The writing read again from the picture as decoded, as finely as it holds it.
        scale_y, scale_x = gray.shape[0] / page.shape[0], gray.shape[1] / page.shape[1]
        crop = region(source, picture, (top * scale_y, left * scale_x, bottom * scale_y,
                                        right * scale_x), gray.shape, ZOOM_SIZE, finer=False)
    if crop is None:
        crop = page[top:bottom, left:right]
    inside = cv2.resize(inside[top:bottom, left:right].view(np.uint8), crop.shape[::-1],
                        interpolation=cv2.INTER_NEAREST).view(bool)
    height = field_height(fields) * crop.shape[0] / (bottom - top)
    seen = _unless_no_ink(written, ink_contrast(crop), inside, height)
    return None if seen is None else Found(*seen, view="form")


def _unless_no_ink(look, *args, **kwargs):
    """What look(*args, **kwargs) finds, or None where it finds no ink, so that another look
    is taken. A shape no digit has (NoDigit, though a NoInk) is an answer, and is raised."""
    try:
        return look(*args, **kwargs)
    except NoDigit:
        raise
    except NoInk:
        return None


def _marks_in(gray, contrast=None):
    """(ink, labels, marks) of the digits in a grey picture: the ink, then the marks that
    belong to no digit left out: at the edge, a ring drawn around the digits, a line under,
    the edge of a sheet lying in the picture."""
    contrast = ink_contrast(gray) if contrast is None else contrast
    ink, labels, marks = _find_ink(contrast)
    rest = beyond_shadow_edges(contrast, labels, marks)
    if rest is not None:
        beyond = _unless_no_ink(_find_ink, rest)
        if beyond is None:
            raise NoInk("no ink found (only the edge of a shadow, the desk or the page)")
        (ink, labels, marks), contrast = beyond, rest
    kept = without_edge_marks(ink, labels, marks)
    if kept and max(marks, key=lambda mark: mark.area) not in kept:
        # The largest mark, which specks and ghosts were measured against, was the desk or a
        # wall at the edge: the rest is measured again without the marks at the edge.
        # (Their soft rim, a pixel or two beyond the cut, goes with them.)
        edge = dilate(mask_of(labels, [mark for mark in marks if mark not in kept]), 2)
        without_edge = _unless_no_ink(_find_ink, contrast, without=edge)
        if without_edge is not None:
            ink, labels, marks = without_edge
            kept = without_edge_marks(ink, labels, marks)
    marks = without_sheet_edges(without_underlines(without_rings(kept, labels)), labels)
    labels, marks = cut_touching_ring(labels, marks)
    inside = box_inside(labels, marks)
    if inside is not None:
        # A dark box (a printed field) around writing much fainter than it (pencil) made the
        # writing look like ghosts or specks of it: the inside is read again, alone.
        try:
            ink, labels, marks = _find_ink(contrast_within(contrast, inside), forms=False)
        except NoInk:
            pass  # Nothing inside: an empty box, which find_digits answers as no digit.
    return ink, labels, marks, darkness(contrast, labels, marks)


def read_grayscale(source):
    """A picture as float32 grey levels in 0..1, at most WORK_SIZE pixels a side. Either
    polarity may come back: dark ink on paper, or ink on a transparent canvas returned as
    bright ink (its opacity) on black."""
    return grey(open_picture(source, WORK_SIZE), WORK_SIZE)


def ink_contrast(gray, thin=False):
    """The Contrast of a grey picture of any polarity, the desk around a sheet painted out.
    thin: the strokes are known to be a few pixels wide, so that everything wider (the
    paper's blotches and grain, as well as lighting and shadows) is background."""
    return contrast_of(ink_bright(without_desk(gray)), thin)


def find_ink(gray, contrast=None):
    """(ink, labels, marks) of a grey picture of any polarity (contrast: its ink_contrast(),
    if the caller has it); see ink.find_ink."""
    return _find_ink(ink_contrast(gray) if contrast is None else contrast)
