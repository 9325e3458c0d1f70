"""A line drawn under the digits, as people underline a 6 or a 9, or an answer, left out."""

from .marks import box_of

UNDERLINE_FLATNESS = 0.25  # A line under the digits is at most this tall for its width,
UNDERLINE_GAP = 0.05  # ...lies apart below all other ink, lower by this fraction of its height,
UNDERLINE_SPAN = 0.5  # ...and runs under at least this fraction of its width.


def without_underlines(marks):
    """The marks without the flat ones that lie apart below all the others and run under at
    least half of them. Only the mark that begins lowest can lie below all the others."""
    if len(marks) < 2:
        return marks
    line = max(marks, key=lambda mark: mark.top)
    rest = [mark for mark in marks if mark is not line]
    top, left, bottom, right = box_of(rest)
    if (line.height <= UNDERLINE_FLATNESS * line.width
            and line.top >= bottom + UNDERLINE_GAP * (bottom - top)
            and min(line.right, right) - max(line.left, left) >= UNDERLINE_SPAN * (right - left)):
        return without_underlines(rest)  # a second line under the first
    return marks
