"""Turns a photo, scan or drawing of handwritten digits into the 28x28 form of MNIST.

MNIST's digits were made by fitting each scanned digit into a 20x20 box, keeping its aspect
ratio and anti-aliasing, then placing it in a 28x28 field with its centre of mass at the
centre: a white digit on a black background. A picture from a user's phone or paint app has
to be brought into the same form before the model sees it, and every caller does that through
the one function normalize() (segment() for several digits in one picture, in lines):

1. read: first frame, EXIF orientation applied, transparency flattened, any mode to grey,
   shrunk to at most WORK_SIZE pixels a side (JPEGs are decoded at reduced size); a picture
   whose ink is faint there is read again at up to FINE_SIZE, and kept at that size if its
   ink stands out much more (the strokes of a fine pen or a pencil on a large photo, which
   faded in the shrinking);
2. find the ink: paint out the desk around a photographed sheet of paper (a large dark
   region at the picture's edge that holds no strokes); decide whether the background is
   light or dark (light paper all around a close crop, else three cues vote) and make the
   ink bright; a large-scale background estimate removes uneven lighting and shadows, and
   dividing by it normalizes the contrast (in a picture read finer for its thin strokes,
   everything wider than a few pixels is background); an Otsu threshold marks the ink, the
   lines of ruled or squared paper, a box drawn around the digit and a line drawn under it
   are taken out, and connected components tell the digit from specks, from marks at the
   picture's edge and from slivers of desk along it; then the marks are found again, the
   same way, in a region read from the picture at a finer scale: the sheet alone, when a
   sheet too small for the desk step (a note on a darker desk) was itself taken for the
   ink, or the region around digits written small on a large picture;
3. crop to the ink, thicken strokes much thinner than MNIST's, fit into 20x20, and place by
   centre of mass in 28x28, keeping the anti-aliased grey levels.

Only NumPy and Pillow are used (and the pillow-heif plugin for HEIC photos, loaded when one
comes), so this loads in a fraction of a second.
"""

import dataclasses
import itertools
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin

IMAGE_SIZE = 28
LUMA = np.float32([0.299, 0.587, 0.114])  # Grey from red, green and blue, as Pillow weighs them.
BOX_SIZE = 20  # MNIST fits each digit into 20x20 and pads it to 28x28.
CENTRE = 14.0  # Where MNIST's centres of mass lie (row, column), measured on its training set.

# Pictures are processed at no more than this many pixels a side: 20x20 is the goal, and a
# digit filling a tenth of this width still has 25 pixels to be read from.
WORK_SIZE = 256
OPENING_SIZE = 0.2  # Strokes narrower than this fraction of the picture are not background.
SMALL_IMAGE = 64  # Below this size a picture has no room for uneven lighting: one background.

MIN_CONTRAST = 0.12  # Ink must be at least 12% darker (or lighter) than its background.
MIN_DIGIT_SIZE = 0.03  # The largest mark must span 3% of the picture's longer side.
MIN_PIECE_AREA = 0.04  # Marks under 4% of the largest one's area are specks and are ignored.
GHOST = 0.5  # So are marks whose ink is under half as dark as the largest one's.
LINE_SPAN = 0.5  # A ruled line crosses at least this fraction of the picture...
LINE_MARGIN = 0.15  # ...runs this fraction of it past the other ink at both ends,
LINE_EDGE = 0.05  # ...comes this close to both edges (a stroke of the digit does not)
LINE_THICKNESS = 0.05  # ...and is no thicker than this (a marker's stroke is).
LINE_SLOPES = np.tan(np.radians(np.arange(-6, 6.1, 0.5)))  # Lines tilted up to 6 degrees.
FRAME_SIZE = 0.1  # A box drawn around the digit spans at least this fraction of the picture,
FRAME_HOLE = 0.6  # ...closes around background at least this fraction of it across,
FRAME_SIDE = 0.2  # ...has a line within this fraction of each side of its extent,
FRAME_SPAN = 0.8  # ...running along this fraction of that side at least,
FRAME_THICKNESS = 0.15  # ...no thicker than this fraction of the box,
FRAME_CONTENT = 0.35  # ...and a mark inside it at least this fraction of its height.
FRAME_SLOPES = np.tan(np.radians(np.arange(-15, 15.1, 1.5)))  # Boxes drawn by hand tilt further.

# The desk around a photographed sheet (_find_desk, at a quarter of the resolution):
DESK_STROKE = 0.1  # strokes up to this fraction of the picture wide (markers) are erased;
DESK_MIN_STROKES = 0.002  # the sheet holds strokes on at least this share of the pixels;
DESK_CONTRAST = 0.15  # the desk is at least this much darker than the sheet,
DESK_SHEET = 0.4  # the sheet, in one piece, fills at least this fraction of the picture,
DESK_AREA = 0.03  # and the desk at least this fraction, at the picture's edge,
DESK_SOLID = 0.08  # holding a square of this half-side there (wider than any stroke)
DESK_SIDE = 0.4  # or running along this fraction of a side of the picture,
DESK_INK = 0.05  # with at most this share of the strokes on it or next to it.
DESK_EDGE = 0.01  # The sheet's edge is blurred over this fraction of the picture.
EDGE_DIGIT_SIZE = 0.15  # Beside a digit this large (of the picture), a mark along an edge goes.
EDGE_SOLID = 0.5  # A solid mark at the edge, filling this much of its box, with strokes
EDGE_STROKE = 2  # ...this many times wider than the digit's, is the desk, not the digit.
RING_FILL = 0.4  # A ring drawn around the digits covers at most this much of its box.
UNDERLINE_FLATNESS = 0.25  # A line under the digits is at most this tall for its width,
UNDERLINE_GAP = 0.05  # ...lies apart below all other ink, lower by this fraction of its height,
UNDERLINE_SPAN = 0.5  # ...and runs under at least this fraction of its width.
ZOOM_HEIGHT = 48  # Digits shorter than this in the WORK_SIZE picture are read again closer,
ZOOM_SIZE = 512  # ...from the picture at up to this size,
ZOOM_MARGIN = 1.0  # ...around them with a margin of this fraction of their height.
FINE_PEAK = 0.25  # Thin ink (strokes a few pixels wide) fainter than this at WORK_SIZE,
FINE_SHARE = 0.4  # ...yet at least this share of the contrast of all the ink (not a marker),
FINE_SIZE = 1024  # ...is looked for again in the whole picture at up to this size, and kept
FINE_GAIN = 1.5  # ...if it stands out there this many times more, and more than all ink did.
FINE_OPENING = 0.01  # There the strokes are thin: anything wider than this is background.
ONE_COLOUR = 0.1  # Opaque pixels within this grey range (5th to 95th percentile) are ink.
CARD_FILL = 0.85  # On a transparent canvas, opaque pixels filling this much of a rectangle,
CARD_CONTRAST = 0.3  # ...light and dark by this much, the ink at most CARD_INK of them,
CARD_INK = 0.3  # ...are a card carrying the digit.
SHADE_MARGIN = 3  # A shadow's soft border spans this many pixels beyond its threshold.
PAPER_BORDER = 0.9  # A picture with this share of its border on the light side,
PAPER_SHARE = 0.4  # ...and this share of all of it, is light paper (whatever else says).
EDGE_INK = 0.5  # Marks along the edge of bare paper this dark are ink, not a shadow's edge.
LINE_GAP = 0.05  # Lines of digits lie at least this fraction of their height apart.
SHEET_SIZE = 0.02  # A sheet or note taken for ink covers at least this fraction of the picture,
SHEET_FILL = 0.9  # ...fills this much of a rectangle around it (its holes filled),
SHEET_SLANTED = 0.82  # ...or, seen from an angle (a trapezoid), this much
SHEET_STRAIGHT = 1.03  # ...with straight sides: at most this much of its outline polygon,
SHEET_WRITING = 0.3  # ...and its holes, the writing, are at most this share of it,
SHEET_STROKE = 0.25  # ...strokes at most this wide for their extent.

# Strokes thinner than this in the 20-pixel box are thickened to it; MNIST's median width,
# measured the same way, is 2.1 pixels.
STROKE_WIDTH = 2.0

SVG_SUFFIXES = (".svg", ".svgz")
# iPhones save photos as HEIF (.heic) by default, which Pillow reads only with the
# pillow-heif plugin. It is loaded on the first such picture, since it adds 0.05 s to start-up.
HEIF_SUFFIXES = (".heic", ".heif", ".hif")
HEIF_BRANDS = {b"ftyp" + brand for brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")}


class ImageError(ValueError):
    """A picture that cannot be answered; the message is one line for the user."""


def normalize(source):
    """Returns the picture's digit as MNIST would show it: uint8 (28, 28), white on black.

    source is a path or a PIL image. Raises ImageError for unreadable files and for pictures
    without ink.
    """
    ink, labels, pieces = _digit_marks(source)
    return to_mnist(ink, _mask_of(labels, pieces))


def segment(source):
    """Returns the digits of a picture such as "2024", line by line: a list of lines, top to
    bottom, each a list of its digits, left to right, as normalize() lays them out.

    Marks are grouped into lines by the rows they share, then into digits by horizontal
    overlap (the bar of a 5 drawn apart from its body, a broken stroke), and a group far
    wider than it is tall is cut where the least ink joins it, which separates two digits
    that touch.
    """
    ink, labels, pieces = _digit_marks(source)
    lines = []
    for line in group_into_lines(pieces, labels):
        groups = group_into_digits(line)
        height = np.median([_height(group) for group in groups])
        digits = []
        for group in groups:
            mask = _mask_of(labels, group)
            for columns in split_touching(mask, height):
                part = np.zeros_like(mask)
                part[:, columns] = mask[:, columns]
                digits.append(to_mnist(ink, part))
        lines.append(digits)
    return lines


def _digit_marks(source):
    """find_ink() on the picture, then the marks that belong to no digit left out: at the
    edge, a ring drawn around the digits, a line drawn under them.

    A picture whose thin ink is faint once shrunk to WORK_SIZE is read whole at up to
    FINE_SIZE pixels a side, and its marks are found there if its ink stands out much more:
    a fine pen or a pencil on a large photo, whose strokes a few pixels wide had faded.

    Otherwise, as a person would look again, the marks are found anew in a region of the
    picture, read from it at up to ZOOM_SIZE pixels a side: the sheet, when the largest mark
    is a sheet of paper or a note lying on a darker desk (which made the paper look like
    ink); or the region around digits written small on a large page or photo (under
    ZOOM_HEIGHT pixels tall in the picture shrunk to WORK_SIZE).
    """
    picture = _open(source, WORK_SIZE)  # kept as decoded, for a closer look
    gray = _work_grayscale(picture)
    bright = _ink_bright(gray)
    contrast = _contrast_of(bright)
    thin_peak = _contrast_of(bright, thin=True).peak
    finer_error = None
    if FINE_SHARE * contrast.peak <= thin_peak < FINE_PEAK:
        # Strokes thinner than a pixel fade in proportion to their width when the picture
        # shrinks, until they are paler than the paper's grain or break into specks; read
        # finer, they gain contrast, while ink that is simply pale does not.
        whole = (0, 0, *gray.shape)
        finer = _read_region(source, picture, whole, gray.shape, finer=True, size=FINE_SIZE)
        if finer is not None:
            finer_contrast = ink_contrast(finer, thin=True)
            if finer_contrast.peak >= max(FINE_GAIN * thin_peak, contrast.peak):
                try:
                    return _marks_in(finer, finer_contrast)
                except ImageError as error:  # Only specks of thin ink: the strokes are
                    finer_error = error  # wider, and read as they are.
    try:
        ink, labels, pieces = _marks_in(gray, contrast)
    except ImageError:
        if finer_error is None:
            raise
        raise finer_error from None  # What the finer look found says more: specks, not blank.
    largest = max(pieces, key=lambda piece: piece.area)
    tallest = max(piece.height for piece in pieces)
    sheet = _sheet_of(largest, labels)
    if sheet is not None:
        closer = _read_region(source, picture, _box([largest]), gray.shape, finer=False)
        if closer is not None:
            # The sheet alone: the desk showing around a tilted sheet, and the shadow at its
            # edge, take the paper's grey.
            inside = ~_grey_dilate((~sheet).astype(np.float32), 1).astype(bool)
            inside = np.asarray(Image.fromarray(inside).resize(closer.shape[::-1]))
            if inside.any():
                closer = np.where(inside, closer, np.median(closer[inside])).astype(np.float32)
    elif max(gray.shape) == WORK_SIZE and tallest < ZOOM_HEIGHT:
        # Room for a box or a ring drawn around a digit, so that the closer look takes it out too.
        margin = ZOOM_MARGIN * tallest
        top, left, bottom, right = _box(pieces)
        region = (top - margin, left - margin, bottom + margin, right + margin)
        closer = _read_region(source, picture, region, gray.shape, finer=True)
    else:
        return ink, labels, pieces
    if closer is None:
        return ink, labels, pieces
    try:
        return _marks_in(closer)
    except ImageError:
        return ink, labels, pieces


def _read_region(source, picture, region, shape, finer, size=ZOOM_SIZE):
    """The region (top, left, bottom, right in the pixels of the WORK_SIZE picture of shape)
    of the picture as decoded, in grey at up to size pixels a side: a JPEG decoded at a
    reduced scale is decoded again at the scale the region needs. None for a part of a
    canvas, whose ink is told from its background by the opacity of the whole; and, when
    finer, for a picture with too few pixels to show the region finer than the WORK_SIZE
    picture did."""
    height, width = shape
    top, left, bottom, right = region
    top, left = max(top, 0) / height, max(left, 0) / width
    bottom, right = min(bottom, height) / height, min(right, width) / width
    # A JPEG's reduced decoding gives between one and two times the pixels asked for.
    needed = size / 2 / max(bottom - top, right - left)
    if max(picture.size) < needed and not isinstance(source, Image.Image):
        picture = _open(source, int(needed))
    part = (top, left, bottom, right) != (0, 0, 1, 1)
    if (part and picture.has_transparency_data) or (
            finer and max(picture.size) < 1.5 * max(shape)):
        return None
    picture_width, picture_height = picture.size
    region = picture.crop((round(left * picture_width), round(top * picture_height),
                           round(right * picture_width), round(bottom * picture_height)))
    return _to_grayscale(region, size)


def _sheet_of(piece, labels):
    """The sheet, within piece's box, when a mark is a sheet of paper or a note lying on a
    darker desk, taken for ink; else None. A sheet is a rectangle (at any angle) once its
    holes are filled, and the holes, the writing on it, are a small part of it and thin
    strokes rather than the open middle of a thick digit."""
    # A rectangle fills at least half of its upright box, and the writing takes at most
    # SHEET_WRITING of it: most digits' strokes fill less, and are answered here.
    box = piece.height * piece.width
    if (piece.area < SHEET_SIZE * labels.size
            or piece.area < SHEET_SLANTED * (1 - SHEET_WRITING) / 2 * box):
        return None
    window = piece.mask(labels)
    if window.all():
        return None
    hole_labels, holes = label_pieces(~window)
    holes = _clear_of_edges(holes, window.shape)
    if not holes:
        return None
    writing = _mask_of(hole_labels, holes)
    filled = window | writing
    if writing.sum() > SHEET_WRITING * filled.sum():
        return None
    # The strokes are the holes' pixels that are background here (the ink on the sheet),
    # not the paper inside a digit's loops, which is marked as the sheet is.
    strokes = writing & (labels[piece.box] == 0)
    top, left, bottom, right = _box(holes)
    if _stroke_width(strokes) > SHEET_STROKE * max(bottom - top, right - left):
        return None
    fill = filled.sum() / _rectangle_area(filled)
    # Seen from an angle, a sheet is a trapezoid: it fills less of its rectangle, but its
    # sides stay straight, where a thick digit's loops, filled, bulge (a disc: 1.11).
    if fill >= SHEET_FILL or (fill >= SHEET_SLANTED and _outline_fill(filled) <= SHEET_STRAIGHT):
        return filled
    return None


def _rectangle_area(mask):
    """The area of the smallest rectangle around a mask's pixels, at any angle (in steps of
    3 degrees): a sheet or a card, however it lies."""
    rows, columns = np.nonzero(mask)
    angles = np.radians(np.arange(0, 90, 3))[:, None]
    along = columns * np.cos(angles) + rows * np.sin(angles)
    across = rows * np.cos(angles) - columns * np.sin(angles)
    return ((np.ptp(along, axis=1) + 1) * (np.ptp(across, axis=1) + 1)).min()


def _outline_fill(mask):
    """The mask's area over that of the polygon through its outermost pixels in eight
    directions, every 45 degrees: about 1 for a shape with four straight sides however it
    lies (each corner is outermost in one of the directions), more for a curved outline,
    which bulges past the polygon, and less for one with hollows."""
    rows, columns = np.nonzero(mask)
    angles = np.radians(np.arange(0, 360, 45))[:, None]
    outermost = np.argmax(columns * np.cos(angles) + rows * np.sin(angles), axis=1)
    x, y = columns[outermost].astype(float), rows[outermost].astype(float)
    area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2  # Shoelace formula.
    return mask.sum() / max(area, 1)


def _marks_in(gray, contrast=None):
    contrast = ink_contrast(gray) if contrast is None else contrast
    ink, labels, pieces = find_ink(gray, contrast)
    if not _clear_of_edges(pieces, labels.shape) and all(
            _along_edge(piece, labels) and _sheet_of(piece, labels) is None for piece in pieces):
        # Every mark runs along the picture's edge: the border of a shadow or of the desk,
        # whose contrast set the threshold that left a fainter digit out (or a page with
        # nothing on it). The digit is looked for again with those regions taken out.
        shade = _grey_dilate(_mask_of(labels, pieces).astype(np.float32), SHADE_MARGIN) > 0
        rest = _contrast_from(np.where(shade, 0, contrast.values), contrast.thin)
        # Unless the rest is bare paper, too even to hide anything, and the marks are as dark
        # as ink: then they are a digit drawn or cropped up to the edge (a 7's bar along the
        # top of a paint-app canvas), and stay.
        if rest.peak >= MIN_CONTRAST or contrast.peak < EDGE_INK:
            try:
                ink, labels, pieces = find_ink(gray, rest)
            except ImageError:
                message = "no ink found (only the edge of a shadow or of the desk)"
                raise ImageError(message) from None
    pieces = _without_rings(_without_edge_marks(ink, labels, pieces), labels)
    return ink, labels, _without_underlines(pieces)


def _without_edge_marks(ink, labels, pieces):
    """Drops marks at the picture's edge (a shadow's border, the table) apart from the digit.

    The digit is the largest mark clear of the edges (with the others about as large,
    the digits of a number). A mark touching an edge stays when it comes within a
    quarter of the digit's size of one of them (a detached stroke), or when it is larger
    and its ink as strong (the digit itself, cropped tightly), unless it is a solid wedge
    with strokes far wider than the digit's (a corner of the desk); what a shadow leaves
    behind after the lighting is evened out is fainter than ink. But a mark running
    along an edge, beside a digit of a size to be one, is a sliver of the desk or of the
    sheet's edge, and goes.
    """
    inside = _clear_of_edges(pieces, labels.shape)
    if not inside:
        return pieces
    inside_labels = {piece.label for piece in inside}  # A page may hold thousands of marks.
    digit = max(inside, key=lambda piece: piece.area)
    size = max(digit.height, digit.width)
    reach = size // 4
    real_digit = size >= EDGE_DIGIT_SIZE * max(labels.shape)
    # The digits of a number are the inside marks about as large as the largest.
    digits = [piece for piece in inside if max(piece.height, piece.width) >= size / 2]

    def strength(piece):
        return np.median(ink[piece.box][piece.mask(labels)])

    def keep(piece):
        if piece.label in inside_labels:
            return True
        if real_digit and _along_edge(piece, labels):
            return False  # the edge of the sheet, or the desk beyond it
        near = any(
            piece.left < other.right + reach
            and piece.right > other.left - reach
            and piece.top < other.bottom + reach
            and piece.bottom > other.top - reach
            for other in digits
        )
        if near:
            return True
        if piece.area < digit.area or strength(piece) < 0.9 * strength(digit):
            return False
        # A digit cropped by the edge is drawn with the digits' pen; a corner of the desk,
        # as dark, is a solid wedge, far wider than their strokes.
        return not (piece.area >= EDGE_SOLID * piece.height * piece.width
                    and _stroke_width(piece.mask(labels))
                    > EDGE_STROKE * _stroke_width(digit.mask(labels)))

    return [piece for piece in pieces if keep(piece)]


def _without_rings(pieces, labels):
    """Drops a ring drawn around the digits, as people circle an answer: a thin loop, open or
    closed, with ink of its own above, below, left and right of other marks that lie clear
    of it inside its box and reach FRAME_CONTENT of its height (a dot in a 0 does not)."""
    # Every mark's box, to find the marks inside a ring at once (a page holds thousands).
    boxes = np.array([(piece.top, piece.left, piece.bottom, piece.right) for piece in pieces],
                     dtype=np.int64).reshape(-1, 4)
    for index in sorted(range(len(pieces)), key=lambda i: pieces[i].area, reverse=True):
        ring = pieces[index]
        if ring.area > RING_FILL * ring.height * ring.width:
            continue  # a blob, not a loop
        within = ((ring.top < boxes[:, 0]) & (boxes[:, 2] < ring.bottom)
                  & (ring.left < boxes[:, 1]) & (boxes[:, 3] < ring.right))
        if not within.any():
            continue
        top, left = boxes[within, :2].min(axis=0)
        bottom, right = boxes[within, 2:].max(axis=0)
        if bottom - top < FRAME_CONTENT * ring.height:
            continue
        mark = labels[ring.top : ring.bottom, ring.left : ring.right] == ring.label
        top, bottom, left, right = top - ring.top, bottom - ring.top, left - ring.left, right - ring.left
        if (mark[:top, left:right].any() and mark[bottom:, left:right].any()
                and mark[top:bottom, :left].any() and mark[top:bottom, right:].any()):
            return [piece for piece in pieces if piece is not ring]
    return pieces


def _without_underlines(pieces):
    """Drops lines drawn under the digits, as people underline a 6 or a 9, or an answer: a
    flat mark that lies apart below all the other ink and runs under at least half of it.
    Only the mark that begins lowest can lie below all the others."""
    if len(pieces) < 2:
        return pieces
    line = max(pieces, key=lambda piece: piece.top)
    rest = [piece for piece in pieces if piece is not line]
    top, left, bottom, right = _box(rest)
    if (
        line.height <= UNDERLINE_FLATNESS * line.width
        and line.top >= bottom + UNDERLINE_GAP * (bottom - top)
        and min(line.right, right) - max(line.left, left) >= UNDERLINE_SPAN * (right - left)
    ):
        return _without_underlines(rest)  # a second line under the first
    return pieces


def _clear_of_edges(pieces, shape):
    """The pieces that touch no edge of a picture of shape (height, width)."""
    height, width = shape
    return [p for p in pieces if p.top > 0 and p.left > 0 and p.bottom < height and p.right < width]


def _mask_of(labels, pieces):
    """The pixels of the given pieces."""
    chosen = np.zeros(labels.max() + 1, bool)
    chosen[[piece.label for piece in pieces]] = True
    return chosen[labels]


def read_grayscale(source):
    """Reads a picture as float32 grey levels in 0..1, at most WORK_SIZE pixels a side.

    Either polarity may come back: dark ink on paper, or ink on a transparent canvas returned
    as bright ink (its opacity) on black.
    """
    return _work_grayscale(_open(source, WORK_SIZE))


def _open(source, size):
    """A path opened as open_picture() does, or a PIL image as it is, turned upright as its
    EXIF orientation says (a copy: the caller's image stays as it was)."""
    if not isinstance(source, Image.Image):
        return open_picture(source, size)
    if 0 in source.size:
        raise ImageError("empty picture (0 pixels)")
    try:
        source.load()  # A lazily opened file is decoded here: its errors are the picture's.
    except Exception as error:  # noqa: BLE001  Pillow raises many types for a bad file.
        raise ImageError(f"the picture cannot be read ({type(error).__name__}: "
                         f"{str(error).strip() or 'no reason given'})") from None
    upright = source.getexif().get(ExifTags.Base.Orientation, 1) == 1
    return source if upright else ImageOps.exif_transpose(source)


def _work_grayscale(picture):
    """The picture in grey at most WORK_SIZE pixels a side. Shrinking works in place, so it
    shrinks a copy: the caller's picture, or the one kept for a closer look, stays as it was."""
    return _to_grayscale(picture.copy() if max(picture.size) > WORK_SIZE else picture, WORK_SIZE)


def open_picture(path, size):
    """Opens a picture as its user sees it: first frame, EXIF orientation applied.

    JPEGs are decoded directly at a reduced scale when they are at least twice size. Every
    failure is raised as an ImageError with a one-line reason.
    """
    path = Path(path)
    if path.suffix.lower() in SVG_SUFFIXES:
        raise ImageError("SVG drawings are not supported: export the drawing as PNG")
    if not path.is_file():
        raise ImageError("not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise ImageError("empty file (0 bytes)")
    if path.suffix.lower() in HEIF_SUFFIXES:
        enable_heif()
    with warnings.catch_warnings():
        # Pillow's other warnings (corrupt EXIF data, say) are no news to the user: the
        # picture is read or refused all the same.
        warnings.simplefilter("ignore")
        # Pillow only warns between 1x and 2x its pixel limit; a picture that large is
        # refused the same way, since decoding it could take gigabytes.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open_drafted(path, size) as image:
                image.load()  # Decoding errors surface here, and nothing needs the file later.
                ImageOps.exif_transpose(image, in_place=True)
                return image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(
                f"picture too large (over {Image.MAX_IMAGE_PIXELS:,} pixels), "
                "refused as a possible decompression bomb"
            ) from None
        except Image.UnidentifiedImageError:
            with open(path, "rb") as file:
                start = file.read(1000).lstrip()
            if start.startswith((b"<svg", b"<?xml")):
                raise ImageError("SVG drawings are not supported: export it as PNG") from None
            if start[4:12] in HEIF_BRANDS and "HEIF" not in Image.OPEN:
                enable_heif()  # a HEIF photo whose name does not say so
                return open_picture(path, size)
            raise ImageError("not an image file (Pillow cannot identify it)") from None
        except PermissionError:
            raise ImageError("permission denied") from None
        except MemoryError:
            raise ImageError("not enough memory to decode the picture") from None
        # Pillow's decoders raise OSError, SyntaxError, EOFError, ValueError and others for
        # broken files; every one of them means the same to the user.
        except Exception as error:  # noqa: BLE001
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ImageError(f"broken image file ({reason or type(error).__name__})") from None


def _open_drafted(path, size):
    """Image.open, then draft(): a JPEG at least twice size is decoded at 1/2, 1/4 or 1/8
    scale. Pillow checks its pixel limit on the full size, before draft() can shrink it, so
    a JPEG over the limit (a 108- or 200-megapixel phone photo) is opened by its plugin
    directly and checked at the size it will be decoded at."""
    try:
        image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        try:
            image = JpegImagePlugin.JpegImageFile(path)
        except SyntaxError:  # not a JPEG: nothing shrinks it while decoding
            raise Image.DecompressionBombError(path) from None
        image.draft(None, (size, size))
        if image.width * image.height > Image.MAX_IMAGE_PIXELS:
            image.close()
            raise Image.DecompressionBombError(path) from None
        return image
    image.draft(None, (size, size))
    return image


def enable_heif():
    """Lets Pillow open HEIF pictures, or raises ImageError when pillow-heif is missing."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise ImageError("HEIC/HEIF photos need the pillow-heif package "
                         "(pip install pillow-heif), or save the photo as JPEG") from None
    if "HEIF" not in Image.OPEN:  # once, not for every photo of a folder
        register_heif_opener()


def thumbnail(path, size):
    """The picture as its user sees it, at most size pixels a side: uint8 RGBA array."""
    image = open_picture(path, size)
    if image.mode.startswith("I") or image.mode == "F":
        grey = np.asarray(_high_bit_depth_to_float(image)) * 255
        image = Image.fromarray(grey.astype(np.uint8))
    image = image.convert("RGBA")
    image.thumbnail((size, size))
    return np.asarray(image)


def _to_grayscale(image, size):
    if image.mode.startswith("I") or image.mode == "F":
        image = _high_bit_depth_to_float(image)
    elif image.mode == "La":  # premultiplied alpha: Pillow converts it to LA only
        image = image.convert("LA").convert("RGBA")
    elif image.has_transparency_data:
        image = image.convert("RGBA")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # palette, 1-bit, CMYK, YCbCr...
    if max(image.size) > size:
        # BOX averages the pixels each output pixel covers: thin strokes fade, never vanish.
        image.thumbnail((size, size), Image.Resampling.BOX)
    if image.mode == "RGBA":
        return _flatten_transparency(np.asarray(image, dtype=np.float32) / 255)
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    grey = image if image.mode == "L" else image.convert("L")
    return np.asarray(grey, dtype=np.float32) / 255


def _high_bit_depth_to_float(image):
    """16-bit, 32-bit integer and float pictures become mode F in 0..1; pixels that are
    not numbers (NaN, infinite) take the typical value of the others."""
    values = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, np.median(values[finite]) if finite.any() else 0)
    if image.mode == "F" and values.min() >= 0 and values.max() <= 1:
        scale = 1.0
    elif values.min() >= 0 and values.max() <= 65535:
        # Cameras and scanners store 10-, 12- or 14-bit values in 16-bit files, mostly without
        # saying so (Pillow does not read PNG's sBIT): the narrowest of the usual depths that
        # holds every pixel is taken as the picture's. 8-bit values in a wider type are one case.
        bits = next(bits for bits in (8, 10, 12, 14, 16) if values.max() < 2**bits)
        scale = 2.0**bits - 1
    else:
        values = values - values.min()
        scale = max(float(values.max()), 1e-6)
    return Image.fromarray(values / scale, mode="F")


def _flatten_transparency(rgba):
    """Turns an RGBA picture into grey levels, whatever colour its transparent pixels hold.

    A canvas that is mostly transparent holds its ink in the opaque pixels, so the opacity
    itself is the ink (bright on black), in any ink colour, and so it is in a canvas mostly
    covered by opaque pixels of one colour (a drawing cropped close); unless those pixels
    are a card with the digit on it (a cut-out, a sticker): a solid block, light and dark
    inside. That, and a mostly opaque picture of many colours (a photo with a transparent
    border), is laid over its own colour (the card's, or the picture's average), so the
    border vanishes.
    """
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    grey = rgb @ LUMA
    if alpha.min() > 0.99:
        return grey
    opaque = alpha[..., 0] > 0.5  # Never exactly a half in 8 bits: a mean of 0.5 holds some.
    if alpha.mean() >= 0.5 and np.ptp(np.percentile(grey[opaque], (5, 95))) > ONE_COLOUR:
        typical = (rgb * alpha).sum(axis=(0, 1)) / alpha.sum()  # a photo, mostly opaque
    else:
        # Opaque pixels of one colour are ink, even when they cover most of the canvas (a
        # drawing cropped close); only a card or a photo is light and dark.
        if not _is_card(opaque, grey):
            return np.ascontiguousarray(alpha[..., 0])
        typical = np.median(rgb[opaque], axis=0)  # the card's colour, not its ink's
    flat = rgb * alpha + typical * (1 - alpha)
    return flat @ LUMA


def _is_card(opaque, grey):
    """Whether the opaque pixels of a mostly transparent canvas (grey: the picture's grey
    levels) are a card carrying its ink: they fill most of a rectangle (strokes do not), hold
    both light and dark, and the ink is the smaller part, inside: the card's own colour runs
    along its outline (a bold stroke drawn with an outline has the outline there)."""
    if not opaque.any():
        return False
    low, high = np.percentile(grey[opaque], (1, 99))
    if high - low < CARD_CONTRAST or opaque.sum() < CARD_FILL * _rectangle_area(opaque):
        return False
    dark = grey < (low + high) / 2
    dark_share = dark[opaque].mean()
    ink_is_dark = dark_share < 0.5  # The ink is the smaller part.
    outline = opaque & _grey_dilate((~opaque).astype(np.float32), 1).astype(bool)
    card_on_outline = np.mean(dark[outline] != ink_is_dark)
    return min(dark_share, 1 - dark_share) <= CARD_INK and card_on_outline > 0.5


@dataclasses.dataclass(frozen=True)
class Piece:
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


@dataclasses.dataclass(frozen=True)
class Contrast:
    """How far each pixel of a picture stands out from its local background (0..1, the ink
    bright whatever its polarity), their histogram, and the ink's contrast: its peak. thin:
    whether only strokes a few pixels wide were measured, everything wider being background."""

    values: np.ndarray
    counts: np.ndarray
    peak: float
    thin: bool = False


def ink_contrast(gray, thin=False):
    """The Contrast of a grey picture of any polarity, the desk around a sheet painted out.
    thin: the strokes are known to be a few pixels wide, so that everything wider (the
    paper's blotches and grain, as well as lighting and shadows) is background."""
    return _contrast_of(_ink_bright(gray), thin)


def _ink_bright(gray):
    """The grey picture with the desk around a sheet painted out, and its ink made bright."""
    gray = _without_desk(gray)
    return 1 - gray if _has_light_background(gray) else gray


def _contrast_of(bright, thin=False):
    """ink_contrast() of a picture whose ink is already bright."""
    if thin:
        # A grey-level opening over small squares: what it leaves out are the thin strokes.
        radius = max(2, round(FINE_OPENING * max(bright.shape) / 2))
        background = _grey_dilate(-_grey_dilate(-bright, radius), radius)
    else:
        background = _background(bright)
    # Dark ink on paper reflects a fixed fraction of the light the paper gets; dividing by the
    # local paper brightness (1 - background here) undoes shadows and uneven lighting.
    values = np.clip((bright - background) / np.maximum(1 - background, 0.1), 0, 1)
    return _contrast_from(values, thin)


def _contrast_from(values, thin):
    """The Contrast of a picture's contrast values."""
    counts = _histogram(values)
    # The ink's contrast, from its brightest few dozen pixels (a small digit has no more); in a
    # picture read finer than WORK_SIZE, a stroke's pixels grow with its length, not its area.
    (peak,) = _percentiles(counts, (100 - 0.03 * min(1, WORK_SIZE / max(values.shape)),))
    return Contrast(values, counts, peak, thin)


def find_ink(gray, contrast=None):
    """Finds the ink in a grey picture of any polarity (contrast: its ink_contrast(), if the
    caller has it).

    Returns (ink, labels, pieces): ink is float32 in 0..1 with the background at 0 and stroke
    cores at 1, anti-aliased edges in between; labels numbers the connected marks of the ink
    mask; pieces are the marks that are not specks. Raises ImageError when there is no ink.
    """
    measured = ink_contrast(gray) if contrast is None else contrast
    contrast, counts, peak = measured.values, measured.counts, measured.peak
    if peak < MIN_CONTRAST:
        raise ImageError("no ink found (the picture looks blank)")
    if measured.thin:
        # Strokes under two pixels wide show more or less of their contrast as they fall
        # across the pixels, and little else is left to be told from them: the lowest cut.
        threshold = 0.3 * peak
    else:
        threshold = np.clip(_otsu(counts, peak), 0.3 * peak, 0.6 * peak)
    mask = contrast > threshold
    # Printed lines and boxes, paler than the pen, come through the threshold broken: find
    # them at half.
    faint = contrast > threshold / 2
    lines = ruled_lines(mask, faint)
    lines |= box_sides(mask & ~lines, faint & ~lines)
    if lines.any():
        mask &= ~lines
        contrast = np.where(lines, 0, contrast)
    labels, pieces = label_pieces(mask)

    largest = max(pieces, key=lambda piece: piece.area)
    if max(largest.height, largest.width) < MIN_DIGIT_SIZE * max(gray.shape):
        raise ImageError(f"no ink found (only specks: a digit spans at least "
                         f"{MIN_DIGIT_SIZE:.0%} of the picture, so crop closer)")
    pieces = [piece for piece in pieces if piece.area >= MIN_PIECE_AREA * largest.area]
    if not measured.thin:
        # Marks much fainter than the largest are not written with its pen: the grain of the
        # paper, the stubs of printed lines, the ghosts of digits wiped off a whiteboard.
        # (Strokes thinner than a pixel show less of their darkness the thinner they are.)
        darkness = {piece.label: np.percentile(contrast[piece.box][piece.mask(labels)], 90)
                    for piece in pieces}
        pieces = [piece for piece in pieces
                  if darkness[piece.label] >= GHOST * darkness[largest.label]]

    # Stroke cores become 1; grey levels down to a quarter of the threshold stay as
    # anti-aliasing (to_mnist keeps them only where they touch the ink).
    above = counts.copy()
    above[: int(threshold * (len(counts) - 1)) + 1] = 0
    (core,) = _percentiles(above, (75,))
    floor = threshold / 4
    ink = np.clip((contrast - floor) / max(core - floor, 1e-3), 0, 1)
    return ink, labels, pieces


def _without_desk(gray):
    """Paints the desk around a photographed sheet of paper as a continuation of the sheet.

    A phone photo often shows the desk beyond the sheet's edge: a large region at the
    picture's edge, clearly darker than the sheet, holding none of the strokes. Left alone,
    it can outvote the ink when the background's brightness is judged, and it is larger and
    as dark as any stroke. The desk is found at a quarter of the resolution (_find_desk), its
    outline traced at full resolution, and it is painted with the grey of the nearest sheet.
    Returns gray itself when no desk is found.
    """
    height, width = gray.shape
    if max(height, width) < SMALL_IMAGE:
        return gray
    found = _find_desk(np.asarray(Image.fromarray(gray, mode="F").reduce(4)))
    if found is None:
        return gray
    desk, sheet, threshold = found

    def enlarged(values):
        return np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize((width, height)))

    # Near the coarse outline the desk is what lies on its side of the threshold; then a
    # margin for the sheet's blurred edge.
    near, core = _grey_dilate(desk.astype(np.float32), 1), -_grey_dilate(-desk.astype(np.float32), 1)
    full = ((enlarged(near) > 0.5) & (gray <= threshold)) | (enlarged(core) > 0.5)
    full = _grey_dilate(full.astype(np.float32), max(1, round(DESK_EDGE * max(height, width)))) > 0
    paint = enlarged(_fill_from_neighbours(sheet, near == 0))
    return np.where(full, paint, gray).astype(np.float32)


def _find_desk(small):
    """(desk mask, sheet grey without strokes, threshold) at small's resolution, or None.

    A grey closing and opening erase the strokes, and Otsu's threshold splits the rest into
    light and dark. The sheet is the light side, in one piece, and holds the strokes. The
    desk is the dark side's regions at the picture's edge that are no stroke: they hold a
    square wider than any stroke there, or run along a good part of the edge; and no stroke
    comes near them. (A dark "sheet" with light strokes is far more often a thick digit
    around a narrow hole than a slate on a wall, and is left alone.)
    """
    radius = max(1, round(DESK_STROKE * max(small.shape) / 2))
    closed = -_grey_dilate(-_grey_dilate(small, radius), radius)
    sheet = _grey_dilate(-_grey_dilate(-closed, radius), radius)
    difference = np.abs(small - sheet)
    strokes = difference > max(DESK_CONTRAST, 0.35 * difference.max())
    if strokes.sum() < DESK_MIN_STROKES * strokes.size:
        return None
    # Marks at the picture's edge are no evidence: there the closing also fills the narrow
    # end of a desk showing beyond a tilted sheet.
    labels, pieces = label_pieces(strokes)
    strokes = _mask_of(labels, _clear_of_edges(pieces, strokes.shape))
    if strokes.sum() < DESK_MIN_STROKES * strokes.size:
        return None
    threshold = _otsu(_histogram(sheet), 1.0)
    light = sheet > threshold
    if light.all() or not light.any():
        return None
    if np.median(sheet[light]) - np.median(sheet[~light]) < DESK_CONTRAST:
        return None
    if strokes[light].sum() < strokes[~light].sum():
        return None
    if max(piece.area for piece in label_pieces(light)[1]) < DESK_SHEET * light.size:
        return None
    labels, pieces = label_pieces(~light)
    side = round(DESK_SOLID * max(small.shape))
    solid = -_grey_dilate(-(~light).astype(np.float32), side) > 0
    solid[side + 1 : -side - 1, side + 1 : -side - 1] = False  # only squares at the edge
    inside = _clear_of_edges(pieces, light.shape)
    desk = _mask_of(labels, [
        piece for piece in pieces
        if piece not in inside and (_along_edge(piece, labels) or solid[piece.box][piece.mask(labels)].any())
    ])
    # Strokes on the desk or at its edge mean the "desk" is part of the digit (a stroke too
    # thick for the closing) or a shadow across it.
    reach = _grey_dilate(desk.astype(np.float32), radius) > 0
    if desk.mean() < DESK_AREA or strokes[reach].sum() > DESK_INK * strokes.sum():
        return None
    return desk, sheet, threshold


def _along_edge(piece, labels):
    """Whether a piece runs along at least DESK_SIDE of one side of the picture."""
    height, width = labels.shape
    if max(piece.width / width, piece.height / height) < DESK_SIDE:
        return False  # too short, which most pieces are: no need to look at its pixels
    sides = labels[0], labels[-1], labels[:, 0], labels[:, -1]
    return max(np.mean(side == piece.label) for side in sides) >= DESK_SIDE


def _fill_from_neighbours(values, known):
    """values with each unknown pixel set, ring by ring from the known ones inwards, to the
    mean of its known neighbours: a smooth continuation of the known part."""
    values = np.where(known, values, 0).astype(np.float32)
    known = known.copy()
    height, width = values.shape
    while not known.all():
        padded_values, padded_known = np.pad(values, 1), np.pad(known.astype(np.float32), 1)
        total = np.zeros_like(values)
        count = np.zeros_like(values)
        for row, column in ((0, 1), (2, 1), (1, 0), (1, 2)):
            total += padded_values[row : row + height, column : column + width]
            count += padded_known[row : row + height, column : column + width]
        new = ~known & (count > 0)
        if not new.any():
            break
        values[new] = total[new] / count[new]
        known |= new
    return values


def ruled_lines(mask, faint=None):
    """The ink of straight lines drawn across the picture and past the digit at both ends
    (the lines of ruled or squared paper), except where strokes of the digit cross them.

    mask is the ink; faint, if given, a looser mask of it in which the lines are sought.
    """
    found = np.zeros_like(mask)
    if min(mask.shape) < SMALL_IMAGE:
        return found
    rows, columns = np.nonzero(mask if faint is None else faint)
    lines = []
    for along, across, span, horizontal in (
        (columns, rows, mask.shape[1], True),
        (rows, columns, mask.shape[0], False),
    ):
        strips = _ends(along, span, 0)
        found_here = _lines_along(across, along, span, strips, LINE_THICKNESS * span)
        lines += [(line, near, horizontal) for line, near, _ in found_here]
    if not lines:
        return found
    # The digit: the other ink, leaving out what lies along a line (its ragged edges, a
    # stroke lying on it) and marks at the picture's edge (the end of a line cut off there).
    rest = mask.copy()
    for _, near, _ in lines:
        rest[rows[near], columns[near]] = False
    if not rest.any():
        return found  # Nothing but lines: they may be the digit (a 1 lying down, a dash).
    inside = _clear_of_edges(label_pieces(rest)[1], mask.shape)
    if not inside:
        return found
    largest = max(piece.area for piece in inside)
    top, left, bottom, right = _box([p for p in inside if p.area >= MIN_PIECE_AREA * largest])
    digit_rows, digit_columns = (top, bottom - 1), (left, right - 1)  # Inclusive.
    for line, _, horizontal in lines:
        if horizontal:
            ends = _runs_past(columns[line], rows[line], digit_columns, digit_rows, mask.shape)
        else:
            ends = _runs_past(
                rows[line], columns[line], digit_rows, digit_columns, mask.shape[::-1]
            )
        if ends:
            found[rows[line], columns[line]] = True
    return found


def box_sides(mask, faint):
    """The ink of boxes drawn around a digit (a form's field, a frame drawn by hand): a mark
    with a straight line along each of its four sides and other ink between them. Strokes of
    the digit crossing a side stay.

    mask is the ink; faint a looser mask of it in which the boxes are sought.
    """
    found = np.zeros_like(mask)
    if min(mask.shape) < SMALL_IMAGE:
        return found
    labels, pieces = label_pieces(faint)
    for piece in pieces:
        if min(piece.height, piece.width) < FRAME_SIZE * max(mask.shape):
            continue
        mark = piece.mask(labels)
        if not _encloses(mark):
            continue  # Most marks stop here: the search for sides below is the costly part.
        rows, columns = np.nonzero(mark)
        thickest = min(
            LINE_THICKNESS * max(mask.shape), FRAME_THICKNESS * min(piece.height, piece.width)
        )
        sides = {}  # 0 top, 1 bottom, 2 left, 3 right: the pixels of each side's line.
        for along, across, span, breadth, first in (
            (columns, rows, piece.width, piece.height, 0),
            (rows, columns, piece.height, piece.width, 2),
        ):
            # A side's thickness is measured inside the box, clear of the sides across it.
            strips = _ends(along, span, FRAME_SIDE)
            found_here = _lines_along(across, along, span, strips, thickest, FRAME_SLOPES)
            for line, _, slope in found_here:
                side = _side(along[line], across[line], slope, span, breadth)
                if side >= 0:
                    sides.setdefault(first + side, line)
            if len(sides) < first + 2:
                break
        if len(sides) < 4:
            continue
        lines = np.zeros((piece.height, piece.width), bool)
        for line in sides.values():
            lines[rows[line], columns[line]] = True
        # The digit: the largest mark of the other ink inside (of this mark where it touches
        # a side); a tick where a pen started drawing a square 0 is no digit.
        inside = mask[piece.box] & ~lines
        if inside.any():
            digit = max(label_pieces(inside)[1], key=lambda mark: mark.area)
            if digit.height >= FRAME_CONTENT * piece.height:
                found[piece.box] |= lines
    return found


def _encloses(mark):
    """Whether a mark (a boolean image cropped to it) closes around background reaching
    across FRAME_HOLE of its height or width, as a box does (with a digit inside it or not)."""
    # Grown by a pixel so that background cannot slip between diagonal steps of a thin line.
    outside = np.ones((mark.shape[0] + 2, mark.shape[1] + 2), bool)
    outside[1:-1, 1:-1] = _grey_dilate(mark.astype(np.uint8), 1) == 0
    holes = _clear_of_edges(label_pieces(outside)[1], outside.shape)
    return any(
        hole.height >= FRAME_HOLE * mark.shape[0] or hole.width >= FRAME_HOLE * mark.shape[1]
        for hole in holes
    )


def _ends(along, span, inset):
    """The pixels in the two strips LINE_MARGIN wide towards the ends of a span, inset from
    them by a fraction of it; along is where the pixels lie along the span."""
    low, high = inset * span, (1 - inset) * span
    return ((along >= low) & (along < low + LINE_MARGIN * span)) | (
        (along < high) & (along >= high - LINE_MARGIN * span)
    )


def _side(along, across, slope, span, breadth):
    """Which side of a mark, span pixels along a line and breadth across it, the line lies
    on from end to end: 0 the first (top or left), 1 the last, -1 neither. along and across
    are where the line's pixels lie, slope is its tilt."""
    # A tilted box's side spans less than the box's extent, by its tilt.
    if len(np.unique(along)) < FRAME_SPAN * (span - breadth * abs(slope)):
        return -1
    middle = np.median(across) / breadth
    return 0 if middle < FRAME_SIDE else 1 if middle > 1 - FRAME_SIDE else -1


def _runs_past(along, across, digit_along, digit_across, shape):
    """Whether a line (its pixels' coordinates along it and across it) runs past the digit
    (its extent along and across the line) to the picture's edge at both ends; one end may
    run off the top or bottom instead, away from the digit (a tilted line cut off there).
    shape is the picture's (breadth, span): across, then along the line."""
    breadth, span = shape
    low, high = along.argmin(), along.argmax()
    low_past = along[low] <= min(digit_along[0] - LINE_MARGIN * span, LINE_EDGE * span)
    high_past = along[high] >= max(digit_along[1] + LINE_MARGIN * span, (1 - LINE_EDGE) * span - 1)

    def off_the_side(end):
        at, clear = across[end], LINE_MARGIN * breadth
        return (at <= LINE_EDGE * breadth and digit_across[0] > at + clear) or (
            at >= (1 - LINE_EDGE) * breadth - 1 and digit_across[1] < at - clear
        )

    return (low_past and (high_past or off_the_side(high))) or (high_past and off_the_side(low))


def _lines_along(rows, columns, width, strips, thickest, slopes=LINE_SLOPES):
    """Near-horizontal lines through the ink pixels (rows, columns) of a picture width
    pixels wide: for each line, two boolean arrays over the pixels, its ink and the ink
    within two pixels of its band, and its slope.

    strips marks the pixels in the two strips, one towards each end, that a line must cross
    clear of the digit's strokes: there its own ink shows how thick it is, thickest pixels
    at most.
    """
    if np.count_nonzero(strips) < LINE_MARGIN * width:
        return []  # Too little ink there for any line (below): most pictures stop here.
    candidates = {}
    reach = int(np.ceil(thickest))
    steps = np.arange(1, reach + 1)
    for slope in slopes:
        shift = np.round((np.arange(width) - width / 2) * slope).astype(int)
        # Each pixel's row once the picture is sheared so that lines of this slope are level.
        level = rows - shift[columns] + np.abs(shift).max()
        counts = np.bincount(level)
        ends = np.bincount(level[strips], minlength=len(counts))
        # The most ink in the strips at a level or next to it.
        strongest = ends.copy()
        np.maximum(strongest[1:], ends[:-1], out=strongest[1:])
        np.maximum(strongest[:-1], ends[1:], out=strongest[:-1])
        # A line has its own ink through both end strips.
        peaks = np.flatnonzero((counts >= LINE_SPAN * width) & (strongest >= LINE_MARGIN * width))
        if not peaks.size:
            continue
        # Its band: the levels next to the peak with at least 0.3 of its ink in the strips,
        # counted out to the thickness limit on each side (all peaks at once: a solid blob
        # has a peak at every level).
        padded = np.full(len(ends) + 2 * reach, -1)
        padded[reach : reach + len(ends)] = ends
        floor = 0.3 * strongest[peaks, None]
        below = np.cumprod(padded[peaks[:, None] + reach - steps] >= floor, axis=1).sum(axis=1)
        above = np.cumprod(padded[peaks[:, None] + reach + steps] >= floor, axis=1).sum(axis=1)
        for first, last in zip(peaks - below, peaks + above):
            if last - first < thickest:  # Peaks of one band give one key.
                candidates[slope, first, last] = counts[first : last + 1].max(), level
    lines, taken = [], np.zeros(len(rows), bool)
    for (slope, first, last), (_, level) in sorted(candidates.items(), key=lambda c: -c[1][0]):
        line = (level >= first) & (level <= last)
        if np.count_nonzero(line & taken) > 0.5 * np.count_nonzero(line):
            continue  # The same line found at a neighbouring slope.
        # A stroke crossing the line has ink just above and just below it: it stays.
        above = columns[(level >= first - 2) & (level < first)]
        below = columns[(level > last) & (level <= last + 2)]
        line &= ~np.isin(columns, np.intersect1d(above, below))
        # The line's ragged fringe: one pixel beside the band with no ink beyond it.
        for edge, beyond in ((first - 1, first - 2), (last + 1, last + 2)):
            line |= (level == edge) & ~np.isin(columns, columns[level == beyond])
        taken |= line
        lines.append((line, (level >= first - 2) & (level <= last + 2), slope))
    return lines


def _has_light_background(gray):
    """Whether the ink is darker than its background: a picture of light paper cropped close
    around dark ink (_paper_around), or one whose ink stands out dark (_stands_out_dark)."""
    counts = _histogram(gray)  # The grey levels, which both read.
    return _paper_around(gray, counts) or _stands_out_dark(gray, counts)


def _paper_around(gray, counts):
    """Whether the picture is light paper cropped close around dark ink: at least PAPER_BORDER
    of its border, and PAPER_SHARE of all of it, on the light side of Otsu's cut.

    The cues of _stands_out_dark count on the ink being the rarer near its pixels. Cropped
    close around thick strokes, the paper is the rarer there, and its scraps look like light
    marks on dark ink; but the border is still paper. A dark background holds the border of
    its picture (a blackboard, a white-on-black canvas), or most of the picture when light
    surrounds it (a light frame, the page around a drawing app's black canvas).
    """
    light = gray > _otsu(counts, 1.0)
    border = np.concatenate([light[0], light[-1], light[:, 0], light[:, -1]])
    return border.mean() >= PAPER_BORDER and light.mean() >= PAPER_SHARE


def _stands_out_dark(gray, counts):
    """Whether the ink stands out dark rather than light.

    Ink stands out from the median of its neighbourhood, which is background however the
    lighting varies across the page: when clearly more pixels lie far below the median of
    their quarter of the picture than far above it, the ink is dark, and the other way round.
    Strokes thick enough to fill much of a quarter blur that count; then two global cues
    decide, if they agree: the median grey lies in the background, far from the ink (unless
    a shadow covers half the page), and the ink is the rarer end of the grey levels (unless
    a lighting gradient leaves few pixels at the bright end).
    """
    below, above = _far_from_local_median(gray)
    if below > 2 * above or above > 2 * below:
        return below > above
    darkest, low, middle, high, lightest = _percentiles(counts, (0.1, 1, 50, 99, 99.9))
    by_median = high - middle < middle - low
    reach = 0.15 * (lightest - darkest)
    by_rarity = counts[: _bin(darkest + reach) + 1].sum() < counts[_bin(lightest - reach) :].sum()
    if by_median == by_rarity or below == above:
        return by_median
    return below > above


def _far_from_local_median(gray):
    """How many pixels lie far below and far above the median of their quarter of the picture.

    Far means beyond half the largest difference; every other pixel is counted.
    """
    height, width = gray.shape
    if max(height, width) < SMALL_IMAGE or min(height, width) < 16:
        return 0, 0  # Too small for uneven lighting, or for quarters worth the name.
    cell_height, cell_width = height // 4, width // 4
    blocks = gray[: 4 * cell_height, : 4 * cell_width].reshape(4, cell_height, 4, cell_width)
    medians = np.median(blocks.swapaxes(1, 2).reshape(4, 4, -1), axis=2).astype(np.float32)
    local = Image.fromarray(medians, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    difference = (gray - np.asarray(local))[::2, ::2]
    far = np.abs(difference).max() / 2
    return np.count_nonzero(difference < -far), np.count_nonzero(difference > far)


def _bin(value, bins=256):
    """The _histogram() bin that holds value."""
    return int(np.clip(value, 0, 1) * (bins - 1) + 0.5)


def _histogram(values, bins=256):
    """Counts of values in 0..1 in equal bins; the bins' centres are i / (bins - 1)."""
    levels = (np.clip(values, 0, 1) * (bins - 1) + 0.5).astype(np.uint16)
    return np.bincount(levels.ravel(), minlength=bins)


def _percentiles(counts, percents):
    """Percentiles read from a histogram of _histogram(): much faster than sorting."""
    cumulative = np.cumsum(counts)
    ranks = np.asarray(percents) / 100 * (cumulative[-1] - 1)
    return tuple(np.searchsorted(cumulative, ranks, side="right") / (len(counts) - 1))


def _background(gray):
    """A smooth estimate of the background (ink is bright), blind to strokes.

    A grey-level opening (a running minimum, then a running maximum) over squares 0.2 of
    the picture wide erases every stroke narrower than that but keeps the sharp edge of a
    shadow. It runs at a quarter of the resolution, which is plenty for lighting.
    """
    height, width = gray.shape
    if max(height, width) < SMALL_IMAGE:
        return np.float32(_percentiles(_histogram(gray), (25,))[0])
    small = Image.fromarray(gray, mode="F").reduce(4)
    radius = max(2, round(OPENING_SIZE * max(small.size) / 2))
    opened = _grey_dilate(-_grey_dilate(-np.asarray(small), radius), radius)
    # A region may be shadowed, but not to more than halfway towards the ink: otherwise a
    # blob of strokes thicker than the square would be taken for background.
    level = np.median(opened)
    (ink,) = _percentiles(_histogram(gray[::2, ::2]), (99.5,))
    opened = np.minimum(opened, level + 0.5 * max(ink - level, 0))
    smooth = Image.fromarray(opened.astype(np.float32), mode="F")
    return np.asarray(smooth.resize((width, height), Image.Resampling.BILINEAR))


def _otsu(counts, top):
    """Otsu's threshold on a histogram, below top: the cut that best separates two classes."""
    counts = counts[: int(top * (len(counts) - 1)) + 1]
    centres = np.arange(len(counts)) / (len(counts) - 1)
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return centres[np.argmax(between)]


def label_pieces(mask):
    """Labels the 8-connected marks of a boolean mask: (labels int32 image, list of Piece).

    Works on runs of ink along each row: runs in neighbouring rows that touch (diagonally
    too) belong to one mark, and a union-find joins them. A digit has a few hundred runs,
    so this is fast without SciPy.
    """
    stride = mask.shape[1] + 2  # Runs of one row never reach the next row's key range.
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = padded[:, 1:] - padded[:, :-1]
    run_rows, run_starts = np.nonzero(edges == 1)
    _, run_ends = np.nonzero(edges == -1)  # Exclusive; both lists come in row-major order.
    if len(run_rows) == 0:
        raise ImageError("no ink found (the picture looks blank)")

    # For each run, the runs of the row above that touch it form a contiguous range.
    start_keys = run_rows * stride + run_starts
    end_keys = run_rows * stride + run_ends
    row_above = (run_rows - 1) * stride
    first = np.searchsorted(end_keys, row_above + run_starts, side="left")
    last = np.searchsorted(start_keys, row_above + run_ends, side="right")

    # The touching pairs (run above, run below), and a union-find over them that hooks the
    # larger root of each pair onto the smaller one until every pair shares one root.
    counts = np.maximum(last - first, 0)
    below = np.repeat(np.arange(len(run_rows)), counts)
    above = _ranges(first, counts)
    roots = np.arange(len(run_rows))
    while True:
        root_above, root_below = roots[above], roots[below]
        if (root_above == root_below).all():
            break
        np.minimum.at(roots, np.maximum(root_above, root_below), np.minimum(root_above, root_below))
        while (roots[roots] != roots).any():  # Until every run points straight at its root.
            roots = roots[roots]
    _, run_labels = np.unique(roots, return_inverse=True)

    labels = np.zeros(mask.shape, np.int32)
    lengths = run_ends - run_starts
    labels[np.repeat(run_rows, lengths), _ranges(run_starts, lengths)] = np.repeat(
        run_labels + 1, lengths
    )

    # Each piece's runs side by side: its area and box are reductions over them.
    order = np.argsort(run_labels, kind="stable")
    firsts = np.flatnonzero(np.diff(run_labels[order], prepend=-1))

    def per_piece(reduction, values):
        return reduction.reduceat(values[order], firsts).tolist()

    boxes = zip(
        per_piece(np.add, lengths),
        per_piece(np.minimum, run_rows),
        per_piece(np.minimum, run_starts),
        per_piece(np.maximum, run_rows + 1),
        per_piece(np.maximum, run_ends),
    )
    pieces = [Piece(label, *box) for label, box in enumerate(boxes, start=1)]
    return labels, pieces


def _ranges(starts, lengths):
    """The ranges start..start+length-1 one after the other, without a Python loop."""
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())


def group_into_lines(pieces, labels):
    """Groups marks into lines of writing, top to bottom.

    Two marks whose rows overlap by at least half the shorter's height share a line, and so
    do the marks linked through them: a number written uphill stays one line, digit by
    digit. Then a group under half the tallest mark's height (a dash, the bar of a 5 drawn
    above its body) joins the line nearest to it, and groups with marks above one another
    whose ink comes closer than a stroke's width, or LINE_GAP of their height, are one line
    (the two loops of an 8 whose pen lifted between them).
    """
    found = []  # (the marks of a line, where the lowest of them ends)
    for piece in sorted(pieces, key=lambda piece: piece.top):
        # Marks come top first: a line ending above this one cannot share its rows.
        linked = [index for index, (line, bottom) in enumerate(found)
                  if bottom > piece.top and any(_rows_shared(piece, other) for other in line)]
        joined = [piece, *itertools.chain(*(found[index][0] for index in linked))]
        found = [entry for index, entry in enumerate(found) if index not in linked]
        found.append((joined, max(other.bottom for other in joined)))
    lines = [line for line, _ in found]

    def middle(line):
        top, _, bottom, _ = _box(line)
        return (top + bottom) / 2

    tallest = max(piece.height for piece in pieces)
    for small in [line for line in lines if _height(line) < 0.5 * tallest]:
        others = [line for line in lines if line is not small]
        if others:
            min(others, key=lambda line: abs(middle(line) - middle(small))).extend(small)
            lines = others
    stroke = _stroke_width(_mask_of(labels, pieces))
    merged = True
    while merged:
        merged = False
        for first, second in itertools.combinations(lines, 2):
            height = min(max(piece.height for piece in line) for line in (first, second))
            near = max(stroke, LINE_GAP * height)
            if _stacked_gap(first, second, labels, near) < near:
                lines = [line for line in lines if line is not second]
                first.extend(second)
                merged = True
                break
    return sorted(lines, key=lambda line: _box(line)[0])


def _rows_shared(first, second):
    """Whether two marks' rows overlap by at least half the shorter one's height."""
    shared = min(first.bottom, second.bottom) - max(first.top, second.top)
    return shared >= 0.5 * min(first.height, second.height)


def _stacked_gap(first, second, labels, within=np.inf):
    """The least vertical distance, in pixels, between the ink of a mark of one group and
    the ink of a mark of the other in the same column; infinite when none share a column.
    Only distances under within are measured (the ink is no closer than the marks' boxes:
    on a page of lines, most pairs are told apart by their boxes alone)."""
    (top, _, bottom, _), (other_top, _, other_bottom, _) = _box(first), _box(second)
    if max(top - other_bottom, other_top - bottom) >= within:
        return np.inf
    gaps = [np.inf]
    for a, b in itertools.product(first, second):
        left, right = max(a.left, b.left), min(a.right, b.right)
        if left >= right or max(a.top - b.bottom, b.top - a.bottom) >= within:
            continue
        upper, lower = (a, b) if a.top + a.bottom <= b.top + b.bottom else (b, a)
        top, bottom = min(upper.top, lower.top), max(upper.bottom, lower.bottom)
        window = labels[top:bottom, left:right]
        rows = np.arange(top, bottom)[:, None]
        lowest = np.where(window == upper.label, rows, -1).max(axis=0)
        highest = np.where(window == lower.label, rows, bottom).min(axis=0)
        both = (lowest >= 0) & (highest < bottom)
        if both.any():
            gaps.append((highest - lowest - 1)[both].min())
    return min(gaps)


def group_into_digits(pieces):
    """Groups marks into digits, left to right.

    A mark joins the digit before it when their column ranges overlap by at least half the
    narrower one: the stem of a 4 drawn in two strokes. A small mark (under half the tallest
    digit's height) joins the digit whose columns it overlaps most, like the detached bar of
    a 5, and is dropped when it overlaps none, like a dot or a dash.
    """
    groups = []
    for piece in sorted(pieces, key=lambda piece: piece.left):
        if groups and _overlap([piece], groups[-1]) >= 0.5 * min(piece.width, _width(groups[-1])):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    tallest = max(_height(group) for group in groups)
    digits = [group for group in groups if _height(group) >= 0.5 * tallest]
    for small in (group for group in groups if _height(group) < 0.5 * tallest):
        overlaps = [_overlap(small, digit) for digit in digits]
        if max(overlaps) > 0:
            digits[int(np.argmax(overlaps))].extend(small)
    return digits


def _overlap(first, second):
    """How many columns two groups of marks share."""
    return min(_box(first)[3], _box(second)[3]) - max(_box(first)[1], _box(second)[1])


def _height(pieces):
    top, _, bottom, _ = _box(pieces)
    return bottom - top


def _width(pieces):
    _, left, _, right = _box(pieces)
    return right - left


def _box(pieces):
    """(top, left, bottom, right) around several marks."""
    return (
        min(piece.top for piece in pieces),
        min(piece.left for piece in pieces),
        max(piece.bottom for piece in pieces),
        max(piece.right for piece in pieces),
    )


def split_touching(mask, height):
    """Column ranges of the digits in one group of marks, cutting groups much too wide.

    height is the typical digit height in the picture. A digit is rarely wider than 1.4
    times that; a wider group is taken for touching digits, about 0.75 times the height wide
    each, and cut near each expected boundary at the column with the least ink, provided it
    holds clearly less ink than a typical column (a thin join, not the middle of a wide 2).
    """
    columns = np.flatnonzero(mask.any(axis=0))
    left, right = columns.min(), columns.max() + 1
    width = right - left
    if width <= 1.4 * height:
        return [slice(left, right)]
    count = max(2, round(width / (0.75 * height)))
    profile = mask[:, left:right].sum(axis=0)
    typical = np.median(profile[profile > 0])
    cuts = [left]
    for i in range(1, count):
        centre, reach = i * width // count, width // (3 * count)
        window = profile[centre - reach : centre + reach + 1]
        if window.min() < 0.6 * typical:
            cuts.append(left + centre - reach + int(np.argmin(window)))
    cuts.append(right)
    # Marks one or two pixels tall (dashes) make count exceed the columns, and cuts repeat.
    return [slice(a, b) for a, b in itertools.pairwise(cuts) if mask[:, a:b].any()]


def to_mnist(ink, mask):
    """Lays out the ink of mask's marks as MNIST does: uint8 (28, 28).

    The marks' bounding box is fitted into 20x20; their anti-aliased edges (grey levels that
    touch them) come along, while other ink, such as specks or neighbouring digits, does not.
    """
    # The box is measured at half intensity, as MNIST's 20 pixels are.
    rows, columns = np.nonzero(mask & (ink >= 0.5))
    if len(rows) == 0:
        rows, columns = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    longest = max(bottom - top, right - left)

    # Thin strokes would shrink to faint hairlines in 20x20: widen them by a running maximum.
    stroke = _stroke_width(mask[top:bottom, left:right]) * BOX_SIZE / longest
    radius = max(0, round((STROKE_WIDTH - stroke) * longest / BOX_SIZE / 2))

    window = (top - radius - 2, bottom + radius + 2, left - radius - 2, right + radius + 2)
    digit = np.where(_grey_dilate(_crop(mask, *window), 1), _crop(ink, *window), 0)
    if radius:
        digit = _grey_dilate(digit, radius)

    scale = BOX_SIZE / (longest + 2 * radius)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    small = Image.fromarray(digit.astype(np.float32), mode="F")
    small = np.clip(np.asarray(small.resize(size, Image.Resampling.LANCZOS)), 0, 1)
    small /= max(small.max(), 1e-6)  # MNIST strokes reach full white.

    # Shift by whole pixels, as MNIST did, to put the centre of mass on pixel (14, 14).
    rows, columns = np.indices(small.shape)
    total = small.sum()
    down = round(CENTRE - (rows * small).sum() / total)
    across = round(CENTRE - (columns * small).sum() / total)
    height, width = small.shape
    # Paste into a field with room all round, then cut the middle out: nothing overflows.
    field = np.zeros((IMAGE_SIZE + 2 * height, IMAGE_SIZE + 2 * width), np.float32)
    field[height + down : 2 * height + down, width + across : 2 * width + across] = small
    field = field[height : height + IMAGE_SIZE, width : width + IMAGE_SIZE]
    return (field * 255 + 0.5).astype(np.uint8)


def _crop(values, top, bottom, left, right):
    """values[top:bottom, left:right], with zeros where the window leaves the picture."""
    crop = np.zeros((bottom - top, right - left), values.dtype)
    inside_top, inside_left = max(top, 0), max(left, 0)
    inside_bottom, inside_right = min(bottom, values.shape[0]), min(right, values.shape[1])
    crop[inside_top - top : inside_bottom - top, inside_left - left : inside_right - left] = values[
        inside_top:inside_bottom, inside_left:inside_right
    ]
    return crop


def _stroke_width(mask):
    """Average stroke width in pixels: twice the area over the outline length.

    The outline is counted in pixel edges, which overstates a slanted edge's length by 4/pi
    on average over directions; the factor corrects for that.
    """
    area = mask.sum()
    outline = np.count_nonzero(np.diff(mask, axis=0)) + np.count_nonzero(np.diff(mask, axis=1))
    outline += 2 * (mask[0].sum() + mask[-1].sum() + mask[:, 0].sum() + mask[:, -1].sum())
    return 2 * area / max(outline, 1) * 4 / np.pi


def _grey_dilate(values, radius):
    """Grey-level dilation (a running maximum) by a square: down the columns, then the rows.

    Near the edges the window simply holds fewer pixels.
    """
    for _ in range(2):
        source, values = values, values.copy()
        for shift in range(1, radius + 1):
            np.maximum(values[shift:], source[:-shift], out=values[shift:])
            np.maximum(values[:-shift], source[shift:], out=values[:-shift])
        values = values.T
    return values
