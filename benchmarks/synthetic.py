"""Synthetic pictures of handwritten digits, drawn as phones, scanners and paint apps make them.

A digit's shape comes from a stroke model (pen strokes along Catmull-Rom curves through
jittered control points, TEMPLATES) or from a digit of the MNIST test split, enlarged;
draw_picture() then puts it on paper in one of STYLES (a phone photo, a scan, a paint-app
canvas, ...), and photograph() adds what a camera adds: tinted paper, uneven light, shadow,
blur, noise. Every choice comes from the numpy generator passed in, so a seed fixes a set.
custom_images.py describes the styles; the other picture benchmarks reuse the pieces.
"""

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

STYLES = {"photo": 0.35, "scan": 0.15, "marker": 0.1, "canvas": 0.2, "paint": 0.1, "dark": 0.1}
NUMBER_STYLES = ["photo", "scan", "canvas", "paint", "dark"]
INK_COLOURS = {
    "black": (25, 25, 35),
    "blue": (25, 45, 150),
    "red": (175, 30, 40),
    "green": (20, 95, 55),
    "pencil": (95, 95, 100),
}


# Control points of each digit's pen strokes: x to the right, y downwards, height 1 and width
# about 0.6. A template is a list of strokes; a corner is where two strokes meet.
# One stroke per line: the formatter would put each point on a line of its own.
# fmt: off
TEMPLATES = {
    0: [
        [
            [(0.33, 0.0), (0.1, 0.15), (0.02, 0.5), (0.12, 0.88), (0.34, 1.0), (0.56, 0.84),
             (0.62, 0.48), (0.53, 0.12), (0.33, 0.0), (0.2, 0.06)],
        ],
        [
            [(0.4, 0.02), (0.15, 0.1), (0.05, 0.45), (0.15, 0.9), (0.38, 0.98), (0.58, 0.75),
             (0.6, 0.35), (0.48, 0.05), (0.3, 0.04)],
        ],
    ],
    1: [
        [
            [(0.34, 0.0), (0.3, 1.0)],
        ],
        [
            [(0.12, 0.2), (0.38, 0.0), (0.32, 1.0)],
        ],
        [
            [(0.4, 0.0), (0.33, 0.5), (0.25, 1.0)],
        ],
    ],
    2: [
        [
            [(0.06, 0.25), (0.22, 0.03), (0.46, 0.02), (0.58, 0.22), (0.5, 0.45), (0.27, 0.72),
             (0.04, 0.97)],
            [(0.04, 0.97), (0.36, 0.95), (0.64, 0.97)],
        ],
        [
            [(0.1, 0.18), (0.32, 0.0), (0.55, 0.12), (0.52, 0.4), (0.1, 0.9), (0.06, 1.0),
             (0.2, 0.9)],
            [(0.2, 0.9), (0.45, 0.93), (0.65, 0.9)],
        ],
    ],
    3: [
        [
            [(0.06, 0.12), (0.3, 0.0), (0.52, 0.08), (0.55, 0.28), (0.28, 0.47)],
            [(0.28, 0.47), (0.55, 0.6), (0.58, 0.83), (0.35, 1.0), (0.04, 0.9)],
        ],
        [
            [(0.08, 0.05), (0.55, 0.04), (0.3, 0.42)],
            [(0.3, 0.42), (0.58, 0.6), (0.55, 0.88), (0.3, 1.0), (0.05, 0.88)],
        ],
    ],
    4: [
        [
            [(0.42, 0.0), (0.04, 0.66)],
            [(0.04, 0.66), (0.66, 0.64)],
            [(0.5, 0.3), (0.48, 1.0)],
        ],
        [
            [(0.1, 0.0), (0.06, 0.55)],
            [(0.06, 0.55), (0.62, 0.53)],
            [(0.54, 0.02), (0.5, 1.0)],
        ],
    ],
    5: [
        [
            [(0.58, 0.02), (0.12, 0.03)],
            [(0.12, 0.03), (0.08, 0.45)],
            [(0.08, 0.45), (0.35, 0.37), (0.58, 0.55), (0.58, 0.8), (0.35, 1.0), (0.04, 0.9)],
        ],
        [
            [(0.14, 0.02), (0.1, 0.45)],
            [(0.1, 0.45), (0.38, 0.38), (0.6, 0.6), (0.52, 0.9), (0.28, 1.0), (0.04, 0.88)],
            [(0.16, 0.02), (0.62, 0.0)],
        ],
    ],
    6: [
        [
            [(0.52, 0.0), (0.25, 0.2), (0.07, 0.55), (0.12, 0.87), (0.33, 1.0), (0.55, 0.85),
             (0.55, 0.62), (0.32, 0.5), (0.1, 0.66)],
        ],
        [
            [(0.45, 0.0), (0.2, 0.35), (0.08, 0.75), (0.3, 1.0), (0.55, 0.82), (0.45, 0.55),
             (0.2, 0.6), (0.1, 0.78)],
        ],
    ],
    7: [
        [
            [(0.04, 0.05), (0.62, 0.04)],
            [(0.62, 0.04), (0.4, 0.5), (0.26, 1.0)],
        ],
        [
            [(0.06, 0.14), (0.1, 0.02), (0.6, 0.03)],
            [(0.6, 0.03), (0.36, 0.55), (0.3, 1.0)],
        ],
    ],
    8: [
        [
            [(0.52, 0.1), (0.3, 0.0), (0.1, 0.12), (0.15, 0.35), (0.33, 0.5), (0.55, 0.66),
             (0.58, 0.87), (0.33, 1.0), (0.08, 0.87), (0.12, 0.65), (0.33, 0.5), (0.5, 0.35),
             (0.55, 0.15), (0.4, 0.02)],
        ],
        [
            [(0.3, 0.48), (0.08, 0.3), (0.2, 0.02), (0.45, 0.05), (0.5, 0.28), (0.3, 0.48),
             (0.08, 0.7), (0.22, 0.98), (0.5, 0.95), (0.55, 0.72), (0.3, 0.48)],
        ],
    ],
    9: [
        [
            [(0.56, 0.22), (0.36, 0.44), (0.1, 0.36), (0.1, 0.1), (0.35, 0.0), (0.56, 0.12),
             (0.58, 0.3)],
            [(0.58, 0.3), (0.52, 0.7), (0.44, 1.0)],
        ],
        [
            [(0.55, 0.1), (0.3, 0.0), (0.08, 0.2), (0.25, 0.42), (0.55, 0.25)],
            [(0.55, 0.05), (0.55, 0.55), (0.5, 1.0)],
        ],
    ],
}


def digit_shape(label, from_mnist, rng, x_test, y_test):
    """(A function (height, pen) -> ink of one digit, where it comes from): the stroke model,
    or a digit of the MNIST test split with that label."""
    if not from_mnist:
        return functools.partial(stroke_digit, label, rng=rng), "strokes"
    index = int(rng.choice(np.flatnonzero(y_test == label)))
    return functools.partial(mnist_digit, x_test[index], rng=rng), f"mnist-test-{index}"


def random_number(rng, x_test, y_test):
    """A number of 2 to 5 random digits: (its text, a function (height, pen) -> its ink)."""
    text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(2, 6)))
    shapes = [digit_shape(int(d), rng.random() < 0.5, rng, x_test, y_test)[0] for d in text]
    # Gaps are between the digits' ink boxes, whose margins are a pen width or so: the
    # narrowest gaps make neighbours touch.
    gaps = rng.uniform(-0.06, 0.25, len(text) - 1)

    def shape(height, pen):
        return side_by_side(
            [draw(height * rng.uniform(0.85, 1.1), pen) for draw in shapes],
            [round(gap * height) for gap in gaps],
            rng,
        )

    return text, shape


def one_above_another(rows, gaps, indents):
    """Lays rows of ink out top to bottom, with the given gaps between them and indents."""
    width = max(row.shape[1] + indent for row, indent in zip(rows, indents))
    block = np.zeros((sum(row.shape[0] for row in rows) + sum(gaps), width), np.float32)
    top = 0
    for row, gap, indent in zip(rows, [*gaps, 0], indents):
        block[top : top + row.shape[0], indent : indent + row.shape[1]] = row
        top += row.shape[0] + gap
    return block


def side_by_side(digits, gaps, rng):
    """Lays digits' ink out left to right with the given gaps, each nudged up or down."""
    height = max(digit.shape[0] for digit in digits)
    width = sum(digit.shape[1] for digit in digits) + sum(gaps)
    row = np.zeros((int(height * 1.2), max(width, 1)), np.float32)
    left = 0
    for digit, gap in zip(digits, [*gaps, 0]):
        top = int(rng.integers(0, row.shape[0] - digit.shape[0] + 1))
        right = min(left + digit.shape[1], row.shape[1])
        region = row[top : top + digit.shape[0], left:right]
        np.maximum(region, digit[:, : right - left], out=region)
        left += digit.shape[1] + gap
    return row


def stroke_digit(digit, height, width_range, rng, template=None):
    """Renders one handwritten-looking digit: float32 ink coverage in 0..1, height pixels tall.

    width_range is the pen width as a fraction of the height; template picks one of the
    digit's TEMPLATES (a random one by default). The result has a margin of about one pen
    width around the ink.
    """
    if template is None:
        template = rng.integers(len(TEMPLATES[digit]))
    strokes = TEMPLATES[digit][template]
    width_scale, slant, angle = rng.uniform(0.8, 1.2), rng.uniform(-0.3, 0.25), rng.normal(0, 0.06)
    # One offset per control point, shared where two strokes meet so corners stay joined.
    offsets = {}
    curves = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            dx, dy = offsets.setdefault((x, y), rng.normal(0, 0.025, 2))
            x, y = (x + dx) * width_scale, y + dy
            x += slant * (1 - y)
            points.append(
                (x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle))
            )
        curves.append(catmull_rom(np.array(points)))
    pen = rng.uniform(*width_range)
    return draw_strokes(curves, height, pen, rng)


def catmull_rom(points, steps=24):
    """A smooth curve through the points (their ends repeated): (N, 2) array."""
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    pieces = []
    for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:]):
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    return np.vstack([*pieces, points[-1:]])


def draw_strokes(curves, height, pen, rng, supersample=3):
    """Draws curves (unit-height coordinates) with a round pen, anti-aliased by supersampling."""
    everything = np.vstack(curves)
    low, high = everything.min(axis=0), everything.max(axis=0)
    scale = height / (high[1] - low[1])
    pen_pixels = max(pen * height, 1.0)
    margin = pen_pixels + 2
    size = ((high - low) * scale + 2 * margin).astype(int) + 1
    canvas = Image.new("L", tuple(size * supersample), 0)
    draw = ImageDraw.Draw(canvas)
    for curve in curves:
        points = ((curve - low) * scale + margin) * supersample
        # The pen presses harder and lighter along the stroke: width varies by up to 25%.
        pressure = 1 + 0.25 * np.sin(
            np.linspace(0, rng.uniform(2, 6), len(points)) + rng.uniform(0, 6)
        )
        for start in range(0, len(points) - 1, 6):
            chunk = [tuple(p) for p in points[start : start + 7]]
            width = max(1, round(pen_pixels * supersample * pressure[start]))
            draw.line(chunk, fill=255, width=width, joint="curve")
            x, y = chunk[0]
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
        x, y = points[-1]
        draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    small = canvas.resize(tuple(size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


def mnist_digit(image, height, pen, rng):
    """An MNIST test digit enlarged to height pixels, cut at a grey level that suits the pen.

    pen is the (low, high) pen width as a fraction of the height: MNIST's own strokes are
    about 0.12, so a thin pen cuts high (thin strokes) and a marker cuts low.
    """
    rows, columns = np.nonzero(image)
    crop = image[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), round(height))
    big = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC), np.float32) / 255
    # A higher cut makes thinner strokes; the ramp keeps the edges anti-aliased.
    cut = (
        rng.uniform(0.55, 0.7)
        if pen[1] <= 0.07
        else rng.uniform(0.3, 0.5)
        if pen[0] >= 0.1
        else rng.uniform(0.4, 0.6)
    )
    ink = np.clip((big - cut) / 0.2 + 0.5, 0, 1)
    margin = max(2, round(0.1 * height))
    return np.pad(ink, margin)


def draw_picture(style, shape, rng):
    """Returns (PIL picture, file suffix, EXIF orientation or None, the clean ink)."""
    if style in ("photo", "marker"):
        thin = style == "photo" and rng.random() < 0.5
        pen = (0.03, 0.07) if thin else (0.07, 0.12) if style == "photo" else (0.13, 0.2)
        size = (int(rng.integers(600, 1300)), int(rng.integers(600, 1300)))
        ink = shape(rng.uniform(0.25, 0.7) * min(size), pen)
        colour = INK_COLOURS[rng.choice(list(INK_COLOURS))]
        picture = photograph(ink, size, colour, rng)
        exif = int(rng.choice([3, 6, 8])) if rng.random() < 1 / 3 else None
        return picture, ".jpg", exif, ink
    if style == "scan":
        size = (int(rng.integers(1200, 2000)), int(rng.integers(1200, 2000)))
        ink = shape(rng.uniform(0.15, 0.4) * min(size), (0.02, 0.05))
        colour = INK_COLOURS[rng.choice(["black", "blue"])]
        picture = photograph(ink, size, colour, rng, lighting=0.05, shadow=0, blur=0.8, noise=1.5)
        suffix = str(rng.choice([".png", ".png16", ".tif", ".jpg"]))
        return picture, suffix, None, ink
    if style == "canvas":
        size = int(rng.integers(200, 600))
        ink = shape(rng.uniform(0.5, 0.85) * size, (0.06, 0.15))
        colour = tuple(
            int(c)
            for c in rng.choice(
                [(0, 0, 0), (255, 255, 255), (220, 30, 30), (30, 60, 220), (30, 160, 60)]
            )
        )
        alpha = place(ink, (size, size), rng)
        hidden = rng.choice(["black", "white", "ink", "noise"])
        rgb = {
            "black": np.zeros((size, size, 3)),
            "white": np.full((size, size, 3), 255.0),
            "ink": np.broadcast_to(colour, (size, size, 3)),
            "noise": rng.integers(0, 256, (size, size, 3)),
        }[hidden]
        # Opaque pixels show the ink colour; transparent ones keep whatever the app left.
        rgb = np.where(alpha[..., None] > 0, colour, rgb)
        rgba = np.dstack([rgb, alpha * 255]).round().astype(np.uint8)
        return Image.fromarray(rgba, "RGBA"), str(rng.choice([".png", ".webp", ".gif"])), None, ink
    if style == "paint":
        size = int(rng.integers(200, 600))
        ink = shape(rng.uniform(0.5, 0.85) * size, (0.07, 0.16))
        colour = np.array(INK_COLOURS[rng.choice(["black", "blue", "red"])], np.float32)
        coverage = place(ink, (size, size), rng)[..., None]
        rgb = 255 * (1 - coverage) + colour * coverage
        return (
            Image.fromarray(rgb.round().astype(np.uint8)),
            str(rng.choice([".png", ".bmp", ".gif", ".webp"])),
            None,
            ink,
        )
    # dark: white on a black canvas, or chalk on a blackboard.
    if rng.random() < 0.5:
        size = int(rng.integers(200, 600))
        ink = shape(rng.uniform(0.5, 0.85) * size, (0.07, 0.15))
        coverage = place(ink, (size, size), rng)
        return Image.fromarray((coverage * 255).round().astype(np.uint8)), ".png", None, ink
    size = (int(rng.integers(600, 1200)), int(rng.integers(600, 1000)))
    ink = shape(rng.uniform(0.3, 0.7) * min(size), (0.05, 0.1))
    picture = photograph(ink, size, (225, 225, 215), rng, paper=(45, 65, 55), chalk=True)
    return picture, ".jpg", None, ink


def place(ink, size, rng, angle=0.0):
    """Places ink (rotated by angle degrees) off-centre on a canvas of size (width, height)."""
    image = Image.fromarray((ink * 255).astype(np.uint8))
    if angle:
        image = image.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    width, height = size
    if image.width > width or image.height > height:
        image.thumbnail((width, height), Image.Resampling.LANCZOS)
    left = int(rng.integers(0, width - image.width + 1))
    top = int(rng.integers(0, height - image.height + 1))
    canvas = np.zeros((height, width), np.float32)
    canvas[top : top + image.height, left : left + image.width] = np.asarray(image) / 255
    return canvas


def smooth_noise(shape, cells, rng):
    """Low-frequency noise in about -1..1: a random grid of cells x cells, smoothly enlarged."""
    grid = Image.fromarray(rng.normal(0, 1, (cells, cells)).astype(np.float32), "F")
    return np.asarray(grid.resize((shape[1], shape[0]), Image.Resampling.BICUBIC))


def photograph(
    ink,
    size,
    colour,
    rng,
    lighting=0.4,
    shadow=0.5,
    blur=2.0,
    noise=5.0,
    paper=None,
    chalk=False,
    printed=None,
):
    """Ink on paper as a phone sees it: texture, uneven light, blur and noise.

    lighting is the largest fall of light across the page; shadow the chance of a shadow;
    blur and noise the largest blur radius and sensor noise (in grey levels); printed, if
    given, is (coverage, colour) of what the paper came with, such as ruled lines.
    """
    width, height = size
    coverage = place(ink, size, rng, angle=rng.normal(0, 6))
    if chalk:
        # Chalk leaves grainy, partial strokes.
        coverage = coverage * np.clip(0.65 + 0.35 * rng.normal(0, 1, coverage.shape), 0, 1)
    if paper is None:
        paper = (rng.uniform(215, 250), rng.uniform(210, 245), rng.uniform(195, 240))
    grain = rng.normal(0, 0.003 * noise, (height, width))  # Paper fibres.
    texture = 1 + 0.03 * smooth_noise((height, width), 24, rng) + grain
    surface = np.asarray(paper, np.float32) * texture[..., None]
    if printed is not None:
        lines, line_colour = printed
        surface = surface * (1 - lines[..., None]) + np.asarray(line_colour) * lines[..., None]
    strength = rng.uniform(0.6, 1.0) * coverage[..., None]
    picture = surface * (1 - strength) + np.asarray(colour, np.float32) * strength

    rows, columns = np.mgrid[0:height, 0:width] / max(width, height)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = rows * np.sin(direction) + columns * np.cos(direction)
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    light = 1 - rng.uniform(0, lighting) * ramp
    if rng.random() < shadow:
        # A soft-edged shadow (a hand, the phone) across part of the page.
        angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.7)
        distance = rows * np.sin(angle) + columns * np.cos(angle) - offset
        light *= 1 - rng.uniform(0.2, 0.5) / (1 + np.exp(-distance / rng.uniform(0.01, 0.06)))
    picture = picture * light[..., None] + rng.normal(0, rng.uniform(0.5, noise), picture.shape)
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, blur)))


def save_picture(picture, path, exif_orientation, rng):
    """Saves in the format of path's suffix, as draw_picture() chose it (".png16": a 16-bit
    grey PNG, named .png); returns the path written."""
    if path.suffix == ".png16":
        path = path.with_suffix(".png")
        Image.fromarray(np.asarray(picture.convert("L"), np.uint16) * 257).save(path)
    elif exif_orientation is not None:
        # Stored sideways; the tag tells viewers (and predict.py) how to turn it upright.
        undo = {
            3: Image.Transpose.ROTATE_180,
            6: Image.Transpose.ROTATE_90,
            8: Image.Transpose.ROTATE_270,
        }
        picture = picture.transpose(undo[exif_orientation])
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        picture.save(path, quality=int(rng.integers(55, 91)), exif=exif.tobytes())
    elif path.suffix == ".jpg":
        picture.save(path, quality=int(rng.integers(55, 91)))
    elif path.suffix == ".gif" and picture.mode == "RGBA":
        # GIF keeps one transparent palette entry, so the anti-aliased edge becomes hard.
        alpha = np.asarray(picture)[..., 3]
        paletted = picture.convert("RGB").quantize(255)
        paletted.paste(255, mask=Image.fromarray(((alpha < 128) * 255).astype(np.uint8)))
        paletted.save(path, transparency=255)
    elif path.suffix == ".webp":
        picture.save(path, lossless=True)
    elif path.suffix == ".tif":
        picture.save(path, compression="tiff_deflate")
    else:
        picture.save(path)
    return path
