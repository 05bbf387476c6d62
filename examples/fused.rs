//! An app's own dense layer, `y = act(x · w + b)`, with the activation
//! fused into the epilogue of its matmul through the library's exported
//! WGSL (`wgpu_relu::wgsl`) — once from the plain text, once through
//! naga_oil where the `naga_oil` feature is on — for ReLU, Leaky ReLU and
//! PReLU (a slope per output unit). Each fused result is checked bit for
//! bit against the same matmul followed by the library's own `forward`,
//! and the fused kernel is timed against the matmul alone and against the
//! matmul plus a separate activation pass.
//!
//! ```text
//! cargo run --release --example fused [-- --m 512 --k 256 --n 512]
//! cargo run --release --features naga_oil --example fused
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use wgpu_relu::wgpu::util::DeviceExt;
use wgpu_relu::{wgpu, wgsl, Activation, Gpu, Tensor};

/// The app's matmul: one output element per invocation, the activation
/// (`ACTIVATE`, replaced below by a call of an exported function, or by
/// nothing) applied to the accumulator before the one store.
const MATMUL: &str = r#"
struct Dims { m: u32, k: u32, n: u32, slope: f32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> slopes: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.y;
    let col = id.x;
    if row >= dims.m || col >= dims.n {
        return;
    }
    var acc = b[col];
    for (var i = 0u; i < dims.k; i++) {
        acc = fma(x[row * dims.k + i], w[i * dims.n + col], acc);
    }
    y[row * dims.n + col] = ACTIVATE;
}
"#;

struct Layer {
    m: u32,
    k: u32,
    n: u32,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    slopes: Tensor,
}

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

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run() -> Result<bool, wgpu_relu::Error> {
    let gpu = Gpu::new()?;
    let (m, k, n) = (arg("--m", 512), arg("--k", 256), arg("--n", 512));
    let info = gpu.adapter_info();
    println!(
        "adapter: {} ({:?}); x [{m}, {k}] · w [{k}, {n}] + b",
        info.name, info.backend
    );
    // Seeded values of both signs, so every activation has work to do.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |scale: f32| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
    };
    let layer = Layer {
        m,
        k,
        n,
        x: gpu.upload(&(0..m * k).map(|_| next(2.0)).collect::<Vec<f32>>())?,
        w: gpu.upload(&(0..k * n).map(|_| next(0.2)).collect::<Vec<f32>>())?,
        b: gpu.upload(&(0..n).map(|_| next(0.5)).collect::<Vec<f32>>())?,
        slopes: gpu.upload(&(0..n).map(|_| next(1.0)).collect::<Vec<f32>>())?,
    };
    let slopes = layer.slopes.reshape(&[n as usize])?;
    let cases: [(&str, &str, Activation); 3] = [
        ("relu", "relu_forward(acc)", Activation::Relu),
        (
            "leaky_relu",
            "leaky_relu_forward(acc, dims.slope)",
            Activation::LeakyRelu {
                negative_slope: 0.01,
            },
        ),
        (
            "prelu",
            "prelu_forward(acc, slopes[col])",
            Activation::Prelu {
                weight: &slopes,
                channel_axis: 1,
            },
        ),
    ];
    let plain = text_kernel(&gpu, "acc");
    let mut all_equal = true;
    // Every timed run writes the same output, allocated (and zeroed by
    // wgpu) once, as the unfused pair's intermediate is.
    let out = gpu.empty::<f32>(&[m as usize, n as usize])?;
    let plain_time = time(&gpu, || {
        dispatch(&gpu, &plain, &layer, &out);
        Ok(())
    })?;
    println!("matmul alone: {:.3} ms", ms(plain_time));
    for (family, call, activation) in cases {
        let text = ("text", text_kernel(&gpu, &format!("wgpu_relu_{call}")));
        let kernels: Vec<_> = std::iter::once(text)
            .chain(composed_kernel(&gpu, family, call).map(|k| ("naga_oil", k)))
            .collect();
        // The reference: the plain matmul, then the library's forward.
        let h = gpu.empty::<f32>(&[m as usize, n as usize])?;
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        dispatch_into(&gpu, &mut encoder, &plain, &layer, &h);
        let expected = gpu.empty::<f32>(&[m as usize, n as usize])?;
        gpu.encode_forward(&mut encoder, &activation, &h, &expected)?;
        gpu.queue().submit([encoder.finish()]);
        let expected = gpu.download(&expected)?;
        let unfused = time(&gpu, || {
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            dispatch_into(&gpu, &mut encoder, &plain, &layer, &h);
            gpu.encode_forward(&mut encoder, &activation, &h, &h)?;
            gpu.queue().submit([encoder.finish()]);
            Ok(())
        })?;
        for (how, kernel) in kernels {
            dispatch(&gpu, &kernel, &layer, &out);
            let fused = gpu.download(&out)?;
            let same = fused
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            all_equal &= same;
            let fused_time = time(&gpu, || {
                dispatch(&gpu, &kernel, &layer, &out);
                Ok(())
            })?;
            println!(
                "{family:>10} ({how:>8}): fused {:.3} ms = {:.3}x the matmul alone; matmul + \
                 forward {:.3} ms = {:.3}x; bits {}",
                ms(fused_time),
                ratio(fused_time, plain_time),
                ms(unfused),
                ratio(unfused, plain_time),
                if same { "identical" } else { "DIFFER" }
            );
        }
    }
    Ok(all_equal)
}

/// The matmul with `activate` as its epilogue, from the exported text.
fn text_kernel(gpu: &Gpu, activate: &str) -> wgpu::ComputePipeline {
    let source = format!(
        "{}\n{}",
        wgsl::source_for::<f32>(gpu),
        MATMUL.replace("ACTIVATE", activate)
    );
    pipeline(gpu, wgpu::ShaderSource::Wgsl(source.into()))
}

/// The same through naga_oil: `#import`s of the library's modules (without
/// the `naga_oil` feature, none).
#[cfg(not(feature = "naga_oil"))]
fn composed_kernel(_: &Gpu, _: &str, _: &str) -> Option<wgpu::ComputePipeline> {
    None
}

#[cfg(feature = "naga_oil")]
fn composed_kernel(gpu: &Gpu, family: &str, call: &str) -> Option<wgpu::ComputePipeline> {
    use naga_oil::compose::{Composer, NagaModuleDescriptor};
    let mut composer = Composer::default();
    wgsl::add_to_composer::<f32>(&mut composer, gpu.exact_products())
        .expect("the library's modules");
    let function = call.split('(').next().unwrap();
    let source = format!(
        "#import wgpu_relu::{family}::{function}\n{}",
        MATMUL.replace("ACTIVATE", call)
    );
    let module = composer
        .make_naga_module(NagaModuleDescriptor {
            source: &source,
            file_path: "fused.wgsl",
            ..Default::default()
        })
        .expect("the fused shader composes");
    let source = wgpu::ShaderSource::Naga(std::borrow::Cow::Owned(module));
    Some(pipeline(gpu, source))
}

fn pipeline(gpu: &Gpu, source: wgpu::ShaderSource<'_>) -> wgpu::ComputePipeline {
    let device = gpu.device();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("fused matmul"),
        source,
    });
    // An explicit layout: the plain kernel never reads the slopes, and an
    // automatic one would leave their binding out.
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
    let storage = wgpu::BufferBindingType::Storage { read_only: false };
    let mut entries = vec![entry(0, wgpu::BufferBindingType::Uniform)];
    entries.extend((1..=5).map(|b| entry(b, storage)));
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("fused matmul"),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("fused matmul"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("fused matmul"),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// Runs `kernel` into `y` and submits.
fn dispatch(gpu: &Gpu, kernel: &wgpu::ComputePipeline, layer: &Layer, y: &Tensor) {
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    dispatch_into(gpu, &mut encoder, kernel, layer, y);
    gpu.queue().submit([encoder.finish()]);
}

fn dispatch_into(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    kernel: &wgpu::ComputePipeline,
    layer: &Layer,
    y: &Tensor,
) {
    let dims = [layer.m, layer.k, layer.n, 0.01f32.to_bits()];
    let dims = gpu
        .device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("dims"),
            contents: bytemuck::cast_slice(&dims),
            usage: wgpu::BufferUsages::UNIFORM,
        });
    let buffers = [&layer.x, &layer.w, &layer.b, &layer.slopes, y];
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: dims.as_entire_binding(),
    }];
    for (i, t) in buffers.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: i as u32 + 1,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: t.buffer(),
                offset: t.byte_offset(),
                size: wgpu::BufferSize::new(t.byte_len()),
            }),
        });
    }
    let bind_group = gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("fused matmul"),
        layout: &kernel.get_bind_group_layout(0),
        entries: &entries,
    });
    let mut pass = encoder.begin_compute_pass(&Default::default());
    pass.set_pipeline(kernel);
    pass.set_bind_group(0, &bind_group, &[]);
    pass.dispatch_workgroups(layer.n.div_ceil(16), layer.m.div_ceil(16), 1);
}

/// The median over 9 runs (after one warm-up) of `work` and a wait.
fn time(
    gpu: &Gpu,
    mut work: impl FnMut() -> Result<(), wgpu_relu::Error>,
) -> Result<Duration, wgpu_relu::Error> {
    let mut times = Vec::new();
    for round in 0..10 {
        let start = Instant::now();
        work()?;
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(wgpu_relu::Error::Poll)?;
        if round > 0 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
