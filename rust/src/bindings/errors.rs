//! The one place where core errors become Python exceptions. The classes are declared in
//! `ferrotune/errors.py`, so Python code raises the very same ones.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::Error;

fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("ferrotune.errors")
            .and_then(|m| m.getattr(class))
            .and_then(|cls| cls.call1(PyTuple::new(py, [message.clone()])?));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        }
    })
}

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        let class = match &e {
            Error::InvalidArgument { .. } => "InvalidArgumentError",
            Error::InvalidType { .. } => "InvalidTypeError",
            Error::IndexOutOfRange { .. } => "IndexOutOfRangeError",
            Error::Storage(_) => "StorageError",
            Error::NotAJournal { .. } => "NotAJournalError",
            Error::IncompatibleJournal { .. } => "IncompatibleJournalError",
            Error::StudyNotFound { .. } => "StudyNotFoundError",
            Error::TrialState(_) => "TrialStateError",
            Error::State(_) => "StateError",
            Error::Internal(_) => "InternalError",
        };
        raise(class, e.to_string())
    }
}

/// `result.into_py_result()` converts a core result for returning to Python.
pub(crate) trait IntoPyResult<T> {
    fn into_py_result(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for crate::Result<T> {
    fn into_py_result(self) -> PyResult<T> {
        self.map_err(PyErr::from)
    }
}
