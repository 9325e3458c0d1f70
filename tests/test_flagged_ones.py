"""flagged_ones.py: the training split's plain 1s given a flag."""

import cv2
import numpy as np

import flagged_ones


def plain_one(slant=0):
    image = np.zeros((28, 28), np.uint8)
    cv2.line(image, (14 + slant, 4), (14 - slant, 23), 255, 2, cv2.LINE_AA)
    return image


def test_a_flag_leaves_the_top_of_the_stem_down_and_to_the_left():
    reaches = []
    for seed in range(20):
        flagged = flagged_ones.with_flag(plain_one(), np.random.default_rng(seed))
        assert flagged.shape == (28, 28) and flagged.dtype == np.uint8 and flagged.max() == 255
        rows, columns = np.nonzero(flagged > 127)
        top = rows.min()
        stem = np.median(columns[rows > top + 10])  # the lower part is the stem alone
        flag = columns[rows < top + 6]
        # Ink reaches left of the stem near the top, and nowhere far right of it.
        reaches.append(stem - flag.min())
        assert reaches[-1] >= 2
        assert columns.max() < stem + 6
    assert np.median(reaches) >= 4


def test_a_slanted_stem_gets_a_flag_that_turns_away_from_it():
    flagged = flagged_ones.with_flag(plain_one(slant=4), np.random.default_rng(0))
    # Still one piece, no longer one straight stroke.
    count, _ = cv2.connectedComponents((flagged > 127).astype(np.uint8))
    assert count == 2
    assert not flagged_ones._straight(flagged > 127)


def test_only_a_share_of_the_straight_ones_changes_the_same_way_for_a_seed():
    seven = np.zeros((28, 28), np.uint8)
    cv2.polylines(seven, [np.array([(6, 5), (21, 5), (11, 23)])], False, 255, 2)
    images = np.stack([plain_one(slant) for slant in (-3, -2, -1, 0, 1, 2, 3, 0)] + [seven] * 2)
    labels = np.array([1] * 8 + [7, 1])  # the last, a 1 with a bend, is not straight
    first = flagged_ones.flag_some(images, labels, share=0.5, seed=3)
    again = flagged_ones.flag_some(images, labels, share=0.5, seed=3)
    changed = (first != images).any(axis=(1, 2))
    assert changed.sum() == 4 and not changed[8:].any()
    np.testing.assert_array_equal(first, again)
    assert flagged_ones.flag_some(images, labels, share=0, seed=3) is images
    unchanged = np.stack([plain_one(slant) for slant in (-3, -2, -1, 0, 1, 2, 3, 0)] + [seven] * 2)
    np.testing.assert_array_equal(images, unchanged)  # a copy: the dataset is left as it was
    assert flagged_ones.flag_some(images[:0], labels[:0], share=0.5, seed=3).shape == (0, 28, 28)


def test_a_blank_picture_is_left_as_it_was_and_a_dot_is_no_error():
    blank = np.zeros((28, 28), np.uint8)
    np.testing.assert_array_equal(flagged_ones.with_flag(blank, np.random.default_rng(0)), blank)
    dot = blank.copy()
    dot[14, 14] = 255
    with np.errstate(all="raise"):
        flagged = flagged_ones.with_flag(dot, np.random.default_rng(0))
    assert flagged.shape == (28, 28) and flagged.dtype == np.uint8
