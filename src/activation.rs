//! What to compute: the activation and its parameters, and what backward
//! returns.

use crate::device::Gpu;
use crate::element::Element;
use crate::engine::Prepared;
use crate::error::{Error, Result};
use crate::shape::Channels;
use crate::tensor::Tensor;
use crate::validate::{check_overlap, operand, operands};
use crate::{leaky_relu, prelu, relu};

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

/// The tensors of one call: `x`, `grad_y` for a backward, the output (`y`
/// or `grad_x`), and PReLU's weight gradient where asked for. The op layer
/// has checked them against each other; the family checks its own
/// parameters.
pub(crate) struct Call<'t, T: Element> {
    pub(crate) x: &'t Tensor<T>,
    pub(crate) grad_y: Option<&'t Tensor<T>>,
    pub(crate) output: &'t Tensor<T>,
    pub(crate) grad_weight: Option<&'t Tensor<T>>,
}

impl<T: Element> Activation<'_, T> {
    /// The family's dispatches for `call`: the one place that goes from the
    /// public enum to the family modules.
    pub(crate) fn dispatches(&self, gpu: &Gpu, call: &Call<'_, T>) -> Result<Vec<Prepared>> {
        let output_name = match call.grad_y {
            Some(_) => "grad_x",
            None => "y",
        };
        let ops = operands(call.x, call.grad_y, call.output, output_name);
        let engine = gpu.engine();
        if call.grad_weight.is_some() && !matches!(self, Activation::Prelu { .. }) {
            return Err(Error::InvalidWeight(format!(
                "{} has no weight, so it has no weight gradient: pass grad_weight = None",
                self.name()
            )));
        }
        match *self {
            Activation::Relu => relu::dispatches(engine, ops),
            Activation::LeakyRelu { negative_slope } => {
                leaky_relu::dispatches(engine, ops, negative_slope)
            }
            Activation::Prelu {
                weight,
                channel_axis,
            } => {
                gpu.check_tensor(weight, "the weight", wgpu::BufferUsages::STORAGE)?;
                check_overlap(weight, "the weight", call.output, "the output", false)?;
                let x = call.x;
                let channels = Channels::new(x.shape(), x.len(), weight.len(), channel_axis)?;
                prelu::check_weight_size(engine, weight.byte_len())?;
                let w = operand(weight, "the weight");
                let Some(grad_w) = call.grad_weight else {
                    return prelu::dispatches(engine, ops, w, &channels);
                };
                gpu.check_tensor(grad_w, "grad_weight", wgpu::BufferUsages::STORAGE)?;
                if grad_w.len() != channels.channels {
                    return Err(Error::ShapeMismatch {
                        what: "grad_weight",
                        actual: grad_w.shape().to_vec(),
                        expected: vec![channels.channels],
                    });
                }
                let mut inputs = vec![(x, "x"), (call.output, "grad_x"), (weight, "the weight")];
                inputs.extend(call.grad_y.map(|g| (g, "grad_y")));
                for (t, name) in inputs {
                    check_overlap(t, name, grad_w, "grad_weight", false)?;
                }
                let grad_w = operand(grad_w, "grad_weight");
                prelu::weight_grad::dispatches(engine, ops, w, grad_w, &channels)
            }
        }
    }

    /// Marks PReLU's weight as recorded into an app's encoder: never to be
    /// reused (see `pool.rs`).
    pub(crate) fn escape(&self) {
        if let Activation::Prelu { weight, .. } = self {
            weight.escape();
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
