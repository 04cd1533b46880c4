//! Searchers: deterministic ask/tell state machines.
//!
//! A searcher proposes points by id; the study runs them and tells back what came out. Every
//! searcher's state serialises to JSON, so a study resumes exactly where it stopped.

pub mod grid;
pub mod random;

pub use grid::GridSearcher;

pub use random::RandomSearcher;

/// What a searcher answers when asked for the next point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Evaluate point `id`.
    Point(u64),
    /// Nothing to propose until pending points are told.
    Wait,
    /// The search is over.
    Done,
}

/// A queue of point ids handed out in order, with ids given back (by a crashed worker or a
/// dead driver) handed out again first. Shared by the searchers that walk an index sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// The next fresh id.
    pub next: u64,
    /// Ids to hand out again before fresh ones, oldest first.
    pub requeued: std::collections::VecDeque<u64>,
    /// Ids handed out and not told yet.
    pub pending: std::collections::BTreeSet<u64>,
}

impl Cursor {
    /// The next id below `limit` (if any), marked pending.
    pub fn take(&mut self, limit: Option<u64>) -> Ask {
        let id = if let Some(id) = self.requeued.pop_front() {
            id
        } else if limit.is_none_or(|l| self.next < l) {
            self.next += 1;
            self.next - 1
        } else if self.pending.is_empty() {
            return Ask::Done;
        } else {
            return Ask::Wait;
        };
        self.pending.insert(id);
        Ask::Point(id)
    }

    /// Marks `id` finished. Returns false if it was not pending.
    pub fn finish(&mut self, id: u64) -> bool {
        self.pending.remove(&id)
    }

    /// Gives `id` back to be handed out again.
    pub fn requeue(&mut self, id: u64) {
        self.pending.remove(&id);
        if !self.requeued.contains(&id) {
            self.requeued.push_back(id);
        }
    }
}

/// What the searchers that walk point ids share: finishing, requeueing and (de)serialising.
pub trait IdWalker: serde::Serialize + serde::de::DeserializeOwned {
    /// The walker's cursor.
    fn cursor(&mut self) -> &mut Cursor;

    /// Records that `id` finished (a told value does not steer these searchers). Returns
    /// false if `id` was not pending.
    fn tell(&mut self, id: u64) -> bool {
        self.cursor().finish(id)
    }

    /// Hands `id` out again at the next ask.
    fn requeue(&mut self, id: u64) {
        self.cursor().requeue(id)
    }

    /// The state as JSON.
    fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string(self).map_err(|e| crate::Error::Internal(e.to_string()))
    }

    /// Restores a state written by [`IdWalker::to_json`].
    fn from_json(text: &str) -> crate::Result<Self> {
        Ok(serde_json::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_hands_out_requeued_first_and_ends() {
        let mut c = Cursor::default();
        assert_eq!(c.take(Some(3)), Ask::Point(0));
        assert_eq!(c.take(Some(3)), Ask::Point(1));
        c.requeue(0);
        assert_eq!(c.take(Some(3)), Ask::Point(0));
        assert_eq!(c.take(Some(3)), Ask::Point(2));
        assert_eq!(c.take(Some(3)), Ask::Wait);
        for id in 0..3 {
            assert!(c.finish(id));
        }
        assert!(!c.finish(1));
        assert_eq!(c.take(Some(3)), Ask::Done);
    }
}
