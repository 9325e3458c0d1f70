"""Grouping marks into lines of writing, top to bottom, and each line into digits, left to
right: the pieces of a broken stroke joined, digits that touch cut."""

import collections
import itertools

import numpy as np

from .marks import Mark, box_of, dilate, label_marks, mask_of, stroke_width

LINE_GAP = 0.05  # Lines of digits lie at least this fraction of their height apart.
SMALL_MARK = 0.5  # Marks under this share of the tallest's height (a dash, a bar) join others;
PIECE = 0.25  # ...two of them at least this tall, one above the other, are one digit,
STACK_GAP = 0.25  # ...when less than this share of the tallest apart.
FAR_MARK = 1.0  # A small mark farther than this share of the tallest from every line is no
                # part of the writing (a button of an app, a speck of the desk) and is left out.
TEXT_MARKS = 3  # As many small marks side by side are a line of their own,
TEXT_WIDTH = 0.5  # ...spanning this share of the tallest mark's height at least,
TEXT_BASELINE = 0.25  # ...most standing on one baseline to within this share of their height.
WIDEST_DIGIT = 1.4  # A digit is rarely wider than this many times the typical height;
TOUCHING_WIDTH = 0.75  # ...a wider group holds digits about this many times it wide each,
THIN_JOIN = 0.6  # ...joined where a column holds under this share of a typical one's ink.
# Pieces of one stroke that a grainy pencil or a dry pen broke apart are joined by paler ink
# in the gaps: at least this share of the strokes' cores (under the cut between paper and
# ink), within this many pixels of the marks (measured on every set: docs/picture-pipeline.md).
BRIDGE_INK = 0.25
BRIDGE_REACH = 2


def pieces_joined(labels, marks, ink):
    """The marks, with those that paler ink joins into one piece no wider than a digit
    (WIDEST_DIGIT times its height) made one mark: (labels, marks).

    A stroke broken into grains, or a 4 whose two strokes a dry pen left a pixel apart, was
    read as two digits or as specks and a digit. The pale ink counts only within
    BRIDGE_REACH pixels of the marks, so that a shadow or the paper's grain joins nothing,
    and a word's letters, joined wider than a digit, stay apart.
    """
    kept = mask_of(labels, marks)
    bridged = kept | ((ink >= BRIDGE_INK) & dilate(kept, BRIDGE_REACH))
    pieces, _ = label_marks(bridged)
    piece_of = np.zeros(labels.max() + 1, pieces.dtype)
    piece_of[labels[kept]] = pieces[kept]  # A mark lies within one piece.
    groups = collections.defaultdict(list)
    for mark in marks:
        groups[piece_of[mark.label]].append(mark)
    joined = [group for group in groups.values()
              if len(group) > 1 and _width(group) <= WIDEST_DIGIT * _height(group)]
    if not joined:
        return labels, marks
    relabel = np.arange(labels.max() + 1, dtype=labels.dtype)
    gone = {mark.label for group in joined for mark in group}
    marks = [mark for mark in marks if mark.label not in gone]
    for group in joined:
        first = group[0]
        relabel[[mark.label for mark in group]] = first.label
        marks.append(Mark(first.label, sum(mark.area for mark in group), *box_of(group)))
    return relabel[labels], marks


def lines_of_writing(marks, labels):
    """The marks grouped into lines of writing, top to bottom.

    Two marks whose rows overlap by at least half the shorter's height share a line, and so
    do the marks linked through them: a number written uphill stays one line, digit by
    digit. Then a group under half the tallest mark's height (a dash, the bar of a 5 drawn
    above its body) joins the line nearest to it, unless it is a row of small writing (a
    printed question above a written answer: _small_writing), or lies farther from it than
    FAR_MARK of the tallest mark's height (an app's button, a speck of the desk: it is left
    out, where joined to the line it could be taken for part of a digit); and groups with
    marks above one another whose ink comes closer than a stroke's width, or LINE_GAP of
    their height, are one line (the two loops of an 8 whose pen lifted between them).
    """
    found = []  # (the marks of a line, where the lowest of them ends)
    for mark in sorted(marks, key=lambda mark: mark.top):
        # Marks come top first: a line ending above this one cannot share its rows.
        linked = [index for index, (line, bottom) in enumerate(found)
                  if bottom > mark.top and any(_rows_shared(mark, other) for other in line)]
        joined = [mark, *itertools.chain(*(found[index][0] for index in linked))]
        found = [entry for index, entry in enumerate(found) if index not in linked]
        found.append((joined, max(other.bottom for other in joined)))
    lines = [line for line, _ in found]

    def middle(line):
        top, _, bottom, _ = box_of(line)
        return (top + bottom) / 2

    tallest = max(mark.height for mark in marks)
    # A row of several small marks on one baseline is a line of small writing (a printed
    # label), not a dash or the dots of a broken stroke.
    for small in [line for line in lines if _height(line) < SMALL_MARK * tallest
                  and not _small_writing(line, tallest)]:
        others = [line for line in lines if line is not small]
        if others:
            nearest = min(others, key=lambda line: abs(middle(line) - middle(small)))
            if _gap(nearest, small) <= FAR_MARK * tallest:
                nearest.extend(small)
            lines = others
    stroke = stroke_width(mask_of(labels, marks))
    merged = True
    while merged:
        merged = False
        for first, second in itertools.combinations(lines, 2):
            height = min(max(mark.height for mark in line) for line in (first, second))
            near = max(stroke, LINE_GAP * height)
            if _stacked_gap(first, second, labels, near) < near:
                lines = [line for line in lines if line is not second]
                first.extend(second)
                merged = True
                break
    return sorted(lines, key=lambda line: box_of(line)[0])


def _gap(first, second):
    """The rows between two groups of marks' boxes (0 when their rows overlap)."""
    (top, _, bottom, _), (other_top, _, other_bottom, _) = box_of(first), box_of(second)
    return max(0, top - other_bottom, other_top - bottom)


def _small_writing(line, tallest):
    """Whether a line of marks is a row of small writing: TEXT_MARKS marks or more, as wide
    as TEXT_WIDTH of tallest, most of them standing on one baseline (to within TEXT_BASELINE
    of their height), where the dots of a broken stroke step down one after the other."""
    if len(line) < TEXT_MARKS or _width(line) < TEXT_WIDTH * tallest:
        return False
    bottoms = np.array([mark.bottom for mark in line])
    height = np.median([mark.height for mark in line])
    return np.median(np.abs(bottoms - np.median(bottoms))) <= TEXT_BASELINE * height


def _rows_shared(first, second):
    """Whether two marks' rows overlap by at least half the shorter one's height."""
    shared = min(first.bottom, second.bottom) - max(first.top, second.top)
    return shared >= 0.5 * min(first.height, second.height)


def _stacked_gap(first, second, labels, within=np.inf):
    """The least vertical distance, in pixels, between the ink of a mark of one group and
    the ink of a mark of the other in the same column; infinite when none share a column.
    Only distances under within are measured (the ink is no closer than the marks' boxes:
    on a page of lines, most pairs are told apart by their boxes alone)."""
    if _gap(first, second) >= within:
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


def digits_of(line):
    """A line's marks grouped into digits, left to right.

    A mark joins the digit before it when their column ranges overlap by at least half the
    narrower one: the stem of a 4 drawn in two strokes. A small mark (under half the tallest
    digit's height) joins the digit whose columns it overlaps most, like the detached bar of
    a 5, and is dropped when it overlaps none, like a dot or a dash.
    """
    groups = []
    for mark in sorted(line, key=lambda mark: mark.left):
        if groups and _overlap([mark], groups[-1]) >= 0.5 * min(mark.width, _width(groups[-1])):
            groups[-1].append(mark)
        else:
            groups.append([mark])
    tallest = max(_height(group) for group in groups)
    groups = _stacked_pieces(groups, tallest)
    digits = [group for group in groups if _height(group) >= SMALL_MARK * tallest]
    for small in (group for group in groups if _height(group) < SMALL_MARK * tallest):
        overlaps = [_overlap(small, digit) for digit in digits]
        if max(overlaps) > 0:
            digits[int(np.argmax(overlaps))].extend(small)
    return digits


def _stacked_pieces(groups, tallest):
    """The groups, with two small ones that lie one above the other (sharing columns, not
    rows, under STACK_GAP of the tallest apart), each at least PIECE of the tallest's height,
    joined: a stroke the pen broke in two, such as a 1 written in two goes. Left as they are
    when small groups outnumber the digits two to one (hatching, a scribble's strokes)."""
    small = [group for group in groups if PIECE * tallest <= _height(group) < SMALL_MARK * tallest]
    if not small or len(small) > 2 * max(1, len(groups) - len(small)):
        return groups
    joined, used = list(groups), set()
    for first, second in itertools.combinations(small, 2):
        if id(first) in used or id(second) in used or _overlap(first, second) <= 0:
            continue
        (top, _, bottom, _), (other_top, _, other_bottom, _) = box_of(first), box_of(second)
        if 0 <= max(other_top - bottom, top - other_bottom) < STACK_GAP * tallest:
            used |= {id(first), id(second)}
            joined = [group for group in joined if group is not second]
            first.extend(second)
    return sorted(joined, key=lambda group: box_of(group)[1])


def _overlap(first, second):
    """How many columns two groups of marks share."""
    return min(box_of(first)[3], box_of(second)[3]) - max(box_of(first)[1], box_of(second)[1])


def _height(marks):
    top, _, bottom, _ = box_of(marks)
    return bottom - top


def _width(marks):
    _, left, _, right = box_of(marks)
    return right - left


def typical_height(digits):
    """The median height of a line's digits (groups of marks)."""
    return float(np.median([_height(digit) for digit in digits]))


def split_touching(mask, height):
    """Column ranges of the digits in one group of marks (mask: their pixels), cutting
    groups much too wide for one digit of the typical height.

    A digit is rarely wider than WIDEST_DIGIT times the height; a wider group is taken for
    touching digits, about TOUCHING_WIDTH times the height wide each, and cut near each
    expected boundary at the column with the least ink, provided it holds clearly less ink
    than a typical column (a thin join, not the middle of a wide 2), and provided each part
    is a digit's height (half the typical height at least).
    """
    columns = np.flatnonzero(mask.any(axis=0))
    left, right = columns.min(), columns.max() + 1
    width = right - left
    if width <= WIDEST_DIGIT * height:
        return [slice(left, right)]
    count = max(2, round(width / (TOUCHING_WIDTH * height)))
    profile = mask[:, left:right].sum(axis=0)
    typical = np.median(profile[profile > 0])
    cuts = [left]
    for i in range(1, count):
        centre, reach = i * width // count, width // (3 * count)
        window = profile[centre - reach : centre + reach + 1]
        if window.min() < THIN_JOIN * typical:
            cuts.append(left + centre - reach + int(np.argmin(window)))
    cuts.append(right)
    # Marks one or two pixels tall (dashes) make count exceed the columns, and cuts repeat.
    parts = [slice(a, b) for a, b in itertools.pairwise(cuts) if mask[:, a:b].any()]
    # A part under SMALL_MARK of the height is no digit but a stroke of one (the long tail
    # of a 2, the bar of a 7): it stays with the part before it (or after, if first).
    index = 0
    while len(parts) > 1 and index < len(parts):
        rows = np.flatnonzero(mask[:, parts[index]].any(axis=1))
        if rows[-1] + 1 - rows[0] >= SMALL_MARK * height:
            index += 1
            continue
        other = index - 1 if index else 1
        first, last = sorted((index, other))
        parts[first : last + 1] = [slice(parts[first].start, parts[last].stop)]
        index = first
    return parts
