//! What a forward writes besides `y`, what a backward goes back from, and
//! where and how a backward writes.

use crate::element::Element;
use crate::mask::Mask;
use crate::stats::ActivityMonitor;
use crate::tensor::Tensor;

/// Where a forward writes: `y`, and on the same pass over `x` the mask its
/// backward can go back from, the dead-unit statistics, or both.
///
/// ```
/// # use wgpu_relu::{ActivityMonitor, ForwardOut, Mask, Tensor};
/// # fn f(y: &Tensor, mask: &Mask, monitor: &ActivityMonitor) {
/// let out = ForwardOut::write(y).with_mask(mask).with_stats(monitor);
/// assert!(out.mask.is_some() && out.stats.is_some());
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ForwardOut<'t, T: Element = f32> {
    /// The output, shaped like `x`; it may be exactly `x`'s range (in
    /// place).
    pub y: &'t Tensor<T>,
    /// The 1-bit mask for the backward (ReLU and Leaky ReLU), of `x.len()`
    /// elements, overlapping neither `x` nor `y`.
    pub mask: Option<&'t Mask>,
    /// The monitor the forward adds each channel's active elements to.
    pub stats: Option<&'t ActivityMonitor>,
}

impl<'t, T: Element> ForwardOut<'t, T> {
    /// Writes `y` alone.
    pub fn write(y: &'t Tensor<T>) -> Self {
        ForwardOut {
            y,
            mask: None,
            stats: None,
        }
    }

    /// The same, and the mask.
    pub fn with_mask(self, mask: &'t Mask) -> Self {
        ForwardOut {
            mask: Some(mask),
            ..self
        }
    }

    /// The same, counting into `monitor`.
    pub fn with_stats(self, monitor: &'t ActivityMonitor) -> Self {
        ForwardOut {
            stats: Some(monitor),
            ..self
        }
    }
}

/// What the forward left for its backward: the backward's result is the
/// same, bit for bit, whichever the activation accepts.
///
/// | kept | bytes per element (f32) | ReLU | Leaky ReLU | PReLU |
/// | --- | --- | --- | --- | --- |
/// | `Input(x)` | 4 | yes | yes | yes |
/// | `Mask(m)` | 0.125 | yes | yes | no: the weight gradient needs `x` |
/// | `Output(y)` | 0 if the next layer keeps `y` anyway | yes | slope ≥ 0 | no |
///
/// Going back from the output works where `y > 0` exactly where `x > 0`:
/// ReLU (its NaN passes through, so `y` is NaN where `x` was), and Leaky
/// ReLU with a slope ≥ 0. With a negative slope `y > 0` where `x < 0` too,
/// and PReLU's weights may be negative: those are an
/// [`Error::NeedsInput`](crate::Error::NeedsInput), as PyTorch refuses the
/// same case. It is what makes an in-place forward usable in training.
/// RReLU in training goes back from `x` alone (where a slope is 0, `y` is
/// NaN at `x = −inf`); in evaluation it is Leaky ReLU with the mean slope,
/// and follows Leaky ReLU's rules.
#[derive(Clone, Copy, Debug)]
pub enum Saved<'t, T: Element = f32> {
    /// The forward's input `x`.
    Input(&'t Tensor<T>),
    /// The forward's output `y`.
    Output(&'t Tensor<T>),
    /// The mask the forward wrote
    /// ([`Gpu::forward_with_mask`](crate::Gpu::forward_with_mask)).
    Mask(&'t Mask),
}

impl<T: Element> Saved<'_, T> {
    /// Its name in errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Saved::Input(_) => "x",
            Saved::Output(_) => "y",
            Saved::Mask(_) => "the mask",
        }
    }
}

/// Where a backward the app records writes its gradients, and whether it
/// adds to them.
///
/// With `accumulate`, the backward adds its results to the values already
/// in `grad_x` (and `grad_weight`) — cuDNN's `beta = 1` — so a tensor that
/// feeds two branches, or gradients summed over micro-batches, take no extra
/// pass. Each element is `old + r` rounded once, `r` being exactly what the
/// overwriting backward writes ([`cpu::accumulate`](crate::cpu::accumulate)
/// on the CPU); the weight gradient stays deterministic.
///
/// ```
/// # use wgpu_relu::{GradOut, Tensor};
/// # fn f(grad_x: &Tensor, grad_w: &Tensor) {
/// let out = GradOut::add_to(grad_x).with_weight(grad_w);
/// assert!(out.accumulate);
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GradOut<'t, T: Element = f32> {
    /// The input gradient, shaped like the forward's input. It may be
    /// exactly `grad_y`'s range.
    pub grad_x: &'t Tensor<T>,
    /// PReLU's weight gradient, shaped like the weight; `None` to compute
    /// `grad_x` alone, and always `None` for the activations without one.
    pub grad_weight: Option<&'t Tensor<T>>,
    /// Add to the tensors' values instead of overwriting them.
    pub accumulate: bool,
}

impl<'t, T: Element> GradOut<'t, T> {
    /// Overwrites `grad_x`.
    pub fn write(grad_x: &'t Tensor<T>) -> Self {
        GradOut {
            grad_x,
            grad_weight: None,
            accumulate: false,
        }
    }

    /// Adds to `grad_x`.
    pub fn add_to(grad_x: &'t Tensor<T>) -> Self {
        GradOut {
            accumulate: true,
            ..Self::write(grad_x)
        }
    }

    /// The same, with PReLU's weight gradient into `grad_weight` (written or
    /// added to, as `grad_x`).
    pub fn with_weight(self, grad_weight: &'t Tensor<T>) -> Self {
        GradOut {
            grad_weight: Some(grad_weight),
            ..self
        }
    }
}
