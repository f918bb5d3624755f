"""The library's raster I/O and the reference's Sentinel scalings, numpy in, numpy out."""
import os

import numpy as np

from . import _arrays, _native


def read_raster(path, bands=None, window=None):
    """Reads a GeoTIFF (or any raster GDAL reads), a ``.npy`` or a PNG.

    ``bands``: 1-based band numbers (default all); ``window``: (xoff, yoff, xsize, ysize).
    Returns a dict: ``image`` (float32 H×W×C), ``valid`` (bool H×W, False where a band is
    nodata, NaN or infinite; None when all are valid), ``nodata`` (per band),
    ``geotransform`` (GDAL's 6 numbers, or None) and ``projection`` (WKT, or None).
    """
    if bands is not None:
        bands = [int(b) for b in ([bands] if np.isscalar(bands) else bands)]
    if window is not None:
        window = tuple(int(v) for v in window)
        if len(window) != 4:
            raise ValueError(f"window: expected (xoff, yoff, xsize, ysize), got {window!r}")
    return _native.read_raster(os.fspath(path), bands, window)


def write_geotiff(path, image, geotransform=None, projection=None, nodata=None,
                  overwrite=False, creation_options=(), layout=None):
    """Writes ``image`` (H×W, H×W×C or C×H×W) as a float32 GeoTIFF, one band per channel,
    through a temporary file renamed when complete; an existing file is refused unless
    ``overwrite``. ``geotransform``/``projection`` as ``read_raster`` returns them."""
    (img,) = _arrays.sources(image, "image", layout)
    if geotransform is not None:
        geotransform = [float(v) for v in geotransform]
        if len(geotransform) != 6:
            raise ValueError(f"geotransform: expected GDAL's 6 numbers, got {len(geotransform)}")
    _native.write_geotiff(os.fspath(path), img, geotransform, projection,
                          None if nodata is None else float(nodata), bool(overwrite),
                          [str(o) for o in creation_options])


def s2_preprocess(image, layout=None):
    """The reference's Sentinel-2 scaling: clip to [0, 10000], ÷ 2000 (float32 H×W×C)."""
    (img,) = _arrays.sources(image, "image", layout)
    return _native.s2_preprocess(img)


def s1_preprocess(image, valid=None, layout=None):
    """The reference's Sentinel-1 scaling of linear power (channels 0, 1 = VV, VH): dB, VV
    clipped to [−25, 0] and VH to [−32.5, 0], each mapped to [0, 2]. Returns (float32 H×W×2,
    bool H×W validity); ``valid`` marks pixels already known invalid (nodata)."""
    (img,) = _arrays.sources(image, "image", layout)
    if valid is not None:
        (valid,) = _arrays.masks(valid, 1, img.shape[:2], "valid")
    return _native.s1_preprocess(img, valid)


def composite(images, masks=None, stat="median", layout=None):
    """The guide from past acquisitions: the per-pixel ``stat`` ('median' as NumPy defines it,
    or 'mean') of the clear observations of co-registered ``images`` (a list of H×W×C, C×H×W
    or H×W arrays), ``masks`` one H×W per image (True/1 = clear; default: every finite pixel).
    NaN and infinite values never count. Returns (composite float32 H×W×C, NaN where no date is
    clear; its bool H×W validity, to use as the guide's mask)."""
    if not isinstance(images, (list, tuple)):
        raise TypeError(f"images: expected a list of arrays (one per date), got {type(images).__name__}")
    imgs = _arrays.sources(list(images), "images", layout)
    hw = imgs[0].shape[:2]
    if masks is None:
        masks = [np.ones(hw, bool)] * len(imgs)
    elif not isinstance(masks, (list, tuple)):
        raise TypeError(f"masks: expected a list of arrays (one per date), got {type(masks).__name__}")
    return _native.composite(imgs, _arrays.masks(list(masks), len(imgs), hw, "masks"), str(stat))
