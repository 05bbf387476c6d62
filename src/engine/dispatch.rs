//! Dispatches made ready before anything is recorded, the recording itself
//! (into an encoder or an app's compute pass), and the error scopes around
//! the work.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

use super::bind::Bound;
use super::kernel::Kernel;
use super::Engine;

/// A dispatch grid: `groups` workgroups spread over x, then y and z past
/// the per-dimension limit. Kernels find their flat workgroup index from
/// `x` and `y` (`workgroup_index` in src/common/index.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) z: u32,
}

/// One dispatch made by [`Engine::prepare`]: its pipeline, its bind group
/// (parameter block included) and its grid.
pub(crate) struct Prepared {
    kernel: Arc<Kernel>,
    bind_group: wgpu::BindGroup,
    grid: Grid,
}

impl Engine {
    /// The grid for `groups` workgroups, `None` for none.
    pub(crate) fn grid(&self, groups: u64) -> Result<Option<Grid>> {
        if groups == 0 {
            return Ok(None);
        }
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        let x = groups.min(max);
        let y = groups.div_ceil(x).min(max);
        let z = groups.div_ceil(x * y);
        if z > max {
            return Err(Error::TooLarge {
                what: "the dispatch grid (workgroups)",
                size: groups,
                limit: max * max * max,
                hint: "the device's max_compute_workgroups_per_dimension is too small for this \
                       many channels; request a device with a larger one",
            });
        }
        Ok(Some(Grid {
            x: x as u32,
            y: y as u32,
            z: z as u32,
        }))
    }

    /// One dispatch of `kernel` over `grid`, with the parameter block
    /// `params` (the kernel's own `#[repr(C)]` struct, as bytes) and the
    /// bound ranges it reads and writes. Made here, so that a bad operand
    /// is an error before anything is recorded.
    pub(crate) fn prepare(
        &self,
        kernel: &Arc<Kernel>,
        params: &[u8],
        grid: Grid,
        bound: &[(u32, &Bound<'_>)],
    ) -> Result<Prepared> {
        let params_buffer = self.params_buffer(params)?;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params_buffer.as_entire_binding(),
        }];
        for &binding in &kernel.bindings {
            let Some((_, b)) = bound.iter().find(|(n, _)| *n == binding) else {
                unreachable!("binding {binding} of {:?} not supplied", kernel.bindings);
            };
            entries.push(wgpu::BindGroupEntry {
                binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.buffer,
                    offset: b.offset,
                    size: wgpu::BufferSize::new(b.size),
                }),
            });
        }
        let descriptor = wgpu::BindGroupDescriptor {
            label: Some("wgpu_relu.bind_group"),
            layout: &kernel.layout,
            entries: &entries,
        };
        // wgpu looks buffers up in the registry of the device's instance and
        // panics on one of another instance (a wrapped app buffer may be
        // one); a buffer cannot be asked for its device, so the panic is the
        // only sign. Of another device of the same instance, it is a
        // validation error, caught by the caller's error scope.
        let created = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.device.create_bind_group(&descriptor)
        }));
        let bind_group = created.map_err(|_| Error::DeviceMismatch {
            tensor: "a wrapped buffer",
        })?;
        Ok(Prepared {
            kernel: kernel.clone(),
            bind_group,
            grid,
        })
    }
}

/// Records `dispatches` into `encoder`, in one compute pass of its own;
/// nothing for no dispatches.
pub(crate) fn record_in_encoder(
    encoder: &mut wgpu::CommandEncoder,
    label: &str,
    dispatches: &[Prepared],
) -> Result<()> {
    if dispatches.is_empty() {
        return Ok(());
    }
    caught_as_mismatch("the command encoder", || {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        record_dispatches(&mut pass, dispatches);
    })
}

/// Records the zeroing of `size` bytes of `buffer` from `offset` into
/// `encoder` (an encoder of another instance is a `DeviceMismatch`, as for
/// dispatches).
pub(crate) fn record_clear(
    encoder: &mut wgpu::CommandEncoder,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<()> {
    caught_as_mismatch("the command encoder", || {
        encoder.clear_buffer(buffer, offset, Some(size))
    })
}

/// Records `dispatches` into an app's compute pass.
pub(crate) fn record_in_pass(
    pass: &mut wgpu::ComputePass<'_>,
    dispatches: &[Prepared],
) -> Result<()> {
    caught_as_mismatch("the compute pass", || record_dispatches(pass, dispatches))
}

fn record_dispatches(pass: &mut wgpu::ComputePass<'_>, dispatches: &[Prepared]) {
    for dispatch in dispatches {
        let Grid { x, y, z } = dispatch.grid;
        pass.set_pipeline(&dispatch.kernel.pipeline);
        pass.set_bind_group(0, &dispatch.bind_group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Runs `record`. Everything was made and checked before, so it only
/// records; but an encoder or pass of another wgpu instance makes wgpu
/// panic when it looks up our pipelines in its own registry, and wgpu
/// cannot be asked which device an encoder belongs to: that panic becomes
/// `DeviceMismatch` here (a build with `panic = "abort"` aborts instead).
/// One of another device of the same instance is reported by wgpu when the
/// app finishes its encoder.
fn caught_as_mismatch(what: &'static str, record: impl FnOnce()) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(record))
        .map_err(|_| Error::DeviceMismatch { tensor: what })
}

/// Validation and out-of-memory error scopes around a piece of work, so
/// that a wgpu error becomes an [`Error`] instead of reaching the device's
/// uncaptured-error handler (whose default panics).
pub(crate) struct ErrorScopes {
    validation: wgpu::ErrorScopeGuard,
    memory: wgpu::ErrorScopeGuard,
}

impl ErrorScopes {
    pub(crate) fn push(device: &wgpu::Device) -> Self {
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        Self { validation, memory }
    }

    /// Pops both scopes (innermost first) and returns the first error,
    /// without waiting. Native backends report errors as the work is
    /// issued, so the scopes' results are there at once; on the web they
    /// resolve later, and an error there stays inside its scope (it never
    /// reaches the uncaptured-error handler) but cannot be returned by a
    /// call that does not wait: what the library checks before recording
    /// is what catches bad input there.
    pub(crate) fn pop_now(self) -> Result<()> {
        let validation = ready_now(self.validation.pop());
        let memory = ready_now(self.memory.pop());
        match validation.or(memory) {
            Some(error) => Err(Error::from_wgpu(error)),
            None => Ok(()),
        }
    }
}

/// The future's output if it is ready at its first poll, else `None`.
fn ready_now<F: Future<Output = Option<wgpu::Error>>>(future: F) -> Option<wgpu::Error> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(error) => error,
        Poll::Pending => None,
    }
}
