//! The CPU reference: the semantics of every kernel in plain Rust, the same
//! as PyTorch's. Tests hold the GPU to these functions.
//!
//! Element-wise results are computed in f32 and rounded once to the element
//! type, exactly as the kernels do, so they are bit-identical to the GPU's.
//! Comparisons are IEEE: NaN compares false, so `x > 0` is false for NaN.
//! A value passed through (ReLU's `x`, a selected gradient) is returned with
//! its very bits, signalling NaNs and f16 payloads included. A NaN made by a
//! product (NaN·s, 0·±inf) is fixed here as x86 makes it, whatever the
//! compiler folds, so the reference is deterministic; IEEE 754 leaves that
//! NaN open, and a GPU may give any NaN there.
//! The PReLU weight gradient is accumulated in f64.
//!
//! ```
//! use wgpu_relu::cpu;
//! assert_eq!(cpu::relu(&[-1.0f32, 0.5, f32::NEG_INFINITY]), vec![0.0, 0.5, 0.0]);
//! assert_eq!(cpu::leaky_relu(&[-2.0f32, 3.0], 0.1), vec![-0.2, 3.0]);
//! ```

use crate::element::Element;
use crate::semantics::{add, zip_map};

pub use crate::leaky_relu::cpu::{
    leaky_relu, leaky_relu_backward, leaky_relu_backward_from_mask,
    leaky_relu_backward_from_output, leaky_relu_mask,
};
pub use crate::prelu::cpu::{
    prelu, prelu_backward, prelu_weight_grad, prelu_weight_grad_magnitude,
};
pub use crate::relu::cpu::{
    relu, relu_backward, relu_backward_from_mask, relu_backward_from_output, relu_mask,
};
pub use crate::rrelu::cpu::{
    philox4x32_10, rrelu_backward_with_slopes, rrelu_slopes, rrelu_with_slopes,
};
pub use crate::stats::cpu::active_counts;

/// Bit `i` of a mask's words ([`Mask`](crate::Mask) has the layout);
/// `false` past their end.
pub fn mask_bit(mask: &[u32], i: usize) -> bool {
    crate::mask::bit(mask, i)
}

/// What an accumulating backward ([`GradOut::add_to`](crate::GradOut::add_to))
/// leaves: `old[i] + r[i]` in f32, rounded once to `T`, `r` being what the
/// overwriting backward writes. (For f16 that is the correctly rounded f16
/// sum: f32's 24 bits are at least 2 · 11 + 2, so rounding twice through
/// f32 rounds as once.) A NaN
/// sum's bits are fixed here as x86 makes them; a GPU may give any NaN.
pub fn accumulate<T: Element>(old: &[T], r: &[T]) -> Vec<T> {
    zip_map(old, r, |a, b| T::from_f32(add(a.to_f32(), b.to_f32())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values passed through keep their bits: ReLU's x (a signalling NaN,
    /// -0) and a selected gradient, in f32 and in f16.
    #[test]
    fn passed_values_keep_their_bits() {
        let snan = f32::from_bits(0x7f81_2345);
        assert_eq!(relu(&[snan, -0.0])[0].to_bits(), 0x7f81_2345);
        assert_eq!(relu(&[snan, -0.0])[1].to_bits(), 0x8000_0000);
        assert_eq!(
            relu_backward(&[f32::NAN], &[snan])[0].to_bits(),
            0x7f81_2345
        );
        assert_eq!(relu_backward(&[-0.0f32], &[snan])[0].to_bits(), 0);
        let h = half::f16::from_bits(0x7d55);
        let one = half::f16::ONE;
        assert_eq!(leaky_relu_backward(&[one], &[h], 0.1)[0].to_bits(), 0x7d55);
        assert_eq!(relu(&[h])[0].to_bits(), 0x7d55);
    }
}
