"""The reference's shape and dtype rules (no GPU)."""
import numpy as np
import pytest

from cloudfill import _arrays


def test_layouts_are_read_from_the_shape():
    rng = np.random.default_rng(0)
    hwc = rng.random((40, 30, 3))
    (a,) = _arrays.sources(hwc)
    assert a.shape == (40, 30, 3) and a.dtype == np.float32 and a.flags.c_contiguous
    np.testing.assert_array_equal(a, hwc.astype(np.float32))
    (b,) = _arrays.sources(np.moveaxis(hwc, -1, 0))
    np.testing.assert_array_equal(b, a)
    (c,) = _arrays.sources(hwc[..., 0])
    assert c.shape == (40, 30, 1)


def test_any_real_dtype_and_order_is_converted_once():
    rng = np.random.default_rng(1)
    dn = rng.integers(0, 10000, (32, 48, 4), dtype=np.uint16)
    (a,) = _arrays.sources(np.asfortranarray(dn))
    assert a.dtype == np.float32 and a.flags.c_contiguous
    np.testing.assert_array_equal(a, dn.astype(np.float32))
    (b,) = _arrays.sources(dn.astype(np.float16))
    assert b.dtype == np.float32


def test_ambiguous_shapes_use_the_other_sources_or_layout():
    rng = np.random.default_rng(2)
    first = rng.random((16, 20, 2))
    wide = rng.random((16, 20, 16))
    with pytest.raises(ValueError, match=r"target: cannot tell .*\(16, 20, 16\).*layout="):
        _arrays.sources(wide)
    out = _arrays.sources([first, wide])
    np.testing.assert_array_equal(out[1], wide.astype(np.float32))
    out = _arrays.sources([np.moveaxis(first, -1, 0), np.moveaxis(wide, -1, 0)])
    np.testing.assert_array_equal(out[1], wide.astype(np.float32))
    cube = rng.random((16, 16, 16))
    with pytest.raises(ValueError, match=r"target\[1\]: cannot tell"):
        _arrays.sources([rng.random((16, 16, 2)), cube])
    (hwc,) = _arrays.sources(cube, layout="hwc")
    (chw,) = _arrays.sources(cube, layout="chw")
    np.testing.assert_array_equal(chw, np.moveaxis(cube, 0, -1).astype(np.float32))
    assert not np.array_equal(hwc, chw)


def test_bad_sources_name_the_argument_and_the_shape():
    rng = np.random.default_rng(3)
    with pytest.raises(TypeError, match=r"target\[1\]: expected an array of real numbers, got dtype <U"):
        _arrays.sources([rng.random((8, 8, 3)), np.array([["a"]])])
    with pytest.raises(TypeError, match="complex"):
        _arrays.sources(np.ones((8, 8), complex))
    with pytest.raises(ValueError, match=r"target: expected an H×W, H×W×C or C×H×W array, got shape \(8,\)"):
        _arrays.sources(np.ones(8))
    with pytest.raises(ValueError, match=r"target\[1\]: every source must have the H×W of the first, 8×8"):
        _arrays.sources([rng.random((8, 8, 3)), rng.random((8, 9, 3))])
    with pytest.raises(ValueError, match="empty list"):
        _arrays.sources([])
    with pytest.raises(ValueError, match="layout"):
        _arrays.sources(rng.random((8, 8, 3)), layout="whc")


def test_masks_bool_or_zero_one():
    rng = np.random.default_rng(4)
    m = rng.random((12, 10)) > 0.3
    (a,) = _arrays.masks(m, 1, (12, 10))
    np.testing.assert_array_equal(a, m)
    (b,) = _arrays.masks(m.astype(np.float64), 1, (12, 10))
    np.testing.assert_array_equal(b, m)
    (c,) = _arrays.masks(m[:, :, None].astype(np.uint8), 1, (12, 10))
    np.testing.assert_array_equal(c, m)
    a2 = _arrays.masks([m, np.ones((12, 10))], 2, (12, 10))
    assert a2[1].all() and a2[1].dtype == np.bool_


def test_bad_masks_are_refused_with_their_problem():
    m = np.ones((12, 10))
    m[0, 0] = 0.5
    with pytest.raises(ValueError, match=r"mask: .* 1 value\(s\) are neither \(e.g. 0.5\)"):
        _arrays.masks(m, 1, (12, 10))
    with pytest.raises(ValueError, match=r"mask: expected an H×W mask of the sources' size 12×10, got shape \(10, 12\)"):
        _arrays.masks(np.ones((10, 12), bool), 1, (12, 10))
    with pytest.raises(ValueError, match=r"3 source\(s\) were set, so 3 mask\(s\) are needed .* got 1"):
        _arrays.masks(np.ones((12, 10), bool), 3, (12, 10))
    with pytest.raises(TypeError, match=r"mask\[1\]: expected a numpy array, got None"):
        _arrays.masks([np.ones((12, 10), bool), None], 2, (12, 10))
