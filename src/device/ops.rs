//! The ops: forward and backward, standalone (a new tensor, submitted) or
//! recorded into an app's encoder or compute pass. Every call checks its
//! tensors, has the family make every dispatch, and only then records.

use crate::activation::{Activation, Call, Gradients};
use crate::element::Element;
use crate::engine::{record_in_encoder, record_in_pass, ErrorScopes, Prepared};
use crate::error::{Error, Result};
use crate::mask::Mask;
use crate::stats::ActivityMonitor;
use crate::tensor::Tensor;
use crate::training::{GradOut, Saved};
use crate::validate::{check_len, check_overlap, check_same_shape};

use super::Gpu;

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE;

impl Gpu {
    /// Applies `activation` to `x` into a new tensor of the same shape.
    pub fn forward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        // The device is asked after the submission (in `submit`).
        self.check_known_loss()?;
        self.check_tensor(x, "x", STORAGE)?;
        let y = self.output::<T>(x.shape())?;
        self.submit(&self.forward_dispatches(activation, x, &y, None, None)?)?;
        Ok(y)
    }

    /// Applies `activation` to `x` in place, overwriting it.
    ///
    /// The input is then gone: go back from the output
    /// ([`Saved::Output`], ReLU and Leaky ReLU with a slope ≥ 0), from a
    /// mask ([`Gpu::forward_in_place_with_mask`]), or keep a copy of `x`.
    pub fn forward_in_place<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<()> {
        self.check_known_loss()?;
        self.submit(&self.forward_dispatches(activation, x, x, None, None)?)
    }

    /// Gradients of `activation` at the forward's input `x`, given the
    /// gradient of the output `grad_y` (same shape as `x`).
    ///
    /// `x` must be the input of the forward, not its output: an in-place
    /// forward overwrites it ([`Gpu::backward_from`] goes back from the
    /// output or a mask). For PReLU, `weight` of the result is `Some`.
    pub fn backward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
    ) -> Result<Gradients<T>> {
        self.backward_from(activation, Saved::Input(x), grad_y)
    }

    /// Records `y = activation(x)` into `encoder`; submits nothing.
    ///
    /// `y` may be exactly the same range as `x` (in place); a partial overlap
    /// is an [`Error::Overlap`]. Everything is validated before anything is
    /// recorded. What it allocates: a bind group per dispatch, and a small
    /// uniform buffer per distinct (size, offsets, parameters), cached.
    pub fn encode_forward<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<()> {
        let dispatches = self.recorded_forward(activation, x, y, None, None)?;
        record_in_encoder(encoder, "wgpu_relu.forward", &dispatches)
    }

    /// [`Gpu::encode_forward`] into the app's own compute pass, so that
    /// several activations (and the app's kernels) share one pass: what
    /// WebGPU implementations charge most for is a pass per dispatch.
    /// Nothing is recorded on an error.
    pub fn encode_forward_in_pass<T: Element>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<()> {
        let dispatches = self.recorded_forward(activation, x, y, None, None)?;
        record_in_pass(pass, &dispatches)
    }

    /// Records the backward of `activation` into `encoder`; submits nothing.
    ///
    /// `x` is the forward's input, `grad_y` the gradient of its output (same
    /// shape), `grad_x` receives the input gradient (it may be exactly
    /// `grad_y`'s range). `grad_weight` receives PReLU's weight gradient
    /// (shaped like the weight); pass `None` to compute only `grad_x`, and
    /// always `None` for the activations without a weight.
    pub fn encode_backward<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
        grad_x: &Tensor<T>,
        grad_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let out = GradOut {
            grad_weight,
            ..GradOut::write(grad_x)
        };
        let dispatches = self.recorded_backward(activation, Saved::Input(x), grad_y, &out)?;
        record_in_encoder(encoder, "wgpu_relu.backward", &dispatches)
    }

    /// [`Gpu::encode_backward`] into the app's own compute pass (PReLU's
    /// weight gradient included: its two passes are dispatches of one
    /// compute pass). Nothing is recorded on an error.
    pub fn encode_backward_in_pass<T: Element>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
        grad_x: &Tensor<T>,
        grad_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let out = GradOut {
            grad_weight,
            ..GradOut::write(grad_x)
        };
        let dispatches = self.recorded_backward(activation, Saved::Input(x), grad_y, &out)?;
        record_in_pass(pass, &dispatches)
    }

    /// The dispatches of a forward the app records: the device asked, the
    /// tensors marked as never to be reused (the app submits later, maybe
    /// after dropping them).
    pub(super) fn recorded_forward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mask: Option<&Mask>,
        monitor: Option<&ActivityMonitor>,
    ) -> Result<Vec<Prepared>> {
        self.check_alive()?;
        let dispatches = self.forward_dispatches(activation, x, y, mask, monitor)?;
        for tensor in [x, y] {
            tensor.escape();
        }
        if let Some(mask) = mask {
            mask.words().escape();
        }
        if let Some(monitor) = monitor {
            monitor.totals().escape();
        }
        activation.escape();
        Ok(dispatches)
    }

    /// [`Gpu::recorded_forward`] for a backward.
    pub(super) fn recorded_backward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        saved: Saved<'_, T>,
        grad_y: &Tensor<T>,
        out: &GradOut<'_, T>,
    ) -> Result<Vec<Prepared>> {
        self.check_alive()?;
        let dispatches = self.backward_dispatches(activation, saved, grad_y, out)?;
        match saved {
            Saved::Input(t) | Saved::Output(t) => t.escape(),
            Saved::Mask(m) => m.words().escape(),
        }
        for tensor in [Some(grad_y), Some(out.grad_x), out.grad_weight]
            .into_iter()
            .flatten()
        {
            tensor.escape();
        }
        activation.escape();
        Ok(dispatches)
    }

    /// Checks a forward's tensors (the mask it writes and the monitor it
    /// counts into too) and makes its dispatches.
    pub(super) fn forward_dispatches<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mask: Option<&Mask>,
        monitor: Option<&ActivityMonitor>,
    ) -> Result<Vec<Prepared>> {
        self.check_tensor(x, "x", STORAGE)?;
        self.check_tensor(y, "y", STORAGE)?;
        check_same_shape(y, x, "y")?;
        check_overlap(x, "x", y, "y", true)?;
        if let Some(mask) = mask {
            self.check_mask(mask, x.len())?;
            check_overlap(x, "x", mask.words(), "the mask", false)?;
            check_overlap(y, "y", mask.words(), "the mask", false)?;
        }
        if let Some(monitor) = monitor {
            self.check_tensor(monitor.totals(), "the monitor", STORAGE)?;
        }
        self.dispatches(
            activation,
            &Call {
                saved: Saved::Input(x),
                grad_y: None,
                output: y,
                mask,
                monitor,
                grad_weight: None,
                accumulate: false,
            },
        )
    }

    /// Checks a backward's tensors and makes its dispatches.
    pub(super) fn backward_dispatches<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        saved: Saved<'_, T>,
        grad_y: &Tensor<T>,
        out: &GradOut<'_, T>,
    ) -> Result<Vec<Prepared>> {
        let grad_x = out.grad_x;
        match saved {
            Saved::Input(t) | Saved::Output(t) => {
                self.check_tensor(t, saved.name(), STORAGE)?;
                self.check_tensor(grad_y, "grad_y", STORAGE)?;
                if grad_y.shape() != t.shape() {
                    return Err(Error::ShapeMismatch {
                        what: "grad_y",
                        actual: grad_y.shape().to_vec(),
                        expected: t.shape().to_vec(),
                    });
                }
                check_overlap(t, saved.name(), grad_x, "grad_x", false)?;
            }
            Saved::Mask(mask) => {
                self.check_tensor(grad_y, "grad_y", STORAGE)?;
                self.check_mask(mask, grad_y.len())?;
                check_overlap(mask.words(), "the mask", grad_x, "grad_x", false)?;
            }
        }
        self.check_tensor(grad_x, "grad_x", STORAGE)?;
        check_same_shape(grad_x, grad_y, "grad_x")?;
        check_overlap(grad_y, "grad_y", grad_x, "grad_x", true)?;
        self.dispatches(
            activation,
            &Call {
                saved,
                grad_y: Some(grad_y),
                output: grad_x,
                mask: None,
                monitor: None,
                grad_weight: out.grad_weight,
                accumulate: out.accumulate,
            },
        )
    }

    /// An error if `mask` is another `Gpu`'s, cannot be bound, or does not
    /// hold `len` elements.
    fn check_mask(&self, mask: &Mask, len: usize) -> Result<()> {
        self.check_tensor(mask.words(), "the mask", STORAGE)?;
        if mask.len() != len {
            return Err(Error::ShapeMismatch {
                what: "the mask",
                actual: vec![mask.len()],
                expected: vec![len],
            });
        }
        Ok(())
    }

    /// The family's dispatches for `call`, made inside error scopes, so
    /// that wgpu's complaints come back as errors.
    fn dispatches<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        call: &Call<'_, T>,
    ) -> Result<Vec<Prepared>> {
        self.check_dtype::<T>(activation.name())?;
        check_len(call.output.len())?;
        let scope = ErrorScopes::push(self.device());
        let dispatches = activation.dispatches(self, call);
        let caught = scope.pop_now();
        let dispatches = dispatches?;
        caught?;
        Ok(dispatches)
    }

    /// Records `dispatches` in an encoder of the library's own and submits
    /// it.
    pub(super) fn submit(&self, dispatches: &[Prepared]) -> Result<()> {
        let scope = ErrorScopes::push(self.device());
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgpu_relu.op"),
            });
        let recorded = record_in_encoder(&mut encoder, "wgpu_relu.op", dispatches);
        if recorded.is_ok() {
            self.queue_submit(encoder);
        }
        let caught = scope.pop_now();
        recorded.and(caught).map_err(|e| self.unless_lost(e))?;
        // A device destroyed before the submission dropped the work without
        // a word: that must not come back as Ok.
        self.check_alive()
    }
}
