//! Leaky ReLU on the CPU: PyTorch's semantics, bit for bit.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::mask::{bit, pack};
use crate::semantics::{mul, scale_unless_positive, zip_map};

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

/// The mask Leaky ReLU's forward writes ([`Mask`](crate::Mask) has the
/// layout): the bit of element `i` set where `x > 0` (not at NaN).
pub fn leaky_relu_mask<T: Element>(x: &[T]) -> Vec<u32> {
    pack(x.len(), |i| x[i].to_f32() > 0.0)
}

/// Leaky ReLU backward from its mask: `grad_y` where the bit is set, else
/// `s * grad_y` rounded once. Equal, bit for bit, to
/// [`leaky_relu_backward`] at the forward's input.
pub fn leaky_relu_backward_from_mask<T: Element>(
    mask: &[u32],
    grad_y: &[T],
    negative_slope: f32,
) -> Vec<T> {
    (0..grad_y.len())
        .map(|i| match bit(mask, i) {
            true => grad_y[i],
            false => T::from_f32(mul(negative_slope, grad_y[i].to_f32())),
        })
        .collect()
}

/// Leaky ReLU backward from its output `y`: `y > 0 ? g : s * g`, for a
/// slope ≥ 0, where `y > 0` exactly where `x > 0` (so it equals
/// [`leaky_relu_backward`] at the input, bit for bit). A negative slope is
/// an [`Error::NeedsInput`], as on the GPU.
pub fn leaky_relu_backward_from_output<T: Element>(
    y: &[T],
    grad_y: &[T],
    negative_slope: f32,
) -> Result<Vec<T>> {
    if negative_slope < 0.0 {
        return Err(Error::NeedsInput(format!(
            "Leaky ReLU with negative_slope {negative_slope} cannot go back from its output"
        )));
    }
    Ok(leaky_relu_backward(y, grad_y, negative_slope))
}
