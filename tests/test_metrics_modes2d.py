"""Tests for genbench.metrics.modes2d on hand-built samples with known answers."""

import math

import numpy as np
import pytest
import torch

from genbench.metrics.modes2d import mode_metrics

STD = 0.02
RADIUS = 2.0
N_MODES = 8


def _ring(n_modes: int = N_MODES, radius: float = RADIUS) -> np.ndarray:
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_samples_exactly_at_all_modes():
    modes = _ring()
    samples = np.repeat(modes, 25, axis=0)
    got = mode_metrics(samples, modes, STD)
    assert got["modes_covered"] == 8.0
    assert got["high_quality"] == 100.0
    assert abs(got["reverse_kl"]) < 1e-12


def test_all_samples_at_one_mode():
    modes = _ring()
    samples = np.repeat(modes[3:4], 200, axis=0)
    got = mode_metrics(samples, modes, STD)
    assert got["modes_covered"] == 1.0
    assert got["high_quality"] == 100.0
    assert got["reverse_kl"] == pytest.approx(math.log(8), abs=1e-12)


def test_half_at_two_modes_half_far_away():
    modes = _ring()
    at_modes = np.concatenate(
        [np.repeat(modes[0:1], 50, axis=0), np.repeat(modes[5:6], 50, axis=0)]
    )
    far = _ring(100, radius=10.0)
    got = mode_metrics(np.concatenate([at_modes, far]), modes, STD)
    assert got["high_quality"] == pytest.approx(50.0)
    assert got["modes_covered"] == 2.0
    # q puts 1/2 on each of two modes: sum q log(q K) = log(8 / 2).
    assert got["reverse_kl"] == pytest.approx(math.log(4.0), abs=1e-12)


def test_three_std_boundary():
    modes = _ring()
    direction = modes[2] / np.linalg.norm(modes[2])
    inside = modes[2] + direction * 3 * STD * (1 - 1e-6)
    outside = modes[2] + direction * 3 * STD * (1 + 1e-6)
    assert mode_metrics(inside[None, :], modes, STD)["high_quality"] == 100.0
    assert mode_metrics(outside[None, :], modes, STD)["high_quality"] == 0.0


def test_mode_below_min_fraction_not_counted():
    modes = _ring()
    # 160 samples: expected share 20 per mode, so the threshold is 0.2 * 20 = 4 samples.
    counts = [30, 30, 30, 30, 30, 4, 3, 3]
    samples = np.concatenate([np.repeat(modes[i : i + 1], c, axis=0) for i, c in enumerate(counts)])
    got = mode_metrics(samples, modes, STD)
    assert got["modes_covered"] == 6.0  # the mode with exactly 4 counts, the two with 3 do not
    q = np.array(counts) / 160
    assert got["reverse_kl"] == pytest.approx(float(np.sum(q * np.log(q * 8))), abs=1e-12)
    assert mode_metrics(samples, modes, STD, min_fraction=0.1)["modes_covered"] == 8.0


def test_grid_with_noise_and_torch_input():
    xs = np.arange(-4.0, 5.0, 2.0)
    modes = np.stack(np.meshgrid(xs, xs), axis=-1).reshape(-1, 2)
    offsets = np.array([[STD, 0.0], [0.0, -2 * STD], [-STD, STD]])
    samples = (modes[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    got = mode_metrics(torch.from_numpy(samples).float(), torch.from_numpy(modes), STD)
    assert got == {"modes_covered": 25.0, "high_quality": 100.0, "reverse_kl": pytest.approx(0.0)}


def test_no_high_quality_samples_gives_log_k():
    modes = _ring()
    got = mode_metrics(np.full((10, 2), 50.0), modes, STD)
    assert got["modes_covered"] == 0.0
    assert got["high_quality"] == 0.0
    assert got["reverse_kl"] == pytest.approx(math.log(8))


def test_invalid_input_raises():
    modes = _ring()
    samples = np.repeat(modes, 2, axis=0)
    samples[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        mode_metrics(samples, modes, STD)
    samples[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        mode_metrics(samples, modes, STD)
    with pytest.raises(ValueError, match="std"):
        mode_metrics(modes, modes, 0.0)
    with pytest.raises(ValueError, match="dimension"):
        mode_metrics(np.zeros((4, 3)), modes, STD)
    with pytest.raises(ValueError, match="shape"):
        mode_metrics(np.zeros(4), modes, STD)
