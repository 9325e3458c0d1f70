"""Lighting and background: which side is ink, and how far each pixel stands out from the
paper around it, whatever the shadows and the light across the page.

The result is a Contrast: 0 on paper, towards 1 in the ink, the ink bright whatever its
polarity, with its histogram and the ink's peak contrast, from which ink.py takes its cut.
"""

import dataclasses

import cv2
import numpy as np

from .marks import square
from .reading import WORK_SIZE

SMALL_IMAGE = 64  # Below this size a picture has no room for uneven lighting: one background.
OPENING_SIZE = 0.2  # Strokes narrower than this fraction of the picture are not background.
FINE_OPENING = 0.01  # In a picture read finer for thin strokes, anything wider is background.
FAINTEST = 0.1  # Where nothing differs this much from its surroundings, no side is ink.
PAPER_BORDER = 0.75  # A picture with this share of its border on the light side,
PAPER_SHARE = 0.4  # ...and this share of all of it, or dark marks reaching all four sides
# (a crop to the ink's box), is light paper, whatever else says.


@dataclasses.dataclass(frozen=True)
class Contrast:
    """How far each pixel of a picture stands out from its local background (values, float32
    in 0..1, the ink bright whatever its polarity; levels, the same as uint8 0..255), their
    histogram of 256 bins, and the ink's contrast: its peak. thin: whether only strokes a few
    pixels wide were measured, everything wider being background."""

    values: np.ndarray
    levels: np.ndarray
    counts: np.ndarray
    peak: float
    thin: bool = False


def ink_bright(gray):
    """The grey picture with its ink made bright: inverted when the background is light."""
    return 1 - gray if has_light_background(gray) else gray


def has_light_background(gray):
    """Whether the ink is darker than its background: light paper cropped close around dark
    ink (paper_around), or a picture whose ink stands out dark (stands_out_dark)."""
    levels = as_bytes(gray)
    cut, light = cv2.threshold(levels, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return paper_around(light.view(bool)) or _stands_out_dark(gray, histogram(levels))


def paper_around(light):
    """Whether a picture is light paper cropped close around dark ink: at least PAPER_BORDER
    of its border on the light side of Otsu's cut (light), and PAPER_SHARE of all of it or
    dark marks reaching all four sides, as they do in a crop to the ink's box.

    The cues of _stands_out_dark count on the ink being the rarer near its pixels. Cropped
    close around thick strokes, the paper is the rarer there, and its scraps look like light
    marks on dark ink; but the border is still paper. A dark background holds the border of
    its picture (a blackboard, a white-on-black canvas), or most of the picture when light
    surrounds it, without reaching the border (a light frame, the page around a drawing
    app's black canvas).
    """
    sides = light[0], light[-1], light[:, 0], light[:, -1]
    if np.concatenate(sides).mean() < PAPER_BORDER:
        return False
    return light.mean() >= PAPER_SHARE or not any(side.all() for side in sides)


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
    below, above, reach = _far_from_local_median(gray)
    darkest, low, middle, high, lightest = percentiles(counts, (0.1, 1, 50, 99, 99.9))
    if reach < FAINTEST:
        return middle >= 0.5  # Nothing stands out either way: paper is light, boards are dark.
    if below > 2 * above or above > 2 * below:
        return below > above
    by_median = high - middle < middle - low
    reach = 0.15 * (lightest - darkest)
    by_rarity = counts[: _bin(darkest + reach) + 1].sum() < counts[_bin(lightest - reach) :].sum()
    if by_median == by_rarity or below == above:
        return by_median
    return below > above


def _far_from_local_median(gray):
    """How many pixels lie far below and far above the median of their quarter of the
    picture (every other pixel is counted), far meaning beyond half the largest difference,
    and that largest difference."""
    height, width = gray.shape
    if max(height, width) < SMALL_IMAGE or min(height, width) < 16:
        return 0, 0, 1.0  # Too small for uneven lighting, or for quarters worth the name.
    cell_height, cell_width = height // 4, width // 4
    blocks = gray[: 4 * cell_height, : 4 * cell_width].reshape(4, cell_height, 4, cell_width)
    # Every other row and column of each quarter is plenty for its median.
    medians = np.median(blocks[:, ::2, :, ::2].swapaxes(1, 2).reshape(4, 4, -1), axis=2)
    medians = medians.astype(np.float32)
    local = cv2.resize(medians, (width, height), interpolation=cv2.INTER_LINEAR)
    difference = (gray - local)[::2, ::2]
    reach = np.abs(difference).max()
    return np.count_nonzero(difference < -reach / 2), np.count_nonzero(difference > reach / 2), reach


def contrast_of(bright, thin=False):
    """The Contrast of a picture whose ink is bright.

    thin: the strokes are known to be a few pixels wide, so that everything wider (the
    paper's blotches and grain, as well as lighting and shadows) is background.
    """
    if thin:
        # A grey-level opening over small squares: what it leaves out are the thin strokes.
        radius = max(2, round(FINE_OPENING * max(bright.shape) / 2))
        background = cv2.morphologyEx(bright, cv2.MORPH_OPEN, square(radius))
    else:
        background = _background(bright)
    # Dark ink on paper reflects a fixed fraction of the light the paper gets; dividing by the
    # local paper brightness (1 - background here) undoes shadows and uneven lighting.
    values = np.clip((bright - background) / np.maximum(1 - background, 0.1), 0, 1)
    return contrast_from(values, thin)


def contrast_within(contrast, keep):
    """The Contrast of a picture's pixels in the mask keep alone, the others set to paper: a
    part of the picture read again without what set its cut (a form's print, a box, the
    edge of a shadow)."""
    return contrast_from(np.where(keep, contrast.values, 0).astype(np.float32), contrast.thin)


def contrast_from(values, thin):
    """The Contrast of a picture's contrast values."""
    levels = as_bytes(values)
    counts = histogram(levels)
    # The ink's contrast, from its brightest few dozen pixels (a small digit has no more); in a
    # picture read finer than WORK_SIZE, a stroke's pixels grow with its length, not its area.
    (peak,) = percentiles(counts, (100 - 0.03 * min(1, WORK_SIZE / max(values.shape)),))
    return Contrast(values, levels, counts, peak, thin)


def _background(bright):
    """A smooth estimate of the background of a picture whose ink is bright, blind to strokes.

    A grey-level opening (a running minimum, then a running maximum) over squares 0.2 of
    the picture wide erases every stroke narrower than that but keeps the sharp edge of a
    shadow. It runs at a quarter of the resolution, which is plenty for lighting.
    """
    height, width = bright.shape
    if max(height, width) < SMALL_IMAGE:
        return np.float32(percentiles(histogram(as_bytes(bright)), (25,))[0])
    small = cv2.resize(bright, (-(-width // 4), -(-height // 4)), interpolation=cv2.INTER_AREA)
    radius = max(2, round(OPENING_SIZE * max(small.shape) / 2))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, square(radius))
    # A region may be shadowed, but not to more than halfway towards the ink: otherwise a
    # blob of strokes thicker than the square would be taken for background.
    level = np.median(opened)
    (ink,) = percentiles(histogram(as_bytes(bright[::2, ::2])), (99.5,))
    opened = np.minimum(opened, level + 0.5 * max(ink - level, 0))
    return cv2.resize(opened, (width, height), interpolation=cv2.INTER_LINEAR)


def as_bytes(values):
    """Values in 0..1 as uint8 levels 0..255, rounded."""
    return cv2.convertScaleAbs(values, alpha=255)


def histogram(levels):
    """Counts of each of the 256 levels of a uint8 picture."""
    return cv2.calcHist([levels], [0], None, [256], [0, 256]).ravel()


def percentiles(counts, percents):
    """Percentiles (in 0..1) read from a histogram: much faster than sorting."""
    cumulative = np.cumsum(counts)
    ranks = np.asarray(percents) / 100 * (cumulative[-1] - 1)
    return tuple(np.searchsorted(cumulative, ranks, side="right") / (len(counts) - 1))


def _bin(value, bins=256):
    """The histogram bin that holds value."""
    return int(np.clip(value, 0, 1) * (bins - 1) + 0.5)


def otsu(levels, top=255):
    """Otsu's cut (in 0..1) of a uint8 picture's levels, counting those above top as top:
    the cut that best separates two classes."""
    if top < 255:
        levels = np.minimum(levels, top)
    cut, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return cut / 255
