#!/usr/bin/env python3
"""Paint the course's style images from code, so that every image the project ships is free to use.

    python images/make_styles.py              # writes images/style_*.jpg
    python images/make_styles.py --out /tmp   # writes them somewhere else

Each painter is seeded, so the same numpy and Pillow give the same pictures every time.
Neural style transfer copies *texture statistics* (Gram matrices of VGG features), so a good style
image is busy at several scales: big shapes, medium strokes and fine grain, in strong colours.
Every painter therefore draws large forms first, then smaller and smaller marks on top.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 512, 384  # landscape, 512 px on the long side
SCALE = 2  # paint at twice the size, then shrink: smooth, anti-aliased edges


def new_canvas(color):
    """A blank RGB canvas at SCALE times the final size, and a drawing handle on it."""
    img = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), color)
    return img, ImageDraw.Draw(img)


def jitter(rng, color, amount):
    """``color`` (r, g, b) with each channel moved by up to +-``amount``, as ints in [0, 255]."""
    return tuple(int(c) for c in np.clip(np.array(color) + rng.integers(-amount, amount + 1, 3), 0, 255))


def finish(img, rng, grain=6):
    """Shrink to WIDTH x HEIGHT and add a fine canvas grain (the smallest scale of texture)."""
    small = np.asarray(img.resize((WIDTH, HEIGHT), Image.LANCZOS), dtype=np.float32)
    noise = rng.normal(0.0, grain, (HEIGHT, WIDTH, 1))
    return Image.fromarray(np.clip(small + noise, 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------------------------------
# Swirls: thick curved strokes that follow a swirling flow field (after van Gogh)
# --------------------------------------------------------------------------------------------------


def flow_angle(x, y, vortices):
    """Direction (radians) of the flow at points (x, y): a gentle wave plus a few whirlpools."""
    vx = np.ones_like(x)
    vy = 0.5 * np.sin(x / 90.0 + y / 140.0)
    for cx, cy, radius, spin in vortices:
        dx, dy = x - cx, y - cy
        pull = spin * np.exp(-(dx**2 + dy**2) / (2 * radius**2)) * 4.0
        vx, vy = vx - pull * dy / radius, vy + pull * dx / radius
    return np.arctan2(vy, vx)


def paint_swirls(seed=1):
    """Blue night sky of swirling thick strokes, with yellow-white whirls and stars."""
    rng = np.random.default_rng(seed)
    s = SCALE
    vortices = [(150 * s, 130 * s, 70 * s, 1.0), (360 * s, 110 * s, 55 * s, -1.0),
                (420 * s, 280 * s, 60 * s, 1.0), (120 * s, 310 * s, 50 * s, -1.0), (270 * s, 220 * s, 45 * s, 1.0)]
    stars = [(cx, cy, r * 0.45) for cx, cy, r, _ in vortices[:3]]
    blues = [(20, 40, 110), (35, 70, 160), (60, 110, 190), (25, 55, 130), (90, 150, 210), (15, 25, 70)]
    yellows = [(245, 215, 70), (250, 235, 140), (230, 170, 40), (255, 250, 210)]
    img, draw = new_canvas((25, 45, 110))
    # Three passes of strokes, from broad to fine; each stroke walks along the flow.
    for count, width, steps, step in [(2200, 11, 8, 9), (3500, 7, 7, 7), (4500, 4, 6, 5)]:
        width *= s
        x = rng.uniform(0, WIDTH * s, count)
        y = rng.uniform(0, HEIGHT * s, count)
        paths = [np.stack([x, y], 1)]
        for _ in range(steps):
            a = flow_angle(x, y, vortices)
            x, y = x + step * s * np.cos(a), y + step * s * np.sin(a)
            paths.append(np.stack([x, y], 1))
        paths = np.stack(paths, 1)  # (count, steps + 1, 2)
        for path in paths:
            x0, y0 = path[0]
            near_star = min(np.hypot(x0 - cx, y0 - cy) / r for cx, cy, r in stars)
            warm = near_star < 1.0 or rng.random() < 0.07
            base = yellows[rng.integers(len(yellows))] if warm else blues[rng.integers(len(blues))]
            points = [tuple(p) for p in path]
            # A darker, wider under-stroke and a lighter ridge on top look like thick paint.
            draw.line(points, fill=jitter(rng, np.array(base) * 0.7, 12), width=width, joint="curve")
            draw.line(points, fill=jitter(rng, base, 20), width=max(2, width // 2), joint="curve")
    return finish(img, rng)


# --------------------------------------------------------------------------------------------------
# Mosaic: Voronoi cells of coloured glass with dark lead lines (stained glass)
# --------------------------------------------------------------------------------------------------


def voronoi_labels(points, height, width):
    """Index of the nearest point for every pixel of a height x width grid."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    best = np.full((height, width), np.inf, dtype=np.float32)
    labels = np.zeros((height, width), dtype=np.int32)
    for i, (px, py) in enumerate(points):
        d = (xx - px) ** 2 + (yy - py) ** 2
        closer = d < best
        best[closer], labels[closer] = d[closer], i
    return labels


def smooth_noise(rng, height, width, cells):
    """Random values on a coarse ``cells``-wide grid, smoothly enlarged: blotches of that scale."""
    coarse = rng.uniform(0, 255, (max(2, cells * height // width), cells)).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), np.float32) / 255.0


def paint_mosaic(seed=2):
    """Stained glass: saturated Voronoi cells, mottled glass, thick dark lead lines."""
    rng = np.random.default_rng(seed)
    h, w = HEIGHT * SCALE, WIDTH * SCALE
    # Big cells plus a denser cluster of small ones: shapes at two scales.
    points = np.concatenate([rng.uniform([0, 0], [w, h], (110, 2)),
                             rng.normal([0.3 * w, 0.55 * h], [0.15 * w, 0.2 * h], (90, 2))])
    labels = voronoi_labels(points, h, w)
    palette = np.array([(200, 30, 40), (30, 60, 170), (240, 180, 20), (20, 130, 60), (120, 40, 150),
                        (230, 100, 20), (40, 150, 190), (180, 20, 90), (250, 220, 120)], np.float32)
    colors = palette[rng.integers(len(palette), size=len(points))]
    colors = np.clip(colors + rng.normal(0, 18, colors.shape), 0, 255)
    rgb = colors[labels]
    # Glass is never flat: a light gradient across each cell and cloudy mottling.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, len(points))[labels]
    centre = points[labels]
    shade = ((xx - centre[..., 0]) * np.cos(angle) + (yy - centre[..., 1]) * np.sin(angle)) / 60.0
    mottle = smooth_noise(rng, h, w, 40) - 0.5 + 0.6 * (smooth_noise(rng, h, w, 120) - 0.5)
    rgb = rgb * (1.0 + 0.25 * np.tanh(shade) + 0.5 * mottle)[..., None]
    # Lead: pixels whose label differs from a neighbour's, thickened by a max filter.
    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    lead = Image.fromarray(edge.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(7))
    lead = np.asarray(lead.filter(ImageFilter.GaussianBlur(1.5)), np.float32)[..., None] / 255.0
    rgb = rgb * (1 - lead) + np.array([25, 22, 20]) * lead
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return finish(img, rng, grain=5)


# --------------------------------------------------------------------------------------------------
# Waves: layered blue and white bands with curling crests (after Hokusai)
# --------------------------------------------------------------------------------------------------


def paint_waves(seed=3):
    """Rows of stylised waves, back to front: Prussian-blue bands, white foam and curls."""
    rng = np.random.default_rng(seed)
    s = SCALE
    w, h = WIDTH * s, HEIGHT * s
    img, draw = new_canvas((232, 218, 188))  # paper-coloured sky
    for _ in range(12):  # long, flat grey-beige cloud bands
        x, y = rng.uniform(-0.2 * w, w), rng.uniform(0, h * 0.16)
        length, thick = rng.uniform(0.2, 0.5) * w, rng.uniform(4, 9) * s
        draw.rounded_rectangle([x, y, x + length, y + thick], radius=thick / 2, fill=jitter(rng, (190, 180, 160), 6))
    blues = [(20, 40, 90), (30, 70, 130), (50, 100, 160), (15, 30, 70), (70, 130, 180)]
    xs = np.arange(0, w + 4 * s, 4 * s, dtype=np.float64)
    rows = 9
    for row in range(rows):  # back (small, high) to front (big, low)
        depth = (row + 1) / rows
        base = h * (0.12 + 0.8 * depth)
        amp = (8 + 45 * depth) * s
        k = 2 * np.pi / ((60 + 180 * depth) * s)
        phase = rng.uniform(0, 2 * np.pi)
        # |sin|^3 gives rounded crests and sharp troughs, like rows of rolling waves.
        crest = base - amp * np.abs(np.sin(k * xs / 2 + phase)) ** 3 + 4 * s * np.sin(3.1 * k * xs)
        color = blues[row % len(blues)]
        draw.polygon(list(zip(xs, crest)) + [(w, h), (0, h)], fill=color)
        # Inner bands: lighter and darker lines that follow the crest down the body of the wave.
        for j in range(1, 9):
            band = crest + j * (5 + 4 * depth) * s
            shade = (230, 240, 245) if j % 3 == 0 else jitter(rng, np.array(color) * 1.4 + 20, 15)
            draw.line(list(zip(xs, band)), fill=shade, width=int((1 + 2 * depth) * s))
        # Foam: a white rim, a curl under each crest and a row of claw-like hooks beside it.
        foam = (245, 245, 235)
        draw.line(list(zip(xs, crest)), fill=foam, width=int((2 + 5 * depth) * s))
        peaks = [i for i in range(1, len(xs) - 1) if crest[i] < crest[i - 1] and crest[i] <= crest[i + 1]]
        for i in peaks:
            px, py = xs[i], crest[i]
            r_max = (5 + 22 * depth) * s
            t = np.linspace(0, 4 * np.pi, 60)
            r = r_max * t / t[-1]
            spiral = list(zip(px + r * np.cos(t), py + r_max + r * np.sin(t) * 0.8))
            draw.line(spiral, fill=foam, width=int((1 + 2 * depth) * s), joint="curve")
            for j in range(int(3 + 6 * depth)):  # claws: hooks that curl down along the rim
                hx = px + (j + 1) * r_max * 0.55 * rng.uniform(0.8, 1.2)
                hi = min(len(xs) - 1, int(hx / (4 * s)))
                rr = r_max * rng.uniform(0.2, 0.35)
                box = [hx - rr, crest[hi] - rr, hx + rr, crest[hi] + rr]
                draw.arc(box, start=180, end=450, fill=foam, width=int((1 + 2 * depth) * s))
    return finish(img, rng, grain=5)


# --------------------------------------------------------------------------------------------------
# Cubist: flat overlapping angular shapes in earth colours, with outlines and hatching
# --------------------------------------------------------------------------------------------------


def paint_cubist(seed=4):
    """Overlapping angular planes in ochre, brown and grey, outlined and partly hatched."""
    rng = np.random.default_rng(seed)
    s = SCALE
    w, h = WIDTH * s, HEIGHT * s
    palette = [(190, 150, 80), (150, 100, 50), (110, 80, 50), (160, 155, 140), (90, 90, 85),
               (210, 185, 130), (70, 55, 40), (130, 120, 100), (200, 120, 60)]
    img, draw = new_canvas((150, 130, 100))
    for size, count in [(220, 25), (120, 60), (55, 110)]:  # big planes first, then smaller facets
        for _ in range(count):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            n = rng.integers(3, 6)
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            radii = rng.uniform(0.4, 1.0, n) * size * s
            poly = list(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles)))
            color = palette[rng.integers(len(palette))]
            draw.polygon(poly, fill=jitter(rng, color, 15))
            if rng.random() < 0.4:  # hatching: parallel strokes across the shape's box
                mask = Image.new("L", img.size, 0)
                ImageDraw.Draw(mask).polygon(poly, fill=255)
                hatch = Image.new("RGB", img.size, jitter(rng, np.array(color) * 0.6, 10))
                lines = Image.new("L", img.size, 0)
                ld = ImageDraw.Draw(lines)
                a, gap = rng.uniform(0, np.pi), rng.uniform(6, 12) * s
                dx, dy = np.cos(a), np.sin(a)
                for o in np.arange(-size * s, size * s, gap):
                    ox, oy = cx - dy * o, cy + dx * o
                    ld.line([(ox - dx * size * s, oy - dy * size * s), (ox + dx * size * s, oy + dy * size * s)],
                            fill=255, width=2 * s)
                img.paste(hatch, (0, 0), Image.fromarray(np.minimum(np.asarray(mask), np.asarray(lines))))
            draw.line(poly + [poly[0]], fill=jitter(rng, (40, 30, 25), 10), width=int(rng.integers(2, 5) * s))
    return finish(img, rng, grain=7)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

PAINTERS = {"style_swirls.jpg": paint_swirls, "style_mosaic.jpg": paint_mosaic,
            "style_waves.jpg": paint_waves, "style_cubist.jpg": paint_cubist}


def main(argv=None):
    """Write every style image into ``--out`` (default: the folder of this script)."""
    parser = argparse.ArgumentParser(description="Generate the course's style images.")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, paint in PAINTERS.items():
        paint().save(out / name, quality=92)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
