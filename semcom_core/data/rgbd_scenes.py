"""RGB-D scenes: an embedded, generated scene-classification dataset for two devices (RGB camera, depth sensor).

Each sample is a scene made of a *geometry* (what the depth sensor measures) and an *appearance* (the
texture the camera sees). The RGB image is rendered flat: its texture does not depend on the geometry (no
shading, no edges from the depth layout), so the geometry is invisible in RGB; the depth map carries no
texture. Class evidence is split between the modalities on purpose:

=====  ==================  ============  ==================  ============
class  name                geometry      appearance          evidence
=====  ==================  ============  ==================  ============
c0     wall/h-stripes      flat wall     horizontal stripes  rgb-unique
c1     wall/v-stripes      flat wall     vertical stripes    rgb-unique
c2     floor-wall/checker  floor + wall  checkerboard        depth-unique
c3     box/checker         box           checkerboard        depth-unique
c4     sphere/dots         sphere        dots on a grid      rgb-unique
c5     sphere/gradient     sphere        colour gradient     rgb-unique
c6     slant/noise         slanted wall  fine noise          depth-unique
c7     steps/noise         two boxes     fine noise          depth-unique
c8     column/diagonal     column        diagonal stripes    shared
c9     corridor/rings      corridor      concentric rings    shared
=====  ==================  ============  ==================  ============

RGB alone cannot tell c2 from c3 nor c6 from c7; depth alone cannot tell c0 from c1 nor c4 from c5. Either
modality alone therefore tops out near 80 % accuracy, both together reach near 100 %.

Depth maps are in metres (about 0.5 to 9 m, like an indoor sensor): a flat wall at 2.5-8 m; a floor seen in
perspective up to a horizon at a random height, then the wall; a box in front of the wall; a sphere; a wall
slanted left-right (random sign and slope); two boxes at different depths; a vertical column; a V-shaped
corridor (close at the left and right edges, far in the middle). Appearances: horizontal, vertical or
diagonal stripes, checkerboard, dots, a smooth gradient, pixel noise, concentric rings; each with random
frequency, phase, orientation jitter and a random pair of light and dark colours (hue is a nuisance, not
evidence).

Nuisances: random placement and size of every object, sensor noise on depth proportional to depth, holes in
the depth map (about ``hole_fraction`` of the pixels as small blobs, plus pixels at depth discontinuities,
like the shadows of a structured-light sensor), RGB pixel noise and a random global brightness. Holes are
filled with :func:`semcom_core.data.multimodal.fill_depth_holes`; the dataset's ``holes_filled`` attribute
counts them. Classes are balanced. Depth is returned scaled by ``depth_max`` to [0, 1] (farther clips to 1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .multimodal import MultiModalDataset, fill_depth_holes

CLASSES = ["wall/h-stripes", "wall/v-stripes", "floor-wall/checker", "box/checker", "sphere/dots",
           "sphere/gradient", "slant/noise", "steps/noise", "column/diagonal", "corridor/rings"]
CLASS_GEOMETRY = [0, 0, 1, 2, 3, 3, 4, 5, 6, 7]
CLASS_APPEARANCE = [0, 1, 2, 2, 3, 4, 5, 5, 6, 7]
CLASS_KIND = {c: k for c, k in zip(CLASSES, ["rgb-unique"] * 2 + ["depth-unique"] * 2 + ["rgb-unique"] * 2
                                   + ["depth-unique"] * 2 + ["shared"] * 2)}
GEOMETRIES = ["flat wall", "floor+wall", "box", "sphere", "slanted wall", "two boxes", "column", "corridor"]
APPEARANCES = ["horizontal stripes", "vertical stripes", "checkerboard", "dots", "gradient", "noise",
               "diagonal stripes", "rings"]
NAME = "rgbd-scenes"
CLUTTERED_NAME = "rgbd-scenes-cluttered"
DEPTH_NOISE = 0.015  # depth noise std, as a fraction of the depth
RGB_NOISE = 0.03  # RGB pixel noise std (image in [0, 1])
CLUTTER_RGB_NOISE = 0.1  # the same, in cluttered scenes
CLUTTER_DEPTH_NOISE = 0.04


def _u(rng, m, low, high):
    """Per-sample uniform draws shaped [m, 1, 1] to broadcast over the pixel grid."""
    return rng.uniform(low, high, (m, 1, 1)).astype(np.float32)


def _rect(x, y, cx, cy, w, h):
    return (np.abs(x - cx) < w / 2) & (np.abs(y - cy) < h / 2)


def _geometry(g: int, rng, m: int, x, y) -> np.ndarray:
    """Depth [m, S, S] in metres of geometry g; x, y are pixel centres in [0, 1] shaped [1, S, S]."""
    wall = _u(rng, m, 2.5, 8.0)
    d = wall + np.zeros_like(x)
    if g == 1:  # floor in perspective below a horizon, the wall above it
        horizon, near = _u(rng, m, 0.3, 0.6), _u(rng, m, 0.8, 1.5)
        floor = near * (1 - horizon) / np.maximum(y - horizon, 1e-6)
        d = np.where(y > horizon, np.minimum(floor, wall), wall)
    elif g == 2:  # one box in front of the wall
        w, h = _u(rng, m, 0.25, 0.5), _u(rng, m, 0.25, 0.5)
        box = _rect(x, y, _u(rng, m, w / 2 + 0.05, 0.95 - w / 2), _u(rng, m, h / 2 + 0.05, 0.95 - h / 2), w, h)
        d = np.where(box, np.maximum(wall - _u(rng, m, 1.5, 3.0), 0.8), d)
    elif g == 3:  # sphere bulging out of the wall
        r = _u(rng, m, 0.15, 0.3)
        rho2 = ((x - _u(rng, m, 0.3, 0.7)) ** 2 + (y - _u(rng, m, 0.3, 0.7)) ** 2) / r**2
        d = np.where(rho2 < 1, wall - _u(rng, m, 1.0, 2.0) * np.sqrt(np.clip(1 - rho2, 0, 1)), d)
    elif g == 4:  # wall slanted left-right
        slope = _u(rng, m, 2.0, 5.0) * rng.choice(np.float32([-1, 1]), (m, 1, 1))
        d = _u(rng, m, 4.0, 6.0) + slope * (x - 0.5)
    elif g == 5:  # two boxes side by side at different depths
        for cx in (_u(rng, m, 0.2, 0.35), _u(rng, m, 0.65, 0.8)):
            w, h = _u(rng, m, 0.2, 0.3), _u(rng, m, 0.3, 0.6)
            box = _rect(x, y, cx, _u(rng, m, 0.35, 0.65), w, h)
            d = np.where(box, np.maximum(wall - _u(rng, m, 1.0, 3.5), 0.8), d)
    elif g == 6:  # vertical column (cylinder) over the full height
        r = _u(rng, m, 0.1, 0.2)
        u2 = ((x - _u(rng, m, 0.25, 0.75)) / r) ** 2
        d = np.where(u2 < 1, wall - _u(rng, m, 1.0, 2.0) * np.sqrt(np.clip(1 - u2, 0, 1)), d)
    elif g == 7:  # corridor: close at the side walls, far in the middle
        near, far = _u(rng, m, 0.8, 1.5), _u(rng, m, 6.0, 9.0)
        centre = _u(rng, m, 0.4, 0.6)
        d = far - (far - near) * np.abs(x - centre) / np.maximum(centre, 1 - centre)
    return d


def _pattern(a: int, rng, m: int, x, y) -> np.ndarray:
    """Texture [m, S, S] in [0, 1] of appearance a (1 = light colour, 0 = dark colour)."""
    phase = _u(rng, m, 0, 2 * np.pi)

    def wave(t, f):  # sinusoid of f cycles per image along coordinate t
        return 0.5 + 0.5 * np.sin(2 * np.pi * f * t + phase)

    tilt = _u(rng, m, -0.08, 0.08)  # small orientation jitter
    if a == 0:
        return wave(y + tilt * x, _u(rng, m, 3, 6))
    if a == 1:
        return wave(x + tilt * y, _u(rng, m, 3, 6))
    if a == 2:
        f, p2 = _u(rng, m, 2, 4), _u(rng, m, 0, 2 * np.pi)
        return (np.sin(2 * np.pi * f * x + phase) * np.sin(2 * np.pi * f * y + p2) > 0).astype(np.float32)
    if a == 3:
        f, p2 = _u(rng, m, 3, 5), _u(rng, m, 0, 2 * np.pi)
        bump = (1 + np.cos(2 * np.pi * f * x + phase)) * (1 + np.cos(2 * np.pi * f * y + p2)) / 4
        return (bump > 0.45).astype(np.float32)
    if a == 4:
        t = np.cos(phase) * (x - 0.5) + np.sin(phase) * (y - 0.5)  # the phase is the direction
        return np.clip(0.5 + t * _u(rng, m, 0.8, 1.4), 0, 1)
    if a == 5:
        return rng.random((m,) + x.shape[1:], dtype=np.float32)
    if a == 6:
        diag = rng.choice(np.float32([-1, 1]), (m, 1, 1)) * (1 + 3 * tilt)
        return wave((x + diag * y) / np.sqrt(2), _u(rng, m, 3, 6))
    r = np.sqrt((x - _u(rng, m, 0.2, 0.8)) ** 2 + (y - _u(rng, m, 0.2, 0.8)) ** 2)
    return wave(r, _u(rng, m, 3, 6))


def _hsv(h, s, v):
    """HSV in [0, 1] (arrays [m, 1, 1]) to RGB [m, 3, 1, 1]."""
    k = (np.float32([5, 3, 1])[None, :, None, None] + 6 * h[:, None]) % 6
    return v[:, None] * (1 - s[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1))


def _colourise(t, rng, clutter: bool = False) -> np.ndarray:
    """Texture [m, S, S] to a noisy uint8 RGB image [m, 3, S, S] between a random light and dark colour
    (closer together, with more noise, when cluttered)."""
    m = len(t)
    hue = _u(rng, m, 0, 1)
    light_v, dark_v = ((0.55, 0.9), (0.25, 0.5)) if clutter else ((0.75, 1.0), (0.1, 0.4))
    light = _hsv(hue, _u(rng, m, 0.3, 0.9), _u(rng, m, *light_v))
    dark = _hsv((hue + _u(rng, m, 0.25, 0.75)) % 1, _u(rng, m, 0.3, 0.9), _u(rng, m, *dark_v))
    img = dark + (light - dark) * t[:, None]
    noise = CLUTTER_RGB_NOISE if clutter else RGB_NOISE
    img = img * _u(rng, m, 0.7, 1.3)[:, None] + noise * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _add_occluders(depth, texture, rng, x, y) -> None:
    """In place: one object per scene close to the sensor (0.5-0.75 m, a random 25-45 % by 25-45 % rectangle)
    whose surface shows a texture of a random appearance, often another class's."""
    m = len(depth)
    w, h = _u(rng, m, 0.25, 0.45), _u(rng, m, 0.25, 0.45)
    box = _rect(x, y, _u(rng, m, w / 2, 1 - w / 2), _u(rng, m, h / 2, 1 - h / 2), w, h)
    kinds = rng.integers(0, len(APPEARANCES), m)
    surface = np.empty_like(texture)
    for a in range(len(APPEARANCES)):
        idx = np.flatnonzero(kinds == a)
        surface[idx] = _pattern(a, rng, len(idx), x, y)
    depth[:] = np.where(box, _u(rng, m, 0.5, 0.75), depth)
    texture[:] = np.where(box, surface, texture)


def _holes(clean: np.ndarray, rng, fraction: float) -> np.ndarray:
    """Hole mask [N, S, S]: blobs over about `fraction` of the pixels plus some pixels at depth edges."""
    if fraction <= 0:
        return np.zeros(clean.shape, bool)
    noise = torch.from_numpy(rng.standard_normal(clean.shape, dtype=np.float32))
    blur = F.avg_pool2d(noise[:, None], 3, 1, 1)[:, 0].numpy()  # smooth noise: its top quantile is blobs
    blobs = blur > np.quantile(blur, 1 - fraction, axis=(1, 2), keepdims=True)
    jump = np.zeros(clean.shape, bool)  # the farther pixel of each depth discontinuity
    dx, dy = np.diff(clean, axis=2), np.diff(clean, axis=1)
    jump[:, :, 1:] |= dx > 0.15 * clean[:, :, 1:]
    jump[:, :, :-1] |= -dx > 0.15 * clean[:, :, :-1]
    jump[:, 1:] |= dy > 0.15 * clean[:, 1:]
    jump[:, :-1] |= -dy > 0.15 * clean[:, :-1]
    return blobs | (jump & (rng.random(clean.shape, dtype=np.float32) < min(1.0, 15 * fraction)))


def make_rgbd_scenes(n: int, size: int = 32, seed: int = 0, depth_max: float = 10.0,
                     hole_fraction: float = 0.03, clutter: bool = False) -> MultiModalDataset:
    """Generate n balanced RGB-D scenes (see the module docstring); deterministic in seed.

    ``clutter`` (the ``rgbd-scenes-cluttered`` dataset) makes them harder: an occluding object with a random
    texture in front of every scene, lower texture contrast, 0.1 RGB noise, 4 % depth noise and twice the
    holes."""
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    if n < 1 or depth_max <= 0 or not 0 <= hole_fraction < 0.5:
        raise ValueError(f"need n >= 1, depth_max > 0 and 0 <= hole_fraction < 0.5; got {n}, {depth_max}, "
                         f"{hole_fraction}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    grid = ((np.arange(size) + 0.5) / size).astype(np.float32)
    x, y = grid[None, None, :], grid[None, :, None]
    x, y = np.broadcast_to(x, (1, size, size)), np.broadcast_to(y, (1, size, size))
    geometry, appearance = np.asarray(CLASS_GEOMETRY)[labels], np.asarray(CLASS_APPEARANCE)[labels]
    depth = np.empty((n, size, size), np.float32)
    texture = np.empty((n, size, size), np.float32)
    for g in range(len(GEOMETRIES)):
        idx = np.flatnonzero(geometry == g)
        depth[idx] = _geometry(g, rng, len(idx), x, y)
    for a in range(len(APPEARANCES)):
        idx = np.flatnonzero(appearance == a)
        texture[idx] = _pattern(a, rng, len(idx), x, y)
    if clutter:
        _add_occluders(depth, texture, rng, x, y)
        hole_fraction = min(2 * hole_fraction, 0.45)
    rgb = _colourise(texture, rng, clutter)
    noise = rng.standard_normal(depth.shape, dtype=np.float32)
    noisy = np.clip(depth * (1 + (CLUTTER_DEPTH_NOISE if clutter else DEPTH_NOISE) * noise), 0.5, depth_max)
    noisy[_holes(depth, rng, hole_fraction)] = np.nan
    filled, holes = fill_depth_holes(noisy[:, None])
    dataset = MultiModalDataset({"rgb": torch.from_numpy(rgb), "depth": (filled / depth_max).clamp(0, 1)},
                                labels, CLUTTERED_NAME if clutter else NAME, CLASSES)
    dataset.holes_filled = holes
    return dataset


def load_rgbd_scenes(split: str = "train", size: int = 32, train_size: int = 2000, test_size: int = 1000,
                     seed: int = 0, clutter: bool = False) -> MultiModalDataset:
    """The train or test split; each split has its own seed derived from `seed`, so they share no sample."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    index = 0 if split == "train" else 1
    split_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
    return make_rgbd_scenes(train_size if split == "train" else test_size, size=size, seed=split_seed,
                            clutter=clutter)
