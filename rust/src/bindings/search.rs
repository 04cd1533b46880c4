//! `_core.RandomSearcher` and `_core.GridSearcher`: the state machines, with the space or grid
//! they draw from, so that `ask` returns a ready parameter dict in one call.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::grid::PyGrid;
use super::space::PySpace;
use super::trial::DrawnFrom;
use super::IntoPyResult;
use crate::search::{Ask, GridSearcher, IdWalker, RandomSearcher};
use crate::space::{RowSampler, Sequence};
use crate::Error;

/// `ask()`'s answer: `(id, params)`, or None.
fn pair<'py>(
    py: Python<'py>,
    point: Option<(u64, Bound<'py, PyAny>)>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let Some((id, params)) = point else {
        return Ok(None);
    };
    Ok(Some(PyTuple::new(
        py,
        [id.into_pyobject(py)?.into_any(), params],
    )?))
}

fn poisoned() -> PyErr {
    Error::Internal("searcher lock poisoned".into()).into()
}

/// The state machine behind a searcher binding, locked.
fn locked<T>(state: &Mutex<T>) -> PyResult<std::sync::MutexGuard<'_, T>> {
    state.lock().map_err(|_| poisoned())
}

/// `state()` of an id-walking searcher binding: its JSON text.
fn state_json<T: IdWalker>(state: &Mutex<T>) -> PyResult<String> {
    locked(state)?.to_json().into_py_result()
}

/// `(id, params)`, or None while waiting; `exhausted` tells the two "no point" cases apart.
#[pyclass(name = "RandomSearcher", module = "ferrotune._core", frozen)]
pub(crate) struct PyRandomSearcher {
    space: Py<PySpace>,
    state: Mutex<RandomSearcher>,
    /// Remade when a restored state draws under another seed or sequence.
    sampler: Mutex<RowSampler>,
}

impl PyRandomSearcher {
    /// `ask()` without the tuple: the point's id and its parameter dict.
    pub(crate) fn next_point<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(u64, Bound<'py, PyAny>)>> {
        Ok(self.next_drawn(py)?.map(|(id, params, _)| (id, params)))
    }

    /// `next_point`, and where the point was drawn from.
    pub(crate) fn next_drawn<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(u64, Bound<'py, PyAny>, DrawnFrom)>> {
        let (ask, seed, seq) = {
            let mut s = locked(&self.state)?;
            (s.ask(), s.seed, s.sequence)
        };
        let Ask::Point(id) = ask else { return Ok(None) };
        let space = self.space.get();
        let d = space.space.len();
        // Most spaces are small: their row lives on the stack (no allocation per trial).
        let mut small = [0.0; 16];
        let mut large = Vec::new();
        let row = if d <= small.len() {
            &mut small[..d]
        } else {
            large.resize(d, 0.0);
            &mut large[..]
        };
        {
            let mut sampler = locked(&self.sampler)?;
            if !sampler.draws(seed, seq) {
                *sampler = RowSampler::new(&space.space, seed, seq);
            }
            sampler.sample(&space.space, id, row);
        }
        let from = DrawnFrom {
            space: self.space.clone_ref(py),
            seed,
            sequence: seq,
        };
        Ok(Some((id, space.decode_row(py, row)?, from)))
    }

    /// `tell(id)`: marks `id` finished; false if it was not pending.
    pub(crate) fn finish(&self, id: u64) -> PyResult<bool> {
        Ok(locked(&self.state)?.tell(id))
    }
}

#[pymethods]
impl PyRandomSearcher {
    #[new]
    fn new(space: Py<PySpace>, seed: u64, sequence: &str) -> PyResult<Self> {
        let seq = Sequence::parse(sequence).into_py_result()?;
        let sampler = RowSampler::new(&space.get().space, seed, seq);
        Ok(PyRandomSearcher {
            space,
            state: Mutex::new(RandomSearcher::new(seed, seq)),
            sampler: Mutex::new(sampler),
        })
    }

    /// The next `(id, params)`.
    fn ask<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        pair(py, self.next_point(py)?)
    }

    /// Random search never runs out.
    #[getter]
    fn exhausted(&self) -> bool {
        false
    }

    /// Marks `id` finished; False if it was not pending. `value` and `gradient` are accepted
    /// (the `Searcher` interface passes them) and ignored: they do not steer random search.
    #[pyo3(signature = (id, value=None, gradient=None))]
    fn tell(
        &self,
        id: u64,
        value: Option<&Bound<'_, PyAny>>,
        gradient: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (value, gradient);
        self.finish(id)
    }

    /// Hands `id` out again at the next ask.
    fn requeue(&self, id: u64) -> PyResult<()> {
        locked(&self.state)?.requeue(id);
        Ok(())
    }

    /// The state as JSON text.
    fn state(&self) -> PyResult<String> {
        state_json(&self.state)
    }

    /// Restores a state from `state()`.
    fn restore(&self, text: &str) -> PyResult<()> {
        *locked(&self.state)? = RandomSearcher::from_json(text).into_py_result()?;
        Ok(())
    }
}

/// Every grid point once; `(id, params)` where params is grid point `perm(id)`.
#[pyclass(name = "GridSearcher", module = "ferrotune._core", frozen)]
pub(crate) struct PyGridSearcher {
    grid: Py<PyGrid>,
    state: Mutex<GridSearcher>,
}

impl PyGridSearcher {
    /// `ask()` without the tuple: the point's id and its parameter dict.
    pub(crate) fn next_point<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(u64, Bound<'py, PyAny>)>> {
        let (ask, index) = {
            let mut s = locked(&self.state)?;
            let ask = s.ask();
            let index = match ask {
                Ask::Point(id) => s.point_index(id),
                _ => 0,
            };
            (ask, index)
        };
        let Ask::Point(id) = ask else { return Ok(None) };
        Ok(Some((
            id,
            self.grid.get().point(py, index, true)?.into_any(),
        )))
    }

    /// `tell(id)`: marks `id` finished; false if it was not pending.
    pub(crate) fn finish(&self, id: u64) -> PyResult<bool> {
        Ok(locked(&self.state)?.tell(id))
    }
}

#[pymethods]
impl PyGridSearcher {
    #[new]
    #[pyo3(signature = (grid, shuffle_seed=None))]
    fn new(grid: Py<PyGrid>, shuffle_seed: Option<u64>) -> Self {
        let n = grid.get().len();
        PyGridSearcher {
            grid,
            state: Mutex::new(GridSearcher::new(n, shuffle_seed)),
        }
    }

    /// The next `(id, params)`, or None when none is left to hand out now.
    fn ask<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        pair(py, self.next_point(py)?)
    }

    /// True once every point has been handed out and told.
    #[getter]
    fn exhausted(&self) -> PyResult<bool> {
        let mut s = locked(&self.state)?.clone();
        Ok(s.ask() == Ask::Done)
    }

    /// Marks `id` finished; False if it was not pending (`value`, `gradient` are ignored).
    #[pyo3(signature = (id, value=None, gradient=None))]
    fn tell(
        &self,
        id: u64,
        value: Option<&Bound<'_, PyAny>>,
        gradient: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (value, gradient);
        self.finish(id)
    }

    /// Hands `id` out again at the next ask.
    fn requeue(&self, id: u64) -> PyResult<()> {
        locked(&self.state)?.requeue(id);
        Ok(())
    }

    /// The state as JSON text.
    fn state(&self) -> PyResult<String> {
        state_json(&self.state)
    }

    /// Restores a state from `state()`, refusing one saved for a grid of another size.
    fn restore(&self, text: &str) -> PyResult<()> {
        let restored = GridSearcher::from_json(text).into_py_result()?;
        let mut s = locked(&self.state)?;
        if restored.n != s.n {
            return Err(Error::State(format!(
                "the saved grid search had {} points, this grid has {}",
                restored.n, s.n
            ))
            .into());
        }
        *s = restored;
        Ok(())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRandomSearcher>()?;
    m.add_class::<PyGridSearcher>()
}
