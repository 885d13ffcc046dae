"""The metrics every number of `resizer compare` and bench/ comes from, each checked against an
independent computation: scikit-image's SSIM, PSNR by hand, Pillow's own float Lanczos."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from resizer import quality
from resizer.geometry import Sizing, compute


def noisy_pair(shape, seed=0, noise=25.0, scale=255.0):
    rng = np.random.default_rng(seed)
    clean = rng.uniform(0, scale, size=shape)
    # Smooth it a little so SSIM sees structure, not only noise.
    clean = (clean + np.roll(clean, 1, axis=0) + np.roll(clean, 1, axis=1)) / 3
    dirty = np.clip(clean + rng.normal(0, noise * scale / 255.0, size=shape), 0, scale)
    return clean, dirty


# --- SSIM -------------------------------------------------------------------------------------


def skimage_ssim(a, b, data_range=255.0):
    channel_axis = 2 if np.ndim(a) == 3 else None
    return structural_similarity(
        np.asarray(a, np.float64),
        np.asarray(b, np.float64),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=channel_axis,
    )


@pytest.mark.parametrize(
    "shape",
    [(64, 48), (48, 64, 3), (40, 57, 4), (11, 11), (11, 30, 2), (224, 224, 3)],
    ids=["grey", "rgb", "rgba", "smallest", "la-thin", "224"],
)
def test_ssim_matches_scikit_image(shape):
    clean, dirty = noisy_pair(shape, seed=len(shape) + shape[0])
    assert quality.ssim(dirty, clean) == pytest.approx(skimage_ssim(dirty, clean), abs=1e-6)


def test_ssim_matches_scikit_image_on_uint8_and_another_data_range():
    clean, dirty = noisy_pair((50, 70, 3), seed=3)
    as_bytes = (np.rint(clean).astype(np.uint8), np.rint(dirty).astype(np.uint8))
    assert quality.ssim(*as_bytes) == pytest.approx(skimage_ssim(*as_bytes), abs=1e-6)
    unit_clean, unit_dirty = noisy_pair((50, 70), seed=4, scale=1.0)
    assert quality.ssim(unit_dirty, unit_clean, data_range=1.0) == pytest.approx(
        skimage_ssim(unit_dirty, unit_clean, data_range=1.0), abs=1e-6
    )


def test_ssim_of_identical_images_is_one_and_of_unrelated_ones_is_low():
    clean, dirty = noisy_pair((60, 60, 3), noise=120)
    assert quality.ssim(clean, clean) == pytest.approx(1.0, abs=1e-12)
    assert quality.ssim(dirty, clean) < 0.5


def test_ssim_is_none_below_the_eleven_pixel_window():
    """scikit-image refuses such images; compare shows '-' for them instead of failing."""
    clean, dirty = noisy_pair((10, 40, 3))
    with pytest.raises(ValueError):
        skimage_ssim(dirty, clean)
    assert quality.ssim(dirty, clean) is None


def test_metrics_refuse_arrays_of_different_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        quality.psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="shapes differ"):
        quality.ssim(np.zeros((20, 20)), np.zeros((20, 21)))


# --- PSNR -------------------------------------------------------------------------------------


def test_psnr_equals_the_direct_computation():
    expected = np.zeros((4, 5, 3), dtype=np.uint8)
    actual = np.full((4, 5, 3), 5, dtype=np.uint8)  # every sample off by 5: MSE 25
    assert quality.psnr(actual, expected) == pytest.approx(10 * math.log10(255**2 / 25))
    clean, dirty = noisy_pair((30, 20, 3))
    direct = 10 * math.log10(255**2 / np.mean((dirty - clean) ** 2))
    assert quality.psnr(dirty, clean) == pytest.approx(direct, abs=1e-9)
    assert quality.psnr(dirty / 255, clean / 255, data_range=1.0) == pytest.approx(direct)


def test_psnr_of_identical_images_is_infinite():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert quality.psnr(image, image.copy()) == math.inf


def test_psnr_does_not_wrap_around_uint8():
    assert quality.psnr(np.array([[0]], np.uint8), np.array([[255]], np.uint8)) == 0.0


# --- visible ----------------------------------------------------------------------------------


def test_visible_premultiplies_colour_by_alpha_and_keeps_alpha():
    rgba = np.array([[[200, 100, 50, 255], [200, 100, 50, 0], [200, 100, 50, 51]]], np.uint8)
    values = quality.visible(rgba)
    assert values.tolist() == [[[200, 100, 50, 255], [0, 0, 0, 0], [40, 20, 10, 51]]]
    la = np.array([[[100, 51]]], np.uint8)
    assert quality.visible(la).tolist() == [[[20, 51]]]


def test_visible_brings_16_bit_to_the_8_bit_scale_and_leaves_opaque_modes_alone():
    grey16 = np.array([[0, 257, 65535]], np.uint16)
    assert quality.visible(grey16, peak=65535).tolist() == [[0, 1, 255]]
    rgb = np.array([[[1, 2, 3]]], np.uint8)
    assert quality.visible(rgb).tolist() == [[[1, 2, 3]]]


# --- reference resample -----------------------------------------------------------------------


def stretch(source, size):
    return compute(source, Sizing("size", width=size[0], height=size[1]), "stretch")


@pytest.mark.parametrize("size", [(224, 149), (101, 67), (30, 300), (900, 600), (451, 300)])
def test_reference_equals_pillows_float_lanczos(size):
    """Pillow's C implementation of the same textbook Lanczos-3 (float32 'F' images): an
    independent implementation, for downscales, upscales, mixed and identity."""
    rng = np.random.default_rng(1)
    plane = rng.uniform(0, 255, size=(300, 451))
    pillow = Image.fromarray(plane.astype(np.float32), "F").resize(size, Image.Resampling.LANCZOS)
    expected = np.clip(np.asarray(pillow, dtype=np.float64), 0, 255)

    reference = quality.reference_resize(plane, stretch((451, 300), size), (0,))

    assert reference.shape == (size[1], size[0])
    assert np.abs(reference - expected).max() < 1e-3  # float32 storage in Pillow


def test_reference_of_a_constant_image_is_that_constant():
    image = np.full((90, 120, 3), 77, dtype=np.uint8)
    reference = quality.reference_resize(image, stretch((120, 90), (37, 53)), (0, 0, 0))
    assert np.abs(reference - 77).max() < 1e-9


def test_reference_halves_a_linear_ramp_exactly_where_the_kernel_fits():
    """At 2x, output pixel j is centred on input 2j + 0.5; a symmetric normalised kernel
    reproduces a linear ramp there exactly, wherever all its taps are inside the image."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float64)
    ramp = 3.0 * x + 2.0 * y
    reference = quality.reference_resize(ramp, stretch((64, 48), (32, 24)), (0,))
    centre_y, centre_x = np.mgrid[0:24, 0:32] * 2.0 + 0.5
    expected = 3.0 * centre_x + 2.0 * centre_y
    inside = (slice(3, 21), slice(3, 29))  # taps reach 6 input pixels (3 lobes x 2) each side
    assert np.abs(reference[inside] - expected[inside]).max() < 1e-9
    assert np.abs(reference[0, 10] - expected[0, 10]) > 0.01  # at the border the taps are cut


def test_reference_is_cut_to_the_output_window_of_fill_and_crop():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(80, 120, 3)).astype(np.uint8)
    covering = quality.reference_resize(image, stretch((120, 80), (96, 64)), (0, 0, 0))

    filled = compute((120, 80), Sizing("size", width=64, height=64), "fill")
    reference = quality.reference_resize(image, filled, (0, 0, 0))

    assert filled.resized == (96, 64) and filled.crop_box == (16, 0, 80, 64)
    assert np.abs(reference - covering[:, 16:80]).max() < 1e-9


def test_reference_pads_with_the_fill_where_the_window_reaches_outside():
    image = np.full((40, 80, 3), 200, dtype=np.uint8)
    padded = compute((80, 40), Sizing("size", width=64, height=64), "pad")

    reference = quality.reference_resize(image, padded, (10, 20, 30))

    assert padded.resized == (64, 32) and padded.pad_offset == (0, 16)
    assert reference.shape == (64, 64, 3)
    assert np.abs(reference[16:48] - 200).max() < 1e-9
    assert (reference[:16] == [10, 20, 30]).all() and (reference[48:] == [10, 20, 30]).all()


def test_reference_resamples_premultiplied_so_hidden_colour_does_not_bleed():
    """Left half invisible red, right half opaque blue: no red may appear in the result."""
    image = np.zeros((32, 64, 4), dtype=np.uint8)
    image[:, :32] = (255, 0, 0, 0)
    image[:, 32:] = (0, 0, 255, 255)

    reference = quality.reference_resize(image, stretch((64, 32), (21, 11)), (0, 0, 0, 0))

    assert reference[..., 0].max() < 1e-9  # red, premultiplied, is zero everywhere
    assert reference[..., 3].min() < 1 and reference[..., 3].max() > 254  # the edge is kept
    assert (reference[..., 2] <= reference[..., 3] + 1e-9).all()


def test_reference_of_16_bit_pixels_is_on_the_8_bit_scale():
    image = np.full((20, 20), 65535, dtype=np.uint16)
    reference = quality.reference_resize(image, stretch((20, 20), (10, 10)), (0,), peak=65535)
    assert np.abs(reference - 255).max() < 1e-9


def test_reference_refuses_pixels_of_another_size_than_the_geometry():
    with pytest.raises(ValueError, match="geometry"):
        quality.reference_resize(np.zeros((10, 10)), stretch((20, 10), (5, 5)), (0,))


# --- zone plate and aliasing ------------------------------------------------------------------


def test_zone_plate_rises_from_zero_frequency_at_the_centre_to_nyquist_at_the_edges():
    plate = quality.zone_plate(256, 128).astype(np.float64)
    assert plate.shape == (128, 256)
    middle = plate[64, 126:130]  # phase ~0 at the centre: white, flat
    assert middle.min() >= 254
    edge = plate[64, :6] - 127.5  # 0.5 cycles per pixel: signs alternate pixel to pixel
    assert all(edge[i] * edge[i + 1] < 0 for i in range(5))
    top_edge = plate[:6, 128] - 127.5
    assert all(top_edge[i] * top_edge[i + 1] < 0 for i in range(5))


def quarter(size=512):
    return compute((size, size), Sizing("size", width=size // 4, height=size // 4))


def test_stop_band_is_where_the_local_frequency_exceeds_the_output_nyquist_by_a_quarter():
    """At 4x, frequency |u| / 512 cycles per input pixel exceeds 1.25 x 0.5 / 4 for |u| > 80
    input pixels, 20 output pixels: the central 40 of the 128 output pixels (per axis) are left
    out."""
    band = quality.stop_band(quarter())
    assert quality.STOP_BAND == 1.25
    assert band.shape == (128, 128)
    assert not band[44:84, 44:84].any()
    assert band[43, 64] and band[64, 43] and band[84, 64] and band[64, 84]
    assert band[0].all() and band[:, -1].all()


def test_stop_band_is_empty_for_a_downscale_within_the_margin():
    assert not quality.stop_band(compute((120, 120), Sizing("size", width=100))).any()
    assert quality.stop_band(compute((130, 130), Sizing("size", width=100))).any()


def test_stop_band_leaves_out_padding_and_is_empty_for_an_upscale():
    padded = compute((512, 256), Sizing("size", width=128, height=128), "pad")
    band = quality.stop_band(padded)
    assert padded.pad_offset == (0, 32)
    assert not band[:32].any() and not band[96:].any() and band[32:96].any()
    upscale = compute((64, 64), Sizing("size", width=128, height=128))
    assert not quality.stop_band(upscale).any()


def test_aliasing_score_is_one_for_point_sampling_and_near_zero_for_the_reference():
    plate = quality.zone_plate(512, 512)
    geometry = quarter()
    point_sampled = plate[1::4, 1::4]
    reference = quality.reference_resize(plate, geometry, (127,))
    box = plate.reshape(128, 4, 128, 4).mean(axis=(1, 3))

    assert quality.aliasing_score(point_sampled, geometry) == pytest.approx(1.0, abs=0.02)
    assert quality.aliasing_score(reference, geometry) < 0.1
    # A 4x4 box average lets part of the pattern through: in between, as its spectrum says.
    assert 0.05 < quality.aliasing_score(box, geometry) < 0.5


def test_aliasing_score_follows_its_formula():
    geometry = quarter()
    band = quality.stop_band(geometry)
    output = np.full((128, 128), 127.5)
    assert quality.aliasing_score(output, geometry) == 0.0
    output[band] = 127.5 + 127.5 * np.cos(np.arange(band.sum()))  # a full-contrast signal
    rms = np.sqrt(np.mean((output[band] - 127.5) ** 2))
    assert quality.aliasing_score(output, geometry) == pytest.approx(rms / (127.5 / math.sqrt(2)))
    assert quality.aliasing_score(np.stack([output] * 3, axis=2), geometry) == pytest.approx(
        rms / (127.5 / math.sqrt(2))
    )


def test_aliasing_score_is_none_without_a_stop_band_and_checks_the_size():
    upscale = compute((64, 64), Sizing("size", width=128, height=128))
    assert quality.aliasing_score(np.zeros((128, 128)), upscale) is None
    with pytest.raises(ValueError, match="geometry"):
        quality.aliasing_score(np.zeros((100, 128)), quarter())
