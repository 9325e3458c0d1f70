"""Transparency: a drawing on a transparent canvas, or a cut-out, brought to grey levels.

A paint app's canvas holds its ink in the opaque pixels, whatever colour the transparent ones
hide, so the opacity itself is the ink. A card cut out of a photo (a note, a sticker) is
opaque all over and carries the digit inside: it is read on its own colour instead.
"""

import cv2
import numpy as np

ONE_COLOUR = 0.1  # Opaque pixels within this grey range (5th to 95th percentile) are ink.
CARD_FILL = 0.85  # Opaque pixels filling this much of a rectangle at some angle,
CARD_CONTRAST = 0.3  # ...light and dark by this much, the ink at most CARD_INK of them,
CARD_INK = 0.3  # ...are a card carrying the digit.


def flatten_transparency(premultiplied, luma):
    """Grey levels of an RGBA picture whose colours are premultiplied by their opacity
    (float32 in 0..1), whatever colour its transparent pixels held.

    A canvas that is mostly transparent holds its ink in the opaque pixels, so the opacity
    is the ink (bright on black), in any ink colour, and so it is in a canvas mostly covered
    by opaque pixels of one colour (a drawing cropped close); unless those pixels are a card
    with the digit on it: a solid block, light and dark inside. That, and a mostly opaque
    picture of many colours (a photo with a transparent border), is laid over its own colour
    (the card's, or the picture's average), so the border vanishes.
    """
    colour, alpha = premultiplied[..., :3], premultiplied[..., 3]
    if alpha.min() > 0.99:
        return colour @ luma
    opaque = alpha > 0.5  # Never exactly a half in 8 bits: a mean of 0.5 holds some.
    grey = np.zeros_like(alpha)  # The grey of the colour itself, where there is some.
    np.divide(colour @ luma, alpha, out=grey, where=alpha > 0)
    if alpha.mean() >= 0.5 and np.ptp(np.percentile(grey[opaque], (5, 95))) > ONE_COLOUR:
        typical = colour.sum(axis=(0, 1)) / alpha.sum()  # a photo, mostly opaque
    else:
        # Opaque pixels of one colour are ink, even when they cover most of the canvas (a
        # drawing cropped close); only a card or a photo is light and dark.
        if not is_card(opaque, grey):
            return np.ascontiguousarray(alpha)
        typical = np.median(colour[opaque] / alpha[opaque, None], axis=0)  # the card's colour
    return (colour + typical * (1 - alpha[..., None])) @ luma


def is_card(opaque, grey):
    """Whether the opaque pixels of a mostly transparent canvas (grey: the picture's grey
    levels) are a card carrying its ink: they fill most of a rectangle (strokes do not), hold
    both light and dark, and the ink is the smaller part, inside: the card's own colour runs
    along its outline (a bold stroke drawn with an outline has the outline there)."""
    if not opaque.any():
        return False
    low, high = np.percentile(grey[opaque], (1, 99))
    if high - low < CARD_CONTRAST or np.count_nonzero(opaque) < CARD_FILL * rectangle_area(opaque):
        return False
    dark = grey < (low + high) / 2
    dark_share = dark[opaque].mean()
    ink_is_dark = dark_share < 0.5  # The ink is the smaller part.
    outline = opaque & cv2.dilate((~opaque).view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    card_on_outline = np.mean(dark[outline] != ink_is_dark)
    return min(dark_share, 1 - dark_share) <= CARD_INK and card_on_outline > 0.5


def rectangle_area(mask):
    """The area in pixels of the smallest rectangle, at any angle, around a mask's pixels:
    a sheet or a card, however it lies."""
    contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    (_, _), (width, height), _ = cv2.minAreaRect(np.concatenate(contours))
    return (width + 1) * (height + 1)  # Through the outer pixels' centres: add their size.
