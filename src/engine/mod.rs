//! The engine: shader modules and pipelines, parameter blocks, binding and
//! chunking geometry, dispatch and error scopes, shared by every op. It
//! names no op family: a family hands it a [`KernelSpec`] and the bytes of
//! its own parameter struct, and gets back dispatches to record.

pub(crate) mod bind;
pub(crate) mod dispatch;
pub(crate) mod elementwise;
mod entries;
pub(crate) mod kernel;
mod operands;
pub(crate) mod poll;
pub(crate) mod probe;
mod word_parts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::element::Dtype;
use crate::error::Result;
use crate::lock::lock;
use crate::options::{ExactProducts, GpuOptions};

pub(crate) use bind::{Bound, Operand};
pub(crate) use dispatch::{record_clear, record_in_encoder, record_in_pass, ErrorScopes, Prepared};
pub(crate) use kernel::{Kernel, KernelSpec, Module, TABLE, TABLE_BYTES, WORKGROUP_SIZE};

/// Distinct parameter blocks kept before the cache starts again.
const PARAMS_CACHE_CAPACITY: usize = 1024;

/// Pipelines, parameter blocks and scratch of one device, built once and
/// reused by every call.
pub(crate) struct Engine {
    pub(crate) device: wgpu::Device,
    pub(crate) limits: wgpu::Limits,
    /// Whether the kernels are compiled with EXACT_PRODUCTS (the device
    /// flushes subnormal products, which the semantics keep).
    exact_products: bool,
    /// Whether the queue given with the device belongs to another one.
    foreign_queue: bool,
    /// Whether the adapter is a CPU (a software rasteriser), where loads
    /// cost more than integer arithmetic (families choose kernels by it).
    cpu_adapter: bool,
    /// Whether the sign tests are float compares (FLOAT_COMPARES in
    /// src/common/sign.wgsl): on lavapipe (Mesa's llvmpipe under Vulkan),
    /// whose compares are IEEE's, the suite holds them to the bits.
    float_compares: bool,
    modules: Mutex<HashMap<(&'static str, Dtype), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<kernel::KernelKey, Arc<Kernel>>>,
    /// Parameter blocks by their bytes: immutable once written.
    params: Mutex<HashMap<Box<[u8]>, wgpu::Buffer>>,
    /// Polls the device for the `async` calls that wait.
    poller: poll::Poller,
    /// One scratch buffer (the weight gradient's partial sums), grown,
    /// never shrunk. The queue runs ops one after another, and wgpu places
    /// a barrier between dispatches that write it.
    scratch: Mutex<Option<wgpu::Buffer>>,
    /// The families' table (`TABLE`), made on first use. Each op writes
    /// it in a dispatch of its own just before the dispatches that read
    /// it, so ops that follow each other may share it.
    table: OnceLock<wgpu::Buffer>,
}

/// How many buffers the library has created on this device, by purpose:
/// what an embedding app pays (see the README).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocations {
    /// Uniform parameter blocks: one per distinct (op, size, offsets,
    /// parameters), cached and reused.
    pub params_buffers: usize,
    /// The shared scratch buffer of the PReLU weight gradient (0 or 1).
    pub scratch_buffers: usize,
    /// The 4 KiB table that PReLU's element-wise kernels and its walk of
    /// channel runs bind, and read their weights from on a CPU adapter (0
    /// or 1).
    pub table_buffers: usize,
    /// Buffers of dropped tensors kept for the next tensors of their sizes
    /// (see [`Gpu::empty`](crate::Gpu::empty)).
    pub pooled_buffers: usize,
    /// The bytes of `pooled_buffers`.
    pub pooled_bytes: u64,
}

impl Engine {
    /// The engine of `device`. Finds out once, with a tiny dispatch on
    /// `queue`, whether the device flushes subnormal products, unless
    /// `options` (or `WGPU_RELU_EXACT_PRODUCTS`) decide; an empty
    /// submission then checks the queue instead. Waits for the probe.
    pub(crate) fn new(device: wgpu::Device, queue: &wgpu::Queue, options: &GpuOptions) -> Self {
        pollster::block_on(Self::new_async(device, queue, options))
    }

    /// [`Engine::new`], awaiting the probe instead of waiting for it.
    pub(crate) async fn new_async(
        device: wgpu::Device,
        queue: &wgpu::Queue,
        options: &GpuOptions,
    ) -> Self {
        let limits = device.limits();
        let info = device.adapter_info();
        let cpu_adapter = info.device_type == wgpu::DeviceType::Cpu;
        // Through SPIR-V only: llvmpipe's GL front end rewrites `x < 0.0`
        // into something true for NaN and -0 (src/common/tests.rs).
        let float_compares = cpu_adapter
            && info.backend == wgpu::Backend::Vulkan
            && info.name.starts_with("llvmpipe");
        let mut engine = Self {
            poller: poll::Poller::new(device.clone()),
            device,
            limits,
            exact_products: false,
            foreign_queue: false,
            cpu_adapter,
            float_compares,
            modules: Mutex::default(),
            pipelines: Mutex::default(),
            params: Mutex::default(),
            scratch: Mutex::default(),
            table: OnceLock::new(),
        };
        let forced = match options.exact_products_in_effect() {
            ExactProducts::Always => Some(true),
            ExactProducts::Never => Some(false),
            ExactProducts::Probe => None,
        };
        let probe = match forced {
            Some(exact) => engine.check_queue(queue).await.map(|()| exact),
            None => engine.flushes_subnormals(queue).await,
        };
        engine.foreign_queue = matches!(probe, Err(crate::Error::DeviceMismatch { .. }));
        // If the probe itself fails, exact products are the safe side.
        engine.exact_products = forced.unwrap_or(probe.unwrap_or(true));
        log::info!(
            "wgpu_relu: exact subnormal products: {}",
            engine.exact_products
        );
        engine
    }

    /// Has the device polled until `submission` is done, without blocking
    /// the caller (see `poll.rs`).
    pub(crate) fn drive(&self, submission: Option<wgpu::SubmissionIndex>) {
        self.poller.drive(submission);
    }

    /// Whether the kernels recompute products that the device flushed.
    pub(crate) fn exact_products(&self) -> bool {
        self.exact_products
    }

    /// Whether the queue given with the device belongs to another device.
    pub(crate) fn foreign_queue(&self) -> bool {
        self.foreign_queue
    }

    /// Whether the adapter is a CPU.
    pub(crate) fn cpu_adapter(&self) -> bool {
        self.cpu_adapter
    }

    /// Tests: the kernels of the other kind of adapter on this one.
    #[cfg(test)]
    pub(crate) fn set_cpu_adapter(&mut self, cpu_adapter: bool) {
        self.cpu_adapter = cpu_adapter;
    }

    /// Tests: whether a kernel of the module `name` has been built.
    #[cfg(test)]
    pub(crate) fn built(&self, name: &str) -> bool {
        lock(&self.modules).keys().any(|(n, _)| *n == name)
    }

    /// Whether the sign tests are float compares.
    pub(crate) fn float_compares(&self) -> bool {
        self.float_compares
    }

    /// Tests: the sign tests the other way.
    #[cfg(test)]
    pub(crate) fn set_float_compares(&mut self, float_compares: bool) {
        self.float_compares = float_compares;
    }

    pub(crate) fn allocations(&self) -> Allocations {
        Allocations {
            params_buffers: lock(&self.params).len(),
            scratch_buffers: lock(&self.scratch).is_some() as usize,
            table_buffers: self.table.get().is_some() as usize,
            ..Allocations::default()
        }
    }

    /// A uniform buffer holding `params`. Blocks are immutable once written
    /// and cached by content, so a call with the same sizes and parameters
    /// allocates nothing, and a block recorded into an encoder that has not
    /// been submitted yet is never overwritten.
    pub(crate) fn params_buffer(&self, params: &[u8]) -> Result<wgpu::Buffer> {
        let mut cache = lock(&self.params);
        if let Some(buffer) = cache.get(params) {
            return Ok(buffer.clone());
        }
        if cache.len() >= PARAMS_CACHE_CAPACITY {
            // Pending command buffers keep their blocks alive on their own.
            cache.clear();
        }
        let buffer = probe::buffer_init(
            &self.device,
            "wgpu_relu.params",
            params,
            wgpu::BufferUsages::UNIFORM,
        )?;
        cache.insert(params.into(), buffer.clone());
        Ok(buffer)
    }

    /// The table (`TABLE_BYTES`), bound as a uniform where kernels read it
    /// and as storage where a kernel writes it.
    pub(crate) fn table(&self) -> wgpu::Buffer {
        self.table
            .get_or_init(|| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgpu_relu.table"),
                    size: TABLE_BYTES,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM,
                    mapped_at_creation: false,
                })
            })
            .clone()
    }

    /// The scratch buffer, at least `bytes` long.
    pub(crate) fn scratch(&self, bytes: u64) -> wgpu::Buffer {
        let mut scratch = lock(&self.scratch);
        match &*scratch {
            Some(buffer) if buffer.size() >= bytes => buffer.clone(),
            _ => {
                // Rounded up so that a slightly larger need reuses it, within
                // the device's largest buffer.
                let size = bytes
                    .next_power_of_two()
                    .max(256)
                    .min(self.limits.max_buffer_size.max(bytes));
                let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgpu_relu.scratch"),
                    size,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                });
                *scratch = Some(buffer.clone());
                buffer
            }
        }
    }
}
