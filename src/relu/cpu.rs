//! ReLU on the CPU: PyTorch's semantics, bit for bit.

use crate::element::Element;
use crate::semantics::zip_map;

/// ReLU forward, PyTorch's `x < 0 ? 0 : x`: NaN and −0 pass through with
/// their bits, −inf gives +0.
pub fn relu<T: Element>(x: &[T]) -> Vec<T> {
    x.iter()
        .map(|&v| {
            if v.to_f32() < 0.0 {
                T::from_f32(0.0)
            } else {
                v
            }
        })
        .collect()
}

/// ReLU backward, PyTorch's `x <= 0 ? 0 : g`: zero at `x = ±0`, and `g`
/// where `x` is NaN (NaN compares false).
pub fn relu_backward<T: Element>(x: &[T], grad_y: &[T]) -> Vec<T> {
    zip_map(x, grad_y, |x, g| {
        if x.to_f32() <= 0.0 {
            T::from_f32(0.0)
        } else {
            g
        }
    })
}
