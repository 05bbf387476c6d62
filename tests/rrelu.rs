//! RReLU: Philox's known answers on the CPU and the GPU, the slopes bit for
//! bit the CPU twin's and the golden files' at every offset, chunking, path
//! and element type, the backward regenerating the forward's slopes,
//! PyTorch's results, the slopes' distribution, and bad bounds.

mod common;
#[path = "common/golden.rs"]
mod golden;

use common::*;
use golden::{assert_golden, load, load_u32, passed, Direction, OFFSETS};
use wgpu_relu::{cpu, wgpu, Activation, Element, Error, Gpu, GradOut, RreluMode, Saved};

const LOWER: f32 = 1.0 / 8.0;
const UPPER: f32 = 1.0 / 3.0;
// As in scripts/golden.py.
const GOLDEN_SEED: u64 = 0x0123_4567_89AB_CDEF;
const GOLDEN_STREAM: u64 = 42;

fn training(seed: u64, stream: u64) -> Activation<'static, f32> {
    Activation::Rrelu {
        lower: LOWER,
        upper: UPPER,
        mode: RreluMode::Training { seed, stream },
    }
}

/// Random123's kat_vectors for philox4x32 with 10 rounds: counter, key,
/// the four words.
const KNOWN_ANSWERS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    (
        [0; 4],
        [0; 2],
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ),
    (
        [u32::MAX; 4],
        [u32::MAX; 2],
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ),
    (
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ),
];

#[test]
fn philox_gives_random123s_known_answers_on_the_cpu() {
    for (counter, key, words) in KNOWN_ANSWERS {
        assert_eq!(
            cpu::philox4x32_10(counter, key),
            words,
            "{counter:x?} {key:x?}"
        );
    }
}

/// The kernels' own Philox (the WGSL the library compiles, as
/// `wgsl::philox` exports it) in a compute shader, on the known answers.
#[test]
fn philox_gives_random123s_known_answers_on_the_gpu() {
    let gpu = gpu();
    let device = gpu.device();
    let source = format!(
        "{}
        @group(0) @binding(0) var<storage, read_write> data: array<vec4<u32>>;
        @compute @workgroup_size(1)
        fn main(@builtin(workgroup_id) id: vec3<u32>) {{
            let input = data[id.x * 2u];
            let key = data[id.x * 2u + 1u].xy;
            data[id.x * 2u] = wgpu_relu_philox4x32_10(input, key);
        }}",
        wgpu_relu::wgsl::philox()
    );
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("philox known answers"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let mut words = Vec::new();
    for (counter, key, _) in KNOWN_ANSWERS {
        words.extend(counter);
        words.extend([key[0], key[1], 0, 0]);
    }
    let data = gpu
        .upload(&words.iter().map(|&w| f32::from_bits(w)).collect::<Vec<_>>())
        .unwrap();
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: data.buffer().as_entire_binding(),
        }],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(KNOWN_ANSWERS.len() as u32, 1, 1);
    }
    gpu.queue().submit([encoder.finish()]);
    let out: Vec<u32> = gpu
        .download(&data)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    for (k, (_, _, expected)) in KNOWN_ANSWERS.iter().enumerate() {
        assert_eq!(&out[k * 8..k * 8 + 4], expected, "known answer {k}");
    }
}

/// The slopes a tensor of -1s shows: `y = -a` exactly.
fn slopes_seen<T: Element>(
    gpu: &Gpu,
    act: &Activation<'_, T>,
    len: usize,
    offset: usize,
) -> Vec<f32> {
    let x = at_offset(gpu, &vec![T::from_f32(-1.0); len], offset, &[len]);
    let y = gpu.download(&gpu.forward(act, &x).unwrap()).unwrap();
    y.iter().map(|v| -v.to_f32()).collect()
}

/// The slopes of the golden files (Philox and the conversion written again
/// in numpy) are the CPU twin's, and the kernels' on every path and offset.
#[test]
fn slopes_match_the_golden_files_and_the_cpu_twin() {
    let golden: Vec<u32> = load_u32::<f32>("rrelu_slopes");
    let n = golden.len();
    let twin = cpu::rrelu_slopes(0, n, LOWER, UPPER, GOLDEN_SEED, GOLDEN_STREAM).unwrap();
    assert_eq!(
        twin.iter().map(|a| a.to_bits()).collect::<Vec<_>>(),
        golden,
        "cpu twin"
    );
    let act = training(GOLDEN_SEED, GOLDEN_STREAM);
    for offset in OFFSETS {
        let seen = slopes_seen(gpu(), &act, n, offset);
        assert_same(&seen, &twin, &format!("gpu slopes, offset {offset}"));
    }
    // A window of the tensor: the twin from its first index.
    let window = cpu::rrelu_slopes(1001, 37, LOWER, UPPER, GOLDEN_SEED, GOLDEN_STREAM).unwrap();
    assert_same(&window, &twin[1001..1038], "twin window");
}

/// Slopes depend on (seed, stream, element index) only: the same over 1 MiB
/// bindings (several chunks), for f16 (rounded once from the same f32), in
/// place, and in an app's encoder; another stream or seed gives others.
#[test]
fn slopes_depend_only_on_seed_stream_and_index() {
    let len = (1 << 18) + 4093;
    let (seed, stream) = (Rng::new("rrelu_slopes").next_u64(), 9);
    let act = training(seed, stream);
    let twin = cpu::rrelu_slopes(0, len, LOWER, UPPER, seed, stream).unwrap();
    let small = small_bindings_gpu();
    for (gpu, what) in [(gpu(), "default bindings"), (&small, "1 MiB bindings")] {
        for offset in [0, 3] {
            let seen = slopes_seen(gpu, &act, len, offset);
            assert_same(&seen, &twin, &format!("{what}, offset {offset}"));
        }
    }
    let gpu = gpu();
    let x = gpu.upload(&vec![-1.0f32; len]).unwrap();
    gpu.forward_in_place(&act, &x).unwrap();
    let in_place: Vec<f32> = gpu.download(&x).unwrap().iter().map(|v| -v).collect();
    assert_same(&in_place, &twin, "in place");
    if gpu.supports_f16() {
        let act16: Activation<half::f16> = Activation::Rrelu {
            lower: LOWER,
            upper: UPPER,
            mode: RreluMode::Training { seed, stream },
        };
        for offset in [0, 1, 4] {
            let seen = slopes_seen(gpu, &act16, len, offset);
            let expected: Vec<f32> = twin
                .iter()
                .map(|&a| half::f16::from_f32(a).to_f32())
                .collect();
            assert_same(&seen, &expected, &format!("f16, offset {offset}"));
        }
    }
    for other in [training(seed, stream + 1), training(seed ^ 1, stream)] {
        let seen = slopes_seen(gpu, &other, 64, 0);
        let same = seen.iter().zip(&twin).filter(|(a, b)| a == b).count();
        assert!(
            same < 4,
            "another stream or seed repeats {same} of 64 slopes"
        );
    }
}

/// The backward regenerates the forward's slopes: with g = 1 at x = -1 its
/// result is the slope the forward multiplied by; on random data it is the
/// CPU twin's backward at every offset, and adds up as any backward.
#[test]
fn backward_regenerates_the_forwards_slopes() {
    let gpu = gpu();
    let mut rng = Rng::new("rrelu_backward");
    let (seed, stream) = (rng.next_u64(), rng.next_u64());
    let act = training(seed, stream);
    let len = 70_001;
    let forward = slopes_seen(gpu, &act, len, 0);
    let x = gpu.upload(&vec![-1.0f32; len]).unwrap();
    let g = gpu.upload(&vec![1.0f32; len]).unwrap();
    let grads = gpu.backward(&act, &x, &g).unwrap();
    assert_same(
        &gpu.download(&grads.input).unwrap(),
        &forward,
        "backward's slopes",
    );
    assert!(grads.weight.is_none());

    let slopes = cpu::rrelu_slopes(0, len, LOWER, UPPER, seed, stream).unwrap();
    let (xs, gs) = (rng.values(len), rng.values(len));
    let expected = cpu::rrelu_backward_with_slopes(&xs, &gs, &slopes);
    // Where x <= 0 the result is a product, whose NaN may be any NaN.
    let prods: Vec<bool> = xs.iter().map(|&v| v <= 0.0).collect();
    for offset in [0, 1, 4, 9] {
        let xt = at_offset(gpu, &xs, offset, &[len]);
        let gt = at_offset(gpu, &gs, offset, &[len]);
        let gx = at_offset(gpu, &vec![-9.0f32; len], offset, &[len]);
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        gpu.encode_backward(&mut encoder, &act, &xt, &gt, &gx, None)
            .unwrap();
        gpu.queue().submit([encoder.finish()]);
        assert_same_products(
            &gpu.download(&gx).unwrap(),
            &expected,
            &prods,
            &format!("offset {offset}"),
        );
        let y = gpu.download(&gpu.forward(&act, &xt).unwrap()).unwrap();
        let expected_y = cpu::rrelu_with_slopes(&xs, &slopes);
        assert_same_products(
            &y,
            &expected_y,
            &prods,
            &format!("forward, offset {offset}"),
        );
    }
    let acc = gpu.upload(&xs).unwrap();
    let xt = gpu.upload(&xs).unwrap();
    let gt = gpu.upload(&gs).unwrap();
    gpu.backward_into(&act, Saved::Input(&xt), &gt, GradOut::add_to(&acc))
        .unwrap();
    let added = cpu::accumulate(&xs, &expected);
    let nan_ok: Vec<bool> = added.iter().map(|v| v.is_nan()).collect();
    assert_same_products(&gpu.download(&acc).unwrap(), &added, &nan_ok, "accumulated");
}

/// PyTorch's training rule with the library's slopes as its noise
/// (`x <= 0 ? x * a : x`, and `rrelu_with_noise_backward`), and its
/// evaluation mode, on every pair of special values.
#[test]
fn matches_pytorch_bit_for_bit() {
    let gpu = gpu();
    let (x, g) = (load::<f32>("x"), load::<f32>("g"));
    let n = x.len();
    let act = training(GOLDEN_SEED, GOLDEN_STREAM);
    // Training passes x and g where x is not <= 0, ReLU's backward rule.
    let pass_x = passed(&Op::<f32>::Relu, Direction::Backward, &x, &x);
    let pass_g = passed(&Op::<f32>::Relu, Direction::Backward, &x, &g);
    let (torch_y, torch_g) = (load::<f32>("rrelu_forward"), load::<f32>("rrelu_backward"));
    let slopes = cpu::rrelu_slopes(0, n, LOWER, UPPER, GOLDEN_SEED, GOLDEN_STREAM).unwrap();
    assert_golden(
        &cpu::rrelu_with_slopes(&x, &slopes),
        &torch_y,
        &pass_x,
        "cpu forward",
    );
    assert_golden(
        &cpu::rrelu_backward_with_slopes(&x, &g, &slopes),
        &torch_g,
        &pass_g,
        "cpu backward",
    );
    for offset in OFFSETS {
        let xt = at_offset(gpu, &x, offset, &[n]);
        let gt = at_offset(gpu, &g, offset, &[n]);
        let y = gpu.download(&gpu.forward(&act, &xt).unwrap()).unwrap();
        assert_golden(&y, &torch_y, &pass_x, &format!("forward, offset {offset}"));
        let gx = gpu.backward(&act, &xt, &gt).unwrap().input;
        assert_golden(
            &gpu.download(&gx).unwrap(),
            &torch_g,
            &pass_g,
            &format!("backward, offset {offset}"),
        );
    }
    evaluation_matches_pytorch::<f32>(gpu);
    if gpu.supports_f16() {
        evaluation_matches_pytorch::<half::f16>(gpu);
    }
}

/// Evaluation is Leaky ReLU with the mean slope: PyTorch's bits, and the
/// library's own Leaky ReLU's.
fn evaluation_matches_pytorch<T: Element>(gpu: &Gpu) {
    let (x, g) = (load::<T>("x"), load::<T>("g"));
    let eval: Activation<T> = Activation::Rrelu {
        lower: LOWER,
        upper: UPPER,
        mode: RreluMode::Evaluation,
    };
    let mean = ((f64::from(LOWER) + f64::from(UPPER)) / 2.0) as f32;
    let leaky: Activation<T> = Activation::LeakyRelu {
        negative_slope: mean,
    };
    let pass_x = passed(&Op::<T>::Leaky(mean), Direction::Forward, &x, &x);
    let pass_g = passed(&Op::<T>::Leaky(mean), Direction::Backward, &x, &g);
    let xt = gpu.upload(&x).unwrap();
    let gt = gpu.upload(&g).unwrap();
    let y = gpu.download(&gpu.forward(&eval, &xt).unwrap()).unwrap();
    assert_golden(
        &y,
        &load("rrelu_eval_forward"),
        &pass_x,
        &format!("{} eval forward", T::NAME),
    );
    assert_same(
        &y,
        &gpu.download(&gpu.forward(&leaky, &xt).unwrap()).unwrap(),
        "eval = leaky",
    );
    let gx = gpu
        .download(&gpu.backward(&eval, &xt, &gt).unwrap().input)
        .unwrap();
    assert_golden(
        &gx,
        &load("rrelu_eval_backward"),
        &pass_g,
        &format!("{} eval backward", T::NAME),
    );
}

/// Over 2^21 draws from a seed drawn afresh each run: the mean, the
/// variance and the Kolmogorov–Smirnov distance to U(lower, upper), and
/// the correlation of neighbours, each within bounds that a correct
/// generator exceeds with probability below 1e-6 (five standard errors for
/// the moments and the correlation, 5.7e-7 each; the KS bound at
/// α = 1e-6, sqrt(ln(2 / α) / 2) / sqrt(n)).
#[test]
fn slopes_are_uniform_in_the_interval() {
    let n = 1usize << 21;
    let seed = Rng::new("rrelu_statistics").next_u64();
    let mut slopes = slopes_seen(gpu(), &training(seed, 3), n, 0);
    let (a, b) = (f64::from(LOWER), f64::from(UPPER));
    let nf = n as f64;
    assert!(
        slopes.iter().all(|s| (LOWER..UPPER).contains(s)),
        "a slope outside [lower, upper)"
    );
    let mean = slopes.iter().map(|&s| f64::from(s)).sum::<f64>() / nf;
    let var = slopes
        .iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / nf;
    let width = b - a;
    let (mean_0, var_0) = ((a + b) / 2.0, width * width / 12.0);
    let mean_se = (var_0 / nf).sqrt();
    // The variance of the sample variance of a uniform: (μ4 - σ⁴) / n.
    let var_se = (width.powi(4) / 80.0 - var_0 * var_0).sqrt() / nf.sqrt();
    assert!(
        (mean - mean_0).abs() < 5.0 * mean_se,
        "mean {mean} vs {mean_0} (se {mean_se:e})"
    );
    assert!(
        (var - var_0).abs() < 5.0 * var_se,
        "variance {var} vs {var_0} (se {var_se:e})"
    );
    let lag1 = slopes
        .windows(2)
        .map(|w| (f64::from(w[0]) - mean) * (f64::from(w[1]) - mean))
        .sum::<f64>()
        / (nf - 1.0)
        / var;
    assert!(lag1.abs() < 5.0 / nf.sqrt(), "neighbours correlate: {lag1}");
    slopes.sort_by(f32::total_cmp);
    let ks = slopes
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let f = (f64::from(s) - a) / width;
            (f - i as f64 / nf)
                .abs()
                .max(((i + 1) as f64 / nf - f).abs())
        })
        .fold(0.0, f64::max);
    let bound = ((2.0f64 / 1e-6).ln() / 2.0).sqrt() / nf.sqrt();
    assert!(ks < bound, "Kolmogorov-Smirnov distance {ks} over {bound}");
}

/// Bad bounds are errors everywhere; training refuses to go back from a
/// mask or the output (evaluation follows Leaky ReLU's rules).
#[test]
fn bad_bounds_and_saved_forms_are_errors() {
    let gpu = gpu();
    let x = gpu.upload(&[-1.0f32, 2.0, -3.0]).unwrap();
    for (lower, upper) in [
        (0.5, 0.25),
        (f32::NAN, 0.5),
        (0.0, f32::INFINITY),
        (-3e38, 3e38),
    ] {
        let act = Activation::Rrelu {
            lower,
            upper,
            mode: RreluMode::Training { seed: 1, stream: 0 },
        };
        let r = gpu.forward(&act, &x);
        assert!(
            matches!(r, Err(Error::InvalidBounds { .. })),
            "[{lower}, {upper}): {r:?}"
        );
        let r = gpu.backward(&act, &x, &x);
        assert!(
            matches!(r, Err(Error::InvalidBounds { .. })),
            "[{lower}, {upper}): {r:?}"
        );
        let eval = Activation::Rrelu {
            lower,
            upper,
            mode: RreluMode::Evaluation,
        };
        assert!(matches!(
            gpu.forward(&eval, &x),
            Err(Error::InvalidBounds { .. })
        ));
        assert!(cpu::rrelu_slopes(0, 4, lower, upper, 1, 0).is_err());
    }
    let act = training(1, 2);
    let (y, mask) = gpu.forward_with_mask(&Activation::Relu, &x).unwrap();
    for r in [
        gpu.forward_with_mask(&act, &x).map(drop),
        gpu.backward_from(&act, Saved::Output(&y), &x).map(drop),
        gpu.backward_from(&act, Saved::Mask(&mask), &x).map(drop),
    ] {
        assert!(matches!(r, Err(Error::NeedsInput(_))), "{r:?}");
    }
    // Evaluation goes back from the output and from its mask, as Leaky.
    let eval = Activation::Rrelu {
        lower: LOWER,
        upper: UPPER,
        mode: RreluMode::Evaluation,
    };
    let (y, mask) = gpu.forward_with_mask(&eval, &x).unwrap();
    let g = gpu.upload(&[1.0f32; 3]).unwrap();
    let from_x = gpu
        .download(&gpu.backward(&eval, &x, &g).unwrap().input)
        .unwrap();
    for saved in [Saved::Output(&y), Saved::Mask(&mask)] {
        let r = gpu.backward_from(&eval, saved, &g).unwrap();
        assert_same(&gpu.download(&r.input).unwrap(), &from_x, "evaluation");
    }
    // The Gpu carries on.
    assert_eq!(slopes_seen(gpu, &training(5, 5), 4, 0).len(), 4);
}

/// f16 on random data with every edge value, forward and backward, at the
/// vec4 and scalar offsets: the CPU twin's bits (each product with the f32
/// slope rounded once to f16).
#[test]
fn f16_matches_the_cpu_twin() {
    let gpu = gpu();
    if !gpu.supports_f16() {
        assert!(matches!(
            gpu.empty::<half::f16>(&[1]),
            Err(Error::MissingFeature { .. })
        ));
        return;
    }
    let mut rng = Rng::new("rrelu_f16");
    let (seed, stream) = (rng.next_u64(), rng.next_u64());
    let act: Activation<half::f16> = Activation::Rrelu {
        lower: LOWER,
        upper: UPPER,
        mode: RreluMode::Training { seed, stream },
    };
    let len = 10_007;
    let (x, g) = (rng.values_f16(len), rng.values_f16(len));
    let slopes = cpu::rrelu_slopes(0, len, LOWER, UPPER, seed, stream).unwrap();
    let prods: Vec<bool> = x.iter().map(|v| v.to_f32() <= 0.0).collect();
    for offset in [0, 1, 4] {
        let xt = at_offset(gpu, &x, offset, &[len]);
        let gt = at_offset(gpu, &g, offset, &[len]);
        let y = gpu.download(&gpu.forward(&act, &xt).unwrap()).unwrap();
        assert_same_products(
            &y,
            &cpu::rrelu_with_slopes(&x, &slopes),
            &prods,
            &format!("forward, offset {offset}"),
        );
        let gx = gpu
            .download(&gpu.backward(&act, &xt, &gt).unwrap().input)
            .unwrap();
        let expected = cpu::rrelu_backward_with_slopes(&x, &g, &slopes);
        assert_same_products(
            &gx,
            &expected,
            &prods,
            &format!("backward, offset {offset}"),
        );
    }
    // Input and output at one offset: on a CPU adapter, at a multiple of
    // four but not of eight, the word kernels start four halves in, each of
    // their vec4s on a Philox call of its own; at 2 (mod 4) they would
    // straddle two, and the vec4<f16> kernels run instead.
    for offset in [2, 4, 12] {
        let xt = at_offset(gpu, &x, offset, &[len]);
        gpu.forward_in_place(&act, &xt).unwrap();
        assert_same_products(
            &gpu.download(&xt).unwrap(),
            &cpu::rrelu_with_slopes(&x, &slopes),
            &prods,
            &format!("forward in place, offset {offset}"),
        );
        let (xt, gt) = (
            at_offset(gpu, &x, offset, &[len]),
            at_offset(gpu, &g, offset, &[len]),
        );
        let out = at_offset(gpu, &vec![half::f16::ZERO; len], offset, &[len]);
        gpu.backward_into(&act, Saved::Input(&xt), &gt, GradOut::write(&out))
            .unwrap();
        assert_same_products(
            &gpu.download(&out).unwrap(),
            &cpu::rrelu_backward_with_slopes(&x, &g, &slopes),
            &prods,
            &format!("backward into an output, offset {offset}"),
        );
    }
}
