//! What to compute: the activation and its parameters, and what backward
//! returns.

use crate::element::Element;
use crate::tensor::Tensor;

/// An activation of the ReLU family, with its parameters.
///
/// | op | forward `y` | backward `grad_x` |
/// | --- | --- | --- |
/// | `Relu` | `x < 0 ? 0 : x` (NaN and −0 pass through) | `x <= 0 ? 0 : g` (`g` at NaN) |
/// | `LeakyRelu` | `x > 0 ? x : s·x` | `x > 0 ? g : s·g` |
/// | `Prelu` | `x > 0 ? x : w[c]·x` | `x > 0 ? g : w[c]·g` |
///
/// These are PyTorch's, bit for bit, comparisons being IEEE (NaN compares
/// false). A value passed through keeps its exact bits; a NaN made by a
/// product may be any NaN. PReLU's backward also gives the weight gradient
/// `Σ (x > 0 ? 0 : x·g)` over every element of channel `c`.
#[derive(Clone, Copy, Debug)]
pub enum Activation<'a, T: Element = f32> {
    /// `max(x, 0)`, with PyTorch's NaN behaviour.
    Relu,
    /// `x` where positive, `negative_slope · x` elsewhere. The slope must be
    /// finite; 0, negative and > 1 are all allowed.
    LeakyRelu {
        /// The slope for `x <= 0`.
        negative_slope: f32,
    },
    /// `x` where positive, `weight[c] · x` elsewhere, `c` being the index
    /// along `channel_axis`.
    Prelu {
        /// One shared slope (length 1) or one per channel (length
        /// `x.shape()[channel_axis]`).
        weight: &'a Tensor<T>,
        /// The channel dimension: 1 for NCHW as in PyTorch, the last axis for
        /// channels-last.
        channel_axis: usize,
    },
}

impl<T: Element> Activation<'_, T> {
    /// A short name for logs, labels and benchmark tables.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Prelu { .. } => "prelu",
        }
    }
}

/// What [`Gpu::backward`](crate::Gpu::backward) returns.
#[derive(Clone, Debug)]
pub struct Gradients<T: Element = f32> {
    /// The gradient with respect to the input, shaped like the input.
    pub input: Tensor<T>,
    /// The gradient with respect to the PReLU weight, shaped like the weight;
    /// `None` for the activations without one.
    pub weight: Option<Tensor<T>>,
}
