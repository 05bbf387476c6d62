//! The integer path that recomputes products a device flushed (subnormal
//! results or inputs), forced on with WGPU_RELU_EXACT_PRODUCTS=1: where the
//! device does not flush (lavapipe), every product it recomputes must equal
//! the hardware's and the CPU reference's, bit for bit.

mod common;
#[path = "common/golden.rs"]
mod golden;
#[path = "common/golden_training.rs"]
mod golden_training;
use common::*;

/// PyTorch's bits on every pair of special values hold on the exact path
/// too: products of ±inf and 0, NaN operands, subnormal results.
#[test]
fn exact_path_matches_pytorch_bit_for_bit() {
    golden::check_dtype::<f32>(exact_gpu(), 1e-5);
}

/// The accumulating backward's additions on the exact path: subnormal
/// gradients added to subnormal and zero ones, against PyTorch's bits.
#[test]
fn exact_path_training_forms_match_pytorch_bit_for_bit() {
    golden_training::check_training::<f32>(exact_gpu());
}

/// Forces the exact path before this binary's one Gpu is made.
fn exact_gpu() -> &'static wgpu_relu::Gpu {
    std::env::set_var("WGPU_RELU_EXACT_PRODUCTS", "1");
    let gpu = gpu();
    assert!(
        gpu.exact_products(),
        "WGPU_RELU_EXACT_PRODUCTS=1 must force the exact path"
    );
    gpu
}

/// Values of every magnitude down to the smallest subnormal, both signs,
/// so that many products land in or under the subnormal range, plus
/// zeros, infinities and NaN.
fn tiny_values(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len)
        .map(|_| match rng.below(16) {
            0 => {
                f32::from_bits(rng.below(0x0080_0000) as u32)
                    * if rng.below(2) == 0 { 1.0 } else { -1.0 }
            }
            1 => [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN][rng.below(5) as usize],
            _ => {
                let exponent = rng.below(200) as i32 - 150;
                let mantissa = 1.0 + rng.uniform(1.0).abs();
                let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
                sign * mantissa * 2f32.powi(exponent)
            }
        })
        .collect()
}

#[test]
fn leaky_and_prelu_products_are_exact_down_to_subnormals() {
    let gpu = exact_gpu();
    let mut rng = Rng::new("exact_products");
    let len = 50_003;
    for slope in [
        0.5,
        0.01,
        3.0e-20,
        -7.5e-39,
        1.0e30,
        -1.5,
        f32::from_bits(1),
        0.0,
    ] {
        let x = tiny_values(&mut rng, len);
        let g = tiny_values(&mut rng, len);
        check_forward(gpu, &Op::Leaky(slope), &x, &[len]);
        check_backward(gpu, &Op::Leaky(slope), &x, &g, &[len], 0.0);
    }
    let shape = [7, 13, 557];
    let n = shape.iter().product();
    let weight = tiny_values(&mut rng, 13);
    let (x, g) = (tiny_values(&mut rng, n), tiny_values(&mut rng, n));
    check_forward(
        gpu,
        &Op::Prelu {
            weight: weight.clone(),
            axis: 1,
        },
        &x,
        &shape,
    );
    let finite: Vec<f32> = weight
        .iter()
        .map(|w| if w.is_finite() { *w } else { 0.5 })
        .collect();
    let x: Vec<f32> = x
        .iter()
        .map(|v| if v.is_finite() { *v } else { 1e-30 })
        .collect();
    check_backward(
        gpu,
        &Op::Prelu {
            weight: finite,
            axis: 1,
        },
        &x,
        &g,
        &shape,
        1e-5,
    );
}

#[test]
fn f16_with_subnormal_slopes() {
    let gpu = exact_gpu();
    if !gpu.supports_f16() {
        return; // GL: f16 is checked to be an error in tests/f16.rs
    }
    let mut rng = Rng::new("exact_products_f16");
    let x = rng.values_f16(10_001);
    for slope in [f32::from_bits(3), 1.0e-30, 0.25] {
        check_forward(gpu, &Op::Leaky(slope), &x, &[x.len()]);
    }
}

/// Weight-gradient sums that are themselves subnormal, one term or several:
/// the sums are redone where the device would flush them.
#[test]
fn weight_gradient_keeps_subnormal_sums() {
    let gpu = exact_gpu();
    let mut rng = Rng::new("subnormal_sums");
    let channels = 257;
    for per_channel in [1usize, 2, 3, 64] {
        let (x, g) = tiny_products(&mut rng, channels * per_channel, 60, 30);
        let weight = vec![0.5f32; channels];
        check_backward(
            gpu,
            &Op::Prelu { weight, axis: 1 },
            &x,
            &g,
            &[per_channel, channels],
            1e-5,
        );
    }
    // Every reduction shape, the sums of each partial subnormal.
    for shape in WEIGHT_GRADIENT_SHAPES {
        let (x, g) = tiny_products(&mut rng, shape.iter().product(), 70, 20);
        let weight = vec![0.5f32; shape[1]];
        check_backward(gpu, &Op::Prelu { weight, axis: 1 }, &x, &g, shape, 1e-5);
    }
}

/// `n` negative x of magnitude 2^-(from .. from + spread) and `n` g of
/// either sign and at most that magnitude: products far below the smallest
/// normal, whose sums the device would flush.
fn tiny_products(rng: &mut Rng, n: usize, from: i32, spread: u64) -> (Vec<f32>, Vec<f32>) {
    let scale = |rng: &mut Rng| 2f32.powi(-from - rng.below(spread) as i32);
    let x = (0..n)
        .map(|_| -(1.0 + rng.uniform(1.0).abs()) * scale(rng))
        .collect();
    let g = (0..n).map(|_| rng.uniform(1.0) * scale(rng)).collect();
    (x, g)
}

/// RReLU's slopes on the exact path: subnormal bounds, whose products and
/// sums a flushing device would zero, give the CPU twin's slopes.
#[test]
fn rrelu_slopes_are_exact_down_to_subnormals() {
    let gpu = exact_gpu();
    for (lower, upper) in [(1.0e-40f32, 3.0e-39f32), (0.0, 1.0e-38), (0.125, 1.0 / 3.0)] {
        let act = wgpu_relu::Activation::Rrelu {
            lower,
            upper,
            mode: wgpu_relu::RreluMode::Training {
                seed: 77,
                stream: 1,
            },
        };
        let n = 4099;
        let x = gpu.upload(&vec![-1.0f32; n]).unwrap();
        let y = gpu.download(&gpu.forward(&act, &x).unwrap()).unwrap();
        let seen: Vec<f32> = y.iter().map(|v| -v).collect();
        let twin = wgpu_relu::cpu::rrelu_slopes(0, n, lower, upper, 77, 1).unwrap();
        assert_same(&seen, &twin, &format!("[{lower:e}, {upper:e})"));
    }
}
