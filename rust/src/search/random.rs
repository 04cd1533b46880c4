//! Random and quasi-random search: point id `i` is sample `i` of the space under the seed, so
//! the points do not depend on how many run at once, nor on whether the study was resumed.

use serde::{Deserialize, Serialize};

use super::{Ask, Cursor, IdWalker};
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
}

impl IdWalker for RandomSearcher {
    fn cursor(&mut self) -> &mut Cursor {
        &mut self.cursor
    }
}
