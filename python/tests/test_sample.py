"""The reference notebook's flow on the real sample (../shared/data), when it is present."""
import numpy as np
import pytest

import cloudfill
from conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "s1.tif").exists(),
                                reason="the real sample (../shared/data) is not present")


def test_the_reference_notebook_flow_on_the_sample():
    s2_mean = np.load(SHARED_DATA / "2019_mean.npy")
    mask = np.load(SHARED_DATA / "mask.npy")
    raw = cloudfill.read_raster(SHARED_DATA / "s1.tif", bands=[1, 2])
    s1_image, s1_valid = cloudfill.s1_preprocess(raw["image"], raw["valid"])
    s2_image = np.where(mask[..., None], s2_mean, 1.0)  # the cloud hidden, as in a real scene

    my_model = cloudfill.LitDIP(epoch_steps=5)
    my_model.set_target([s2_image, s2_mean, s1_image])
    my_model.set_mask([mask, np.ones(mask.shape), s1_valid])
    my_model.fit(max_epochs=2)  # the notebook's trainer.fit(my_model), shortened
    result, mean_out, s1_out = my_model.output()
    assert result.shape == (256, 256, 3) and s1_out.shape == (256, 256, 2)
    assert np.isfinite(result).all() and my_model.steps_done == 10
    assert raw["geotransform"] is not None and "32630" in raw["projection"]
