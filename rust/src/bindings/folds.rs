//! `_core.kfold`, `_core.stratified_kfold`, `_core.three_way_split`: fold assignments as numpy
//! arrays. Python encodes the labels and takes the index arrays; the assignment runs here with
//! the GIL released.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::detached;
use crate::{folds, Error};

/// Class codes as `u32`, checked to lie in `0..n_classes`.
fn codes(labels: &PyReadonlyArray1<'_, i64>, n_classes: usize) -> PyResult<Vec<u32>> {
    let view = labels.as_array();
    let mut out = Vec::with_capacity(view.len());
    for &c in view.iter() {
        if c < 0 || c as u64 >= n_classes as u64 {
            return Err(Error::invalid(
                "labels",
                c,
                format!("class codes must lie in 0..{n_classes}"),
            )
            .into());
        }
        out.push(c as u32);
    }
    Ok(out)
}

/// The test fold of each of `n_samples` samples under K-fold (shuffled when `seed` is given).
#[pyfunction]
#[pyo3(signature = (n_samples, n_splits, seed=None))]
fn kfold<'py>(
    py: Python<'py>,
    n_samples: usize,
    n_splits: usize,
    seed: Option<u64>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let assign = detached(py, || folds::kfold(n_samples, n_splits, seed))?;
    Ok(PyArray1::from_vec(py, assign))
}

/// The test fold of each sample under stratified K-fold; `labels` are class codes by order of
/// first appearance.
#[pyfunction]
#[pyo3(signature = (labels, n_classes, n_splits, seed=None))]
fn stratified_kfold<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
    n_classes: usize,
    n_splits: usize,
    seed: Option<u64>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let labels = codes(&labels, n_classes)?;
    let assign = detached(py, || {
        folds::stratified_kfold(&labels, n_classes, n_splits, seed)
    })?;
    Ok(PyArray1::from_vec(py, assign))
}

/// 0 (train), 1 (validation) or 2 (test) for each sample of a shuffled three-way split,
/// stratified when `labels` (class codes) are given.
#[pyfunction]
#[pyo3(signature = (n_samples, n_val, n_test, seed, labels=None, n_classes=0))]
fn three_way_split<'py>(
    py: Python<'py>,
    n_samples: usize,
    n_val: usize,
    n_test: usize,
    seed: u64,
    labels: Option<PyReadonlyArray1<'py, i64>>,
    n_classes: usize,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let labels = match &labels {
        Some(l) => Some(codes(l, n_classes)?),
        None => None,
    };
    let assign = detached(py, || {
        let strata = labels.as_deref().map(|l| (l, n_classes));
        folds::three_way_split(n_samples, n_val, n_test, strata, seed)
    })?;
    Ok(PyArray1::from_vec(py, assign))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kfold, m)?)?;
    m.add_function(wrap_pyfunction!(stratified_kfold, m)?)?;
    m.add_function(wrap_pyfunction!(three_way_split, m)?)?;
    Ok(())
}
