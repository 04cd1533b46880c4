//! A counter-based random number generator: Philox4x32 with ten rounds (Salmon et al.,
//! "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
//!
//! Draw `j` of sample `i` is a pure function of `(seed, i, j)`, so any sample can be produced
//! on its own, in any order, on any thread, and always comes out the same.

const MUL0: u32 = 0xD251_1F53;
const MUL1: u32 = 0xCD9E_8D57;
const WEYL0: u32 = 0x9E37_79B9;
const WEYL1: u32 = 0xBB67_AE85;

/// The Philox4x32-10 bijection of a 128-bit counter under a 64-bit key.
#[inline]
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = counter;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(WEYL0);
            k1 = k1.wrapping_add(WEYL1);
        }
        let p0 = u64::from(MUL0) * u64::from(c0);
        let p1 = u64::from(MUL1) * u64::from(c2);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
    }
    [c0, c1, c2, c3]
}

/// Turns 64 random bits into a double strictly inside (0, 1), with 53 bits of resolution.
#[inline]
pub fn open_unit(bits: u64) -> f64 {
    // Through i64: the value fits in 53 bits, and a signed conversion is one instruction.
    (((bits >> 11) as i64) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// A stream of uniform draws keyed by a seed and a stream number.
#[derive(Clone, Copy, Debug)]
pub struct Philox {
    key: [u32; 2],
    stream: u32,
}

impl Philox {
    /// A generator for `seed`; different `stream` values give independent families of draws
    /// (sampling, shuffling, scrambling each use their own).
    pub fn new(seed: u64, stream: u32) -> Self {
        Philox {
            key: [seed as u32, (seed >> 32) as u32],
            stream,
        }
    }

    /// Two independent uniforms in (0, 1): draws `2 * pair` and `2 * pair + 1` of sample `index`.
    #[inline]
    pub fn uniform_pair(&self, index: u64, pair: u32) -> (f64, f64) {
        let out = philox4x32(
            [index as u32, (index >> 32) as u32, pair, self.stream],
            self.key,
        );
        let a = (u64::from(out[0]) << 32) | u64::from(out[1]);
        let b = (u64::from(out[2]) << 32) | u64::from(out[3]);
        (open_unit(a), open_unit(b))
    }

    /// Draw `draw` of sample `index`, uniform in (0, 1).
    #[inline]
    pub fn uniform(&self, index: u64, draw: u32) -> f64 {
        let (a, b) = self.uniform_pair(index, draw / 2);
        if draw.is_multiple_of(2) {
            a
        } else {
            b
        }
    }

    /// 64 raw random bits for `(index, word)`.
    #[inline]
    pub fn bits(&self, index: u64, word: u32) -> u64 {
        let out = philox4x32(
            [index as u32, (index >> 32) as u32, word, self.stream],
            self.key,
        );
        (u64::from(out[0]) << 32) | u64::from(out[1])
    }
}

/// The SplitMix64 output function (Steele, Lea and Flood, OOPSLA 2014): a bijective 64-bit
/// mixer whose outputs over a Weyl sequence pass BigCrush.
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The generator behind bulk sampling: draw `j` of sample `i` is the SplitMix64 stream seeded
/// by a hash of `(seed, i)`, read at position `j`. It is counter-based like [`Philox`] (any
/// draw can be computed on its own) and costs one mix per draw, about a tenth of Philox's
/// ten rounds, which matters when a million samples are drawn at once.
#[derive(Clone, Copy, Debug)]
pub struct SampleStream {
    key: u64,
}

impl SampleStream {
    /// The stream family for `seed`.
    pub fn new(seed: u64) -> Self {
        SampleStream {
            key: splitmix64(seed ^ 0x5851_F42D_4C95_7F2D),
        }
    }

    /// The starting point of sample `index`'s draws.
    #[inline]
    pub fn row(&self, index: u64) -> u64 {
        splitmix64(self.key ^ splitmix64(index.wrapping_add(GOLDEN)))
    }

    /// Draw `draw` of the sample whose [`SampleStream::row`] is `row`, uniform in (0, 1).
    #[inline]
    pub fn uniform(row: u64, draw: u64) -> f64 {
        open_unit(splitmix64(
            row.wrapping_add(draw.wrapping_add(1).wrapping_mul(GOLDEN)),
        ))
    }

    /// Draws `2 * pair` and `2 * pair + 1` of a sample at 32-bit resolution (as fine as a
    /// Sobol point's), both from one mix: half the cost of two [`SampleStream::uniform`].
    #[inline]
    pub fn uniform_pair(row: u64, pair: u64) -> (f64, f64) {
        let bits = SampleStream::pair_bits(row, pair);
        (unit32((bits >> 32) as u32), unit32(bits as u32))
    }

    /// The 64 bits behind [`SampleStream::uniform_pair`]: the high half gives the first
    /// uniform, the low half the second (see [`unit32`]).
    #[inline(always)]
    pub fn pair_bits(row: u64, pair: u64) -> u64 {
        splitmix64(row.wrapping_add(pair.wrapping_add(1).wrapping_mul(GOLDEN)))
    }
}

/// `(x + 0.5) / 2^32`, the midpoint of the x-th of 2^32 equal cells of (0, 1), exactly.
///
/// Built in the bits of a double in [1, 2) (x and the half go into the top 33 mantissa bits)
/// minus one, which is exact: integer operations and one subtraction, so that loops over
/// many values vectorise even where the instruction set has no integer-to-double conversion
/// for 64-bit lanes.
#[inline(always)]
pub fn unit32(x: u32) -> f64 {
    const ONE: u64 = 0x3FF0_0000_0000_0000;
    f64::from_bits(ONE | (u64::from(x) << 20) | (1 << 19)) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_stream_is_uniform_and_decorrelated() {
        let s = SampleStream::new(7);
        let n = 200_000u64;
        let (mut sum, mut cross) = (0.0, 0.0);
        for i in 0..n {
            let r = s.row(i);
            let (a, b) = (SampleStream::uniform(r, 0), SampleStream::uniform(r, 1));
            let next = SampleStream::uniform(s.row(i + 1), 0);
            assert!(a > 0.0 && a < 1.0);
            sum += a;
            cross += (a - 0.5) * (b - 0.5) + (a - 0.5) * (next - 0.5);
        }
        assert!((sum / n as f64 - 0.5).abs() < 0.003);
        assert!(
            (cross / n as f64).abs() < 0.002,
            "correlated draws: {cross}"
        );
        assert_ne!(SampleStream::new(1).row(0), SampleStream::new(2).row(0));
    }

    #[test]
    fn unit32_is_the_cell_midpoint() {
        for x in [0u32, 1, 2, 12_345, 1 << 31, u32::MAX - 1, u32::MAX] {
            assert_eq!(unit32(x), (f64::from(x) + 0.5) / 4_294_967_296.0, "x={x}");
        }
        assert!(unit32(0) > 0.0 && unit32(u32::MAX) < 1.0);
    }

    #[test]
    fn philox_known_answer() {
        // Known-answer vectors published with the Random123 library.
        assert_eq!(
            philox4x32([0; 4], [0; 2]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn uniforms_are_open_and_reproducible() {
        let g = Philox::new(42, 0);
        let mut sum = 0.0;
        for i in 0..10_000u64 {
            let u = g.uniform(i, 3);
            assert!(u > 0.0 && u < 1.0);
            assert_eq!(u, Philox::new(42, 0).uniform(i, 3));
            sum += u;
        }
        let mean = sum / 10_000.0;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        assert_ne!(g.uniform(0, 0), Philox::new(43, 0).uniform(0, 0));
        assert_ne!(g.uniform(0, 0), Philox::new(42, 1).uniform(0, 0));
    }
}
