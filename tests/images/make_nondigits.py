#!/usr/bin/python3
"""Generate pictures that are not digits, for a digits model to reject ("not a digit").

Two sets, drawn from different fonts and different shapes, so that what a model is tested on
is not what it was trained on:

    train   the negatives `make models` trains the built-in digits model with (imgcls train
            --negatives DIR); written into a build folder, never committed
    test    the committed set tests/images/nondigits/ that the rejection figures are measured on
            (README, "Not a digit"); training never sees it

Each picture is one of these kinds, dark ink on paper unless said:
    letter     one capital letter
    lower      one small letter
    word       two to five letters
    symbol     a punctuation or other sign (+ # & @ % ? ! ...)
    shape      an outlined or filled geometric shape (triangle, square, star, arrow, ...)
    colour     a filled shape in a strong colour on white (the issue's red square)
    texture    a pattern filling the picture: stripes, a checkerboard, dots, a grid
    scribble   a random pen scrawl with many turns
    photo      soft colour blobs and gradients, as a photograph of a scene
    blank      paper with grain and no ink, or sensor noise
Left out, because they are digits in all but name: the letters O o Q D (0), I l i j J (1),
Z z (2), S s (5), B b G (6 or 8), g q (9), T (7), and rings and ellipses (0).

The train set uses the fonts DejaVu, Liberation and FreeSans and the handwriting fonts of
fonts-dkg-handwriting, fonts-bwht, fonts-kaushanscript, fonts-kristi and fonts-femkeklaver (half
its glyphs warped and re-inked as a hand would draw them), and the shapes triangle, square,
rectangle, star, arrow, plus-cross, heart, irregular polygons and zigzag lines; the test set uses Comic Neue,
Humor Sans, Breip, Dancing Script, FreeSerif and Liberation Mono, and the shapes pentagon,
hexagon, diamond, crescent, lightning bolt, cloud and spiral. Kinds, placement, pens and formats come from a
fixed seed per set, so a rerun with the same Debian packages rewrites the same files.

Needs what make_images.py needs (python3-pil, python3-numpy, the same font packages) and, for
the train set, fonts-dkg-handwriting, fonts-bwht, fonts-kaushanscript and fonts-kristi
(scripts/setup.sh --models installs them).

Usage (from the repository root):
    /usr/bin/python3 tests/images/make_nondigits.py --set test    # tests/images/nondigits/
    /usr/bin/python3 tests/images/make_nondigits.py --set train --count 12000 --out DIR
"""

import argparse
import csv
import math
import os
import shutil
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_images as mi  # noqa: E402  (the digits set's glyph, placing and saving helpers)

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["letter", "lower", "word", "symbol", "shape", "colour", "texture", "scribble", "photo",
         "blank"]
UPPER = [c for c in "ACEFHKLMNPRUVWXY"]
LOWER = [c for c in "acdefhkmnprtuvwxy"]
SYMBOLS = list("+#&@%?!*=<>~$")

FONTS = {
    "train": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
        # handwriting (other hands than the test set's)
        "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
        "/usr/share/fonts/truetype/fifthhorseman/dkgBd.ttf",
        "/usr/share/fonts/opentype/bwht/BecauseWeBuild-Regular.otf",
        "/usr/share/fonts/opentype/bwht/BecauseWeConnect-Regular.otf",
        "/usr/share/fonts/opentype/bwht/BecauseWeCreate-Regular.otf",
        "/usr/share/fonts/opentype/bwht/BecauseWeLearn-Regular.otf",
        "/usr/share/fonts/opentype/bwht/BecauseWeMentor-Regular.otf",
        "/usr/share/fonts/opentype/bwht/BecauseWeOrganize-Regular.otf",
        "/usr/share/fonts/opentype/kaushanscript/KaushanScript-Regular.otf",
        "/usr/share/fonts/truetype/kristi/Kristi.ttf",
        "/usr/share/fonts/truetype/femkeklaver/femkeklaver.ttf",
    ],
    "test": [
        "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
        "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
        "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
        "/usr/share/fonts/truetype/breip/Breip.ttf",
        "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",
        "/usr/share/fonts/truetype/freefont/FreeSerifItalic.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
    ],
}
SHAPES = {
    "train": ["triangle", "square", "rectangle", "star", "arrow", "cross", "heart", "polygon",
              "polygon", "zigzag"],
    "test": ["pentagon", "hexagon", "diamond", "crescent", "bolt", "cloud", "spiral"],
}
SEEDS = {"train": 31, "test": 20261207}
FORMATS = ["png-grey", "png-rgb", "jpeg", "jpeg", "png-palette", "pgm"]  # mostly compressed
COLOURS = [(0.85, 0.1, 0.1), (0.1, 0.3, 0.85), (0.1, 0.6, 0.2), (0.95, 0.75, 0.1),
           (0.6, 0.2, 0.7), (0.95, 0.5, 0.1)]
S = 400  # the side of the high-resolution masks shapes are drawn in

_glyphs = {}


def text_mask(text, font_path):
    key = (text, font_path)
    if key not in _glyphs:
        from PIL import ImageFont
        font = ImageFont.truetype(font_path, mi.GLYPH_HEIGHT)
        width = mi.GLYPH_HEIGHT * (len(text) + 1)
        image = Image.new("L", (width, mi.GLYPH_HEIGHT * 2), 0)
        ImageDraw.Draw(image).text((mi.GLYPH_HEIGHT // 2, mi.GLYPH_HEIGHT // 4), text, fill=255,
                                   font=font)
        ink = np.asarray(image, dtype=np.float32) / 255.0
        fallback = FONTS["train"][0]
        if ink.max() <= 0.02 and font_path != fallback:  # the font has no such glyph
            _glyphs[key] = text_mask(text, fallback)
        else:
            _glyphs[key] = mi.crop_to_ink(ink)
    return _glyphs[key]


def polygon(points):
    return [(S / 2 + x * S * 0.45, S / 2 - y * S * 0.45) for x, y in points]


def regular(n, rotation=90.0, inner=None):
    points = []
    for k in range(n * (2 if inner else 1)):
        r = inner if inner and k % 2 else 1.0
        a = math.radians(rotation + k * 360.0 / (n * (2 if inner else 1)))
        points.append((r * math.cos(a), r * math.sin(a)))
    return polygon(points)


def shape_mask(name, filled, rng):
    image = Image.new("L", (S, S), 0)
    draw = ImageDraw.Draw(image)
    pen = int(S * rng.uniform(0.05, 0.12))
    if name == "spiral":  # a pen line, never filled
        t = np.linspace(0, rng.uniform(3.5, 5) * math.pi, 200)
        r = 0.12 + 0.85 * t / t[-1]
        xy = [(S / 2 + S * 0.45 * rr * math.cos(tt), S / 2 + S * 0.45 * rr * math.sin(tt))
              for rr, tt in zip(r, t)]
        draw.line(xy, fill=255, width=pen, joint="curve")
        return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)
    if name == "crescent":
        draw.ellipse((S * 0.1, S * 0.1, S * 0.9, S * 0.9), fill=255)
        off = rng.uniform(0.18, 0.3) * S
        draw.ellipse((S * 0.1 + off, S * 0.05, S * 0.95 + off, S * 0.85), fill=0)
        return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)
    if name == "cloud":
        for cx, cy, r in [(0.3, 0.55, 0.2), (0.5, 0.4, 0.25), (0.7, 0.55, 0.2), (0.5, 0.62, 0.2)]:
            draw.ellipse(((cx - r) * S, (cy - r) * S, (cx + r) * S, (cy + r) * S), fill=255)
        if not filled:
            inner = Image.new("L", (S, S), 0)
            d = ImageDraw.Draw(inner)
            for cx, cy, r in [(0.3, 0.55, 0.2), (0.5, 0.4, 0.25), (0.7, 0.55, 0.2),
                              (0.5, 0.62, 0.2)]:
                r -= pen / S
                d.ellipse(((cx - r) * S, (cy - r) * S, (cx + r) * S, (cy + r) * S), fill=255)
            image = Image.fromarray(np.where(np.asarray(inner) > 0, 0, np.asarray(image))
                                    .astype(np.uint8), "L")
        return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)
    if name == "zigzag":  # an open line with 3 to 6 sharp turns
        pts = [(S * rng.uniform(0.1, 0.9), S * rng.uniform(0.1, 0.9))
               for _ in range(int(rng.integers(4, 8)))]
        draw.line(pts, fill=255, width=pen, joint="curve")
        return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)
    if name == "polygon":  # irregular: 5 to 10 corners at random radii
        n = int(rng.integers(5, 11))
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        radii = rng.uniform(0.35 if rng.random() < 0.5 else 0.75, 1.0, n)
        pts = polygon([(r * math.cos(a), r * math.sin(a)) for r, a in zip(radii, angles)])
        if filled:
            draw.polygon(pts, fill=255)
        else:
            draw.line(pts + [pts[0]], fill=255, width=pen, joint="curve")
        return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)
    points = {
        "triangle": lambda: regular(3),
        "square": lambda: regular(4, 45),
        "rectangle": lambda: polygon([(-1, -0.55), (1, -0.55), (1, 0.55), (-1, 0.55)]),
        "star": lambda: regular(5, 90, inner=0.42),
        "arrow": lambda: polygon([(-1, 0.22), (0.25, 0.22), (0.25, 0.6), (1, 0), (0.25, -0.6),
                                  (0.25, -0.22), (-1, -0.22)]),
        "cross": lambda: polygon([(-0.3, 1), (0.3, 1), (0.3, 0.3), (1, 0.3), (1, -0.3),
                                  (0.3, -0.3), (0.3, -1), (-0.3, -1), (-0.3, -0.3), (-1, -0.3),
                                  (-1, 0.3), (-0.3, 0.3)]),
        "heart": lambda: polygon([(0.5 * 16 * math.sin(t) ** 3 / 16 * 2,
                                   (13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t)
                                    - math.cos(4 * t)) / 16)
                                  for t in np.linspace(0, 2 * math.pi, 60)]),
        "pentagon": lambda: regular(5),
        "hexagon": lambda: regular(6, 0),
        "diamond": lambda: polygon([(0, 1), (0.6, 0), (0, -1), (-0.6, 0)]),
        "bolt": lambda: polygon([(0.2, 1), (-0.5, -0.05), (-0.05, -0.05), (-0.25, -1),
                                 (0.55, 0.15), (0.08, 0.15), (0.35, 1)]),
    }[name]()
    if filled:
        draw.polygon(points, fill=255)
    else:
        draw.line(points + [points[0]], fill=255, width=pen, joint="curve")
    return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)


def scribble_mask(rng):
    image = Image.new("L", (S, S), 0)
    draw = ImageDraw.Draw(image)
    points = rng.uniform(0.1, 0.9, (int(rng.integers(8, 16)), 2)) * S
    t = np.linspace(0, 1, 12)[:, None]
    xy = []
    for a, b, c in zip(points[:-2], points[1:-1], points[2:]):  # smooth through midpoints
        p0, p2 = (a + b) / 2, (b + c) / 2
        xy.extend(map(tuple, (1 - t) ** 2 * p0 + 2 * (1 - t) * t * b + t ** 2 * p2))
    draw.line(xy, fill=255, width=int(S * rng.uniform(0.02, 0.06)), joint="curve")
    return mi.crop_to_ink(np.asarray(image, dtype=np.float32) / 255.0)


def texture(w, h, rng):
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    pattern = int(rng.integers(4))
    period = rng.uniform(6, 16)
    if pattern == 0:  # stripes at an angle
        a = rng.uniform(0, math.pi)
        return ((np.cos(a) * gx + np.sin(a) * gy) % period < period / 2).astype(np.float32)
    if pattern == 1:  # checkerboard
        return (((gx // period) + (gy // period)) % 2).astype(np.float32)
    if pattern == 2:  # dots
        r = period * rng.uniform(0.2, 0.35)
        return ((((gx % period) - period / 2) ** 2 + ((gy % period) - period / 2) ** 2) < r * r
                ).astype(np.float32)
    line_width = max(1.0, period * 0.15)  # a grid of lines
    return (((gx % period) < line_width) | ((gy % period) < line_width)).astype(np.float32)


def photo(w, h, rng):
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    picture = np.ones((h, w, 3), np.float32) * rng.uniform(0.2, 0.9, 3).astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(direction) * gx / w + np.sin(direction) * gy / h)[..., None]
    picture = picture + ramp * rng.uniform(-0.4, 0.4, 3).astype(np.float32)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.1, 0.45) * min(w, h)
        blob = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * r * r))[..., None]
        picture = picture * (1 - blob) + blob * rng.uniform(0, 1, 3).astype(np.float32)
    return np.clip(picture + rng.normal(0, 0.02, picture.shape).astype(np.float32), 0, 1)


def blank(w, h, rng):
    if rng.random() < 0.5:  # paper with grain, a gradient and dust, no ink
        tint = np.array([0.93, 0.91, 0.85]) + rng.uniform(-0.05, 0.05)
        return mi.add_paper_texture(mi.paper(w, h, tuple(tint)), rng)
    grey = rng.uniform(0.2, 0.8)  # sensor noise
    return np.clip(np.full((h, w, 3), grey, np.float32)
                   + rng.normal(0, rng.uniform(0.05, 0.2), (h, w, 1)).astype(np.float32), 0, 1)


def handwritten(mask, rng):
    """The train set's glyphs as a hand would draw them: an elastic warp (a smooth random
    displacement of up to 6% of the size) and, one time in three, a thicker or thinner pen."""
    h, w = mask.shape
    pad = max(h, w) // 8
    mask = np.pad(mask, pad)
    h, w = mask.shape
    fields = []
    for _ in range(2):
        coarse = Image.fromarray(rng.uniform(-1, 1, (4, 4)).astype(np.float32), "F")
        fields.append(np.asarray(coarse.resize((w, h), Image.BICUBIC)) * 0.06 * max(h, w))
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    sy = np.clip(gy + fields[0], 0, h - 1).astype(np.int32)
    sx = np.clip(gx + fields[1], 0, w - 1).astype(np.int32)
    warped = mask[sy, sx]
    change = rng.random()
    if change < 1 / 6 or change > 5 / 6:
        size = 2 * int(max(h, w) * rng.uniform(0.01, 0.025)) + 1
        image = Image.fromarray((warped * 255).astype(np.uint8), "L")
        image = image.filter(ImageFilter.MaxFilter(size) if change < 1 / 6 else ImageFilter.MinFilter(size))
        warped = np.asarray(image, dtype=np.float32) / 255.0
    if warped.max() <= 0.02:
        return mask
    return mi.crop_to_ink(warped)


def on_paper(mask, rng, ink=None, paper_rgb=None, fill=(0.5, 0.8)):
    """The mask placed on a canvas of 48 to 112 px, scaled to `fill` of its side (longest
    side), slightly turned; ink on paper (dark on white unless given)."""
    w = h = int(rng.integers(48, 113))
    if rng.random() < 0.3:
        w = int(w * rng.uniform(1.1, 1.6))
    aspect = mask.shape[1] / mask.shape[0]
    longest = min(w, h) * rng.uniform(*fill)
    height = longest if aspect <= 1 else longest / aspect
    height = min(height, h * 0.9)
    centre = (w / 2 + rng.uniform(-0.06, 0.06) * w, h / 2 + rng.uniform(-0.06, 0.06) * h)
    coverage = mi.place(mask, w, h, height, centre, rng.uniform(-10, 10))
    ink = ink or mi.INKS[int(rng.integers(len(mi.INKS)))]
    paper_rgb = paper_rgb or (mi.WHITE if rng.random() < 0.6
                              else tuple(np.array([0.93, 0.91, 0.85]) + rng.uniform(-0.04, 0.04)))
    picture = mi.compose(coverage, mi.paper(w, h, paper_rgb), ink)
    if rng.random() < 0.25:
        picture = mi.add_paper_texture(picture, rng)
    return picture


def render(kind, which, rng):
    """One picture of `kind` from the fonts and shapes of set `which`: (rgb, source)."""
    fonts, shapes = FONTS[which], SHAPES[which]
    font = fonts[int(rng.integers(len(fonts)))]
    font_name = os.path.splitext(os.path.basename(font))[0]
    if which == "train":  # half the glyphs as a hand draws them (the test set's fonts are hands)
        text_mask_of = lambda text, path: (handwritten(text_mask(text, path), rng)
                                           if rng.random() < 0.5 else text_mask(text, path))
    else:
        text_mask_of = text_mask
    if kind == "letter":
        c = UPPER[int(rng.integers(len(UPPER)))]
        return on_paper(text_mask_of(c, font), rng), f"{font_name}:{c}"
    if kind == "lower":
        c = LOWER[int(rng.integers(len(LOWER)))]
        return on_paper(text_mask_of(c, font), rng), f"{font_name}:{c}"
    if kind == "word":
        letters = UPPER + LOWER
        word = "".join(letters[int(rng.integers(len(letters)))]
                       for _ in range(int(rng.integers(2, 6))))
        return on_paper(text_mask_of(word, font), rng, fill=(0.7, 0.95)), f"{font_name}:{word}"
    if kind == "symbol":
        c = SYMBOLS[int(rng.integers(len(SYMBOLS)))]
        return on_paper(text_mask_of(c, font), rng), f"{font_name}:{c}"
    if kind in ("shape", "colour"):
        name = shapes[int(rng.integers(len(shapes)))]
        filled = kind == "colour" or rng.random() < 0.4
        mask = shape_mask(name, filled, rng)
        if kind == "colour":
            colour = COLOURS[int(rng.integers(len(COLOURS)))]
            return on_paper(mask, rng, ink=colour, paper_rgb=mi.WHITE), f"{name}-filled"
        return on_paper(mask, rng), name + ("-filled" if filled else "")
    if kind == "scribble":
        return on_paper(scribble_mask(rng), rng, fill=(0.6, 0.9)), "scribble"
    w, h = int(rng.integers(48, 129)), int(rng.integers(48, 129))
    if kind == "texture":
        ink = mi.INKS[int(rng.integers(len(mi.INKS)))]
        return mi.compose(texture(w, h, rng), mi.paper(w, h, mi.WHITE), ink), "texture"
    if kind == "photo":
        return photo(w, h, rng), "photo"
    if kind == "blank":
        return blank(w, h, rng), "blank"
    raise ValueError(kind)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=["train", "test"], required=True)
    parser.add_argument("--count", type=int, default=None,
                        help="pictures to write (default: 300 for test; required for train)")
    parser.add_argument("--out", default=None,
                        help="the folder (default for test: tests/images/nondigits); replaced")
    args = parser.parse_args()
    count = args.count or (300 if args.set == "test" else None)
    if count is None or count <= 0:
        parser.error("--count: give a positive number of pictures")
    out = args.out or (os.path.join(HERE, "nondigits") if args.set == "test" else None)
    if out is None:
        parser.error("--out: give the folder for the train set")
    rng = np.random.default_rng(SEEDS[args.set])
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rows = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        fmt = FORMATS[int(rng.integers(len(FORMATS)))]
        rgb, source = render(kind, args.set, rng)
        name = f"{kind}_{n // len(KINDS):04d}.{mi.EXTENSIONS[fmt]}"
        mi.save(os.path.join(out, name), fmt, rgb=rgb, rng=rng)
        rows.append({"file": name, "kind": kind, "format": fmt, "source": source})
        if args.set == "train" and (n + 1) % 1000 == 0:
            print(f"  {n + 1}/{count}", file=sys.stderr)
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "kind", "format", "source"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} pictures into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
