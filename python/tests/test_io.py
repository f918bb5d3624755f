"""The library's raster I/O and Sentinel scalings from Python."""
import numpy as np
import pytest

import cloudfill

GT = [500000.0, 10.0, 0.0, 4200000.0, 0.0, -10.0]


def test_geotiff_round_trip_keeps_values_and_georeferencing(tmp_path):
    rng = np.random.default_rng(5)
    img = rng.random((3, 20, 30)).astype(np.float64)  # C×H×W, float64
    path = tmp_path / "x.tif"
    cloudfill.write_geotiff(path, img, geotransform=GT, nodata=-9999)
    r = cloudfill.read_raster(path)
    np.testing.assert_array_equal(r["image"], np.moveaxis(img, 0, -1).astype(np.float32))
    assert r["geotransform"] == GT and r["nodata"] == [-9999.0] * 3 and r["valid"] is None
    part = cloudfill.read_raster(path, bands=[2], window=(5, 4, 10, 8))
    np.testing.assert_array_equal(part["image"][..., 0], img[1, 4:12, 5:15].astype(np.float32))
    assert part["geotransform"][0] == GT[0] + 5 * 10 and part["geotransform"][3] == GT[3] - 4 * 10


def test_an_existing_file_is_never_overwritten_unless_asked(tmp_path):
    path = tmp_path / "x.tif"
    img = np.full((8, 8), 0.25, np.float32)
    cloudfill.write_geotiff(path, img)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        cloudfill.write_geotiff(path, img * 2)
    np.testing.assert_array_equal(cloudfill.read_raster(path)["image"][..., 0], img)
    cloudfill.write_geotiff(path, img * 2, overwrite=True)
    np.testing.assert_array_equal(cloudfill.read_raster(path)["image"][..., 0], img * 2)


def test_read_errors_are_os_errors_naming_the_file(tmp_path):
    with pytest.raises(OSError, match="nope.tif"):
        cloudfill.read_raster(tmp_path / "nope.tif")
    with pytest.raises(ValueError, match="window"):
        cloudfill.read_raster(tmp_path / "nope.tif", window=(0, 0, 1))


def test_sentinel_scalings_match_the_reference_formulas():
    rng = np.random.default_rng(6)
    dn = rng.integers(0, 12000, (6, 7, 3)).astype(np.uint16)
    np.testing.assert_allclose(cloudfill.s2_preprocess(dn), np.clip(dn, 0, 10000) / 2000,
                               rtol=1e-6)
    power = rng.uniform(1e-4, 1.0, (6, 7, 2)).astype(np.float32)
    power[0, 0, 0] = 0.0  # log undefined: invalid
    s1, valid = cloudfill.s1_preprocess(power)
    db = 10 * np.log10(np.maximum(power.astype(np.float64), 1e-30))
    vv = (np.clip(db[..., 0], -25, 0) + 25) / 25 * 2
    vh = (np.clip(db[..., 1], -32.5, 0) + 32.5) / 32.5 * 2
    assert not valid[0, 0] and valid.sum() == 41
    np.testing.assert_allclose(s1[..., 0][valid], vv[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s1[..., 1][valid], vh[valid], rtol=1e-5, atol=1e-6)
