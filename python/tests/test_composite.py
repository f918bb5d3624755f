"""cloudfill.composite against NumPy's statistics of the clear observations."""
import warnings

import numpy as np
import pytest

import cloudfill


def _stack(n, rng):
    dates = rng.random((n, 9, 11, 3)).astype(np.float32)
    clear = rng.random((n, 9, 11)) > 0.4
    clear[:, 0, 0] = False  # no date clear here
    dates[0, 1, 1, 0] = np.nan  # a NaN band drops that date at that pixel
    return dates, clear


@pytest.mark.parametrize("n", [1, 2, 4, 5])
@pytest.mark.parametrize("stat", ["median", "mean"])
def test_the_statistic_of_the_clear_observations_is_numpys(n, stat):
    dates, clear = _stack(n, np.random.default_rng(n))
    got, valid = cloudfill.composite(list(dates), list(clear), stat=stat)
    # A date counts at a pixel where it is clear and every band is finite.
    counts = clear & np.isfinite(dates).all(axis=-1)
    hidden = np.where(counts[..., None], dates.astype(np.float64), np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = (np.nanmedian if stat == "median" else np.nanmean)(hidden, axis=0)
    assert got.shape == (9, 11, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    assert not valid[0, 0] and np.isnan(got[0, 0]).all()
    np.testing.assert_array_equal(valid, counts.any(axis=0))


def test_without_masks_every_finite_value_counts_and_bad_input_is_named():
    rng = np.random.default_rng(9)
    dates = [rng.random((3, 6, 7)) for _ in range(3)]  # C×H×W, float64
    got, valid = cloudfill.composite(dates)
    np.testing.assert_allclose(got, np.median(np.moveaxis(np.stack(dates), 1, -1), axis=0),
                               rtol=1e-6)
    assert valid.all()
    with pytest.raises(ValueError, match=r"masks: 3 source\(s\) were set, so 3 mask\(s\)"):
        cloudfill.composite(dates, [np.ones((6, 7), bool)])
    with pytest.raises(ValueError, match="stat: expected 'median' or 'mean'"):
        cloudfill.composite(dates, stat="max")
    with pytest.raises(ValueError, match=r"images\[1\]: every source must have the H×W"):
        cloudfill.composite([dates[0], rng.random((3, 6, 8))])
    with pytest.raises(TypeError, match="images: expected a list"):
        cloudfill.composite(dates[0])
