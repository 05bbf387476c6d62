//! Shader modules and compute pipelines: what a kernel is, how it is built,
//! and the caches that build each once per `Gpu`.

use std::sync::Arc;

use crate::element::Dtype;
use crate::error::Result;
use crate::lock::lock;

use super::dispatch::ErrorScopes;
use super::Engine;

/// Invocations per workgroup of every kernel: the WebGPU default limit, so it
/// runs on every adapter.
pub(crate) const WORKGROUP_SIZE: u32 = 256;

/// The binding of a family's table: a few KiB of values its kernels read
/// but never write, in uniform memory (`var<uniform>`), where the engine
/// binds every other binding as storage. A software rasteriser loads
/// storage lane by lane but a uniform array with one gather per component:
/// on lavapipe a storage load per vec4 costs nearly a stream, a uniform one
/// a sixth of that (BENCHMARKS.md).
pub(crate) const TABLE: u32 = 21;
/// The table's size (`Engine::table`): 256 vec4s of 32-bit values.
pub(crate) const TABLE_BYTES: u64 = 4096;

/// `vec4`s (or scalars, or words) per invocation, the templates' `ITEMS`:
/// eight on a CPU adapter, which pays for an invocation's set-up (PReLU's
/// weight: two divisions and a load) about as much as for a vec4's load
/// (lavapipe at 16M: PReLU's forward 1.34 → 1.15 × the floor where its
/// weights repeat; BENCHMARKS.md); four on a GPU, for its parallelism.
pub(crate) fn items(cpu_adapter: bool) -> u32 {
    if cpu_adapter {
        8
    } else {
        4
    }
}

/// The lines of an invocation's items where a family asks for lines on a
/// CPU adapter (`Elementwise::cpu_item_lines`): `items` vec4s of each, 64
/// in all.
pub(crate) const CPU_ITEM_LINES: u32 = 8;

/// The vec4s of one line of items in lines (elementwise.wgsl's
/// `LINE_INVOCATIONS` invocations of a CPU adapter's `items` each): what a
/// family's per-item values must repeat in for it to take lines.
pub(crate) const LINE_VEC4S: u32 = 8 * 8;

/// Elements a workgroup of a vec4 kernel covers; chunks start on multiples.
pub(crate) fn vec4_span(cpu_adapter: bool) -> u64 {
    u64::from(WORKGROUP_SIZE * 4 * items(cpu_adapter))
}

/// A WGSL module: its parts, joined after a one-line precision header that
/// defines `elem` (f32 or f16).
#[derive(Debug)]
pub(crate) struct Module {
    /// Its label, and its key in the module cache.
    pub(crate) name: &'static str,
    pub(crate) parts: &'static [&'static str],
}

impl Module {
    /// The full WGSL text for one element type (the unit tests' view).
    #[cfg(test)]
    pub(crate) fn source(&self, dtype: Dtype) -> String {
        self.source_for(dtype, false)
    }

    /// [`Module::source`] for a device with 64-bit integers or without:
    /// with them, `mul_wide` takes one u64 multiply (the same bits).
    pub(crate) fn source_for(&self, dtype: Dtype, int64: bool) -> String {
        let mut text = dtype.header().to_string();
        for &part in self.parts {
            let part = match int64 && part == crate::common::WIDE {
                true => crate::common::WIDE64,
                false => part,
            };
            text.push_str(part);
            text.push('\n');
        }
        text
    }
}

/// One entry point of a module with what it binds and the pipeline
/// constants it is compiled with.
#[derive(Clone, Debug)]
pub(crate) struct KernelSpec {
    pub(crate) module: &'static Module,
    pub(crate) entry: &'static str,
    /// The storage bindings it reads or writes; the parameter block, a
    /// uniform at binding 0, comes on top.
    pub(crate) bindings: Vec<u32>,
    /// Pipeline constants (`override`s) besides `EXACT_PRODUCTS` and
    /// `FLOAT_COMPARES`, which the engine sets for every kernel, and `WG`
    /// (WORKGROUP_SIZE unless set here).
    pub(crate) constants: Vec<(&'static str, f64)>,
}

/// The key of a built pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KernelKey {
    module: &'static str,
    entry: &'static str,
    dtype: Dtype,
    constants: Vec<(&'static str, u64)>,
}

/// A compute pipeline with its bind-group layout and bindings.
pub(crate) struct Kernel {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) bindings: Vec<u32>,
}

impl Engine {
    /// The pipeline of `spec` for `dtype`, built on first use.
    pub(crate) fn kernel(&self, spec: &KernelSpec, dtype: Dtype) -> Result<Arc<Kernel>> {
        let key = KernelKey {
            module: spec.module.name,
            entry: spec.entry,
            dtype,
            constants: spec
                .constants
                .iter()
                .map(|&(n, v)| (n, v.to_bits()))
                .collect(),
        };
        if let Some(kernel) = lock(&self.pipelines).get(&key) {
            return Ok(kernel.clone());
        }
        // Built outside the lock: another thread may build the same one at
        // the same time, and the first insert wins. Both are correct.
        let kernel = Arc::new(self.build_kernel(spec, dtype, self.exact_products)?);
        Ok(lock(&self.pipelines).entry(key).or_insert(kernel).clone())
    }

    /// Builds `spec` for `dtype`, with the exact-products path or not.
    pub(crate) fn build_kernel(
        &self,
        spec: &KernelSpec,
        dtype: Dtype,
        exact_products: bool,
    ) -> Result<Kernel> {
        let module = self.module(spec.module, dtype)?;
        let label = format!("{}.{}.{dtype:?}", spec.module.name, spec.entry);
        let scope = ErrorScopes::push(&self.device);
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![entry(0, wgpu::BufferBindingType::Uniform)];
        // Every tensor binding is read_write, inputs too: wgpu tracks usage
        // per buffer, so an input and an output in one buffer (in place, or
        // side by side in an app's arena) would otherwise conflict.
        let storage = wgpu::BufferBindingType::Storage { read_only: false };
        entries.extend(spec.bindings.iter().map(|&b| match b {
            TABLE => entry(b, wgpu::BufferBindingType::Uniform),
            _ => entry(b, storage),
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
        // WG unless the spec sets its own.
        let mut constants = match spec.constants.iter().any(|c| c.0 == "WG") {
            true => Vec::new(),
            false => vec![("WG", f64::from(WORKGROUP_SIZE))],
        };
        constants.extend(spec.constants.iter().copied());
        // f16 values never make subnormal f32 products or sums (see
        // src/common/exact.wgsl), so f16 kernels never need the exact path.
        if exact_products && dtype == Dtype::F32 {
            constants.push(("EXACT_PRODUCTS", 1.0));
        }
        if self.float_compares() && spec.module.parts.contains(&crate::common::SIGN) {
            constants.push(("FLOAT_COMPARES", 1.0));
        }
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(spec.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    // The reductions write every workgroup slot before reading it.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        scope.pop_now()?;
        Ok(Kernel {
            pipeline,
            layout,
            bindings: spec.bindings.clone(),
        })
    }

    fn module(&self, module: &'static Module, dtype: Dtype) -> Result<wgpu::ShaderModule> {
        if let Some(built) = lock(&self.modules).get(&(module.name, dtype)) {
            return Ok(built.clone());
        }
        let scope = ErrorScopes::push(&self.device);
        let built = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&format!("{}.{dtype:?}", module.name)),
                source: wgpu::ShaderSource::Wgsl(
                    module
                        .source_for(
                            dtype,
                            self.device
                                .features()
                                .contains(wgpu::Features::SHADER_INT64),
                        )
                        .into(),
                ),
            });
        scope.pop_now()?;
        Ok(lock(&self.modules)
            .entry((module.name, dtype))
            .or_insert(built)
            .clone())
    }
}

/// Checks a `#[repr(C)]` parameter struct against the WGSL struct of the
/// same block in `module`, by naga's reflection: every named member at the
/// same byte offset, and the Rust size the WGSL size rounded up to 16 (a
/// uniform block comes in 16-byte units). For the unit tests of each
/// family's parameter blocks; no GPU needed.
#[cfg(test)]
pub(crate) fn assert_layout(
    module: &Module,
    struct_name: &str,
    fields: &[(&str, usize)],
    rust_size: usize,
) {
    for dtype in [Dtype::F32, Dtype::F16] {
        let source = module.source(dtype);
        let parsed = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", module.name, e.emit_to_string(&source)));
        let (members, span) = parsed
            .types
            .iter()
            .find_map(|(_, ty)| match &ty.inner {
                naga::TypeInner::Struct { members, span }
                    if ty.name.as_deref() == Some(struct_name) =>
                {
                    Some((members.clone(), *span))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: no struct {struct_name}", module.name));
        let wgsl: Vec<(String, usize)> = members
            .iter()
            .filter(|m| !m.name.as_deref().unwrap_or("").starts_with("pad"))
            .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
            .collect();
        let rust: Vec<(String, usize)> = fields.iter().map(|&(n, o)| (n.to_string(), o)).collect();
        assert_eq!(rust, wgsl, "{}: members of {struct_name}", module.name);
        assert_eq!(
            rust_size,
            (span as usize).next_multiple_of(16),
            "{}: size of {struct_name}",
            module.name
        );
    }
}
