//! The trial journal: an embedded SQLite file (WAL) with one writer, the study driver.
//!
//! Every state change of a trial is one transaction that also carries the searcher's state, so
//! a reopened study knows exactly which points were handed out and which finished. A sidecar
//! lock file, held for as long as the journal is open for writing, keeps a second live driver
//! out; readers (`ferrotune show`) open it read-only and need no lock.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::{Error, Result};

/// The journal format this build reads and writes.
pub const FORMAT: i64 = 1;
const APPLICATION: &str = "ferrotune";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    searcher TEXT NOT NULL,
    searcher_state TEXT,
    attrs TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    point_id INTEGER,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    value REAL,
    start REAL,
    duration REAL,
    intermediate TEXT,
    error TEXT,
    attrs TEXT,
    PRIMARY KEY (study_id, number)
);
";

/// A study's row.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRecord {
    pub id: i64,
    pub name: String,
    pub direction: String,
    pub searcher: String,
    pub searcher_state: Option<String>,
    pub attrs: String,
    pub created: f64,
}

/// A trial's row. JSON columns stay text: the Python layer owns their meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRecord {
    pub number: i64,
    pub point_id: Option<i64>,
    pub state: String,
    pub params: String,
    pub value: Option<f64>,
    pub start: Option<f64>,
    pub duration: Option<f64>,
    pub intermediate: Option<String>,
    pub error: Option<String>,
    pub attrs: Option<String>,
}

/// How hard each commit insists on reaching the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// WAL with `synchronous=NORMAL`: survives a crash of the process, may lose the last
    /// commits on power loss. The default.
    Normal,
    /// WAL with `synchronous=FULL`: every commit survives power loss too.
    Full,
}

/// An open journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    _lock: Option<File>,
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn not_a_journal(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAJournal {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl Journal {
    /// Opens (creating if missing) the journal at `path` for writing, holding its lock.
    pub fn open(path: &Path, sync: Sync) -> Result<Self> {
        if path.is_dir() {
            return Err(not_a_journal(path, "it is a directory"));
        }
        let existed = path.exists() && path.metadata().map(|m| m.len() > 0).unwrap_or(false);
        if existed {
            check_header(path)?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .map_err(|e| {
                Error::Storage(format!("cannot create {}: {e}", lock_path(path).display()))
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Storage(format!(
                    "{} is open in another live study driver (its lock file {} is held); \
                     a journal has exactly one writer, so close the other study first",
                    path.display(),
                    lock_path(path).display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Storage(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )))
            }
        }
        let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let sync_mode = match sync {
            Sync::Normal => "NORMAL",
            Sync::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync_mode}; PRAGMA foreign_keys=ON;"
        ))
        .map_err(|e| open_error(path, e))?;
        let journal = Journal {
            conn,
            path: path.to_owned(),
            _lock: Some(lock),
        };
        journal.init_schema(existed)?;
        Ok(journal)
    }

    /// Opens an existing journal read-only, without the writer's lock.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Err(not_a_journal(path, "it is a directory"));
        }
        if !path.is_file() {
            return Err(not_a_journal(path, "no such file"));
        }
        check_header(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let journal = Journal {
            conn,
            path: path.to_owned(),
            _lock: None,
        };
        journal.check_meta()?;
        Ok(journal)
    }

    fn init_schema(&self, existed: bool) -> Result<()> {
        let has_meta: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| open_error(&self.path, e))?
            > 0;
        if existed && !has_meta {
            let tables: i64 =
                self.conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if tables > 0 {
                return Err(not_a_journal(
                    &self.path,
                    "it is an SQLite database without ferrotune's tables",
                ));
            }
        }
        if has_meta {
            return self.check_meta();
        }
        self.conn.execute_batch(SCHEMA)?;
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('application', ?1), ('format', ?2)",
            params![APPLICATION, FORMAT.to_string()],
        )?;
        Ok(())
    }

    fn check_meta(&self) -> Result<()> {
        let get = |key: &str| -> Result<Option<String>> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| not_a_journal(&self.path, e.to_string()))
        };
        if get("application")?.as_deref() != Some(APPLICATION) {
            return Err(not_a_journal(&self.path, "it has no ferrotune marker"));
        }
        let format: i64 = get("format")?.and_then(|f| f.parse().ok()).unwrap_or(-1);
        if format != FORMAT {
            return Err(Error::IncompatibleJournal {
                path: self.path.display().to_string(),
                found: format,
                expected: FORMAT,
            });
        }
        Ok(())
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every study, in creation order.
    pub fn studies(&self) -> Result<Vec<StudyRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, direction, searcher, searcher_state, attrs, created
             FROM studies ORDER BY id",
        )?;
        let rows = stmt.query_map([], study_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The study named `name`, if any.
    pub fn study(&self, name: &str) -> Result<Option<StudyRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, direction, searcher, searcher_state, attrs, created
                 FROM studies WHERE name = ?1",
                [name],
                study_row,
            )
            .optional()?)
    }

    /// The study named `name`, or a [`Error::StudyNotFound`] listing the ones there are.
    pub fn require_study(&self, name: &str) -> Result<StudyRecord> {
        match self.study(name)? {
            Some(s) => Ok(s),
            None => {
                let names: Vec<String> = self
                    .studies()?
                    .into_iter()
                    .map(|s| format!("{:?}", s.name))
                    .collect();
                Err(Error::StudyNotFound {
                    name: name.to_owned(),
                    path: self.path.display().to_string(),
                    available: if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    },
                })
            }
        }
    }

    /// Creates a study and returns its id.
    pub fn create_study(
        &mut self,
        name: &str,
        direction: &str,
        searcher: &str,
        searcher_state: Option<&str>,
        created: f64,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO studies (name, direction, searcher, searcher_state, created)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, direction, searcher, searcher_state, created],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Replaces a study's user attributes (JSON text).
    pub fn set_study_attrs(&mut self, study_id: i64, attrs: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE studies SET attrs = ?1 WHERE id = ?2",
            params![attrs, study_id],
        )?;
        Ok(())
    }

    /// Every trial of a study, by number.
    pub fn trials(&self, study_id: i64) -> Result<Vec<TrialRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT number, point_id, state, params, value, start, duration, intermediate,
                    error, attrs
             FROM trials WHERE study_id = ?1 ORDER BY number",
        )?;
        let rows = stmt.query_map([study_id], |r| {
            Ok(TrialRecord {
                number: r.get(0)?,
                point_id: r.get(1)?,
                state: r.get(2)?,
                params: r.get(3)?,
                value: r.get(4)?,
                start: r.get(5)?,
                duration: r.get(6)?,
                intermediate: r.get(7)?,
                error: r.get(8)?,
                attrs: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes (inserts or replaces) trials and, in the same transaction, the searcher state.
    pub fn write_trials(
        &mut self,
        study_id: i64,
        trials: &[TrialRecord],
        searcher_state: Option<&str>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO trials (study_id, number, point_id, state, params, value,
                     start, duration, intermediate, error, attrs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for t in trials {
                stmt.execute(params![
                    study_id,
                    t.number,
                    t.point_id,
                    t.state,
                    t.params,
                    t.value,
                    t.start,
                    t.duration,
                    t.intermediate,
                    t.error,
                    t.attrs
                ])?;
            }
            if let Some(state) = searcher_state {
                tx.prepare_cached("UPDATE studies SET searcher_state = ?1 WHERE id = ?2")?
                    .execute(params![state, study_id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

fn study_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StudyRecord> {
    Ok(StudyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        direction: r.get(2)?,
        searcher: r.get(3)?,
        searcher_state: r.get(4)?,
        attrs: r.get(5)?,
        created: r.get(6)?,
    })
}

/// Rejects files that are not SQLite databases before SQLite gets to them.
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(|e| Error::Storage(format!("cannot read {}: {e}", path.display())))?;
    let n = f.read(&mut head).unwrap_or(0);
    if n == 0 {
        return Err(not_a_journal(
            path,
            "it is empty (no study was ever stored in it)",
        ));
    }
    if n < 16 || &head != b"SQLite format 3\0" {
        return Err(not_a_journal(path, "it is not an SQLite file"));
    }
    Ok(())
}

fn open_error(path: &Path, e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            not_a_journal(path, "it is not an SQLite file")
        }
        other => Error::Storage(format!("{}: {other}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: i64, state: &str) -> TrialRecord {
        TrialRecord {
            number,
            point_id: Some(number),
            state: state.into(),
            params: "{\"x\": 1}".into(),
            value: Some(0.5),
            start: Some(1.0),
            duration: Some(0.1),
            intermediate: None,
            error: None,
            attrs: None,
        }
    }

    #[test]
    fn round_trip_and_reopen() {
        let dir = std::env::temp_dir().join(format!("ft-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db");
        let _ = std::fs::remove_file(&path);
        {
            let mut j = Journal::open(&path, Sync::Normal).unwrap();
            let id = j.create_study("s", "minimize", "{}", None, 0.0).unwrap();
            j.write_trials(id, &[trial(0, "RUNNING")], Some("{\"n\": 1}"))
                .unwrap();
            j.write_trials(id, &[trial(0, "COMPLETE"), trial(1, "RUNNING")], None)
                .unwrap();
            assert!(
                Journal::open(&path, Sync::Normal).is_err(),
                "second writer refused"
            );
        }
        let j = Journal::open(&path, Sync::Normal).unwrap();
        let s = j.require_study("s").unwrap();
        assert_eq!(s.searcher_state.as_deref(), Some("{\"n\": 1}"));
        let t = j.trials(s.id).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].state, "COMPLETE");
        assert!(matches!(
            j.require_study("nope"),
            Err(Error::StudyNotFound { .. })
        ));
        drop(j);
        let r = Journal::open_read_only(&path).unwrap();
        assert_eq!(r.studies().unwrap().len(), 1);

        let text = dir.join("t.txt");
        std::fs::write(&text, "hello, this is not sqlite at all").unwrap();
        assert!(matches!(
            Journal::open(&text, Sync::Normal),
            Err(Error::NotAJournal { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
