//! `_core.TrialList`: a study's trials by number, as the Python side reads them (`study._trials`).
//!
//! An entry is a live `Trial` while it runs and a compact record tuple once it finished (see
//! `PyTrial::record`). A trial drawn by the core random searcher and completed with a plain
//! float and nothing else (no reports, attributes, gradient) is kept as numbers only: its
//! parameters are a pure function of (space, seed, sequence, point id), so they are drawn again
//! when the entry is read. That keeps no Python object per trial, which is most of the memory
//! and much of the time of a long in-memory study; reading such an entry builds its record.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyList, PySlice, PyTuple};
use pyo3::{intern, PyTraverseError};

use super::trial::{flat_record, DrawnFrom, PyTrial};

/// A finished trial kept as numbers (see the module comment).
#[derive(Clone, Copy)]
pub(crate) struct Drawn {
    point_id: u64,
    value: f64,
    start: f64,
    duration: f64,
    /// Index into `TrialList::sources`.
    source: u32,
}

/// What a study files for a trial that just finished.
pub(crate) enum Filing {
    /// A record tuple (see `PyTrial::record`).
    Record(Py<PyAny>),
    /// A drawn trial as numbers: the point and where it was drawn from, the value and times.
    Drawn {
        from: DrawnFrom,
        point_id: u64,
        value: f64,
        start: f64,
        duration: f64,
    },
}

pub(crate) enum Entry {
    /// A live Trial or a record tuple.
    Object(Py<PyAny>),
    Drawn(Drawn),
}

/// Trials made in bulk (every trial of a study), kept off CPython's cyclic garbage collector's
/// lists until all are made, then put back on.
///
/// Each collection that the new objects set off would walk all of them made so far, which
/// took over half the time of rebuilding a large study's trials. Switching the collector off
/// instead would be simpler but touches every thread: one that switched it off meanwhile would
/// find it switched on again.
struct Untracked<'py> {
    made: Vec<Bound<'py, PyAny>>,
}

impl<'py> Untracked<'py> {
    fn new() -> Self {
        Untracked { made: Vec::new() }
    }

    /// Takes `object`, a trial just made and not yet seen by any other code, off the lists.
    fn hold(&mut self, object: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        // SAFETY: `object` is a live GC object and the GIL is held; untracking only hides it
        // from cycle detection, and `Drop` tracks it again.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(object.as_ptr().cast()) };
        self.made.push(object.clone());
        object
    }
}

impl Drop for Untracked<'_> {
    fn drop(&mut self) {
        for object in &self.made {
            // SAFETY: each object was untracked by `hold` and nothing else tracks a trial, so
            // it is untracked now (tracking a tracked object would abort); the GIL is held.
            unsafe {
                let ptr = object.as_ptr();
                if pyo3::ffi::PyObject_GC_IsTracked(ptr) == 0 {
                    pyo3::ffi::PyObject_GC_Track(ptr.cast());
                }
            }
        }
    }
}

/// An entry taken out of the list. What Python sees of an entry is built from this with the
/// list no longer borrowed, since building it may run Python code (a state's name is an enum
/// property; an allocation may start a garbage collection), and that code may use the study.
enum Taken {
    Object(Py<PyAny>),
    Drawn {
        number: usize,
        drawn: Drawn,
        from: DrawnFrom,
    },
}

impl Taken {
    /// The entry as the Python side sees it: the object, or a drawn entry's record.
    fn entry<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (number, d, from) = match self {
            Taken::Object(o) => return Ok(o.into_bound(py)),
            Taken::Drawn {
                number,
                drawn,
                from,
            } => (number, drawn, from),
        };
        let none = py.None().into_bound(py);
        let record = flat_record(
            py,
            [
                number.into_pyobject(py)?.into_any(),
                from.params(py, d.point_id)?,
                d.point_id.into_pyobject(py)?.into_any(),
                intern!(py, "COMPLETE").clone().into_any(),
                PyFloat::new(py, d.value).into_any(),
                PyFloat::new(py, d.start).into_any(),
                PyFloat::new(py, d.duration).into_any(),
                none.clone(),
                none.clone(),
                none.clone(),
                none,
            ],
        )?;
        Ok(record.into_any())
    }

    /// Whether the entry is a live Trial (one still running), not something to rebuild from.
    fn is_live(&self, py: Python<'_>) -> bool {
        matches!(self, Taken::Object(o) if o.bind(py).cast_exact::<PyTuple>().is_err())
    }

    /// The entry as a Trial: the live object, or one rebuilt from a record or drawn entry.
    fn trial<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let trial = match self {
            Taken::Object(o) => {
                let o = o.into_bound(py);
                match o.cast_exact::<PyTuple>() {
                    Ok(record) => PyTrial::from_record(py, record)?,
                    Err(_) => return Ok(o),
                }
            }
            Taken::Drawn {
                number,
                drawn,
                from,
            } => PyTrial::completed(
                py,
                number,
                from.params(py, drawn.point_id)?.unbind(),
                drawn.point_id,
                drawn.value,
                drawn.start,
                drawn.duration,
            )?,
        };
        Ok(Bound::new(py, trial)?.into_any())
    }

    /// The entry's state name ("COMPLETE", ...), without building a drawn entry's record.
    fn state_name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Taken::Object(o) = self else {
            return Ok(intern!(py, "COMPLETE").clone().into_any());
        };
        let o = o.bind(py);
        match o.cast_exact::<PyTuple>() {
            Ok(record) => record.get_item(3),
            Err(_) => o
                .getattr(intern!(py, "state"))?
                .getattr(intern!(py, "value")),
        }
    }
}

#[pyclass(name = "TrialList", module = "ferrotune._core", sequence)]
pub(crate) struct PyTrialList {
    entries: Vec<Entry>,
    /// Where drawn entries' parameters come from, in the order they were first used.
    sources: Vec<DrawnFrom>,
}

impl PyTrialList {
    pub(crate) fn empty() -> Self {
        PyTrialList {
            entries: Vec::new(),
            sources: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether entry `number` is `object` itself.
    pub(crate) fn holds(&self, number: usize, object: &Bound<'_, PyAny>) -> bool {
        matches!(self.entries.get(number), Some(Entry::Object(o)) if o.is(object))
    }

    pub(crate) fn push(&mut self, entry: Py<PyAny>) {
        self.entries.push(Entry::Object(entry));
    }

    fn slot(&mut self, number: usize) -> PyResult<&mut Entry> {
        self.entries.get_mut(number).ok_or_else(|| {
            crate::Error::Internal(format!("no trial {number} in the study's list")).into()
        })
    }

    /// Files `entry` (a record) as trial `number`, which must exist. Returns what it replaced,
    /// to be dropped once the list is no longer borrowed (freeing it may run Python code).
    #[must_use = "drop the old entry after the borrow ends"]
    fn set(&mut self, number: usize, entry: Py<PyAny>) -> PyResult<Entry> {
        Ok(std::mem::replace(self.slot(number)?, Entry::Object(entry)))
    }

    /// Files finished trial `number` (which must exist) as `filing` says. Returns what it
    /// replaced, as `set` does.
    #[must_use = "drop the old entry after the borrow ends"]
    pub(crate) fn file(&mut self, number: usize, filing: Filing) -> PyResult<Entry> {
        let entry = match filing {
            Filing::Record(record) => Entry::Object(record),
            Filing::Drawn {
                from,
                point_id,
                value,
                start,
                duration,
            } => {
                let same = self.sources.last().is_some_and(|s| {
                    s.space.is(&from.space) && s.seed == from.seed && s.sequence == from.sequence
                });
                if !same {
                    self.sources.push(from);
                }
                let source = u32::try_from(self.sources.len() - 1).map_err(|_| {
                    crate::Error::Internal("too many sample sources in one study".into())
                })?;
                Entry::Drawn(Drawn {
                    point_id,
                    value,
                    start,
                    duration,
                    source,
                })
            }
        };
        Ok(std::mem::replace(self.slot(number)?, entry))
    }

    /// Entry `i` (which must exist), taken out of the list: see `Taken`.
    fn take(&self, py: Python<'_>, i: usize) -> Taken {
        match &self.entries[i] {
            Entry::Object(o) => Taken::Object(o.clone_ref(py)),
            Entry::Drawn(d) => Taken::Drawn {
                number: i,
                drawn: *d,
                from: self.sources[d.source as usize].clone_ref(py),
            },
        }
    }

    /// `i` as an index into the list (negative from the end), or IndexError.
    fn index(&self, i: isize) -> PyResult<usize> {
        let n = self.entries.len() as isize;
        let j = if i < 0 { i + n } else { i };
        if (0..n).contains(&j) {
            Ok(j as usize)
        } else {
            Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "trial index {i} out of range for a study of {n} trial(s)"
            )))
        }
    }

    /// A list of the entries `items` yields (a list of Trials read from a journal).
    pub(crate) fn from_iterable(items: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut entries = Vec::new();
        for item in items.try_iter()? {
            entries.push(Entry::Object(item?.unbind()));
        }
        Ok(PyTrialList {
            entries,
            sources: Vec::new(),
        })
    }
}

#[pymethods]
impl PyTrialList {
    fn __len__(&self) -> usize {
        self.entries.len()
    }

    /// Entry `i` (a live Trial or a record tuple), or a list of entries for a slice.
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        i: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Ok(slice) = i.cast::<PySlice>() {
            let taken: Vec<Taken> = {
                let me = slf.borrow();
                let ix = slice.indices(me.entries.len() as isize)?;
                (0..ix.slicelength)
                    .map(|k| me.take(py, (ix.start + k as isize * ix.step) as usize))
                    .collect()
            };
            let list = PyList::empty(py);
            for t in taken {
                list.append(t.entry(py)?)?;
            }
            return Ok(list.into_any());
        }
        let i = i.extract::<isize>()?;
        let taken = {
            let me = slf.borrow();
            me.take(py, me.index(i)?)
        };
        taken.entry(py)
    }

    fn __setitem__(slf: &Bound<'_, Self>, i: isize, entry: Py<PyAny>) -> PyResult<()> {
        let old = {
            let mut me = slf.borrow_mut();
            let j = me.index(i)?;
            me.set(j, entry)?
        };
        drop(old); // outside the borrow: freeing it may run Python code
        Ok(())
    }

    fn __iter__(slf: Bound<'_, Self>) -> PyTrialListIter {
        PyTrialListIter {
            list: slf.unbind(),
            next: 0,
        }
    }

    /// The state name of entry `i` ("COMPLETE", ...), without building its record.
    fn state<'py>(slf: &Bound<'py, Self>, i: isize) -> PyResult<Bound<'py, PyAny>> {
        let taken = {
            let me = slf.borrow();
            me.take(slf.py(), me.index(i)?)
        };
        taken.state_name(slf.py())
    }

    /// Entry `i` as a Trial: the live one while it runs, else a new object rebuilt from what
    /// the study keeps (changing it does not change the study).
    fn trial<'py>(slf: &Bound<'py, Self>, i: isize) -> PyResult<Bound<'py, PyAny>> {
        let taken = {
            let me = slf.borrow();
            me.take(slf.py(), me.index(i)?)
        };
        taken.trial(slf.py())
    }

    /// Every trial as in `trial`, by number; only those whose state name is in `states` (a
    /// set of names) when it is given.
    #[pyo3(signature = (states=None))]
    fn trials<'py>(
        slf: &Bound<'py, Self>,
        states: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let taken: Vec<Taken> = {
            let me = slf.borrow();
            (0..me.entries.len()).map(|i| me.take(py, i)).collect()
        };
        let list = PyList::empty(py);
        let mut made = Untracked::new();
        for t in taken {
            if let Some(states) = states {
                if !states.contains(t.state_name(py)?)? {
                    continue;
                }
            }
            if t.is_live(py) {
                list.append(t.trial(py)?)?;
            } else {
                list.append(made.hold(t.trial(py)?))?;
            }
        }
        drop(made);
        Ok(list)
    }

    /// The state name of every entry, by number, without building records.
    fn states<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let taken: Vec<Taken> = {
            let me = slf.borrow();
            (0..me.entries.len()).map(|i| me.take(py, i)).collect()
        };
        let list = PyList::empty(py);
        for t in taken {
            list.append(t.state_name(py)?)?;
        }
        Ok(list)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for e in &self.entries {
            if let Entry::Object(o) = e {
                visit.call(o)?;
            }
        }
        for s in &self.sources {
            visit.call(&s.space)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.entries.clear();
        self.sources.clear();
    }
}

/// Iterates a `TrialList`, building drawn entries' records one at a time.
#[pyclass(name = "TrialListIterator", module = "ferrotune._core")]
pub(crate) struct PyTrialListIter {
    list: Py<PyTrialList>,
    next: usize,
}

#[pymethods]
impl PyTrialListIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let taken = {
            let list = self.list.bind(py).borrow();
            if self.next >= list.len() {
                return Ok(None);
            }
            list.take(py, self.next)
        };
        self.next += 1;
        Ok(Some(taken.entry(py)?))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.list)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTrialList>()?;
    m.add_class::<PyTrialListIter>()
}
