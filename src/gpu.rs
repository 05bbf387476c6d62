//! `Gpu`: the device (owned or borrowed), transfers, and the op methods.

use std::sync::{Arc, Mutex, RwLock};

use crate::activation::{Activation, Gradients};
use crate::cpu::Channels;
use crate::element::{Dtype, Element};
use crate::error::{Error, Result};
use crate::kernels::{lock, Allocations, ErrorScopes, Family, Kernels, Operand, MAX_ELEMENTS};
use crate::pool::{Pool, Storage};
use crate::tensor::{Owner, Tensor};

/// Usages of every buffer the library allocates for a tensor: bound as
/// storage by the kernels, copied from by `download`, copied into by apps.
/// On CPU adapters tensors are also mappable (see [`mappable_tensors`]).
const TENSOR_USAGES: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Staging buffers kept for reuse by `download`, and the largest one kept.
const STAGING_POOL_COUNT: usize = 2;
const STAGING_POOL_MAX_BYTES: u64 = 256 << 20;

/// The features requested when the adapter has them: f16 kernels, and
/// timestamps for the benchmark.
const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
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
    kernels: Kernels,
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
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = select_adapter(&instance).await?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu_relu"),
                required_features: adapter.features() & wanted_features(&adapter.get_info()),
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await?;
        let gpu = Self::from_device(device, queue);
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
        let tensor_usages = if mappable_tensors(&device) {
            TENSOR_USAGES | wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE
        } else {
            TENSOR_USAGES
        };
        Self {
            inner: Arc::new(Inner {
                kernels: Kernels::new(device.clone(), &queue),
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
    fn check_alive(&self) -> Result<()> {
        self.check_known_loss()?;
        // The callback runs only once the lost device's queue is empty, and
        // a borrowed device's callback is the app's: ask the device itself.
        if !crate::kernels::device_alive(&self.inner.device) {
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
    fn check_known_loss(&self) -> Result<()> {
        if self.inner.kernels.foreign_queue() {
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
    fn unless_lost(&self, error: Error) -> Error {
        match (&error, self.check_alive()) {
            (Error::Map(_) | Error::Poll(_) | Error::Validation(_), Err(lost)) => lost,
            _ => error,
        }
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
        self.inner.kernels.exact_products()
    }

    /// How many buffers the library itself holds on this device (parameter
    /// blocks, scratch, and the buffers of dropped tensors kept for reuse),
    /// for apps that account for their memory.
    pub fn allocations(&self) -> Allocations {
        let (pooled_buffers, pooled_bytes) = self.inner.pool.held();
        Allocations {
            pooled_buffers,
            pooled_bytes,
            ..self.inner.kernels.allocations()
        }
    }

    /// Frees the buffers of dropped tensors that were kept for reuse (see
    /// [`Gpu::empty`]); later tensors allocate afresh until some are kept
    /// again. For apps that need the memory back, e.g. between phases.
    pub fn release_kept_buffers(&self) {
        self.inner.pool.clear();
    }

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
    fn output<T: Element>(&self, shape: &[usize]) -> Result<Tensor<T>> {
        self.check_dtype::<T>("empty")?;
        let len = crate::tensor::element_count(shape)? as u64;
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

    /// Copies a tensor back into a `Vec`, waiting for the work before it.
    ///
    /// On CPU adapters a tensor made by this `Gpu` is read in place, by
    /// mapping its buffer (mappable there, see [`Gpu::upload`]) for the
    /// moment of the copy; the library's own submissions from other threads
    /// wait for that moment, but one of the app's that uses the same buffer
    /// then would fail wgpu's validation. Any other tensor is copied through
    /// a reused staging buffer.
    pub fn download<T: Element>(&self, tensor: &Tensor<T>) -> Result<Vec<T>> {
        pollster::block_on(self.download_async(tensor))
    }

    /// [`Gpu::download`] into `out`, which must hold exactly the tensor's
    /// elements: for loops that read results back every step without
    /// allocating.
    pub fn download_into<T: Element>(&self, tensor: &Tensor<T>, out: &mut [T]) -> Result<()> {
        pollster::block_on(self.download_into_async(tensor, out))
    }

    /// [`Gpu::download`], asynchronously. On native backends the wait for the
    /// device happens inside (wgpu has no other way to make progress there);
    /// on the web it is a real await.
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
        self.download_checked(tensor, out)
            .await
            .map_err(|e| self.unless_lost(e))
    }

    /// [`Gpu::download_into_async`] on a live device.
    async fn download_checked<T: Element>(&self, tensor: &Tensor<T>, out: &mut [T]) -> Result<()> {
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
            return Ok(());
        }
        // copy_buffer_to_buffer works in 4-byte units: copy the enclosing
        // aligned range and skip the extra bytes on the host.
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
        // Only a tensor of this Gpu's own is known to be of this device:
        // mapping another device's buffer and polling this one would wait
        // forever (the staging copy below catches that instead).
        let own = tensor.owner() == Some(&self.inner.owner);
        if own
            && tensor
                .raw_buffer()
                .usage()
                .contains(wgpu::BufferUsages::MAP_READ)
        {
            return self.download_mapped(tensor, start, end, out);
        }
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
        scope.pop()?;

        let slice = staging.slice(..size);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver only goes away if this future was dropped.
            let _ = sender.send(result);
        });
        self.inner.device.poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: None,
        })?;
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

    /// Applies `activation` to `x` into a new tensor of the same shape.
    pub fn forward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        // The device is asked after the submission (in `submit`).
        self.check_known_loss()?;
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        let y = self.output::<T>(x.shape())?;
        self.submit(|encoder| self.record_forward(encoder, activation, x, &y))?;
        Ok(y)
    }

    /// Applies `activation` to `x` in place, overwriting it.
    ///
    /// Backward needs the forward's *input*: after an in-place forward that
    /// input is gone, so keep a copy if you will call [`Gpu::backward`].
    pub fn forward_in_place<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
    ) -> Result<()> {
        self.check_known_loss()?;
        self.submit(|encoder| self.record_forward(encoder, activation, x, x))
    }

    /// Gradients of `activation` at the forward's input `x`, given the
    /// gradient of the output `grad_y` (same shape as `x`).
    ///
    /// `x` must be the input of the forward, not its output: an in-place
    /// forward overwrites it. For PReLU, `weight` of the result is `Some`.
    pub fn backward<T: Element>(
        &self,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
    ) -> Result<Gradients<T>> {
        self.check_known_loss()?;
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        let input = self.output::<T>(x.shape())?;
        let weight = match activation {
            Activation::Prelu { weight, .. } => Some(self.output::<T>(weight.shape())?),
            _ => None,
        };
        self.submit(|encoder| {
            self.record_backward(encoder, activation, x, grad_y, &input, weight.as_ref())
        })?;
        Ok(Gradients { input, weight })
    }

    /// Records `y = activation(x)` into `encoder`; submits nothing.
    ///
    /// `y` may be exactly the same range as `x` (in place); a partial overlap
    /// is an [`Error::Overlap`]. Everything is validated before anything is
    /// recorded. What it allocates: a bind group per dispatch, and a small
    /// uniform buffer per distinct (size, offsets, parameters), cached.
    pub fn encode_forward<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<()> {
        // The app submits this later, maybe after dropping the tensors:
        // their buffers must not serve other tensors meanwhile.
        self.check_alive()?;
        escape(activation, &[x, y]);
        self.record_forward(encoder, activation, x, y)
    }

    /// [`Gpu::encode_forward`] for an encoder the library submits itself
    /// (which asks whether the device is alive after submitting).
    fn record_forward<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<()> {
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        self.check_tensor(y, "y", wgpu::BufferUsages::STORAGE)?;
        check_same_shape(y, x, "y")?;
        check_overlap(x, "x", y, "y", true)?;
        let plan = self.plan(activation, x, y)?;
        let (x_op, y_op) = (operand(x, "x"), operand(y, "y"));
        self.inner.kernels.encode_elementwise(
            encoder,
            plan.family,
            Dtype::of::<T>(),
            T::SIZE,
            x.len() as u64,
            x_op,
            None,
            y_op,
            plan.slope,
            plan.weight.as_ref().map(|(w, c)| (*w, c)),
        )
    }

    /// Records the backward of `activation` into `encoder`; submits nothing.
    ///
    /// `x` is the forward's input, `grad_y` the gradient of its output (same
    /// shape), `grad_x` receives the input gradient (it may be exactly
    /// `grad_y`'s range). `grad_weight` receives PReLU's weight gradient
    /// (shaped like the weight); pass `None` to compute only `grad_x`, and
    /// always `None` for the activations without a weight.
    pub fn encode_backward<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
        grad_x: &Tensor<T>,
        grad_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        self.check_alive()?;
        escape(activation, &[x, grad_y, grad_x]);
        if let Some(grad_weight) = grad_weight {
            grad_weight.escape();
        }
        self.record_backward(encoder, activation, x, grad_y, grad_x, grad_weight)
    }

    /// [`Gpu::encode_backward`] for an encoder the library submits itself
    /// (which asks whether the device is alive after submitting).
    fn record_backward<T: Element>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activation: &Activation<'_, T>,
        x: &Tensor<T>,
        grad_y: &Tensor<T>,
        grad_x: &Tensor<T>,
        grad_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        self.check_tensor(x, "x", wgpu::BufferUsages::STORAGE)?;
        self.check_tensor(grad_y, "grad_y", wgpu::BufferUsages::STORAGE)?;
        self.check_tensor(grad_x, "grad_x", wgpu::BufferUsages::STORAGE)?;
        if grad_y.shape() != x.shape() {
            return Err(Error::ShapeMismatch {
                what: "grad_y",
                actual: grad_y.shape().to_vec(),
                expected: x.shape().to_vec(),
            });
        }
        check_same_shape(grad_x, x, "grad_x")?;
        check_overlap(x, "x", grad_x, "grad_x", false)?;
        check_overlap(grad_y, "grad_y", grad_x, "grad_x", true)?;
        let plan = self.plan(activation, x, grad_x)?;
        let len = x.len() as u64;
        let (x_op, g_op, y_op) = (
            operand(x, "x"),
            operand(grad_y, "grad_y"),
            operand(grad_x, "grad_x"),
        );
        match (grad_weight, &plan.weight) {
            (Some(_), None) => Err(Error::InvalidWeight(format!(
                "{} has no weight, so it has no weight gradient: pass grad_weight = None",
                activation.name()
            ))),
            (Some(grad_w), Some((w_op, channels))) => {
                self.check_tensor(grad_w, "grad_weight", wgpu::BufferUsages::STORAGE)?;
                if grad_w.len() != channels.channels {
                    return Err(Error::ShapeMismatch {
                        what: "grad_weight",
                        actual: grad_w.shape().to_vec(),
                        expected: vec![channels.channels],
                    });
                }
                for (t, name) in [(x, "x"), (grad_y, "grad_y"), (grad_x, "grad_x")] {
                    check_overlap(t, name, grad_w, "grad_weight", false)?;
                }
                if let Activation::Prelu { weight, .. } = activation {
                    check_overlap(weight, "the weight", grad_w, "grad_weight", false)?;
                }
                self.inner.kernels.encode_prelu_weight_grad(
                    encoder,
                    Dtype::of::<T>(),
                    T::SIZE,
                    len,
                    x_op,
                    g_op,
                    y_op,
                    *w_op,
                    operand(grad_w, "grad_weight"),
                    channels,
                )
            }
            (None, weight) => self.inner.kernels.encode_elementwise(
                encoder,
                plan.family,
                Dtype::of::<T>(),
                T::SIZE,
                len,
                x_op,
                Some(g_op),
                y_op,
                plan.slope,
                weight.as_ref().map(|(w, c)| (*w, c)),
            ),
        }
    }

    /// Checks an activation's parameters against `x` and says which kernels
    /// run it.
    fn plan<'a, T: Element>(
        &self,
        activation: &Activation<'a, T>,
        x: &Tensor<T>,
        output: &Tensor<T>,
    ) -> Result<Plan<'a>> {
        self.check_dtype::<T>(activation.name())?;
        if x.len() as u64 > MAX_ELEMENTS {
            return Err(Error::TooLarge {
                what: "the tensor's element count",
                size: x.len() as u64,
                limit: MAX_ELEMENTS,
                hint: "split the tensor into several of at most 2^31 elements",
            });
        }
        Ok(match *activation {
            Activation::Relu => Plan {
                family: Family::Relu,
                slope: 0.0,
                weight: None,
            },
            Activation::LeakyRelu { negative_slope } => {
                if !negative_slope.is_finite() {
                    return Err(Error::InvalidSlope(negative_slope));
                }
                Plan {
                    family: Family::LeakyRelu,
                    slope: effective_slope::<T>(negative_slope),
                    weight: None,
                }
            }
            Activation::Prelu {
                weight,
                channel_axis,
            } => {
                self.check_tensor(weight, "the weight", wgpu::BufferUsages::STORAGE)?;
                check_overlap(weight, "the weight", output, "the output", false)?;
                let channels = Channels::new(x.shape(), x.len(), weight.len(), channel_axis)?;
                let limit = self.inner.kernels.binding_limit();
                if weight.byte_len() + 256 > limit {
                    return Err(Error::TooLarge {
                        what: "the PReLU weight (bytes)",
                        size: weight.byte_len(),
                        limit,
                        hint: "the weight is bound whole and must fit one storage binding \
                               (max_storage_buffer_binding_size); use fewer channels",
                    });
                }
                Plan {
                    family: Family::Prelu,
                    slope: 0.0,
                    weight: Some((operand(weight, "the weight"), channels)),
                }
            }
        })
    }

    /// Runs `encode` in a new encoder and submits it, with wgpu's errors
    /// caught and returned.
    fn submit(&self, encode: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<()>) -> Result<()> {
        let scope = ErrorScopes::push(&self.inner.device);
        let mut encoder =
            self.inner
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgpu_relu.op"),
                });
        let encoded = encode(&mut encoder);
        if encoded.is_ok() {
            self.queue_submit(encoder);
        }
        let caught = scope.pop();
        encoded.and(caught).map_err(|e| self.unless_lost(e))?;
        // A device destroyed before the submission dropped the work without
        // a word: that must not come back as Ok.
        self.check_alive()
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
        (scope.pop().is_ok() && mapped).then_some(buffer)
    }

    /// Submits one command buffer, never while `download` has a buffer mapped.
    fn queue_submit(&self, encoder: wgpu::CommandEncoder) -> wgpu::SubmissionIndex {
        let _not_mapped = self.inner.mapped.read().unwrap_or_else(|p| p.into_inner());
        self.inner.queue.submit([encoder.finish()])
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
        scope.pop()?;
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

    /// Creates a tensor buffer of `bytes` (padded to 4), within the device's
    /// limits, catching out-of-memory.
    fn create_buffer(&self, bytes: u64, label: &str, mapped: bool) -> Result<wgpu::Buffer> {
        let size = buffer_size(bytes);
        let limit = self.inner.kernels.limits().max_buffer_size;
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
        scope.pop()?;
        Ok(buffer)
    }

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
        scope.pop()?;
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

    fn check_dtype<T: Element>(&self, needed_for: &'static str) -> Result<()> {
        if self.inner.device.features().contains(T::FEATURE) {
            Ok(())
        } else {
            Err(Error::MissingFeature {
                feature: T::FEATURE,
                needed_for: f16_use(needed_for),
            })
        }
    }

    fn check_tensor<T: Element>(
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

/// Marks the tensors an `encode_*` call records, PReLU's weight included,
/// as never to be reused (see `pool.rs`).
fn escape<T: Element>(activation: &Activation<'_, T>, tensors: &[&Tensor<T>]) {
    for tensor in tensors {
        tensor.escape();
    }
    if let Activation::Prelu { weight, .. } = activation {
        weight.escape();
    }
}

/// The size of a tensor buffer for `bytes` of data: copies and mappings work
/// in 4-byte units, and wgpu has no empty buffers.
fn buffer_size(bytes: u64) -> u64 {
    bytes.next_multiple_of(4).max(4)
}

/// The slope the kernels use. For f16, a subnormal f32 slope becomes the
/// smallest normal one of the same sign: every f16 times either rounds to
/// the same signed zero (or the same infinity), and a normal slope cannot be
/// flushed by a device that flushes subnormals, which would turn
/// ±inf · slope into NaN.
fn effective_slope<T: Element>(slope: f32) -> f32 {
    if Dtype::of::<T>() == Dtype::F16 && slope != 0.0 && slope.abs() < f32::MIN_POSITIVE {
        f32::MIN_POSITIVE.copysign(slope)
    } else {
        slope
    }
}

struct Plan<'a> {
    family: Family,
    slope: f32,
    weight: Option<(Operand<'a>, Channels)>,
}

fn operand<'a, T: Element>(tensor: &'a Tensor<T>, name: &'static str) -> Operand<'a> {
    Operand {
        buffer: tensor.raw_buffer(),
        byte_offset: tensor.byte_offset(),
        name,
    }
}

/// Outputs are shaped like `x`: the same element count in another shape
/// is an error, as in PyTorch, since a caller who reads the output by its
/// shape would misread it.
fn check_same_shape<T: Element>(
    output: &Tensor<T>,
    x: &Tensor<T>,
    name: &'static str,
) -> Result<()> {
    if output.shape() == x.shape() {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what: name,
            actual: output.shape().to_vec(),
            expected: x.shape().to_vec(),
        })
    }
}

/// An error if `output` overlaps `input` in the same buffer, unless it is
/// exactly the same range and `same_allowed`.
fn check_overlap<T: Element>(
    input: &Tensor<T>,
    input_name: &'static str,
    output: &Tensor<T>,
    output_name: &'static str,
    same_allowed: bool,
) -> Result<()> {
    if input.raw_buffer() != output.raw_buffer() || input.is_empty() || output.is_empty() {
        return Ok(());
    }
    let (a, b) = (input.byte_range(), output.byte_range());
    let overlaps = a.start < b.end && b.start < a.end;
    if !overlaps || (same_allowed && a == b) {
        Ok(())
    } else {
        Err(Error::Overlap {
            input: input_name,
            output: output_name,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The f16 slope substitution changes no result: every f16 value times
    /// the subnormal slope and times its stand-in round to the same f16.
    #[test]
    fn subnormal_f16_slope_stand_in_gives_identical_results() {
        for slope in [
            f32::from_bits(1),
            -f32::from_bits(1),
            1.0e-40,
            -7.3e-39,
            f32::from_bits(0x007f_ffff),
        ] {
            let stand_in = effective_slope::<half::f16>(slope);
            assert!(stand_in.is_normal() && stand_in.signum() == slope.signum());
            for bits in 0..=u16::MAX {
                let x = half::f16::from_bits(bits);
                let exact = crate::cpu::leaky_relu(&[x], slope)[0];
                let substituted = crate::cpu::leaky_relu(&[x], stand_in)[0];
                assert!(
                    exact.to_bits() == substituted.to_bits()
                        || (exact.is_nan() && substituted.is_nan()),
                    "x = {x}, slope {slope:e}: {exact} vs {substituted}"
                );
            }
        }
        assert_eq!(
            effective_slope::<f32>(1.0e-40),
            1.0e-40,
            "f32 keeps its slope"
        );
        assert_eq!(effective_slope::<half::f16>(0.0), 0.0);
    }
}
