"""Reading: a picture file, safely, as its user sees it, in grey at the size a step needs.

Only regular files are opened (a FIFO or a device would block or never end), and only by
Pillow's own raster decoders (RASTER_FORMATS): a PostScript file under any name is never
handed to Ghostscript. Pillow stays the decoder because it knows the formats people send
(EXIF orientation, 16-bit scans, palettes, animated GIFs, HEIC through pillow-heif) and
refuses decompression bombs; OpenCV takes over once there are pixels.
"""

import contextlib
import errno
import io
import os
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin

from .errors import ImageError, NotAPicture, OutOfMemory
from .transparency import flatten_transparency

# Pictures are processed at no more than this many pixels a side: 20x20 is the goal, and a
# digit filling a tenth of this width still has 25 pixels to be read from.
WORK_SIZE = 256
REDUCE_TO = 4  # A picture over this many times the size asked for is shrunk in whole steps first.
LUMA = np.float32([0.299, 0.587, 0.114])  # Grey from red, green and blue, as Pillow weighs them.

# Pillow's decoders of raster pictures. Left out: EPS (Pillow runs Ghostscript on it), WMF,
# MPEG and the scientific formats whose Pillow plugins only identify a file.
RASTER_FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP", "DIB", "PPM", "TGA", "ICO",
                  "AVIF", "JPEG2000", "PCX", "PSD", "QOI", "SGI", "HEIF")
SVG_SUFFIXES = (".svg", ".svgz")
# iPhones save photos as HEIF (.heic) by default, which Pillow reads only with the
# pillow-heif plugin. It is loaded on the first such picture, since it adds 0.05 s to start-up.
HEIF_SUFFIXES = (".heic", ".heif", ".hif")
HEIF_BRANDS = {b"ftyp" + brand for brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")}
DOCUMENT_STARTS = (b"%!PS", b"%PDF", b"\xc5\xd0\xd3\xc6")  # PostScript, PDF, DOS EPS


def picture_suffixes():
    """File name endings of the formats read here, plus SVG (to say it is not read)."""
    registered = Image.registered_extensions()  # Loads every Pillow plugin: only for folders.
    return ({suffix for suffix, format in registered.items() if format in RASTER_FORMATS}
            | set(HEIF_SUFFIXES) | set(SVG_SUFFIXES))


def open_picture(source, size=WORK_SIZE):
    """A picture as its user sees it: first frame, EXIF orientation applied, decoded at no
    less than size pixels a side where the format can decode smaller (JPEG).

    source is a path; the bytes of a picture file (an upload), read as a file is; or a PIL
    image, which is left as it was (an upright copy comes back when its EXIF says it is
    turned). Every failure is an ImageError with a one-line reason.
    """
    if isinstance(source, Image.Image):
        return _upright(source)
    if isinstance(source, bytes):
        if not source:
            raise ImageError("empty file (0 bytes)")
        opened = contextlib.nullcontext(io.BytesIO(source))
    else:
        path = Path(source)
        if path.suffix.lower() in SVG_SUFFIXES:
            raise NotAPicture("SVG drawings are not supported: export the drawing as PNG")
        if path.suffix.lower() in HEIF_SUFFIXES:
            enable_heif()
        opened = _regular_file(path)
    with opened as file, warnings.catch_warnings():
        # Pillow's other warnings (corrupt EXIF data, say) are no news to the user: the
        # picture is read or refused all the same.
        warnings.simplefilter("ignore")
        # Pillow only warns between 1x and 2x its pixel limit; a picture that large is
        # refused the same way, since decoding it could take gigabytes.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open_drafted(file, size) as image:
                image.load()  # Decoding errors surface here, and nothing needs the file later.
                ImageOps.exif_transpose(image, in_place=True)
                return image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(f"picture too large (over {Image.MAX_IMAGE_PIXELS:,} pixels), "
                             "refused as a possible decompression bomb") from None
        except Image.UnidentifiedImageError:
            file.seek(0)
            start = file.read(1000).lstrip()
            if start.startswith((b"<svg", b"<?xml")):
                raise NotAPicture("SVG drawings are not supported: export it as PNG") from None
            if start.startswith(DOCUMENT_STARTS):
                raise NotAPicture("a PostScript or PDF document, not a picture: only raster "
                                 "pictures are read (export the page as PNG or JPEG)") from None
            if start[4:12] in HEIF_BRANDS and "HEIF" not in Image.OPEN:
                enable_heif()  # a HEIF photo whose name does not say so
                return open_picture(source, size)
            raise NotAPicture("not an image file (Pillow cannot identify it)") from None
        except MemoryError:
            raise OutOfMemory("not enough memory to decode the picture") from None
        # Pillow's decoders raise OSError, SyntaxError, EOFError, ValueError and others for
        # broken files; every one of them means the same to the user.
        except Exception as error:  # noqa: BLE001
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ImageError(f"broken image file ({reason or type(error).__name__})") from None


class _regular_file:
    """Opens a path for reading only if it is a regular file, without blocking on the way:
    a FIFO opened for reading would wait for a writer forever, and a device never ends."""

    def __init__(self, path):
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as error:
            raise ImageError(_open_failure(error)) from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                kind = ("a folder" if stat.S_ISDIR(status.st_mode)
                        else "a FIFO (named pipe)" if stat.S_ISFIFO(status.st_mode)
                        else "a device" if stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode)
                        else "a socket" if stat.S_ISSOCK(status.st_mode) else "a special file")
                raise ImageError(f"not a regular file ({kind})")
            if status.st_size == 0:
                raise ImageError("empty file (0 bytes)")
        except BaseException:
            os.close(descriptor)
            raise
        self.file = os.fdopen(descriptor, "rb")

    def __enter__(self):
        return self.file

    def __exit__(self, *exception):
        self.file.close()


def _open_failure(error):
    """The one-line reason an os.open() failed."""
    reasons = {errno.ENOENT: "not found", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ELOOP: "a loop of symbolic links",
               errno.ENAMETOOLONG: "name too long", errno.ENOTDIR: "not found (a part of "
               "the path is not a folder)"}
    return reasons.get(error.errno, f"cannot be opened ({error.strerror})")


def _open_drafted(file, size):
    """Image.open, then draft(): a JPEG at least twice size is decoded at 1/2, 1/4 or 1/8
    scale. Pillow checks its pixel limit on the full size, before draft() can shrink it, so
    a JPEG over the limit (a 108- or 200-megapixel phone photo) is opened by its plugin
    directly and checked at the size it will be decoded at."""
    try:
        image = Image.open(file, formats=RASTER_FORMATS if "HEIF" in Image.OPEN
                           else RASTER_FORMATS[:-1])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        file.seek(0)
        try:
            image = JpegImagePlugin.JpegImageFile(file)
        except SyntaxError:  # not a JPEG: nothing shrinks it while decoding
            raise Image.DecompressionBombError("too large") from None
        image.draft(None, (size, size))
        if image.width * image.height > Image.MAX_IMAGE_PIXELS:
            image.close()
            raise Image.DecompressionBombError("too large") from None
        return image
    image.draft(None, (size, size))
    return image


def _upright(image):
    """A PIL image turned upright as its EXIF orientation says (a copy: the caller's image
    stays as it was); a lazily opened file is decoded here, its errors the picture's."""
    if 0 in image.size:
        raise ImageError("empty picture (0 pixels)")
    try:
        image.load()
    except Exception as error:  # noqa: BLE001  Pillow raises many types for a bad file.
        raise ImageError(f"the picture cannot be read ({type(error).__name__}: "
                         f"{str(error).strip() or 'no reason given'})") from None
    upright = image.getexif().get(ExifTags.Base.Orientation, 1) == 1
    return image if upright else ImageOps.exif_transpose(image)


def enable_heif():
    """Lets Pillow open HEIF pictures, or raises ImageError when pillow-heif is missing."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise NotAPicture("HEIC/HEIF photos need the pillow-heif package "
                         "(pip install pillow-heif), or save the photo as JPEG") from None
    if "HEIF" not in Image.OPEN:  # once, not for every photo of a folder
        register_heif_opener()


def grey(picture, size=WORK_SIZE):
    """A PIL picture as float32 grey levels in 0..1, shrunk to at most size pixels a side
    by averaging (thin strokes fade, never vanish).

    Either polarity may come back: dark ink on paper, or ink on a transparent canvas returned
    as bright ink (its opacity) on black.
    """
    if picture.mode.startswith("I") or picture.mode == "F":
        return _shrunk(_high_bit_depth(_reduced(picture, size)), size)
    if picture.mode == "La":  # premultiplied alpha: Pillow converts it to LA only
        picture = picture.convert("LA").convert("RGBA")
    elif picture.has_transparency_data:
        if picture.mode != "RGBA":  # converting to its own mode would copy it
            picture = picture.convert("RGBA")
    elif picture.mode not in ("L", "RGB"):
        picture = picture.convert("RGB")  # palette, 1-bit, CMYK, YCbCr...
    values = np.asarray(_reduced(picture, size))
    if picture.mode == "RGBA":
        # Averaged with their opacity as weight, so that the colour hidden in transparent
        # pixels does not bleed into the visible ones.
        values = values.astype(np.float32) / 255
        values[..., :3] *= values[..., 3:]
        return flatten_transparency(_shrunk(values, size), LUMA)
    if picture.mode == "RGB":
        values = cv2.cvtColor(values, cv2.COLOR_RGB2GRAY)
    return _shrunk(values.astype(np.float32) / 255, size)


def _reduced(picture, size):
    """A large picture shrunk by a whole factor to between 4 and 8 times size a side, each
    pixel the average of a block (Pillow's reduce(), weighing colour by opacity), before it
    is turned into floats: a 9,400-pixel RGBA PNG, under Pillow's pixel limit, took 4 GB as
    floats at full size."""
    factor = max(picture.size) // (REDUCE_TO * size)
    if factor < 2:
        return picture
    if picture.mode.startswith("I;16"):
        picture = picture.convert("I")  # Pillow shrinks 32-bit pixels, not 16-bit ones
    return picture.reduce(factor)


def _shrunk(values, size):
    """values at most size pixels a side, the aspect kept, each pixel the average of those
    it covers."""
    height, width = values.shape[:2]
    scale = size / max(height, width)
    if scale >= 1:
        return values
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(values, shape, interpolation=cv2.INTER_AREA)


def _high_bit_depth(image):
    """16-bit, 32-bit integer and float pictures as float32 in 0..1; pixels that are not
    numbers (NaN, infinite) take the typical value of the others."""
    values = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, np.median(values[finite]) if finite.any() else 0)
    if image.mode == "F" and values.min() >= 0 and values.max() <= 1:
        return values
    if values.min() >= 0 and values.max() <= 65535:
        # Cameras and scanners store 10-, 12- or 14-bit values in 16-bit files, mostly without
        # saying so (Pillow does not read PNG's sBIT): the narrowest of the usual depths that
        # holds every pixel is taken as the picture's. 8-bit values in a wider type are one case.
        bits = next(bits for bits in (8, 10, 12, 14, 16) if values.max() < 2**bits)
        return values / np.float32(2.0**bits - 1)
    values = values - values.min()
    return values / max(float(values.max()), 1e-6)


def region(source, picture, box, shape, size, finer):
    """The region box (top, left, bottom, right, in the pixels of a picture of shape read
    by grey()) of the picture as decoded, in grey at up to size pixels a side: a JPEG
    decoded at a reduced scale is decoded again at the scale the region needs.

    None for a part of a canvas, whose ink is told from its background by the opacity of the
    whole; and, when finer, for a picture with too few pixels to show the region finer than
    the picture of shape did."""
    height, width = shape
    top, left, bottom, right = box
    top, left = max(top, 0) / height, max(left, 0) / width
    bottom, right = min(bottom, height) / height, min(right, width) / width
    # A JPEG's reduced decoding gives between one and two times the pixels asked for.
    needed = size / 2 / max(bottom - top, right - left)
    if max(picture.size) < needed and not isinstance(source, Image.Image):
        picture = open_picture(source, int(needed))
    part = (top, left, bottom, right) != (0, 0, 1, 1)
    if (part and picture.has_transparency_data) or (
            finer and max(picture.size) < 1.5 * max(shape)):
        return None
    if not part:
        return grey(picture, size)  # not a copy of it: a picture can take hundreds of MB
    picture_width, picture_height = picture.size
    cut = picture.crop((round(left * picture_width), round(top * picture_height),
                        round(right * picture_width), round(bottom * picture_height)))
    return grey(cut, size)


def thumbnail(path, size):
    """The picture as its user sees it, at most size pixels a side: uint8 RGBA array."""
    image = open_picture(path, size)
    if image.mode.startswith("I") or image.mode == "F":
        image = Image.fromarray((_high_bit_depth(image) * 255).astype(np.uint8))
    image = image.convert("RGBA")
    image.thumbnail((size, size))
    return np.asarray(image)
