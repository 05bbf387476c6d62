//! What to compute: the activation and its parameters, and what backward
//! returns.

use crate::device::Gpu;
use crate::element::{Dtype, Element};
use crate::engine::elementwise::{Operands, Watch};
use crate::engine::Prepared;
use crate::error::{Error, Result};
use crate::mask::Mask;
use crate::shape::Channels;
use crate::stats::{ActivityMonitor, Counter};
use crate::tensor::Tensor;
use crate::training::Saved;
use crate::validate::{check_overlap, operand};
use crate::{leaky_relu, prelu, relu, rrelu};

/// An activation of the ReLU family, with its parameters.
///
/// | op | forward `y` | backward `grad_x` |
/// | --- | --- | --- |
/// | `Relu` | `x < 0 ? 0 : x` (NaN and −0 pass through) | `x <= 0 ? 0 : g` (`g` at NaN) |
/// | `LeakyRelu` | `x > 0 ? x : s·x` | `x > 0 ? g : s·g` |
/// | `Prelu` | `x > 0 ? x : w[c]·x` | `x > 0 ? g : w[c]·g` |
/// | `Rrelu`, training | `x <= 0 ? a·x : x` | `x <= 0 ? a·g : g` |
/// | `Rrelu`, evaluation | Leaky ReLU with `s = (lower + upper) / 2` | the same |
///
/// These are PyTorch's, bit for bit, comparisons being IEEE (NaN compares
/// false, so RReLU in training passes a NaN `x` forward and `g` backward,
/// as PyTorch's `rrelu_with_noise` does). A value passed through keeps its
/// exact bits; a NaN made by a product may be any NaN. PReLU's backward
/// also gives the weight gradient `Σ (x > 0 ? 0 : x·g)` over every element
/// of channel `c`. RReLU's slope `a` is drawn per element (see
/// [`RreluMode::Training`]).
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
    /// Randomised leaky ReLU (Xu et al. 2015), PyTorch's `nn.RReLU`: in
    /// training every non-positive element has its own slope from
    /// `[lower, upper)`, in evaluation the mean slope. Bounds must be finite
    /// with `lower <= upper` (PyTorch's defaults: 1/8 and 1/3).
    Rrelu {
        /// The smallest slope.
        lower: f32,
        /// The slopes lie below it (or equal `lower`, where the two are equal).
        upper: f32,
        /// Training (random slopes) or evaluation (the mean slope).
        mode: RreluMode,
    },
}

/// RReLU's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RreluMode {
    /// Random slopes, a pure function of `(seed, stream, element index)`:
    /// element `i` of the tensor takes word `i % 4` of Philox-4×32-10 at
    /// counter `[i / 4, 0, stream]` under key `seed` (each as two `u32`
    /// words, low first), and its slope is `lower + u · (upper − lower)`
    /// with `u = (word >> 8) · 2⁻²⁴`, each operation in f32 rounded once,
    /// capped at the largest f32 below `upper`
    /// ([`cpu::rrelu_slopes`](crate::cpu::rrelu_slopes)). So the backward
    /// with the same seed and stream regenerates the forward's slopes —
    /// nothing is stored between them — and they are the same on every
    /// adapter, at every offset, chunking and vector width, for f32 and f16
    /// (where the product with the f32 slope is rounded once to f16). Give
    /// each layer its own `stream` (or seed), and each training step a new
    /// seed or stream for fresh noise.
    Training {
        /// Philox's key.
        seed: u64,
        /// The third and fourth counter words: one stream per layer or call.
        stream: u64,
    },
    /// Leaky ReLU with the slope `(lower + upper) / 2`, computed in f64 and
    /// rounded to f32 as PyTorch does.
    Evaluation,
}

impl<T: Element> Activation<'_, T> {
    /// A short name for logs, labels and benchmark tables.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Prelu { .. } => "prelu",
            Activation::Rrelu { .. } => "rrelu",
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
    /// The monitor a forward counts into.
    pub(crate) monitor: Option<&'t ActivityMonitor>,
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
        let engine = gpu.engine();
        let counter = match call.monitor {
            Some(monitor) => Some(Counter::new(monitor, call.output.shape())?),
            None => None,
        };
        let count = |bits: &wgpu::Buffer, start, len| match &counter {
            Some(counter) => counter.dispatches(engine, bits, start, len),
            None => Ok(Vec::new()),
        };
        let ops = Operands {
            watch: counter.as_ref().map(|_| Watch { count: &count }),
            ..operands(call)
        };
        match *self {
            Activation::Relu => relu::dispatches(engine, ops),
            Activation::LeakyRelu { negative_slope } => {
                leaky_relu::dispatches(engine, ops, negative_slope)
            }
            Activation::Rrelu { lower, upper, mode } => {
                let bounds = rrelu::Bounds::new(lower, upper)?;
                match mode {
                    RreluMode::Training { seed, stream } => {
                        rrelu::dispatches(engine, ops, &bounds, seed, stream)
                    }
                    RreluMode::Evaluation => {
                        leaky_relu::dispatches(engine, ops, rrelu::Bounds::mean(lower, upper))
                    }
                }
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
            (
                Activation::Rrelu {
                    mode: RreluMode::Training { .. },
                    ..
                },
                _,
            ) if call.mask.is_some() || !matches!(call.saved, Saved::Input(_)) => Some(
                "RReLU in training goes back from x alone: where its slope is 0, y is NaN \
                     at x = -inf, and its forward writes no mask"
                    .to_string(),
            ),
            (
                Activation::Rrelu {
                    mode: RreluMode::Evaluation,
                    lower,
                    upper,
                },
                Saved::Output(_),
            ) if backward && rrelu::Bounds::mean(lower, upper) < 0.0 => Some(format!(
                "RReLU in evaluation with the negative mean slope {} cannot go back from \
                     its output: y > 0 also where x < 0",
                rrelu::Bounds::mean(lower, upper)
            )),
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

/// The operands of an element-wise op for `call`.
fn operands<'a, T: Element>(call: &Call<'a, T>) -> Operands<'a> {
    let (x, saved_mask) = match call.saved {
        Saved::Input(t) | Saved::Output(t) => (Some(operand(t, call.saved.name())), None),
        Saved::Mask(m) => (None, Some(m)),
    };
    let y_name = match call.grad_y {
        Some(_) => "grad_x",
        None => "y",
    };
    Operands {
        dtype: Dtype::of::<T>(),
        len: call.output.len() as u64,
        x,
        g: call.grad_y.map(|g| operand(g, "grad_y")),
        y: operand(call.output, y_name),
        mask: call
            .mask
            .or(saved_mask)
            .map(|m| operand(m.words(), "the mask")),
        accumulate: call.accumulate,
        watch: None,
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
