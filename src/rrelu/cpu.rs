//! RReLU on the CPU: Philox-4×32-10 and the slopes bit for bit the
//! kernels', and PyTorch's semantics.

use crate::element::Element;
use crate::error::Result;
use crate::semantics::mul;

use super::Bounds;

/// Philox-4×32-10 (Random123's `philox4x32(ctr, key)`, ten rounds): the
/// four 32-bit words for `counter` under `key`, as the kernels compute them.
///
/// ```
/// // Random123's known answers (kat_vectors):
/// assert_eq!(
///     wgpu_relu::cpu::philox4x32_10([0; 4], [0; 2]),
///     [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
/// );
/// ```
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    const M: [u64; 2] = [0xD251_1F53, 0xCD9E_8D57];
    const W: [u32; 2] = [0x9E37_79B9, 0xBB67_AE85];
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W[0]), k[1].wrapping_add(W[1])];
        }
        let p0 = M[0] * u64::from(c[0]);
        let p1 = M[1] * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// The training slopes of elements `first..first + len` of a tensor: for
/// element `i`, word `i % 4` of Philox at counter `[i / 4, 0, stream as two
/// words (low first)]` and key `seed` (two words, low first), `bits`, gives
/// `u = (bits >> 8) · 2⁻²⁴` and the slope `min(lower + u · (upper − lower),
/// the largest f32 below upper)`, each operation in f32 rounded once
/// (`lower` itself where `lower == upper`). The bounds must be finite with
/// `lower <= upper`, else [`Error::InvalidBounds`](crate::Error::InvalidBounds).
pub fn rrelu_slopes(
    first: usize,
    len: usize,
    lower: f32,
    upper: f32,
    seed: u64,
    stream: u64,
) -> Result<Vec<f32>> {
    let bounds = Bounds::new(lower, upper)?;
    let key = [seed as u32, (seed >> 32) as u32];
    let (s0, s1) = (stream as u32, (stream >> 32) as u32);
    Ok((first..first + len)
        .map(|i| {
            let words = philox4x32_10([(i / 4) as u32, 0, s0, s1], key);
            bounds.slope(words[i % 4])
        })
        .collect())
}

/// RReLU forward with the given slopes (one per element, from
/// [`rrelu_slopes`]; or the mean slope for every element in evaluation,
/// where RReLU is `cpu::leaky_relu`): PyTorch's
/// training rule `x <= 0 ? a · x : x`, the product rounded once to `T`.
/// NaN is not `<= 0`: it passes through.
pub fn rrelu_with_slopes<T: Element>(x: &[T], slopes: &[f32]) -> Vec<T> {
    x.iter()
        .zip(slopes)
        .map(|(&v, &a)| pass_unless_non_positive(v, v, a))
        .collect()
}

/// RReLU backward with the forward's slopes: `x <= 0 ? a · g : g` (`g` at
/// NaN `x`).
pub fn rrelu_backward_with_slopes<T: Element>(x: &[T], grad_y: &[T], slopes: &[f32]) -> Vec<T> {
    x.iter()
        .zip(grad_y)
        .zip(slopes)
        .map(|((&x, &g), &a)| pass_unless_non_positive(x, g, a))
        .collect()
}

/// `x <= 0 ? a · v : v`, `v` with its bits where it passes.
fn pass_unless_non_positive<T: Element>(x: T, v: T, a: f32) -> T {
    if x.to_f32() <= 0.0 {
        T::from_f32(mul(a, v.to_f32()))
    } else {
        v
    }
}
