//! An app that owns its device and pipelines uses the library inside its own
//! command encoder: its shader fills a buffer, the library runs ReLU and
//! PReLU on it, its second shader consumes the result; one submit, one read
//! back, verified against the CPU reference.
//!
//! ```text
//! cargo run --release --example embed
//! ```

use std::process::ExitCode;

use wgpu_relu::{cpu, wgpu, Activation, Gpu, Tensor};

const LEN: usize = 1 << 20;
const CHANNELS: usize = 16;

/// The app's own shaders: fill x with a known pattern; square what ReLU
/// and PReLU made into `out`.
const APP_SHADER: &str = r#"
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 256u + id.x;
    if i < arrayLength(&out) {
        data[i] = f32(i % 199u) - 99.5;
    }
}

@compute @workgroup_size(256)
fn consume(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 256u + id.x;
    if i < arrayLength(&out) {
        out[i] = data[i] * 2.0;
    }
}
"#;

fn main() -> ExitCode {
    env_logger::init();
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, wgpu_relu::Error> {
    // The app's device, made its own way.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&Default::default())).map_err(|e| {
            wgpu_relu::Error::NoAdapter {
                reason: e.to_string(),
            }
        })?;
    let (device, queue) = pollster::block_on(adapter.request_device(&Default::default()))?;
    println!(
        "adapter: {} ({:?})",
        adapter.get_info().name,
        adapter.get_info().backend
    );

    // The app's buffers: `data` holds the activations, `out` its result, and
    // a small uniform-free weight for PReLU lives in the same arena as data.
    let usage =
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let data = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app data"),
        size: (LEN * 4 + 256) as u64,
        usage,
        mapped_at_creation: false,
    });
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app out"),
        size: (LEN * 4) as u64,
        usage,
        mapped_at_creation: false,
    });
    let weights: Vec<f32> = (0..CHANNELS).map(|c| c as f32 / 16.0 - 0.5).collect();
    let weight_offset = (LEN * 4) as u64;
    queue.write_buffer(&data, weight_offset, bytemuck::cast_slice(&weights));
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app readback"),
        size: (LEN * 4) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });

    // The app's pipelines.
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("app"),
        source: wgpu::ShaderSource::Wgsl(APP_SHADER.into()),
    });
    let pipeline = |entry: &str| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    let (fill, consume) = (pipeline("fill"), pipeline("consume"));
    let bind = |p: &wgpu::ComputePipeline| {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &p.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &data,
                        offset: 0,
                        size: wgpu::BufferSize::new((LEN * 4) as u64),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: out.as_entire_binding(),
                },
            ],
        })
    };
    let (fill_group, consume_group) = (bind(&fill), bind(&consume));
    let groups = (LEN as u32).div_ceil(256);

    // The library on the app's device and buffers.
    let gpu = Gpu::from_device(device.clone(), queue.clone());
    let shape = [1, CHANNELS, LEN / CHANNELS];
    let x = Tensor::<f32>::from_buffer(data.clone(), 0, &shape)?;
    let w = Tensor::<f32>::from_buffer(data.clone(), weight_offset, &[CHANNELS])?;

    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&fill);
        pass.set_bind_group(0, &fill_group, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &x)?; // in place
    gpu.encode_forward(
        &mut encoder,
        &Activation::Prelu {
            weight: &w,
            channel_axis: 1,
        },
        &x,
        &x,
    )?;
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&consume);
        pass.set_bind_group(0, &consume_group, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&out, 0, &readback, 0, (LEN * 4) as u64);
    queue.submit([encoder.finish()]); // the one submit

    readback
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map readback"));
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let result: Vec<f32> = bytemuck::cast_slice(
        &readback
            .slice(..)
            .get_mapped_range()
            .map_err(|e| wgpu_relu::Error::Map(e.to_string()))?,
    )
    .to_vec();

    // The same on the CPU.
    let filled: Vec<f32> = (0..LEN).map(|i| (i % 199) as f32 - 99.5).collect();
    let activated = cpu::prelu(&cpu::relu(&filled), &shape, &weights, 1)?;
    let expected: Vec<f32> = activated.iter().map(|v| v * 2.0).collect();
    let mismatches = result.iter().zip(&expected).filter(|(a, b)| a != b).count();
    let allocations = gpu.allocations();
    println!(
        "library buffers on the app's device: {} parameter blocks, {} scratch (and no tensors, no copies)",
        allocations.params_buffers, allocations.scratch_buffers
    );
    if mismatches == 0 {
        println!("verdict: OK, all {LEN} elements match the CPU reference");
        Ok(true)
    } else {
        println!("verdict: MISMATCH, {mismatches} of {LEN} elements differ");
        Ok(false)
    }
}
