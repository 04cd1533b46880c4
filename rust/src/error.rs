//! The one error type of the core. The bindings convert each variant into its own Python
//! exception class (see `bindings/errors.rs`); nothing in the core panics on user input.

use std::fmt;

/// Result alias used across the core.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A user-supplied argument has a bad value. `arg` names it, `value` quotes it.
    #[error("{arg}: {reason} (got {value})")]
    InvalidArgument {
        arg: String,
        value: String,
        reason: String,
    },
    /// A user-supplied argument has a type that cannot be used.
    #[error("{arg} must be {expected}, got {value}")]
    InvalidType {
        arg: String,
        value: String,
        expected: String,
    },
    /// An index past the end of a sequence (a grid point, a sample).
    #[error("{what} index {index} is out of range for length {len}")]
    IndexOutOfRange {
        what: String,
        index: i128,
        len: u128,
    },
    /// The journal could not be read or written.
    #[error("storage: {0}")]
    Storage(String),
    /// A file exists but is not a ferrotune journal.
    #[error("{path} is not a ferrotune study journal: {reason}")]
    NotAJournal { path: String, reason: String },
    /// A journal written by an incompatible version.
    #[error(
        "{path} was written by journal format {found}, this ferrotune reads format {expected}"
    )]
    IncompatibleJournal {
        path: String,
        found: i64,
        expected: i64,
    },
    /// A named study is missing from a journal.
    #[error("no study named {name:?} in {path}; studies there: {available}")]
    StudyNotFound {
        name: String,
        path: String,
        available: String,
    },
    /// A trial was told twice, or is unknown.
    #[error("{0}")]
    TrialState(String),
    /// A searcher's saved state could not be restored.
    #[error("searcher state: {0}")]
    State(String),
    /// A bug in ferrotune itself, never the user's fault.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(
        arg: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            arg: arg.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::State(e.to_string())
    }
}
