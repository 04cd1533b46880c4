"""Batched image augmentation in Rust: flips, colour jitter, resizing and random resized crops.

The arithmetic is that of ``torchvision.transforms.v2`` (colour in float32 operation for
operation, antialiased bilinear resizing as Pillow's triangle filter, ``RandomResizedCrop``'s
sampling law), but every image of a batch gets its own random parameters, and the work runs in
Rust over the images in parallel with the GIL released.

Batches are 4-D numpy arrays of ``uint8`` or ``float32``, ``(N, C, H, W)`` by default or
``(N, H, W, C)`` with ``layout="nhwc"``, contiguous or not; CPU torch tensors work too and come
back as tensors (sharing memory with the result, never copied). The output keeps the input's
dtype (except :func:`to_float` and :func:`normalize`, which produce ``float32``) and its memory
order: a channels-last tensor stays channels-last.

>>> import numpy as np
>>> import ferrotune as ft
>>> batch = np.random.default_rng(0).integers(0, 256, (8, 3, 64, 64), dtype=np.uint8)
>>> pipeline = ft.augment.Compose(
...     [
...         ft.augment.RandomResizedCrop(48),
...         ft.augment.RandomHorizontalFlip(),
...         ft.augment.ColorJitter(0.4, 0.4, 0.4, 0.1),
...     ],
...     seed=0,
... )
>>> pipeline(batch).shape
(8, 3, 48, 48)

The number of threads comes from :func:`set_num_threads`, else the ``FERROTUNE_NUM_THREADS``
environment variable, else the number of cores. The thread pool is rebuilt in forked children
(PyTorch DataLoader workers), so augmentation never deadlocks there.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Optional, Union

import numpy as np

from . import _core
from . import _validate as v
from .errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "hflip",
    "vflip",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "resize",
    "resized_crop",
    "normalize",
    "to_float",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "ColorJitter",
    "RandomResizedCrop",
    "Resize",
    "Normalize",
    "ToFloat",
    "Compose",
    "Collate",
    "AugmentedLoader",
    "set_num_threads",
    "get_num_threads",
]

logger = logging.getLogger("ferrotune.augment")

_LAYOUTS = ("nchw", "nhwc")
_SUPPORTED = "uint8, float32"
_NONE = 255  # ends a row of op codes for _core.augment_color

Size = Union[int, Sequence[int]]
Factor = Union[float, Sequence[float], np.ndarray]


# --------------------------------------------------------------------------- threads


def set_num_threads(n: Optional[int]) -> None:
    """Sets the number of threads augmentation uses; ``None`` restores the default.

    The default is the ``FERROTUNE_NUM_THREADS`` environment variable when set, else the
    number of cores. Results never depend on the number of threads.

    >>> import ferrotune as ft
    >>> ft.augment.set_num_threads(2)
    >>> ft.augment.get_num_threads()
    2
    >>> ft.augment.set_num_threads(None)
    """
    if n is not None:
        n = v.integer("n", n, minimum=1)
    _core.augment_set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads the next augmentation call will use."""
    return int(_core.augment_num_threads())


# --------------------------------------------------------------------------- batches


def _torch_tensor_type() -> Any:
    torch = sys.modules.get("torch")
    return None if torch is None else torch.Tensor


class _Batch:
    """A user's batch as a logical ``(N, C, H, W)`` numpy view, and the way back."""

    __slots__ = ("view", "layout", "is_tensor", "original")

    def __init__(self, batch: Any, layout: str, name: str = "batch") -> None:
        self.layout = v.one_of("layout", layout, _LAYOUTS)
        self.original = batch
        tensor_type = _torch_tensor_type()
        self.is_tensor = tensor_type is not None and isinstance(batch, tensor_type)
        if self.is_tensor:
            arr = _tensor_to_numpy(batch, name)
        elif isinstance(batch, np.ndarray):
            arr = batch
        else:
            v.bad_type(name, batch, "a numpy array or a CPU torch tensor")
        if arr.ndim != 4:
            dims = "(N, C, H, W)" if self.layout == "nchw" else "(N, H, W, C)"
            raise InvalidArgumentError(
                f"{name} must be a 4-D batch {dims}, got an array of shape {arr.shape} "
                f"({arr.ndim} dimensions); for a single image use {name}[None]"
            )
        if arr.dtype not in (np.uint8, np.float32):
            if arr.dtype.kind == "f" and arr.dtype.itemsize == 4:
                arr = arr.astype(np.float32)  # non-native byte order
            else:
                raise InvalidTypeError(
                    f"{name} has dtype {arr.dtype}, which augmentation does not support; "
                    f"supported dtypes: {_SUPPORTED} (convert with .astype(np.float32))"
                )
        if not arr.flags.aligned:
            arr = np.ascontiguousarray(arr)
        self.view = arr if self.layout == "nchw" else arr.transpose(0, 3, 1, 2)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        n, c, h, w = self.view.shape
        return n, c, h, w

    def order(self) -> str:
        """'planar', 'interleaved', or the user's layout's order for other strides."""
        found = _order(self.view)
        if found is not None:
            return found
        return "planar" if self.layout == "nchw" else "interleaved"

    def empty(self, c: int, h: int, w: int, dtype: Any) -> np.ndarray:
        """A new array in the input's memory order, as an ``(N, C, H, W)`` view."""
        n = self.view.shape[0]
        if self.order() == "interleaved":
            return np.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)
        return np.empty((n, c, h, w), dtype=dtype)

    def wrap(self, view: np.ndarray) -> Any:
        """The result in the user's layout and type."""
        arr = view if self.layout == "nchw" else view.transpose(0, 2, 3, 1)
        if self.is_tensor:
            torch = sys.modules["torch"]
            return torch.from_numpy(arr)
        return arr

    def writable(self, name: str = "batch") -> None:
        if not self.view.flags.writeable:
            raise InvalidArgumentError(
                f"{name} is read-only; in-place operations need a writable array "
                "(pass a copy, or leave inplace=False)"
            )


def _tensor_to_numpy(t: Any, name: str) -> np.ndarray:
    torch = sys.modules["torch"]
    if t.device.type != "cpu":
        raise InvalidArgumentError(
            f"{name} is on device {t.device}; augmentation runs on the CPU: pass "
            f"{name}.cpu() (augment before moving batches to the accelerator)"
        )
    if t.dtype not in (torch.uint8, torch.float32):
        raise InvalidTypeError(
            f"{name} has dtype {t.dtype}, which augmentation does not support; "
            f"supported dtypes: {_SUPPORTED}"
        )
    return t.detach().numpy()


def _order(view: np.ndarray) -> Optional[str]:
    """The memory order in which each image of an (N, C, H, W) view is contiguous."""
    _, c, h, w = view.shape
    item = view.itemsize
    s = view.strides[1:]
    dims = (c, h, w)

    def fits(want: tuple[int, int, int]) -> bool:
        return all(d <= 1 or st == wt for d, st, wt in zip(dims, s, want, strict=False))

    if fits((h * w * item, w * item, item)):
        return "planar"
    if fits((item, w * c * item, c * item)):
        return "interleaved"
    return None


def _contiguous(view: np.ndarray) -> bool:
    """Whether the whole (N, C, H, W) view is one contiguous block in either order."""
    if view.size == 0:
        return True
    return bool(view.flags.c_contiguous or view.transpose(0, 2, 3, 1).flags.c_contiguous)


def _prepare_out(out: Any, b: _Batch, shape: tuple[int, int, int, int], dtype: Any) -> _Batch:
    """Checks a user's ``out`` array against the result's shape and dtype."""
    o = _Batch(out, b.layout, "out")
    if o.shape != shape or o.view.dtype != np.dtype(dtype):
        raise InvalidArgumentError(
            f"out must have shape {_user_shape(shape, b.layout)} and dtype "
            f"{np.dtype(dtype)}, got shape {tuple(o.original.shape)} and dtype {o.view.dtype}"
        )
    o.writable("out")
    return o


def _user_shape(shape: tuple[int, int, int, int], layout: str) -> tuple[int, ...]:
    n, c, h, w = shape
    return (n, c, h, w) if layout == "nchw" else (n, h, w, c)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _run(
    b: _Batch,
    kernel: Callable[[np.ndarray, Optional[np.ndarray]], None],
    shape: tuple[int, int, int, int],
    dtype: Any,
    *,
    out: Any = None,
    inplace: bool = False,
    in_place_ok: bool = True,
) -> Any:
    """Runs ``kernel(src, dst)`` (``dst=None`` for in place) and returns the user's result."""
    if inplace:
        if not in_place_ok:
            raise InvalidArgumentError("this operation cannot run in place (inplace=True)")
        if out is not None:
            raise InvalidArgumentError("give either out= or inplace=True, not both")
        b.writable()
        if _contiguous(b.view):
            kernel(b.view, None)
        else:
            # The kernels write contiguous memory; strided targets get a copy back.
            tmp = b.empty(shape[1], shape[2], shape[3], dtype)
            kernel(b.view, tmp)
            b.view[...] = tmp
        return b.original

    if out is None:
        dst = b.empty(shape[1], shape[2], shape[3], dtype)
        kernel(b.view, dst)
        return b.wrap(dst)

    o = _prepare_out(out, b, shape, dtype)
    if in_place_ok and _same_memory(o.view, b.view) and _contiguous(b.view):
        kernel(b.view, None)
    elif np.may_share_memory(o.view, b.view) or not _contiguous(o.view):
        tmp = b.empty(shape[1], shape[2], shape[3], dtype)
        kernel(b.view, tmp)
        o.view[...] = tmp
    else:
        kernel(b.view, o.view)
    return out


def _apply_to_batch(batch: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` on a batch, or on the first element of an ``(images, labels, ...)`` tuple."""
    if isinstance(batch, (tuple, list)) and batch:
        first = fn(batch[0])
        rest = list(batch[1:])
        return type(batch)([first, *rest]) if isinstance(batch, list) else (first, *rest)
    return fn(batch)


# --------------------------------------------------------------------------- flips


def hflip(batch: Any, *, layout: str = "nchw", out: Any = None, inplace: bool = False) -> Any:
    """Flips every image left to right.

    Parameters
    ----------
    batch : numpy array or CPU torch tensor, uint8 or float32
        ``(N, C, H, W)``, or ``(N, H, W, C)`` with ``layout="nhwc"``.
    out : array, optional
        Where to write the result (reuse it across calls to skip fresh memory).
    inplace : bool
        Flip ``batch`` itself (it must be writable).

    >>> import numpy as np
    >>> hflip(np.arange(6, dtype=np.uint8).reshape(1, 1, 2, 3))[0, 0]
    array([[2, 1, 0],
           [5, 4, 3]], dtype=uint8)
    """
    return _flip(batch, True, None, layout, out, inplace)


def vflip(batch: Any, *, layout: str = "nchw", out: Any = None, inplace: bool = False) -> Any:
    """Flips every image top to bottom. Arguments as :func:`hflip`.

    >>> import numpy as np
    >>> vflip(np.arange(6, dtype=np.uint8).reshape(1, 1, 2, 3))[0, 0]
    array([[3, 4, 5],
           [0, 1, 2]], dtype=uint8)
    """
    return _flip(batch, False, None, layout, out, inplace)


def _flip(
    batch: Any,
    horizontal: bool,
    mask: Optional[np.ndarray],
    layout: str,
    out: Any,
    inplace: bool,
) -> Any:
    b = _Batch(batch, layout)
    inplace = v.flag("inplace", inplace)

    def kernel(src: np.ndarray, dst: Optional[np.ndarray]) -> None:
        _core.augment_flip(src, dst, horizontal, mask)

    return _run(b, kernel, b.shape, b.view.dtype, out=out, inplace=inplace)


# --------------------------------------------------------------------------- colour


def _factors(name: str, factor: Any, n: int, *, hue: bool = False) -> np.ndarray:
    """A scalar or one factor per image, checked, as a float64 column."""
    expected = "a shift in [-0.5, 0.5]" if hue else "a factor >= 0"
    if isinstance(factor, numbers.Real) and not isinstance(factor, bool):
        values = np.array([float(factor)])
    elif isinstance(factor, (np.ndarray, Sequence)) and not isinstance(factor, str):
        try:
            values = np.asarray(factor, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            v.bad_type(name, factor, "a number or one number per image")
        if values.size != n or np.ndim(factor) != 1:
            raise InvalidArgumentError(
                f"{name} must be one number or one per image ({n}), "
                f"got {np.size(factor)} values of shape {np.shape(factor)}"
            )
    else:
        torch_type = _torch_tensor_type()
        if torch_type is not None and isinstance(factor, torch_type):
            return _factors(name, factor.detach().cpu().numpy(), n, hue=hue)
        v.bad_type(name, factor, "a number or one number per image")
    bad = ~np.isfinite(values) | ((np.abs(values) > 0.5) if hue else (values < 0))
    if bad.any():
        k = int(np.argmax(bad))
        where = "" if values.size == 1 else f" (image {k})"
        raise InvalidArgumentError(f"{name} must be {expected}, got {values[k]!r}{where}")
    return values


def _color(batch: Any, code: int, name: str, factor: Any, layout: str, out: Any, inplace: bool):
    b = _Batch(batch, layout)
    inplace = v.flag("inplace", inplace)
    n, c, _, _ = b.shape
    values = _factors(name, factor, n, hue=code == 3)
    if c != 3:
        raise InvalidArgumentError(
            f"batch has {c} channels; colour operations need RGB images with exactly 3 "
            f"channels (shape {tuple(b.original.shape)}, layout={layout!r})"
        )
    codes = np.full((values.size, 4), _NONE, dtype=np.uint8)
    codes[:, 0] = code
    factors = np.zeros((values.size, 4))
    factors[:, 0] = values

    def kernel(src: np.ndarray, dst: Optional[np.ndarray]) -> None:
        _core.augment_color(src, dst, codes, factors)

    return _run(b, kernel, b.shape, b.view.dtype, out=out, inplace=inplace)


def adjust_brightness(
    batch: Any, factor: Factor, *, layout: str = "nchw", out: Any = None, inplace: bool = False
) -> Any:
    """Multiplies intensities by ``factor`` (>= 0; one for all or one per image), clamped.

    Matches ``torchvision.transforms.v2.functional.adjust_brightness`` bit for bit.

    >>> import numpy as np
    >>> adjust_brightness(np.full((2, 3, 1, 1), 100, np.uint8), [0.5, 2.0])[:, 0, 0, 0]
    array([ 50, 200], dtype=uint8)
    """
    return _color(batch, 0, "factor (brightness)", factor, layout, out, inplace)


def adjust_contrast(
    batch: Any, factor: Factor, *, layout: str = "nchw", out: Any = None, inplace: bool = False
) -> Any:
    """Blends each image with its mean gray level: 0 gives flat gray, 1 the image.

    ``factor`` is >= 0, one for all images or one per image. Matches torchvision v2.

    >>> import numpy as np
    >>> x = np.zeros((1, 3, 2, 2), np.uint8); x[..., 0, 0] = 200
    >>> int(adjust_contrast(x, 0.0)[0, 0, 1, 1])  # floor(199 / 4), the mean gray
    49
    """
    return _color(batch, 1, "factor (contrast)", factor, layout, out, inplace)


def adjust_saturation(
    batch: Any, factor: Factor, *, layout: str = "nchw", out: Any = None, inplace: bool = False
) -> Any:
    """Blends each pixel with its gray level: 0 gives grayscale, 1 the image.

    ``factor`` is >= 0, one for all images or one per image. Matches torchvision v2.

    >>> import numpy as np
    >>> x = np.array([255, 0, 0], np.uint8).reshape(1, 3, 1, 1)
    >>> adjust_saturation(x, 0.0).ravel()
    array([76, 76, 76], dtype=uint8)
    """
    return _color(batch, 2, "factor (saturation)", factor, layout, out, inplace)


def adjust_hue(
    batch: Any, factor: Factor, *, layout: str = "nchw", out: Any = None, inplace: bool = False
) -> Any:
    """Rotates the hue by ``factor`` turns, in [-0.5, 0.5] (one for all or one per image).

    Computed through HSV with torchvision v2's formulas.

    >>> import numpy as np
    >>> red = np.array([255, 0, 0], np.uint8).reshape(1, 3, 1, 1)
    >>> adjust_hue(red, 1 / 3).ravel()
    array([  0, 255,   0], dtype=uint8)
    """
    return _color(batch, 3, "factor (hue)", factor, layout, out, inplace)


# --------------------------------------------------------------------------- geometry


def _size_pair(size: Any, name: str = "size") -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        s = v.integer(name, size, minimum=1)
        return s, s
    if isinstance(size, Sequence) and not isinstance(size, str) and len(size) in (1, 2):
        vals = [v.integer(name, s, minimum=1) for s in size]
        return (vals[0], vals[0]) if len(vals) == 1 else (vals[0], vals[1])
    if isinstance(size, Sequence) and not isinstance(size, str):
        v.bad_value(name, size, "an int or a pair (height, width)")
    v.bad_type(name, size, "an int or a pair (height, width)")


def _resized_size(size: Any, h: int, w: int) -> tuple[int, int]:
    """torchvision's output size: an int sets the shorter edge, a pair sets both."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        s = v.integer("size", size, minimum=1)
        if h == 0 or w == 0:
            return s, s
        short, long = (w, h) if w <= h else (h, w)
        new_long = max(1, int(s * long / short))
        return (new_long, s) if w <= h else (s, new_long)
    return _size_pair(size)


def resize(
    batch: Any, size: Size, *, antialias: bool = True, layout: str = "nchw", out: Any = None
) -> Any:
    """Bilinear resize of every image, as torchvision's ``resize``.

    Parameters
    ----------
    size : int or (height, width)
        An int sets the shorter edge and keeps the aspect ratio (torchvision's rule); a pair
        sets the size exactly.
    antialias : bool
        Filter when shrinking (Pillow's triangle filter), as torchvision does by default.
        Without it the result equals ``torch.nn.functional.interpolate(mode="bilinear",
        align_corners=False)``.

    >>> import numpy as np
    >>> resize(np.zeros((2, 3, 224, 224), np.float32), 160).shape
    (2, 3, 160, 160)
    """
    b = _Batch(batch, layout)
    antialias = v.flag("antialias", antialias)
    n, c, h, w = b.shape
    oh, ow = _resized_size(size, h, w)

    def kernel(src: np.ndarray, dst: Optional[np.ndarray]) -> None:
        assert dst is not None  # never run in place
        _core.augment_resize(src, dst, antialias)

    return _run(b, kernel, (n, c, oh, ow), b.view.dtype, out=out, in_place_ok=False)


def _boxes(boxes: Any, n: int) -> np.ndarray:
    torch_type = _torch_tensor_type()
    if torch_type is not None and isinstance(boxes, torch_type):
        boxes = boxes.detach().cpu().numpy()
    try:
        arr = np.asarray(boxes)
    except (TypeError, ValueError):
        v.bad_type("boxes", boxes, "integer rows of (top, left, height, width)")
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "O" and arr.size == 0):
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            v.bad_type("boxes", boxes, "integer rows of (top, left, height, width)")
    if arr.shape == (4,):
        arr = arr.reshape(1, 4)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] not in (1, n):
        raise InvalidArgumentError(
            f"boxes must be one (top, left, height, width) row or one per image ({n}), "
            f"got shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def resized_crop(
    batch: Any,
    boxes: Any,
    size: Size,
    *,
    antialias: bool = True,
    layout: str = "nchw",
    out: Any = None,
) -> Any:
    """Crops a box out of each image and resizes it, as torchvision's ``resized_crop``.

    Parameters
    ----------
    boxes : array-like of int, shape (4,) or (N, 4)
        ``(top, left, height, width)`` for all images or for each; every box must lie inside
        its image.
    size : int or (height, width)
        The output size; an int gives a square (crops of different shapes cannot share a
        shorter-edge rule in one batch).

    >>> import numpy as np
    >>> x = np.zeros((2, 3, 32, 32), np.uint8)
    >>> resized_crop(x, [[0, 0, 16, 16], [8, 4, 20, 24]], 8).shape
    (2, 3, 8, 8)
    """
    b = _Batch(batch, layout)
    antialias = v.flag("antialias", antialias)
    n, c, _, _ = b.shape
    oh, ow = _size_pair(size)
    rows = _boxes(boxes, n)

    def kernel(src: np.ndarray, dst: Optional[np.ndarray]) -> None:
        assert dst is not None  # never run in place
        _core.augment_resized_crop(src, dst, rows, antialias)

    return _run(b, kernel, (n, c, oh, ow), b.view.dtype, out=out, in_place_ok=False)


# --------------------------------------------------------------------------- dtype, stats


def _stats(name: str, value: Any, c: int) -> list[float]:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        vals = [float(value)]
    elif isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        vals = [v.real(name, x) for x in np.asarray(value, dtype=object).reshape(-1)]
    else:
        v.bad_type(name, value, f"a number or a sequence of {c} numbers")
    if len(vals) not in (1, c):
        raise InvalidArgumentError(
            f"{name} must have one value or one per channel ({c}), got {len(vals)}: {value!r}"
        )
    if name == "std" and any(x == 0 for x in vals):
        raise InvalidArgumentError(f"std must be non-zero, got {value!r}")
    return vals


def to_float(batch: Any, *, layout: str = "nchw", out: Any = None) -> Any:
    """``uint8`` to ``float32`` in [0, 1] (``x / 255``); a ``float32`` batch is returned as is.

    >>> import numpy as np
    >>> to_float(np.array([0, 51, 255], np.uint8).reshape(1, 3, 1, 1)).ravel().tolist()
    [0.0, 0.20000001788139343, 1.0]
    """
    b = _Batch(batch, layout)
    if b.view.dtype == np.float32 and out is None:
        return batch

    def kernel(src: np.ndarray, dst: Optional[np.ndarray]) -> None:
        _core.augment_normalize(src, dst)

    return _run(b, kernel, b.shape, np.float32, out=out, in_place_ok=False)


def normalize(
    batch: Any,
    mean: Union[float, Sequence[float]],
    std: Union[float, Sequence[float]],
    *,
    layout: str = "nchw",
    out: Any = None,
    inplace: bool = False,
) -> Any:
    """``(x - mean[c]) / std[c]`` per channel, into ``float32``.

    A ``uint8`` batch is first scaled to [0, 1] in the same pass (``to_float`` fused in), so
    ``normalize(images, mean, std)`` works on raw bytes; a ``float32`` batch is normalised as
    it is (and can be, in place).

    >>> import numpy as np
    >>> x = np.full((1, 3, 1, 1), 255, np.uint8)
    >>> normalize(x, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]).ravel()
    array([1., 1., 1.], dtype=float32)
    """
    b = _Batch(batch, layout)
    inplace = v.flag("inplace", inplace)
    c = b.shape[1]
    m, s = _stats("mean", mean, c), _stats("std", std, c)
    if inplace and b.view.dtype != np.float32:
        raise InvalidArgumentError(
            f"normalize(inplace=True) needs a float32 batch, got {b.view.dtype}; "
            "leave inplace=False to get a new float32 batch"
        )

    def kernel(src: np.ndarray, dst: Optional[np.ndarray]) -> None:
        _core.augment_normalize(src, dst, m, s)

    return _run(b, kernel, b.shape, np.float32, out=out, inplace=inplace)


# --------------------------------------------------------------------------- randomness


_MASK64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """SplitMix64's finaliser: spreads nearby integers over 64 bits."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _worker_seed() -> Optional[int]:
    """In a PyTorch DataLoader worker, that worker's seed (differs per worker and epoch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    info = torch.utils.data.get_worker_info()
    return None if info is None else int(info.seed)


class _Draws:
    """Where one call's random numbers come from: (seed, stream, call)."""

    __slots__ = ("seed", "stream", "call")

    def __init__(self, seed: int, stream: int, call: int) -> None:
        self.seed, self.stream, self.call = seed, stream, call


class _Transform:
    """Base of the transforms: calling conventions shared by all."""

    def __call__(self, batch: Any, *, layout: str = "nchw") -> Any:
        """Applies the transform to a batch (or to the images of an ``(images, ...)`` tuple)."""
        return _apply_to_batch(batch, lambda x: self._call_one(x, layout))

    def _call_one(self, batch: Any, layout: str) -> Any:
        b = _Batch(batch, layout)
        view = self._apply(b, b.view, self._own_draws(), owned=False)
        return b.wrap(view)

    def _own_draws(self) -> Optional[_Draws]:
        return None

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        raise NotImplementedError

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"


class _RandomTransform(_Transform):
    """A transform with per-image random parameters."""

    _kind = 0

    def __init__(self, seed: Optional[int]) -> None:
        self.seed = None if seed is None else v.seed(seed)
        self._calls = 0

    def _own_draws(self) -> _Draws:
        call = self._calls
        self._calls += 1
        return _draws_for(self.seed, self._kind, call)

    def _has_seed(self) -> bool:
        return self.seed is not None

    def _restarted(self, seed: Optional[int] = None) -> Any:
        """A copy whose draws start again from the first call, seeded by `seed` when it has
        no seed of its own (a seeded ``fit`` repeats its augmentation this way)."""
        out = copy.copy(self)
        out._calls = 0
        if not self._has_seed() and seed is not None:
            out.seed = v.seed(seed)
        return out


def _draws_for(seed: Optional[int], stream: int, call: int) -> _Draws:
    if seed is None:
        # Fresh entropy on every call: forked workers never repeat each other.
        return _Draws(int.from_bytes(os.urandom(8), "little"), stream, 0)
    worker = _worker_seed()
    key = seed if worker is None else _mix(seed ^ _mix(worker))
    return _Draws(key, stream, call)


def _new_like(b: _Batch, view: np.ndarray, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A fresh ``(N, C, H, W)`` array of ``shape`` in the memory order of ``view``."""
    n, c, h, w = shape
    order = _order(view)
    if order == "interleaved" or (order is None and b.layout == "nhwc"):
        return np.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)
    return np.empty((n, c, h, w), dtype=dtype)


class RandomHorizontalFlip(_RandomTransform):
    """Flips each image left to right with probability ``p``, independently per image.

    >>> import numpy as np
    >>> x = np.arange(4, dtype=np.uint8).reshape(1, 1, 1, 4)
    >>> RandomHorizontalFlip(1.0)(x).ravel()
    array([3, 2, 1, 0], dtype=uint8)
    """

    _kind = 1
    _horizontal = True

    def __init__(self, p: float = 0.5, *, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.p = v.real("p", p)
        if not 0.0 <= self.p <= 1.0:
            v.bad_value("p", p, "a probability in [0, 1]")

    def _describe(self) -> str:
        return f"p={self.p}"

    def flags(self, n: int, draws: _Draws) -> np.ndarray:
        return _core.augment_flip_flags(draws.seed, draws.stream, draws.call, n, self.p)

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        n = view.shape[0]
        mask = self.flags(n, draws or self._own_draws())
        if owned and _contiguous(view):
            _core.augment_flip(view, None, self._horizontal, mask)
            return view
        out = _new_like(b, view, view.shape, view.dtype)
        if n:
            _core.augment_flip(view, out, self._horizontal, mask)
        return out


class RandomVerticalFlip(RandomHorizontalFlip):
    """Flips each image top to bottom with probability ``p``, independently per image.

    >>> import numpy as np
    >>> x = np.arange(4, dtype=np.uint8).reshape(1, 1, 4, 1)
    >>> RandomVerticalFlip(1.0)(x).ravel()
    array([3, 2, 1, 0], dtype=uint8)
    """

    _kind = 2
    _horizontal = False


def _jitter_range(name: str, value: Any, *, hue: bool = False) -> Optional[tuple[float, float]]:
    center, lo, hi = (0.0, -0.5, 0.5) if hue else (1.0, 0.0, math.inf)
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        x = float(value)
        if not math.isfinite(x) or x < 0:
            v.bad_value(name, value, "a number >= 0 or a (min, max) pair")
        if hue and x > 0.5:
            v.bad_value(name, value, "a hue jitter in [0, 0.5] or a (min, max) pair")
        pair = (max(center - x, 0.0) if not hue else -x, center + x)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = (v.real(name, value[0]), v.real(name, value[1]))
        if not (lo <= pair[0] <= pair[1] <= hi):
            v.bad_value(name, value, f"an increasing (min, max) pair inside [{lo}, {hi}]")
    else:
        v.bad_type(name, value, "a number or a (min, max) pair")
    return None if pair[0] == pair[1] == center else pair


class ColorJitter(_RandomTransform):
    """Random brightness, contrast, saturation and hue, with torchvision v2's semantics but
    its own random factors *and* order of the four operations for every image.

    Each argument is a number ``v`` (factors drawn from ``[max(0, 1 - v), 1 + v]``, or
    ``[-v, v]`` for hue, ``v <= 0.5``) or a ``(min, max)`` pair; 0 or None skips the op.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).integers(0, 256, (4, 3, 8, 8), dtype=np.uint8)
    >>> ColorJitter(0.4, 0.4, 0.4, 0.1, seed=0)(x).shape
    (4, 3, 8, 8)
    """

    _kind = 3

    def __init__(
        self,
        brightness: Any = 0,
        contrast: Any = 0,
        saturation: Any = 0,
        hue: Any = 0,
        *,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.brightness = _jitter_range("brightness", brightness)
        self.contrast = _jitter_range("contrast", contrast)
        self.saturation = _jitter_range("saturation", saturation)
        self.hue = _jitter_range("hue", hue, hue=True)

    def _describe(self) -> str:
        return (
            f"brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue}"
        )

    def params(self, n: int, draws: Optional[_Draws] = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-image op codes (0 brightness, 1 contrast, 2 saturation, 3 hue, 255 none) and
        factors, each ``(n, 4)``, in the order they apply."""
        d = draws or self._own_draws()
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        codes, factors = _core.augment_sample_jitter(d.seed, d.stream, d.call, n, ranges)
        return codes, factors

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        n, c = view.shape[:2]
        if c != 3:
            raise InvalidArgumentError(
                f"batch has {c} channels; ColorJitter needs RGB images with exactly 3 channels"
            )
        codes, factors = self.params(n, draws)
        if owned and _contiguous(view):
            _core.augment_color(view, None, codes, factors)
            return view
        out = _new_like(b, view, view.shape, view.dtype)
        if n:
            _core.augment_color(view, out, codes, factors)
        return out


class RandomResizedCrop(_RandomTransform):
    """Crops a random box of each image and resizes it to ``size``, boxes drawn by
    torchvision's law: area fraction uniform in ``scale``, log-uniform aspect ratio in
    ``ratio``, ten attempts, then a central crop clipped to the ratio range.

    >>> import numpy as np
    >>> RandomResizedCrop(16, seed=0)(np.zeros((4, 3, 32, 40), np.uint8)).shape
    (4, 3, 16, 16)
    """

    _kind = 4

    def __init__(
        self,
        size: Size,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        *,
        antialias: bool = True,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.size = _size_pair(size)
        self.scale = _pair("scale", scale)
        self.ratio = _pair("ratio", ratio)
        self.antialias = v.flag("antialias", antialias)

    def _describe(self) -> str:
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}"

    def boxes(self, n: int, h: int, w: int, draws: Optional[_Draws] = None) -> np.ndarray:
        """``(n, 4)`` boxes ``(top, left, height, width)`` for ``n`` images of ``h x w``."""
        d = draws or self._own_draws()
        return _core.augment_sample_boxes(
            d.seed, d.stream, d.call, n, h, w, self.scale, self.ratio
        )

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        n, c, h, w = view.shape
        rows = self.boxes(n, h, w, draws)
        out = _new_like(b, view, (n, c, *self.size), view.dtype)
        if n:
            _core.augment_resized_crop(view, out, rows, self.antialias)
        return out


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2):
        v.bad_type(name, value, "a (min, max) pair")
    a, b_ = v.real(name, value[0]), v.real(name, value[1])
    if not (0 < a <= b_):
        v.bad_value(name, value, "an increasing (min, max) pair of positive numbers")
    return a, b_


class Resize(_Transform):
    """Resizes every image (see :func:`resize`: an int sets the shorter edge).

    >>> import numpy as np
    >>> Resize((20, 30))(np.zeros((2, 3, 40, 40), np.float32)).shape
    (2, 3, 20, 30)
    """

    def __init__(self, size: Size, *, antialias: bool = True) -> None:
        _size_pair(size) if not isinstance(size, numbers.Integral) else v.integer(
            "size", size, minimum=1
        )
        self.size = size
        self.antialias = v.flag("antialias", antialias)

    def _describe(self) -> str:
        return f"size={self.size!r}"

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        n, c, h, w = view.shape
        oh, ow = _resized_size(self.size, h, w)
        out = _new_like(b, view, (n, c, oh, ow), view.dtype)
        if n:
            _core.augment_resize(view, out, self.antialias)
        return out


class Normalize(_Transform):
    """Per-channel ``(x - mean) / std`` into float32 (uint8 scaled to [0, 1] first).

    >>> import numpy as np
    >>> Normalize(0.5, 0.5)(np.zeros((1, 3, 2, 2), np.uint8)).max()
    np.float32(-1.0)
    """

    def __init__(self, mean: Any, std: Any) -> None:
        self.mean, self.std = mean, std
        _stats("mean", mean, len(mean) if isinstance(mean, Sequence) else 1)
        _stats("std", std, len(std) if isinstance(std, Sequence) else 1)

    def _describe(self) -> str:
        return f"mean={self.mean!r}, std={self.std!r}"

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        c = view.shape[1]
        m, s = _stats("mean", self.mean, c), _stats("std", self.std, c)
        if owned and view.dtype == np.float32 and _contiguous(view):
            _core.augment_normalize(view, None, m, s)
            return view
        out = _new_like(b, view, view.shape, np.float32)
        if view.shape[0]:
            _core.augment_normalize(view, out, m, s)
        return out


class ToFloat(_Transform):
    """``uint8`` to ``float32`` in [0, 1]; float32 passes through."""

    def _apply(self, b: _Batch, view: np.ndarray, draws: Optional[_Draws], owned: bool):
        if view.dtype == np.float32:
            return view
        out = _new_like(b, view, view.shape, np.float32)
        if view.shape[0]:
            _core.augment_normalize(view, out)
        return out


class Compose(_Transform):
    """Applies transforms in order; with a ``seed``, the whole pipeline is reproducible.

    Image ``i`` of call ``k`` draws its parameters from ``(seed, transform position, k, i)``
    alone, so results do not depend on the number of threads. Without a seed every call
    draws fresh entropy. In a PyTorch DataLoader worker the seed is mixed with the worker's
    seed, so workers differ from each other and from epoch to epoch (reproducibly, under
    ``torch.manual_seed``).

    Intermediate results belong to the pipeline, so every step after the first that makes a
    new array works in place. Any other callable ``batch -> batch`` may appear in the list.

    >>> import numpy as np
    >>> pipe = Compose([RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4, 0.1)], seed=1)
    >>> x = np.zeros((2, 3, 8, 8), np.uint8)
    >>> pipe(x).shape
    (2, 3, 8, 8)
    """

    def __init__(self, transforms: Iterable[Any], *, seed: Optional[int] = None) -> None:
        if not isinstance(transforms, Iterable):
            v.bad_type("transforms", transforms, "a list of transforms, such as [transform]")
        self.transforms = list(transforms)
        for k, t in enumerate(self.transforms):
            if not callable(t):
                v.bad_type(f"transforms[{k}]", t, "a transform or a callable batch -> batch")
        self.seed = None if seed is None else v.seed(seed)
        self._calls = 0

    def _describe(self) -> str:
        return ", ".join(repr(t) for t in self.transforms) + f"; seed={self.seed}"

    def _call_one(self, batch: Any, layout: str) -> Any:
        call = self._calls
        self._calls += 1
        b = _Batch(batch, layout)
        view, owned = b.view, False
        for k, t in enumerate(self.transforms):
            if isinstance(t, _Transform):
                draws = None
                if isinstance(t, _RandomTransform):
                    draws = self._draws(k, t, call)
                new = t._apply(b, view, draws, owned)
                owned = owned or new is not view
                view = new
            else:
                result = t(b.wrap(view))
                b = _Batch(result, layout)
                view, owned = b.view, False
        return b.wrap(view)

    def _has_seed(self) -> bool:
        return self.seed is not None or any(
            isinstance(t, _RandomTransform) and t.seed is not None for t in self.transforms
        )

    def _restarted(self, seed: Optional[int] = None) -> Compose:
        """A copy whose draws, and those of its steps, start again from the first call;
        seeded by `seed` when neither it nor any step has a seed."""
        out = copy.copy(self)
        out._calls = 0
        # Steps with a seed of their own draw from their own call counters: restart them too.
        out.transforms = [
            t._restarted() if isinstance(t, _RandomTransform) else t for t in self.transforms
        ]
        if not self._has_seed() and seed is not None:
            out.seed = v.seed(seed)
        return out

    def _draws(self, k: int, t: _RandomTransform, call: int) -> _Draws:
        if self.seed is None:
            return t._own_draws() if t.seed is not None else _draws_for(None, 0, 0)
        return _draws_for(_mix(self.seed ^ _mix(k)), (k << 8) | t._kind, call)


# --------------------------------------------------------------------------- training


class Collate:
    """A DataLoader ``collate_fn`` that stacks samples, then augments the image batch.

    Parameters
    ----------
    transform : callable
        A transform or :class:`Compose` (any callable ``batch -> batch``).
    collate_fn : callable, optional
        How to stack samples first; ``torch.utils.data.default_collate`` by default.
    index : int or str or None
        Which element of the collated batch holds the images: a position in a tuple/list,
        a key of a dict, or ``None`` when the batch is the images.

    >>> import torch  # doctest: +SKIP
    >>> loader = torch.utils.data.DataLoader(  # doctest: +SKIP
    ...     data, batch_size=256, num_workers=4, collate_fn=Collate(pipeline)
    ... )
    """

    def __init__(
        self,
        transform: Callable[[Any], Any],
        *,
        collate_fn: Optional[Callable[[list[Any]], Any]] = None,
        index: Union[int, str, None] = 0,
        layout: str = "nchw",
    ) -> None:
        if not callable(transform):
            v.bad_type("transform", transform, "a callable batch -> batch")
        self.transform = transform
        self.collate_fn = collate_fn
        self.index = index
        self.layout = v.one_of("layout", layout, _LAYOUTS)

    def __call__(self, samples: list[Any]) -> Any:
        collate = self.collate_fn
        if collate is None:
            data = v.optional_import("torch.utils.data", "torch")
            collate = data.default_collate
        return _augment_part(collate(samples), self.transform, self.index, self.layout)


def _augment_part(batch: Any, transform: Callable[[Any], Any], index: Any, layout: str) -> Any:
    def run(x: Any) -> Any:
        if isinstance(transform, _Transform):
            return transform(x, layout=layout)
        return transform(x)

    if index is None:
        return run(batch)
    if isinstance(batch, dict):
        if index not in batch:
            v.bad_value("index", index, f"a key of the batch, one of {sorted(map(str, batch))}")
        out = dict(batch)
        out[index] = run(batch[index])
        return out
    if isinstance(batch, (tuple, list)):
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not -len(batch) <= index < len(batch)
        ):
            v.bad_value("index", index, f"a position in the batch of {len(batch)} parts")
        items = list(batch)
        items[index] = run(items[index])
        return type(batch)(items) if isinstance(batch, list) else tuple(items)
    return run(batch)


class AugmentedLoader:
    """Wraps a data loader (any iterable of batches) and augments each batch it yields.

    Augmentation then runs in the training process, on all the augmentation threads, while
    the loader's workers only decode and stack.

    >>> batches = [np.zeros((2, 3, 8, 8), np.uint8)] * 3
    >>> loader = AugmentedLoader(batches, RandomHorizontalFlip(), index=None)
    >>> len(loader), next(iter(loader)).shape
    (3, (2, 3, 8, 8))
    """

    def __init__(
        self,
        loader: Iterable[Any],
        transform: Callable[[Any], Any],
        *,
        index: Union[int, str, None] = 0,
        layout: str = "nchw",
    ) -> None:
        if not callable(transform):
            v.bad_type("transform", transform, "a callable batch -> batch")
        self.loader = loader
        self.transform = transform
        self.index = index
        self.layout = v.one_of("layout", layout, _LAYOUTS)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield _augment_part(batch, self.transform, self.index, self.layout)

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]
