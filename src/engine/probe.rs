//! What the engine asks the device: whether it flushes subnormal products
//! (once, at creation, which also checks the queue), and whether it is
//! still alive (on every call that would otherwise return `Ok`).

use std::sync::Arc;

use crate::element::Dtype;
use crate::error::{Error, Result};

use super::bind::Bound;
use super::dispatch::{record_in_encoder, ErrorScopes};
use super::kernel::{KernelSpec, Module};
use super::Engine;

/// `y = x * 0.5` on two elements, plain f32 arithmetic.
static PROBE: Module = Module {
    name: "wgpu_relu.probe",
    parts: &["
override WG: u32 = 256u;
@group(0) @binding(0) var<uniform> count: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG)
fn halve(@builtin(local_invocation_index) i: u32) {
    if i < count.x {
        y[i] = x[i] * 0.5;
    }
}"],
};

impl Engine {
    /// Halves a normal input with a subnormal result and a subnormal input,
    /// and says whether either came back flushed to zero. The work goes
    /// through `queue`: a queue of another device is an error here.
    pub(crate) async fn flushes_subnormals(&self, queue: &wgpu::Queue) -> Result<bool> {
        let inputs = [-f32::MIN_POSITIVE, -f32::from_bits(0x200)]; // -2^-126, -2^-140
        let expected = [0x8040_0000u32, 0x8000_0100]; // -2^-127, -2^-141
        let spec = KernelSpec {
            module: &PROBE,
            entry: "halve",
            bindings: vec![1, 2],
            constants: Vec::new(),
        };
        let kernel = Arc::new(self.build_kernel(&spec, Dtype::F32, false)?);
        let scope = ErrorScopes::push(&self.device);
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let x = buffer_init(
            &self.device,
            "wgpu_relu.probe",
            bytemuck::cast_slice(&inputs),
            storage,
        )?;
        let y = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu_relu.probe"),
            size: 8,
            usage: storage,
            mapped_at_creation: false,
        });
        let read = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu_relu.probe"),
            size: 8,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let grid = self.grid(1)?.expect("one workgroup");
        let count = [2u32, 0, 0, 0];
        let dispatch = self.prepare(
            &kernel,
            bytemuck::bytes_of(&count),
            grid,
            &[(1, &Bound::whole(&x)), (2, &Bound::whole(&y))],
        )?;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        record_in_encoder(&mut encoder, "wgpu_relu.probe", &[dispatch])?;
        encoder.copy_buffer_to_buffer(&y, 0, &read, 0, 8);
        let submission = submit_checked(queue, encoder)?;
        scope.pop_now()?;
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        read.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        // A submission index from another device's queue is one this
        // device never reaches: a wait for it fails at once.
        if submission_of_another_device(&self.device, &submission) {
            return Err(foreign_queue());
        }
        self.drive(Some(submission));
        receiver
            .receive()
            .await
            .ok_or_else(foreign_queue)?
            .map_err(|e| Error::Map(e.to_string()))?;
        let bits: Vec<u32> = bytemuck::cast_slice(
            &read
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Map(e.to_string()))?,
        )
        .to_vec();
        read.unmap();
        Ok(bits != expected)
    }

    /// Checks that `queue` is this device's with an empty submission, where
    /// the subnormal probe does not run.
    pub(crate) async fn check_queue(&self, queue: &wgpu::Queue) -> Result<()> {
        let encoder = self.device.create_command_encoder(&Default::default());
        let submission = submit_checked(queue, encoder)?;
        match submission_of_another_device(&self.device, &submission) {
            true => Err(foreign_queue()),
            false => Ok(()),
        }
    }
}

/// Whether `submission` came from a queue of another device: waiting for
/// it on this one fails at once (wgpu checks the index against the
/// device's own submissions). One of this device's own is waited for to
/// the end (the probe's own small work, waited for next anyway): a wait
/// that times out while another thread's poll finishes the same
/// submission trips an assertion in wgpu-core 30 ("If the queue is empty,
/// the current submission index ... should be at least the wait
/// submission index"), seen with several `Gpu`s made on one device at
/// once.
fn submission_of_another_device(device: &wgpu::Device, submission: &wgpu::SubmissionIndex) -> bool {
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission.clone()),
            timeout: None,
        })
        .is_err_and(|e| matches!(e, wgpu::PollError::WrongSubmissionIndex(..)))
}

/// Submits `encoder` to `queue`. A queue of another device makes wgpu panic
/// (in the registry of another instance, or in the default error handler of
/// the queue's own device, which is not ours to scope), and wgpu cannot be
/// asked which device a queue belongs to: that panic is caught here and
/// becomes `DeviceMismatch`, once, at `Gpu::from_device`.
fn submit_checked(
    queue: &wgpu::Queue,
    encoder: wgpu::CommandEncoder,
) -> Result<wgpu::SubmissionIndex> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        queue.submit([encoder.finish()])
    }))
    .map_err(|_| foreign_queue())
}

/// The error for a queue of another device.
pub(crate) fn foreign_queue() -> Error {
    Error::DeviceMismatch {
        tensor: "the queue given to Gpu::from_device",
    }
}

/// A new buffer holding `contents`, written through a mapping at creation.
/// wgpu's `create_buffer_init` unwraps that mapping, which fails on a lost
/// device: here it is an error.
pub(crate) fn buffer_init(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> Result<wgpu::Buffer> {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (contents.len() as u64).next_multiple_of(4).max(4),
        usage,
        mapped_at_creation: true,
    });
    buffer
        .slice(..)
        .get_mapped_range_mut()
        .map(|mut view| view.slice(..contents.len()).copy_from_slice(contents))
        .map_err(|e| {
            Error::DeviceLost(format!(
                "a new buffer could not be mapped ({e}), which happens once the device is lost \
                 or destroyed"
            ))
        })?;
    buffer.unmap();
    Ok(buffer)
}

/// Whether the device still works. wgpu reports no error for work on a
/// lost or destroyed device (it drops it silently, and its lost callback
/// belongs to whoever made the device), but a buffer made there cannot be
/// mapped: a 4-byte buffer mapped at creation tells, in microseconds and
/// without a submission.
pub(crate) fn device_alive(device: &wgpu::Device) -> bool {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("wgpu_relu.alive"),
        size: 4,
        usage: wgpu::BufferUsages::MAP_WRITE,
        mapped_at_creation: true,
    });
    let alive = buffer.slice(..).get_mapped_range_mut().is_ok();
    // (Unmapping a buffer that could not be mapped is a validation error.)
    if alive {
        buffer.unmap();
    }
    alive
}
