"""The reference's shape rules: sources and masks as numpy arrays in, the library's layout out.

Sources: one array or a list of arrays, each H×W (one channel), H×W×C or C×H×W, of any real
dtype (integers such as Sentinel-2 digital numbers too), C- or F-ordered. They are converted
once to float32 H×W×C, C-ordered. A 3-d array is read as H×W×C when its last axis is the
shortest, as C×H×W when its first is; otherwise the H×W of the other sources (or of the masks)
decides, or ``layout="hwc"`` / ``"chw"`` says.

Masks: one H×W array per source, ``True``/1 = clear (used in the fit), ``False``/0 = cloud;
bool, or numbers that are all 0 or 1. H×W×1 and 1×H×W are accepted.
"""
import numpy as np

LAYOUTS = ("hwc", "chw")


def _as_list(x, name):
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"{name}: an empty list; give at least one array")
        return list(x), True
    return [x], False


def _real_array(x, label):
    if x is None:
        raise TypeError(f"{label}: expected a numpy array, got None")
    a = np.asarray(x)
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_
    ) or np.issubdtype(a.dtype, np.complexfloating):
        raise TypeError(
            f"{label}: expected an array of real numbers, got dtype {a.dtype} "
            f"(type {type(x).__name__})"
        )
    return a


def _guess(shape):
    """'hwc', 'chw' or None (ambiguous) for a 3-d shape."""
    a, b, c = shape
    if c < a and c < b:
        return "hwc"
    if a < b and a < c:
        return "chw"
    return None


def _hw(shape, layout):
    return tuple(shape[:2]) if layout == "hwc" else tuple(shape[1:])


def sources(x, name="target", layout=None, hw=None):
    """A list of float32 H×W×C C-ordered arrays from the reference's forms of `x`.

    `hw`: a known (H, W) that resolves ambiguous 3-d shapes. Raises ValueError/TypeError naming
    the argument, its index and its shape.
    """
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS} or None, got {layout!r}")
    items, is_list = _as_list(x, name)
    label = (lambda i: f"{name}[{i}]") if is_list else (lambda i: name)
    arrays = [_real_array(a, label(i)) for i, a in enumerate(items)]
    layouts = []
    for i, a in enumerate(arrays):
        if a.ndim == 2:
            layouts.append("hw")
        elif a.ndim == 3:
            layouts.append(layout or _guess(a.shape))
        else:
            raise ValueError(
                f"{label(i)}: expected an H×W, H×W×C or C×H×W array, got shape {a.shape}"
            )
    known = [_hw(a.shape, l) for a, l in zip(arrays, layouts) if l in LAYOUTS]
    known += [tuple(a.shape) for a, l in zip(arrays, layouts) if l == "hw"]
    ref = hw or (known[0] if known else None)
    out = []
    for i, (a, l) in enumerate(zip(arrays, layouts)):
        if l is None:
            l = _resolve(a.shape, ref, label(i))
        if l == "hw":
            a = a[:, :, None]
        elif l == "chw":
            a = np.moveaxis(a, 0, -1)
        if 0 in a.shape:
            raise ValueError(f"{label(i)}: an empty array (shape {np.shape(items[i])})")
        out.append(np.ascontiguousarray(a, dtype=np.float32))
    size = out[0].shape[:2]
    for i, a in enumerate(out):
        if a.shape[:2] != size:
            raise ValueError(
                f"{label(i)}: every source must have the H×W of the first, {size[0]}×{size[1]}; "
                f"got shape {np.shape(items[i])} (H×W {a.shape[0]}×{a.shape[1]})"
            )
    return out


def _resolve(shape, ref, label):
    fits = [l for l in LAYOUTS if ref is not None and _hw(shape, l) == tuple(ref)]
    if len(fits) == 1:
        return fits[0]
    raise ValueError(
        f"{label}: cannot tell whether shape {tuple(shape)} is H×W×C or C×H×W; "
        "pass layout='hwc' or layout='chw'"
    )


def masks(m, n_sources, hw, name="mask"):
    """A list of `n_sources` bool H×W C-ordered arrays (True = clear) from the reference's forms."""
    items, is_list = _as_list(m, name)
    label = (lambda i: f"{name}[{i}]") if is_list else (lambda i: name)
    if len(items) != n_sources:
        raise ValueError(
            f"{name}: {n_sources} source(s) were set, so {n_sources} mask(s) are needed (one per "
            f"source, e.g. np.ones((H, W), bool) for a guide); got {len(items)}"
        )
    return [_mask(a, hw, label(i)) for i, a in enumerate(items)]


def _mask(x, hw, label):
    a = _real_array(x, label)
    if a.ndim == 3 and 1 in (a.shape[0], a.shape[2]):
        a = a.reshape(a.shape[1:] if a.shape[0] == 1 else a.shape[:2])
    if a.ndim != 2 or tuple(a.shape) != tuple(hw):
        raise ValueError(
            f"{label}: expected an H×W mask of the sources' size {hw[0]}×{hw[1]}, "
            f"got shape {np.shape(x)}"
        )
    if a.dtype != np.bool_:
        bad = ~((a == 0) | (a == 1))
        if bad.any():
            raise ValueError(
                f"{label}: a mask is True/1 (clear) or False/0 (cloud); {int(bad.sum())} "
                f"value(s) are neither (e.g. {a[bad].flat[0].item()!r}); threshold it first"
            )
        a = a != 0
    return np.ascontiguousarray(a, dtype=np.bool_)
