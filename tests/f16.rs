//! Every op in f16 on an adapter with SHADER_F16 (the Vulkan software
//! adapter has it), against the CPU reference computed in f16; on one
//! without (GL), the error.

mod common;
use common::*;
use half::f16;
use wgpu_relu::{wgpu, Activation, Error};

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
        0x7e00u16, 0xfe00, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400,
        0x7bff, 0xfbff, 0x3c00, 0xbc00,
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
    for len in [1usize, 3, 4, 5, 1757, 65535 * 64 + 1] {
        let x = rng.values_f16(len);
        check_forward(gpu(), &Op::Relu, &x, &[len]);
        check_forward(gpu(), &Op::Leaky(0.01), &x, &[len]);
    }
    let x = f16_edges();
    for op in [Op::Relu, Op::Leaky(0.1), Op::Leaky(-3.0)] {
        check_forward(gpu(), &op, &x, &[x.len()]);
    }
    for (shape, axis) in [
        (vec![2usize, 3, 17, 19], 1usize),
        (vec![5, 7, 64], 2),
        (vec![30], 0),
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
}

#[test]
fn f16_backward_every_op() {
    if !f16_available() {
        return;
    }
    let mut rng = Rng::new("f16_backward");
    for len in [1usize, 5, 1757, 100_001] {
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
