"""cloudfill: cloud removal for satellite images with Deep Image Prior, on any GPU.

The reference's API (``LitDIP``: ``set_target``, ``set_mask``, ``fit``, ``output``) and a one-call
``inpaint``, over cloudfill's own WGSL kernels through wgpu (Vulkan, Metal, DX12, GL; a CPU
Vulkan driver such as lavapipe where there is no GPU) — no PyTorch, CUDA or Lightning.

    import cloudfill
    filled, sigma = cloudfill.inpaint(s2, clear_mask, guides=[s1], uncertainty=True)

Arrays in and out are numpy; ``read_raster`` / ``write_geotiff`` expose the library's GDAL I/O
with georeferencing, for those who do not use rasterio.
"""
from ._native import adapter
from ._native import adapters as _adapters
from ._inpaint import inpaint
from ._io import composite, read_raster, s1_preprocess, s2_preprocess, write_geotiff
from ._litdip import STEPS, LitDIP

__all__ = [
    "LitDIP", "inpaint", "adapters", "adapter", "read_raster", "write_geotiff",
    "s1_preprocess", "s2_preprocess", "composite", "STEPS",
]
__version__ = "0.1.0"


def adapters():
    """Every adapter wgpu finds, best first, as dicts (name, backend, device_type, driver,
    driver_info), each with ``chosen`` True for the one fits use."""
    found, pick = _adapters()
    for i, a in enumerate(found):
        a["chosen"] = i == pick
    return found
