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

pub use crate::leaky_relu::cpu::{leaky_relu, leaky_relu_backward};
pub use crate::prelu::cpu::{
    prelu, prelu_backward, prelu_weight_grad, prelu_weight_grad_magnitude,
};
pub use crate::relu::cpu::{relu, relu_backward};

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
