"""Image quality numbers, defined once: PSNR, SSIM, an aliasing score and a reference resample.

`resizer compare`, `bench/` and the tests all measure with these, so a number means the same
wherever it is printed. Every function works on numpy arrays of shape (H, W) or (H, W, C) on a
0..`data_range` scale (255 for 8-bit pixels; see `visible` for how outputs are brought there).
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import Geometry

# SSIM as Wang et al. (2004) and scikit-image's structural_similarity(gaussian_weights=True,
# sigma=1.5, use_sample_covariance=False): an 11-tap Gaussian (radius int(3.5 * 1.5 + 0.5)).
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
SSIM_K1, SSIM_K2 = 0.01, 0.03
LANCZOS_LOBES = 3
# The aliasing score is the RMS of what an output shows where the zone plate's frequency is over
# STOP_BAND x the output's Nyquist limit, divided by the RMS of the full-contrast pattern
# (127.5 / sqrt 2). Content from there folds back below 0.75 x Nyquist, as moiré. The 25 % just
# above the limit is left out: every practical kernel passes part of it (on a zone plate scaled
# by 1.8, the float Lanczos-3 reference scores 0.14 with it and 0.04 without), so counting it
# would measure the transition band, not aliasing.
STOP_BAND = 1.25
ZONE_PLATE_RMS = 127.5 / math.sqrt(2)


def psnr(actual: np.ndarray, expected: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over every sample (inf for identical arrays)."""
    _same_shape(actual, expected)
    error = np.mean((np.asarray(actual, np.float64) - np.asarray(expected, np.float64)) ** 2)
    return math.inf if error == 0 else float(10 * np.log10(data_range**2 / error))


def ssim(actual: np.ndarray, expected: np.ndarray, data_range: float = 255.0) -> float | None:
    """Mean SSIM, averaged over channels; None when a side is under the 11-pixel window.

    Equals scikit-image's `structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=data_range, channel_axis=-1)`: Gaussian-weighted
    local statistics, the mean taken over the pixels whose window lies inside the image.
    """
    _same_shape(actual, expected)
    x = np.asarray(actual, np.float64)
    y = np.asarray(expected, np.float64)
    if min(x.shape[:2]) < 2 * SSIM_RADIUS + 1:
        return None
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    means = []
    for channel in range(x.shape[2]):
        a = np.ascontiguousarray(x[..., channel])
        b = np.ascontiguousarray(y[..., channel])
        mu_a, mu_b = _window_mean(a), _window_mean(b)
        var_a = _window_mean(a * a) - mu_a * mu_a
        var_b = _window_mean(b * b) - mu_b * mu_b
        covariance = _window_mean(a * b) - mu_a * mu_b
        index = ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / (
            (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
        )
        means.append(index.mean(dtype=np.float64))
    return float(np.mean(means))


def _window_mean(plane: np.ndarray) -> np.ndarray:
    """Gaussian-weighted mean of each 11x11 window that lies inside the plane ('valid'): a
    float64 separable filter, then the border whose windows reach outside is dropped."""
    import cv2

    offsets = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    weights /= weights.sum()
    filtered = cv2.sepFilter2D(plane, cv2.CV_64F, weights, weights, borderType=cv2.BORDER_REFLECT)
    return filtered[SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS]


def _same_shape(actual: np.ndarray, expected: np.ndarray) -> None:
    if np.shape(actual) != np.shape(expected):
        raise ValueError(f"shapes differ: {np.shape(actual)} and {np.shape(expected)}")


def visible(array: np.ndarray, peak: float = 255.0) -> np.ndarray:
    """Pixels as seen, in float64 on 0..255: colour premultiplied by alpha where there is alpha.

    Two or four channels mean grey or colour plus alpha (last). The colour of a nearly
    transparent pixel is invisible and ill-conditioned (a resize divides it by a tiny alpha);
    premultiplied, it weighs what it shows. 16-bit pixels (peak 65535) are scaled to 0..255.
    """
    data = np.asarray(array, dtype=np.float64) * (255.0 / peak)
    if data.ndim == 3 and data.shape[2] in (2, 4):
        data[..., :-1] *= data[..., -1:] / 255.0
    return data


# ------------------------------------------------------------------------- aliasing


def zone_plate(width: int, height: int) -> np.ndarray:
    """A uint8 zone plate whose frequency grows linearly from 0 at the centre to the Nyquist
    limit (0.5 cycles per pixel) at the edges, along each axis.

    Z = 127.5 + 127.5 cos(pi (u^2 / W + v^2 / H)), u and v measured from the image centre, so
    the local frequency along x is |u| / W cycles per pixel.
    """
    u = np.arange(width) + 0.5 - width / 2
    v = np.arange(height) + 0.5 - height / 2
    across = np.pi * u**2 / width
    plate = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, 256):  # in blocks: bounded memory for a large plate
        phase = across[None, :] + (np.pi * v[top : top + 256, None] ** 2 / height)
        plate[top : top + 256] = np.rint(127.5 + 127.5 * np.cos(phase))
    return plate


def stop_band(geometry: Geometry) -> np.ndarray:
    """Output pixels of a resized zone plate where its frequency is over STOP_BAND x the
    output's Nyquist limit on either axis.

    An output pixel at resized x sits at input x * W / w; the local frequency there,
    |u| / W cycles per input pixel, is |u| / w cycles per output pixel. Above 0.5 an ideal
    low-pass resize shows flat grey: whatever else is there was folded back (aliased). Padding
    is not part of it. Empty unless the zone plate is scaled down by more than STOP_BAND.
    """
    (width, height), (resized_w, resized_h) = geometry.source, geometry.resized
    left, top, right, bottom = geometry.window
    x = np.arange(left, right) + 0.5
    y = np.arange(top, bottom) + 0.5
    fx = np.abs(x * width / resized_w - width / 2) / resized_w
    fy = np.abs(y * height / resized_h - height / 2) / resized_h
    inside_x = (x > 0) & (x < resized_w)
    inside_y = (y > 0) & (y < resized_h)
    limit = 0.5 * STOP_BAND
    above = (fx[None, :] > limit) | (fy[:, None] > limit)
    return above & inside_x[None, :] & inside_y[:, None]


def aliasing_score(output: np.ndarray, geometry: Geometry) -> float | None:
    """How much of the zone plate's contrast a resize folds back below the output's Nyquist.

    score = RMS(output - 127.5 over `stop_band`) / (127.5 / sqrt 2): 0 is a perfect low-pass,
    1 is aliasing at the pattern's full contrast (point sampling). None when the output has no
    stop band (a downscale by less than STOP_BAND, or a crop that keeps only low frequencies).
    """
    mask = stop_band(geometry)
    if not mask.any():
        return None
    values = np.asarray(output, dtype=np.float64)
    if values.shape[:2] != mask.shape:
        raise ValueError(f"output is {values.shape[1]}x{values.shape[0]}, geometry says "
                         f"{mask.shape[1]}x{mask.shape[0]}")  # fmt: skip
    if values.ndim == 3:
        values = values.mean(axis=2)
    deviation = values[mask] - 127.5
    return float(np.sqrt(np.mean(deviation**2)) / ZONE_PLATE_RMS)


# ------------------------------------------------------------------------ reference


def lanczos_weights(length: int, size: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Rows [start, stop) of the (size x length) matrix resampling `length` pixels to `size`.

    Lanczos-3, widened by the scale when downscaling (so it low-passes at the output's
    Nyquist), pixel centres at i + 0.5 on both sides, taps outside the image dropped and the
    rest normalised to sum 1: the textbook convolution resample, in float64.
    """
    stop = size if stop is None else stop
    scale = length / size
    stretch = max(scale, 1.0)
    centres = (np.arange(start, stop, dtype=np.float64) + 0.5) * scale
    distance = (np.arange(length, dtype=np.float64)[None, :] + 0.5 - centres[:, None]) / stretch
    weights = np.where(
        np.abs(distance) < LANCZOS_LOBES,
        np.sinc(distance) * np.sinc(distance / LANCZOS_LOBES),
        0.0,
    )
    return weights / weights.sum(axis=1, keepdims=True)


def reference_resize(
    pixels: np.ndarray, geometry: Geometry, fill: tuple[float, ...], peak: float = 255.0
) -> np.ndarray:
    """The high-quality reference output: `visible` pixels (float64, 0..255) of the full
    upright `pixels` resampled with float Lanczos-3 (`lanczos_weights`), premultiplied by
    alpha, cut to exactly the output window of `geometry` and padded with `fill` (in the
    image's own values) where the window reaches outside. Clipped to the pixel range, not
    rounded: it is what an ideal 8-bit output would approximate.
    """
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[..., None]
    height, width, channels = array.shape
    if (width, height) != geometry.source:
        raise ValueError(f"pixels are {width}x{height}, geometry says {geometry.source}")
    left, top, right, bottom = geometry.crop_box
    rows = lanczos_weights(height, geometry.resized[1], top, bottom)
    columns = lanczos_weights(width, geometry.resized[0], left, right)

    def premultiplied(part: np.ndarray) -> np.ndarray:
        return visible(part, peak)

    # Vertical pass first: input rows are contiguous, so each slab is read (and converted to
    # float) once; then the small horizontal pass on a transposed copy.
    down = _banded(rows, array, premultiplied).reshape(bottom - top, width, channels)
    across = np.ascontiguousarray(down.transpose(1, 0, 2))
    kept = _banded(columns, across, np.asarray).reshape(right - left, bottom - top, channels)
    kept = kept.transpose(1, 0, 2)

    output_w, output_h = geometry.output
    canvas = np.empty((output_h, output_w, channels))
    canvas[...] = visible(np.asarray(fill, dtype=np.float64)[None, None, :], peak)[0, 0]
    x, y = geometry.pad_offset
    canvas[y : y + kept.shape[0], x : x + kept.shape[1]] = kept
    canvas = np.clip(canvas, 0.0, 255.0)
    if channels in (2, 4):  # premultiplied colour cannot exceed its alpha
        canvas[..., :-1] = np.minimum(canvas[..., :-1], canvas[..., -1:])
    return canvas[..., 0] if np.ndim(pixels) == 2 else canvas


def _banded(weights: np.ndarray, source: np.ndarray, convert, group: int = 32) -> np.ndarray:
    """weights @ source (along source's first axis), using for each group of output rows only
    the slab of source rows its taps reach: the matrix is banded, so this skips the zeros."""
    reach = weights != 0
    out = np.empty((weights.shape[0], int(np.prod(source.shape[1:]))))
    for start in range(0, weights.shape[0], group):
        used = np.flatnonzero(reach[start : start + group].any(axis=0))
        low, high = used[0], used[-1] + 1
        slab = convert(source[low:high]).reshape(high - low, -1)
        out[start : start + group] = weights[start : start + group, low:high] @ slab
    return out
