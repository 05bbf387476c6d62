//! Leaky ReLU on the CPU: PyTorch's semantics, bit for bit.

use crate::element::Element;
use crate::semantics::{scale_unless_positive, zip_map};

/// Leaky ReLU forward: `x > 0 ? x : s * x`, the product rounded once to `T`.
pub fn leaky_relu<T: Element>(x: &[T], negative_slope: f32) -> Vec<T> {
    x.iter()
        .map(|&v| scale_unless_positive(v, v, negative_slope))
        .collect()
}

/// Leaky ReLU backward: `x > 0 ? g : s * g` (`s * g` at `x = 0` and at NaN).
pub fn leaky_relu_backward<T: Element>(x: &[T], grad_y: &[T], negative_slope: f32) -> Vec<T> {
    zip_map(x, grad_y, |x, g| {
        scale_unless_positive(x, g, negative_slope)
    })
}
