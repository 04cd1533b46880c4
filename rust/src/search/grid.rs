//! Grid search: every point of a grid exactly once, in grid order or in a seeded shuffle.

use serde::{Deserialize, Serialize};

use super::{Ask, Cursor, IdWalker};
use crate::grid::Permutation;

/// Walks the ids `0..n`; id `i` is grid point `i`, or `perm(i)` when shuffled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridSearcher {
    pub n: u64,
    pub shuffle_seed: Option<u64>,
    cursor: Cursor,
}

impl GridSearcher {
    /// A searcher over a grid of `n` points, shuffled when `shuffle_seed` is given.
    pub fn new(n: u64, shuffle_seed: Option<u64>) -> Self {
        GridSearcher {
            n,
            shuffle_seed,
            cursor: Cursor::default(),
        }
    }

    /// The next id, `Wait` while the last ones are out, `Done` when all are told.
    pub fn ask(&mut self) -> Ask {
        self.cursor.take(Some(self.n))
    }

    /// The grid index of id `id`.
    pub fn point_index(&self, id: u64) -> u64 {
        match self.shuffle_seed {
            Some(seed) => Permutation::new(self.n, seed).apply(id),
            None => id,
        }
    }
}

impl IdWalker for GridSearcher {
    fn cursor(&mut self) -> &mut Cursor {
        &mut self.cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffled_grid_visits_every_point_once_across_resume() {
        let mut s = GridSearcher::new(50, Some(4));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let Ask::Point(id) = s.ask() else { panic!() };
            assert!(seen.insert(s.point_index(id)));
            s.tell(id);
        }
        let mut s = GridSearcher::from_json(&s.to_json().unwrap()).unwrap();
        while let Ask::Point(id) = s.ask() {
            assert!(seen.insert(s.point_index(id)));
            s.tell(id);
        }
        assert_eq!(seen.len(), 50);
        assert_eq!(s.ask(), Ask::Done);
    }
}
