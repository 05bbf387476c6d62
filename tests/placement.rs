//! PReLU's walks find a vec4 of x, g and y with one index where the three lie
//! at one offset in their bindings (each from the same element of its own
//! buffer, or in place). Here they do not: tensors in one app buffer at
//! different 16-byte phases of the 256-byte binding alignment, or at odd
//! element offsets. The results must be the reference's, and the weight
//! gradient the same bits as with each tensor in a buffer of its own (its
//! order of sums depends on the shape alone), but for which NaN a sum of
//! NaN products is.

mod common;
use common::*;
use wgpu_relu::{cpu, wgpu, Activation, Gpu, GpuOptions, Tensor};

/// Byte offsets of x, g and y past a 256-byte boundary. Aligned: every
/// tensor on a vec4, no two (or only x and y) at the same phase. Unaligned:
/// the scalar views, at three different element phases.
const PLACES: [[u64; 3]; 4] = [[16, 48, 32], [0, 64, 0], [32, 32, 96], [4, 8, 12]];

/// PReLU's inputs for a shape with its channels on axis 1: x, the
/// output's gradient g and the weight w.
struct Inputs {
    x: Vec<f32>,
    g: Vec<f32>,
    w: Vec<f32>,
}

impl Inputs {
    fn new(rng: &mut Rng, shape: &[usize]) -> Self {
        let n = shape.iter().product();
        Inputs {
            x: rng.values(n),
            g: (0..n).map(|_| rng.uniform(2.0)).collect(),
            w: (0..shape[1]).map(|_| rng.uniform(1.0)).collect(),
        }
    }
}

#[test]
fn prelu_with_tensors_at_different_offsets_in_their_bindings() {
    // WebGPU's default limits: bindings start on 256 bytes, so a tensor 16
    // bytes past a boundary sits a vec4 into its binding.
    let gpu = Gpu::with_options(GpuOptions::default().limits(wgpu::Limits::default())).unwrap();
    assert_eq!(
        gpu.device().limits().min_storage_buffer_offset_alignment,
        256
    );
    let mut rng = Rng::new("placement");
    // The ways the walks find their weights: four channels per vec4 (the
    // weights' own vec4s), 37 channels (a row of lane weights; the tensor's
    // last vec4 partial), rows too long for that row (weights found in the
    // walk), runs of 7 and of 1000.
    let shapes: [&[usize]; 5] = [
        &[300, 64],
        &[385, 37],
        &[8, 65537],
        &[300, 4, 7],
        &[2, 3, 1000],
    ];
    for shape in shapes {
        let (n, c) = (shape.iter().product::<usize>(), shape[1]);
        let Inputs { x, g, w } = Inputs::new(&mut rng, shape);
        let weight = gpu.upload(&w).unwrap();
        let prelu = Activation::Prelu {
            weight: &weight,
            channel_axis: 1,
        };
        let expected_y = cpu::prelu(&x, shape, &w, 1).unwrap();
        let (expected_gx, _) = cpu::prelu_backward(&x, &g, shape, &w, 1).unwrap();
        let prods = products(
            &Op::Prelu {
                weight: w.clone(),
                axis: 1,
            },
            &x,
        );
        // The weight gradient with each tensor in a buffer of its own.
        let own = {
            let xt = gpu.upload(&x).unwrap().reshape(shape).unwrap();
            let gt = gpu.upload(&g).unwrap().reshape(shape).unwrap();
            let grad_w = gpu.backward(&prelu, &xt, &gt).unwrap().weight.unwrap();
            gpu.download(&grad_w).unwrap()
        };
        for place in PLACES {
            let what = format!("{shape:?}, x, g, y at +{place:?}");
            let arena = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("app arena"),
                size: 3 * (n as u64 * 4).next_multiple_of(256) + 3 * 256,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let span = (n as u64 * 4).next_multiple_of(256) + 256;
            let at = |slot: u64, data: &[f32]| {
                let offset = slot * span + place[slot as usize];
                gpu.queue()
                    .write_buffer(&arena, offset, bytemuck::cast_slice(data));
                Tensor::<f32>::from_buffer(arena.clone(), offset, shape).unwrap()
            };
            let poison = vec![-12345.0f32; n];
            let (xt, gt, yt) = (at(0, &x), at(1, &g), at(2, &poison));
            let grad_w = gpu.empty::<f32>(&[c]).unwrap();

            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_forward(&mut encoder, &prelu, &xt, &yt).unwrap();
            gpu.queue().submit([encoder.finish()]);
            let y = gpu.download(&yt).unwrap();
            assert_same_products(&y, &expected_y, &prods, &format!("{what}: forward"));

            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(&mut encoder, &prelu, &xt, &gt, &yt, Some(&grad_w))
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            let gx = gpu.download(&yt).unwrap();
            assert_same_products(&gx, &expected_gx, &prods, &format!("{what}: grad_x"));
            // Sums of products: any NaN matches a NaN, every other bit counts.
            assert_same_products(
                &gpu.download(&grad_w).unwrap(),
                &own,
                &vec![true; c],
                &format!("{what}: weight gradient"),
            );
        }
    }
}

/// The weight itself anywhere in an app's buffer: PReLU's element-wise
/// forward on a CPU adapter loads a vec4's four weights as one vec4 where
/// channels-last weights lie on a multiple of four elements in their
/// binding, and one at a time elsewhere; the input gradient alone takes
/// the walk, which finds them its own way. Both, channels-last with 4, 8,
/// 64 and 1,024 channels, the weight at every element phase of its
/// binding and a vec4 into it.
#[test]
fn prelu_weight_anywhere_in_its_binding() {
    let gpu = Gpu::with_options(GpuOptions::default().limits(wgpu::Limits::default())).unwrap();
    let mut rng = Rng::new("weight placement");
    let shapes: [&[usize]; 4] = [&[1000, 4], &[515, 8], &[300, 64], &[9, 1024]];
    for shape in shapes {
        let c = shape[1];
        let Inputs { x, g, w } = Inputs::new(&mut rng, shape);
        let expected_y = cpu::prelu(&x, shape, &w, 1).unwrap();
        let (expected_gx, _) = cpu::prelu_backward(&x, &g, shape, &w, 1).unwrap();
        let op = Op::Prelu {
            weight: w.clone(),
            axis: 1,
        };
        // Where x is not positive both outputs are products.
        let prods = products(&op, &x);
        let xt = gpu.upload(&x).unwrap().reshape(shape).unwrap();
        let gt = gpu.upload(&g).unwrap().reshape(shape).unwrap();
        for at in [0u64, 4, 8, 12, 16, 20] {
            let what = format!("{shape:?}, the weight {at} bytes into its binding");
            let arena = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("app weights"),
                size: (c as u64 * 4 + at).next_multiple_of(256),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            gpu.queue()
                .write_buffer(&arena, at, bytemuck::cast_slice(&w));
            let weight = Tensor::<f32>::from_buffer(arena, at, &[c]).unwrap();
            let prelu = Activation::Prelu {
                weight: &weight,
                channel_axis: 1,
            };
            let y = gpu.forward(&prelu, &xt).unwrap();
            let y = gpu.download(&y).unwrap();
            assert_same_products(&y, &expected_y, &prods, &format!("{what}: forward"));
            let yt = gpu.empty::<f32>(shape).unwrap();
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(&mut encoder, &prelu, &xt, &gt, &yt, None)
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            let gx = gpu.download(&yt).unwrap();
            assert_same_products(&gx, &expected_gx, &prods, &format!("{what}: grad_x"));
        }
    }
}
