//! `_core.Grid`: a lazy scikit-learn-ordered grid holding the user's value objects.

use numpy::{PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySlice, PyString};

use super::{detached, zeros_2d, IntoPyResult};
use crate::grid::GridShape;
use crate::Error;

struct SubGrid {
    keys: Vec<Py<PyString>>,
    values: Vec<Vec<Py<PyAny>>>,
    /// Output column of each key in `to_array`.
    columns: Vec<usize>,
    /// Each value as a number: itself when it converts to float, else its index.
    numeric: Vec<Vec<f64>>,
}

/// A grid of parameter dicts, indexable without materialising it.
#[pyclass(name = "Grid", module = "ferrotune._core", frozen, subclass)]
pub(crate) struct PyGrid {
    shape: GridShape,
    subs: Vec<SubGrid>,
    column_names: Vec<String>,
}

impl PyGrid {
    pub(crate) fn len(&self) -> u64 {
        self.shape.len()
    }

    /// Point `index` as a dict, keys in sorted order. Its values are the grid's own objects (as scikit-learn's
    /// `ParameterGrid` gives them), or with `own`, copies of those that are lists or dicts.
    pub(crate) fn point<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        own: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut digits = Vec::new();
        let s = self.shape.locate(index, &mut digits).into_py_result()?;
        let sub = &self.subs[s];
        let d = PyDict::new(py);
        for ((key, values), &k) in sub.keys.iter().zip(&sub.values).zip(&digits) {
            let value = values[k].bind(py);
            if own {
                d.set_item(key.bind(py), super::json_copy(value)?)?;
            } else {
                d.set_item(key.bind(py), value)?;
            }
        }
        Ok(d)
    }
}

#[pymethods]
impl PyGrid {
    /// `subgrids`: a list of `(sorted keys, value lists)` pairs, validated by the caller.
    #[new]
    fn new(subgrids: &Bound<'_, PyList>) -> PyResult<Self> {
        let mut subs = Vec::new();
        let mut column_names: Vec<String> = Vec::new();
        for item in subgrids.iter() {
            let (keys, values): (Vec<Bound<'_, PyString>>, Vec<Vec<Bound<'_, PyAny>>>) =
                item.extract()?;
            if keys.len() != values.len() {
                return Err(Error::Internal("grid keys and values differ in length".into()).into());
            }
            let mut columns = Vec::new();
            for key in &keys {
                let name: String = key.extract()?;
                let col = match column_names.iter().position(|c| *c == name) {
                    Some(c) => c,
                    None => {
                        column_names.push(name);
                        column_names.len() - 1
                    }
                };
                columns.push(col);
            }
            let numeric = values
                .iter()
                .map(|vs| {
                    vs.iter()
                        .enumerate()
                        .map(|(i, v)| match v.extract::<f64>() {
                            Ok(x) if !v.is_instance_of::<PyString>() => x,
                            _ => i as f64,
                        })
                        .collect()
                })
                .collect();
            subs.push(SubGrid {
                keys: keys.into_iter().map(Bound::unbind).collect(),
                values: values
                    .into_iter()
                    .map(|vs| vs.into_iter().map(Bound::unbind).collect())
                    .collect(),
                columns,
                numeric,
            });
        }
        let shape = GridShape::new(
            subs.iter()
                .map(|s| s.values.iter().map(|v| v.len() as u64).collect())
                .collect(),
        )
        .into_py_result()?;
        // Columns in sorted order, as the dict keys are.
        let mut order: Vec<usize> = (0..column_names.len()).collect();
        order.sort_by(|&a, &b| column_names[a].cmp(&column_names[b]));
        let mut rank = vec![0; order.len()];
        for (r, &c) in order.iter().enumerate() {
            rank[c] = r;
        }
        for sub in &mut subs {
            for c in &mut sub.columns {
                *c = rank[*c];
            }
        }
        column_names.sort();
        Ok(PyGrid {
            shape,
            subs,
            column_names,
        })
    }

    fn __len__(&self) -> PyResult<usize> {
        usize::try_from(self.shape.len())
            .map_err(|_| Error::Internal("grid length exceeds the platform's size".into()).into())
    }

    /// Point `index` (non-negative, already range-checked by the caller) as a dict.
    fn get<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyDict>> {
        self.point(py, index, false)
    }

    /// `grid[i]` (negative counts from the end) as a dict, or `grid[a:b:c]` as a list.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let len = self.shape.len() as i128;
        if let Ok(slice) = index.cast::<PySlice>() {
            let ind = slice.indices(isize::try_from(len).unwrap_or(isize::MAX))?;
            let out = PyList::empty(py);
            let mut i = ind.start;
            for _ in 0..ind.slicelength {
                out.append(self.point(py, i as u64, false)?)?;
                i += ind.step;
            }
            return Ok(out.into_any());
        }
        let Ok(i) = index.extract::<i128>() else {
            let kind = index.get_type().name()?;
            return Err(PyErr::from(Error::InvalidType {
                arg: "index".into(),
                value: format!("{} ({kind})", index.repr()?),
                expected: "an integer or a slice".into(),
            }));
        };
        let j = if i < 0 { i + len } else { i };
        if !(0..len).contains(&j) {
            return Err(Error::IndexOutOfRange {
                what: "grid".into(),
                index: i,
                len: len as u128,
            }
            .into());
        }
        Ok(self.point(py, j as u64, false)?.into_any())
    }

    /// Column names of `to_array`: every key of every sub-grid, sorted.
    #[getter]
    fn _columns(&self) -> Vec<String> {
        self.column_names.clone()
    }

    /// Points `start .. stop` as a float64 array: numbers as themselves, other values as their
    /// index in their list, keys a sub-grid lacks as NaN.
    fn _to_array<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        stop: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let n = usize::try_from(stop.saturating_sub(start))
            .map_err(|_| Error::invalid("stop", stop, "too many points for one array"))?;
        let n_cols = self.column_names.len();
        let columns: Vec<Vec<usize>> = self.subs.iter().map(|s| s.columns.clone()).collect();
        let values: Vec<Vec<Vec<f64>>> = self.subs.iter().map(|s| s.numeric.clone()).collect();
        let ragged = self.subs.iter().any(|s| s.columns.len() < n_cols);
        let out = zeros_2d(py, n, n_cols, "stop - start")?;
        {
            let mut view = out.try_readwrite()?;
            let slice = view
                .as_slice_mut()
                .map_err(|e| Error::Internal(e.to_string()))?;
            detached(py, || {
                if ragged {
                    slice.fill(f64::NAN);
                }
                self.shape
                    .fill_into(slice, start, n_cols, &columns, &values)
            })?;
        }
        Ok(out)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGrid>()
}
