//! ReLU on the CPU: PyTorch's semantics, bit for bit.

use crate::element::Element;
use crate::mask::{bit, pack};
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

/// The mask ReLU's forward writes ([`Mask`](crate::Mask) has the layout):
/// the bit of element `i` set where ReLU's backward takes `grad_y`, `!(x <=
/// 0)`: `x > 0` or NaN.
pub fn relu_mask<T: Element>(x: &[T]) -> Vec<u32> {
    // `!(x <= 0)`, not `x > 0`: NaN compares false.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pack(x.len(), |i| !(x[i].to_f32() <= 0.0))
}

/// ReLU backward from its mask: `grad_y` where the bit is set, else +0.
/// Equal, bit for bit, to [`relu_backward`] at the forward's input.
pub fn relu_backward_from_mask<T: Element>(mask: &[u32], grad_y: &[T]) -> Vec<T> {
    (0..grad_y.len())
        .map(|i| match bit(mask, i) {
            true => grad_y[i],
            false => T::from_f32(0.0),
        })
        .collect()
}

/// ReLU backward from its output `y`: `y <= 0 ? 0 : g`. Equal, bit for bit,
/// to [`relu_backward`] at the input, since `y <= 0` exactly where `x <= 0`
/// (`y` is NaN where `x` is).
pub fn relu_backward_from_output<T: Element>(y: &[T], grad_y: &[T]) -> Vec<T> {
    relu_backward(y, grad_y)
}
