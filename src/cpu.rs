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
use crate::error::{Error, Result};
use crate::tensor::element_count;

/// ReLU forward.
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

/// Leaky ReLU forward: `x > 0 ? x : s * x`, the product rounded once to `T`.
pub fn leaky_relu<T: Element>(x: &[T], negative_slope: f32) -> Vec<T> {
    x.iter()
        .map(|&v| scale_unless_positive(v, v, negative_slope))
        .collect()
}

/// Leaky ReLU backward: `x > 0 ? g : s * g` (`s` at `x = 0`).
pub fn leaky_relu_backward<T: Element>(x: &[T], grad_y: &[T], negative_slope: f32) -> Vec<T> {
    zip_map(x, grad_y, |x, g| {
        scale_unless_positive(x, g, negative_slope)
    })
}

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

/// `x > 0 ? v : scale * v`, the product computed in f32 and rounded once.
fn scale_unless_positive<T: Element>(x: T, v: T, scale: f32) -> T {
    if x.to_f32() > 0.0 {
        v
    } else {
        T::from_f32(mul(scale, v.to_f32()))
    }
}

/// `scale * value` in f32, with the NaN of a NaN result fixed: the NaN
/// operand quieted (the value's first), or x86's default NaN (0xffc00000)
/// for `0 · ±inf`. The hardware does the same, but a product the compiler
/// folds at build time gives other NaNs; this does not depend on that.
fn mul(scale: f32, value: f32) -> f32 {
    let product = scale * value;
    if !product.is_nan() {
        product
    } else if value.is_nan() {
        f32::from_bits(value.to_bits() | 0x0040_0000)
    } else if scale.is_nan() {
        f32::from_bits(scale.to_bits() | 0x0040_0000)
    } else {
        f32::from_bits(0xffc0_0000)
    }
}

fn zip_map<T: Element>(x: &[T], grad_y: &[T], f: impl Fn(T, T) -> T) -> Vec<T> {
    x.iter().zip(grad_y).map(|(&x, &g)| f(x, g)).collect()
}

/// Which weight an element uses: `(i / inner) % channels`, or 0 for a
/// shared weight.
pub(crate) struct Channels {
    pub(crate) channels: usize,
    pub(crate) inner: usize,
}

impl Channels {
    /// Checks the axis and the weight length against the shape.
    pub(crate) fn new(
        shape: &[usize],
        len: usize,
        weight_len: usize,
        channel_axis: usize,
    ) -> Result<Self> {
        if element_count(shape)? != len {
            return Err(Error::Shape(format!(
                "shape {shape:?} does not hold {len} elements"
            )));
        }
        let Some(&axis_len) = shape.get(channel_axis) else {
            return Err(Error::InvalidWeight(format!(
                "channel_axis {channel_axis} is out of range for a tensor of rank {}; \
                 use 1 for NCHW or rank - 1 for channels-last",
                shape.len()
            )));
        };
        if weight_len != 1 && weight_len != axis_len {
            return Err(Error::InvalidWeight(format!(
                "the weight has {weight_len} elements but must have 1 (one shared slope) or \
                 {axis_len} (one per channel along axis {channel_axis} of shape {shape:?})"
            )));
        }
        let inner = element_count(&shape[channel_axis + 1..])?;
        Ok(Self {
            channels: weight_len,
            inner: inner.max(1),
        })
    }

    pub(crate) fn of(&self, index: usize) -> usize {
        (index / self.inner) % self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product's NaN is the same whether the compiler folds it or the
    /// processor computes it.
    #[test]
    fn product_nans_do_not_depend_on_constant_folding() {
        let folded = leaky_relu(&[f32::NEG_INFINITY], 0.0)[0];
        let computed = leaky_relu(
            &[std::hint::black_box(f32::NEG_INFINITY)],
            std::hint::black_box(0.0),
        )[0];
        assert_eq!(folded.to_bits(), 0xffc0_0000);
        assert_eq!(computed.to_bits(), 0xffc0_0000);
        // A NaN operand comes out quieted, its sign and payload kept.
        let snan = f32::from_bits(0xff81_2345);
        assert_eq!(leaky_relu(&[snan], 0.5)[0].to_bits(), 0xffc1_2345);
        assert_eq!(mul(f32::from_bits(0x7f80_0001), 2.0).to_bits(), 0x7fc0_0001);
    }

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
