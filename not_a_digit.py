"""Pictures with no digit on them, in MNIST's form, to teach the model what is not a digit.

A model trained on digits alone answers every picture with a digit: a letter with an 8, a
star with a 0. Trained also on these, with the target of equal probabilities for all ten
digits (outlier exposure: Hendrycks, Mazeika and Dietterich, "Deep anomaly detection with
outlier exposure", ICLR 2019), it gives them a low top probability, and predict.py answers
"no digit" below a threshold chosen on validation.

Four kinds, drawn at random: letters and symbols set in a font (of FONTS, bent, slanted and
inked like a pen), shapes drawn with a pen (stars, arrows, ticks, crosses, hearts, spirals,
scribbles...), and blots. Left out because a person would read them as digits too: the
letters in DIGIT_LIKE, circles, rings and squares (a 0), lone strokes (a 1).
Each is brought into MNIST's form by digit_image.to_mnist, as a picture's digit would be.

    images = not_a_digit.draw(1000, seed=0)   # uint8 (1000, 28, 28)
"""

from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digit_image import to_mnist
from digit_image.marks import rectangle_sides

# Letters a person would also read as a digit, written alone: O Q D 0, I l i j | 1, S s 5,
# Z z 2, B 8, b G 6, g q 9, T t 7, A 4, y 4, L 4.
DIGIT_LIKE = set("OoQDIlijJSsZzBbGgqTtAyL")
LETTERS = [letter for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
           if letter not in DIGIT_LIKE]
SYMBOLS = list("+=?@#%&*$~^<>€£¥§¶©®™πΣΩλ∞√≈≠")
# matplotlib's own fonts, which every installation has; benchmarks/no_digit_pictures.py draws its
# letters with the others (Computer Modern), so that they are new to the model.
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
         "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
         "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Oblique.ttf",
         "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf"]
SHAPES = ["star", "arrow", "tick", "cross", "heart", "spiral", "scribble", "zigzag", "wave",
          "triangle", "smiley", "house", "loops"]
CANVAS = 160  # Pixels a side on which each picture is drawn before it is fitted to 28x28.
LONE_STROKE = 3.0  # Ink this many times longer than wide is one stroke, which reads as a 1.


def draw(count, seed, fonts=FONTS, kinds=("letter", "symbol", "shape", "blot")):
    """count pictures with no digit, uint8 (count, 28, 28) in MNIST's form, the same for the
    same seed."""
    rng = np.random.default_rng(seed)
    font_files = [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name) for name in fonts]
    images = np.zeros((count, 28, 28), np.uint8)
    for index in range(count):
        image = None
        while image is None or lone_stroke(image > 127):  # as the model will see it
            ink = draw_one(kinds[int(rng.integers(len(kinds)))], rng, font_files)
            image = to_mnist(ink, ink > 0.3)
        images[index] = image
    return images


def draw_one(kind, rng, font_files):
    """One picture of kind, as float32 ink (0 paper, 1 ink) on a CANVAS square."""
    if kind in ("letter", "symbol"):
        text = str(rng.choice(LETTERS if kind == "letter" else SYMBOLS))
        ink = _typeset(text, font_files[int(rng.integers(len(font_files)))], rng)
    elif kind == "shape":
        ink = _pen(SHAPES[int(rng.integers(len(SHAPES)))], rng)
    else:
        ink = _blots(rng)
    ink = _as_written(ink, rng)
    if lone_stroke(ink > 0.3):  # a symbol the font lacks, or a stroke: draw a shape instead
        return draw_one("shape", rng, font_files)
    return ink


def lone_stroke(mask):
    """Whether a mask holds nothing, or one straight stroke: its smallest rectangle at any
    angle is LONE_STROKE times longer than wide."""
    sides = rectangle_sides(mask)
    return sides is None or sides[0] > LONE_STROKE * sides[1]


def drawable(text, font):
    """Whether a PIL font has a glyph for every character of text: a missing one is drawn
    as the font's empty box, which would read as a 0."""
    missing = _glyph(font, "\uffff")
    return all(not np.array_equal(_glyph(font, character), missing) for character in text)


def _glyph(font, character):
    left, top, right, bottom = font.getbbox(character)
    picture = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(picture).text((-left, -top), character, fill=255, font=font)
    return np.asarray(picture)


def _typeset(text, font_file, rng):
    size = int(rng.integers(45, 70))
    font = ImageFont.truetype(font_file, size)
    if not drawable(text, font):
        return np.zeros((CANVAS, CANVAS), np.float32)  # draw_one() draws a shape instead
    picture = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(picture).text((CANVAS / 2, CANVAS / 2), text, fill=255, font=font, anchor="mm")
    return np.asarray(picture, np.float32) / 255


def _pen(shape, rng):
    """A shape drawn with a round pen through points jittered as a hand would."""
    width = int(rng.integers(3, 9))
    picture = Image.new("L", (CANVAS, CANVAS), 0)
    pen = ImageDraw.Draw(picture)
    for stroke in shape_strokes(shape, rng):
        points = np.asarray(stroke, float) * 80 + CANVAS / 2
        points += rng.normal(0, 1.5, points.shape)
        pen.line([tuple(point) for point in points], fill=255, width=width, joint="curve")
    return np.asarray(picture, np.float32) / 255


def shape_strokes(shape, rng):
    """The strokes of a shape, as lists of (x, y) points within -0.5..0.5."""
    turn = np.linspace(0, 2 * np.pi, 60)
    if shape == "star":
        points = int(rng.choice([5, 6, 8]))
        angles = np.arange(2 * points + 1) * np.pi / points - np.pi / 2
        radius = np.where(np.arange(2 * points + 1) % 2, rng.uniform(0.15, 0.3), 0.5)
        return [np.c_[radius * np.cos(angles), radius * np.sin(angles)]]
    if shape == "arrow":
        direction = rng.uniform(0, 2 * np.pi)
        tip = 0.45 * np.array([np.cos(direction), np.sin(direction)])
        back = [tip + 0.25 * np.array([np.cos(direction + side), np.sin(direction + side)])
                for side in (np.pi - 0.5, np.pi + 0.5)]
        return [[-tip, tip], [back[0], tip, back[1]]]
    if shape == "tick":
        return [[(-0.4, 0.0), (-0.1, 0.35), (0.45, -0.45)]]
    if shape == "cross":
        return [[(-0.4, -0.4), (0.4, 0.4)], [(0.4, -0.4), (-0.4, 0.4)]]
    if shape == "heart":
        t = turn
        x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [np.c_[x, y] / 36]
    if shape == "spiral":
        t = np.linspace(0, rng.uniform(3, 5) * np.pi, 120)
        return [np.c_[t * np.cos(t), t * np.sin(t)] / (2.2 * t.max())]
    if shape == "scribble":
        steps = rng.normal(0, 0.12, (int(rng.integers(12, 24)), 2))
        walk = np.cumsum(steps, axis=0)
        return [(walk - walk.mean(axis=0)) / max(np.ptp(walk), 1e-3)]
    if shape == "zigzag":
        count = int(rng.integers(3, 7))
        return [np.c_[np.linspace(-0.45, 0.45, count + 1), np.tile([-0.2, 0.2], count + 1)[: count + 1]]]
    if shape == "wave":
        x = np.linspace(-0.45, 0.45, 60)
        return [np.c_[x, 0.2 * np.sin(x * rng.uniform(10, 20))]]
    if shape == "triangle":
        angles = np.array([0, 2, 4, 0]) * np.pi / 3 - np.pi / 2
        return [np.c_[0.45 * np.cos(angles), 0.45 * np.sin(angles)]]
    if shape == "smiley":
        face = np.c_[0.45 * np.cos(turn), 0.45 * np.sin(turn)]
        mouth = np.c_[0.25 * np.cos(turn[5:25]), 0.25 * np.sin(turn[5:25]) + 0.05]
        return [face, mouth, [(-0.15, -0.15), (-0.14, -0.12)], [(0.15, -0.15), (0.16, -0.12)]]
    if shape == "house":
        return [[(-0.35, 0.45), (-0.35, -0.05), (0.0, -0.45), (0.35, -0.05), (0.35, 0.45), (-0.35, 0.45)],
                [(-0.1, 0.45), (-0.1, 0.15), (0.1, 0.15), (0.1, 0.45)]]
    # loops: a line of cursive loops, as in joined-up writing or a doodle
    t = np.linspace(0, 2 * np.pi * int(rng.integers(3, 5)), 200)
    return [np.c_[0.1 * t / np.pi - 0.35 + 0.12 * np.cos(t), 0.2 * np.sin(t)]]


def _blots(rng):
    """One to four ink blots or smudges."""
    picture = np.zeros((CANVAS, CANVAS), np.float32)
    for _ in range(int(rng.integers(1, 5))):
        centre = rng.uniform(0.3, 0.7, 2) * CANVAS
        axes = rng.uniform(6, 30) * np.array([1, rng.uniform(0.5, 1)])  # round-ish, not strokes
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        radius = axes[0] * (1 + rng.uniform(-0.35, 0.35, len(angles)))
        outline = np.c_[centre[0] + radius * np.cos(angles),
                        centre[1] + radius * np.sin(angles) * axes[1] / axes[0]]
        cv2.fillPoly(picture, [outline.astype(np.int32)], float(rng.uniform(0.6, 1.0)))
    return cv2.GaussianBlur(picture, (0, 0), float(rng.uniform(0.5, 3)))


def _as_written(ink, rng):
    """The ink turned, slanted, stretched and wobbled a little, with a thicker or thinner
    stroke: no two alike."""
    centre = CANVAS / 2
    angle, slant = np.radians(rng.uniform(-20, 20)), np.radians(rng.uniform(-25, 25))
    scale_x, scale_y = rng.uniform(0.7, 1.2, 2)
    affine = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ (
        np.array([[1, np.tan(slant)], [0, 1]]) @ np.diag([scale_x, scale_y]))
    matrix = np.c_[affine, [centre, centre] - affine @ [centre, centre]]
    ink = cv2.warpAffine(ink, matrix, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR)
    # A gentle bend: each point moved by a smooth random field of a few pixels.
    field = cv2.resize(rng.normal(0, 3, (2, 4, 4)).astype(np.float32).transpose(1, 2, 0),
                       (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
    grid = np.indices((CANVAS, CANVAS), np.float32)
    ink = cv2.remap(ink, grid[1] + field[..., 0], grid[0] + field[..., 1], cv2.INTER_LINEAR)
    change = int(rng.integers(-2, 3))
    kernel = np.ones((3, 3), np.uint8)
    if change > 0:
        ink = cv2.dilate(ink, kernel, iterations=change)
    elif change < 0 and (cv2.erode(ink, kernel, iterations=-change) > 0.3).any():
        ink = cv2.erode(ink, kernel, iterations=-change)
    return np.clip(ink, 0, 1)
