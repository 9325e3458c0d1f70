"""The errors the picture pipeline raises: ImageError, and the kinds of it a caller may
answer differently (the page's status codes, "no digit" rather than a failure)."""


class ImageError(ValueError):
    """A picture that cannot be answered; the message is one line for the user."""


class NotAPicture(ImageError):
    """The file is no raster picture this pipeline reads: text, SVG, PostScript, PDF."""


class NoInk(ImageError):
    """The picture was read, and holds no ink: there is no digit on it."""


class NoDigit(NoInk):
    """The picture holds ink of a shape no digit has (an i's dot, an empty box): there is no
    digit on it either."""


class OutOfMemory(ImageError):
    """Not enough memory was left to decode the picture."""
