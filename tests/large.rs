//! A tensor over the default 128 MiB storage-binding limit: 40,000,000 f32
//! (160 MB) on a device with WebGPU's default limits, every op processed in
//! several bindings.

mod common;
use common::*;
use wgpu_relu::{wgpu, Gpu};

fn default_limits_gpu() -> Gpu {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))
        .expect("no adapter: install mesa-vulkan-drivers libvulkan1");
    let limits = wgpu::Limits::default();
    assert_eq!(limits.max_storage_buffer_binding_size, 128 << 20);
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: limits,
        ..Default::default()
    }))
    .expect("a device with the default limits");
    Gpu::from_device(device, queue)
}

#[test]
fn forty_million_elements_over_the_binding_limit() {
    let gpu = default_limits_gpu();
    let mut rng = Rng::new("forty_million");
    let len = 40_000_000;
    assert!(len * 4 > 128 << 20);
    let x: Vec<f32> = rng.values(len);
    let g: Vec<f32> = (0..len).map(|_| rng.uniform(1.0)).collect();
    check_forward(&gpu, &Op::Relu, &x, &[len]);
    check_forward(&gpu, &Op::Leaky(0.05), &x, &[len]);
    let weight: Vec<f32> = (0..8).map(|_| rng.uniform(1.0)).collect();
    check_backward(
        &gpu,
        &Op::Prelu {
            weight: weight.clone(),
            axis: 1,
        },
        &x,
        &g,
        &[5, 8, 1_000_000],
        1e-5,
    );
    // Channels last with a channel count that is not a power of two: the
    // kernels' multiply-shift division on indices up to 40,000,000.
    let weight: Vec<f32> = (0..10).map(|_| rng.uniform(1.0)).collect();
    check_forward(
        &gpu,
        &Op::Prelu {
            weight: weight.clone(),
            axis: 1,
        },
        &x,
        &[4_000_000, 10],
    );
    check_backward(
        &gpu,
        &Op::Prelu { weight, axis: 1 },
        &x,
        &g,
        &[4_000_000, 10],
        1e-5,
    );
    check_backward(&gpu, &Op::Relu, &x, &g, &[len], 0.0);
    // An odd count past the binding: the tensor's partial last vec4 in
    // the last binding, runs not a whole number of vec4s and columns.
    let odd = 3 * 7 * 1_904_761;
    let (x, g) = (&x[..odd], &g[..odd]);
    let weight: Vec<f32> = (0..7).map(|_| rng.uniform(1.0)).collect();
    let op = Op::Prelu { weight, axis: 1 };
    check_forward(&gpu, &op, x, &[3, 7, 1_904_761]);
    check_backward(&gpu, &op, x, g, &[3, 7, 1_904_761], 1e-5);
    let weight: Vec<f32> = (0..3).map(|_| rng.uniform(1.0)).collect();
    let op = Op::Prelu { weight, axis: 1 };
    check_backward(&gpu, &op, x, g, &[odd / 3, 3], 1e-5);
}
