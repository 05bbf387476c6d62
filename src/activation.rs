//! What to compute: the activation and its parameters, and what backward
//! returns.

use crate::device::Gpu;
use crate::element::Element;
use crate::engine::Prepared;
use crate::error::{Error, Result};
use crate::mask::Mask;
use crate::shape::Channels;
use crate::tensor::Tensor;
use crate::training::Saved;
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

/// The tensors of one call: what a forward reads (`saved` is then its
/// input `x`) or a backward goes back from, `grad_y` for a backward, the
/// output (`y` or `grad_x`), the mask a forward writes beside `y`, and
/// PReLU's weight gradient where asked for. The op layer has checked them
/// against each other; the family checks its own parameters.
pub(crate) struct Call<'t, T: Element> {
    pub(crate) saved: Saved<'t, T>,
    pub(crate) grad_y: Option<&'t Tensor<T>>,
    pub(crate) output: &'t Tensor<T>,
    pub(crate) mask: Option<&'t Mask>,
    pub(crate) grad_weight: Option<&'t Tensor<T>>,
    /// A backward adds to `output` (and `grad_weight`).
    pub(crate) accumulate: bool,
}

impl<T: Element> Activation<'_, T> {
    /// The family's dispatches for `call`: the one place that goes from the
    /// public enum to the family modules.
    pub(crate) fn dispatches(&self, gpu: &Gpu, call: &Call<'_, T>) -> Result<Vec<Prepared>> {
        if call.grad_weight.is_some() && !matches!(self, Activation::Prelu { .. }) {
            return Err(Error::InvalidWeight(format!(
                "{} has no weight, so it has no weight gradient: pass grad_weight = None",
                self.name()
            )));
        }
        self.check_saved(call)?;
        let ops = operands(call);
        let engine = gpu.engine();
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
                // The output is shaped like x.
                let out = call.output;
                let channels = Channels::new(out.shape(), out.len(), weight.len(), channel_axis)?;
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
                let mut inputs = vec![(call.output, "grad_x"), (weight, "the weight")];
                inputs.extend(call.grad_y.map(|g| (g, "grad_y")));
                if let Saved::Input(x) = call.saved {
                    inputs.push((x, "x"));
                }
                for (t, name) in inputs {
                    check_overlap(t, name, grad_w, "grad_weight", false)?;
                }
                let grad_w = operand(grad_w, "grad_weight");
                prelu::weight_grad::dispatches(engine, ops, w, grad_w, &channels)
            }
        }
    }

    /// An error where the family cannot go back from what `call` kept, or
    /// a forward asks for a mask the family's backward cannot use.
    fn check_saved(&self, call: &Call<'_, T>) -> Result<()> {
        let backward = call.grad_y.is_some();
        let refusal = match (*self, call.saved) {
            (Activation::Prelu { .. }, _) if call.mask.is_some() => Some(
                "PReLU's forward writes no mask: its backward needs x for the weight gradient"
                    .to_string(),
            ),
            (Activation::Prelu { .. }, Saved::Mask(_)) => {
                Some("PReLU cannot go back from a mask: its weight gradient needs x".to_string())
            }
            (Activation::Prelu { .. }, Saved::Output(_)) => Some(
                "PReLU cannot go back from its output: where a weight is negative y > 0 \
                 although x < 0, and its weight gradient needs x"
                    .to_string(),
            ),
            (Activation::LeakyRelu { negative_slope }, Saved::Output(_))
                if backward && negative_slope < 0.0 =>
            {
                Some(format!(
                    "Leaky ReLU with negative_slope {negative_slope} cannot go back from its \
                     output: with a negative slope y > 0 also where x < 0"
                ))
            }
            _ => None,
        };
        match refusal {
            Some(reason) => Err(Error::NeedsInput(reason)),
            None => Ok(()),
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
