//! The floor for any kernel on this adapter: shaders that only move data.
//! Two streams (read one array, write one: a forward's traffic), three
//! (read two, write one: a backward's) or four (read three, write one: a
//! backward that adds into its gradient). By default with the library's
//! geometry (256 invocations; four vec4s each, 256 apart, on a GPU; eight
//! side by side on a CPU adapter; the same bounds check): on a software
//! adapter no element-wise op can beat it, and it is well above the copy.
//! With `--tuned-floor`, each stream count's fastest of the geometries
//! [`TRIED`], timed in the same run: the tuned copy-only kernel a GPU's
//! ops are held to, where the driver's `copy_buffer_to_buffer` is no
//! ceiling.

use wgpu_relu::{wgpu, Gpu};

use super::{compare, reps, row, Row, Timer};

/// The library's geometry (its element-wise kernels' `ITEMS` and
/// `ITEM_STEP`): eight vec4s an invocation side by side on a CPU
/// adapter, four 256 apart on a GPU.
fn library_geometry(gpu: &Gpu) -> (u32, bool) {
    match gpu.adapter_info().device_type {
        wgpu::DeviceType::Cpu => (8, true),
        _ => (4, false),
    }
}
/// The geometries `--tuned-floor` tries: vec4s per invocation, and
/// whether an invocation's vec4s lie side by side (as PReLU's walks take
/// them) or 256 apart (as the element-wise kernels do).
const TRIED: [(u32, bool); 6] = [
    (1, false),
    (2, false),
    (4, false),
    (8, false),
    (4, true),
    (8, true),
];

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
        let (items, side_by_side) = library_geometry(gpu);
        Self::with_geometry(gpu, words, streams, items, side_by_side)
    }

    /// The library's geometry, or with `--tuned-floor` the fastest of
    /// [`TRIED`], each timed here against the copy of its bytes (a row
    /// each in `rows`).
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
        for (items, side_by_side) in TRIED {
            let floor = Self::with_geometry(gpu, words, streams, items, side_by_side);
            let times = compare(gpu, timer, trials, reps(words), streams * bytes / 2, &|e| {
                floor.record(e)
            });
            let layout = match side_by_side {
                true => "side_by_side",
                false => "items",
            };
            let row = row(
                &format!("shader_floor_{streams}_streams_{items}_{layout}"),
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

    fn with_geometry(
        gpu: &Gpu,
        words: usize,
        streams: u64,
        items: u32,
        side_by_side: bool,
    ) -> Self {
        // Two streams copy a to c; three also read b, four b and d.
        let value = match streams {
            2 => "a[i]",
            3 => "a[i] | b[i]",
            4 => "a[i] | b[i] | d[i]",
            _ => panic!("a floor has 2, 3 or 4 streams, not {streams}"),
        };
        let span = 256 * items;
        // Where an invocation's vec4 k lies from its workgroup's first.
        let (first, step) = match side_by_side {
            true => (format!("lid * {items}u"), "1u"),
            false => ("lid".to_string(), "256u"),
        };
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
                let base = (wg.y * groups.x + wg.x) * {span}u + {first};
                for (var k = 0u; k < {items}u; k++) {{
                    let i = base + k * {step};
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
