"""Tests for genbench.metrics.inception_score: closed forms and validation."""

import numpy as np
import pytest
import torch

from genbench.metrics.inception_score import inception_score


def test_uniform_predictions_score_one():
    got = inception_score(np.zeros((100, 10)), splits=10)
    assert got["is_mean"] == pytest.approx(1.0, abs=1e-12)
    assert got["is_std"] == pytest.approx(0.0, abs=1e-12)


def test_identical_predictions_score_one():
    # Any prediction equal to the marginal gives KL 0, whatever its shape.
    logits = np.tile(np.random.default_rng(0).standard_normal(7), (40, 1))
    assert inception_score(logits, splits=4)["is_mean"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("classes", [2, 10, 1000])
def test_confident_balanced_predictions_score_number_of_classes(classes):
    labels = np.arange(classes * 5) % classes
    logits = np.full((labels.size, classes), -1000.0)  # exp(-1000) underflows to exactly 0
    logits[np.arange(labels.size), labels] = 0.0
    got = inception_score(logits, splits=5)
    assert got["is_mean"] == pytest.approx(classes, rel=1e-12)
    assert got["is_std"] == pytest.approx(0.0, abs=1e-9)


def test_confident_predictions_on_half_of_the_classes():
    # Two of four classes used, evenly: exp(log 2) = 2; the unused classes' zero marginal must
    # not turn into NaN.
    logits = torch.full((8, 4), -1e4, dtype=torch.float64)
    logits[torch.arange(8), torch.arange(8) % 2] = 0
    assert inception_score(logits, splits=2)["is_mean"] == pytest.approx(2.0, rel=1e-12)


def test_shuffle_and_splits():
    logits = np.random.default_rng(1).standard_normal((103, 5)) * 2
    plain = inception_score(logits, splits=1)
    # With one split the order does not matter.
    assert inception_score(logits, splits=1, shuffle=True, seed=3)["is_mean"] == pytest.approx(
        plain["is_mean"], rel=1e-12
    )
    assert plain["is_std"] == 0.0
    a = inception_score(logits, splits=4, shuffle=True, seed=3)
    assert a == inception_score(torch.from_numpy(logits), splits=4, shuffle=True, seed=3)
    assert a != inception_score(logits, splits=4)
    # Each split score is in [1, C].
    assert 1.0 <= a["is_mean"] <= 5.0


def test_validation():
    with pytest.raises(ValueError, match="shape"):
        inception_score(np.zeros(10))
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.zeros((10, 3)), splits=0)
    with pytest.raises(ValueError, match="at least one sample per split"):
        inception_score(np.zeros((5, 3)), splits=10)
    bad = np.zeros((10, 3))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        inception_score(bad, splits=2)
