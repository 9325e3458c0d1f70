"""recognize.py: what a picture holds, decided from its readings' probabilities; and
not_a_digit.py, the pictures with no digit the model trains on."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

import not_a_digit
import recognize


def sure(digit, probability=0.98):
    """Ten probabilities with digit at probability and the rest shared out."""
    probabilities = np.full(10, (1 - probability) / 9)
    probabilities[digit] = probability
    return probabilities


def unsure(digit):
    return sure(digit, 0.3)


def reading(lines):
    """A Reading of a picture whose digits come in lines of these lengths (28x28 blanks:
    answer() looks only at the probabilities)."""
    count = 1 + sum(lines)
    return recognize.Reading("picture.png", images=[np.zeros((28, 28), np.uint8)] * count,
                             line_lengths=list(lines))


def test_one_mark_is_a_digit_or_no_digit():
    record = recognize.answer(reading([1]), [sure(7), sure(7)])
    assert record["digit"] == 7 and record["number"] is None and record["no_digit"] is None
    record = recognize.answer(reading([1]), [unsure(7), unsure(7)])
    assert record["digit"] is None and record["no_digit"].startswith("no digit")
    assert "best guess 7 at 30%" in record["no_digit"]


def test_several_sure_digits_are_a_number_in_lines():
    record = recognize.answer(reading([4, 2]), [unsure(8), *map(sure, [2, 0, 2, 4, 7, 1])])
    assert record["number"] == "2024 71" and record["digit"] is None
    assert [digit["digit"] for digit in record["digits"]] == [2, 0, 2, 4, 7, 1]
    assert record["uncertain"] is False and record["confidence"] == pytest.approx(0.98)


def test_a_digit_beside_a_stray_mark_is_one_digit_when_the_whole_is_all_but_certain():
    # The remnant of a ruled line beside a 4 reads as a sure 1; the marks together, surer a 4.
    record = recognize.answer(reading([2]), [sure(4, 0.9995), sure(4), sure(1, 0.9)])
    assert record["digit"] == 4 and record["number"] is None
    record = recognize.answer(reading([2]), [sure(4, 0.99), sure(4), sure(1, 0.9)])
    assert record["number"] == "41"


def test_a_digit_with_a_stray_mark_above_it_is_one_digit_but_a_number_is_a_number():
    # One mark a line: a stroke above a 7 (a ruled line's remnant) reads as a sure 1.
    record = recognize.answer(reading([1, 1]), [sure(7, 0.9), sure(1), sure(7)])
    assert record["digit"] == 7 and record["number"] is None
    # Two digits on a line are a number, however sure the whole.
    record = recognize.answer(reading([2]), [sure(7, 0.9), sure(1), sure(7)])
    assert record["number"] == "17"


def test_a_digit_in_pieces_is_one_digit():
    # A 5 whose bar stands apart, or a 4 beside a stray mark: the pieces are not digits the
    # model is sure of, all the marks together are.
    record = recognize.answer(reading([2]), [sure(5), unsure(1), unsure(7)])
    assert record["digit"] == 5 and record["number"] is None


def test_a_number_with_one_unsure_digit_is_no_digit_unless_a_number_is_asked_for():
    probabilities = [unsure(4), sure(1), unsure(9), sure(8)]
    record = recognize.answer(reading([3]), probabilities)
    assert record["number"] is None and record["digit"] is None
    assert record["no_digit"].endswith("as a number 198, its least sure digit at 30%")
    record = recognize.answer(reading([3]), probabilities, mode="number")
    assert record["number"] == "198" and record["uncertain"] is True
    assert record["confidence"] == pytest.approx(0.3)


def test_a_long_number_with_one_unsure_digit_is_that_number_marked_uncertain():
    # Five digits read, four of them sure: a number, where a word is seldom sure letter for letter.
    record = recognize.answer(reading([5]), [unsure(8), *map(sure, [9, 3, 4]), unsure(8), sure(3)])
    assert record["number"] == "93483" and record["uncertain"] is True
    assert record["confidence"] == pytest.approx(0.3)
    assert [digit["uncertain"] for digit in record["digits"]] == [False] * 3 + [True, False]
    # Two unsure of the five, or one of four, are still no digit.
    record = recognize.answer(reading([5]), [unsure(8), *map(sure, [9, 3]), unsure(4), unsure(8),
                                             sure(3)])
    assert record["number"] is None and record["no_digit"].startswith("no digit")
    record = recognize.answer(reading([4]), [unsure(8), *map(sure, [9, 3, 4]), unsure(8)])
    assert record["number"] is None and record["no_digit"].startswith("no digit")


def test_a_digit_all_but_certain_beside_unsure_marks_is_that_digit():
    # An envelope: the stamp, a line of its own, reads as an unsure 5, all the marks together
    # too; the 4 alone is all but certain.
    record = recognize.answer(reading([1, 1]), [unsure(5), unsure(5), sure(4, 0.9995)])
    assert record["digit"] == 4 and record["confidence"] == pytest.approx(0.9995)
    # The lines' one digit, the stamp left out of them as a small mark apart.
    record = recognize.answer(reading([1]), [unsure(5), sure(4, 0.9995)])
    assert record["digit"] == 4
    # Only sure, not all but certain: the marks may be one thing, and there is no digit.
    for lines, probabilities in (([1, 1], [unsure(5), unsure(5), sure(4)]),
                                 ([1], [unsure(5), sure(4)])):
        record = recognize.answer(reading(lines), probabilities)
        assert record["digit"] is None and record["no_digit"].startswith("no digit")


def test_the_lines_one_digit_all_but_certain_outweighs_the_marks_read_together():
    # A desk's edge, left out of the lines as a mark far apart, made all the marks together
    # a sure 1; the 4 alone is all but certain.
    record = recognize.answer(reading([1]), [sure(1, 0.85), sure(4, 0.9995)])
    assert record["digit"] == 4 and record["confidence"] == pytest.approx(0.9995)
    # The 4 alone only sure: the marks together may hold a piece of the digit.
    record = recognize.answer(reading([1]), [sure(1, 0.85), sure(4, 0.99)])
    assert record["digit"] == 1


def test_a_word_is_no_digit():
    record = recognize.answer(reading([3]), [unsure(8), unsure(4), sure(1), unsure(0)])
    assert record["digit"] is None and record["number"] is None
    assert record["no_digit"].startswith("no digit")


def test_a_line_of_words_beside_a_sure_number_is_left_out():
    # A worksheet: its printed question (mostly unsure letters) above the written answer.
    question = [unsure(4), sure(1), unsure(0), unsure(7)]
    pictures = reading([4, 2])
    pictures.images = [np.full((28, 28), index, np.uint8) for index in range(7)]
    probabilities = np.array([unsure(2), *question, sure(2), sure(4)])
    [(record, seen)] = recognize.classified(iter([pictures]), lambda images: probabilities)
    assert record["number"] == "24" and [digit["digit"] for digit in record["digits"]] == [2, 4]
    assert [image[0, 0] for image in seen] == [5, 6]  # the answer's digits, not the question's
    # The answer unsure, or asked for as a number: nothing is left out.
    record = recognize.answer(reading([4, 2]), [unsure(2), *question, sure(2), unsure(4)])
    assert record["number"] is None and record["no_digit"].startswith("no digit")
    record = recognize.answer(reading([4, 2]), [unsure(2), *question, sure(2), sure(4)],
                              mode="number")
    assert record["number"] == "4107 24"
    # Two marks are too few to be taken for words: a number needs every line.
    record = recognize.answer(reading([2, 2]), [unsure(2), unsure(4), unsure(1), sure(2), sure(4)])
    assert record["number"] is None


def test_lines_of_words_alone_are_no_digit_however_sure_the_whole():
    # A page of print, a word: read together, its marks had been a sure digit (a 6 at 54%).
    record = recognize.answer(reading([3]), [sure(6, 0.54), unsure(1), unsure(2), sure(4)])
    assert record["digit"] is None and record["number"] is None
    assert record["no_digit"].startswith("no digit: the marks look like words, best guess 6")
    # A digit in two pieces is still the digit the whole reads as.
    record = recognize.answer(reading([2]), [sure(6, 0.54), unsure(1), unsure(2)])
    assert record["digit"] == 6
    # All but certain as one, the marks are that digit, whatever their pieces read as.
    record = recognize.answer(reading([3]), [sure(4, 0.9995), unsure(1), unsure(7), unsure(1)])
    assert record["digit"] == 4


@pytest.mark.parametrize("mode, expected", [("digit", ("digit", 3)), ("number", ("number", "33"))])
def test_a_mode_forces_the_reading(mode, expected):
    record = recognize.answer(reading([2]), [sure(3), sure(3), sure(3)], mode=mode)
    key, value = expected
    assert record[key] == value


def test_read_answers_a_blank_page_with_no_digit_and_a_broken_file_with_an_error(tmp_path):
    Image.new("L", (200, 200), 240).save(tmp_path / "blank.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    blank, broken = recognize.read(tmp_path / "blank.png"), recognize.read(tmp_path / "broken.png")
    assert blank.no_digit.startswith("no ink found") and blank.error is None
    assert broken.error and broken.no_digit is None
    record = recognize.answer(blank, [])
    assert record["no_digit"] == blank.no_digit and record["digit"] is None


def test_read_gives_the_picture_as_one_digit_and_by_digits(tmp_path):
    picture = Image.new("L", (400, 200), 255)
    pen = ImageDraw.Draw(picture)
    pen.line([(60, 40), (60, 160)], fill=0, width=10)
    pen.ellipse((200, 40, 300, 160), outline=0, width=10)
    picture.save(tmp_path / "10.png")
    read = recognize.read(tmp_path / "10.png")
    assert len(read.images) == 3 and read.line_lengths == [2]
    assert all(image.shape == (28, 28) and image.dtype == np.uint8 for image in read.images)


def test_not_a_digit_draws_the_same_pictures_for_a_seed_and_no_lone_strokes():
    first, again, other = (not_a_digit.draw(40, seed) for seed in (3, 3, 4))
    assert first.shape == (40, 28, 28) and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert all(image.max() == 255 for image in first)  # each holds ink, fitted as MNIST's
    # No picture is a single straight stroke, which a person would read as a 1.
    assert not any(not_a_digit.lone_stroke(image > 127) for image in first)
