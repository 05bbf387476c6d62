//! The floor for any kernel on this adapter: shaders that only move data.
//! Two streams (read one array, write one: a forward's traffic), three
//! (read two, write one: a backward's) or four (read three, write one: a
//! backward that adds into its gradient). By default with the library's
//! geometry (256 invocations, four vec4s each on a GPU and eight on a CPU
//! adapter, 256 apart, the same bounds check): on a software adapter no
//! element-wise op can beat it, and it is well above the copy. With
//! `--tuned-floor`, each stream count's fastest
//! of [`TRIED_ITEMS`] vec4s an invocation, timed in the same run: the
//! tuned copy-only kernel a GPU's ops are held to, where the driver's
//! `copy_buffer_to_buffer` is no ceiling.

use wgpu_relu::{wgpu, Gpu};

use super::{compare, reps, row, Row, Timer};

/// vec4s per invocation in the library's geometry (its element-wise
/// kernels' `ITEMS`): eight on a CPU adapter, four on a GPU.
fn library_items(gpu: &Gpu) -> u32 {
    match gpu.adapter_info().device_type {
        wgpu::DeviceType::Cpu => 8,
        _ => 4,
    }
}
/// The geometries `--tuned-floor` tries: vec4s per invocation.
const TRIED_ITEMS: [u32; 4] = [1, 2, 4, 8];

/// A floor kernel over `words` u32s per stream, ready to record: one
/// dispatch per slice of at most one storage binding.
pub struct Floor {
    pipeline: wgpu::ComputePipeline,
    slices: Vec<(wgpu::BindGroup, (u32, u32))>,
    streams: u64,
    tuned: bool,
}

impl Floor {
    /// `streams` (2, 3 or 4) of `words` u32s each, `words` a multiple of 4,
    /// in the library's geometry.
    pub fn new(gpu: &Gpu, words: usize, streams: u64) -> Self {
        Self::with_items(gpu, words, streams, library_items(gpu))
    }

    /// The library's geometry, or with `--tuned-floor` the fastest of
    /// [`TRIED_ITEMS`] vec4s an invocation, each timed here against the
    /// copy of its bytes (a row each in `rows`).
    pub fn chosen(
        gpu: &Gpu,
        timer: &Timer,
        trials: usize,
        words: usize,
        streams: u64,
        rows: &mut Vec<Row>,
    ) -> Self {
        if !std::env::args().any(|a| a == "--tuned-floor") {
            return Self::new(gpu, words, streams);
        }
        let bytes = (words * 4) as u64;
        let mut best: Option<(f64, Floor)> = None;
        for items in TRIED_ITEMS {
            let floor = Self::with_items(gpu, words, streams, items);
            let times = compare(gpu, timer, trials, reps(words), streams * bytes / 2, &|e| {
                floor.record(e)
            });
            let row = row(
                &format!("shader_floor_{streams}_streams_{items}_items"),
                "u32",
                words,
                &times,
            )
            .moving((streams * bytes) as f64);
            if best.as_ref().is_none_or(|(ms, _)| row.ms < *ms) {
                best = Some((row.ms, floor));
            }
            rows.push(row);
        }
        let (_, floor) = best.expect("a geometry");
        Self {
            tuned: true,
            ..floor
        }
    }

    /// What a row timed against this floor names it.
    pub fn name(&self) -> String {
        match self.tuned {
            true => format!("shader_floor_tuned_{}_streams", self.streams),
            false => format!("shader_floor_{}_streams", self.streams),
        }
    }

    fn with_items(gpu: &Gpu, words: usize, streams: u64, items: u32) -> Self {
        // Two streams copy a to c; three also read b, four b and d.
        let value = match streams {
            2 => "a[i]",
            3 => "a[i] | b[i]",
            4 => "a[i] | b[i] | d[i]",
            _ => panic!("a floor has 2, 3 or 4 streams, not {streams}"),
        };
        let span = 256 * items;
        let source = format!(
            "
            @group(0) @binding(0) var<storage, read_write> a: array<vec4<u32>>;
            @group(0) @binding(1) var<storage, read_write> b: array<vec4<u32>>;
            @group(0) @binding(2) var<storage, read_write> c: array<vec4<u32>>;
            @group(0) @binding(3) var<storage, read_write> d: array<vec4<u32>>;
            @compute @workgroup_size(256)
            fn main(@builtin(workgroup_id) wg: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {{
                let base = (wg.y * groups.x + wg.x) * {span}u + lid;
                for (var k = 0u; k < {items}u; k++) {{
                    let i = base + k * 256u;
                    if i < arrayLength(&a) {{
                        c[i] = {value};
                    }}
                }}
            }}"
        );
        let device = gpu.device();
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("shader floor"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("shader floor"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let bytes = (words * 4) as u64;
        let buffer = || {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shader floor"),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        // The bindings the shader reads (an unused one is not in its layout).
        let used: &[u32] = match streams {
            2 => &[0, 2],
            3 => &[0, 1, 2],
            _ => &[0, 1, 2, 3],
        };
        let buffers: Vec<_> = used.iter().map(|_| buffer()).collect();
        // Slices of at most one binding, on 4 KiB boundaries (a multiple of
        // any offset alignment).
        let limits = device.limits();
        let slice = (limits.max_storage_buffer_binding_size.min(bytes) / 4096 * 4096).max(4096);
        let max = limits.max_compute_workgroups_per_dimension;
        let slices = (0..bytes.div_ceil(slice))
            .map(|s| {
                let offset = s * slice;
                let size = slice.min(bytes - offset);
                let entries: Vec<_> = used
                    .iter()
                    .zip(&buffers)
                    .map(|(&binding, buffer)| wgpu::BindGroupEntry {
                        binding,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer,
                            offset,
                            size: wgpu::BufferSize::new(size),
                        }),
                    })
                    .collect();
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("shader floor"),
                    layout: &pipeline.get_bind_group_layout(0),
                    entries: &entries,
                });
                let groups = (size / 16).div_ceil(u64::from(span)) as u32;
                (bind_group, (groups.min(max), groups.div_ceil(max)))
            })
            .collect();
        Self {
            pipeline,
            slices,
            streams,
            tuned: false,
        }
    }

    pub fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        for (bind_group, groups) in &self.slices {
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, 1);
        }
    }
}
