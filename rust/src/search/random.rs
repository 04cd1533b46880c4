//! Random and quasi-random search: point id `i` is sample `i` of the space under the seed, so
//! the points do not depend on how many run at once, nor on whether the study was resumed.

use serde::{Deserialize, Serialize};

use super::{Ask, Cursor};
use crate::error::{Error, Result};
use crate::space::Sequence;

/// Random (or Sobol) search over a space: its state is only where it is in the sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomSearcher {
    pub seed: u64,
    pub sequence: Sequence,
    cursor: Cursor,
}

impl RandomSearcher {
    /// A searcher drawing sample ids 0, 1, 2, ... of `sequence` under `seed`.
    pub fn new(seed: u64, sequence: Sequence) -> Self {
        RandomSearcher {
            seed,
            sequence,
            cursor: Cursor::default(),
        }
    }

    /// The next sample id; random search never runs out.
    pub fn ask(&mut self) -> Ask {
        self.cursor.take(None)
    }

    /// Records that `id` finished (its value does not steer random search). Returns false if
    /// `id` was not pending.
    pub fn tell(&mut self, id: u64) -> bool {
        self.cursor.finish(id)
    }

    /// Hands `id` out again at the next ask.
    pub fn requeue(&mut self, id: u64) {
        self.cursor.requeue(id)
    }

    /// The state as JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Restores a state written by [`RandomSearcher::to_json`].
    pub fn from_json(text: &str) -> Result<Self> {
        Ok(serde_json::from_str(text)?)
    }
}
