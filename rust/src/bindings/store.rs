//! `_core.Journal`: the SQLite trial journal. Rows cross as plain tuples; the Python layer
//! (`ferrotune/storage.py`) gives them meaning.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;

use super::{detached, IntoPyResult};
use crate::store::{Journal, StudyRecord, Sync, TrialRecord};
use crate::Error;

type TrialTuple = (
    i64,
    Option<i64>,
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

type StudyTuple = (i64, String, String, String, Option<String>, String, f64);

fn study_tuple(s: StudyRecord) -> StudyTuple {
    (
        s.id,
        s.name,
        s.direction,
        s.searcher,
        s.searcher_state,
        s.attrs,
        s.created,
    )
}

/// An open journal; closed explicitly by `close()` or when collected.
#[pyclass(name = "Journal", module = "ferrotune._core", frozen)]
pub(crate) struct PyJournal {
    inner: Mutex<Option<Journal>>,
    path: PathBuf,
}

impl PyJournal {
    fn with<T>(&self, f: impl FnOnce(&mut Journal) -> crate::Result<T>) -> PyResult<T> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| PyErr::from(Error::Internal("journal lock".into())))?;
        let journal = guard.as_mut().ok_or_else(|| {
            PyErr::from(Error::Storage(format!("{} is closed", self.path.display())))
        })?;
        f(journal).into_py_result()
    }
}

#[pymethods]
impl PyJournal {
    /// Opens `path` for writing (`read_only=False`, taking the writer's lock) or reading.
    #[new]
    #[pyo3(signature = (path, *, read_only=false, sync="normal"))]
    fn new(py: Python<'_>, path: PathBuf, read_only: bool, sync: &str) -> PyResult<Self> {
        let sync = match sync {
            "normal" => Sync::Normal,
            "full" => Sync::Full,
            other => {
                return Err(Error::invalid(
                    "sync",
                    format!("{other:?}"),
                    "expected \"normal\" or \"full\"",
                )
                .into())
            }
        };
        let p = path.clone();
        let journal = detached(py, move || {
            if read_only {
                Journal::open_read_only(&p)
            } else {
                Journal::open(&p, sync)
            }
        })?;
        Ok(PyJournal {
            inner: Mutex::new(Some(journal)),
            path,
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Closes the file and releases the writer's lock.
    fn close(&self) -> PyResult<()> {
        if let Ok(mut g) = self.inner.lock() {
            g.take();
        }
        Ok(())
    }

    fn studies(&self) -> PyResult<Vec<StudyTuple>> {
        self.with(|j| Ok(j.studies()?.into_iter().map(study_tuple).collect()))
    }

    fn study(&self, name: &str) -> PyResult<Option<StudyTuple>> {
        self.with(|j| Ok(j.study(name)?.map(study_tuple)))
    }

    fn require_study(&self, name: &str) -> PyResult<StudyTuple> {
        self.with(|j| Ok(study_tuple(j.require_study(name)?)))
    }

    #[pyo3(signature = (name, direction, searcher, searcher_state, created))]
    fn create_study(
        &self,
        name: &str,
        direction: &str,
        searcher: &str,
        searcher_state: Option<&str>,
        created: f64,
    ) -> PyResult<i64> {
        self.with(|j| j.create_study(name, direction, searcher, searcher_state, created))
    }

    fn set_study_attrs(&self, study_id: i64, attrs: &str) -> PyResult<()> {
        self.with(|j| j.set_study_attrs(study_id, attrs))
    }

    fn trials(&self, study_id: i64) -> PyResult<Vec<TrialTuple>> {
        self.with(|j| {
            Ok(j.trials(study_id)?
                .into_iter()
                .map(|t| {
                    (
                        t.number,
                        t.point_id,
                        t.state,
                        t.params,
                        t.value,
                        t.start,
                        t.duration,
                        t.intermediate,
                        t.error,
                        t.attrs,
                    )
                })
                .collect())
        })
    }

    /// Writes trials and the searcher state in one transaction.
    #[pyo3(signature = (study_id, trials, searcher_state=None))]
    fn write_trials(
        &self,
        study_id: i64,
        trials: Vec<TrialTuple>,
        searcher_state: Option<&str>,
    ) -> PyResult<()> {
        let records: Vec<TrialRecord> = trials
            .into_iter()
            .map(|t| TrialRecord {
                number: t.0,
                point_id: t.1,
                state: t.2,
                params: t.3,
                value: t.4,
                start: t.5,
                duration: t.6,
                intermediate: t.7,
                error: t.8,
                attrs: t.9,
            })
            .collect();
        self.with(|j| j.write_trials(study_id, &records, searcher_state))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyJournal>()
}
