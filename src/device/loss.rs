//! A lost device: what the app says, and what the library finds out by
//! itself, so that no call returns `Ok` for work a lost device dropped.

use crate::error::{Error, Result};
use crate::lock::lock;

use super::Gpu;

impl Gpu {
    /// Tells the library that the device was lost, so that every later call
    /// returns [`Error::DeviceLost`] at once, with `reason` in its message.
    /// Not needed for correctness: every call also asks the device itself
    /// (a 4-byte buffer mapped at creation, which a lost device cannot map),
    /// before it records and after it submits, so a device destroyed
    /// without notice, or with work pending, is an error too. With
    /// [`Gpu::from_device`] the device's lost callback belongs to the app,
    /// which can call this from it for a better message.
    pub fn notify_device_lost(&self, reason: &str) {
        *lock(&self.inner.lost) = Some(reason.to_string());
    }

    /// An error if the device was lost (whether or not anyone said so), or
    /// if the queue is another device's: [`Gpu::check_known_loss`], then
    /// the device itself is asked. Calls whose result would otherwise be
    /// `Ok` on a lost device run it: `empty`, the `encode_*` calls before
    /// they record, `forward` and `backward` after they submit.
    pub(crate) fn check_alive(&self) -> Result<()> {
        self.check_known_loss()?;
        // The callback runs only once the lost device's queue is empty, and
        // a borrowed device's callback is the app's: ask the device itself.
        if !crate::engine::probe::device_alive(&self.inner.device) {
            let reason = "the device was destroyed or lost (found by the library)";
            lock(&self.inner.lost).get_or_insert_with(|| reason.to_string());
            return Err(Error::DeviceLost(reason.to_string()));
        }
        Ok(())
    }

    /// An error if the device is known to be lost, or the queue to be
    /// another device's: what costs no more than a lock and a poll. Calls
    /// that fail on a lost device anyway (a mapping does) and calls that
    /// ask the device after their work (`forward`) start with this.
    pub(crate) fn check_known_loss(&self) -> Result<()> {
        if self.inner.engine.foreign_queue() {
            return Err(Error::DeviceMismatch {
                tensor: "the queue given to Gpu::from_device",
            });
        }
        if self
            .inner
            .watches_loss
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // wgpu runs the lost callback from a poll; a non-blocking one
            // costs microseconds, and its reason is the better message.
            let _ = self.inner.device.poll(wgpu::PollType::Poll);
        }
        match &*lock(&self.inner.lost) {
            Some(reason) => Err(Error::DeviceLost(reason.clone())),
            None => Ok(()),
        }
    }

    /// `error`, or `DeviceLost` where the device was lost meanwhile: wgpu
    /// reports a failed mapping or wait on a lost device in its own words.
    pub(crate) fn unless_lost(&self, error: Error) -> Error {
        match (&error, self.check_alive()) {
            (Error::Map(_) | Error::Poll(_) | Error::Validation(_), Err(lost)) => lost,
            _ => error,
        }
    }
}
