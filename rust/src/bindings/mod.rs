//! The Python extension module `ferrotune._core`: every `#[pyclass]` and `#[pyfunction]`
//! lives in this tree, one file per area. The core above knows nothing of Python.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

mod augment;
mod cg;
mod errors;
mod folds;
mod grid;
mod search;
mod space;
mod store;
mod study;
mod trial;
mod trials;

pub(crate) use errors::IntoPyResult;

/// Runs `work` with the GIL released, turning a panic (a bug) into `InternalError` instead of
/// letting it cross into Python. Every long call in the bindings goes through here.
pub(crate) fn detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> crate::Result<T> + Send,
{
    let outcome = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    match outcome {
        Ok(result) => result.into_py_result(),
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(crate::Error::Internal(text)).into_py_result()
        }
    }
}

/// A copy of JSON-like data (dicts, lists and tuples, at any depth) sharing nothing that can be
/// changed in place: every dict and list is new, a tuple is new when it holds one, and other
/// objects (numbers, strings, anything else) are shared.
pub(crate) fn json_copy<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    if let Ok(d) = value.cast_exact::<PyDict>() {
        let copy = PyDict::new(py);
        for (k, v) in d.iter() {
            copy.set_item(k, json_copy(&v)?)?;
        }
        Ok(copy.into_any())
    } else if let Ok(items) = value.cast_exact::<PyList>() {
        let copied = items
            .iter()
            .map(|v| json_copy(&v))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, copied)?.into_any())
    } else if let Ok(items) = value.cast_exact::<PyTuple>() {
        if !holds_mutable(value)? {
            return Ok(value.clone());
        }
        let copied = items
            .iter()
            .map(|v| json_copy(&v))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyTuple::new(py, copied)?.into_any())
    } else {
        Ok(value.clone())
    }
}

/// Whether `value` is, or holds at any depth through tuples, a dict or a list: what
/// `json_copy` copies.
pub(crate) fn holds_mutable(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_exact_instance_of::<PyDict>() || value.is_exact_instance_of::<PyList>() {
        return Ok(true);
    }
    if let Ok(items) = value.cast_exact::<PyTuple>() {
        for item in items.iter() {
            if holds_mutable(&item)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A zero-filled `(rows, cols)` float64 array allocated by numpy, or an `InvalidArgument`
/// naming `arg` (which asked for `rows`) when numpy cannot allocate it: the numpy crate's
/// `PyArray2::zeros` panics on a failed allocation instead of returning the error.
pub(crate) fn zeros_2d<'py>(
    py: Python<'py>,
    rows: usize,
    cols: usize,
    arg: &str,
) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
    let made = py
        .import("numpy")
        .and_then(|np| np.getattr("zeros")?.call1(((rows, cols),)));
    match made {
        Ok(array) => Ok(array.cast_into::<numpy::PyArray2<f64>>()?),
        Err(e) => Err(crate::Error::invalid(
            arg,
            rows,
            format!("small enough for an array of {rows} x {cols} float64 values ({e})"),
        )
        .into()),
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("JOURNAL_FORMAT", crate::store::FORMAT)?;
    m.add("SOBOL_MAX_DIMS", crate::sobol::max_dims())?;
    space::register(m)?;
    grid::register(m)?;
    search::register(m)?;
    store::register(m)?;
    cg::register(m)?;
    folds::register(m)?;
    augment::register(m)?;
    trial::register(m)?;
    trials::register(m)?;
    study::register(m)?;
    Ok(())
}
