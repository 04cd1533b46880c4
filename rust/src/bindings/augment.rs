//! `_core.augment_*`: the batched augmentation kernels for `ferrotune/augment.py`.
//!
//! Every batch arrives as a 4-D numpy array in logical `(N, C, H, W)` order with whatever
//! strides it has (an `NHWC` batch is passed as its transposed view). Outputs are arrays that
//! Python allocated (contiguous in `NCHW` or `NHWC` memory order) or, for in-place calls, the
//! input itself, which must then be writable. The GIL is released while the kernels run.

use numpy::{
    Element, PyArray1, PyArray2, PyArray4, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray4, PyReadwriteArray4, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use super::detached;
use crate::augment::color::{self, ColorOp, ColorOps, JitterRanges};
use crate::augment::{
    crop, flip, normalize, pool, resize, Dest, Draws, Order, Pixel, Shape, Source,
};
use crate::Error;

/// The element types the kernels take, listed in messages.
const SUPPORTED: &str = "uint8 or float32";

fn dims_of(shape: &[usize]) -> Shape {
    Shape::new(shape[0], shape[1], shape[2], shape[3])
}

/// A read-only view of any strided array as a core [`Source`].
fn source_of<'a, T: Element + Pixel>(
    arr: &'a PyReadonlyArray4<'_, T>,
) -> crate::Result<Source<'a, T>> {
    let shape = dims_of(arr.shape());
    if shape.is_empty() {
        return Source::strided(&[], 0, [0; 4], shape);
    }
    if !arr.is_aligned() {
        return Err(Error::Internal(
            "unaligned array reached the kernels".into(),
        ));
    }
    let view = arr.as_array();
    let strides: [isize; 4] = view
        .strides()
        .try_into()
        .map_err(|_| Error::Internal("ndim".into()))?;
    let dims = [shape.n, shape.c, shape.h, shape.w];
    let (mut lo, mut hi) = (0isize, 0isize);
    for (d, s) in dims.iter().zip(strides) {
        let reach = (*d as isize - 1) * s;
        if reach < 0 {
            lo += reach;
        } else {
            hi += reach;
        }
    }
    // SAFETY: every element lies between the lowest and highest element address, all inside
    // the array's buffer, which the read-only borrow keeps alive and unaliased by writers.
    let data =
        unsafe { std::slice::from_raw_parts(view.as_ptr().offset(lo), (hi - lo) as usize + 1) };
    Source::strided(data, (-lo) as usize, strides, shape)
}

/// A writable array contiguous in `NCHW` or `NHWC` memory order as a core [`Dest`].
fn dest_of<'a, T: Element + Pixel>(
    arr: &'a mut PyReadwriteArray4<'_, T>,
    arg: &str,
    prefer: Order,
) -> crate::Result<Dest<'a, T>> {
    let shape = dims_of(arr.shape());
    if shape.is_empty() {
        return Dest::new(&mut [], shape, prefer);
    }
    if !arr.is_aligned() {
        return Err(Error::Internal(
            "unaligned array reached the kernels".into(),
        ));
    }
    let strides: Vec<isize> = arr.as_array().strides().to_vec();
    let fits = |order: Order| {
        let [cs, ys, xs] = order.strides(shape.c, shape.h, shape.w);
        let want = [shape.image_len() as isize, cs, ys, xs];
        let dims = [shape.n, shape.c, shape.h, shape.w];
        (0..4).all(|k| dims[k] <= 1 || strides[k] == want[k])
    };
    let order = if fits(prefer) {
        prefer
    } else if fits(other(prefer)) {
        other(prefer)
    } else {
        return Err(Error::invalid(
            arg,
            format!("strides {strides:?}"),
            "an output contiguous in NCHW or NHWC memory order",
        ));
    };
    let mut view = arr.as_array_mut();
    let ptr = view.as_mut_ptr();
    // SAFETY: the array is contiguous (checked above), so its `len` elements start at the
    // pointer of element (0, 0, 0, 0); the read-write borrow makes this the only access.
    let data = unsafe { std::slice::from_raw_parts_mut(ptr, shape.len()) };
    Dest::new(data, shape, order)
}

fn other(order: Order) -> Order {
    match order {
        Order::Planar => Order::Interleaved,
        Order::Interleaved => Order::Planar,
    }
}

fn borrow_error(arg: &str, e: numpy::BorrowError) -> Error {
    match e {
        numpy::BorrowError::NotWriteable => Error::invalid(
            arg,
            "a read-only array",
            "in-place operations need a writable array (pass a copy, or drop inplace=True)",
        ),
        _ => Error::invalid(
            arg,
            "an array in use",
            "the output must not share memory with the input",
        ),
    }
}

fn unsupported(arg: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let dtype = obj
        .getattr("dtype")
        .and_then(|d| d.str())
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "no dtype".into());
    let ndim = obj
        .getattr("ndim")
        .and_then(|d| d.extract::<usize>())
        .unwrap_or(0);
    if ndim != 4 {
        Error::invalid(arg, format!("{ndim} dimensions"), "a 4-D batch").into()
    } else {
        Error::invalid(arg, dtype, format!("a batch of {SUPPORTED}")).into()
    }
}

/// The element type of a batch, for dispatch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    U8,
    F32,
}

fn kind_of(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Kind> {
    if obj.cast::<PyArray4<u8>>().is_ok() {
        Ok(Kind::U8)
    } else if obj.cast::<PyArray4<f32>>().is_ok() {
        Ok(Kind::F32)
    } else {
        Err(unsupported(arg, obj))
    }
}

fn readonly<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    arg: &str,
) -> PyResult<PyReadonlyArray4<'py, T>> {
    let arr = obj
        .cast::<PyArray4<T>>()
        .map_err(|_| unsupported(arg, obj))?;
    arr.try_readonly().map_err(|e| borrow_error(arg, e).into())
}

fn readwrite<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    arg: &str,
) -> PyResult<PyReadwriteArray4<'py, T>> {
    let arr = obj
        .cast::<PyArray4<T>>()
        .map_err(|_| unsupported(arg, obj))?;
    arr.try_readwrite().map_err(|e| borrow_error(arg, e).into())
}

/// Runs an out-of-place kernel `f(src, dst)` or an in-place one `g(batch)` with the GIL
/// released, for one element type.
fn run_typed<T: Element + Pixel>(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: Option<&Bound<'_, PyAny>>,
    out_of_place: impl FnOnce(&Source<'_, T>, &mut Dest<'_, T>) -> crate::Result<()> + Send,
    in_place: impl FnOnce(&mut Dest<'_, T>) -> crate::Result<()> + Send,
) -> PyResult<()> {
    match dst {
        Some(dst) => {
            let input = readonly::<T>(src, "batch")?;
            let mut output = readwrite::<T>(dst, "out")?;
            let source = source_of(&input)?;
            let prefer = source.image_order(Order::Planar).unwrap_or(Order::Planar);
            let mut dest = dest_of(&mut output, "out", prefer)?;
            detached(py, || out_of_place(&source, &mut dest))
        }
        None => {
            let mut batch = readwrite::<T>(src, "batch")?;
            let mut dest = dest_of(&mut batch, "batch", Order::Planar)?;
            detached(py, || in_place(&mut dest))
        }
    }
}

/// For kernels that only run out of place (Python never passes them `dst=None`).
fn no_in_place<T>(_: &mut Dest<'_, T>) -> crate::Result<()> {
    Err(Error::Internal(
        "this operation has no in-place form".into(),
    ))
}

/// Flips every image (or those `mask` selects) of `src` into `dst`, or in place when `dst`
/// is `None`.
#[pyfunction]
#[pyo3(signature = (src, dst, horizontal, mask=None))]
fn augment_flip(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: Option<&Bound<'_, PyAny>>,
    horizontal: bool,
    mask: Option<PyReadonlyArray1<'_, bool>>,
) -> PyResult<()> {
    let axis = if horizontal {
        flip::Axis::Horizontal
    } else {
        flip::Axis::Vertical
    };
    let mask: Option<Vec<bool>> = mask.map(|m| m.as_array().to_vec());
    let mask = mask.as_deref();
    match kind_of(src, "batch")? {
        Kind::U8 => run_typed::<u8>(
            py,
            src,
            dst,
            |s, d| flip::flip(s, d, axis, mask),
            |b| flip::flip_in_place(b, axis, mask),
        ),
        Kind::F32 => run_typed::<f32>(
            py,
            src,
            dst,
            |s, d| flip::flip(s, d, axis, mask),
            |b| flip::flip_in_place(b, axis, mask),
        ),
    }
}

/// Colour operations: `codes[i]` lists up to four op codes (0 brightness, 1 contrast,
/// 2 saturation, 3 hue; 255 ends the list) and `factors[i]` their factors, for one row for the
/// batch or one per image.
#[pyfunction]
fn augment_color(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: Option<&Bound<'_, PyAny>>,
    codes: PyReadonlyArray2<'_, u8>,
    factors: PyReadonlyArray2<'_, f64>,
) -> PyResult<()> {
    let (codes, factors) = (codes.as_array(), factors.as_array());
    if codes.shape() != factors.shape() {
        return Err(Error::Internal("codes and factors differ in shape".into()).into());
    }
    let mut plans = Vec::with_capacity(codes.nrows());
    for (row, frow) in codes.rows().into_iter().zip(factors.rows()) {
        let mut ops = Vec::with_capacity(4);
        for (code, f) in row.iter().zip(frow.iter()) {
            if *code == u8::MAX {
                break;
            }
            ops.push(ColorOp::from_code(*code, *f)?);
        }
        plans.push(ColorOps::new(&ops)?);
    }
    let plans = &plans;
    match kind_of(src, "batch")? {
        Kind::U8 => run_typed::<u8>(
            py,
            src,
            dst,
            |s, d| color::adjust(s, d, plans),
            |b| color::adjust_in_place(b, plans),
        ),
        Kind::F32 => run_typed::<f32>(
            py,
            src,
            dst,
            |s, d| color::adjust(s, d, plans),
            |b| color::adjust_in_place(b, plans),
        ),
    }
}

/// Resizes `src` to the size of `dst`.
#[pyfunction]
fn augment_resize(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    antialias: bool,
) -> PyResult<()> {
    match kind_of(src, "batch")? {
        Kind::U8 => run_typed::<u8>(
            py,
            src,
            Some(dst),
            |s, d| resize::resize(s, d, antialias),
            no_in_place,
        ),
        Kind::F32 => run_typed::<f32>(
            py,
            src,
            Some(dst),
            |s, d| resize::resize(s, d, antialias),
            no_in_place,
        ),
    }
}

/// Crops `boxes` (rows of top, left, height, width; one row for all images or one per image)
/// and resizes them to the size of `dst`.
#[pyfunction]
fn augment_resized_crop(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    boxes: PyReadonlyArray2<'_, i64>,
    antialias: bool,
) -> PyResult<()> {
    let view = boxes.as_array();
    if view.ncols() != 4 {
        return Err(Error::invalid(
            "boxes",
            format!("shape {:?}", view.shape()),
            "rows of (top, left, height, width)",
        )
        .into());
    }
    let mut list = Vec::with_capacity(view.nrows());
    for (i, row) in view.rows().into_iter().enumerate() {
        if row.iter().any(|v| *v < 0) {
            return Err(Error::invalid(
                "boxes",
                format!("{:?} for image {i}", row.to_vec()),
                "non-negative (top, left, height, width)",
            )
            .into());
        }
        list.push([
            row[0] as usize,
            row[1] as usize,
            row[2] as usize,
            row[3] as usize,
        ]);
    }
    let list = &list;
    match kind_of(src, "batch")? {
        Kind::U8 => run_typed::<u8>(
            py,
            src,
            Some(dst),
            |s, d| resize::resized_crop(s, d, list, antialias),
            no_in_place,
        ),
        Kind::F32 => run_typed::<f32>(
            py,
            src,
            Some(dst),
            |s, d| resize::resized_crop(s, d, list, antialias),
            no_in_place,
        ),
    }
}

/// Converts to float32 (`uint8` scaled to [0, 1]) and, when `mean` and `std` are given,
/// normalises per channel. `dst` is a float32 array; `None` normalises a float32 batch in place.
#[pyfunction]
#[pyo3(signature = (src, dst, mean=None, std=None))]
fn augment_normalize(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: Option<&Bound<'_, PyAny>>,
    mean: Option<Vec<f32>>,
    std: Option<Vec<f32>>,
) -> PyResult<()> {
    let stats = match (mean, std) {
        (Some(m), Some(s)) => Some((m, s)),
        (None, None) => None,
        _ => return Err(Error::invalid("std", "one of mean / std", "both or neither").into()),
    };
    let Some(dst) = dst else {
        let Some((m, s)) = stats else {
            return Ok(());
        };
        let mut batch = readwrite::<f32>(src, "batch")?;
        let mut dest = dest_of(&mut batch, "batch", Order::Planar)?;
        return detached(py, || normalize::normalize_in_place(&mut dest, &m, &s));
    };
    let mut output = readwrite::<f32>(dst, "out")?;
    macro_rules! go {
        ($t:ty) => {{
            let input = readonly::<$t>(src, "batch")?;
            let source = source_of(&input)?;
            let prefer = source.image_order(Order::Planar).unwrap_or(Order::Planar);
            let mut dest = dest_of(&mut output, "out", prefer)?;
            detached(py, || match &stats {
                Some((m, s)) => normalize::normalize(&source, &mut dest, m, s),
                None => normalize::to_float(&source, &mut dest),
            })
        }};
    }
    match kind_of(src, "batch")? {
        Kind::U8 => go!(u8),
        Kind::F32 => go!(f32),
    }
}

type Range = Option<(f64, f64)>;
/// Op codes and factors, each `(n, 4)`.
type Plans<'py> = (Bound<'py, PyArray2<u8>>, Bound<'py, PyArray2<f64>>);

/// Per-image `ColorJitter` plans: `(codes, factors)`, each `(n, 4)`, for `augment_color`.
#[pyfunction]
fn augment_sample_jitter<'py>(
    py: Python<'py>,
    seed: u64,
    stream: u32,
    call: u64,
    n: usize,
    ranges: (Range, Range, Range, Range),
) -> PyResult<Plans<'py>> {
    let ranges = JitterRanges {
        brightness: ranges.0,
        contrast: ranges.1,
        saturation: ranges.2,
        hue: ranges.3,
    };
    let draws = Draws::new(seed, stream, call);
    let plans = detached(py, || color::sample_jitter(&ranges, &draws, n))?;
    let mut codes = vec![u8::MAX; 4 * n];
    let mut factors = vec![f64::NAN; 4 * n];
    for (i, plan) in plans.iter().enumerate() {
        for (j, op) in plan.iter().enumerate() {
            let (code, f) = op.code();
            codes[4 * i + j] = code;
            factors[4 * i + j] = f;
        }
    }
    Ok((
        PyArray1::from_vec(py, codes).reshape([n, 4])?,
        PyArray1::from_vec(py, factors).reshape([n, 4])?,
    ))
}

/// `RandomResizedCrop` boxes for `n` images of `h x w`: an `(n, 4)` int64 array of
/// (top, left, height, width).
#[pyfunction]
fn augment_sample_boxes<'py>(
    py: Python<'py>,
    seed: u64,
    stream: u32,
    call: u64,
    n: usize,
    h: usize,
    w: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let draws = Draws::new(seed, stream, call);
    let boxes = detached(py, || crop::sample_boxes(&draws, n, h, w, scale, ratio))?;
    let flat: Vec<i64> = boxes.iter().flat_map(|b| b.map(|v| v as i64)).collect();
    PyArray1::from_vec(py, flat).reshape([n, 4])
}

/// Random flip decisions with probability `p` for `n` images.
#[pyfunction]
fn augment_flip_flags<'py>(
    py: Python<'py>,
    seed: u64,
    stream: u32,
    call: u64,
    n: usize,
    p: f64,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let draws = Draws::new(seed, stream, call);
    let flags = flip::flip_flags(&draws, n, p)?;
    Ok(PyArray1::from_vec(py, flags))
}

/// The number of threads augmentation uses.
#[pyfunction]
fn augment_num_threads() -> PyResult<usize> {
    Ok(pool::num_threads()?)
}

/// Sets the number of augmentation threads; `None` restores the default.
#[pyfunction]
#[pyo3(signature = (n=None))]
fn augment_set_num_threads(n: Option<usize>) -> PyResult<()> {
    Ok(pool::set_num_threads(n)?)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AUGMENT_THREADS_ENV", pool::ENV_VAR)?;
    m.add_function(wrap_pyfunction!(augment_flip, m)?)?;
    m.add_function(wrap_pyfunction!(augment_color, m)?)?;
    m.add_function(wrap_pyfunction!(augment_resize, m)?)?;
    m.add_function(wrap_pyfunction!(augment_resized_crop, m)?)?;
    m.add_function(wrap_pyfunction!(augment_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(augment_sample_jitter, m)?)?;
    m.add_function(wrap_pyfunction!(augment_sample_boxes, m)?)?;
    m.add_function(wrap_pyfunction!(augment_flip_flags, m)?)?;
    m.add_function(wrap_pyfunction!(augment_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(augment_set_num_threads, m)?)?;
    Ok(())
}
