//! Shader loading, the pipeline cache, dispatch geometry and the `encode_*`
//! machinery shared by every op.
//!
//! A tensor may sit at any element-aligned offset and be larger than one
//! storage binding may be. Every op is therefore recorded as a list of
//! *chunks*: element ranges small enough to bind, each bound at an offset
//! aligned down to `min_storage_buffer_offset_alignment`, the remainder going
//! to the shader as an element offset. A chunk whose offsets are all
//! multiples of four elements runs the `vec4` entry point (with a scalar
//! tail); any other runs the scalar one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cpu::Channels;
use crate::divisor;
use crate::element::Dtype;
use crate::error::{Error, Result};

/// Invocations per workgroup of every kernel: the WebGPU default limit, so it
/// runs on every adapter.
const WORKGROUP_SIZE: u32 = 256;
/// `vec4`s (or scalars) per invocation in the element-wise kernels.
const ITEMS_ELEMENTWISE: u32 = 4;
/// Elements one workgroup of a vec4 element-wise kernel covers.
const VEC4_SPAN: u64 = (WORKGROUP_SIZE * ITEMS_ELEMENTWISE * 4) as u64;
/// Elements per invocation in a tile of `weight_grad_rows`.
const ITEMS_ROWS: u32 = 8;
/// Elements a tile of `weight_grad_rows` covers.
const ROWS_TILE: u64 = (WORKGROUP_SIZE * ITEMS_ROWS) as u64;
/// vec4s per invocation in a tile of `weight_grad_rows_vec4`, each
/// invocation leaving one partial: 64 elements per partial.
const ITEMS_ROWS_VEC4: u32 = 16;
/// Elements a tile of `weight_grad_rows_vec4` covers.
const ROWS_TILE_VEC4: u64 = (WORKGROUP_SIZE * ITEMS_ROWS_VEC4 * 4) as u64;
/// Rows an invocation of `weight_grad_cols` sums before writing a partial.
const COLS_ROWS: u64 = 64;
/// Runs a scalar tile long or longer take `weight_grad_cols_vec4` only where
/// it sums at least this many rows per partial: with fewer, the partials
/// approach the tensor's own size (scalar tiles leave one per tile).
const COLS_VEC4_MIN_ROWS: u64 = 8;
/// Below this many partials per channel, one invocation per channel sums
/// them; above, a workgroup does.
const REDUCE_WIDE_FROM: u64 = 64;
/// Where partials lie in fours, one invocation per channel sums up to this
/// many, without a barrier; a workgroup sums more. The invocation was the
/// faster on lavapipe up to here and no slower at four times as many
/// (BENCHMARKS.md).
const REDUCE_NARROW_VEC4_UP_TO: u64 = 1024;
/// Distinct parameter blocks kept before the cache starts again.
const PARAMS_CACHE_CAPACITY: usize = 1024;
/// Largest number of elements one dispatch addresses, so that every index in
/// the shaders fits in a u32 with room to spare.
const MAX_CHUNK_ELEMENTS: u64 = 1 << 30;
/// Largest tensor, in elements: the PReLU channel arithmetic runs in u32.
pub(crate) const MAX_ELEMENTS: u64 = 1 << 31;

/// The shader families, one WGSL file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    Relu,
    LeakyRelu,
    Prelu,
}

impl Family {
    fn source(self) -> &'static str {
        match self {
            Family::Relu => include_str!("../shaders/relu.wgsl"),
            Family::LeakyRelu => include_str!("../shaders/leaky_relu.wgsl"),
            Family::Prelu => include_str!("../shaders/prelu.wgsl"),
        }
    }

    /// Whether the family's module has the u32-word kernels of
    /// shaders/words.wgsl, for f16 data.
    fn runs_on_words(self) -> bool {
        matches!(self, Family::Relu | Family::LeakyRelu)
    }

    fn name(self) -> &'static str {
        match self {
            Family::Relu => "relu",
            Family::LeakyRelu => "leaky_relu",
            Family::Prelu => "prelu",
        }
    }
}

/// The shared part of every shader module.
pub(crate) const COMMON_SOURCE: &str = include_str!("../shaders/common.wgsl");

/// The u32-word kernels, for the families that run f16 on words.
const WORDS_SOURCE: &str = include_str!("../shaders/words.wgsl");

/// The full WGSL text of a family's module for one element type: the
/// precision header, the common part, the word kernels where the family has
/// them, the family's own functions.
pub(crate) fn module_source(family: Family, dtype: Dtype) -> String {
    let words = if family.runs_on_words() {
        WORDS_SOURCE
    } else {
        ""
    };
    format!(
        "{}{COMMON_SOURCE}{words}{}",
        dtype.header(),
        family.source()
    )
}

/// Entry points, each with the bindings it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Entry {
    ForwardVec4(Weights),
    ForwardScalar,
    /// f16 data as u32 words (shaders/words.wgsl).
    ForwardPacked,
    BackwardVec4(Weights),
    BackwardScalar,
    /// The backward on f16 data as u32 words.
    BackwardPacked,
    WeightGradRows,
    /// `WeightGradRows` four elements at a time; `aligned`: as vec4s (every
    /// operand's offset a multiple of four elements), else element by
    /// element in the same order (the pipeline constant `ALIGNED`).
    WeightGradRowsVec4 {
        aligned: bool,
    },
    WeightGradCols,
    /// `WeightGradCols` four columns at a time; `aligned` as above.
    WeightGradColsVec4 {
        weights: Weights,
        aligned: bool,
    },
    ReduceWide,
    /// `ReduceWide` over partials that lie in fours.
    ReduceWideVec4,
    ReduceNarrow,
    /// `ReduceNarrow` over partials that lie in fours.
    ReduceNarrowVec4,
}

/// How PReLU's vec4 kernels fetch weights: the pipeline constants of the
/// same names in shaders/prelu.wgsl. Both false for the other families.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Weights {
    /// The four elements of a vec4 share one channel.
    per_vec4: bool,
    /// Every item of an invocation has the weights of its first.
    repeat: bool,
}

impl Weights {
    /// The cheapest fetch `channels` allows in a vec4 dispatch, whose chunks
    /// start on workgroup-span boundaries.
    fn for_layout(channels: &Channels) -> Self {
        // One shared weight: every element has the same.
        let shared = channels.channels == 1;
        let inner = channels.inner as u64;
        let period = channels.channels as u64 * inner;
        let item_stride = 4 * u64::from(WORKGROUP_SIZE);
        Self {
            per_vec4: shared || inner.is_multiple_of(4),
            repeat: shared || inner.is_multiple_of(VEC4_SPAN) || item_stride.is_multiple_of(period),
        }
    }

    /// The fetch of `weight_grad_cols_vec4`, whose invocations each take
    /// four neighbouring columns once.
    fn for_columns(channels: &Channels) -> Self {
        Self {
            per_vec4: channels.channels == 1 || channels.inner.is_multiple_of(4),
            repeat: false,
        }
    }
}

// Binding numbers, as in shaders/common.wgsl, shaders/prelu.wgsl and
// shaders/words.wgsl.
const PARAMS: u32 = 0;
const X4: u32 = 1;
const G4: u32 = 2;
const Y4: u32 = 3;
const X1: u32 = 4;
const G1: u32 = 5;
const Y1: u32 = 6;
const W1: u32 = 7;
const PARTIALS: u32 = 8;
const GRAD_W: u32 = 9;
const XW4: u32 = 10;
const GW4: u32 = 11;
const YW4: u32 = 12;
const XW1: u32 = 13;
const GW1: u32 = 14;
const YW1: u32 = 15;
const PARTIALS4: u32 = 16;
const ACC: u32 = 17;

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Entry::ForwardVec4(_) => "forward_vec4",
            Entry::ForwardScalar => "forward_scalar",
            Entry::ForwardPacked => "forward_packed",
            Entry::BackwardVec4(_) => "backward_vec4",
            Entry::BackwardScalar => "backward_scalar",
            Entry::BackwardPacked => "backward_packed",
            Entry::WeightGradRows => "weight_grad_rows",
            Entry::WeightGradRowsVec4 { .. } => "weight_grad_rows_vec4",
            Entry::WeightGradCols => "weight_grad_cols",
            Entry::WeightGradColsVec4 { .. } => "weight_grad_cols_vec4",
            Entry::ReduceWide => "weight_grad_reduce_wide",
            Entry::ReduceWideVec4 => "weight_grad_reduce_wide_vec4",
            Entry::ReduceNarrow => "weight_grad_reduce_narrow",
            Entry::ReduceNarrowVec4 => "weight_grad_reduce_narrow_vec4",
        }
    }

    /// The storage bindings the entry point reads or writes (the uniform at
    /// binding 0 comes on top).
    fn bindings(self, family: Family) -> Vec<u32> {
        let mut bindings = match self {
            Entry::ForwardVec4(_) => vec![X4, Y4, X1, Y1],
            Entry::ForwardScalar => vec![X1, Y1],
            Entry::ForwardPacked => vec![XW4, YW4, XW1, YW1],
            Entry::BackwardVec4(_) => vec![X4, G4, Y4, X1, G1, Y1],
            Entry::BackwardScalar => vec![X1, G1, Y1],
            Entry::BackwardPacked => vec![XW4, GW4, YW4, XW1, GW1, YW1],
            Entry::WeightGradRows | Entry::WeightGradCols => vec![X1, G1, Y1, PARTIALS],
            Entry::WeightGradRowsVec4 { .. } => vec![X4, G4, Y4, X1, G1, Y1, PARTIALS],
            Entry::WeightGradColsVec4 { .. } => vec![X4, G4, Y4, X1, G1, Y1, PARTIALS4],
            Entry::ReduceWide | Entry::ReduceNarrow => return vec![PARTIALS, GRAD_W, ACC],
            Entry::ReduceWideVec4 | Entry::ReduceNarrowVec4 => return vec![PARTIALS4, GRAD_W, ACC],
        };
        if family == Family::Prelu {
            bindings.push(W1);
        }
        bindings
    }

    /// How the entry fetches PReLU weights.
    fn weights(self) -> Weights {
        match self {
            Entry::ForwardVec4(weights)
            | Entry::BackwardVec4(weights)
            | Entry::WeightGradColsVec4 { weights, .. } => weights,
            _ => Weights::default(),
        }
    }

    /// Whether the entry's vec4 views may be used (false only for the
    /// weight-gradient kernels over operands at odd offsets).
    fn aligned(self) -> bool {
        match self {
            Entry::WeightGradRowsVec4 { aligned } | Entry::WeightGradColsVec4 { aligned, .. } => {
                aligned
            }
            _ => true,
        }
    }

    /// Vectors or scalars each invocation handles.
    fn items(self) -> u32 {
        match self {
            Entry::WeightGradRows => ITEMS_ROWS,
            Entry::WeightGradRowsVec4 { .. } => ITEMS_ROWS_VEC4,
            _ => ITEMS_ELEMENTWISE,
        }
    }
}

/// The parameter block, laid out as `Params` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub len: u32,
    pub groups_x: u32,
    pub x_off: u32,
    pub g_off: u32,
    pub y_off: u32,
    pub w_off: u32,
    /// The f32 slope as bits, so the block can be hashed.
    pub slope_bits: u32,
    pub channels: u32,
    pub inner: u32,
    pub phase: u32,
    pub first: u32,
    pub base: u32,
    pub tiles: u32,
    pub period: u32,
    pub p_shift: u32,
    pub cols: u32,
    pub rows: u32,
    pub outer: u32,
    pub groups_y: u32,
    pub a_count: u32,
    pub a_stride: u32,
    pub b_count: u32,
    pub acc_mode: u32,
    pub c_first: u32,
    // The divisors the kernels divide by, packed by `divisor::pack` (set in
    // `dispatch` from the fields above).
    pub inner_div: [u32; 2],
    pub channels_div: [u32; 2],
    pub tiles_div: [u32; 2],
    pub cols_div: [u32; 2],
    pub b_count_div: [u32; 2],
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    bindings: Vec<u32>,
}

/// A tensor operand of an op: where its elements start and their size.
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub byte_offset: u64,
    pub name: &'static str,
}

/// The part of an operand one dispatch binds.
struct Bound<'a> {
    buffer: &'a wgpu::Buffer,
    offset: u64,
    size: u64,
    /// Element offset of the operand's first element within the binding.
    elem_off: u32,
}

/// Pipelines, parameter blocks and scratch of one device, built once and
/// reused by every call.
pub(crate) struct Kernels {
    device: wgpu::Device,
    limits: wgpu::Limits,
    /// Whether the kernels are compiled with EXACT_PRODUCTS (the device
    /// flushes subnormal products, which the semantics keep).
    exact_products: bool,
    /// Whether the queue given with the device belongs to another one.
    foreign_queue: bool,
    /// Whether the adapter is a CPU (a software rasteriser), where loads
    /// cost more than integer arithmetic: f16 Leaky ReLU then runs on u32
    /// words too, rounding to f16 in integer arithmetic. On GPUs the
    /// hardware converts and the kernels are memory-bound; only ReLU, which
    /// needs no conversion, runs on words there.
    cpu_adapter: bool,
    modules: Mutex<HashMap<(Family, Dtype), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<(Family, Entry, Dtype), Arc<Kernel>>>,
    params: Mutex<HashMap<Params, wgpu::Buffer>>,
    /// f32 partial sums of the PReLU weight gradient; grown, never shrunk.
    /// One buffer serves every op: the queue runs them one after another, and
    /// wgpu places a barrier between dispatches that write it.
    scratch: Mutex<Option<wgpu::Buffer>>,
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
    /// Buffers of dropped tensors kept for the next tensors of their sizes
    /// (see [`Gpu::empty`](crate::Gpu::empty)).
    pub pooled_buffers: usize,
    /// The bytes of `pooled_buffers`.
    pub pooled_bytes: u64,
}

impl Kernels {
    /// The kernels of `device`. Finds out once, with a tiny dispatch on
    /// `queue`, whether the device flushes subnormal products (see
    /// [`Kernels::flushes_subnormals`]); `WGPU_RELU_EXACT_PRODUCTS=1` or `=0`
    /// decides instead, and an empty submission then checks the queue.
    pub(crate) fn new(device: wgpu::Device, queue: &wgpu::Queue) -> Self {
        let limits = device.limits();
        let cpu_adapter = device.adapter_info().device_type == wgpu::DeviceType::Cpu;
        let mut kernels = Self {
            device,
            limits,
            exact_products: false,
            foreign_queue: false,
            cpu_adapter,
            modules: Mutex::default(),
            pipelines: Mutex::default(),
            params: Mutex::default(),
            scratch: Mutex::default(),
        };
        let forced = match std::env::var("WGPU_RELU_EXACT_PRODUCTS").as_deref() {
            Ok("1") => Some(true),
            Ok("0") => Some(false),
            _ => None,
        };
        let probe = match forced {
            Some(exact) => kernels.check_queue(queue).map(|()| exact),
            None => kernels.flushes_subnormals(queue),
        };
        kernels.foreign_queue = matches!(probe, Err(Error::DeviceMismatch { .. }));
        // If the probe itself fails, exact products are the safe side.
        kernels.exact_products = forced.unwrap_or(probe.unwrap_or(true));
        log::info!(
            "wgpu_relu: exact subnormal products: {}",
            kernels.exact_products
        );
        kernels
    }

    /// Whether the kernels recompute products that the device flushed.
    pub(crate) fn exact_products(&self) -> bool {
        self.exact_products
    }

    /// Whether the queue given with the device belongs to another device
    /// (found by the probe at creation).
    pub(crate) fn foreign_queue(&self) -> bool {
        self.foreign_queue
    }

    /// Runs Leaky ReLU (slope 0.5) compiled without the exact-product path
    /// on a normal input with a subnormal result and on a subnormal input,
    /// and says whether either came back flushed to zero.
    fn flushes_subnormals(&self, queue: &wgpu::Queue) -> Result<bool> {
        let inputs = [-f32::MIN_POSITIVE, -f32::from_bits(0x200)]; // -2^-126, -2^-140
        let expected = [0x8040_0000u32, 0x8000_0100]; // -2^-127, -2^-141
        let kernel = Arc::new(self.build_kernel(
            Family::LeakyRelu,
            Entry::ForwardScalar,
            Dtype::F32,
            false,
        )?);
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
        let whole = |buffer| Bound {
            buffer,
            offset: 0,
            size: 8,
            elem_off: 0,
        };
        let params = Params {
            len: 2,
            slope_bits: 0.5f32.to_bits(),
            channels: 1,
            inner: 1,
            ..Params::default()
        };
        let dispatch = self.prepare(&kernel, params, 1, &[(X1, &whole(&x)), (Y1, &whole(&y))])?;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        record(&mut encoder, "wgpu_relu.probe", dispatch.as_slice())?;
        encoder.copy_buffer_to_buffer(&y, 0, &read, 0, 8);
        let submission = submit_checked(queue, encoder)?;
        scope.pop()?;
        let (sender, receiver) = std::sync::mpsc::channel();
        read.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|_| foreign_queue())?;
        // The wait ran the callback, unless the work went to another device.
        receiver
            .try_recv()
            .map_err(|_| foreign_queue())?
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
    fn check_queue(&self, queue: &wgpu::Queue) -> Result<()> {
        let encoder = self.device.create_command_encoder(&Default::default());
        let submission = submit_checked(queue, encoder)?;
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map(|_| ())
            .map_err(|_| foreign_queue())
    }

    pub(crate) fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub(crate) fn allocations(&self) -> Allocations {
        Allocations {
            params_buffers: lock(&self.params).len(),
            scratch_buffers: lock(&self.scratch).is_some() as usize,
            ..Allocations::default()
        }
    }

    /// Largest storage binding, in bytes.
    pub(crate) fn binding_limit(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Largest element range one binding can hold wherever it starts.
    fn chunk_elements(&self, esize: u64) -> u64 {
        let align = u64::from(self.limits.min_storage_buffer_offset_alignment);
        let usable = self
            .binding_limit()
            .saturating_sub(align.saturating_sub(esize));
        // Every kernel covers at least WORKGROUP_SIZE elements per
        // workgroup, so this many always fit the grid.
        let max_groups = u64::from(self.limits.max_compute_workgroups_per_dimension).pow(3);
        let grid = max_groups.saturating_mul(u64::from(WORKGROUP_SIZE));
        // A multiple of a vec4 workgroup's span keeps every chunk after the
        // first as vec4-aligned as the first, and each workgroup's span
        // where it was relative to PReLU's channel runs.
        ((usable / esize).min(grid) / VEC4_SPAN * VEC4_SPAN).clamp(VEC4_SPAN, MAX_CHUNK_ELEMENTS)
    }

    fn kernel(&self, family: Family, entry: Entry, dtype: Dtype) -> Result<Arc<Kernel>> {
        if let Some(kernel) = lock(&self.pipelines).get(&(family, entry, dtype)) {
            return Ok(kernel.clone());
        }
        // Built outside the lock: another thread may build the same one at
        // the same time, and the first insert wins. Both are correct.
        let kernel = Arc::new(self.build_kernel(family, entry, dtype, self.exact_products)?);
        Ok(lock(&self.pipelines)
            .entry((family, entry, dtype))
            .or_insert(kernel)
            .clone())
    }

    fn build_kernel(
        &self,
        family: Family,
        entry: Entry,
        dtype: Dtype,
        exact_products: bool,
    ) -> Result<Kernel> {
        let module = self.module(family, dtype)?;
        let bindings = entry.bindings(family);
        let label = format!("wgpu_relu.{}.{}.{dtype:?}", family.name(), entry.name());
        let scope = ErrorScopes::push(&self.device);
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: PARAMS,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        entries.extend(bindings.iter().map(|&binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: false },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }));
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&label),
                entries: &entries,
            });
        let pipeline_layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&label),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let mut constants = vec![
            ("WG", f64::from(WORKGROUP_SIZE)),
            ("ITEMS", f64::from(entry.items())),
        ];
        let weights = entry.weights();
        if weights.per_vec4 {
            constants.push(("WEIGHT_PER_VEC4", 1.0));
        }
        if weights.repeat {
            constants.push(("WEIGHTS_REPEAT", 1.0));
        }
        if !entry.aligned() {
            constants.push(("ALIGNED", 0.0));
        }
        // f16 values never make subnormal f32 products or sums (see
        // shaders/common.wgsl), so f16 kernels never need the exact path.
        if exact_products && dtype == Dtype::F32 {
            constants.push(("EXACT_PRODUCTS", 1.0));
        }
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry.name()),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    // The reductions write every workgroup slot before reading it.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        scope.pop()?;
        Ok(Kernel {
            pipeline,
            layout,
            bindings,
        })
    }

    fn module(&self, family: Family, dtype: Dtype) -> Result<wgpu::ShaderModule> {
        if let Some(module) = lock(&self.modules).get(&(family, dtype)) {
            return Ok(module.clone());
        }
        let scope = ErrorScopes::push(&self.device);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&format!("wgpu_relu.{}.{dtype:?}", family.name())),
                source: wgpu::ShaderSource::Wgsl(module_source(family, dtype).into()),
            });
        scope.pop()?;
        Ok(lock(&self.modules)
            .entry((family, dtype))
            .or_insert(module)
            .clone())
    }

    /// A uniform buffer holding `params`. Blocks are immutable once written
    /// and cached by content, so a call with the same sizes and parameters
    /// allocates nothing, and a block recorded into an encoder that has not
    /// been submitted yet is never overwritten.
    fn params_buffer(&self, params: &Params) -> Result<wgpu::Buffer> {
        let mut cache = lock(&self.params);
        if let Some(buffer) = cache.get(params) {
            return Ok(buffer.clone());
        }
        if cache.len() >= PARAMS_CACHE_CAPACITY {
            // Pending command buffers keep their blocks alive on their own.
            cache.clear();
        }
        let buffer = buffer_init(
            &self.device,
            "wgpu_relu.params",
            bytemuck::bytes_of(params),
            wgpu::BufferUsages::UNIFORM,
        )?;
        cache.insert(*params, buffer.clone());
        Ok(buffer)
    }

    /// The scratch buffer, at least `bytes` long.
    fn scratch(&self, bytes: u64) -> wgpu::Buffer {
        let mut scratch = lock(&self.scratch);
        match &*scratch {
            Some(buffer) if buffer.size() >= bytes => buffer.clone(),
            _ => {
                let size = bytes.next_power_of_two().max(256);
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

    /// The part of `operand` holding elements `start..start + len`, bound
    /// at an aligned offset.
    fn bind<'a>(
        &self,
        operand: Operand<'a>,
        esize: u64,
        start: u64,
        len: u64,
    ) -> Result<Bound<'a>> {
        let align = u64::from(self.limits.min_storage_buffer_offset_alignment);
        let first_byte = operand.byte_offset + start * esize;
        let offset = first_byte / align * align;
        let end = first_byte + len.max(1) * esize;
        let size = (end - offset)
            .next_multiple_of(4)
            .min(operand.buffer.size() - offset);
        if !size.is_multiple_of(4) {
            return Err(Error::Misaligned {
                tensor: operand.name,
                rule: format!(
                    "its range ends at byte {end}, at the end of a {}-byte buffer that is not a \
                     multiple of 4 bytes; storage bindings come in 4-byte units, so make the \
                     buffer size a multiple of 4",
                    operand.buffer.size()
                ),
            });
        }
        Ok(Bound {
            buffer: operand.buffer,
            offset,
            size,
            elem_off: ((first_byte - offset) / esize) as u32,
        })
    }

    /// One dispatch of `kernel` over `groups` workgroups, ready to record:
    /// its parameter block and bind group are made here, so that a bad
    /// operand is an error before anything is recorded. `None` for no
    /// workgroups.
    fn prepare(
        &self,
        kernel: &Arc<Kernel>,
        mut params: Params,
        groups: u64,
        bound: &[(u32, &Bound<'_>)],
    ) -> Result<Option<Prepared>> {
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
        params.groups_x = x as u32;
        params.groups_y = y as u32;
        params.inner_div = divisor::pack(params.inner);
        params.channels_div = divisor::pack(params.channels);
        params.tiles_div = divisor::pack(params.tiles);
        params.cols_div = divisor::pack(params.cols);
        params.b_count_div = divisor::pack(params.b_count);
        let params_buffer = self.params_buffer(&params)?;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: PARAMS,
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
        Ok(Some(Prepared {
            kernel: kernel.clone(),
            bind_group,
            grid: [x as u32, y as u32, z as u32],
        }))
    }

    /// Records an element-wise op over `len` elements: forward (`g` None) or
    /// backward, `y` written. `channels` gives PReLU's weight layout.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn encode_elementwise(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        family: Family,
        dtype: Dtype,
        esize: u64,
        len: u64,
        x: Operand<'_>,
        g: Option<Operand<'_>>,
        y: Operand<'_>,
        slope: f32,
        prelu: Option<(Operand<'_>, &Channels)>,
    ) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let weights = prelu.map_or(Weights::default(), |(_, c)| Weights::for_layout(c));
        let (vec4_entry, scalar_entry) = match g {
            None => (Entry::ForwardVec4(weights), Entry::ForwardScalar),
            Some(_) => (Entry::BackwardVec4(weights), Entry::BackwardScalar),
        };
        let vec4 = self.kernel(family, vec4_entry, dtype)?;
        let scalar = self.kernel(family, scalar_entry, dtype)?;
        // f16 runs two halves per u32 word where the words line up (see
        // shaders/words.wgsl and `cpu_adapter`).
        let on_words = match family {
            Family::Relu => true,
            Family::LeakyRelu => self.cpu_adapter,
            Family::Prelu => false,
        };
        let packed = match dtype {
            Dtype::F16 if on_words => Some(self.kernel(
                family,
                match g {
                    None => Entry::ForwardPacked,
                    Some(_) => Entry::BackwardPacked,
                },
                dtype,
            )?),
            _ => None,
        };
        // Every binding is checked before anything is recorded, so an error
        // never leaves half an op in the caller's encoder.
        for operand in [Some(x), Some(y), g].into_iter().flatten() {
            self.bind(operand, esize, 0, len)?;
        }
        let weight = match prelu {
            Some((w, channels)) => {
                Some((self.bind(w, esize, 0, channels.channels as u64)?, channels))
            }
            None => None,
        };
        let period = weight
            .as_ref()
            .map_or(1, |(_, c)| (c.channels * c.inner) as u64);
        let scope = ErrorScopes::push(&self.device);
        let mut dispatches = Vec::new();
        let chunk = self.chunk_elements(esize);
        let mut start = 0;
        while start < len {
            let n = chunk.min(len - start);
            let bx = self.bind(x, esize, start, n)?;
            let by = self.bind(y, esize, start, n)?;
            let bg = match g {
                Some(g) => Some(self.bind(g, esize, start, n)?),
                None => None,
            };
            let mut params = Params {
                len: n as u32,
                x_off: bx.elem_off,
                y_off: by.elem_off,
                g_off: bg.as_ref().map_or(0, |b| b.elem_off),
                slope_bits: slope.to_bits(),
                channels: 1,
                inner: 1,
                phase: (start % period) as u32,
                ..Params::default()
            };
            let mut bound = vec![(X4, &bx), (X1, &bx), (Y4, &by), (Y1, &by)];
            if let Some(bg) = &bg {
                bound.extend([(G4, bg), (G1, bg)]);
            }
            if let Some((bw, channels)) = &weight {
                params.w_off = bw.elem_off;
                params.channels = channels.channels as u32;
                params.inner = channels.inner as u32;
                bound.push((W1, bw));
            }
            let offsets_multiple_of = |m: u32| {
                [Some(&bx), Some(&by), bg.as_ref()]
                    .into_iter()
                    .flatten()
                    .all(|b| b.elem_off.is_multiple_of(m))
            };
            let per_group = u64::from(WORKGROUP_SIZE * ITEMS_ELEMENTWISE);
            // (A vec4<u32> binding must hold one: eight halves at least.)
            let whole_words = n >= 8 && n.is_multiple_of(2) && offsets_multiple_of(8);
            if let Some(packed) = packed.as_ref().filter(|_| whole_words) {
                // Lengths and offsets in u32 words, each vec4<u32> eight halves.
                let words = Params {
                    len: params.len / 2,
                    x_off: params.x_off / 2,
                    y_off: params.y_off / 2,
                    g_off: params.g_off / 2,
                    ..params
                };
                bound.extend([(XW4, &bx), (XW1, &bx), (YW4, &by), (YW1, &by)]);
                if let Some(bg) = &bg {
                    bound.extend([(GW4, bg), (GW1, bg)]);
                }
                let groups = (n / 8).div_ceil(per_group).max(1);
                dispatches.extend(self.prepare(packed, words, groups, &bound)?);
            } else if n >= 4 && offsets_multiple_of(4) {
                let groups = (n / 4).div_ceil(per_group).max(1);
                dispatches.extend(self.prepare(&vec4, params, groups, &bound)?);
            } else {
                dispatches.extend(self.prepare(&scalar, params, n.div_ceil(per_group), &bound)?);
            }
            start += n;
        }
        scope.pop()?;
        record(encoder, "wgpu_relu.elementwise", &dispatches)
    }

    /// Records PReLU's backward with the weight gradient: grad_x into `y`,
    /// f32 partial sums into the scratch buffer, then one reduction per
    /// channel into `grad_w`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn encode_prelu_weight_grad(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        dtype: Dtype,
        esize: u64,
        len: u64,
        x: Operand<'_>,
        g: Operand<'_>,
        y: Operand<'_>,
        w: Operand<'_>,
        grad_w: Operand<'_>,
        channels: &Channels,
    ) -> Result<()> {
        let c = channels.channels as u64;
        if c == 0 {
            return Ok(());
        }
        let inner = channels.inner as u64;
        for operand in [x, g, y] {
            self.bind(operand, esize, 0, len)?;
        }
        let period = c * inner;
        let outer = len.checked_div(period).unwrap_or(0);
        let chunk = self.chunk_elements(esize);
        let bw = self.bind(w, esize, 0, c)?;
        let bgw = self.bind(grad_w, esize, 0, c)?;

        // Plan pass 1: the chunks, each (entry, params, workgroups, first
        // element, elements), and pass 2's view of the partials.
        let mut chunks = Vec::new();
        let (partial_count, a_count, a_stride, b_count);
        // The four-at-a-time kernels load vec4s where every operand starts
        // on a multiple of four elements (binding offsets are aligned to a
        // multiple of four elements, so a chunk that starts on such a
        // multiple within the tensor keeps it), and scalars in the same
        // order where not: the choice below depends on the shape alone.
        let mut aligned = true;
        for operand in [x, g, y] {
            aligned &= self.bind(operand, esize, 0, 1)?.elem_off.is_multiple_of(4);
        }
        // Runs a whole vec4 tile long or longer: four-at-a-time tiles inside each run,
        // which leave one partial per invocation (short runs would leave
        // them half empty). Otherwise columns, four at a time where rows
        // are a multiple of four long and the partials fit a binding (and,
        // for runs a scalar tile long, where a block sums enough rows that
        // the partials stay a fraction of the tensor); else scalar tiles
        // inside each run where runs are long or rows too long for a
        // binding, scalar columns where not.
        let rows_vec4 = inner.is_multiple_of(4) && inner >= ROWS_TILE_VEC4;
        let fit = chunk / period.max(1);
        let rows = COLS_ROWS.min(outer).min(fit).max(1);
        let blocks = outer.div_ceil(rows);
        let cols_vec4 = !rows_vec4
            && period.is_multiple_of(4)
            && period <= chunk
            && (inner < ROWS_TILE || rows >= COLS_VEC4_MIN_ROWS)
            && blocks * period * 4 <= self.binding_limit();
        if !cols_vec4 && (inner >= ROWS_TILE || period > chunk) {
            let (entry, tile) = match rows_vec4 {
                true => (Entry::WeightGradRowsVec4 { aligned }, ROWS_TILE_VEC4),
                false => (Entry::WeightGradRows, ROWS_TILE),
            };
            let tiles = inner.div_ceil(tile);
            let total = outer * c * tiles;
            let per_chunk = (chunk / tile).max(1);
            // The vec4 kernel leaves one partial per invocation, WG per tile.
            let per_tile = match entry {
                Entry::WeightGradRowsVec4 { .. } => u64::from(WORKGROUP_SIZE),
                _ => 1,
            };
            let tile_start = |t: u64| (t / tiles) * inner + (t % tiles) * tile;
            let tile_end = |t: u64| (tile_start(t) + tile).min((t / tiles + 1) * inner);
            let mut t0 = 0;
            while t0 < total {
                let t1 = (t0 + per_chunk).min(total);
                let first = tile_start(t0);
                let params = Params {
                    len: (t1 - t0) as u32,
                    base: t0 as u32,
                    tiles: tiles as u32,
                    ..Params::default()
                };
                let partials = (t0 * per_tile, t1 * per_tile);
                chunks.push((
                    entry,
                    params,
                    t1 - t0,
                    first,
                    tile_end(t1 - 1) - first,
                    partials,
                ));
                t0 = t1;
            }
            (partial_count, a_count, a_stride, b_count) = (
                total * per_tile,
                outer,
                c * tiles * per_tile,
                tiles * per_tile,
            );
        } else {
            let per_chunk = (fit / rows).max(1);
            let (entry, width) = match cols_vec4 {
                true => (
                    Entry::WeightGradColsVec4 {
                        weights: Weights::for_columns(channels),
                        aligned,
                    },
                    4,
                ),
                false => (Entry::WeightGradCols, 1),
            };
            let mut b0 = 0;
            while b0 < blocks {
                let b1 = (b0 + per_chunk).min(blocks);
                let first = b0 * rows * period;
                let elements = ((b1 * rows).min(outer) - b0 * rows) * period;
                let threads = (b1 - b0) * period / width;
                let params = Params {
                    len: threads as u32,
                    base: b0 as u32,
                    cols: (period / width) as u32,
                    rows: rows as u32,
                    ..Params::default()
                };
                chunks.push((
                    entry,
                    params,
                    threads.div_ceil(u64::from(WORKGROUP_SIZE)),
                    first,
                    elements,
                    (b0 * period, b1 * period),
                ));
                b0 = b1;
            }
            (partial_count, a_count, a_stride, b_count) = (blocks * period, blocks, period, inner);
        }
        let pass1_entry = chunks
            .first()
            .map_or(Entry::WeightGradCols, |chunk| chunk.0);
        let pass1_kernel = self.kernel(Family::Prelu, pass1_entry, dtype)?;
        // Partials whose rows are a multiple of four long and start a
        // multiple of four apart are read as vec4s.
        let in_fours = b_count.is_multiple_of(4) && a_stride.is_multiple_of(4);
        let per_channel = a_count * b_count;
        let reduce_entry = if in_fours {
            match per_channel > REDUCE_NARROW_VEC4_UP_TO {
                true => Entry::ReduceWideVec4,
                false => Entry::ReduceNarrowVec4,
            }
        } else {
            match per_channel >= REDUCE_WIDE_FROM {
                true => Entry::ReduceWide,
                false => Entry::ReduceNarrow,
            }
        };
        let reduce_kernel = self.kernel(Family::Prelu, reduce_entry, dtype)?;
        let slabs = self.reduce_slabs(partial_count, c, a_count, a_stride, b_count)?;
        // The scratch: the partials, then (aligned) one f32 per channel
        // carried between slabs.
        let align = u64::from(self.limits.min_storage_buffer_offset_alignment);
        let acc_start = (partial_count.max(1) * 4).next_multiple_of(align);
        let scratch_bytes = acc_start + c * 4;
        if scratch_bytes > self.limits.max_buffer_size {
            return Err(Error::TooLarge {
                what: "the weight gradient's partial sums (bytes)",
                size: scratch_bytes,
                limit: self.limits.max_buffer_size,
                hint: "reshape so that the dimensions after channel_axis hold more elements, \
                       or request a device with a larger max_buffer_size",
            });
        }
        let scratch = self.scratch(scratch_bytes);
        let partials = Operand {
            buffer: &scratch,
            byte_offset: 0,
            name: "the weight gradient's partial sums",
        };
        let bacc = Bound {
            buffer: &scratch,
            offset: acc_start,
            size: c * 4,
            elem_off: 0,
        };

        let scope = ErrorScopes::push(&self.device);
        let mut dispatches = Vec::new();
        for (entry, mut params, groups, first, elements, (p0, p1)) in chunks {
            debug_assert_eq!(entry, pass1_entry);
            let bx = self.bind(x, esize, first, elements)?;
            let bg = self.bind(g, esize, first, elements)?;
            let by = self.bind(y, esize, first, elements)?;
            let bp = self.bind(partials, 4, p0, p1 - p0)?;
            params.x_off = bx.elem_off;
            params.g_off = bg.elem_off;
            params.y_off = by.elem_off;
            params.w_off = bw.elem_off;
            params.p_shift = (bp.offset / 4) as u32;
            params.first = first as u32;
            params.channels = c as u32;
            params.inner = inner as u32;
            params.period = period as u32;
            params.outer = outer as u32;
            let bound = [
                (X1, &bx),
                (G1, &bg),
                (Y1, &by),
                (X4, &bx),
                (G4, &bg),
                (Y4, &by),
                (W1, &bw),
                (PARTIALS, &bp),
                (PARTIALS4, &bp),
            ];
            dispatches.extend(self.prepare(&pass1_kernel, params, groups, &bound)?);
        }
        for slab in slabs {
            let first = slab.a0 * a_stride + slab.c0 * b_count;
            let span = match slab.a1 - slab.a0 {
                0 => 1, // an empty tensor: no partials, the sums are 0
                rows => (rows - 1) * a_stride + (slab.c1 - slab.c0) * b_count,
            };
            let bp = self.bind(partials, 4, first, span)?;
            let channels = slab.c1 - slab.c0;
            let params = Params {
                len: channels as u32,
                y_off: bgw.elem_off,
                a_count: (slab.a1 - slab.a0) as u32,
                a_stride: a_stride as u32,
                b_count: b_count as u32,
                // The kernel indexes from its slab's first row and channel.
                p_shift: ((bp.offset / 4) as u32).wrapping_sub(first as u32),
                acc_mode: slab.acc_mode,
                c_first: slab.c0 as u32,
                ..Params::default()
            };
            let bound = [
                (PARTIALS, &bp),
                (PARTIALS4, &bp),
                (GRAD_W, &bgw),
                (ACC, &bacc),
            ];
            let groups = match reduce_entry {
                Entry::ReduceWide | Entry::ReduceWideVec4 => channels,
                _ => channels.div_ceil(u64::from(WORKGROUP_SIZE)),
            };
            dispatches.extend(self.prepare(&reduce_kernel, params, groups, &bound)?);
        }
        scope.pop()?;
        record(encoder, "wgpu_relu.prelu_weight_grad", &dispatches)
    }

    /// How pass 2 of the weight gradient reads `partial_count` partials
    /// (channel `ch`'s at `a * a_stride + ch * b_count + b` for `a` below
    /// `a_count`, `b` below `b_count`): in one dispatch where they fit one
    /// binding, else in slabs of rows of partials (and of channels, where
    /// one row is too long), each within a binding, summed in order.
    fn reduce_slabs(
        &self,
        partial_count: u64,
        channels: u64,
        a_count: u64,
        a_stride: u64,
        b_count: u64,
    ) -> Result<Vec<Slab>> {
        let align = u64::from(self.limits.min_storage_buffer_offset_alignment);
        reduce_slabs(
            self.binding_limit(),
            align,
            partial_count,
            channels,
            [a_count, a_stride, b_count],
        )
    }
}

/// [`Kernels::reduce_slabs`] for a binding limit and offset alignment (in
/// bytes): a pure function, tested on the CPU.
fn reduce_slabs(
    binding_limit: u64,
    align: u64,
    partial_count: u64,
    channels: u64,
    [a_count, a_stride, b_count]: [u64; 3],
) -> Result<Vec<Slab>> {
    // Room in a binding, whatever the remainder of its aligned start.
    let room = binding_limit.saturating_sub(align) / 4;
    if partial_count * 4 <= binding_limit {
        return Ok(vec![Slab {
            c0: 0,
            c1: channels,
            a0: 0,
            a1: a_count,
            acc_mode: 0,
        }]);
    }
    if b_count > room {
        return Err(Error::TooLarge {
            what: "one channel's row of weight-gradient partial sums (bytes)",
            size: b_count * 4,
            limit: room * 4,
            hint: "request a device with a larger max_storage_buffer_binding_size",
        });
    }
    let per_slab_channels = channels.min(room / b_count);
    let mut slabs = Vec::new();
    for c0 in (0..channels).step_by(per_slab_channels as usize) {
        let c1 = (c0 + per_slab_channels).min(channels);
        // Rows of partials per slab: the first row's channels, then a
        // stride per further row.
        let rows = 1 + (room - (c1 - c0) * b_count) / a_stride.max(1);
        for a0 in (0..a_count).step_by(rows as usize) {
            let a1 = (a0 + rows).min(a_count);
            let from_earlier = if a0 > 0 { ACC_ADD } else { 0 };
            let to_later = if a1 < a_count { ACC_KEEP } else { 0 };
            slabs.push(Slab {
                c0,
                c1,
                a0,
                a1,
                acc_mode: from_earlier | to_later,
            });
        }
    }
    Ok(slabs)
}

/// A new buffer holding `contents` (a multiple of 4 bytes), written through
/// a mapping at creation. wgpu's `create_buffer_init` unwraps that mapping,
/// which fails on a lost device: here it is an error.
pub(crate) fn buffer_init(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> Result<wgpu::Buffer> {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (contents.len() as u64).max(4),
        usage,
        mapped_at_creation: true,
    });
    buffer
        .slice(..)
        .get_mapped_range_mut()
        .map(|mut view| view.slice(..contents.len()).copy_from_slice(contents))
        .map_err(|e| lost_because(&e))?;
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

/// Submits `encoder` to `queue`. A queue of another device makes wgpu panic
/// (in the registry of another instance, or in the default error handler
/// of the queue's own device, which is not ours to scope), and wgpu cannot
/// be asked which device a queue belongs to: that panic is caught here and
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

fn foreign_queue() -> Error {
    Error::DeviceMismatch {
        tensor: "the queue given to Gpu::from_device",
    }
}

/// The error for a buffer that could not be mapped at creation.
fn lost_because(error: &impl std::fmt::Display) -> Error {
    Error::DeviceLost(format!(
        "a new buffer could not be mapped ({error}), which happens once the device is lost \
         or destroyed"
    ))
}

/// `acc_mode` bits of pass 2 (`finish_channel` in shaders/prelu.wgsl):
/// start from the earlier slabs' sums; keep the sum for a later slab.
const ACC_ADD: u32 = 1;
const ACC_KEEP: u32 = 2;

/// A part of pass 2 of the weight gradient: channels `c0..c1`, rows of
/// partials `a0..a1`.
struct Slab {
    c0: u64,
    c1: u64,
    a0: u64,
    a1: u64,
    acc_mode: u32,
}

/// One dispatch made by [`Kernels::prepare`].
struct Prepared {
    kernel: Arc<Kernel>,
    bind_group: wgpu::BindGroup,
    grid: [u32; 3],
}

/// Records `dispatches` into `encoder` in one compute pass. Everything was
/// made and checked before, so this only records; nothing is recorded for
/// no dispatches.
///
/// An encoder of another wgpu instance makes wgpu panic when it looks up
/// our pipelines in its own registry, and wgpu cannot be asked which device
/// an encoder belongs to: that panic is caught here and becomes
/// `DeviceMismatch` (which a build with `panic = "abort"` cannot do). An
/// encoder of another device of the same instance is reported by wgpu when
/// the app finishes it.
fn record(encoder: &mut wgpu::CommandEncoder, label: &str, dispatches: &[Prepared]) -> Result<()> {
    if dispatches.is_empty() {
        return Ok(());
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        for dispatch in dispatches {
            let [x, y, z] = dispatch.grid;
            pass.set_pipeline(&dispatch.kernel.pipeline);
            pass.set_bind_group(0, &dispatch.bind_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
    }))
    .map_err(|_| Error::DeviceMismatch {
        tensor: "the command encoder",
    })
}

/// Validation and out-of-memory error scopes around a piece of work, so
/// that a wgpu error becomes an [`Error`] instead of a panic.
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

    /// Pops both scopes (innermost first) and returns the first error.
    pub(crate) fn pop(self) -> Result<()> {
        let validation = pollster::block_on(self.validation.pop());
        let memory = pollster::block_on(self.memory.pop());
        match validation.or(memory) {
            Some(error) => Err(Error::from_wgpu(error)),
            None => Ok(()),
        }
    }
}

/// Locks a mutex, recovering from a panic in another thread: every value
/// behind these locks is a cache that is valid at all times.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module parses and validates with naga, for both precisions,
    /// and has every entry point the host dispatches: no GPU needed.
    #[test]
    fn every_shader_validates_with_naga() {
        let families = [Family::Relu, Family::LeakyRelu, Family::Prelu];
        for family in families {
            for dtype in [Dtype::F32, Dtype::F16] {
                let source = module_source(family, dtype);
                let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| {
                    panic!("{family:?} {dtype:?}: {}", e.emit_to_string(&source))
                });
                naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::all(),
                )
                .validate(&module)
                .unwrap_or_else(|e| panic!("{family:?} {dtype:?}: {}", e.emit_to_string(&source)));
                let mut entries = vec![
                    Entry::ForwardVec4(Weights::default()),
                    Entry::ForwardScalar,
                    Entry::BackwardVec4(Weights::default()),
                    Entry::BackwardScalar,
                ];
                if family.runs_on_words() {
                    entries.extend([Entry::ForwardPacked, Entry::BackwardPacked]);
                }
                if family == Family::Prelu {
                    entries.extend([
                        Entry::WeightGradRows,
                        Entry::WeightGradCols,
                        Entry::WeightGradRowsVec4 { aligned: true },
                        Entry::WeightGradColsVec4 {
                            weights: Weights::default(),
                            aligned: true,
                        },
                        Entry::ReduceWide,
                        Entry::ReduceWideVec4,
                        Entry::ReduceNarrow,
                        Entry::ReduceNarrowVec4,
                    ]);
                }
                for entry in entries {
                    assert!(
                        module.entry_points.iter().any(|e| e.name == entry.name()),
                        "{family:?} lacks {}",
                        entry.name()
                    );
                }
            }
        }
    }

    /// Pass 2 reads partials in slabs that each fit a binding, covering
    /// every (channel, row) once, in order, carrying the sums between.
    #[test]
    fn reduce_slabs_cover_every_partial_within_a_binding() {
        let (limit, align) = (1 << 20, 256);
        let room = (limit - align) / 4;
        // [partials, channels, a_count, a_stride, b_count, slabs]
        let cases: [[u64; 6]; 5] = [
            [1000, 10, 10, 100, 10, 1],                // fits: one dispatch
            [400_000, 200_000, 2, 200_000, 1, 2],      // a dense layer: a slab per row
            [600_000, 3, 100, 6000, 2000, 3],          // rows in slabs of 43
            [3_000_000, 1000, 3, 1_000_000, 1000, 12], // channels split too
            [0, 4, 0, 4, 1, 1],                        // an empty tensor
        ];
        for [partials, channels, a_count, a_stride, b_count, count] in cases {
            let slabs = reduce_slabs(
                limit,
                align,
                partials,
                channels,
                [a_count, a_stride, b_count],
            )
            .unwrap();
            assert_eq!(slabs.len() as u64, count, "{partials} partials");
            let mut seen = vec![0u32; (channels * a_count.max(1)) as usize];
            for slab in &slabs {
                let rows = slab.a1 - slab.a0;
                if rows > 0 && slabs.len() > 1 {
                    assert!((rows - 1) * a_stride + (slab.c1 - slab.c0) * b_count <= room);
                }
                assert_eq!(slab.acc_mode & ACC_ADD != 0, slab.a0 > 0);
                assert_eq!(slab.acc_mode & ACC_KEEP != 0, slab.a1 < a_count);
                for c in slab.c0..slab.c1 {
                    for a in slab.a0..slab.a1 {
                        seen[(c * a_count + a) as usize] += 1;
                    }
                }
            }
            if a_count > 0 {
                assert!(seen.iter().all(|&n| n == 1), "{partials}: {seen:?}");
            }
        }
        // A row of one channel's partials larger than a binding: an error.
        assert!(reduce_slabs(limit, align, 1 << 30, 2, [2, 1 << 28, 1 << 28]).is_err());
    }

    /// The Rust and WGSL parameter blocks agree in size: 24 four-byte
    /// fields and 5 packed divisors, 136 bytes.
    #[test]
    fn params_block_matches_wgsl() {
        assert_eq!(std::mem::size_of::<Params>(), 34 * 4);
        let start = COMMON_SOURCE.find("struct Params {").unwrap();
        let end = start + COMMON_SOURCE[start..].find('}').unwrap();
        let lines = || COMMON_SOURCE[start..end].lines();
        let scalars = lines().filter(|l| l.contains(": u32,") || l.contains(": f32,"));
        assert_eq!(scalars.count(), 24);
        let divisors = lines().filter(|l| l.contains("_div: vec2<u32>,"));
        assert_eq!(divisors.count(), 5);
    }
}
