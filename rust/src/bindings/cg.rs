//! `_core.CgMinimizer` (behind `ferrotune.minimize`) and `_core.GradientSearcher` (behind
//! `ferrotune.GradientSearch`): both wrap the same multi-start conjugate-gradient machine.

use std::collections::HashMap;
use std::sync::Mutex;

use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};
use pyo3::PyTypeInfo;

use super::space::PySpace;
use super::{detached, IntoPyResult};
use crate::cg::{unit, Coord, DescentResult, Kind, MultiStart, Next, Options, Role, Step};
use crate::Error;

fn poisoned() -> PyErr {
    Error::Internal("gradient search lock poisoned".into()).into()
}

fn parse_options(json: &str) -> PyResult<Options> {
    serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("bad options: {e}")))
        .into_py_result()
}

fn descents<'py>(
    py: Python<'py>,
    finished: &[DescentResult],
    map: impl Fn(&[f64]) -> Vec<f64>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for r in finished {
        let d = PyDict::new(py);
        d.set_item("start", map(&r.start))?;
        d.set_item("x", r.x.as_ref().map(|x| map(x)))?;
        d.set_item("fun", r.f)?;
        d.set_item("grad", r.grad.clone())?;
        d.set_item("active", r.active.clone())?;
        d.set_item(
            "status",
            serde_json::to_value(r.stop)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
        )?;
        d.set_item("message", r.stop.message())?;
        d.set_item("success", r.stop.success())?;
        d.set_item("nit", r.counts.iterations)?;
        d.set_item("nfev", r.counts.values)?;
        d.set_item("njev", r.counts.gradients)?;
        d.set_item("ngrad_fd", r.counts.fd_gradients)?;
        out.append(d)?;
    }
    Ok(out)
}

// -- minimize ------------------------------------------------------------------------------

/// Minimisation of a function of a real vector. With bounds, a coordinate is searched as
/// z in [0, 1] with x = low + z (high - low); without, z = x.
#[pyclass(name = "CgMinimizer", module = "ferrotune._core", frozen)]
pub(crate) struct PyCgMinimizer {
    /// (low, width, high) per coordinate; width 0 for an unbounded one.
    scale: Vec<(f64, f64, f64)>,
    /// Some coordinate is bounded on both sides (z differs from x).
    scaled: bool,
    state: Mutex<MultiStart>,
}

/// An evaluation to tell: id, value and gradient (an array [`PyCgMinimizer::plain`] passed).
type Told<'a, 'py> = (u64, Option<f64>, Option<&'a Bound<'py, PyArray1<f64>>>);

impl PyCgMinimizer {
    fn to_x(&self, z: &[f64]) -> Vec<f64> {
        let mut x = z.to_vec();
        self.z_to_x(&mut x);
        x
    }

    /// z coordinates to x coordinates, in place.
    fn z_to_x(&self, v: &mut [f64]) {
        if self.scaled {
            for (v, &(lo, w, hi)) in v.iter_mut().zip(&self.scale) {
                if w > 0.0 {
                    *v = (lo + *v * w).min(hi);
                }
            }
        }
    }

    /// Tells `told`, if any, then asks for the next point, written straight into a new
    /// array in x coordinates: `(id, x, wants_gradient_only)`, or None when the search is
    /// over.
    fn step<'py>(
        &self,
        py: Python<'py>,
        told: Option<Told<'_, 'py>>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        // The array first: allocating may run Python code (a garbage collection), which
        // must not happen while the lock is held or a gradient slice is borrowed.
        let n = self.scale.len();
        // SAFETY: f64 needs no initialisation to be dropped, and every element is written
        // below before the array is handed to Python.
        let x = unsafe { PyArray1::<f64>::new(py, n, false) };
        let step = {
            // SAFETY: the array was created above and is not shared yet.
            let out = unsafe { x.as_slice_mut()? };
            let mut s = self.state.lock().map_err(|_| poisoned())?;
            if let Some((id, value, grad)) = told {
                match grad {
                    None => s.tell(id, value, None),
                    Some(arr) => {
                        // SAFETY: the GIL is held and the slice is copied by `tell` before
                        // any Python code runs, so nothing can write to the array meanwhile
                        // (this skips rust-numpy's borrow registry, a measurable cost in
                        // minimize's per-evaluation loop).
                        let g = unsafe { arr.as_slice()? };
                        if self.scaled {
                            let g = self.grad_to_z(g);
                            s.tell(id, value, Some(&g))
                        } else {
                            s.tell(id, value, Some(g))
                        }
                    }
                };
            }
            let step = s.ask_into(out);
            if let Step::Point(..) = step {
                self.z_to_x(out);
            }
            step
        };
        match step {
            Step::Point(id, kind) => Ok(Some((id, x, kind == Kind::Gradient).into_pyobject(py)?)),
            Step::Wait => Err(Error::Internal("minimize waits on nothing".into()).into()),
            Step::Done => Ok(None),
        }
    }

    /// A gradient in x coordinates carried to z coordinates (chain rule).
    fn grad_to_z(&self, g: &[f64]) -> Vec<f64> {
        g.iter()
            .zip(&self.scale)
            .map(|(&g, &(_, w, _))| if w > 0.0 { g * w } else { g })
            .collect()
    }

    /// `grad` as an array if it is a C-contiguous, aligned float64 ndarray (not a subclass)
    /// of shape (n,); None otherwise.
    fn plain<'a, 'py>(&self, grad: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyArray1<f64>>> {
        if !PyArray1::<f64>::is_exact_type_of(grad) {
            return None;
        }
        // SAFETY: checked just above.
        let arr = unsafe { grad.cast_unchecked::<PyArray1<f64>>() };
        (arr.is_c_contiguous() && arr.is_aligned() && arr.len() == self.scale.len()).then_some(arr)
    }
}

#[pymethods]
impl PyCgMinimizer {
    /// `lower`/`upper` use ±inf for no bound (per coordinate, both or neither).
    #[new]
    #[pyo3(signature = (x0, lower, upper, options, seed, restarts))]
    fn new(
        x0: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        options: &str,
        seed: u64,
        restarts: Option<u64>,
    ) -> PyResult<Self> {
        let opts = parse_options(options)?;
        let n = x0.len();
        if lower.len() != n || upper.len() != n {
            return Err(Error::Internal("bounds length".into()).into());
        }
        let mut scale = Vec::with_capacity(n);
        let mut coords = Vec::with_capacity(n);
        let mut z0 = Vec::with_capacity(n);
        for j in 0..n {
            let (lo, hi) = (lower[j], upper[j]);
            if lo.is_finite() && hi.is_finite() {
                scale.push((lo, hi - lo, hi));
                coords.push(Coord {
                    role: Role::Continuous {
                        lower: 0.0,
                        upper: 1.0,
                        min_step: 0.0,
                    },
                    parent: None,
                });
                z0.push((x0[j] - lo) / (hi - lo));
            } else {
                scale.push((0.0, 0.0, 0.0));
                let (l, u) = (
                    if lo.is_finite() { lo } else { -f64::MAX },
                    if hi.is_finite() { hi } else { f64::MAX },
                );
                coords.push(Coord {
                    role: Role::Continuous {
                        lower: l,
                        upper: u,
                        min_step: 0.0,
                    },
                    parent: None,
                });
                z0.push(x0[j]);
            }
        }
        let scaled = scale.iter().any(|&(_, w, _)| w > 0.0);
        let ms = MultiStart::new(coords, opts, seed, restarts, Some(z0)).into_py_result()?;
        Ok(PyCgMinimizer {
            scale,
            scaled,
            state: Mutex::new(ms),
        })
    }

    /// `(id, x, wants_gradient_only)` or None when the search is over.
    fn ask<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.step(py, None)
    }

    /// `tell` then `ask` in one call (one crossing per evaluation in `minimize`'s loop).
    /// Returns False, having told nothing, when `grad` is not a C-contiguous, aligned
    /// float64 ndarray of shape (n,): the caller converts it (or reports why it cannot)
    /// and calls again.
    #[pyo3(signature = (id, value, grad=None))]
    fn tell_ask<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        value: Option<f64>,
        grad: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let grad = match grad.map(|g| self.plain(g)) {
            Some(None) => return Ok(PyBool::new(py, false).to_owned().into_any()),
            g => g.flatten(),
        };
        Ok(self.step(py, Some((id, value, grad)))?.into_pyobject(py)?)
    }

    /// Tells evaluation `id`: a value (None when the gradient alone was asked for, or the
    /// evaluation failed) and the gradient in x coordinates, if known.
    #[pyo3(signature = (id, value, grad=None))]
    fn tell(
        &self,
        id: u64,
        value: Option<f64>,
        grad: Option<Bound<'_, PyArray1<f64>>>,
    ) -> PyResult<bool> {
        let g = match &grad {
            None => None,
            Some(arr) => {
                if !(arr.is_contiguous() && arr.is_aligned()) {
                    let e = "gradient array not contiguous and aligned";
                    return Err(Error::Internal(e.into()).into());
                }
                // SAFETY: the GIL is held and the slice is copied before any Python code
                // runs, so nothing can write to the array meanwhile.
                let a = unsafe { arr.as_slice()? };
                if a.len() != self.scale.len() {
                    return Err(Error::invalid(
                        "jac",
                        format!("an array of shape ({},)", a.len()),
                        format!("the gradient must have shape ({},)", self.scale.len()),
                    )
                    .into());
                }
                Some(self.grad_to_z(a))
            }
        };
        Ok(self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .tell(id, value, g.as_deref()))
    }

    /// The finished descents: start, x, fun, grad (in x coordinates), counts and status.
    fn descents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        let list = descents(py, &s.finished, |z| self.to_x(z))?;
        // Gradients back to x coordinates.
        for (item, r) in list.iter().zip(&s.finished) {
            let g: Vec<f64> = r
                .grad
                .iter()
                .zip(&self.scale)
                .map(|(&g, &(_, w, _))| if w > 0.0 { g / w } else { g })
                .collect();
            item.set_item("grad", g)?;
        }
        Ok(list)
    }

    /// `(iterations so far, current iterate x, its value)` of the running descent.
    fn progress<'py>(&self, py: Python<'py>) -> PyResult<(u64, Bound<'py, PyArray1<f64>>, f64)> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        let d = s.descent();
        let (z, f, _) = d.current();
        let full: Vec<f64> = {
            let mut x = vec![0.0; self.scale.len()];
            for (&j, &v) in s.active().iter().zip(z) {
                x[j] = v;
            }
            x
        };
        Ok((
            d.counts.iterations,
            PyArray1::from_vec(py, self.to_x(&full)),
            f,
        ))
    }

    /// Evaluations used so far.
    fn used(&self) -> PyResult<u64> {
        Ok(self.state.lock().map_err(|_| poisoned())?.used())
    }

    fn state(&self) -> PyResult<String> {
        self.state
            .lock()
            .map_err(|_| poisoned())?
            .to_json()
            .into_py_result()
    }
}

// -- the searcher --------------------------------------------------------------------------

/// The searcher's state: the machine, and the values of the parameter rows already told.
///
/// Rounding (`Int`, stepped `Float`) maps nearby search points to the same parameters; a
/// point whose parameters were already evaluated is answered from this memo, not asked again.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Memo {
    /// (row as bit patterns, value), in the order they were told.
    told: Vec<(Vec<u64>, f64)>,
    #[serde(skip)]
    index: HashMap<Vec<u64>, f64>,
}

impl Memo {
    fn key(row: &[f64]) -> Vec<u64> {
        // One NaN pattern for inactive parameters; -0.0 and 0.0 are one value.
        row.iter()
            .map(|v| {
                if v.is_nan() {
                    u64::MAX
                } else {
                    (v + 0.0).to_bits()
                }
            })
            .collect()
    }

    fn get(&self, row: &[f64]) -> Option<f64> {
        self.index.get(&Self::key(row)).copied()
    }

    fn insert(&mut self, row: &[f64], value: f64) {
        let key = Self::key(row);
        if self.index.insert(key.clone(), value).is_none() {
            self.told.push((key, value));
        }
    }

    fn rebuild(&mut self) {
        self.index = self.told.iter().cloned().collect();
    }
}

/// Points answered from the memo in a row, within one `ask`, after which the searcher
/// concludes that it has no new point to propose (each answer costs microseconds).
const MEMO_ANSWERS_BEFORE_DONE: u32 = 20_000;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct SearcherState {
    search: MultiStart,
    memo: Memo,
}

/// Gradient search over a space, in its normalised coordinates.
#[pyclass(name = "GradientSearcher", module = "ferrotune._core", frozen)]
pub(crate) struct PyGradientSearcher {
    space: Py<PySpace>,
    state: Mutex<SearcherState>,
}

#[pymethods]
impl PyGradientSearcher {
    /// `x0`: a natural row (as `Space.encode` gives), or None to start at a Sobol point.
    #[new]
    #[pyo3(signature = (space, options, seed, restarts, x0=None))]
    fn new(
        py: Python<'_>,
        space: Py<PySpace>,
        options: &str,
        seed: u64,
        restarts: Option<u64>,
        x0: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        let opts = parse_options(options)?;
        let ms = {
            let s = &space.bind(py).get().space;
            let z0 = x0.map(|row| unit::from_row(s, &row));
            MultiStart::new(unit::coords(s), opts, seed, restarts, z0).into_py_result()?
        };
        Ok(PyGradientSearcher {
            space,
            state: Mutex::new(SearcherState {
                search: ms,
                memo: Memo::default(),
            }),
        })
    }

    /// `(id, params)`, or None while waiting on pending points or when done.
    fn ask<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let space = self.space.get();
        let (id, row) = {
            let mut st = self.state.lock().map_err(|_| poisoned())?;
            let SearcherState { search, memo } = &mut *st;
            let mut answered = 0;
            loop {
                let Next::Point(id, z, _) = search.ask() else {
                    return Ok(None);
                };
                let row = unit::to_row(&space.space, &z);
                match memo.get(&row) {
                    Some(v) => {
                        search.tell(id, Some(v), None);
                        // A small discrete space can be used up: then every restart only
                        // meets rows already told, and without this the loop never ends.
                        answered += 1;
                        if answered >= MEMO_ANSWERS_BEFORE_DONE {
                            search.finish();
                            return Ok(None);
                        }
                    }
                    None => break (id, row),
                }
            }
        };
        let params = space.decode_row(py, &row)?;
        Ok(Some(PyTuple::new(
            py,
            [id.into_pyobject(py)?.into_any(), params],
        )?))
    }

    /// True once every descent has ended and been told.
    #[getter]
    fn exhausted(&self) -> PyResult<bool> {
        Ok(self.state.lock().map_err(|_| poisoned())?.search.is_done())
    }

    /// Tells point `id`: value None for a failed or pruned trial; `grad` over the natural
    /// parameters in `space.names` order (entries of choices and inactive parameters are
    /// ignored). False if `id` was not pending.
    #[pyo3(signature = (id, value, grad=None))]
    fn tell(
        &self,
        py: Python<'_>,
        id: u64,
        value: Option<f64>,
        grad: Option<Vec<f64>>,
    ) -> PyResult<bool> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        let SearcherState { search: s, memo } = &mut *st;
        let space = &self.space.bind(py).get().space;
        let value = value.filter(|v| v.is_finite());
        if let (Some(v), Some((z, _))) = (value, s.point(id)) {
            memo.insert(&unit::to_row(space, &z), v);
        }
        let g = match grad {
            None => None,
            Some(g) => {
                if g.len() != space.len() {
                    return Err(Error::invalid(
                        "gradient",
                        format!("{} values", g.len()),
                        format!(
                            "one derivative per parameter in space.names ({})",
                            space.len()
                        ),
                    )
                    .into());
                }
                let Some((z, _)) = s.point(id) else {
                    return Ok(false);
                };
                for &j in s.active() {
                    if !g[j].is_finite() {
                        return Err(Error::invalid(
                            "gradient",
                            format!("{} for {:?}", g[j], space.dims()[j].name),
                            "finite derivatives for every active parameter",
                        )
                        .into());
                    }
                }
                // Chain rule: d f / d u = d f / d x * d x / d u.
                let jac = unit::jacobian(space, &z);
                Some(g.iter().zip(&jac).map(|(a, b)| a * b).collect::<Vec<f64>>())
            }
        };
        Ok(s.tell(id, value, g.as_deref()))
    }

    /// Hands `id` out again at the next ask.
    fn requeue(&self, id: u64) -> PyResult<bool> {
        Ok(self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .search
            .requeue(id))
    }

    /// The finished descents (points as natural rows).
    fn descents<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        let space = &self.space.bind(py).get().space;
        descents(py, &s.search.finished, |z| unit::to_row(space, z))
    }

    /// Names of the parameters the current descent varies.
    fn active_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        let space = &self.space.bind(py).get().space;
        Ok(s.search
            .active()
            .iter()
            .map(|&j| space.dims()[j].name.clone())
            .collect())
    }

    fn state(&self, py: Python<'_>) -> PyResult<String> {
        let s = self.state.lock().map_err(|_| poisoned())?.clone();
        detached(py, move || {
            serde_json::to_string(&s).map_err(|e| Error::Internal(e.to_string()))
        })
    }

    fn restore(&self, py: Python<'_>, text: &str) -> PyResult<()> {
        let text = text.to_owned();
        let mut restored: SearcherState = detached(py, move || Ok(serde_json::from_str(&text)?))?;
        restored.memo.rebuild();
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        if restored.search.coords != s.search.coords {
            return Err(Error::State(
                "the saved gradient search ran over a different space".into(),
            )
            .into());
        }
        *s = restored;
        Ok(())
    }
}

/// The noise level of equally spaced values along a line, or None if none is detected.
#[pyfunction]
fn estimate_noise(values: Vec<f64>) -> Option<f64> {
    crate::cg::noise::estimate_noise(&values)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(estimate_noise, m)?)?;
    m.add_class::<PyCgMinimizer>()?;
    m.add_class::<PyGradientSearcher>()
}
