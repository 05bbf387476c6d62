//! The ops: forward and backward, standalone (a new tensor, submitted) or
//! recorded into an app's encoder or compute pass. Every call checks its
//! tensors, has the family make every dispatch, and only then records.

use crate::activation::{Activation, Call, Gradients};
use crate::element::Element;
use crate::engine::{record_in_encoder, record_in_pass, ErrorScopes, Prepared};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
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
        self.submit(&self.forward_dispatches(activation, x, &y)?)?;
        Ok(y)
    }

    /// Applies `activation` to `x` in place, overwriting it.
    ///
    /// Backward needs the forward's *input*: after an in-place forward that
    /// input is gone, so keep a copy if you will call [`Gpu::backward`].
    pub fn forward_in_place<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<()> {
        self.check_known_loss()?;
        self.submit(&self.forward_dispatches(activation, x, x)?)
    }

    /// Gradients of `activation` at the forward's input `x`, given the
    /// gradient of the output `grad_y` (same shape as `x`).
    ///
    /// `x` must be the input of the forward, not its output: an in-place
    /// forward overwrites it. For PReLU, `weight` of the result is `Some`.
    pub fn backward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
    ) -> Result<Gradients<T>> {
        self.check_known_loss()?;
        self.check_tensor(x, "x", STORAGE)?;
        let input = self.output::<T>(x.shape())?;
        let weight = match activation {
            Activation::Prelu { weight, .. } => Some(self.output::<T>(weight.shape())?),
            _ => None,
        };
        let dispatches =
            self.backward_dispatches(activation, x, grad_y, &input, weight.as_ref())?;
        self.submit(&dispatches)?;
        Ok(Gradients { input, weight })
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
        let dispatches = self.recorded_forward(activation, x, y)?;
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
        let dispatches = self.recorded_forward(activation, x, y)?;
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
        let dispatches = self.recorded_backward(activation, x, grad_y, grad_x, grad_weight)?;
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
        let dispatches = self.recorded_backward(activation, x, grad_y, grad_x, grad_weight)?;
        record_in_pass(pass, &dispatches)
    }

    /// The dispatches of a forward the app records: the device asked, the
    /// tensors marked as never to be reused (the app submits later, maybe
    /// after dropping them).
    fn recorded_forward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<Vec<Prepared>> {
        self.check_alive()?;
        let dispatches = self.forward_dispatches(activation, x, y)?;
        for tensor in [x, y] {
            tensor.escape();
        }
        activation.escape();
        Ok(dispatches)
    }

    /// [`Gpu::recorded_forward`] for a backward.
    fn recorded_backward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
        grad_x: &Tensor<T>,
        grad_weight: Option<&Tensor<T>>,
    ) -> Result<Vec<Prepared>> {
        self.check_alive()?;
        let dispatches = self.backward_dispatches(activation, x, grad_y, grad_x, grad_weight)?;
        for tensor in [Some(x), Some(grad_y), Some(grad_x), grad_weight]
            .into_iter()
            .flatten()
        {
            tensor.escape();
        }
        activation.escape();
        Ok(dispatches)
    }

    /// Checks a forward's tensors and makes its dispatches.
    fn forward_dispatches<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<Vec<Prepared>> {
        self.check_tensor(x, "x", STORAGE)?;
        self.check_tensor(y, "y", STORAGE)?;
        check_same_shape(y, x, "y")?;
        check_overlap(x, "x", y, "y", true)?;
        self.dispatches(
            activation,
            &Call {
                x,
                grad_y: None,
                output: y,
                grad_weight: None,
            },
        )
    }

    /// Checks a backward's tensors and makes its dispatches.
    fn backward_dispatches<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
        grad_x: &Tensor<T>,
        grad_weight: Option<&Tensor<T>>,
    ) -> Result<Vec<Prepared>> {
        self.check_tensor(x, "x", STORAGE)?;
        self.check_tensor(grad_y, "grad_y", STORAGE)?;
        self.check_tensor(grad_x, "grad_x", STORAGE)?;
        if grad_y.shape() != x.shape() {
            return Err(Error::ShapeMismatch {
                what: "grad_y",
                actual: grad_y.shape().to_vec(),
                expected: x.shape().to_vec(),
            });
        }
        check_same_shape(grad_x, x, "grad_x")?;
        check_overlap(x, "x", grad_x, "grad_x", false)?;
        check_overlap(grad_y, "grad_y", grad_x, "grad_x", true)?;
        self.dispatches(
            activation,
            &Call {
                x,
                grad_y: Some(grad_y),
                output: grad_x,
                grad_weight,
            },
        )
    }

    /// The family's dispatches for `call`, made inside error scopes, so
    /// that wgpu's complaints come back as errors.
    fn dispatches<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        call: &Call<'_, T>,
    ) -> Result<Vec<Prepared>> {
        self.check_dtype::<T>(activation.name())?;
        check_len(call.x)?;
        let scope = ErrorScopes::push(self.device());
        let dispatches = activation.dispatches(self, call);
        let caught = scope.pop_now();
        let dispatches = dispatches?;
        caught?;
        Ok(dispatches)
    }

    /// Records `dispatches` in an encoder of the library's own and submits
    /// it.
    fn submit(&self, dispatches: &[Prepared]) -> Result<()> {
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
