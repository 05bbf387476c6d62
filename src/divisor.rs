//! Division by a run-time constant as a multiply and two shifts.
//!
//! The kernels divide element indices by the channel-run length, the
//! channel count and the tile count to find an element's channel. Those
//! divisors are the same for a whole dispatch, so the host turns each into
//! a "magic" multiplier and shifts (Granlund & Montgomery, *Division by
//! Invariant Integers using Multiplication*, 1994) and the shader computes
//! `n / d` as `div_by(n, d)` in src/common/index.wgsl. A vector integer
//! division is what a SIMD software rasteriser runs one lane at a time,
//! and GPUs emulate it in a long instruction sequence; the multiply-shift
//! stays a few vector instructions on both.

/// `d` packed for `div_by` in src/common/index.wgsl: `[magic, sh1 | sh2 << 8]`.
///
/// With `l = ceil(log2 d)`: `magic = floor(2^32 * (2^l - d) / d) + 1`,
/// `sh1 = min(l, 1)`, `sh2 = max(l - 1, 0)`, and for every `n: u32`,
/// `t = (magic * n) >> 32`, `n / d = (t + ((n - t) >> sh1)) >> sh2`.
/// `d = 0` packs as `[0, 0]`: a field the kernel does not divide by.
pub(crate) fn pack(d: u32) -> [u32; 2] {
    if d == 0 {
        return [0, 0];
    }
    let l = 32 - (d - 1).leading_zeros();
    let d = u64::from(d);
    // 2^l - d < d <= 2^32: the product fits 64 bits, and the quotient is
    // below 2^32 - 1 unless d is a power of two (then it is 0).
    let magic = ((1u64 << 32) * ((1u64 << l) - d) / d + 1) as u32;
    let (sh1, sh2) = (l.min(1), l.saturating_sub(1));
    [magic, sh1 | (sh2 << 8)]
}

/// `n / d` from `pack(d)`, the same arithmetic as the shader's `div_by`.
#[cfg(test)]
fn div_by(n: u32, [magic, shifts]: [u32; 2]) -> u32 {
    let t = ((u64::from(magic) * u64::from(n)) >> 32) as u32;
    (t + ((n - t) >> (shifts & 0xff))) >> (shifts >> 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Divisors and numerators at the edges: powers of two and their
    /// neighbours, the largest values, and the products of the two.
    fn edges() -> Vec<u32> {
        let mut v = vec![1, 2, 3, 5, 6, 7, 9, 10, 25, 49, 641, 1000, 6_700_417];
        for k in 1..32 {
            let p = 1u32 << k;
            v.extend([p - 1, p, p + 1]);
        }
        v.extend([
            u32::MAX - 1,
            u32::MAX,
            0x8000_0001,
            0x7fff_ffff,
            0xaaaa_aaab,
        ]);
        v
    }

    #[test]
    fn quotients_match_integer_division_at_the_edges() {
        let edges = edges();
        for &d in &edges {
            let packed = pack(d);
            let mut numerators = edges.clone();
            numerators.extend([0, d - 1, d, d.wrapping_add(1)]);
            for k in 1..64u64 {
                // Around each multiple k * d that fits.
                let m = u64::from(d) * k;
                if m < 1 << 32 {
                    numerators.extend([m - 1, m].map(|m| m as u32));
                    numerators.push((m as u32).wrapping_add(1));
                }
                numerators.push((u64::from(u32::MAX) / k) as u32);
            }
            for &n in &numerators {
                assert_eq!(div_by(n, packed), n / d, "{n} / {d}");
            }
        }
    }

    #[test]
    fn quotients_match_integer_division_for_random_pairs() {
        // xorshift64: fixed seed, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000_000 {
            let r = next();
            // Divisors of every magnitude: a random bit length, then bits.
            let d = ((r >> 32) as u32 >> (r % 32)).max(1);
            let n = next() as u32;
            assert_eq!(div_by(n, pack(d)), n / d, "{n} / {d}");
        }
    }

    #[test]
    fn zero_packs_as_unused() {
        assert_eq!(pack(0), [0, 0]);
        assert_eq!(pack(1), [1, 0]);
    }
}
