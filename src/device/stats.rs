//! The forms that watch dead units: a monitor, the forward that counts
//! into it (with or without the mask), and its totals read back or reset.

use crate::activation::Activation;
use crate::element::Element;
use crate::engine::{record_clear, record_in_encoder, record_in_pass, ErrorScopes};
use crate::error::{Error, Result};
use crate::stats::{ActivityMonitor, ActivityStats};
use crate::tensor::Tensor;
use crate::training::ForwardOut;

use super::Gpu;

impl Gpu {
    /// A monitor of `channels` channels along `channel_axis` of the tensors
    /// it watches (1 for NCHW or a dense layer's `[batch, units]`, the last
    /// for channels-last), its totals zero.
    ///
    /// An error ([`Error::Shape`]) for no channels or more than 2^32 - 1,
    /// and ([`Error::TooLarge`]) where the totals, 8 bytes a channel, do
    /// not fit one storage binding of the device.
    ///
    /// ```
    /// use wgpu_relu::{Activation, Gpu};
    /// # fn main() -> Result<(), wgpu_relu::Error> {
    /// let gpu = Gpu::new()?;
    /// let monitor = gpu.activity_monitor(2, 1)?;
    /// for batch in [[-1.0f32, 2.0, -3.0, 4.0], [5.0, 0.0, -1.0, 1.0]] {
    ///     let x = gpu.upload(&batch)?.reshape(&[2, 2])?; // [batch, units]
    ///     let _y = gpu.forward_with_stats(&Activation::Relu, &x, &monitor)?;
    /// }
    /// let stats = gpu.read_activity(&monitor)?;
    /// assert_eq!((&stats.active[..], stats.seen), (&[1, 3][..], 4));
    /// assert!(stats.dead_channels().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn activity_monitor(
        &self,
        channels: usize,
        channel_axis: usize,
    ) -> Result<ActivityMonitor> {
        self.check_known_loss()?;
        if channels == 0 || channels > u32::MAX as usize {
            return Err(Error::Shape(format!(
                "a monitor counts 1 to 2^32 - 1 channels, not {channels}"
            )));
        }
        let words = ActivityMonitor::words_for(channels);
        self.engine().check_bound_whole(
            "the activity monitor's totals (bytes)",
            4 * words as u64,
            "the totals (two u32 words a channel, two for the elements seen) are bound \
             whole and must fit one storage binding (max_storage_buffer_binding_size); \
             watch fewer channels",
        )?;
        let totals = self.output::<f32>(&[words])?;
        let monitor = ActivityMonitor::new(totals, channels, channel_axis);
        self.reset_activity(&monitor)?;
        Ok(monitor)
    }

    /// [`Gpu::forward`] that also adds each channel's active elements to
    /// `monitor`, in the same pass over `x`.
    pub fn forward_with_stats<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        monitor: &ActivityMonitor,
    ) -> Result<Tensor<T>> {
        self.check_known_loss()?;
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        let y = self.output::<T>(x.shape())?;
        self.forward_into(activation, x, ForwardOut::write(&y).with_stats(monitor))?;
        Ok(y)
    }

    /// The forward into `out`, submitted: `y` (which may be `x` itself, in
    /// place), and where asked the mask and the statistics, all in one
    /// pass over `x`.
    pub fn forward_into<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        out: ForwardOut<'_, T>,
    ) -> Result<()> {
        self.check_known_loss()?;
        self.submit(&self.forward_dispatches(activation, x, out.y, out.mask, out.stats)?)
    }

    /// Records the forward into `out` into `encoder`; submits nothing. The
    /// statistics reach the monitor when the app submits.
    pub fn encode_forward_into<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        out: ForwardOut<'_, T>,
    ) -> Result<()> {
        let dispatches = self.recorded_forward(activation, x, out.y, out.mask, out.stats)?;
        record_in_encoder(encoder, "wgpu_relu.forward", &dispatches)
    }

    /// [`Gpu::encode_forward_into`] into the app's own compute pass.
    /// Nothing is recorded on an error.
    pub fn encode_forward_into_in_pass<T: Element>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        out: ForwardOut<'_, T>,
    ) -> Result<()> {
        let dispatches = self.recorded_forward(activation, x, out.y, out.mask, out.stats)?;
        record_in_pass(pass, &dispatches)
    }

    /// Reads `monitor`'s totals back, waiting for the work before it: one
    /// small copy, however many forwards it watched.
    pub fn read_activity(&self, monitor: &ActivityMonitor) -> Result<ActivityStats> {
        self.check_monitor(monitor)?;
        // Moved as bytes: the words are never read as floats.
        let words = self.download(monitor.totals())?;
        Ok(ActivityStats::from_words(bytemuck::cast_slice(&words)))
    }

    /// Zeroes `monitor`'s totals, after the work submitted before (an
    /// epoch's start).
    pub fn reset_activity(&self, monitor: &ActivityMonitor) -> Result<()> {
        self.check_known_loss()?;
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgpu_relu.reset_activity"),
            });
        self.encode_reset_activity(&mut encoder, monitor)?;
        let scope = ErrorScopes::push(self.device());
        self.queue_submit(encoder);
        scope.pop_now().map_err(|e| self.unless_lost(e))?;
        self.check_alive()
    }

    /// Records the zeroing of `monitor`'s totals into `encoder`.
    pub fn encode_reset_activity(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        monitor: &ActivityMonitor,
    ) -> Result<()> {
        self.check_alive()?;
        self.check_monitor(monitor)?;
        let totals = monitor.totals();
        totals.escape();
        record_clear(
            encoder,
            totals.buffer(),
            totals.byte_offset(),
            totals.byte_len(),
        )
    }

    fn check_monitor(&self, monitor: &ActivityMonitor) -> Result<()> {
        self.check_tensor(monitor.totals(), "the monitor", wgpu::BufferUsages::STORAGE)
    }
}
