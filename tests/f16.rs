//! Every op in f16 on an adapter with SHADER_F16 (the Vulkan software
//! adapter has it), against the CPU reference computed in f16; on one
//! without (GL), the error.

mod common;
use common::*;
use half::f16;
use wgpu_relu::{cpu, wgpu, Activation, Error, Tensor};

/// f16 must work wherever the adapter has the feature; GL never has it and
/// must give the error instead. Returns whether to run the f16 checks.
fn f16_available() -> bool {
    let gpu = gpu();
    if gpu.adapter_info().backend == wgpu::Backend::Gl {
        assert!(!gpu.supports_f16());
        let x = [f16::ONE];
        assert!(matches!(gpu.upload(&x), Err(Error::MissingFeature { .. })));
        return false;
    }
    assert!(
        gpu.supports_f16(),
        "this adapter lacks SHADER_F16: run the f16 tests on WGPU_BACKEND=vulkan"
    );
    true
}

fn f16_edges() -> Vec<f16> {
    let mut v: Vec<f16> = [
        0x7e00u16, 0xfe00, 0x7e55, 0x7d55, 0xfc01, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001, 0x8001,
        0x03ff, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0xbc00,
    ]
    .into_iter()
    .map(f16::from_bits)
    .collect();
    v.extend(v.clone().iter().rev());
    v
}

#[test]
fn f16_forward_every_op() {
    if !f16_available() {
        return;
    }
    let mut rng = Rng::new("f16_forward");
    // Lengths under 8 take the f16 kernels; the others ReLU's u32-word
    // kernels (Leaky ReLU's on CPU adapters), with 1, 2 or 3 words after
    // the last vec4 for 10, 12 and 1758, and odd ones their last half in a
    // dispatch of the f16 kernels.
    for len in [
        1usize,
        2,
        3,
        4,
        5,
        6,
        8,
        10,
        12,
        1757,
        1758,
        65535 * 64 + 1,
        65535 * 64 + 8,
    ] {
        let x = rng.values_f16(len);
        check_forward(gpu(), &Op::Relu, &x, &[len]);
        check_forward(gpu(), &Op::Leaky(0.01), &x, &[len]);
    }
    let x = f16_edges();
    for op in [Op::Relu, Op::Leaky(0.1), Op::Leaky(-3.0)] {
        check_forward(gpu(), &op, &x, &[x.len()]);
    }
    // Runs of 323, of 8 and more, channels-last, one channel.
    for (shape, axis) in [
        (vec![2usize, 3, 17, 19], 1usize),
        (vec![5, 7, 64], 2),
        (vec![30], 0),
        (vec![2, 3, 8, 40], 1),
        (vec![7, 5, 8], 1),
        (vec![3, 6, 24, 1], 1),
    ] {
        let len = shape.iter().product();
        let weight = rng.values_f16(shape[axis]);
        check_forward(
            gpu(),
            &Op::Prelu { weight, axis },
            &rng.values_f16(len),
            &shape,
        );
    }
    // One shared weight.
    let weight = rng.values_f16(1);
    check_forward(
        gpu(),
        &Op::Prelu { weight, axis: 1 },
        &rng.values_f16(1938),
        &[2, 3, 17, 19],
    );
}

#[test]
fn f16_backward_every_op() {
    if !f16_available() {
        return;
    }
    let mut rng = Rng::new("f16_backward");
    for len in [1usize, 2, 5, 8, 10, 12, 1757, 1758, 100_001, 100_008] {
        let (x, g) = (rng.values_f16(len), rng.values_f16(len));
        check_backward(gpu(), &Op::Relu, &x, &g, &[len], 0.0);
        check_backward(gpu(), &Op::Leaky(0.2), &x, &g, &[len], 0.0);
    }
    let finite = |rng: &mut Rng, n: usize| {
        (0..n)
            .map(|_| f16::from_f32(rng.uniform(2.0)))
            .collect::<Vec<_>>()
    };
    for (shape, axis) in [
        (vec![2usize, 3, 40, 50], 1usize),
        (vec![1, 64, 4096], 1),
        (vec![300, 64], 1),
        (vec![9, 1000], 1),
    ] {
        let len: usize = shape.iter().product();
        let weight = finite(&mut rng, shape[axis]);
        let (x, g) = (finite(&mut rng, len), finite(&mut rng, len));
        check_backward(gpu(), &Op::Prelu { weight, axis }, &x, &g, &shape, 1e-3);
    }
}

/// Every shape of the weight-gradient reduction (`WEIGHT_GRADIENT_SHAPES`)
/// in f16: on CPU adapters the walks take f16 as u32 words.
#[test]
fn f16_prelu_in_every_reduction() {
    if !f16_available() {
        return;
    }
    let mut rng = Rng::new("f16_weight_gradient_reductions");
    let mut finite = |n: usize| {
        (0..n)
            .map(|_| f16::from_f32(rng.uniform(2.0)))
            .collect::<Vec<_>>()
    };
    for shape in WEIGHT_GRADIENT_SHAPES {
        let len = shape.iter().product();
        let weight = finite(shape[1]);
        let (x, g) = (finite(len), finite(len));
        check_forward(
            gpu(),
            &Op::Prelu {
                weight: weight.clone(),
                axis: 1,
            },
            &x,
            shape,
        );
        check_backward(gpu(), &Op::Prelu { weight, axis: 1 }, &x, &g, shape, 1e-3);
    }
}

/// The weight gradient accumulates in f32: a sum that f16 accumulation
/// would get badly wrong (2048 + 1 + 1 + … stays 2048 in f16) comes out right.
#[test]
fn f16_weight_gradient_accumulates_in_f32() {
    if !f16_available() {
        return;
    }
    let n = 4096;
    let x = vec![f16::from_f32(-1.0); n];
    let g = vec![f16::from_f32(-1.0); n];
    let gpu = gpu();
    let xt = gpu.upload(&x).unwrap();
    let gt = gpu.upload(&g).unwrap();
    let w = gpu.upload(&[f16::from_f32(0.5)]).unwrap();
    let act = Activation::Prelu {
        weight: &w,
        channel_axis: 0,
    };
    let grads = gpu.backward(&act, &xt, &gt).unwrap();
    let gw = gpu.download(grads.weight.as_ref().unwrap()).unwrap();
    assert_eq!(gw[0].to_f32(), 4096.0);
    let again = gpu
        .download(
            gpu.backward(&act, &xt, &gt)
                .unwrap()
                .weight
                .as_ref()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(gw[0].to_bits(), again[0].to_bits());
}

/// ReLU and Leaky ReLU on f16 tensors at every offset phase inside an
/// app's buffer, at an even and an odd length: where the offsets agree
/// modulo eight halves, the u32-word kernels after a head of up to seven
/// halves and before a last odd one (src/engine/word_parts.rs; Leaky ReLU's
/// on CPU adapters), the f16 vec4 or scalar kernels where they do not; each
/// against the reference, with the halves around the outputs left
/// untouched. Phases eight apart agree but are not the same offset in
/// their bindings: the words then take an index per tensor.
#[test]
fn f16_relu_at_every_offset_phase() {
    if !f16_available() {
        return;
    }
    let gpu = gpu();
    let mut rng = Rng::new("f16_offsets");
    let x = rng.values_f16(1000);
    let g = rng.values_f16(1000);
    let fill = f16::from_bits(0x5555);
    let phases = (0..9u64)
        .map(|p| (p, p))
        .chain([(0, 1), (3, 2), (5, 7), (4, 0), (1, 9), (8, 0)]);
    for ((phase, y_phase), len) in phases.flat_map(|p| [(p, 1000), (p, 999)]) {
        let (x, g) = (&x[..len], &g[..len]);
        // x and g at 2 * phase bytes past 256-byte boundaries, y at
        // 2 * y_phase, apart.
        let (x_off, g_off, y_off) = (256 + 2 * phase, 4096 + 2 * phase, 8192 + 2 * y_phase);
        let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 12288,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut contents = vec![fill; 6144];
        contents[x_off as usize / 2..][..len].copy_from_slice(x);
        contents[g_off as usize / 2..][..len].copy_from_slice(g);
        let tensor = |off| Tensor::<f16>::from_buffer(buffer.clone(), off, &[len]).unwrap();
        let (xt, gt, yt) = (tensor(x_off), tensor(g_off), tensor(y_off));
        let whole = Tensor::<f16>::from_buffer(buffer.clone(), 0, &[6144]).unwrap();
        let y_range = (y_off / 2) as usize..(y_off / 2) as usize + len;
        let place = format!("x at phase {phase}, y at {y_phase}, {len} halves");
        let run = |what: &str, record: &dyn Fn(&mut wgpu::CommandEncoder), expected: &[f16]| {
            gpu.queue()
                .write_buffer(&buffer, 0, bytemuck::cast_slice(&contents));
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            record(&mut encoder);
            gpu.queue().submit([encoder.finish()]);
            let all = gpu.download(&whole).unwrap();
            assert_same(&all[y_range.clone()], expected, &format!("{what}, {place}"));
            for i in [y_range.start - 1, y_range.end] {
                assert_eq!(
                    all[i].to_bits(),
                    fill.to_bits(),
                    "{what}, {place}: wrote half {i}"
                );
            }
        };
        let leaky = Activation::LeakyRelu {
            negative_slope: 0.1,
        };
        run(
            "forward",
            &|e| gpu.encode_forward(e, &Activation::Relu, &xt, &yt).unwrap(),
            &cpu::relu(x),
        );
        run(
            "backward",
            &|e| {
                gpu.encode_backward(e, &Activation::Relu, &xt, &gt, &yt, None)
                    .unwrap()
            },
            &cpu::relu_backward(x, g),
        );
        run(
            "Leaky forward",
            &|e| gpu.encode_forward(e, &leaky, &xt, &yt).unwrap(),
            &cpu::leaky_relu(x, 0.1),
        );
        run(
            "Leaky backward",
            &|e| gpu.encode_backward(e, &leaky, &xt, &gt, &yt, None).unwrap(),
            &cpu::leaky_relu_backward(x, g, 0.1),
        );
    }
}

/// Every f16 bit pattern through ReLU, Leaky ReLU and PReLU, forward and
/// backward, against the reference bit for bit (zeros by their sign, NaN as
/// any NaN): the u32-word kernels (ReLU; Leaky ReLU and PReLU's walks on
/// CPU adapters) convert halves to f32 and round back in bit arithmetic
/// (halves.wgsl), and every rounding
/// case (ties, subnormal results, overflow to infinity) shows up across
/// these slopes and weights.
#[test]
fn f16_every_bit_pattern() {
    if !f16_available() {
        return;
    }
    let gpu = gpu();
    let x: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
    // grad_y: the same patterns in another order (40503 is odd).
    let g: Vec<f16> = (0..=u16::MAX)
        .map(|i| f16::from_bits(i.wrapping_mul(40503)))
        .collect();
    let (xt, gt) = (gpu.upload(&x).unwrap(), gpu.upload(&g).unwrap());
    let exact = |actual: &[f16], expected: &[f16], what: &str| {
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            let same = if e.is_nan() {
                a.is_nan()
            } else {
                a.to_bits() == e.to_bits()
            };
            assert!(
                same,
                "{what}: x = {:#06x}, g = {:#06x}: got {:#06x}, expected {:#06x}",
                x[i].to_bits(),
                g[i].to_bits(),
                a.to_bits(),
                e.to_bits()
            );
        }
    };
    let y = gpu.forward(&Activation::Relu, &xt).unwrap();
    exact(&gpu.download(&y).unwrap(), &cpu::relu(&x), "ReLU forward");
    let grads = gpu.backward(&Activation::Relu, &xt, &gt).unwrap();
    exact(
        &gpu.download(&grads.input).unwrap(),
        &cpu::relu_backward(&x, &g),
        "ReLU backward",
    );
    // PReLU with 8,192 channels of 8: every weight a different slope.
    let mut rng = Rng::new("f16_every_bit_pattern");
    let weight: Vec<f16> = (0..8192).map(|_| f16::from_f32(rng.uniform(4.0))).collect();
    let w = gpu.upload(&weight).unwrap();
    let act = Activation::Prelu {
        weight: &w,
        channel_axis: 0,
    };
    let (xt8, gt8) = (
        xt.reshape(&[8192, 8]).unwrap(),
        gt.reshape(&[8192, 8]).unwrap(),
    );
    let y = gpu.forward(&act, &xt8).unwrap();
    exact(
        &gpu.download(&y).unwrap(),
        &cpu::prelu(&x, &[8192, 8], &weight, 0).unwrap(),
        "PReLU forward",
    );
    // The input gradient alone (no weight gradient): the element-wise kernel.
    let gx: Tensor<f16> = gpu.empty(&[8192, 8]).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    gpu.encode_backward(&mut encoder, &act, &xt8, &gt8, &gx, None)
        .unwrap();
    gpu.queue().submit([encoder.finish()]);
    exact(
        &gpu.download(&gx).unwrap(),
        &cpu::prelu_backward(&x, &g, &[8192, 8], &weight, 0)
            .unwrap()
            .0,
        "PReLU backward",
    );
    for slope in [0.01f32, -3.0, 1000.0, 3e-5, 0.1, 1e-40] {
        let act = Activation::LeakyRelu {
            negative_slope: slope,
        };
        let y = gpu.forward(&act, &xt).unwrap();
        exact(
            &gpu.download(&y).unwrap(),
            &cpu::leaky_relu(&x, slope),
            &format!("Leaky ReLU {slope} forward"),
        );
        let grads = gpu.backward(&act, &xt, &gt).unwrap();
        exact(
            &gpu.download(&grads.input).unwrap(),
            &cpu::leaky_relu_backward(&x, &g, slope),
            &format!("Leaky ReLU {slope} backward"),
        );
    }
}
