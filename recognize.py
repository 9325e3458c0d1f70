"""From a picture to an answer: a digit, a number, or that there is no digit, and why.

predict.py and the web page's server give every picture the same answer through this module:
read() brings the picture into MNIST's form twice, all its marks as one digit and its marks
as lines of digits; the model classifies those images (in batches, by the caller); answer()
decides what the picture holds from their calibrated probabilities.

How (the default, mode "auto"): a picture read as one digit is that digit. A picture whose
marks read as several digits is a number when each of them is a digit the model is sure of
(at least min_confidence), or all but one in LONG_NUMBER (that one marked uncertain), unless
all its marks together are a digit it is all but certain of (SURE_AS_ONE), or a sure digit
with one mark a line (a stray mark above or below it);
otherwise, when all its marks together are a digit it is sure of,
it is that digit (a digit broken in two, a stray mark beside it), unless every line is a line
of words (WORDS: a page of print, a word); lines of words (a worksheet's printed question)
are left out when every digit of the other lines is sure, and lines of unsure marks alone (a
stamp beside the digit) when it is all but certain; otherwise it has no digit:
the letters of a word are each often like some digit, and a word is seldom like a number
all through (docs/no_digit.md). The model was also trained on pictures with no digit
(not_a_digit.py), on which it is unsure. A picture with no ink has no digit either.
Mode "number" (--multi) reads the marks as a number always, its unsure digits marked
uncertain; mode "digit" (--single) as one digit always.
"""

import dataclasses
import itertools

import numpy as np

import digit_image

MODES = ("auto", "number", "digit")
# Below this calibrated probability a reading is not a digit the model is sure of: a
# picture whose readings all fall below it has no digit (docs/no_digit.md).
MIN_CONFIDENCE = 0.5
# All the marks read together as a digit this sure are that digit, whatever their pieces read
# as: a digit beside the remnant of a ruled line or a stray mark (a number squeezed into one
# 28x28 is never this like one digit in the digit sets: docs/no_digit.md).
SURE_AS_ONE = 0.999
# A number of this many digits or more, all sure but one (one in so many), is that number, its
# unsure digit marked: a word is seldom read as sure digits letter for letter (docs/no_digit.md).
LONG_NUMBER = 5
# A line of this many marks or more, most of them unsure, is a line of words (a worksheet's
# question, a form's label) beside the number, and is left out when the other lines are sure.
WORDS = 3


@dataclasses.dataclass
class Reading:
    """A picture brought into MNIST's form: error (why it could not be read) or no_digit (why
    there is nothing to read), else images: all its marks as one digit first, then its digits
    line by line, line_lengths saying how many each line holds."""

    path: str
    images: list = dataclasses.field(default_factory=list)
    line_lengths: list = dataclasses.field(default_factory=list)
    error: str | None = None
    no_digit: str | None = None
    # The kind of digit_image.ImageError behind error, when it has one (NotAPicture...).
    error_kind: type | None = None


@dataclasses.dataclass(frozen=True)
class Options:
    """How answer() decides (predict.py's --multi/--single, --min-confidence and --top-k
    default to these), and how many pictures classified() gives the model at once."""

    mode: str = "auto"
    min_confidence: float = MIN_CONFIDENCE
    top_k: int = 2
    batch_size: int = 256


def read(source, error=None, name=None):
    """The Reading of one picture: source is its path, or the bytes of its file (an upload,
    then known by name); error is a reason it cannot be read, known beforehand."""
    reading = Reading(name if name is not None else str(source), error=error)
    if error is not None:
        return reading
    try:
        found = digit_image.find_digits(source)
        lines = found.lines()
        reading.images = [found.as_one(), *(image for line in lines for image in line)]
        reading.line_lengths = [len(line) for line in lines]
    except digit_image.NoInk as no_ink:
        reading.no_digit = str(no_ink)
    except digit_image.ImageError as image_error:
        reading.error, reading.error_kind = str(image_error), type(image_error)
    except MemoryError:
        reading.error = "not enough memory to read the picture"
        reading.error_kind = digit_image.OutOfMemory
    return reading


def answer(reading, probabilities, mode="auto", min_confidence=MIN_CONFIDENCE, top_k=2):
    """The record of one picture (as predict.py --json prints it) from its Reading and the
    model's probabilities for its images, in order."""
    return _decided(reading, probabilities, mode, min_confidence, top_k)[0]


def _decided(reading, probabilities, mode, min_confidence, top_k):
    """(answer()'s record, the indices into reading.images of the images it rests on when
    it left some lines or marks out, else None)."""
    rests_on = None
    record = {"path": reading.path, "digit": None, "number": None, "confidence": None,
              "probabilities": None, "top": None, "digits": [], "uncertain": None,
              "no_digit": reading.no_digit, "error": reading.error}
    if reading.error is not None or reading.no_digit is not None:
        return record, rests_on
    whole, *pieces = (ranked(p, min_confidence, top_k) for p in probabilities)
    line_lengths = reading.line_lengths
    if mode == "auto" and (kept := _without_words(pieces, line_lengths)) is not None:
        rests_on = [index + 1 for line in kept for index in line]  # images[0] is the whole
        pieces = [pieces[index] for line in kept for index in line]
        line_lengths = [len(line) for line in kept]
        whole = pieces[0] if len(pieces) == 1 else whole
    if (mode == "auto" and len(pieces) == 1 and pieces[0]["confidence"] >= SURE_AS_ONE
            and (whole["uncertain"] or whole["digit"] != pieces[0]["digit"])):
        # The lines' one digit, all but certain: the marks they left out (a stamp and its
        # postmark apart, specks, the desk's edge) are what made all the marks together
        # unsure, or read as another digit.
        rests_on, whole = [1], pieces[0]
    sure = [not digit["uncertain"] for digit in pieces]
    if mode == "digit" or (mode == "auto" and len(pieces) == 1):
        chosen = "digit"
    elif mode == "number" or ((all(sure) or _long_number(sure))
                              and not _one_with_strays(whole, line_lengths)):
        chosen = "number"
    elif mode == "auto" and all(_words(pieces, line_lengths)) and whole["confidence"] < SURE_AS_ONE:
        chosen = "words"  # a page of print, a label: each line WORDS marks, most unsure
    else:
        chosen = "digit"  # the pieces were one digit (broken apart, with a stray mark), or none
    if chosen == "digit" and not whole["uncertain"]:
        record.update(whole, uncertain=False)
    elif chosen == "number" and any(sure):
        # A number is only as certain as its least certain digit.
        record.update(number=_as_number(pieces, line_lengths), digits=pieces,
                      uncertain=not all(sure), confidence=min(digit["confidence"] for digit in pieces))
    else:
        best = whole if chosen != "number" else max(pieces, key=lambda digit: digit["confidence"])
        looks = "like words" if chosen == "words" else "like none of 0-9"
        record["no_digit"] = (f"no digit: the marks look {looks}, best guess "
                              f"{best['digit']} at {best['confidence']:.0%}")
        if mode == "auto" and len(pieces) > 1:
            least = min(digit["confidence"] for digit in pieces)
            record["no_digit"] += (f"; as a number {_as_number(pieces, line_lengths)}, "
                                   f"its least sure digit at {least:.0%}")
        record.update(probabilities=whole["probabilities"], top=whole["top"])
    return record, rests_on


def _long_number(sure):
    """Whether digits (sure: whether each is sure) are a number with a few unsure: at least
    LONG_NUMBER of them for each one unsure."""
    unsure = sure.count(False)
    return 0 < unsure and len(sure) >= LONG_NUMBER * unsure


def _without_words(pieces, line_lengths):
    """The lines (each a list of indices into pieces) that are not words, when there are
    lines of words and every digit of the others is sure; else None. A line of words has
    WORDS marks or more and fewer than half of them sure digits. Without lines of words,
    lines of unsure marks alone (an envelope's stamp, a name beside the digit) are left out
    when every digit of the others is all but certain (SURE_AS_ONE)."""
    lines = _in_lines(range(len(pieces)), line_lengths)
    words, least = _words(pieces, line_lengths), 0
    if not any(words):
        words = [all(pieces[i]["uncertain"] for i in line) for line in lines]
        least = SURE_AS_ONE
    kept = [line for line, word in zip(lines, words) if not word]
    doubtful = [pieces[i]["uncertain"] or pieces[i]["confidence"] < least
                for line in kept for i in line]
    if not any(words) or not kept or any(doubtful):
        return None
    return kept


def _words(pieces, line_lengths):
    """For each line, whether it is a line of words: WORDS marks or more, fewer than half of
    them sure digits."""
    return [len(line) >= WORDS and 2 * sum(not digit["uncertain"] for digit in line) < len(line)
            for line in _in_lines(pieces, line_lengths)]


def _as_number(pieces, line_lengths):
    """The digits of pieces as a number, its lines (of line_lengths digits) joined by spaces."""
    return " ".join("".join(str(digit["digit"]) for digit in line)
                    for line in _in_lines(pieces, line_lengths))


def _in_lines(items, line_lengths):
    """items cut into lists of line_lengths items each, in order."""
    starts = itertools.accumulate(line_lengths, initial=0)
    return [list(items[start : start + length]) for start, length in zip(starts, line_lengths)]


def _one_with_strays(whole, line_lengths):
    """Whether sure digits read apart are one digit beside stray marks: all the marks read
    together as a digit at SURE_AS_ONE or more, or as a sure digit when each line holds one
    mark (a number is written along a line; a mark above or below a digit is the remnant of
    a ruled line or a note's edge)."""
    one_per_line = len(line_lengths) > 1 and max(line_lengths) == 1
    return whole["confidence"] >= SURE_AS_ONE or (one_per_line and not whole["uncertain"])


def ranked(probabilities, min_confidence, top_k):
    """The most likely digit, its probability, the top_k, and whether it is uncertain."""
    order = np.argsort(probabilities)[::-1][:top_k]
    confidence = float(probabilities[order[0]])
    return {
        "digit": int(order[0]),
        "confidence": round(confidence, 6),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "uncertain": confidence < min_confidence,
        "top": [{"digit": int(d), "probability": round(float(probabilities[d]), 6)} for d in order],
    }


def classified(readings, classify, options=Options()):
    """(record, the 28x28 images the answer rests on) for each Reading, classified a batch at
    a time. options: an Options, or anything with its fields (predict.py's arguments)."""
    while batch := list(itertools.islice(readings, options.batch_size)):
        images = [image for reading in batch for image in reading.images]
        probabilities = classify(np.stack(images)) if images else np.zeros((0, 10))
        for reading in batch:
            count = len(reading.images)
            record, rests_on = _decided(reading, probabilities[:count], options.mode,
                                        options.min_confidence, options.top_k)
            yield record, seen(reading, record, rests_on)
            probabilities = probabilities[count:]


def seen(reading, record, rests_on=None):
    """The 28x28 images an answer rests on: those of rests_on (indices into reading.images)
    when the answer left some out, else the number's digits, else the picture read as one
    digit (none when it could not be read)."""
    if rests_on is not None and (record["number"] is not None or record["digit"] is not None):
        return [reading.images[index] for index in rests_on]
    if record["number"] is not None:
        return reading.images[1:]
    return reading.images[:1]
