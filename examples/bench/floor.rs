//! The floor for any kernel on this adapter: shaders that only move data,
//! with the library's geometry (256 invocations, four vec4s each, the same
//! bounds check). Two streams (read one array, write one: a forward's
//! traffic), three (read two, write one: a backward's) or four (read three,
//! write one: a backward that adds into its gradient). No element-wise op
//! can beat them; on a software adapter they are well above the copy.

use wgpu_relu::{wgpu, Gpu};

/// A floor kernel over `words` u32s per stream, ready to record.
pub struct Floor {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

impl Floor {
    /// `streams` (2, 3 or 4) of `words` u32s each, `words` a multiple of 4.
    pub fn new(gpu: &Gpu, words: usize, streams: u64) -> Self {
        // Two streams copy a to c; three also read b, four b and d.
        let value = match streams {
            2 => "a[i]",
            3 => "a[i] | b[i]",
            4 => "a[i] | b[i] | d[i]",
            _ => panic!("a floor has 2, 3 or 4 streams, not {streams}"),
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
                let base = (wg.y * groups.x + wg.x) * 1024u + lid;
                for (var k = 0u; k < 4u; k++) {{
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
        let buffer = || {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shader floor"),
                size: (words * 4) as u64,
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
        let entries: Vec<_> = used
            .iter()
            .zip(&buffers)
            .map(|(&binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("shader floor"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let groups = (words / 4).div_ceil(1024) as u32;
        let max = device.limits().max_compute_workgroups_per_dimension;
        Self {
            pipeline,
            bind_group,
            groups: (groups.min(max), groups.div_ceil(max)),
        }
    }

    pub fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
    }
}
