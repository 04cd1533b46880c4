//! Fold assignment for cross-validation, and three-way train/validation/test splits.
//!
//! Every function returns an assignment: one small integer per sample (its test fold, or its
//! part of a split), from which the caller takes index arrays. Without shuffling the folds are
//! those of scikit-learn's `KFold` and `StratifiedKFold`; with shuffling the permutation comes
//! from the counter-based [`Philox`] generator, so a seed gives the same folds on every
//! platform and in every process.

use crate::rng::Philox;
use crate::{Error, Result};

/// Philox stream of fold shuffles (other modules use other streams).
const FOLD_STREAM: u32 = 0x0F01_D5ED;
/// Philox stream of train/validation/test splits.
const SPLIT_STREAM: u32 = 0x5B17_0003;

/// Checks `n_splits` against the number of samples.
fn check_splits(n_samples: usize, n_splits: usize) -> Result<()> {
    if n_splits < 2 {
        return Err(Error::invalid(
            "n_splits",
            n_splits,
            "cross-validation needs at least 2 folds",
        ));
    }
    if n_samples == 0 {
        return Err(Error::invalid("X", "0 samples", "the data set is empty"));
    }
    if n_splits > n_samples {
        return Err(Error::invalid(
            "n_splits",
            n_splits,
            format!("cannot be greater than the number of samples ({n_samples})"),
        ));
    }
    Ok(())
}

/// A uniform integer in `0..bound` (bound >= 1) from 64 random bits (multiply-shift; the bias
/// is below 2**-40 for any realistic data set size).
#[inline]
fn below(bits: u64, bound: usize) -> usize {
    ((u128::from(bits) * bound as u128) >> 64) as usize
}

/// Shuffles `items` in place with Fisher-Yates; swap `i` draws from sample `i` of `rng`.
pub fn shuffle<T>(items: &mut [T], rng: &Philox) {
    for i in (1..items.len()).rev() {
        let j = below(rng.bits(i as u64, 0), i + 1);
        items.swap(i, j);
    }
}

/// Sizes of the `n_splits` folds of `n` samples: the first `n % n_splits` folds one larger.
pub fn fold_sizes(n: usize, n_splits: usize) -> Vec<usize> {
    let (base, extra) = (n / n_splits, n % n_splits);
    (0..n_splits)
        .map(|k| base + usize::from(k < extra))
        .collect()
}

/// K-fold: contiguous blocks of sizes [`fold_sizes`], over the samples in order (scikit-learn's
/// `KFold(shuffle=False)`) or over a Philox permutation of them when `seed` is given.
///
/// Returns the test fold of each sample.
pub fn kfold(n_samples: usize, n_splits: usize, seed: Option<u64>) -> Result<Vec<u32>> {
    check_splits(n_samples, n_splits)?;
    let mut order: Vec<usize> = (0..n_samples).collect();
    if let Some(seed) = seed {
        shuffle(&mut order, &Philox::new(seed, FOLD_STREAM));
    }

    let mut assign = vec![0u32; n_samples];
    let mut start = 0;
    for (k, size) in fold_sizes(n_samples, n_splits).into_iter().enumerate() {
        for &i in &order[start..start + size] {
            assign[i] = k as u32;
        }
        start += size;
    }
    Ok(assign)
}

/// Number of members of each class; labels must be `0..n_classes`.
fn class_counts(labels: &[u32], n_classes: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0usize; n_classes];
    for &c in labels {
        match counts.get_mut(c as usize) {
            Some(n) => *n += 1,
            None => {
                return Err(Error::invalid(
                    "y",
                    c,
                    format!("encoded labels must lie in 0..{n_classes}"),
                ))
            }
        }
    }
    Ok(counts)
}

/// Stratified K-fold, as scikit-learn's `StratifiedKFold`.
///
/// `labels` are class codes `0..n_classes`, numbered by order of first appearance. The
/// samples sorted by class are dealt round-robin to the folds, which fixes how many members of
/// each class every fold gets; each class's members then fill the folds in blocks, in data
/// order (or, with a seed, in a shuffled order of fold slots per class).
///
/// Every class needs at least `n_splits` members: otherwise some validation fold would hold
/// none of it, and scores on that fold could not be compared with the others.
pub fn stratified_kfold(
    labels: &[u32],
    n_classes: usize,
    n_splits: usize,
    seed: Option<u64>,
) -> Result<Vec<u32>> {
    check_splits(labels.len(), n_splits)?;
    let counts = class_counts(labels, n_classes)?;
    if let Some((class, &least)) = counts.iter().enumerate().min_by_key(|&(_, &n)| n) {
        if least < n_splits {
            return Err(Error::invalid(
                "n_splits",
                n_splits,
                format!(
                    "cannot be greater than the number of members in each class; class \
                     number {class} (in order of appearance) has only {least}"
                ),
            ));
        }
    }

    // Fold slots per class: class k occupies positions [first, first + count) of the samples
    // sorted by class, and position p goes to fold p % n_splits.
    let mut slots: Vec<Vec<u32>> = Vec::with_capacity(n_classes);
    let mut first = 0usize;
    for (k, &count) in counts.iter().enumerate() {
        let mut per_fold = vec![0usize; n_splits];
        for p in first..first + count {
            per_fold[p % n_splits] += 1;
        }
        first += count;
        let mut class_slots: Vec<u32> = Vec::with_capacity(count);
        for (fold, &m) in per_fold.iter().enumerate() {
            class_slots.extend(std::iter::repeat_n(fold as u32, m));
        }
        if let Some(seed) = seed {
            let stream = FOLD_STREAM.wrapping_add(1 + k as u32);
            shuffle(&mut class_slots, &Philox::new(seed, stream));
        }
        slots.push(class_slots);
    }

    // Members of each class take their class's slots in data order.
    let mut next = vec![0usize; n_classes];
    let mut assign = Vec::with_capacity(labels.len());
    for &c in labels {
        let c = c as usize;
        assign.push(slots[c][next[c]]);
        next[c] += 1;
    }
    Ok(assign)
}

/// Part of each sample in a three-way split.
pub const TRAIN: u8 = 0;
pub const VAL: u8 = 1;
pub const TEST: u8 = 2;

/// Splits `Σ counts` into parts of total `target` in proportion to `counts`: floors first, then
/// one more to the largest remainders (ties to the larger class, then the earlier one), never
/// more than a class has.
fn proportional(counts: &[usize], target: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return vec![0; counts.len()];
    }
    let mut out: Vec<usize> = counts.iter().map(|&c| c * target / total).collect();
    let mut left = target - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = (counts[a] * target) % total;
        let rb = (counts[b] * target) % total;
        rb.cmp(&ra).then(counts[b].cmp(&counts[a])).then(a.cmp(&b))
    });
    while left > 0 {
        let mut moved = false;
        for &k in &order {
            if left == 0 {
                break;
            }
            if out[k] < counts[k] {
                out[k] += 1;
                left -= 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    out
}

/// A shuffled three-way split: `n_val` samples to validation, `n_test` to test, the rest to
/// training. With `labels` (codes `0..n_classes`) every part keeps the class proportions as
/// closely as whole samples allow.
///
/// Returns [`TRAIN`], [`VAL`] or [`TEST`] for each sample.
pub fn three_way_split(
    n_samples: usize,
    n_val: usize,
    n_test: usize,
    labels: Option<(&[u32], usize)>,
    seed: u64,
) -> Result<Vec<u8>> {
    if n_samples == 0 {
        return Err(Error::invalid("X", "0 samples", "the data set is empty"));
    }
    if n_val + n_test >= n_samples {
        return Err(Error::invalid(
            "val + test",
            format!("{n_val} + {n_test} samples"),
            format!("must leave at least one of the {n_samples} samples for training"),
        ));
    }
    let mut assign = vec![TRAIN; n_samples];

    let Some((labels, n_classes)) = labels else {
        let mut order: Vec<usize> = (0..n_samples).collect();
        shuffle(&mut order, &Philox::new(seed, SPLIT_STREAM));
        for &i in &order[..n_test] {
            assign[i] = TEST;
        }
        for &i in &order[n_test..n_test + n_val] {
            assign[i] = VAL;
        }
        return Ok(assign);
    };

    if labels.len() != n_samples {
        return Err(Error::invalid(
            "y",
            format!("{} labels", labels.len()),
            format!("must have one label per sample ({n_samples})"),
        ));
    }
    let counts = class_counts(labels, n_classes)?;
    for (arg, n) in [("test", n_test), ("val", n_val)] {
        if n > 0 && n < n_classes {
            return Err(Error::invalid(
                arg,
                format!("{n} samples"),
                format!("a stratified split needs at least one sample per class ({n_classes})"),
            ));
        }
    }
    if let Some(least) = counts.iter().copied().min() {
        if least < 2 && n_val + n_test > 0 {
            return Err(Error::invalid(
                "y",
                "a class with a single member",
                "a stratified split needs at least 2 members of each class",
            ));
        }
    }

    // Test takes its share of each class first, then validation of what is left.
    let test_per_class = proportional(&counts, n_test);
    let rest: Vec<usize> = counts
        .iter()
        .zip(&test_per_class)
        .map(|(c, t)| c - t)
        .collect();
    let val_per_class = proportional(&rest, n_val);

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in labels.iter().enumerate() {
        members[c as usize].push(i);
    }
    for (k, idx) in members.iter_mut().enumerate() {
        let stream = SPLIT_STREAM.wrapping_add(1 + k as u32);
        shuffle(idx, &Philox::new(seed, stream));
        let (t, v) = (test_per_class[k], val_per_class[k]);
        for &i in &idx[..t] {
            assign[i] = TEST;
        }
        for &i in &idx[t..t + v] {
            assign[i] = VAL;
        }
    }
    Ok(assign)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folds_of(assign: &[u32], k: u32) -> Vec<usize> {
        (0..assign.len()).filter(|&i| assign[i] == k).collect()
    }

    #[test]
    fn kfold_matches_sklearn_blocks() {
        // sklearn: KFold(3).split(range(10)) tests [0..4), [4..7), [7..10).
        let a = kfold(10, 3, None).unwrap();
        assert_eq!(folds_of(&a, 0), vec![0, 1, 2, 3]);
        assert_eq!(folds_of(&a, 1), vec![4, 5, 6]);
        assert_eq!(folds_of(&a, 2), vec![7, 8, 9]);
    }

    #[test]
    fn stratified_matches_sklearn_example() {
        // sklearn: StratifiedKFold(2) on y = [0, 0, 1, 1]: tests [0, 2] and [1, 3].
        let a = stratified_kfold(&[0, 0, 1, 1], 2, 2, None).unwrap();
        assert_eq!(folds_of(&a, 0), vec![0, 2]);
        assert_eq!(folds_of(&a, 1), vec![1, 3]);
        // y = [0]*6 + [1]*4 (codes by appearance), 3 folds: sklearn gives
        // tests [0, 1, 6, 7], [2, 3, 8], [4, 5, 9].
        let y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
        let a = stratified_kfold(&y, 2, 3, None).unwrap();
        assert_eq!(folds_of(&a, 0), vec![0, 1, 6, 7]);
        assert_eq!(folds_of(&a, 1), vec![2, 3, 8]);
        assert_eq!(folds_of(&a, 2), vec![4, 5, 9]);
    }

    #[test]
    fn shuffled_folds_are_a_partition_and_reproducible() {
        let a = kfold(103, 5, Some(7)).unwrap();
        assert_eq!(a, kfold(103, 5, Some(7)).unwrap());
        assert_ne!(a, kfold(103, 5, Some(8)).unwrap());
        let sizes: Vec<usize> = (0..5).map(|k| folds_of(&a, k).len()).collect();
        assert_eq!(sizes, fold_sizes(103, 5));

        let y: Vec<u32> = (0..60).map(|i| (i % 3 == 0) as u32).collect();
        let s = stratified_kfold(&y, 2, 4, Some(1)).unwrap();
        assert_eq!(s, stratified_kfold(&y, 2, 4, Some(1)).unwrap());
        for k in 0..4 {
            let members: Vec<usize> = folds_of(&s, k);
            let ones = members.iter().filter(|&&i| y[i] == 1).count();
            assert_eq!(ones, 5);
        }
    }

    #[test]
    fn bad_fold_counts_are_errors() {
        assert!(kfold(3, 4, None).is_err());
        assert!(kfold(0, 2, None).is_err());
        assert!(kfold(10, 1, None).is_err());
        assert!(stratified_kfold(&[0, 0, 0, 1], 2, 2, None).is_err());
        assert!(stratified_kfold(&[0, 5], 2, 2, None).is_err());
    }

    #[test]
    fn three_way_split_sizes_and_strata() {
        let a = three_way_split(100, 15, 15, None, 3).unwrap();
        assert_eq!(a.iter().filter(|&&p| p == VAL).count(), 15);
        assert_eq!(a.iter().filter(|&&p| p == TEST).count(), 15);

        let y: Vec<u32> = (0..100).map(|i| u32::from(i < 20)).collect();
        let a = three_way_split(100, 20, 10, Some((&y, 2)), 3).unwrap();
        let count =
            |part: u8, class: u32| (0..100).filter(|&i| a[i] == part && y[i] == class).count();
        assert_eq!((count(TEST, 1), count(TEST, 0)), (2, 8));
        assert_eq!((count(VAL, 1), count(VAL, 0)), (4, 16));
        assert!(three_way_split(10, 5, 5, None, 0).is_err());
        assert!(three_way_split(0, 0, 0, None, 0).is_err());
    }

    #[test]
    fn proportional_hits_the_target() {
        for target in 0..=30 {
            let out = proportional(&[7, 13, 10], target);
            assert_eq!(out.iter().sum::<usize>(), target);
        }
    }
}
