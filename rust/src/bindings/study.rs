//! `_core.StudyCore`: the base class of `ferrotune.Study`, holding what every ask and tell
//! touches (the searcher's two methods, the trial list, the best trial) so that the common
//! case, a trial asked for and told a finite float, runs without Python bytecode. Everything
//! else (failures, pruning, gradients, storage, the exhausted-searcher message) is the Python
//! subclass's, through `_tell`, `_write` and `_no_proposal`.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PySequence, PyString, PyTuple};
use pyo3::{intern, PyTraverseError};

use super::search::{PyGridSearcher, PyRandomSearcher};
use super::trial::{running, DrawnFrom, Proposed, PyTrial};
use super::trials::{Filing, PyTrialList};

/// A searcher of the Rust core, called directly rather than through its Python methods.
enum CoreSearcher {
    Random(Py<PyRandomSearcher>),
    Grid(Py<PyGridSearcher>),
}

impl CoreSearcher {
    /// The core searcher that `method` (a bound method such as `searcher.ask`) is `name` of.
    fn behind(method: &Bound<'_, PyAny>, name: &str) -> Option<Self> {
        let py = method.py();
        let named = method.getattr(intern!(py, "__name__")).ok()?;
        if named.extract::<String>().ok()? != name {
            return None;
        }
        let owner = method.getattr(intern!(py, "__self__")).ok()?;
        if let Ok(r) = owner.cast_exact::<PyRandomSearcher>() {
            return Some(CoreSearcher::Random(r.clone().unbind()));
        }
        let g = owner.cast_exact::<PyGridSearcher>().ok()?;
        Some(CoreSearcher::Grid(g.clone().unbind()))
    }

    fn clone_ref(&self, py: Python<'_>) -> Self {
        match self {
            CoreSearcher::Random(r) => CoreSearcher::Random(r.clone_ref(py)),
            CoreSearcher::Grid(g) => CoreSearcher::Grid(g.clone_ref(py)),
        }
    }

    /// The next point's id and parameters, and where a random searcher drew it from.
    fn next_point<'py>(&self, py: Python<'py>) -> PyResult<Option<NextPoint<'py>>> {
        Ok(match self {
            CoreSearcher::Random(r) => r
                .get()
                .next_drawn(py)?
                .map(|(id, params, from)| (id, params, Some(from))),
            CoreSearcher::Grid(g) => g.get().next_point(py)?.map(|(id, p)| (id, p, None)),
        })
    }

    fn finish(&self, id: u64) -> PyResult<bool> {
        match self {
            CoreSearcher::Random(r) => r.get().finish(id),
            CoreSearcher::Grid(g) => g.get().finish(id),
        }
    }
}

type NextPoint<'py> = (u64, Bound<'py, PyAny>, Option<DrawnFrom>);

/// Named `Study` so that Python's own messages (a wrong argument count, say) name the class
/// users know; the module exports it as `StudyCore`, the base of `ferrotune.Study`.
#[pyclass(name = "Study", module = "ferrotune._core", subclass)]
pub(crate) struct PyStudyCore {
    /// `searcher.ask`, bound once: `() -> (point_id, params) | None`.
    #[pyo3(get, name = "_searcher_ask")]
    searcher_ask: Py<PyAny>,
    /// The core searcher `searcher_ask` belongs to, if it is one: called without Python.
    ask_core: Option<CoreSearcher>,
    /// `searcher.tell`, bound once: `(point_id, value)`.
    #[pyo3(get, name = "_searcher_tell")]
    searcher_tell: Py<PyAny>,
    tell_core: Option<CoreSearcher>,
    /// Trial number -> the live Trial while it runs, a compact record once it finished.
    #[pyo3(get, name = "_trials")]
    trials: Py<PyTrialList>,
    #[pyo3(get, set, name = "_best")]
    best: Py<PyAny>,
    /// 1.0 when minimizing, -1.0 when maximizing.
    #[pyo3(get, set, name = "_sign")]
    sign: f64,
    /// The journal, or None for a study in memory.
    #[pyo3(get, set, name = "_journal")]
    journal: Py<PyAny>,
}

impl PyStudyCore {
    /// Whether `best` (a trial or None) is beaten by `value`.
    fn beats(&self, py: Python<'_>, value: f64) -> PyResult<bool> {
        let best = self.best.bind(py);
        if best.is_none() {
            return Ok(true);
        }
        let incumbent = match best.cast_exact::<PyTrial>() {
            Ok(t) => t.borrow().float_value(py),
            Err(_) => best.getattr(intern!(py, "value"))?.extract::<f64>().ok(),
        };
        Ok(match incumbent {
            Some(b) => self.sign * value < self.sign * b,
            None => true,
        })
    }

    /// Every case but the common one, in Python: `Study._tell(trial, value, gradient, state)`.
    fn general_tell<'py>(
        slf: &Bound<'py, Self>,
        trial: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        gradient: Option<&Bound<'py, PyAny>>,
        state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let none = py.None().into_bound(py);
        slf.call_method1(
            intern!(py, "_tell"),
            (
                trial,
                value.unwrap_or(&none),
                gradient.unwrap_or(&none),
                state.unwrap_or(&none),
            ),
        )
    }

    /// The finite float in `value`, when it is a Python float or an instance of a subclass
    /// (numpy's float64 is one), and `value` as a plain float.
    fn finite_float<'py>(value: &Bound<'py, PyAny>) -> Option<(f64, Bound<'py, PyAny>)> {
        let float = value.cast::<PyFloat>().ok()?;
        let x = float.value();
        if !x.is_finite() {
            return None;
        }
        let plain = if value.is_exact_instance_of::<PyFloat>() {
            value.clone()
        } else {
            PyFloat::new(value.py(), x).into_any()
        };
        Some((x, plain))
    }
}

#[pymethods]
impl PyStudyCore {
    /// Takes whatever the subclass's constructor takes; the subclass sets the fields.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        py: Python<'_>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        Ok(PyStudyCore {
            searcher_ask: py.None(),
            ask_core: None,
            searcher_tell: py.None(),
            tell_core: None,
            trials: Py::new(py, PyTrialList::empty())?,
            best: py.None(),
            sign: 1.0,
            journal: py.None(),
        })
    }

    /// Takes a `TrialList` as it is, or any iterable of entries (a list of Trials).
    #[setter(_trials)]
    fn set_trials(&mut self, entries: &Bound<'_, PyAny>) -> PyResult<()> {
        self.trials = match entries.cast_exact::<PyTrialList>() {
            Ok(list) => list.clone().unbind(),
            Err(_) => Py::new(entries.py(), PyTrialList::from_iterable(entries)?)?,
        };
        Ok(())
    }

    #[setter(_searcher_ask)]
    fn set_searcher_ask(&mut self, method: &Bound<'_, PyAny>) {
        self.ask_core = CoreSearcher::behind(method, "ask");
        self.searcher_ask = method.clone().unbind();
    }

    #[setter(_searcher_tell)]
    fn set_searcher_tell(&mut self, method: &Bound<'_, PyAny>) {
        self.tell_core = CoreSearcher::behind(method, "tell");
        self.searcher_tell = method.clone().unbind();
    }

    /// The next trial, or None when the searcher has nothing to propose now.
    fn _try_ask<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyTrial>>> {
        let py = slf.py();
        let (ask, core, trials, journaled) = {
            let me = slf.borrow();
            (
                me.searcher_ask.clone_ref(py),
                me.ask_core.as_ref().map(|c| c.clone_ref(py)),
                me.trials.clone_ref(py),
                !me.journal.is_none(py),
            )
        };
        let (point_id, params, drawn) = match core {
            Some(core) => match core.next_point(py)? {
                Some((id, params, drawn)) => (id.into_pyobject(py)?.into_any(), params, drawn),
                None => return Ok(None),
            },
            None => {
                let proposal = ask.bind(py).call0()?;
                if proposal.is_none() {
                    return Ok(None);
                }
                // A tuple, or any sequence of two (a list from a searcher written in Python).
                let pair = proposal
                    .cast::<PySequence>()
                    .ok()
                    .filter(|s| !proposal.is_instance_of::<PyString>() && s.len().ok() == Some(2));
                match pair {
                    Some(s) => (s.get_item(0)?, s.get_item(1)?, None),
                    None => {
                        super::trial::bad_type(py)?.call1((
                            "the searcher's ask()",
                            &proposal,
                            "a (point_id, params) pair or None",
                        ))?;
                        return Ok(None);
                    }
                }
            }
        };
        let proposed = match drawn {
            Some(from) => Proposed::Drawn(from),
            None => Proposed::Copy(super::json_copy(&params)?.unbind()),
        };
        let trial = Bound::new(
            py,
            PyTrial::running(
                py,
                0,
                params.unbind(),
                point_id.unbind(),
                slf.clone().into_any().unbind(),
                proposed,
            )?,
        )?;
        // Numbered and filed in one step, with no Python code in between (another thread's
        // ask could run there and take the same number).
        let number = {
            let mut list = trials.bind(py).borrow_mut();
            list.push(trial.clone().into_any().unbind());
            list.len() - 1
        };
        trial.borrow_mut().set_number(number);
        if journaled {
            slf.call_method1(intern!(py, "_write"), (PyList::new(py, [&trial])?,))?;
        }
        Ok(Some(trial))
    }

    /// The next trial to evaluate. Raises :class:`SearchExhausted` when the searcher has
    /// nothing to propose (a finished grid; or points that wait on running trials).
    fn ask<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTrial>> {
        if let Some(trial) = Self::_try_ask(slf)? {
            return Ok(trial);
        }
        slf.call_method0(intern!(slf.py(), "_no_proposal"))?;
        Err(crate::Error::Internal("_no_proposal returned instead of raising".into()).into())
    }

    /// Finishes a trial with its value, or with an exception (it failed).
    ///
    /// ``state="PRUNED"`` records a pruned trial (its last reported value is kept). A NaN or
    /// infinite value fails the trial: it can never be the best. ``gradient`` (same length
    /// as the parameters the searcher works in) goes to searchers that use it.
    #[pyo3(signature = (trial, value=None, *, gradient=None, state=None))]
    fn tell<'py>(
        slf: &Bound<'py, Self>,
        trial: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        gradient: Option<&Bound<'py, PyAny>>,
        state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        // The common case: a live trial of this study finishing with a finite float.
        if let (None, None, Some(value), Ok(t)) =
            (gradient, state, value, trial.cast_exact::<PyTrial>())
        {
            let Some((x, value)) = Self::finite_float(value) else {
                return Self::general_tell(slf, trial, Some(value), gradient, state);
            };
            let (live, point_id, number) = {
                let tb = t.borrow();
                (
                    tb.study().is(slf) && tb.is_state(running(py)?),
                    tb.point_id().clone_ref(py),
                    tb.number(),
                )
            };
            let (tell, core, trials) = {
                let me = slf.borrow();
                (
                    me.searcher_tell.clone_ref(py),
                    me.tell_core.as_ref().map(|c| c.clone_ref(py)),
                    me.trials.clone_ref(py),
                )
            };
            // The study's own object for the trial (a copy of it goes the general way).
            let live = live
                && usize::try_from(number).is_ok_and(|n| trials.bind(py).borrow().holds(n, trial));
            if live {
                let id = point_id.bind(py).extract::<u64>().ok();
                // The searcher first: if it refuses, the trial is still running.
                match (core, id) {
                    (Some(core), Some(id)) => {
                        core.finish(id)?;
                    }
                    _ => {
                        tell.bind(py).call1((point_id, &value))?;
                    }
                }
                t.borrow_mut().complete(py, value.unbind())?;
                let (better, journaled) = {
                    let me = slf.borrow();
                    (me.beats(py, x)?, !me.journal.is_none(py))
                };
                let best_before = if better {
                    let mut me = slf.borrow_mut();
                    Some(std::mem::replace(
                        &mut me.best,
                        t.clone().into_any().unbind(),
                    ))
                } else {
                    None
                };
                if journaled {
                    if let Err(e) =
                        slf.call_method1(intern!(py, "_write"), (PyList::new(py, [t])?,))
                    {
                        // Memory follows the journal: the trial runs on, the best is as it was.
                        t.borrow_mut().reopen(py)?;
                        if let Some(best) = best_before {
                            slf.borrow_mut().best = best;
                        }
                        return Err(e);
                    }
                }
                // What to file is worked out before the list is borrowed: building a record
                // may run Python code, which may read the list.
                let filing = {
                    let tb = t.borrow();
                    match (tb.drawn_plain(py)?, id) {
                        (Some(from), Some(point_id)) => Filing::Drawn {
                            from: from.clone_ref(py),
                            point_id,
                            value: x,
                            start: tb.start(),
                            duration: tb.duration().unwrap_or(f64::NAN),
                        },
                        _ => Filing::Record(tb.record(py)?.into_any().unbind()),
                    }
                };
                let old = trials.bind(py).borrow_mut().file(number as usize, filing)?;
                drop(old);
                t.borrow_mut().detach(py);
                return Ok(t.clone().into_any());
            }
        }
        Self::general_tell(slf, trial, value, gradient, state)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.searcher_ask)?;
        visit.call(&self.searcher_tell)?;
        for core in [&self.ask_core, &self.tell_core].into_iter().flatten() {
            match core {
                CoreSearcher::Random(r) => visit.call(r)?,
                CoreSearcher::Grid(g) => visit.call(g)?,
            }
        }
        visit.call(&self.trials)?;
        visit.call(&self.best)?;
        visit.call(&self.journal)?;
        Ok(())
    }

    fn __clear__(&mut self) {
        Python::attach(|py| {
            if let Ok(empty) = Py::new(py, PyTrialList::empty()) {
                self.trials = empty;
            }
            self.best = py.None();
            self.searcher_ask = py.None();
            self.searcher_tell = py.None();
            self.ask_core = None;
            self.tell_core = None;
        });
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("StudyCore", m.py().get_type::<PyStudyCore>())
}
