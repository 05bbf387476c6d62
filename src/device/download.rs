//! Downloads: a tensor read back by mapping it (CPU adapters) or through a
//! kept staging buffer.

use crate::element::Element;
use crate::engine::ErrorScopes;
use crate::error::{Error, Result};
use crate::lock::lock;
use crate::tensor::Tensor;

use super::Gpu;

/// Staging buffers kept for reuse by `download`, and the largest one kept.
const STAGING_POOL_COUNT: usize = 2;
const STAGING_POOL_MAX_BYTES: u64 = 256 << 20;

impl Gpu {
    /// Copies a tensor back into a `Vec`, waiting for the work before it.
    ///
    /// On CPU adapters a tensor made by this `Gpu` is read in place, by
    /// mapping its buffer (mappable there, see [`Gpu::upload`]) for the
    /// moment of the copy; the library's own submissions from other threads
    /// wait for that moment, but one of the app's that uses the same buffer
    /// then would fail wgpu's validation. Any other tensor is copied through
    /// a reused staging buffer, as [`Gpu::download_async`] does.
    pub fn download<T: Element>(&self, tensor: &Tensor<T>) -> Result<Vec<T>> {
        let mut out = vec![T::zeroed(); tensor.len()];
        self.download_into(tensor, &mut out)?;
        Ok(out)
    }

    /// [`Gpu::download`] into `out`, which must hold exactly the tensor's
    /// elements: for loops that read results back every step without
    /// allocating.
    pub fn download_into<T: Element>(&self, tensor: &Tensor<T>, out: &mut [T]) -> Result<()> {
        self.check_known_loss()?;
        let Some((start, end)) = self.download_range(tensor, out)? else {
            return Ok(());
        };
        let downloaded = match self.reads_in_place(tensor) {
            true => self.download_mapped(tensor, start, end, out),
            false => pollster::block_on(self.download_staged(tensor, start, end, out)),
        };
        downloaded.map_err(|e| self.unless_lost(e))
    }

    /// [`Gpu::download`], asynchronously: it awaits the copy while a thread
    /// of the `Gpu`'s own polls the device (on native backends wgpu makes
    /// progress only when polled; on the web the browser does it), so it
    /// never blocks its caller. It always copies through a staging buffer:
    /// reading a tensor in place needs the library's submissions held off
    /// for the mapping's whole duration, which an `async` call could only
    /// do by holding a lock across an await.
    pub async fn download_async<T: Element>(&self, tensor: &Tensor<T>) -> Result<Vec<T>> {
        let mut out = vec![T::zeroed(); tensor.len()];
        self.download_into_async(tensor, &mut out).await?;
        Ok(out)
    }

    /// [`Gpu::download_into`], asynchronously (see [`Gpu::download_async`]).
    pub async fn download_into_async<T: Element>(
        &self,
        tensor: &Tensor<T>,
        out: &mut [T],
    ) -> Result<()> {
        // On a lost device the mapping fails, which `unless_lost` names.
        self.check_known_loss()?;
        let Some((start, end)) = self.download_range(tensor, out)? else {
            return Ok(());
        };
        self.download_staged(tensor, start, end, out)
            .await
            .map_err(|e| self.unless_lost(e))
    }

    /// Checks a download and returns the bytes to copy, the tensor's range
    /// widened to 4-byte units (`copy_buffer_to_buffer` copies in those);
    /// `None` for an empty tensor.
    fn download_range<T: Element>(
        &self,
        tensor: &Tensor<T>,
        out: &[T],
    ) -> Result<Option<(u64, u64)>> {
        self.check_tensor(
            tensor,
            "the downloaded tensor",
            wgpu::BufferUsages::COPY_SRC,
        )?;
        if out.len() != tensor.len() {
            return Err(Error::ShapeMismatch {
                what: "the slice downloaded into",
                actual: vec![out.len()],
                expected: vec![tensor.len()],
            });
        }
        if tensor.is_empty() {
            return Ok(None);
        }
        let range = tensor.byte_range();
        let start = range.start / 4 * 4;
        let end = range.end.next_multiple_of(4);
        if end > tensor.raw_buffer().size() {
            return Err(Error::Misaligned {
                tensor: "the downloaded tensor",
                rule: format!(
                    "it ends at byte {} of a {}-byte buffer that is not a multiple of 4 bytes, \
                     and copies come in 4-byte units; make the buffer size a multiple of 4",
                    range.end,
                    tensor.raw_buffer().size()
                ),
            });
        }
        Ok(Some((start, end)))
    }

    /// Whether `download` reads the tensor's own buffer: mappable, and of
    /// this Gpu's own (only then known to be of this device: mapping another
    /// device's buffer and polling this one would wait forever; the staging
    /// copy catches that instead).
    fn reads_in_place<T: Element>(&self, tensor: &Tensor<T>) -> bool {
        tensor.owner() == Some(&self.inner.owner)
            && tensor
                .raw_buffer()
                .usage()
                .contains(wgpu::BufferUsages::MAP_READ)
    }

    /// Copies bytes `start..end` of the tensor's buffer through a staging
    /// buffer and awaits the copy.
    async fn download_staged<T: Element>(
        &self,
        tensor: &Tensor<T>,
        start: u64,
        end: u64,
        out: &mut [T],
    ) -> Result<()> {
        let range = tensor.byte_range();
        let size = end - start;
        let staging = self.take_staging(size)?;
        let scope = ErrorScopes::push(&self.inner.device);
        let mut encoder = self
            .inner
            .device
            .create_command_encoder(&Default::default());
        // wgpu panics on a buffer of another device (a wrapped app buffer
        // may be one): make that an error.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            encoder.copy_buffer_to_buffer(tensor.raw_buffer(), start, &staging, 0, size)
        }))
        .map_err(|_| Error::DeviceMismatch {
            tensor: "the downloaded tensor",
        })?;
        let submission = self.queue_submit(encoder);
        scope.pop_now()?;

        let slice = staging.slice(..size);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver only goes away if this future was dropped.
            let _ = sender.send(result);
        });
        self.inner.engine.drive(Some(submission));
        match receiver.receive().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Map(e.to_string())),
            None => return Err(Error::Map("the mapping callback never ran".into())),
        }
        let copied = slice
            .get_mapped_range()
            .map(|view| {
                let skip = (range.start - start) as usize;
                bytemuck::cast_slice_mut::<T, u8>(out)
                    .copy_from_slice(&view[skip..skip + tensor.byte_len() as usize]);
            })
            .map_err(|e| Error::Map(e.to_string()));
        staging.unmap();
        self.return_staging(staging);
        copied
    }
    /// `download` of a tensor whose buffer has `MAP_READ` usage: maps the
    /// bytes `start..end` (`end` a multiple of 4) of the buffer itself.
    /// Never awaits: mapping is only possible on native backends, where the
    /// wait for the device blocks anyway.
    fn download_mapped<T: Element>(
        &self,
        tensor: &Tensor<T>,
        start: u64,
        end: u64,
        out: &mut [T],
    ) -> Result<()> {
        // map_async wants an offset that is a multiple of 8.
        let start = start / wgpu::MAP_ALIGNMENT * wgpu::MAP_ALIGNMENT;
        let _mapped = self.inner.mapped.write().unwrap_or_else(|p| p.into_inner());
        let slice = tensor.raw_buffer().slice(start..end);
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let scope = ErrorScopes::push(&self.inner.device);
        slice.map_async(wgpu::MapMode::Read, move |mapped| {
            let _ = sender.send(mapped);
        });
        scope.pop_now()?;
        // The mapping completes once the work that writes the tensor is done;
        // its callback may then run on another thread that polls, so wait
        // for the callback itself, not only for the poll.
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())?;
        match receiver.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Map(e.to_string())),
            Err(_) => return Err(Error::Map("the mapping callback never ran".into())),
        }
        let copied = slice
            .get_mapped_range()
            .map(|view| {
                let skip = (tensor.byte_offset() - start) as usize;
                bytemuck::cast_slice_mut::<T, u8>(out)
                    .copy_from_slice(&view[skip..skip + tensor.byte_len() as usize]);
            })
            .map_err(|e| Error::Map(e.to_string()));
        tensor.raw_buffer().unmap();
        copied
    }

    /// A staging buffer of at least `size` bytes, a kept one where it can.
    fn take_staging(&self, size: u64) -> Result<wgpu::Buffer> {
        {
            let mut pool = lock(&self.inner.staging);
            if let Some(i) = pool.iter().position(|b| b.size() >= size) {
                return Ok(pool.swap_remove(i));
            }
        }
        // Round up so that a slightly larger download later reuses it.
        let size = size
            .next_power_of_two()
            .max(4096)
            .min(size.next_multiple_of(1 << 20));
        let scope = ErrorScopes::push(&self.inner.device);
        let buffer = self.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu_relu.staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        scope.pop_now()?;
        Ok(buffer)
    }

    fn return_staging(&self, buffer: wgpu::Buffer) {
        if buffer.size() > STAGING_POOL_MAX_BYTES {
            return;
        }
        let mut pool = lock(&self.inner.staging);
        pool.push(buffer);
        if pool.len() > STAGING_POOL_COUNT {
            // Keep the largest ones.
            pool.sort_by_key(|b| std::cmp::Reverse(b.size()));
            pool.truncate(STAGING_POOL_COUNT);
        }
    }
}
