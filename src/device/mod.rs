//! `Gpu`: the device, owned or borrowed, and what the library keeps on it.
//! Its methods live by purpose: creation and the device's state here, loss
//! in `loss.rs`, transfers in `upload.rs` and `download.rs`, the ops in
//! `ops.rs`.

mod download;
mod loss;
mod ops;
mod stats;
mod training;
mod upload;

use std::sync::{Arc, Mutex, RwLock};

use crate::element::Element;
use crate::engine::{Allocations, Engine};
use crate::error::{Error, Result};
use crate::lock::lock;
use crate::options::GpuOptions;
use crate::pool::Pool;
use crate::tensor::{Owner, Tensor};

/// Usages of every buffer the library allocates for a tensor: bound as
/// storage by the kernels, copied from by `download`, copied into by apps.
/// On CPU adapters tensors are also mappable (see [`mappable_tensors`]).
const TENSOR_USAGES: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// The features requested when the adapter has them: f16 kernels, and
/// timestamps for the benchmark; 64-bit integers for RReLU's generator.
const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::SHADER_INT64)
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS);

/// The features to request from an adapter, where it has them.
fn wanted_features(info: &wgpu::AdapterInfo) -> wgpu::Features {
    if info.device_type == wgpu::DeviceType::Cpu {
        OPTIONAL_FEATURES | wgpu::Features::MAPPABLE_PRIMARY_BUFFERS
    } else {
        OPTIONAL_FEATURES
    }
}

/// Whether the library's tensors are mappable on this device: on a CPU
/// adapter "device memory" is host memory, so `upload` can write a tensor's
/// own buffer and `download` read it, with no staging buffer and no copy
/// between the two. GPUs keep mappable buffers in host-visible memory that
/// kernels read more slowly, so there tensors stay unmappable.
fn mappable_tensors(device: &wgpu::Device) -> bool {
    device
        .features()
        .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS)
        && device.adapter_info().device_type == wgpu::DeviceType::Cpu
}

/// A wgpu device and queue with the ReLU-family kernels ready to run on it.
///
/// Cheap to clone and share across threads (`Send + Sync`): clones share the
/// device, the pipeline cache and the pools. Pipelines are built once per
/// `Gpu`, on first use, and reused by every call.
///
/// The methods that return a new tensor ([`forward`](Gpu::forward),
/// [`backward`](Gpu::backward)) submit their work and return without waiting;
/// [`download`](Gpu::download) waits. The `encode_*` methods record into the
/// caller's encoder and submit nothing.
#[derive(Clone)]
pub struct Gpu {
    inner: Arc<Inner>,
}

struct Inner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// Why the device was lost, once it is: every call then returns
    /// `Error::DeviceLost` at once, instead of work silently dropped.
    lost: Arc<Mutex<Option<String>>>,
    /// Whether `lost` is fed by the device's own lost callback (`Gpu::new`).
    watches_loss: std::sync::atomic::AtomicBool,
    engine: Engine,
    owner: Owner,
    staging: Mutex<Vec<wgpu::Buffer>>,
    /// Buffers of dropped tensors, for the next tensors of their sizes.
    pool: Arc<Pool>,
    /// Usages of the buffers the library allocates for tensors.
    tensor_usages: wgpu::BufferUsages,
    /// Read around each of the library's submissions, written while
    /// `download` has a tensor's own buffer mapped: wgpu rejects a
    /// submission that uses a mapped buffer, so the two must not overlap.
    mapped: RwLock<()>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.adapter_info();
        f.debug_struct("Gpu")
            .field("adapter", &info.name)
            .field("backend", &info.backend)
            .finish()
    }
}

impl Gpu {
    /// Picks an adapter and creates a device for it, blocking until done.
    ///
    /// Honours wgpu's environment variables: `WGPU_BACKEND` (e.g. `vulkan`,
    /// `gl`), `WGPU_ADAPTER_NAME` (a substring of the adapter's name) and
    /// `WGPU_POWER_PREF` (`low` or `high`). The device gets the adapter's own
    /// limits, so large buffers work, and `SHADER_F16` where the adapter has it.
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::new_async())
    }

    /// [`Gpu::new`], asynchronously.
    pub async fn new_async() -> Result<Self> {
        Self::with_options_async(GpuOptions::default()).await
    }

    /// [`Gpu::new`] with `options`: the exact-products choice, features to
    /// require and limits to request.
    pub fn with_options(options: GpuOptions) -> Result<Self> {
        pollster::block_on(Self::with_options_async(options))
    }

    /// [`Gpu::with_options`], asynchronously.
    pub async fn with_options_async(options: GpuOptions) -> Result<Self> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = select_adapter(&instance).await?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu_relu"),
                required_features: (adapter.features() & wanted_features(&adapter.get_info()))
                    | options.features,
                required_limits: options.limits.clone().unwrap_or_else(|| adapter.limits()),
                ..Default::default()
            })
            .await?;
        // The probe is awaited, not waited for.
        let engine = Engine::new_async(device.clone(), &queue, &options).await;
        let gpu = Self::from_parts(device, queue, engine);
        // The device is ours, so its lost callback is too (an app's own
        // device keeps its own: see `notify_device_lost`).
        let lost = gpu.inner.lost.clone();
        gpu.inner
            .device
            .set_device_lost_callback(move |reason, message| {
                *lock(&lost) = Some(format!("{reason:?}: {message}"));
            });
        gpu.inner
            .watches_loss
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(gpu)
    }

    /// Wraps an app's existing device and queue. Kernels then run on the
    /// app's device, on the app's buffers ([`Tensor::from_buffer`]), in the
    /// app's encoders (`encode_*`).
    ///
    /// Once, here, it submits one tiny probe dispatch to the queue and waits
    /// for it, to learn whether the device flushes subnormal products (see
    /// [`Gpu::exact_products`]); with `WGPU_RELU_EXACT_PRODUCTS=1` or `=0`
    /// an empty submission takes its place. It never fails: should the
    /// probe fail, the exact path is taken; a queue of another device makes
    /// every later call [`Error::DeviceMismatch`], and a device already lost
    /// every later call [`Error::DeviceLost`].
    ///
    /// wgpu cannot be asked which device a queue belongs to, and submitting
    /// to a foreign one panics inside wgpu: the probe catches that panic.
    /// The same holds for a command encoder of another wgpu instance given
    /// to an `encode_*` call (one of another device of the same instance is
    /// reported by wgpu when the app finishes the encoder). Under
    /// `panic = "abort"` those two mistakes abort instead; every other check
    /// is made without catching anything.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        Self::from_device_with_options(device, queue, &GpuOptions::default())
    }

    /// [`Gpu::from_device`] with `options` (of which only the
    /// exact-products choice applies: the device is made already).
    pub fn from_device_with_options(
        device: wgpu::Device,
        queue: wgpu::Queue,
        options: &GpuOptions,
    ) -> Self {
        let engine = Engine::new(device.clone(), &queue, options);
        Self::from_parts(device, queue, engine)
    }

    /// Tests: a second `Gpu` on this one's device whose engine `change`
    /// makes choose other kernels (another kind of adapter's, the other
    /// sign tests).
    #[cfg(test)]
    pub(crate) fn with_engine_changed(&self, change: impl FnOnce(&mut Engine)) -> Self {
        let mut engine = Engine::new(self.device().clone(), self.queue(), &GpuOptions::default());
        change(&mut engine);
        Self::from_parts(self.device().clone(), self.queue().clone(), engine)
    }

    /// A `Gpu` around a device, its queue and its engine.
    fn from_parts(device: wgpu::Device, queue: wgpu::Queue, engine: Engine) -> Self {
        let tensor_usages = if mappable_tensors(&device) {
            TENSOR_USAGES | wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE
        } else {
            TENSOR_USAGES
        };
        Self {
            inner: Arc::new(Inner {
                engine,
                device,
                queue,
                lost: Arc::default(),
                watches_loss: Default::default(),
                owner: Owner(Arc::new(())),
                staging: Mutex::default(),
                pool: Arc::default(),
                tensor_usages,
                mapped: RwLock::default(),
            }),
        }
    }

    /// The engine: pipelines, parameter blocks, geometry.
    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The adapter the device runs on: name, backend, device type.
    pub fn adapter_info(&self) -> wgpu::AdapterInfo {
        self.inner.device.adapter_info()
    }

    /// The device.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// Whether the device has `SHADER_F16`, so that `Tensor<half::f16>` works.
    pub fn supports_f16(&self) -> bool {
        self.inner
            .device
            .features()
            .contains(wgpu::Features::SHADER_F16)
    }

    /// Whether the kernels recompute, in integer arithmetic, products that
    /// this device flushes to zero (subnormals), so that results stay
    /// bit-identical to the CPU reference. Found out with a tiny dispatch
    /// when the `Gpu` is made; `WGPU_RELU_EXACT_PRODUCTS=1` (or `0`) decides
    /// instead.
    pub fn exact_products(&self) -> bool {
        self.inner.engine.exact_products()
    }

    /// How many buffers the library itself holds on this device (parameter
    /// blocks, scratch, PReLU's weight table, and the buffers of dropped
    /// tensors kept for reuse), for apps that account for their memory.
    pub fn allocations(&self) -> Allocations {
        let (pooled_buffers, pooled_bytes) = self.inner.pool.held();
        Allocations {
            pooled_buffers,
            pooled_bytes,
            ..self.inner.engine.allocations()
        }
    }

    /// Frees the buffers of dropped tensors that were kept for reuse (see
    /// [`Gpu::empty`]); later tensors allocate afresh until some are kept
    /// again. For apps that need the memory back, e.g. between phases.
    pub fn release_kept_buffers(&self) {
        self.inner.pool.clear();
    }

    /// Submits one command buffer, never while `download` has a buffer mapped.
    fn queue_submit(&self, encoder: wgpu::CommandEncoder) -> wgpu::SubmissionIndex {
        let _not_mapped = self.inner.mapped.read().unwrap_or_else(|p| p.into_inner());
        self.inner.queue.submit([encoder.finish()])
    }

    /// An error if the device lacks what `T` needs.
    pub(crate) fn check_dtype<T: Element>(&self, needed_for: &'static str) -> Result<()> {
        if self.inner.device.features().contains(T::FEATURE) {
            Ok(())
        } else {
            Err(Error::MissingFeature {
                feature: T::FEATURE,
                needed_for: f16_use(needed_for),
            })
        }
    }

    /// An error if `tensor` is another `Gpu`'s or its buffer lacks `usage`.
    pub(crate) fn check_tensor<T: Element>(
        &self,
        tensor: &Tensor<T>,
        name: &'static str,
        usage: wgpu::BufferUsages,
    ) -> Result<()> {
        if let Some(owner) = tensor.owner() {
            if owner != &self.inner.owner {
                return Err(Error::DeviceMismatch { tensor: name });
            }
        }
        if !tensor.raw_buffer().usage().contains(usage) {
            return Err(Error::MissingUsage {
                tensor: name,
                needed: usage,
                actual: tensor.raw_buffer().usage(),
            });
        }
        Ok(())
    }
}

/// Names the f16 use in a missing-feature error.
fn f16_use(op: &'static str) -> &'static str {
    match op {
        "upload" => "f16 tensors (upload)",
        "empty" => "f16 tensors",
        "relu" => "f16 ReLU",
        "leaky_relu" => "f16 Leaky ReLU",
        "prelu" => "f16 PReLU",
        other => other,
    }
}

/// The adapter named by `WGPU_ADAPTER_NAME`, or the one wgpu prefers for
/// `WGPU_POWER_PREF`.
async fn select_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
        let adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        return adapters
            .into_iter()
            .find(|a| {
                a.get_info()
                    .name
                    .to_lowercase()
                    .contains(&wanted.to_lowercase())
            })
            .ok_or_else(|| Error::NoAdapter {
                reason: format!("WGPU_ADAPTER_NAME={wanted:?} matches none of {names:?}"),
            });
    }
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
            ..Default::default()
        })
        .await
        .map_err(|e| Error::NoAdapter {
            reason: e.to_string(),
        })
}
