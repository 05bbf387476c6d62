//! Buffers of dropped tensors, kept for the next tensor of the same size.
//!
//! A fresh buffer costs more than its allocation: wgpu zeroes it before its
//! first use, and on a CPU adapter that first touch of new memory also
//! faults in every page. A layer called in a loop asks for the same output
//! sizes every step, so [`Gpu::empty`](crate::Gpu::empty) (and with it
//! `forward` and `backward`) takes the buffer of a dropped tensor of the same
//! size when there is one; so does `upload` where tensors are mappable (CPU
//! adapters), mapping it once no submitted work uses it.
//!
//! Reuse is safe only for buffers nobody outside the library can still
//! reach: a buffer handed out by [`Tensor::buffer`](crate::Tensor::buffer)
//! (the app may keep a clone) or recorded into an app's encoder (the app
//! submits it later, maybe after the tensor is gone) has escaped and is
//! never pooled. Work the library itself submitted is no obstacle: the queue
//! runs it before anything submitted with the buffer's next tensor.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::lock::lock;

/// At most this many buffers, and this many bytes, are kept; the oldest go
/// first.
const MAX_BUFFERS: usize = 32;
const MAX_BYTES: u64 = 256 << 20;

/// The kept buffers of one `Gpu`.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Mutex<VecDeque<wgpu::Buffer>>,
}

impl Pool {
    /// A kept buffer of exactly `size` bytes, the most recently kept first.
    pub(crate) fn take(&self, size: u64) -> Option<wgpu::Buffer> {
        let mut free = lock(&self.free);
        let i = free.iter().rposition(|b| b.size() == size)?;
        free.remove(i)
    }

    /// Drops every kept buffer.
    pub(crate) fn clear(&self) {
        lock(&self.free).clear();
    }

    /// How many buffers are kept, and their bytes.
    pub(crate) fn held(&self) -> (usize, u64) {
        let free = lock(&self.free);
        (free.len(), free.iter().map(wgpu::Buffer::size).sum())
    }

    /// Keeps `buffer` for a later tensor of its size.
    pub(crate) fn keep(&self, buffer: wgpu::Buffer) {
        if buffer.size() > MAX_BYTES {
            return;
        }
        let mut free = lock(&self.free);
        free.push_back(buffer);
        let mut bytes: u64 = free.iter().map(wgpu::Buffer::size).sum();
        while free.len() > MAX_BUFFERS || bytes > MAX_BYTES {
            let oldest = free.pop_front().expect("over the limits, so not empty");
            bytes -= oldest.size();
        }
    }
}

/// A tensor's buffer, shared by the tensor's clones and reshapes; returned
/// to its pool when the last of them is dropped, unless it escaped.
#[derive(Debug)]
pub(crate) struct Storage {
    buffer: wgpu::Buffer,
    /// Where the buffer goes back to; none for an app's wrapped buffer.
    pool: Option<Weak<Pool>>,
    escaped: AtomicBool,
}

impl Storage {
    /// A buffer the library allocated, to be kept in `pool` after use.
    pub(crate) fn pooled(buffer: wgpu::Buffer, pool: &Arc<Pool>) -> Arc<Self> {
        Arc::new(Self {
            buffer,
            pool: Some(Arc::downgrade(pool)),
            escaped: AtomicBool::new(false),
        })
    }

    /// A buffer the library never keeps: an app's, or an upload's.
    pub(crate) fn unpooled(buffer: wgpu::Buffer) -> Arc<Self> {
        Arc::new(Self {
            buffer,
            pool: None,
            escaped: AtomicBool::new(true),
        })
    }

    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Something outside the library may hold or use the buffer from now
    /// on: never reuse it.
    pub(crate) fn escape(&self) {
        self.escaped.store(true, Ordering::Relaxed);
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if self.escaped.load(Ordering::Relaxed) {
            return;
        }
        if let Some(pool) = self.pool.as_ref().and_then(Weak::upgrade) {
            pool.keep(self.buffer.clone());
        }
    }
}
