//! PReLU on the CPU: PyTorch's semantics, bit for bit; the weight gradient
//! accumulated in f64.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::semantics::scale_unless_positive;
use crate::shape::Channels;

/// PReLU forward: `x > 0 ? x : w[c] * x`, where `c` is the index along
/// `channel_axis` of `shape`, and `weight` has length 1 or `shape[channel_axis]`.
pub fn prelu<T: Element>(
    x: &[T],
    shape: &[usize],
    weight: &[T],
    channel_axis: usize,
) -> Result<Vec<T>> {
    let channels = Channels::new(shape, x.len(), weight.len(), channel_axis)?;
    Ok(x.iter()
        .enumerate()
        .map(|(i, &v)| scale_unless_positive(v, v, weight[channels.of(i)].to_f32()))
        .collect())
}

/// PReLU backward: `(grad_x, grad_weight)`, with `grad_x = x > 0 ? g : w[c] * g`
/// and the weight gradient of [`prelu_weight_grad`] rounded to `T`.
pub fn prelu_backward<T: Element>(
    x: &[T],
    grad_y: &[T],
    shape: &[usize],
    weight: &[T],
    channel_axis: usize,
) -> Result<(Vec<T>, Vec<T>)> {
    let channels = Channels::new(shape, x.len(), weight.len(), channel_axis)?;
    if grad_y.len() != x.len() {
        return Err(Error::ShapeMismatch {
            what: "grad_y",
            actual: vec![grad_y.len()],
            expected: vec![x.len()],
        });
    }
    let grad_x = x
        .iter()
        .zip(grad_y)
        .enumerate()
        .map(|(i, (&x, &g))| scale_unless_positive(x, g, weight[channels.of(i)].to_f32()))
        .collect();
    let grad_w = prelu_weight_grad(x, grad_y, shape, weight.len(), channel_axis)?
        .into_iter()
        .map(|sum| T::from_f32(sum as f32))
        .collect();
    Ok((grad_x, grad_w))
}

/// PReLU weight gradient in f64: `Σ (x > 0 ? 0 : x * g)` over every element
/// of each channel (over all elements when `weight_len` is 1).
pub fn prelu_weight_grad<T: Element>(
    x: &[T],
    grad_y: &[T],
    shape: &[usize],
    weight_len: usize,
    channel_axis: usize,
) -> Result<Vec<f64>> {
    per_channel_sums(x, grad_y, shape, weight_len, channel_axis, |x, g| {
        // Not `x <= 0`: NaN must contribute, as in the kernels.
        if x.partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater) {
            0.0
        } else {
            x * g
        }
    })
}

/// `Σ |x * g|` per channel in f64: the scale of the weight gradient's
/// rounding error, for tolerances.
pub fn prelu_weight_grad_magnitude<T: Element>(
    x: &[T],
    grad_y: &[T],
    shape: &[usize],
    weight_len: usize,
    channel_axis: usize,
) -> Result<Vec<f64>> {
    per_channel_sums(x, grad_y, shape, weight_len, channel_axis, |x, g| {
        (x * g).abs()
    })
}

/// `Σ term(x, g)` over each channel's elements, in f64.
fn per_channel_sums<T: Element>(
    x: &[T],
    grad_y: &[T],
    shape: &[usize],
    weight_len: usize,
    channel_axis: usize,
    term: impl Fn(f64, f64) -> f64,
) -> Result<Vec<f64>> {
    let channels = Channels::new(shape, x.len(), weight_len, channel_axis)?;
    let mut sums = vec![0.0f64; weight_len];
    for (i, (&x, &g)) in x.iter().zip(grad_y).enumerate() {
        sums[channels.of(i)] += term(f64::from(x.to_f32()), f64::from(g.to_f32()));
    }
    Ok(sums)
}
