//! `ferrotune.Trial`: one evaluation of the objective. A Rust class so that a study can make,
//! finish and file a trial without running Python bytecode (see `study.rs`); the validation
//! it shares with the rest of the package (`_validate`, `trial.as_value`) stays in Python and
//! is called from here.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyTuple};
use pyo3::{intern, PyTraverseError};

use super::space::PySpace;
use crate::space::Sequence;

/// `fn $fn_name(py)`: the Python object `$module.$name`, imported once.
macro_rules! python_object {
    ($fn_name:ident, $module:literal, $name:literal) => {
        pub(crate) fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.import(py, $module, $name)
        }
    };
}

python_object!(trial_state, "ferrotune.trial", "TrialState");
python_object!(as_value, "ferrotune.trial", "as_value");
python_object!(check_integer, "ferrotune._validate", "integer");
python_object!(bad_type, "ferrotune._validate", "bad_type");

/// `TrialState.<name>`, looked up once per name.
fn state(
    py: Python<'_>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'static Py<PyAny>> {
    cell.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(trial_state(py)?.getattr(name)?.unbind())
    })
}

pub(crate) fn running(py: Python<'_>) -> PyResult<&'static Py<PyAny>> {
    static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    state(py, &CELL, "RUNNING")
}

pub(crate) fn complete(py: Python<'_>) -> PyResult<&'static Py<PyAny>> {
    static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    state(py, &CELL, "COMPLETE")
}

/// `TrialState[name]`, without the enum's lookup for the two states a study files most.
fn state_named(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if let Ok(text) = name.cast::<pyo3::types::PyString>() {
        match text.to_str()? {
            "COMPLETE" => return Ok(complete(py)?.clone_ref(py)),
            "RUNNING" => return Ok(running(py)?.clone_ref(py)),
            _ => {}
        }
    }
    Ok(trial_state(py)?.get_item(name)?.unbind())
}

/// The name of a state (`state.value`), without the enum's slow attribute lookup for the two
/// states a study files most.
fn state_name<'py>(py: Python<'py>, state: &Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if state.is(complete(py)?) {
        Ok(intern!(py, "COMPLETE").clone().into_any())
    } else if state.is(running(py)?) {
        Ok(intern!(py, "RUNNING").clone().into_any())
    } else {
        state.bind(py).getattr(intern!(py, "value"))
    }
}

/// `time.perf_counter()`: the clock `_t0` and durations are measured on, here and in Python.
/// On Linux that is CLOCK_MONOTONIC, read here directly; elsewhere Python's is called.
#[cfg(target_os = "linux")]
pub(crate) fn clock(_py: Python<'_>) -> PyResult<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return Err(crate::Error::Internal("clock_gettime(CLOCK_MONOTONIC) failed".into()).into());
    }
    Ok(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn clock(py: Python<'_>) -> PyResult<f64> {
    python_object!(perf_counter, "time", "perf_counter");
    perf_counter(py)?.call0()?.extract()
}

/// `time.time()`: a trial's wall-clock start (the system clock, as Python reads it).
pub(crate) fn now() -> f64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// One evaluation: what the objective receives, and what the study keeps.
///
/// Attributes
/// ----------
/// number : int
///     Position in the study, from 0.
/// params : dict
///     The parameter values to evaluate. The study records the point as the searcher proposed
///     it: changing this dict in place changes neither the record nor any other trial. To
///     record other values, assign a new dict to ``trial.params`` (or use :meth:`set_attr`).
/// state : TrialState
/// value : float or None
///     The objective's value, once complete.
/// start : float
///     Wall-clock start (seconds since the epoch).
/// duration : float or None
///     Seconds from ask to tell.
/// intermediate : dict[int, float]
///     Values reported with :meth:`report`, by step.
/// error : str or None
///     The traceback text of a failed trial, or why it failed.
/// attrs : dict
///     Free-form attributes set with :meth:`set_attr`.
#[pyclass(name = "Trial", module = "ferrotune", weakref)]
pub(crate) struct PyTrial {
    #[pyo3(get, set)]
    number: i64,
    #[pyo3(get)]
    params: Py<PyAny>,
    #[pyo3(get)]
    point_id: Py<PyAny>,
    #[pyo3(get, set)]
    state: Py<PyAny>,
    #[pyo3(get, set)]
    value: Py<PyAny>,
    #[pyo3(get, set)]
    start: f64,
    #[pyo3(get, set)]
    duration: Option<f64>,
    /// Made on first use: most trials never report, and a dict per trial is not free.
    intermediate: Option<Py<PyAny>>,
    attrs: Option<Py<PyAny>>,
    #[pyo3(get, set)]
    error: Py<PyAny>,
    #[pyo3(get, set)]
    gradient: Py<PyAny>,
    /// The study while the trial runs (reports and pruning go to it), then None.
    #[pyo3(get, set, name = "_study")]
    study: Py<PyAny>,
    /// `time.perf_counter()` at the ask; 0.0 when unknown (a trial read from a journal).
    #[pyo3(get, set, name = "_t0")]
    t0: f64,
    /// What a study records as the parameters (see `Proposed`).
    proposed: Proposed,
}

/// What a study records as a trial's parameters: the point as the searcher proposed it, not
/// the dict handed to the objective, which the objective may change in place. Assigning a new
/// dict to `trial.params` makes that dict the record's.
pub(crate) enum Proposed {
    /// `params` itself: a trial rebuilt from a record, unpickled, or given new `params`.
    Params,
    /// A copy of `params` taken at the ask (lists and dicts in it copied too).
    Copy(Py<PyAny>),
    /// Drawn by a core random searcher: a pure function of this and the point id, drawn
    /// again when needed. The study can keep such a trial as numbers once it finished.
    Drawn(DrawnFrom),
}

/// The space, seed and sequence a trial's point was drawn from: its parameters are a pure
/// function of these and the point id.
pub(crate) struct DrawnFrom {
    pub(crate) space: Py<PySpace>,
    pub(crate) seed: u64,
    pub(crate) sequence: Sequence,
}

impl DrawnFrom {
    pub(crate) fn clone_ref(&self, py: Python<'_>) -> Self {
        DrawnFrom {
            space: self.space.clone_ref(py),
            seed: self.seed,
            sequence: self.sequence,
        }
    }

    /// The parameters of point `point_id`, drawn again.
    pub(crate) fn params<'py>(
        &self,
        py: Python<'py>,
        point_id: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = self.space.get();
        let mut row = vec![0.0; space.space.len()];
        space
            .space
            .sample_row(self.seed, self.sequence, point_id, &mut row);
        space.decode_row(py, &row)
    }
}

/// `items` as a tuple, taken off the cyclic garbage collector's list when nothing in it is on
/// that list (numbers, strings, and dicts of those). CPython only does this by itself for
/// tuples without dicts; a study holds a record with a params dict for every trial, and each
/// full collection used to walk them all (half the time of a long in-memory study).
pub(crate) fn flat_record<'py, const N: usize>(
    py: Python<'py>,
    items: [Bound<'py, PyAny>; N],
) -> PyResult<Bound<'py, PyTuple>> {
    let record = PyTuple::new(py, items)?;
    // SAFETY: `record` and its items are live objects and the GIL is held; untracking a
    // tuple only hides it from cycle detection.
    unsafe {
        let flat = record
            .iter()
            .all(|item| pyo3::ffi::PyObject_GC_IsTracked(item.as_ptr()) == 0);
        if flat {
            pyo3::ffi::PyObject_GC_UnTrack(record.as_ptr().cast());
        }
    }
    Ok(record)
}

impl PyTrial {
    /// A trial just asked for, running in `study`.
    pub(crate) fn running(
        py: Python<'_>,
        number: usize,
        params: Py<PyAny>,
        point_id: Py<PyAny>,
        study: Py<PyAny>,
        proposed: Proposed,
    ) -> PyResult<Self> {
        Ok(PyTrial {
            number: number as i64,
            params,
            point_id,
            state: running(py)?.clone_ref(py),
            value: py.None(),
            start: now(),
            duration: None,
            intermediate: None,
            attrs: None,
            error: py.None(),
            gradient: py.None(),
            study,
            t0: clock(py)?,
            proposed,
        })
    }

    pub(crate) fn study(&self) -> &Py<PyAny> {
        &self.study
    }

    pub(crate) fn point_id(&self) -> &Py<PyAny> {
        &self.point_id
    }

    pub(crate) fn is_state(&self, state: &Py<PyAny>) -> bool {
        self.state.is(state)
    }

    pub(crate) fn set_number(&mut self, number: usize) {
        self.number = number as i64;
    }

    pub(crate) fn number(&self) -> i64 {
        self.number
    }

    /// A finished trial rebuilt from the record `record` made (see `trial.py`): a new object,
    /// with its own copies of `params`, `intermediate` and `attrs`, so that changing it does
    /// not change the study.
    pub(crate) fn from_record(py: Python<'_>, record: &Bound<'_, PyTuple>) -> PyResult<Self> {
        if record.len() != 11 {
            return Err(crate::Error::Internal(format!(
                "a trial record has 11 items, not {}",
                record.len()
            ))
            .into());
        }
        let item = |i: usize| record.get_item(i);
        let copy = |i: usize| -> PyResult<Option<Py<PyAny>>> {
            let d = item(i)?;
            Ok(if d.is_truthy()? {
                Some(super::json_copy(&d)?.unbind())
            } else {
                None
            })
        };
        Ok(PyTrial {
            number: item(0)?.extract()?,
            params: super::json_copy(&item(1)?)?.unbind(),
            point_id: item(2)?.unbind(),
            state: state_named(py, &item(3)?)?,
            value: item(4)?.unbind(),
            start: item(5)?.extract()?,
            duration: item(6)?.extract()?,
            intermediate: copy(7)?,
            attrs: copy(9)?,
            error: item(8)?.unbind(),
            gradient: item(10)?.unbind(),
            study: py.None(),
            t0: 0.0,
            proposed: Proposed::Params,
        })
    }

    /// A trial completed with `value`, from what a study keeps of a drawn one.
    pub(crate) fn completed(
        py: Python<'_>,
        number: usize,
        params: Py<PyAny>,
        point_id: u64,
        value: f64,
        start: f64,
        duration: f64,
    ) -> PyResult<Self> {
        Ok(PyTrial {
            number: number as i64,
            params,
            point_id: point_id.into_pyobject(py)?.into_any().unbind(),
            state: complete(py)?.clone_ref(py),
            value: PyFloat::new(py, value).into_any().unbind(),
            start,
            duration: Some(duration),
            intermediate: None,
            attrs: None,
            error: py.None(),
            gradient: py.None(),
            study: py.None(),
            t0: 0.0,
            proposed: Proposed::Params,
        })
    }

    /// The parameters a study records for this trial (see `Proposed`).
    pub(crate) fn recorded_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.proposed {
            Proposed::Params => Ok(self.params.bind(py).clone()),
            Proposed::Copy(c) => Ok(c.bind(py).clone()),
            Proposed::Drawn(from) => match self.point_id.bind(py).extract::<u64>() {
                Ok(id) => from.params(py, id),
                Err(_) => Ok(self.params.bind(py).clone()),
            },
        }
    }

    /// Where the point was drawn from, when the study may keep the finished trial as numbers:
    /// drawn by a core random searcher, and nothing recorded but the value and times.
    pub(crate) fn drawn_plain(&self, py: Python<'_>) -> PyResult<Option<&DrawnFrom>> {
        let empty = |d: &Option<Py<PyAny>>| -> PyResult<bool> {
            Ok(match d {
                Some(d) => !d.bind(py).is_truthy()?,
                None => true,
            })
        };
        let plain = self.gradient.is_none(py)
            && self.error.is_none(py)
            && empty(&self.intermediate)?
            && empty(&self.attrs)?;
        Ok(match &self.proposed {
            Proposed::Drawn(from) if plain => Some(from),
            _ => None,
        })
    }

    pub(crate) fn start(&self) -> f64 {
        self.start
    }

    pub(crate) fn duration(&self) -> Option<f64> {
        self.duration
    }

    /// The value as a float, when it is one (the best trial's, say).
    pub(crate) fn float_value(&self, py: Python<'_>) -> Option<f64> {
        self.value.bind(py).extract::<f64>().ok()
    }

    /// Completes the trial with `value` (a float), measuring its duration.
    pub(crate) fn complete(&mut self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        self.duration = Some(clock(py)? - self.t0);
        self.value = value;
        self.state = complete(py)?.clone_ref(py);
        Ok(())
    }

    /// Undoes `complete`: the trial runs again, with no value or duration.
    pub(crate) fn reopen(&mut self, py: Python<'_>) -> PyResult<()> {
        self.state = running(py)?.clone_ref(py);
        self.value = py.None();
        self.duration = None;
        Ok(())
    }

    /// Lets go of the study (see `Study._settle` for why).
    pub(crate) fn detach(&mut self, py: Python<'_>) {
        self.study = py.None();
    }

    /// A copy of a non-empty dict, else None: a record keeps its own `intermediate` and
    /// `attrs`, so what is put into a finished trial's dicts later changes neither the study
    /// nor what the cycle collector may skip (see `record`).
    fn dict_or_none<'py>(py: Python<'py>, d: &Option<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        match d {
            Some(d) if d.bind(py).is_truthy()? => py.get_type::<PyDict>().call1((d,)),
            _ => Ok(py.None().into_bound(py)),
        }
    }

    /// `dict(d)`, or an empty dict for a dict not made yet.
    fn dict_copy<'py>(py: Python<'py>, d: &Option<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let dict_type = py.get_type::<PyDict>();
        match d {
            Some(d) => dict_type.call1((d,)),
            None => dict_type.call0(),
        }
    }

    /// The compact record a study keeps for a finished trial (see `trial.py`), off the cycle
    /// collector's list when flat (see `flat_record`).
    ///
    /// The record's `intermediate` and `attrs` are its own copies, and its `params` those the
    /// study records (see `Proposed`): the user's dict only when one was assigned to
    /// `trial.params`, so only then could a container put into it later make a cycle the
    /// collector cannot see (it would then stay in memory).
    pub(crate) fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        flat_record(py, self.record_items(py)?)
    }

    fn record_items<'py>(&self, py: Python<'py>) -> PyResult<[Bound<'py, PyAny>; 11]> {
        let state = state_name(py, &self.state)?;
        Ok([
            self.number_object(py)?,
            self.recorded_params(py)?,
            self.point_id.bind(py).clone(),
            state,
            self.value.bind(py).clone(),
            PyFloat::new(py, self.start).into_any(),
            self.duration.into_pyobject(py)?.into_any(),
            Self::dict_or_none(py, &self.intermediate)?,
            self.error.bind(py).clone(),
            Self::dict_or_none(py, &self.attrs)?,
            self.gradient.bind(py).clone(),
        ])
    }

    fn record_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.record_items(py)?)
    }

    /// The number as a Python int; the point id's object when they are equal (random search
    /// hands out point i to trial i), saving an int per record.
    fn number_object<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let id = self.point_id.bind(py);
        if let Ok(int) = id.cast_exact::<pyo3::types::PyInt>() {
            if int.extract::<i64>().ok() == Some(self.number) {
                return Ok(id.clone());
            }
        }
        Ok(self.number.into_pyobject(py)?.into_any())
    }

    fn made<'a>(py: Python<'_>, slot: &'a mut Option<Py<PyAny>>) -> &'a Py<PyAny> {
        slot.get_or_insert_with(|| PyDict::new(py).into_any().unbind())
    }
}

#[pymethods]
impl PyTrial {
    #[new]
    // `number` and `params` have defaults so that `Trial.__new__(Trial)` works, as pickles
    // made by earlier versions (a Python class) load the trial that way.
    #[pyo3(signature = (
        number=0, params=None, point_id=None, start=0.0, study=None, *, state=None, value=None,
        duration=None, intermediate=None, error=None, attrs=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        number: i64,
        params: Option<Py<PyAny>>,
        point_id: Option<Py<PyAny>>,
        start: f64,
        study: Option<Py<PyAny>>,
        state: Option<Py<PyAny>>,
        value: Option<Py<PyAny>>,
        duration: Option<f64>,
        intermediate: Option<Py<PyAny>>,
        error: Option<Py<PyAny>>,
        attrs: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let none = || py.None();
        Ok(PyTrial {
            number,
            params: match params {
                Some(p) => p,
                None => PyDict::new(py).into_any().unbind(),
            },
            point_id: point_id.unwrap_or_else(none),
            state: match state {
                Some(s) => s,
                None => running(py)?.clone_ref(py),
            },
            value: value.unwrap_or_else(none),
            start,
            duration,
            intermediate,
            attrs,
            error: error.unwrap_or_else(none),
            gradient: none(),
            study: study.unwrap_or_else(none),
            t0: 0.0,
            proposed: Proposed::Params,
        })
    }

    #[setter]
    fn set_params(&mut self, value: Py<PyAny>) {
        self.params = value;
        self.proposed = Proposed::Params;
    }

    #[setter]
    fn set_point_id(&mut self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        // A drawn point's parameters follow its id: keep them as they were drawn.
        if let Proposed::Drawn(_) = self.proposed {
            self.proposed = Proposed::Copy(self.recorded_params(py)?.unbind());
        }
        self.point_id = value;
        Ok(())
    }

    /// A copy of the parameters a study records for this trial (see `Proposed`).
    #[getter]
    fn _recorded_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.proposed {
            Proposed::Drawn(_) => self.recorded_params(py), // drawn again: already a new dict
            _ => super::json_copy(&self.recorded_params(py)?),
        }
    }

    /// Values reported with :meth:`report`, by step.
    #[getter]
    fn intermediate(&mut self, py: Python<'_>) -> Py<PyAny> {
        Self::made(py, &mut self.intermediate).clone_ref(py)
    }

    #[setter]
    fn set_intermediate(&mut self, py: Python<'_>, value: Py<PyAny>) {
        self.intermediate = (!value.is_none(py)).then_some(value);
    }

    /// Free-form attributes set with :meth:`set_attr`.
    #[getter]
    fn attrs(&mut self, py: Python<'_>) -> Py<PyAny> {
        Self::made(py, &mut self.attrs).clone_ref(py)
    }

    #[setter]
    fn set_attrs(&mut self, py: Python<'_>, value: Py<PyAny>) {
        self.attrs = (!value.is_none(py)).then_some(value);
    }

    /// Whether the trial has finished (in any state but RUNNING).
    #[getter]
    fn finished(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(!self.state.is(running(py)?))
    }

    /// Records an intermediate value (a fold's score, an epoch's loss) at ``step``.
    ///
    /// Pruners read these to stop hopeless trials; see :meth:`should_prune`.
    fn report(
        slf: &Bound<'_, Self>,
        step: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "minimum"), 0)?;
        let step = check_integer(py)?.call(("step", step), Some(&kwargs))?;
        let value = as_value(py)?.call1((value, "value"))?;
        let (inter, study) = {
            let mut me = slf.borrow_mut();
            let inter = Self::made(py, &mut me.intermediate).clone_ref(py);
            (inter, me.study.clone_ref(py))
        };
        inter.bind(py).set_item(&step, value)?;
        if !study.is_none(py) {
            study
                .bind(py)
                .call_method1(intern!(py, "_on_report"), (slf, step))?;
        }
        Ok(())
    }

    /// Whether the study's pruner judges this trial hopeless given its reports so far.
    ///
    /// Raise :class:`ferrotune.TrialPruned` from the objective when it says so.
    fn should_prune(slf: &Bound<'_, Self>) -> PyResult<bool> {
        let py = slf.py();
        let study = slf.borrow().study.clone_ref(py);
        if study.is_none(py) {
            return Ok(false);
        }
        study
            .bind(py)
            .call_method1(intern!(py, "_should_prune"), (slf,))?
            .is_truthy()
    }

    /// Stores a JSON-serialisable attribute with the trial.
    fn set_attr(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        if !key.is_instance_of::<pyo3::types::PyString>() {
            bad_type(py)?.call1(("key", key, "a string"))?;
        }
        let attrs = Self::made(py, &mut slf.borrow_mut().attrs).clone_ref(py);
        attrs.bind(py).set_item(key, value)
    }

    /// The trial as plain data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("number", self.number)?;
        d.set_item("params", &self.params)?;
        d.set_item("state", state_name(py, &self.state)?)?;
        d.set_item("value", &self.value)?;
        d.set_item("start", self.start)?;
        d.set_item("duration", self.duration)?;
        d.set_item("intermediate", Self::dict_copy(py, &self.intermediate)?)?;
        d.set_item("error", &self.error)?;
        d.set_item("attrs", Self::dict_copy(py, &self.attrs)?)?;
        Ok(d)
    }

    /// The compact record a study keeps once the trial finished.
    fn _record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.record(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = state_name(py, &self.state)?;
        Ok(format!(
            "Trial(number={}, state={}, value={}, params={})",
            self.number,
            state.str()?,
            self.value.bind(py).repr()?,
            self.params.bind(py).repr()?
        ))
    }

    /// Value equality: a study rebuilds finished trials from records on each `trials` call.
    fn __richcmp__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Ok(other) = other.cast_exact::<PyTrial>() else {
            return Ok(py.NotImplemented());
        };
        let equal = if slf.is(other) {
            true
        } else {
            let mine = slf.borrow().record_tuple(py)?.get_slice(0, 10);
            let theirs = other.borrow().record_tuple(py)?.get_slice(0, 10);
            mine.eq(theirs)?
        };
        match op {
            CompareOp::Eq => Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!equal).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        (self.number, self.start).into_pyobject(py)?.hash()
    }

    /// Pickles without the study: a trial travels to worker processes on its own.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let me = slf.borrow();
        let args = (me.number, me.params.clone_ref(py));
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
                me.__getstate__(py)?.into_any(),
            ],
        )
    }

    /// Every field but the study, by name, and the parameters recorded when not `params`.
    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("number", self.number)?;
        d.set_item("params", &self.params)?;
        d.set_item("point_id", &self.point_id)?;
        d.set_item("state", &self.state)?;
        d.set_item("value", &self.value)?;
        d.set_item("start", self.start)?;
        d.set_item("duration", self.duration)?;
        d.set_item("intermediate", &self.intermediate)?;
        d.set_item("error", &self.error)?;
        d.set_item("attrs", &self.attrs)?;
        d.set_item("gradient", &self.gradient)?;
        d.set_item("_t0", self.t0)?;
        // A copy records what the original records, whatever the objective did to `params`
        // in place: the study takes an equal copy for its own trial (see `Study.tell`).
        if !matches!(self.proposed, Proposed::Params) {
            d.set_item("_proposed", self.recorded_params(py)?)?;
        }
        Ok(d)
    }

    fn __setstate__(slf: &Bound<'_, Self>, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut proposed = None;
        for (key, value) in state.iter() {
            let key = key.cast_into::<pyo3::types::PyString>()?;
            if key.to_str()? == "_proposed" {
                proposed = Some(value.unbind());
            } else {
                slf.setattr(key, value)?;
            }
        }
        let mut me = slf.borrow_mut();
        me.study = slf.py().None();
        // After `params`, whose setter makes the params the record's.
        if let Some(proposed) = proposed {
            me.proposed = Proposed::Copy(proposed);
        }
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.params)?;
        visit.call(&self.point_id)?;
        visit.call(&self.state)?;
        visit.call(&self.value)?;
        visit.call(&self.intermediate)?;
        visit.call(&self.attrs)?;
        visit.call(&self.error)?;
        visit.call(&self.gradient)?;
        visit.call(&self.study)?;
        match &self.proposed {
            Proposed::Params => {}
            Proposed::Copy(c) => visit.call(c)?,
            Proposed::Drawn(d) => visit.call(&d.space)?,
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        Python::attach(|py| {
            self.intermediate = None;
            self.attrs = None;
            self.gradient = py.None();
            self.study = py.None();
            self.params = py.None();
            self.proposed = Proposed::Params;
        });
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTrial>()
}
