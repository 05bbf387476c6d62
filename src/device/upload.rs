//! Uploads and new tensors: buffers made mapped and filled in place, or
//! kept buffers of dropped tensors (see `pool.rs`).

use crate::element::Element;
use crate::engine::ErrorScopes;
use crate::error::{Error, Result};
use crate::pool::Storage;
use crate::tensor::Tensor;

use super::Gpu;

impl Gpu {
    /// Copies `data` into a new tensor of shape `[data.len()]`.
    ///
    /// The buffer is created mapped and filled directly, with `STORAGE`,
    /// `COPY_SRC` and `COPY_DST` usage, and on CPU adapters also `MAP_READ`
    /// and `MAP_WRITE` (the device then has `MAPPABLE_PRIMARY_BUFFERS`, which
    /// [`Gpu::new`] requests there): the data is written once, into the
    /// tensor's own memory, instead of into a staging buffer and copied.
    /// There, too, a kept buffer of the same size that no pending work uses
    /// is mapped and filled instead of a new one (see [`Gpu::empty`]).
    pub fn upload<T: Element>(&self, data: &[T]) -> Result<Tensor<T>> {
        // A lost device cannot map the new buffer: that failure says so.
        self.check_known_loss()?;
        self.upload_checked(data).map_err(|e| self.unless_lost(e))
    }

    /// [`Gpu::upload`] on a device not known to be lost.
    fn upload_checked<T: Element>(&self, data: &[T]) -> Result<Tensor<T>> {
        self.check_dtype::<T>("upload")?;
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buffer = match self.kept_for_writing(bytes.len() as u64) {
            Some(kept) => kept,
            None => self.create_buffer(bytes.len() as u64, "wgpu_relu.upload", true)?,
        };
        {
            let mut view = buffer
                .slice(..)
                .get_mapped_range_mut()
                .map_err(|e| Error::Map(e.to_string()))?;
            view.slice(..bytes.len()).copy_from_slice(bytes);
        }
        buffer.unmap();
        // Where uploads cannot take kept buffers, they must not be kept
        // either: they would pile up in the pool while every upload still
        // took fresh memory (5x slower uploads on lavapipe), where freeing
        // them hands their touched memory back to the allocator.
        let storage = if self.uploads_reuse_buffers() {
            Storage::pooled(buffer, &self.inner.pool)
        } else {
            Storage::unpooled(buffer)
        };
        Tensor::new(
            storage,
            0,
            &[data.len()],
            Some(self.inner.owner.clone()),
            "upload",
        )
    }

    /// A new, uninitialised tensor of the given shape on this device.
    ///
    /// Its buffer is that of a dropped tensor of the same byte size where the
    /// `Gpu` kept one (up to 32 buffers and 256 MiB, the most recent; never
    /// one whose [`Tensor::buffer`] was handed out or that an `encode_*` call
    /// recorded), else a new one. Reuse spares wgpu zeroing a new buffer
    /// before its first use, which on CPU adapters costs more than most
    /// kernels. [`Gpu::release_kept_buffers`] frees the kept ones.
    pub fn empty<T: Element>(&self, shape: &[usize]) -> Result<Tensor<T>> {
        self.check_alive()?;
        self.output(shape)
    }

    /// [`Gpu::empty`], the device not asked (the caller does).
    pub(crate) fn output<T: Element>(&self, shape: &[usize]) -> Result<Tensor<T>> {
        self.check_dtype::<T>("empty")?;
        let len = crate::shape::element_count(shape)? as u64;
        let bytes = len.saturating_mul(T::SIZE);
        let buffer = match self.inner.pool.take(buffer_size(bytes)) {
            Some(kept) => kept,
            None => self.create_buffer(bytes, "wgpu_relu.tensor", false)?,
        };
        Tensor::new(
            Storage::pooled(buffer, &self.inner.pool),
            0,
            shape,
            Some(self.inner.owner.clone()),
            "empty",
        )
    }

    /// Whether `upload` writes into kept buffers: only where tensors are
    /// mappable. Elsewhere wgpu would stage the data anyway, as it does for
    /// a buffer created mapped.
    fn uploads_reuse_buffers(&self) -> bool {
        self.inner
            .tensor_usages
            .contains(wgpu::BufferUsages::MAP_WRITE)
    }

    /// A kept buffer of `bytes` (padded), mapped for writing, where uploads
    /// reuse buffers and one is kept whose work is done; else `None`.
    fn kept_for_writing(&self, bytes: u64) -> Option<wgpu::Buffer> {
        if !self.uploads_reuse_buffers() {
            return None;
        }
        let buffer = self.inner.pool.take(buffer_size(bytes))?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let scope = ErrorScopes::push(&self.inner.device);
        buffer
            .slice(..)
            .map_async(wgpu::MapMode::Write, move |mapped| {
                let _ = sender.send(mapped);
            });
        // A buffer that no submitted work still uses maps at the next poll,
        // which does not wait. One still in use is left to its work (unmap
        // cancels the pending mapping) and goes back to the pool.
        let _ = self.inner.device.poll(wgpu::PollType::Poll);
        let mapped = match receiver.try_recv() {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                buffer.unmap();
                self.inner.pool.keep(buffer.clone());
                false
            }
        };
        // Any error here leaves a fresh buffer to the caller, never a panic.
        (scope.pop_now().is_ok() && mapped).then_some(buffer)
    }
    /// Creates a tensor buffer of `bytes` (padded to 4), within the device's
    /// limits, catching out-of-memory.
    fn create_buffer(&self, bytes: u64, label: &str, mapped: bool) -> Result<wgpu::Buffer> {
        let size = buffer_size(bytes);
        let limit = self.inner.engine.limits.max_buffer_size;
        if size > limit {
            return Err(Error::TooLarge {
                what: "the tensor's size in bytes",
                size,
                limit,
                hint: "the device's max_buffer_size; use a smaller tensor, or request a device \
                       with the adapter's full limits (Gpu::new does)",
            });
        }
        let scope = ErrorScopes::push(&self.inner.device);
        let buffer = self.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: self.inner.tensor_usages,
            mapped_at_creation: mapped,
        });
        scope.pop_now()?;
        Ok(buffer)
    }
}

/// The size of a tensor buffer for `bytes` of data: copies and mappings work
/// in 4-byte units, and wgpu has no empty buffers.
pub(crate) fn buffer_size(bytes: u64) -> u64 {
    bytes.next_multiple_of(4).max(4)
}
