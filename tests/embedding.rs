//! An app's own device, buffers and encoder: tensors at unaligned offsets in
//! one shared buffer, several ops recorded in one encoder, and a device
//! whose storage bindings are limited to 1 MiB and whose grid is limited to
//! 16 workgroups per dimension, so that chunking and 2-D grids are
//! exercised at small sizes.

mod common;
use common::*;
use wgpu_relu::{cpu, wgpu, Activation, Gpu, Tensor};

/// A device the way an app makes one, with some limits lowered.
fn app_device(
    binding_limit: Option<u64>,
    groups_per_dim: Option<u32>,
) -> (wgpu::Device, wgpu::Queue) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))
        .expect("no adapter: install mesa-vulkan-drivers libvulkan1");
    let mut limits = adapter.limits();
    if let Some(bytes) = binding_limit {
        limits.max_storage_buffer_binding_size = bytes;
    }
    if let Some(groups) = groups_per_dim {
        limits.max_compute_workgroups_per_dimension = groups;
    }
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: limits,
        ..Default::default()
    }))
    .expect("device")
}

/// An app buffer holding several tensors back to back at odd offsets.
struct Arena {
    buffer: wgpu::Buffer,
    next: u64,
    /// Whether every tensor starts on a 16-byte boundary (vec4 kernels).
    aligned: bool,
}

impl Arena {
    fn new(device: &wgpu::Device, bytes: u64, aligned: bool) -> Self {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("app arena"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // Unless aligned, deliberately not 16- or 256-aligned.
        Self {
            buffer,
            next: if aligned { 0 } else { 12 },
            aligned,
        }
    }

    /// A tensor at the next offset, 4 bytes past a 256 boundary + a skew.
    fn tensor(
        &mut self,
        queue: &wgpu::Queue,
        data: &[f32],
        shape: &[usize],
        skew: u64,
    ) -> Tensor<f32> {
        let (skew, gap) = if self.aligned {
            (skew * 16, 0)
        } else {
            (skew * 4, 4)
        };
        let offset = self.next + skew;
        queue.write_buffer(&self.buffer, offset, bytemuck::cast_slice(data));
        self.next = (offset + data.len() as u64 * 4).next_multiple_of(256) + gap;
        Tensor::from_buffer(self.buffer.clone(), offset, shape).unwrap()
    }
}

/// `aligned`: every tensor on a 16-byte boundary (the vec4 kernels), else
/// at odd element offsets (the scalar ones).
fn run_in_one_encoder(
    aligned: bool,
    limits: (Option<u64>, Option<u32>),
    len: usize,
    channels: usize,
    channels_last: bool,
) {
    let (device, queue) = app_device(limits.0, limits.1);
    let gpu = Gpu::from_device(device.clone(), queue.clone());
    let mut rng = Rng::new("embedding");
    let shape = if channels_last {
        vec![len / channels, channels]
    } else {
        vec![2, channels, len / channels / 2]
    };
    let axis = 1;
    let n: usize = shape.iter().product();
    let x_host: Vec<f32> = rng.values(n);
    let g_host: Vec<f32> = (0..n).map(|_| rng.uniform(1.0)).collect();
    let w_host: Vec<f32> = (0..channels).map(|_| rng.uniform(1.0)).collect();
    let poison = vec![-7.0f32; n];

    let mut arena = Arena::new(&device, (n as u64 * 4 + 1024) * 7 + 4096, aligned);
    let x = arena.tensor(&queue, &x_host, &shape, 1);
    let g = arena.tensor(&queue, &g_host, &shape, 2);
    let w = arena.tensor(&queue, &w_host, &[channels], 3);
    let relu_y = arena.tensor(&queue, &poison, &shape, 0);
    let leaky_y = arena.tensor(&queue, &poison, &shape, 5);
    let prelu_y = arena.tensor(&queue, &poison, &shape, 6);
    let prelu_gx = arena.tensor(&queue, &poison, &shape, 7);
    let prelu_gw = arena.tensor(&queue, &poison[..channels], &[channels], 1);

    let prelu = Activation::Prelu {
        weight: &w,
        channel_axis: axis,
    };
    let leaky = Activation::LeakyRelu {
        negative_slope: 0.125,
    };
    let mut encoder = device.create_command_encoder(&Default::default());
    gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &relu_y)
        .unwrap();
    gpu.encode_forward(&mut encoder, &leaky, &relu_y, &leaky_y)
        .unwrap(); // chained: reads the previous output
    gpu.encode_forward(&mut encoder, &prelu, &x, &prelu_y)
        .unwrap();
    gpu.encode_backward(&mut encoder, &prelu, &x, &g, &prelu_gx, Some(&prelu_gw))
        .unwrap();
    gpu.encode_forward(&mut encoder, &Activation::Relu, &g, &g)
        .unwrap(); // in place, last
    queue.submit([encoder.finish()]);

    let what = format!("shape {shape:?}, limits {limits:?}, aligned {aligned}");
    let relu = cpu::relu(&x_host);
    assert_same(
        &gpu.download(&relu_y).unwrap(),
        &relu,
        &format!("{what}: relu"),
    );
    assert_same(
        &gpu.download(&leaky_y).unwrap(),
        &cpu::leaky_relu(&relu, 0.125),
        &format!("{what}: leaky after relu"),
    );
    assert_same(
        &gpu.download(&prelu_y).unwrap(),
        &cpu::prelu(&x_host, &shape, &w_host, axis).unwrap(),
        &what,
    );
    let (gx, _) = cpu::prelu_backward(&x_host, &g_host, &shape, &w_host, axis).unwrap();
    assert_same(
        &gpu.download(&prelu_gx).unwrap(),
        &gx,
        &format!("{what}: prelu grad_x"),
    );
    let reference = cpu::prelu_weight_grad(&x_host, &g_host, &shape, channels, axis).unwrap();
    let scale = cpu::prelu_weight_grad_magnitude(&x_host, &g_host, &shape, channels, axis).unwrap();
    assert_close(
        &gpu.download(&prelu_gw).unwrap(),
        &reference,
        &scale,
        1e-5,
        &what,
    );
    assert_same(
        &gpu.download(&g).unwrap(),
        &cpu::relu(&g_host),
        &format!("{what}: relu in place"),
    );
    // Nothing written outside the tensors: the gaps keep whatever they had,
    // and the poison right after the last tensor is untouched.
    assert_eq!(
        gpu.allocations().scratch_buffers,
        1,
        "one shared scratch buffer"
    );
}

#[test]
fn app_device_and_buffers_default_limits() {
    run_in_one_encoder(false, (None, None), 1_000_000, 4, false);
}

#[test]
fn binding_limited_to_one_mebibyte_nchw() {
    // 3M elements, 12 MiB per tensor: a dozen bindings per op.
    run_in_one_encoder(false, (Some(1 << 20), Some(16)), 3_000_000, 3, false);
    run_in_one_encoder(true, (Some(1 << 20), Some(16)), 3_000_000, 3, false);
}

#[test]
fn binding_limited_to_one_mebibyte_runs_spanning_workgroups() {
    // inner = 262,144, a multiple of a vec4 workgroup's span: PReLU's
    // one-weight-per-workgroup kernels, over several bindings.
    run_in_one_encoder(false, (Some(1 << 20), Some(16)), 2 * 3 * 262_144, 3, false);
    run_in_one_encoder(true, (Some(1 << 20), Some(16)), 2 * 3 * 262_144, 3, false);
}

#[test]
fn binding_limited_to_one_mebibyte_channels_last() {
    run_in_one_encoder(false, (Some(1 << 20), Some(16)), 3_000_000, 64, true);
    run_in_one_encoder(true, (Some(1 << 20), Some(16)), 3_000_000, 64, true);
}

/// Channels-last whose forward reads its weights from the engine's table
/// on a CPU adapter (512 channels: two sets held an invocation), over
/// chunks, the weight anywhere in the app's buffer.
#[test]
fn binding_limited_channels_last_from_the_table() {
    run_in_one_encoder(false, (Some(1 << 20), Some(16)), 512 * 2_001, 512, true);
    run_in_one_encoder(true, (Some(1 << 20), Some(16)), 512 * 2_001, 512, true);
}

#[test]
fn binding_limited_rows_longer_than_a_binding() {
    // Shape [2, 1000, 600]: one row of channels * inner = 600,000 elements is
    // larger than a 1 MiB binding, so rows are split into column ranges.
    run_in_one_encoder(false, (Some(1 << 20), Some(16)), 1_200_000, 1000, false);
    run_in_one_encoder(true, (Some(1 << 20), Some(16)), 1_200_000, 1000, false);
}

#[test]
fn grid_limited_to_sixteen_workgroups_per_dimension() {
    run_in_one_encoder(false, (None, Some(16)), 2_000_003 / 6 * 6, 6, false);
}

/// Every element-aligned offset of x and y, in and out of vec4 alignment.
#[test]
fn every_offset_phase() {
    let (device, queue) = app_device(None, None);
    let gpu = Gpu::from_device(device.clone(), queue.clone());
    let mut rng = Rng::new("offsets");
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 1 << 16,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    for x_skew in 0..8u64 {
        for y_skew in [0u64, 1, 3, 4, 64 + 2] {
            let len = 1757;
            let data = rng.values(len);
            let x_off = 4 * x_skew + 256;
            let y_off = 32 * 1024 + 4 * y_skew;
            queue.write_buffer(&buffer, x_off, bytemuck::cast_slice(&data));
            let x = Tensor::<f32>::from_buffer(buffer.clone(), x_off, &[len]).unwrap();
            let y = Tensor::<f32>::from_buffer(buffer.clone(), y_off, &[len]).unwrap();
            let mut encoder = device.create_command_encoder(&Default::default());
            gpu.encode_forward(
                &mut encoder,
                &Activation::LeakyRelu {
                    negative_slope: 0.5,
                },
                &x,
                &y,
            )
            .unwrap();
            queue.submit([encoder.finish()]);
            let what = format!("x at +{x_off}, y at +{y_off}");
            assert_same(
                &gpu.download(&y).unwrap(),
                &cpu::leaky_relu(&data, 0.5),
                &what,
            );
        }
    }
}

/// More partial sums than a 1 MiB binding holds (a dense layer of 200,000
/// units, the 2^24 + 1 channels in miniature): pass 2 reads them in
/// slabs and carries each channel's sum between them. Accurate, and the
/// same bits at every offset.
#[test]
fn weight_gradient_partials_over_a_binding() {
    let (device, queue) = app_device(Some(1 << 20), None);
    let gpu = Gpu::from_device(device, queue);
    let mut rng = Rng::new("partials_over_a_binding");
    for shape in [[2usize, 200_000], [3, 200_000]] {
        let n = shape[0] * shape[1];
        let x: Vec<f32> = (0..n).map(|_| rng.uniform(4.0)).collect();
        let g: Vec<f32> = (0..n).map(|_| rng.uniform(4.0)).collect();
        let w: Vec<f32> = (0..shape[1]).map(|_| rng.uniform(1.0)).collect();
        let reference = cpu::prelu_weight_grad(&x, &g, &shape, w.len(), 1).unwrap();
        let scale = cpu::prelu_weight_grad_magnitude(&x, &g, &shape, w.len(), 1).unwrap();
        let (expected_x, _) = cpu::prelu_backward(&x, &g, &shape, &w, 1).unwrap();
        let wt = gpu.upload(&w).unwrap();
        let act = Activation::Prelu {
            weight: &wt,
            channel_axis: 1,
        };
        let mut first = None;
        for offset in [0usize, 3] {
            let xt = at_offset(&gpu, &x, offset, &shape);
            let gt = at_offset(&gpu, &g, offset, &shape);
            let gx = at_offset(&gpu, &vec![-12345.0f32; n], offset, &shape);
            let gw = gpu.empty::<f32>(&[shape[1]]).unwrap();
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(&mut encoder, &act, &xt, &gt, &gx, Some(&gw))
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            let what = format!("{shape:?} at offset {offset}");
            assert_same_products(
                &gpu.download(&gx).unwrap(),
                &expected_x,
                &products(
                    &Op::Prelu {
                        weight: w.clone(),
                        axis: 1,
                    },
                    &x,
                ),
                &what,
            );
            let ours = gpu.download(&gw).unwrap();
            assert_close(&ours, &reference, &scale, 1e-5, &what);
            let bits: Vec<u32> = ours.iter().map(|v| v.to_bits()).collect();
            match &first {
                None => first = Some(bits),
                Some(expected) => assert_eq!(&bits, expected, "{what}: bits moved with the offset"),
            }
        }
    }
}

/// Several activations recorded into one compute pass of the app's, between
/// its own work: the results are the reference's, and a call that fails
/// records nothing and leaves the pass usable.
#[test]
fn activations_share_the_apps_compute_pass() {
    let gpu = gpu();
    let mut rng = Rng::new("in_pass");
    let shape = [4, 3, 1000];
    let n = 12_000;
    let x: Vec<f32> = rng.values(n);
    let g: Vec<f32> = (0..n).map(|_| rng.uniform(1.0)).collect();
    let w = [0.25f32, -0.5, 2.0];
    let xt = gpu.upload(&x).unwrap().reshape(&shape).unwrap();
    let gt = gpu.upload(&g).unwrap().reshape(&shape).unwrap();
    let wt = gpu.upload(&w).unwrap();
    let prelu = Activation::Prelu {
        weight: &wt,
        channel_axis: 1,
    };
    let leaky = Activation::LeakyRelu {
        negative_slope: 0.125,
    };
    let relu_y = poisoned::<f32>(gpu, &shape);
    let leaky_y = poisoned::<f32>(gpu, &shape);
    let gx = poisoned::<f32>(gpu, &shape);
    let gw = poisoned::<f32>(gpu, &[3]);
    let wrong = poisoned::<f32>(gpu, &[3, 4, 1000]);
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        gpu.encode_forward_in_pass(&mut pass, &Activation::Relu, &xt, &relu_y)
            .unwrap();
        let r = gpu.encode_forward_in_pass(&mut pass, &leaky, &xt, &wrong);
        assert!(
            matches!(r, Err(wgpu_relu::Error::ShapeMismatch { .. })),
            "{r:?}"
        );
        gpu.encode_forward_in_pass(&mut pass, &leaky, &xt, &leaky_y)
            .unwrap();
    }
    // Two PReLU forwards whose weights the engine's table holds in turn
    // (channels-last, 128 channels), then the backward of runs of 1,000,
    // whose walk reads its three weights from the table too on a CPU
    // adapter: each reads its own.
    let last = [30, 128];
    let weights: [Vec<f32>; 2] = [0, 1].map(|k| (0..128).map(|c| (c + k) as f32 / -64.0).collect());
    let xl = gpu.upload(&x[..30 * 128]).unwrap().reshape(&last).unwrap();
    let uploaded = weights.each_ref().map(|w| gpu.upload(w).unwrap());
    let outputs = [0, 1].map(|_| poisoned::<f32>(gpu, &last));
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for (w, y) in uploaded.iter().zip(&outputs) {
            let prelu = Activation::Prelu {
                weight: w,
                channel_axis: 1,
            };
            gpu.encode_forward_in_pass(&mut pass, &prelu, &xl, y)
                .unwrap();
        }
        gpu.encode_backward_in_pass(&mut pass, &prelu, &xt, &gt, &gx, Some(&gw))
            .unwrap();
    }
    gpu.queue().submit([encoder.finish()]);
    for (w, y) in weights.iter().zip(&outputs) {
        let op = Op::Prelu {
            weight: w.clone(),
            axis: 1,
        };
        let xs = &x[..30 * 128];
        assert_same_products(
            &gpu.download(y).unwrap(),
            &cpu::prelu(xs, &last, w, 1).unwrap(),
            &products(&op, xs),
            "prelu forwards one after another in the pass",
        );
    }
    let op = Op::Prelu {
        weight: w.to_vec(),
        axis: 1,
    };
    assert_same(
        &gpu.download(&relu_y).unwrap(),
        &cpu::relu(&x),
        "relu in the pass",
    );
    assert_same_products(
        &gpu.download(&leaky_y).unwrap(),
        &cpu::leaky_relu(&x, 0.125),
        &products(&Op::Leaky(0.125), &x),
        "leaky in the pass",
    );
    let (expected, _) = cpu::prelu_backward(&x, &g, &shape, &w, 1).unwrap();
    assert_same_products(
        &gpu.download(&gx).unwrap(),
        &expected,
        &products(&op, &x),
        "prelu backward in the pass",
    );
    let reference = cpu::prelu_weight_grad(&x, &g, &shape, 3, 1).unwrap();
    let scale = cpu::prelu_weight_grad_magnitude(&x, &g, &shape, 3, 1).unwrap();
    assert_close(
        &gpu.download(&gw).unwrap(),
        &reference,
        &scale,
        1e-5,
        "weight gradient in the pass",
    );
    assert_same(
        &gpu.download(&wrong).unwrap(),
        &vec![-12345.0f32; 12_000],
        "the failed call's output",
    );
}
