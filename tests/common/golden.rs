//! The golden vectors of `scripts/golden.py` (PyTorch on the CPU), and the
//! check that holds an element-wise result to them bit for bit.
//!
//! Where PyTorch gives a number, the bits must be PyTorch's. Where it gives
//! a NaN, the result must be a NaN, and where the rule passes a value
//! through (ReLU's x, a selected gradient), exactly that value's bits:
//! PyTorch itself sometimes quiets a signalling NaN there, sometimes not.
//! A NaN made by a product may be any NaN.

#![allow(dead_code)]

use std::path::PathBuf;

use crate::common::{at_offset, bits, same_bits, Op};
use wgpu_relu::{cpu, Activation, Element, Gpu};

/// The folder of one dtype's vectors: `tests/golden/f32` or `tests/golden/f16`.
fn folder<T: Element>() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(T::NAME)
}

/// One golden array, as elements of `T` (its file holds their bits).
pub fn load<T: Element>(name: &str) -> Vec<T> {
    let path = folder::<T>().join(format!("{name}.bin"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytemuck::pod_collect_to_vec(&bytes)
}

/// A golden array of u32s (shapes), or of f32 bits (slopes).
pub fn load_u32<T: Element>(name: &str) -> Vec<u32> {
    let path = folder::<T>().join(format!("{name}.bin"));
    bytemuck::pod_collect_to_vec(&std::fs::read(&path).unwrap())
}

/// PReLU's golden inputs: the shape `[2, C, K]`, x, g and the weight.
pub fn prelu_inputs<T: Element>() -> (Vec<usize>, Vec<T>, Vec<T>, Vec<T>) {
    let shape = load_u32::<T>("prelu_shape")
        .into_iter()
        .map(|d| d as usize)
        .collect();
    (shape, load("prelu_x"), load("prelu_g"), load("prelu_w"))
}

/// The slopes the Leaky ReLU vectors were made with.
pub fn slopes<T: Element>() -> Vec<f32> {
    load_u32::<T>("slopes")
        .into_iter()
        .map(f32::from_bits)
        .collect()
}

/// Whether a run is forward (the output selects x) or backward (it selects g).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Direction {
    Forward,
    Backward,
}

/// The value the rule passes through at each element, if any: ReLU passes
/// x unless x < 0 (forward) and g unless x <= 0 (backward), NaN x
/// included; Leaky ReLU and PReLU pass x or g where x > 0 and multiply
/// elsewhere.
// Negated comparisons on purpose: NaN compares false, and passes.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn passed<T: Element>(op: &Op<T>, direction: Direction, x: &[T], g: &[T]) -> Vec<Option<T>> {
    (0..x.len())
        .map(|i| {
            let v = x[i].to_f32();
            let passes = match op {
                Op::Relu if direction == Direction::Forward => !(v < 0.0),
                Op::Relu => !(v <= 0.0),
                _ => v > 0.0,
            };
            let value = match direction {
                Direction::Forward => x[i],
                Direction::Backward => g[i],
            };
            passes.then_some(value)
        })
        .collect()
}

/// `actual` against PyTorch's `torch` under the rule above.
pub fn assert_golden<T: Element>(actual: &[T], torch: &[T], passed: &[Option<T>], what: &str) {
    assert_eq!(actual.len(), torch.len(), "{what}: length");
    let mut bad = (0..actual.len()).filter(|&i| {
        let (a, t) = (actual[i], torch[i]);
        if !t.is_nan() {
            return !same_bits(a, t);
        }
        !a.is_nan() || passed[i].is_some_and(|p| !same_bits(a, p))
    });
    if let Some(i) = bad.next() {
        panic!(
            "{what}: element {i} is {:#x} where PyTorch gives {:#x} (passed value: {:x?}); {} more differ",
            bits(actual[i]),
            bits(torch[i]),
            passed[i].map(bits),
            bad.count()
        );
    }
}

/// Element offsets that take each path: 0 (vec4, or f16 words), 1 and 3
/// (scalar), 4 (vec4 for f16 too), 9.
pub const OFFSETS: [usize; 5] = [0, 1, 3, 4, 9];

/// Runs forward of `op` on `x` every way — `forward`, `encode_forward` at
/// every offset into a poisoned output, in place — and holds each result
/// and the CPU reference to `torch`.
pub fn forward_every_way<T: Element>(
    gpu: &Gpu,
    op: &Op<T>,
    x: &[T],
    shape: &[usize],
    torch: &[T],
    what: &str,
) {
    let passed = passed(op, Direction::Forward, x, x);
    assert_golden(
        &crate::common::cpu_forward(op, x, shape),
        torch,
        &passed,
        &format!("{what}: cpu"),
    );
    crate::common::with_activation(gpu, op, |act: &Activation<'_, T>| {
        for offset in OFFSETS {
            let xt = at_offset(gpu, x, offset, shape);
            let y = at_offset(gpu, &vec![T::from_f32(-12345.0); x.len()], offset, shape);
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_forward(&mut encoder, act, &xt, &y).unwrap();
            gpu.queue().submit([encoder.finish()]);
            let out = gpu.download(&y).unwrap();
            assert_golden(&out, torch, &passed, &format!("{what}: offset {offset}"));
            gpu.forward_in_place(act, &xt).unwrap();
            let out = gpu.download(&xt).unwrap();
            assert_golden(
                &out,
                torch,
                &passed,
                &format!("{what}: in place, offset {offset}"),
            );
        }
        let xt = gpu.upload(x).unwrap().reshape(shape).unwrap();
        let out = gpu.download(&gpu.forward(act, &xt).unwrap()).unwrap();
        assert_golden(&out, torch, &passed, &format!("{what}: forward"));
    });
}

/// The input gradient of `op` every way — `backward`, `encode_backward` at
/// every offset (for PReLU without the weight gradient, too), into grad_y
/// itself — and the CPU reference, against `torch`.
pub fn backward_every_way<T: Element>(
    gpu: &Gpu,
    op: &Op<T>,
    x: &[T],
    g: &[T],
    shape: &[usize],
    torch: &[T],
    what: &str,
) {
    let passed = passed(op, Direction::Backward, x, g);
    let reference = match op {
        Op::Relu => cpu::relu_backward(x, g),
        Op::Leaky(s) => cpu::leaky_relu_backward(x, g, *s),
        Op::Prelu { weight, axis } => cpu::prelu_backward(x, g, shape, weight, *axis).unwrap().0,
    };
    assert_golden(&reference, torch, &passed, &format!("{what}: cpu"));
    let weight_len = match op {
        Op::Prelu { weight, .. } => Some(weight.len()),
        _ => None,
    };
    crate::common::with_activation(gpu, op, |act: &Activation<'_, T>| {
        for offset in OFFSETS {
            let xt = at_offset(gpu, x, offset, shape);
            let gt = at_offset(gpu, g, offset, shape);
            let poison = vec![T::from_f32(-12345.0); x.len()];
            let gx = at_offset(gpu, &poison, offset, shape);
            let gw = weight_len.map(|n| gpu.upload(&vec![T::from_f32(-1.0); n]).unwrap());
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(&mut encoder, act, &xt, &gt, &gx, gw.as_ref())
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            let out = gpu.download(&gx).unwrap();
            assert_golden(&out, torch, &passed, &format!("{what}: offset {offset}"));
            // Into grad_y's own range, without the weight gradient.
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(&mut encoder, act, &xt, &gt, &gt, None)
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            let out = gpu.download(&gt).unwrap();
            assert_golden(
                &out,
                torch,
                &passed,
                &format!("{what}: into grad_y, offset {offset}"),
            );
        }
        let xt = gpu.upload(x).unwrap().reshape(shape).unwrap();
        let gt = gpu.upload(g).unwrap().reshape(shape).unwrap();
        let out = gpu
            .download(&gpu.backward(act, &xt, &gt).unwrap().input)
            .unwrap();
        assert_golden(&out, torch, &passed, &format!("{what}: backward"));
    });
}

/// Every golden vector of one dtype: ReLU, Leaky ReLU at every slope and
/// PReLU, forward and backward, with PReLU's weight gradient held to the
/// f64 reference as PyTorch's own is.
pub fn check_dtype<T: Element>(gpu: &Gpu, tolerance: f64) {
    let (x, g) = (load::<T>("x"), load::<T>("g"));
    let shape = [x.len()];
    let name = T::NAME;
    forward_every_way(
        gpu,
        &Op::Relu,
        &x,
        &shape,
        &load("relu_forward"),
        &format!("{name} relu"),
    );
    backward_every_way(
        gpu,
        &Op::Relu,
        &x,
        &g,
        &shape,
        &load("relu_backward"),
        &format!("{name} relu backward"),
    );
    for (k, slope) in slopes::<T>().into_iter().enumerate() {
        let op = Op::Leaky(slope);
        let what = format!("{name} leaky {slope:e}");
        forward_every_way(
            gpu,
            &op,
            &x,
            &shape,
            &load(&format!("leaky_forward_{k}")),
            &what,
        );
        let torch = load(&format!("leaky_backward_{k}"));
        backward_every_way(
            gpu,
            &op,
            &x,
            &g,
            &shape,
            &torch,
            &format!("{what} backward"),
        );
    }

    let (shape, px, pg, pw) = prelu_inputs::<T>();
    let op = Op::Prelu {
        weight: pw.clone(),
        axis: 1,
    };
    forward_every_way(
        gpu,
        &op,
        &px,
        &shape,
        &load("prelu_forward"),
        &format!("{name} prelu"),
    );
    backward_every_way(
        gpu,
        &op,
        &px,
        &pg,
        &shape,
        &load("prelu_backward"),
        &format!("{name} prelu backward"),
    );

    let reference = cpu::prelu_weight_grad(&px, &pg, &shape, pw.len(), 1).unwrap();
    let scale = cpu::prelu_weight_grad_magnitude(&px, &pg, &shape, pw.len(), 1).unwrap();
    let torch = load::<T>("prelu_weight_grad");
    crate::common::assert_close(
        &torch,
        &reference,
        &scale,
        tolerance,
        &format!("{name}: PyTorch's weight gradient"),
    );
    let w = gpu.upload(&pw).unwrap();
    let act = Activation::Prelu {
        weight: &w,
        channel_axis: 1,
    };
    let xt = gpu.upload(&px).unwrap().reshape(&shape).unwrap();
    let gt = gpu.upload(&pg).unwrap().reshape(&shape).unwrap();
    let ours = gpu
        .download(&gpu.backward(&act, &xt, &gt).unwrap().weight.unwrap())
        .unwrap();
    crate::common::assert_close(
        &ours,
        &reference,
        &scale,
        tolerance,
        &format!("{name}: weight gradient"),
    );
}
