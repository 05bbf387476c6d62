//! The forms for training with less memory: a forward that also writes a
//! 1-bit mask, and a backward from what the forward kept (its input, its
//! output or the mask) that overwrites or adds to its gradients.

use crate::activation::{Activation, Gradients};
use crate::element::Element;
use crate::engine::{record_in_encoder, record_in_pass};
use crate::error::Result;
use crate::mask::Mask;
use crate::tensor::Tensor;
use crate::training::{GradOut, Saved};

use super::Gpu;

impl Gpu {
    /// [`Gpu::forward`] that also writes the 1-bit mask its backward needs
    /// ([`Saved::Mask`]), in the same pass over `x`: ReLU and Leaky ReLU
    /// (PReLU's backward needs `x` for its weight gradient: an
    /// [`Error::NeedsInput`](crate::Error::NeedsInput)).
    ///
    /// ```
    /// use wgpu_relu::{Activation, Gpu, Saved};
    /// # fn main() -> Result<(), wgpu_relu::Error> {
    /// let gpu = Gpu::new()?;
    /// let x = gpu.upload(&[-2.0f32, 0.5, 0.0, 3.0])?;
    /// let (y, mask) = gpu.forward_with_mask(&Activation::Relu, &x)?;
    /// drop(x); // the backward needs only the mask: 1 bit per element
    /// assert_eq!(gpu.download_mask(&mask)?, vec![0b1010]);
    /// let grad_y = gpu.upload(&[1.0f32; 4])?;
    /// let grads = gpu.backward_from(&Activation::Relu, Saved::Mask(&mask), &grad_y)?;
    /// assert_eq!(gpu.download(&grads.input)?, vec![0.0, 1.0, 0.0, 1.0]);
    /// # let _ = y;
    /// # Ok(())
    /// # }
    /// ```
    pub fn forward_with_mask<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<(Tensor<T>, Mask)> {
        self.check_known_loss()?;
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        let y = self.output::<T>(x.shape())?;
        let mask = self.output_mask(x.len())?;
        self.submit(&self.forward_dispatches(activation, x, &y, Some(&mask), None)?)?;
        Ok((y, mask))
    }

    /// [`Gpu::forward_in_place`] that also writes the mask: with it, the
    /// in-place forward is usable in training for every slope.
    pub fn forward_in_place_with_mask<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<Mask> {
        self.check_known_loss()?;
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        let mask = self.output_mask(x.len())?;
        self.submit(&self.forward_dispatches(activation, x, x, Some(&mask), None)?)?;
        Ok(mask)
    }

    /// Records `y = activation(x)` and the mask of `x` into `encoder`, as
    /// [`Gpu::encode_forward`] does (`y` may be exactly `x`'s range). `mask`
    /// must hold `x.len()` elements ([`Gpu::empty_mask`], or
    /// [`Mask::from_buffer`] over the app's own buffer) and overlap neither.
    pub fn encode_forward_with_mask<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mask: &Mask,
    ) -> Result<()> {
        let dispatches = self.recorded_forward(activation, x, y, Some(mask), None)?;
        record_in_encoder(encoder, "wgpu_relu.forward_with_mask", &dispatches)
    }

    /// [`Gpu::encode_forward_with_mask`] into the app's own compute pass.
    /// Nothing is recorded on an error.
    pub fn encode_forward_with_mask_in_pass<T: Element>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mask: &Mask,
    ) -> Result<()> {
        let dispatches = self.recorded_forward(activation, x, y, Some(mask), None)?;
        record_in_pass(pass, &dispatches)
    }

    /// Gradients of `activation` going back from what the forward kept,
    /// given the gradient of the output `grad_y`: bit for bit those of
    /// [`Gpu::backward`] at the forward's input. A mask or an output the
    /// activation cannot go back from is an
    /// [`Error::NeedsInput`](crate::Error::NeedsInput) (see [`Saved`]).
    pub fn backward_from<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        saved: Saved<'_, T>,
        grad_y: &Tensor<T>,
    ) -> Result<Gradients<T>> {
        self.check_known_loss()?;
        self.check_tensor(grad_y, "grad_y", wgpu::BufferUsages::STORAGE)?;
        let input = self.output::<T>(grad_y.shape())?;
        let weight = match activation {
            Activation::Prelu { weight, .. } => Some(self.output::<T>(weight.shape())?),
            _ => None,
        };
        let out = GradOut {
            grad_weight: weight.as_ref(),
            ..GradOut::write(&input)
        };
        self.submit(&self.backward_dispatches(activation, saved, grad_y, &out)?)?;
        Ok(Gradients { input, weight })
    }

    /// The backward into the app's tensors, submitted: with
    /// [`GradOut::add_to`], the gradients are added to what `grad_x` (and
    /// `grad_weight`) hold, as when a tensor feeds two branches or
    /// gradients add up over micro-batches.
    pub fn backward_into<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        saved: Saved<'_, T>,
        grad_y: &Tensor<T>,
        out: GradOut<'_, T>,
    ) -> Result<()> {
        self.check_known_loss()?;
        self.submit(&self.backward_dispatches(activation, saved, grad_y, &out)?)
    }

    /// Records the backward of `activation` from `saved` into `encoder`;
    /// submits nothing. [`Gpu::encode_backward`] is this with
    /// [`Saved::Input`] and [`GradOut::write`].
    pub fn encode_backward_from<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        saved: Saved<'_, T>,
        grad_y: &Tensor<T>,
        out: GradOut<'_, T>,
    ) -> Result<()> {
        let dispatches = self.recorded_backward(activation, saved, grad_y, &out)?;
        record_in_encoder(encoder, "wgpu_relu.backward", &dispatches)
    }

    /// [`Gpu::encode_backward_from`] into the app's own compute pass.
    /// Nothing is recorded on an error.
    pub fn encode_backward_from_in_pass<T: Element>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        activation: &Activation<'_, T>,
        saved: Saved<'_, T>,
        grad_y: &Tensor<T>,
        out: GradOut<'_, T>,
    ) -> Result<()> {
        let dispatches = self.recorded_backward(activation, saved, grad_y, &out)?;
        record_in_pass(pass, &dispatches)
    }

    /// A new mask of `len` elements, its words uninitialised (a forward
    /// writes every one), for [`Gpu::encode_forward_with_mask`]. Its buffer
    /// is pooled as a tensor's is ([`Gpu::empty`]).
    pub fn empty_mask(&self, len: usize) -> Result<Mask> {
        self.check_alive()?;
        self.output_mask(len)
    }

    /// [`Gpu::empty_mask`], the device not asked (the caller does).
    fn output_mask(&self, len: usize) -> Result<Mask> {
        let words = self.output::<f32>(&[Mask::words_for(len)])?;
        Ok(Mask::from_words(words, len))
    }

    /// Copies a mask's words back, waiting for the work before it (see
    /// [`Mask`] for the layout; [`Gpu::download`] on how).
    pub fn download_mask(&self, mask: &Mask) -> Result<Vec<u32>> {
        // Moved as bytes: the words are never read as floats.
        let words = self.download(mask.words())?;
        Ok(bytemuck::cast_slice(&words).to_vec())
    }
}
