//! ferrotune's core: search spaces, sampling, grids, searchers and the trial journal.
//!
//! Everything here is plain Rust with no Python in it; the Python bindings live in
//! [`bindings`] and are compiled only with the `python` feature.

pub mod augment;
pub mod cg;
pub mod error;
pub mod folds;
pub mod grid;
pub mod rng;
pub mod search;
pub mod sobol;
mod sobol_table;
pub mod space;
pub mod special;
pub mod store;

#[cfg(feature = "python")]
mod bindings;

pub use error::{Error, Result};
