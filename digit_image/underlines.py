"""A line drawn under the digits, as people underline a 6 or a 9, or an answer, and a printed
rule across a form or a page, left out."""

from .marks import box_of, clear_of_edges, rectangle_sides

UNDERLINE_FLATNESS = 0.25  # A line under the digits is at most this tall for its width,
UNDERLINE_GAP = 0.05  # ...lies apart below all other ink, lower by this fraction of its height,
UNDERLINE_SPAN = 0.5  # ...and runs under at least this fraction of its width.
RULE_LENGTH = 2.5  # A printed rule is this many times as long as the tallest other mark,
RULE_THIN = 0.1  # ...at most this thick for its length,
RULE_SLOPE = 0.2  # ...and about level: its box at most this tall for its width (11 degrees),
RULE_BAR = 0.5  # ...with no mark starting this share of the tallest's height under it.


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


def without_rules(marks, labels):
    """The marks without printed rules: a form's title rule, the line of a field, apart from
    the writing (RULE_LENGTH, RULE_THIN, RULE_SLOPE). No stroke of a digit is that long for
    the digit's height; a line the digits touch is one mark with them, and a bar with a
    mark just under it (a 7's, drawn apart from its stem) is a digit's: both stay."""
    if len(marks) < 2:
        return marks
    heights = sorted((mark.height for mark in marks), reverse=True)

    def rule(mark):
        tallest = heights[1] if mark.height == heights[0] else heights[0]  # of the others
        if mark.width < RULE_LENGTH * tallest or mark.height > RULE_SLOPE * mark.width:
            return False
        if not clear_of_edges([mark], labels.shape):
            return False  # the edge of the desk or of a shadow (edges.py), or a ruled line
        long_side, short_side = rectangle_sides(mark.mask(labels))
        if short_side > RULE_THIN * long_side:
            return False
        return not any(other is not mark and other.left < mark.right and other.right > mark.left
                       and mark.bottom <= other.top <= mark.bottom + RULE_BAR * tallest
                       for other in marks)

    kept = [mark for mark in marks if not rule(mark)]
    return kept if kept else marks
