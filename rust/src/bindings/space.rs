//! `_core.Space`: sampling a validated space, and turning rows of numbers into the user's
//! (possibly nested) parameter dictionaries.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::{detached, zeros_2d, IntoPyResult};
use crate::space::{Dim, Sequence, Space};
use crate::Error;

/// How a row of numbers becomes the user's value: the tree mirrors the user's space.
pub(crate) enum Node {
    /// A fixed value (a `Choice` option); `true` when it holds a list or dict, which each
    /// trial gets its own copy of, so that changing it cannot change the space.
    Const(Py<PyAny>, bool),
    Float(usize),
    Int(usize),
    Choice(usize, Vec<Node>),
    Dict(Vec<(Py<PyString>, Node)>),
}

impl Node {
    /// Reads a node from the nested tuples built by `ferrotune/space.py`.
    fn parse(obj: &Bound<'_, PyAny>, n_dims: usize) -> PyResult<Node> {
        let t = obj.cast::<PyTuple>()?;
        let tag: String = t.get_item(0)?.extract()?;
        let dim = |t: &Bound<'_, PyTuple>| -> PyResult<usize> {
            let j: usize = t.get_item(1)?.extract()?;
            if j >= n_dims {
                return Err(Error::Internal(format!("decoder refers to dim {j}")).into());
            }
            Ok(j)
        };
        Ok(match tag.as_str() {
            "const" => {
                let value = t.get_item(1)?;
                Node::Const(value.clone().unbind(), super::holds_mutable(&value)?)
            }
            "float" => Node::Float(dim(t)?),
            "int" => Node::Int(dim(t)?),
            "choice" => {
                let options = t.get_item(2)?;
                let options = options.cast::<PyList>()?;
                let nodes = options
                    .iter()
                    .map(|o| Node::parse(&o, n_dims))
                    .collect::<PyResult<_>>()?;
                Node::Choice(dim(t)?, nodes)
            }
            "dict" => {
                let items = t.get_item(1)?;
                let mut out = Vec::new();
                for item in items.cast::<PyList>()?.iter() {
                    let pair = item.cast::<PyTuple>()?;
                    let key = pair.get_item(0)?.cast::<PyString>()?.clone().unbind();
                    out.push((key, Node::parse(&pair.get_item(1)?, n_dims)?));
                }
                Node::Dict(out)
            }
            other => return Err(Error::Internal(format!("unknown decoder node {other}")).into()),
        })
    }

    fn build<'py>(&self, py: Python<'py>, row: &[f64]) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Node::Const(v, false) => v.bind(py).clone(),
            Node::Const(v, true) => super::json_copy(v.bind(py))?,
            Node::Float(j) => row[*j].into_pyobject(py)?.into_any(),
            Node::Int(j) => (row[*j] as i64).into_pyobject(py)?.into_any(),
            Node::Choice(j, options) => {
                let k = row[*j];
                let option = options
                    .get(k as usize)
                    .filter(|_| k >= 0.0)
                    .ok_or_else(|| {
                        Error::invalid("row", k, format!("option index out of range for {}", j))
                    })?;
                option.build(py, row)?
            }
            Node::Dict(items) => {
                let d = PyDict::new(py);
                for (key, node) in items {
                    d.set_item(key.bind(py), node.build(py, row)?)?;
                }
                d.into_any()
            }
        })
    }
}

/// A validated space with its decoder.
#[pyclass(name = "Space", module = "ferrotune._core", frozen)]
pub(crate) struct PySpace {
    pub(crate) space: Space,
    pub(crate) decoder: Node,
}

impl PySpace {
    /// The parameter dictionary for one row.
    pub(crate) fn decode_row<'py>(
        &self,
        py: Python<'py>,
        row: &[f64],
    ) -> PyResult<Bound<'py, PyAny>> {
        self.decoder.build(py, row)
    }
}

fn parse_seq(sequence: &str) -> PyResult<Sequence> {
    Sequence::parse(sequence).into_py_result()
}

#[pymethods]
impl PySpace {
    /// `dims_json`: the flat dimensions; `decoder`: the tree that rebuilds parameter dicts.
    #[new]
    fn new(dims_json: &str, decoder: &Bound<'_, PyAny>) -> PyResult<Self> {
        let dims: Vec<Dim> = serde_json::from_str(dims_json)
            .map_err(|e| Error::Internal(format!("bad space description: {e}")))?;
        let space = Space::new(dims).into_py_result()?;
        let decoder = Node::parse(decoder, space.len())?;
        Ok(PySpace { space, decoder })
    }

    /// Number of dimensions.
    fn __len__(&self) -> usize {
        self.space.len()
    }

    /// Column names, in order.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.space.dims().iter().map(|d| d.name.clone()).collect()
    }

    /// Samples `start .. start + n` as an `(n, d)` float64 array, with the GIL released.
    /// The array is allocated by numpy (whose allocator uses huge pages) and filled in place.
    #[pyo3(signature = (n, seed, sequence="random", start=0))]
    fn sample_array<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        sequence: &str,
        start: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let seq = parse_seq(sequence)?;
        self.check_sobol(seq)?;
        let out = zeros_2d(py, n, self.space.len(), "n")?;
        {
            let mut view = out.try_readwrite()?;
            let slice = view
                .as_slice_mut()
                .map_err(|e| Error::Internal(e.to_string()))?;
            detached(py, || {
                self.space.sample_into(slice, seed, seq, start);
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Samples `start .. start + n` as a list of parameter dicts.
    #[pyo3(signature = (n, seed, sequence="random", start=0))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        sequence: &str,
        start: u64,
    ) -> PyResult<Bound<'py, PyList>> {
        let seq = parse_seq(sequence)?;
        self.check_sobol(seq)?;
        let d = self.space.len();
        let data = detached(py, || Ok(self.space.sample_array(n, seed, seq, start)))?;
        let out = PyList::empty(py);
        if d == 0 {
            for _ in 0..n {
                out.append(self.decode_row(py, &[])?)?;
            }
            return Ok(out);
        }
        for row in data.chunks(d) {
            out.append(self.decode_row(py, row)?)?;
        }
        Ok(out)
    }

    /// The parameter dicts for the rows of an `(n, d)` array.
    fn decode_array<'py>(
        &self,
        py: Python<'py>,
        rows: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let view = rows.as_array();
        let shape = view.shape().to_vec();
        if shape[1] != self.space.len() {
            return Err(Error::invalid(
                "rows",
                format!("shape {shape:?}"),
                format!("expected {} columns", self.space.len()),
            )
            .into());
        }
        let out = PyList::empty(py);
        for (r, row) in view.rows().into_iter().enumerate() {
            let row: Vec<f64> = row.iter().copied().collect();
            if let Err((j, reason)) = self.space.check_row(&row) {
                let name = self.space.name(j);
                return Err(Error::invalid(
                    format!("rows[{r}, {j}] ({name})"),
                    format!("{:?}", row[j]),
                    reason,
                )
                .into());
            }
            out.append(self.decode_row(py, &row)?)?;
        }
        Ok(out)
    }

    /// Maps uniforms in (0, 1), shaped `(n, d)`, through each dimension's distribution.
    fn transform<'py>(
        &self,
        py: Python<'py>,
        u: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let view = u.as_array();
        let (n, d) = (view.nrows(), view.ncols());
        if d != self.space.len() {
            return Err(Error::invalid(
                "u",
                format!("shape ({n}, {d})"),
                format!("expected {} columns", self.space.len()),
            )
            .into());
        }
        if view.iter().any(|x| !(*x > 0.0 && *x < 1.0)) {
            return Err(
                Error::invalid("u", "an array", "values must lie strictly in (0, 1)").into(),
            );
        }
        let flat: Vec<f64> = view.iter().copied().collect();
        let mut out = vec![0.0; n * d];
        if d > 0 {
            for (urow, orow) in flat.chunks(d).zip(out.chunks_mut(d)) {
                self.space.transform(urow, orow);
            }
        }
        PyArray1::from_vec(py, out).reshape([n, d])
    }

    /// The space's dimensions as JSON (the format `__new__` takes).
    fn dims_json(&self) -> PyResult<String> {
        serde_json::to_string(self.space.dims()).map_err(|e| Error::Internal(e.to_string()).into())
    }
}

impl PySpace {
    fn check_sobol(&self, seq: Sequence) -> PyResult<()> {
        if seq == Sequence::Sobol && self.space.len() > crate::sobol::max_dims() {
            return Err(Error::invalid(
                "sequence",
                "\"sobol\"",
                format!(
                    "Sobol points are available for up to {} dimensions, this space has {}",
                    crate::sobol::max_dims(),
                    self.space.len()
                ),
            )
            .into());
        }
        Ok(())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySpace>()
}
