#!/usr/bin/python3
"""Generate the picture set that `imgcls predict` is tested on: digits as people photograph,
scan or draw them, not as MNIST stores them.

Each picture is one digit, from a font or from hand-drawn-like strokes, rendered with one
kind of variation:
    font         clean glyphs from several fonts, dark ink on white
    hand         jittered, slanted pen strokes of varying width, dark ink on white
    paper        off-white paper with grain, a shading gradient and dust specks
    colour       coloured ink on white or tinted paper
    transparent  ink on a transparent background (RGBA, grey+alpha, palette with tRNS)
    rotated      turned by 8 to 15 degrees either way
    offcentre    a small digit far from the centre of a wide canvas
    tiny         a 20x20 canvas
    large        a 1000x800 canvas
    dark         light ink on a dark background (a chalkboard)
    script       handwriting fonts (Humor Sans, Breip, Dancing Script)
    thin         hand strokes with a fine pen (3 to 5% of the height)
    thick        hand strokes with a felt marker (20 to 28% of the height)
    photo        a close-up photo of paper: a shadow across it, seen at an angle (perspective),
                 slightly out of focus
    lowres       a low-resolution scan: a 1-bit picture of about 24 px, enlarged 4 times
    border       a digit filling its canvas, cut by or touching its edges (at most 40% ink)
(the last six, 30 pictures each, make the set harder; the first ten have 20 each) and saved in one of the formats PNG (grey, RGB, RGBA, grey+alpha, palette, 16-bit grey),
JPEG, BMP (24-bit colour, 8-bit grey), PGM and PPM. Everything is drawn from a fixed seed, so a rerun with the same
Debian packages rewrites the same files (the kinds are drawn in order, so adding a kind at the
end leaves the pictures of the others as they were).

Writes into the folder of this script:
    digits/<kind>_<nnn>.<ext>   the pictures (380)
    labels.csv                  file,label,kind,format,source
    formats/pattern_<format>.<ext>, formats/expected.json
                                one small 16x12 pattern (a colour gradient with an alpha
                                ramp where the format has alpha) in every format and
                                variant, and the grey values Pillow decodes from each file
                                (Rec. 601 luma, alpha over white): an independent decoder
                                for the C++ decoder tests to agree with.

Needs Debian's python3-pil and python3-numpy, and the fonts of fonts-dejavu-core,
fonts-liberation2, fonts-freefont-ttf, fonts-comic-neue, fonts-humor-sans, fonts-breip and
fonts-dancingscript. The C++ tests read the
committed pictures; CI never runs this script.

Usage (from the repository root):  /usr/bin/python3 tests/images/make_images.py
"""

import csv
import json
import math
import os
import random
import shutil
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "digits")
MANIFEST = os.path.join(HERE, "labels.csv")
SEED = 20240601
PER_DIGIT = 2  # pictures per digit and kind
PER_DIGIT_HARDER = 3  # for the kinds from `script` on

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSerifItalic.ttf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
]

GENERAL_FORMATS = ["png-grey", "png-rgb", "jpeg", "bmp-grey", "pgm", "ppm", "png16", "png-palette"]
FORMATS = {
    "font": GENERAL_FORMATS,
    "hand": GENERAL_FORMATS,
    "paper": ["jpeg", "png-grey", "png-rgb", "pgm", "ppm", "bmp", "png16"],
    "colour": ["png-rgb", "jpeg", "ppm", "bmp", "png-palette"],
    "transparent": ["png-rgba", "png-la", "png-palette-alpha"],
    "rotated": GENERAL_FORMATS,
    "offcentre": GENERAL_FORMATS,
    "tiny": GENERAL_FORMATS,
    "large": ["png-grey", "jpeg", "png-palette", "png16", "png-rgb"],  # compressed formats only
    "dark": GENERAL_FORMATS,
    "script": GENERAL_FORMATS,
    "thin": GENERAL_FORMATS,
    "thick": GENERAL_FORMATS,
    "photo": ["jpeg", "png-rgb", "jpeg", "ppm", "jpeg"],
    "lowres": ["png-grey", "bmp-grey", "pgm", "png-palette"],
    "border": GENERAL_FORMATS,
}
HARDER_KINDS = ["script", "thin", "thick", "photo", "lowres", "border"]
SCRIPT_FONTS = [
    "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
    "/usr/share/fonts/truetype/breip/Breip.ttf",
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Bold.otf",
]
EXTENSIONS = {"png-grey": "png", "png-rgb": "png", "png-rgba": "png", "png-la": "png",
              "png16": "png", "png-palette": "png", "png-palette-alpha": "png", "jpeg": "jpg",
              "bmp": "bmp", "bmp-grey": "bmp", "pgm": "pgm", "ppm": "ppm"}

GLYPH_HEIGHT = 400  # high-resolution glyph masks are this tall before placing


# ---- glyphs: high-resolution ink masks (float32 in [0, 1], cropped to the ink) ----------

def crop_to_ink(mask):
    ys, xs = np.nonzero(mask > 0.02)
    return mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def font_glyph(digit, font_path):
    font = ImageFont.truetype(font_path, GLYPH_HEIGHT)
    image = Image.new("L", (GLYPH_HEIGHT * 2, GLYPH_HEIGHT * 2), 0)
    ImageDraw.Draw(image).text((GLYPH_HEIGHT // 2, GLYPH_HEIGHT // 4), str(digit), fill=255, font=font)
    return crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)


def arc(cx, cy, rx, ry, start_deg, end_deg, n=48):
    """Points on an ellipse; angles in degrees, 90 = top (y grows downwards)."""
    t = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def line(*points):
    return np.array(points, dtype=np.float64)


def bezier(p0, p1, p2, n=32):
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.array(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def join(*parts):
    return np.concatenate(parts, axis=0)


def digit_strokes(digit, rng):
    """Pen strokes of one digit in a box 1 tall and about 0.6 wide (y downwards)."""
    if digit == 0:
        return [arc(0.3, 0.5, 0.28, 0.49, 100, 100 + 370)]
    if digit == 1:
        stem = line((0.32, 0.0), (0.3, 1.0))
        return [join(line((0.12, 0.2)), stem)] if rng.random() < 0.5 else [stem]
    if digit == 2:
        top = arc(0.3, 0.28, 0.27, 0.27, 165, -35)
        return [join(top, line((0.02, 1.0), (0.62, 1.0)))]
    if digit == 3:
        upper = arc(0.3, 0.26, 0.25, 0.25, 150, -90)
        lower = arc(0.3, 0.74, 0.29, 0.26, 90, -155)
        return [join(upper, lower)]
    if digit == 4:
        return [line((0.45, 0.0), (0.0, 0.68), (0.62, 0.68)), line((0.46, 0.25), (0.46, 1.0))]
    if digit == 5:
        return [join(line((0.58, 0.0), (0.12, 0.0), (0.09, 0.45)), arc(0.3, 0.7, 0.29, 0.3, 135, -150))]
    if digit == 6:
        return [join(bezier((0.52, 0.0), (0.02, 0.25), (0.03, 0.72)), arc(0.3, 0.72, 0.27, 0.27, 180, -180))]
    if digit == 7:
        return [line((0.0, 0.0), (0.62, 0.0), (0.2, 1.0))]
    if digit == 8:
        return [arc(0.3, 0.24, 0.22, 0.24, -90, 270), arc(0.3, 0.73, 0.28, 0.26, 90, 450)]
    if digit == 9:
        return [join(arc(0.3, 0.28, 0.27, 0.27, 0, 365), bezier((0.57, 0.3), (0.58, 0.7), (0.48, 1.0)))]
    raise ValueError(digit)


def wobble(points, rng, amplitude):
    """A smooth random displacement along the stroke: a pen, not a ruler."""
    s = np.linspace(0, 1, len(points))[:, None]
    out = points.copy()
    for _ in range(2):
        phase, freq = rng.uniform(0, 2 * math.pi, 2), rng.uniform(1, 3)
        out += amplitude * rng.uniform(0.3, 1.0) * np.sin(2 * math.pi * freq * s + phase)
    return out


def hand_glyph(digit, rng, pen_width=None):
    """pen_width: the stroke width as a share of the height (default: 9 to 15%, drawn)."""
    slant = rng.uniform(-0.3, 0.15)        # x shift per unit of height above the baseline
    x_scale = rng.uniform(0.75, 1.2)
    width = rng.uniform(0.09, 0.15)        # stroke width, of the height
    if pen_width is not None:
        width = pen_width
    margin = 0.2
    size = GLYPH_HEIGHT
    image = Image.new("L", (int(size * 1.6), int(size * (1 + 2 * margin))), 0)
    draw = ImageDraw.Draw(image)
    pen = max(2, int(width * size))
    for stroke in digit_strokes(digit, rng):
        pts = wobble(stroke, rng, 0.025)
        xs = (pts[:, 0] * x_scale + slant * (1.0 - pts[:, 1]) + 0.4) * size
        ys = (pts[:, 1] + margin) * size
        xy = list(zip(xs.tolist(), ys.tolist()))
        draw.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen caps
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)


# ---- placing a glyph on a canvas ----------------------------------------------------------

def place(glyph, canvas_w, canvas_h, height, centre, angle=0.0):
    """An ink-coverage canvas with the glyph scaled to `height` px, turned by `angle`
    degrees (anticlockwise) and centred on `centre` = (x, y)."""
    g = Image.fromarray((glyph * 255).astype(np.uint8), "L")
    if angle:
        g = g.rotate(angle, resample=Image.BICUBIC, expand=True)
    scale = height / glyph.shape[0]
    w, h = max(1, round(g.width * scale)), max(1, round(g.height * scale))
    g = g.resize((w, h), resample=Image.LANCZOS if scale < 1 else Image.BICUBIC)
    canvas = Image.new("L", (canvas_w, canvas_h), 0)
    canvas.paste(g, (round(centre[0] - w / 2), round(centre[1] - h / 2)))
    return np.asarray(canvas, dtype=np.float32) / 255.0


def compose(coverage, paper_rgb, ink_rgb):
    """RGB float image: ink laid over paper by coverage."""
    cov = coverage[..., None]
    return paper_rgb * (1 - cov) + np.asarray(ink_rgb, dtype=np.float32) * cov


def paper(w, h, rgb):
    return np.ones((h, w, 3), dtype=np.float32) * np.asarray(rgb, dtype=np.float32)


def add_paper_texture(image, rng):
    h, w, _ = image.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    gradient = (np.cos(direction) * gx / w + np.sin(direction) * gy / h) * rng.uniform(0.04, 0.1)
    grain = rng.normal(0, rng.uniform(0.02, 0.05), (h, w)).astype(np.float32)
    image = image + (gradient + grain)[..., None]
    for _ in range(rng.integers(2, 7)):  # dust specks
        r = rng.uniform(0.5, 1.5)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        speck = ((gx - x) ** 2 + (gy - y) ** 2) <= r * r
        image[speck] *= rng.uniform(0.3, 0.7)
    return np.clip(image, 0, 1)


# ---- saving ------------------------------------------------------------------------------

def to_u8(x):
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def grey_of(rgb):
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def save(path, fmt, rgb=None, coverage=None, ink_rgb=None, rng=None):
    """rgb: a float RGB picture; for the alpha formats, coverage and ink_rgb instead."""
    if fmt == "png-rgba":
        alpha = to_u8(coverage)
        colour = np.broadcast_to(to_u8(np.asarray(ink_rgb)), coverage.shape + (3,))
        Image.fromarray(np.dstack([colour, alpha]), "RGBA").save(path, optimize=True)
    elif fmt == "png-la":
        alpha = to_u8(coverage)
        grey = np.full(coverage.shape, to_u8(grey_of(np.asarray(ink_rgb, dtype=np.float32))), np.uint8)
        Image.fromarray(np.dstack([grey, alpha]), "LA").save(path, optimize=True)
    elif fmt == "png-palette-alpha":
        levels = 16  # palette entry i: the ink colour at alpha i / 15
        index = np.rint(np.clip(coverage, 0, 1) * (levels - 1)).astype(np.uint8)
        image = Image.fromarray(index, "P")
        image.putpalette(list(to_u8(np.asarray(ink_rgb))) * levels)
        image.save(path, transparency=bytes(i * 255 // (levels - 1) for i in range(levels)), optimize=True)
    elif fmt == "png-grey":
        Image.fromarray(to_u8(grey_of(rgb)), "L").save(path, optimize=True)
    elif fmt == "png16":
        grey16 = (np.clip(grey_of(rgb), 0, 1) * 65535 + 0.5).astype(np.uint16)
        Image.fromarray(grey16, "I;16").save(path)
    elif fmt == "png-rgb":
        Image.fromarray(to_u8(rgb), "RGB").save(path, optimize=True)
    elif fmt == "png-palette":
        Image.fromarray(to_u8(rgb), "RGB").quantize(colors=32).save(path, optimize=True)
    elif fmt == "jpeg":
        Image.fromarray(to_u8(rgb), "RGB").save(path, quality=int(rng.integers(70, 93)))
    elif fmt == "bmp":
        Image.fromarray(to_u8(rgb), "RGB").save(path)
    elif fmt == "bmp-grey":  # 8-bit, palette of greys
        Image.fromarray(to_u8(grey_of(rgb)), "L").save(path)
    elif fmt == "pgm":
        Image.fromarray(to_u8(grey_of(rgb)), "L").save(path)
    elif fmt == "ppm":
        Image.fromarray(to_u8(rgb), "RGB").save(path)
    else:
        raise ValueError(fmt)


# ---- the kinds ---------------------------------------------------------------------------

WHITE = (1.0, 1.0, 1.0)
INKS = [(0.05, 0.05, 0.1), (0.1, 0.15, 0.55), (0.6, 0.05, 0.05), (0.05, 0.4, 0.1),
        (0.35, 0.1, 0.45), (0.2, 0.2, 0.2)]


def pick_glyph(digit, index, rng):
    """Alternates fonts and hand strokes; returns (glyph, source name)."""
    if index % 2 == 0:
        font = FONTS[int(rng.integers(len(FONTS)))]
        return font_glyph(digit, font), os.path.splitext(os.path.basename(font))[0]
    return hand_glyph(digit, rng), "hand"


def centred(w, h):
    return (w / 2, h / 2)


def render(kind, digit, index, rng):
    """Returns (save arguments, source)."""
    if kind == "font":
        font = FONTS[(digit + index * 5) % len(FONTS)]
        glyph, source = font_glyph(digit, font), os.path.splitext(os.path.basename(font))[0]
    elif kind == "hand":
        glyph, source = hand_glyph(digit, rng), "hand"
    elif kind == "script":
        font = SCRIPT_FONTS[(digit + index * 3) % len(SCRIPT_FONTS)]
        glyph, source = font_glyph(digit, font), os.path.splitext(os.path.basename(font))[0]
    elif kind in ("thin", "thick"):
        width = rng.uniform(0.03, 0.05) if kind == "thin" else rng.uniform(0.2, 0.28)
        glyph, source = hand_glyph(digit, rng, pen_width=width), f"hand-{kind}"
    else:
        glyph, source = pick_glyph(digit, index + digit, rng)
    if kind in HARDER_KINDS:
        return render_harder(kind, glyph, rng), source

    w = h = int(rng.integers(48, 112))
    height = h * rng.uniform(0.55, 0.8)
    centre = (w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h)
    angle, paper_rgb, ink = 0.0, WHITE, INKS[0]
    if kind == "rotated":
        angle = rng.choice([-1, 1]) * rng.uniform(8, 15)
    elif kind == "offcentre":
        w, h = int(rng.integers(100, 150)), int(rng.integers(75, 110))
        height = h * rng.uniform(0.25, 0.4)
        centre = (w * rng.choice([0.2, 0.8]) + rng.uniform(-5, 5), h * rng.choice([0.28, 0.72]))
    elif kind == "tiny":
        w = h = 20
        height = rng.uniform(13, 17)
        centre = (10 + rng.uniform(-1, 1), 10 + rng.uniform(-0.5, 0.5))
    elif kind == "large":
        w, h = 1000, 800
        height = rng.uniform(250, 650)
        centre = (w / 2 + rng.uniform(-200, 200), h / 2 + rng.uniform(-60, 60))
    elif kind == "colour":
        ink = INKS[1 + int(rng.integers(len(INKS) - 1))]
        paper_rgb = [WHITE, (1.0, 0.97, 0.85), (0.9, 0.95, 1.0)][int(rng.integers(3))]
    elif kind == "paper":
        paper_rgb = tuple(np.array([0.93, 0.91, 0.85]) + rng.uniform(-0.04, 0.04))
    elif kind == "dark":
        paper_rgb = tuple(np.array([0.12, 0.18, 0.15]) + rng.uniform(-0.05, 0.05))
        ink = (0.92, 0.92, 0.88)

    coverage = place(glyph, w, h, height, centre, angle)
    if kind == "transparent":
        return {"coverage": coverage, "ink_rgb": INKS[int(rng.integers(len(INKS)))]}, source
    picture = compose(coverage, paper(w, h, paper_rgb), ink)
    if kind == "paper":
        picture = add_paper_texture(picture, rng)
    return {"rgb": picture}, source


def shadow_and_perspective(picture, rng):
    """A photo of the paper: a soft shadow darkening one side, the sheet seen at an angle
    (each corner moved by up to 12% of the side), slightly out of focus."""
    h, w, _ = picture.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    along = (np.cos(direction) * (gx / w - 0.5) + np.sin(direction) * (gy / h - 0.5)) * 2
    edge = rng.uniform(-0.3, 0.3)
    shade = 1 - rng.uniform(0.35, 0.55) / (1 + np.exp(-(along - edge) * 8))  # dark on one side
    picture = picture * shade[..., None]
    image = Image.fromarray(to_u8(picture), "RGB")
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    moved = [(x + rng.uniform(-0.12, 0.12) * w, y + rng.uniform(-0.12, 0.12) * h) for x, y in corners]
    # PIL's PERSPECTIVE maps output to input: the coefficients send `corners` to `moved`.
    a = []
    for (x, y), (u, v) in zip(corners, moved):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = np.array([c for point in moved for c in point], dtype=np.float64)
    coefficients = np.linalg.solve(np.array(a, dtype=np.float64), b)
    paper_colour = tuple(int(c) for c in to_u8(picture[0, 0]))
    image = image.transform((w, h), Image.PERSPECTIVE, tuple(coefficients), Image.BICUBIC,
                            fillcolor=paper_colour)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    return np.asarray(image, dtype=np.float32) / 255.0


def render_harder(kind, glyph, rng):
    """The save arguments of a picture of one of HARDER_KINDS."""
    if kind == "photo":  # taken close up: the sheet fills the frame, its edges out of sight
        w, h = int(rng.integers(140, 200)), int(rng.integers(110, 160))
        big_w, big_h = round(w * 1.4), round(h * 1.4)
        height = h * rng.uniform(0.4, 0.6)
        centre = (big_w / 2 + rng.uniform(-0.08, 0.08) * w, big_h / 2 + rng.uniform(-0.08, 0.08) * h)
        paper_rgb = tuple(np.array([0.93, 0.91, 0.85]) + rng.uniform(-0.04, 0.04))
        sheet = compose(place(glyph, big_w, big_h, height, centre), paper(big_w, big_h, paper_rgb), INKS[0])
        photo = shadow_and_perspective(add_paper_texture(sheet, rng), rng)
        top, left = (big_h - h) // 2, (big_w - w) // 2
        return {"rgb": photo[top:top + h, left:left + w]}
    if kind == "lowres":
        side = int(rng.integers(20, 29))
        small = place(glyph, side, side, side * rng.uniform(0.6, 0.8), centred(side, side))
        bits = (small > rng.uniform(0.35, 0.6)).astype(np.float32)  # a 1-bit scan
        big = Image.fromarray(to_u8(bits), "L").resize((side * 4, side * 4), Image.NEAREST)
        coverage = np.asarray(big, dtype=np.float32) / 255.0
        return {"rgb": compose(coverage, paper(side * 4, side * 4, WHITE), INKS[0])}
    if kind == "border":
        w = h = int(rng.integers(48, 96))
        height = h * rng.uniform(0.95, 1.08)  # reaches the top and bottom edges, or past them
        aspect = glyph.shape[1] / glyph.shape[0]
        half_width = height * aspect / 2
        side = rng.choice([-1, 1])  # touches the left or the right edge too
        centre = (w / 2 + side * max(0.0, w / 2 - half_width), h / 2 + rng.uniform(-0.03, 0.03) * h)
        coverage = place(glyph, w, h, height, centre)
        while coverage.mean() > 0.4:  # paper stays the larger part (the preprocessing needs it)
            height *= 0.95
            coverage = place(glyph, w, h, height, centre)
        return {"rgb": compose(coverage, paper(w, h, WHITE), INKS[0])}
    # script, thin, thick: clean ink on white, as the font and hand kinds
    w = h = int(rng.integers(48, 112))
    height = h * rng.uniform(0.55, 0.8)
    centre = (w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h)
    return {"rgb": compose(place(glyph, w, h, height, centre), paper(w, h, WHITE), INKS[0])}


# ---- the format fixtures ------------------------------------------------------------------

FORMAT_DIR = os.path.join(HERE, "formats")
PATTERN_H, PATTERN_W = 12, 16


def pattern_rgb():
    """A smooth colour pattern; no two neighbouring values equal, none on the 8-bit grid."""
    y, x = np.mgrid[0:PATTERN_H, 0:PATTERN_W].astype(np.float32)
    r = 0.1 + 0.8 * x / (PATTERN_W - 1)
    g = 0.15 + 0.7 * y / (PATTERN_H - 1)
    b = 0.5 + 0.4 * np.sin((x + y) / 5.0)
    return np.stack([r, g, b], axis=2)


def pattern_alpha():
    y, x = np.mgrid[0:PATTERN_H, 0:PATTERN_W].astype(np.float32)
    return (x + y) / (PATTERN_H + PATTERN_W - 2)


def pillow_grey(path):
    """The grey values Pillow decodes from `path`: luma, alpha composited over white."""
    image = Image.open(path)
    image.load()
    if image.mode in ("I;16", "I;16B", "I"):
        return np.asarray(image, dtype=np.float64) / 65535.0
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    return rgba[..., 3] * grey + (1 - rgba[..., 3])


def make_format_fixtures():
    if os.path.isdir(FORMAT_DIR):
        shutil.rmtree(FORMAT_DIR)
    os.makedirs(FORMAT_DIR)
    rgb, alpha = pattern_rgb(), pattern_alpha()
    grey = grey_of(rgb)
    grey16 = (grey * 65535 + 0.5).astype(np.uint16)
    rgba8 = np.dstack([to_u8(rgb), to_u8(alpha)])
    writers = {  # name -> (extension, writer, tolerance against Pillow)
        "png-grey": ("png", lambda p: Image.fromarray(to_u8(grey), "L").save(p), 1e-6),
        "png-1bit": ("png", lambda p: Image.fromarray(grey > 0.5).save(p), 1e-6),
        "png-grey-alpha": ("png", lambda p: Image.fromarray(np.dstack([to_u8(grey), to_u8(alpha)]), "LA").save(p), 1e-6),
        "png-rgb": ("png", lambda p: Image.fromarray(to_u8(rgb), "RGB").save(p), 1e-6),
        "png-rgba": ("png", lambda p: Image.fromarray(rgba8, "RGBA").save(p), 1e-6),
        "png-palette": ("png", lambda p: Image.fromarray(to_u8(rgb), "RGB").quantize(colors=64).save(p), 1e-6),
        "png-palette-alpha": ("png", lambda p: Image.fromarray(rgba8, "RGBA").quantize(colors=64, method=Image.FASTOCTREE).save(p), 1e-6),
        "png16": ("png", lambda p: Image.fromarray(grey16, "I;16").save(p), 1e-6),
        "jpeg": ("jpg", lambda p: Image.fromarray(to_u8(rgb), "RGB").save(p, quality=95), 0.03),
        "jpeg-grey": ("jpg", lambda p: Image.fromarray(to_u8(grey), "L").save(p, quality=95), 0.03),
        "bmp": ("bmp", lambda p: Image.fromarray(to_u8(rgb), "RGB").save(p), 1e-6),
        "bmp-grey": ("bmp", lambda p: Image.fromarray(to_u8(grey), "L").save(p), 1e-6),
        "pgm": ("pgm", lambda p: Image.fromarray(to_u8(grey), "L").save(p), 1e-6),
        "pgm16": ("pgm", lambda p: Image.fromarray(grey16.astype(np.int32), "I").save(p), 1e-6),
        "ppm": ("ppm", lambda p: Image.fromarray(to_u8(rgb), "RGB").save(p), 1e-6),
    }
    expected = {}
    for name, (extension, write, tolerance) in writers.items():
        file = f"pattern_{name}.{extension}"
        write(os.path.join(FORMAT_DIR, file))
        values = pillow_grey(os.path.join(FORMAT_DIR, file))
        assert values.shape == (PATTERN_H, PATTERN_W), (name, values.shape)
        expected[file] = {"format": name, "height": PATTERN_H, "width": PATTERN_W,
                          "tolerance": tolerance,
                          "grey": [round(float(v), 7) for v in values.ravel()]}
    with open(os.path.join(FORMAT_DIR, "expected.json"), "w") as f:  # one file a line
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in expected.items()) + "\n}\n")


def main():
    make_format_fixtures()
    rng = np.random.default_rng(SEED)
    if os.path.isdir(OUT_DIR):
        shutil.rmtree(OUT_DIR)
    os.makedirs(OUT_DIR)
    rows = []
    for kind, formats in FORMATS.items():
        n = 0
        for index in range(PER_DIGIT_HARDER if kind in HARDER_KINDS else PER_DIGIT):
            for digit in range(10):
                fmt = formats[n % len(formats)]
                name = f"{kind}_{n:03d}.{EXTENSIONS[fmt]}"
                arguments, source = render(kind, digit, index, rng)
                save(os.path.join(OUT_DIR, name), fmt, rng=rng, **arguments)
                rows.append({"file": f"digits/{name}", "label": digit, "kind": kind,
                             "format": fmt, "source": source})
                n += 1
    with open(MANIFEST, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "label", "kind", "format", "source"])
        writer.writeheader()
        writer.writerows(rows)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, r["file"][len("digits/"):])) for r in rows)
    print(f"wrote {len(rows)} pictures ({total / 1024:.0f} KiB) and {MANIFEST}", file=sys.stderr)


if __name__ == "__main__":
    main()
