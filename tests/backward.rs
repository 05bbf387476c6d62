//! Every backward op against the CPU reference, and PReLU's weight
//! gradient: accuracy against f64, and bit-identity from run to run.

mod common;
use common::*;
use wgpu_relu::{cpu, Activation};

#[test]
fn relu_and_leaky_backward_match_reference() {
    let mut rng = Rng::new("backward");
    for len in [0usize, 1, 3, 4, 5, 1023, 1757, 65535 * 64 + 1] {
        let (x, g) = (rng.values(len), rng.values(len));
        check_backward(gpu(), &Op::Relu, &x, &g, &[len], 0.0);
        for slope in [0.01, 0.0, -0.5, 2.5] {
            check_backward(gpu(), &Op::Leaky(slope), &x, &g, &[len], 0.0);
        }
    }
    let x = edge_values();
    let mut g = edge_values();
    g.rotate_left(5);
    check_backward(gpu(), &Op::Relu, &x, &g, &[x.len()], 0.0);
    check_backward(gpu(), &Op::Leaky(0.2), &x, &g, &[x.len()], 0.0);
}

#[test]
fn relu_backward_is_zero_at_zero_and_leaky_backward_is_the_slope() {
    let x = gpu().upload(&[0.0f32, -0.0, 1.0, -1.0, f32::NAN]).unwrap();
    let g = gpu().upload(&[3.0f32; 5]).unwrap();
    let relu = gpu().backward(&Activation::Relu, &x, &g).unwrap();
    // PyTorch's `x <= 0 ? 0 : g`: NaN <= 0 is false, so g passes.
    assert_eq!(
        gpu().download(&relu.input).unwrap(),
        vec![0.0, 0.0, 3.0, 0.0, 3.0]
    );
    let leaky = gpu()
        .backward(
            &Activation::LeakyRelu {
                negative_slope: 0.5,
            },
            &x,
            &g,
        )
        .unwrap();
    let leaky = gpu().download(&leaky.input).unwrap();
    assert_eq!(&leaky[..4], &[1.5, 1.5, 3.0, 1.5]);
    assert_eq!(leaky[4], 1.5, "NaN > 0 is false: the slope applies");
}

/// Channel counts 1, 3, 64 and 1000; NCHW (long channel runs, the rows
/// kernel), channels-last (stride 1, the columns kernel), short runs.
#[test]
fn prelu_backward_matches_reference_in_every_layout() {
    let mut rng = Rng::new("prelu_backward");
    let cases: [(&[usize], usize, bool); 14] = [
        (&[2, 3, 40, 50], 1, false),
        (&[2, 3, 40, 50], 1, true),
        (&[1, 64, 64, 64], 1, false),
        (&[8, 9, 1000], 2, false),
        (&[2, 1000, 7], 1, false),
        (&[300, 64], 1, false),
        (&[1000], 0, false),
        (&[7], 0, true),
        (&[3, 5, 4, 3], 3, false),
        (&[2, 3, 5000], 1, false),
        (&[2, 3, 4097], 1, false),
        (&[0, 3], 1, false),
        // Fewer than four elements, one weight each: the tensor is its
        // partial last vec4.
        (&[3], 0, false),
        (&[2, 3], 1, false),
    ];
    for (shape, axis, shared) in cases {
        let len = shape.iter().product();
        let weight = rng.values(if shared { 1 } else { shape[axis] });
        let (x, g) = (finite(&mut rng, len), finite(&mut rng, len));
        check_backward(gpu(), &Op::Prelu { weight, axis }, &x, &g, shape, 1e-5);
    }
}

/// Every shape of the weight-gradient reduction (see
/// `WEIGHT_GRADIENT_SHAPES`) against the reference.
#[test]
fn prelu_weight_gradient_matches_reference_in_every_reduction() {
    let mut rng = Rng::new("weight_gradient_reductions");
    for shape in WEIGHT_GRADIENT_SHAPES {
        let len = shape.iter().product();
        let weight = rng.values(shape[1]);
        let (x, g) = (finite(&mut rng, len), finite(&mut rng, len));
        check_backward(gpu(), &Op::Prelu { weight, axis: 1 }, &x, &g, shape, 1e-5);
    }
}

/// The columns walk (channels-last) over 1 MiB bindings: rows of 5,000
/// vec4s, whose blocks fit a binding twelve rows at a time, not sixteen;
/// and rows of 255 vec4s (3 channels), whose last invocation on a software
/// rasteriser takes one column where the others take two, the tensor's
/// partial last vec4 in it.
#[test]
fn prelu_backward_over_small_bindings() {
    let small = small_bindings_gpu();
    let mut rng = Rng::new("prelu_backward_small_bindings");
    let shapes: [&[usize]; 2] = [&[60, 20_000], &[4419, 3]];
    for shape in shapes {
        let len = shape.iter().product();
        let weight = rng.values(shape[1]);
        let (x, g) = (finite(&mut rng, len), finite(&mut rng, len));
        check_backward(&small, &Op::Prelu { weight, axis: 1 }, &x, &g, shape, 1e-5);
    }
}

/// NaN and infinities reach the weight gradient exactly as in the reference.
#[test]
fn prelu_backward_edge_values() {
    let x = edge_values();
    let mut g = edge_values();
    g.rotate_left(3);
    let weight = vec![0.25f32, -2.0];
    check_backward(
        gpu(),
        &Op::Prelu { weight, axis: 1 },
        &x,
        &g,
        &[x.len() / 2, 2],
        1e-5,
    );
    let weight = vec![f32::NAN, f32::INFINITY, 0.5];
    let x: Vec<f32> = (0..30).map(|i| i as f32 - 15.0).collect();
    check_backward(
        gpu(),
        &Op::Prelu { weight, axis: 0 },
        &x,
        &x,
        &[3, 10],
        1e-5,
    );
}

/// 16M elements, both layouts, channel counts 1, 3, 64 and 1000: within
/// 1e-5 · Σ|x·g| of f64, and bit-identical over 20 runs (64 channels) or 3 (the rest).
#[test]
fn prelu_weight_gradient_is_accurate_and_deterministic_at_16m() {
    let mut rng = Rng::new("weight_gradient_16m");
    let len = 1 << 24;
    let x = finite(&mut rng, len);
    let g = finite(&mut rng, len);
    for (channels, channels_last) in [
        (1, false),
        (3, false),
        (64, false),
        (1000, false),
        (3, true),
        (64, true),
        (1000, true),
    ] {
        let rest = len / channels;
        let (shape, axis) = if channels_last {
            (vec![rest, channels], 1)
        } else {
            (vec![1, channels, rest], 1)
        };
        let shape_len = shape.iter().product::<usize>();
        let (x, g) = (&x[..shape_len], &g[..shape_len]);
        let xs = gpu().upload(x).unwrap().reshape(&shape).unwrap();
        let gs = gpu().upload(g).unwrap().reshape(&shape).unwrap();
        let weight = gpu().upload(&rng.values(channels)).unwrap();
        let act = Activation::Prelu {
            weight: &weight,
            channel_axis: axis,
        };
        let weight_grad = || {
            let grads = gpu().backward(&act, &xs, &gs).unwrap();
            gpu().download(grads.weight.as_ref().unwrap()).unwrap()
        };
        let first = weight_grad();
        let reference = cpu::prelu_weight_grad(x, g, &shape, channels, axis).unwrap();
        let scale = cpu::prelu_weight_grad_magnitude(x, g, &shape, channels, axis).unwrap();
        let what = format!("{channels} channels, channels_last={channels_last}");
        assert_close(&first, &reference, &scale, 1e-5, &what);
        // 20 runs where the two kernels are at their busiest, 3 elsewhere.
        let runs = if channels == 64 { 20 } else { 3 };
        for run in 1..runs {
            let again = weight_grad();
            let same = first
                .iter()
                .zip(&again)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{what}: run {run} differs from run 0");
        }
    }
}

fn finite(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.uniform(2.0)).collect()
}

/// The weight gradient's bits depend on the values and the shape alone:
/// the same tensors at every offset phase (vec4 loads where all are on
/// multiples of four elements, scalar loads elsewhere) give the same bits.
#[test]
fn weight_gradient_bits_do_not_depend_on_where_the_tensors_sit() {
    let mut rng = Rng::new("weight_gradient_offsets");
    let extra: [&[usize]; 2] = [&[2, 3, 128, 128], &[1, 1, 40000]];
    for shape in WEIGHT_GRADIENT_SHAPES.iter().chain(&extra) {
        let n: usize = shape.iter().product();
        let c = shape[1];
        let x: Vec<f32> = (0..n).map(|_| rng.uniform(4.0)).collect();
        let g: Vec<f32> = (0..n).map(|_| rng.uniform(4.0)).collect();
        let w = gpu()
            .upload(&(0..c).map(|_| rng.uniform(1.0)).collect::<Vec<f32>>())
            .unwrap();
        let act = Activation::Prelu {
            weight: &w,
            channel_axis: 1,
        };
        let mut first: Option<(usize, usize, Vec<u32>)> = None;
        for (x_off, g_off) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (5, 0),
            (0, 7),
            (64, 67),
        ] {
            let xt = at_offset(gpu(), &x, x_off, shape);
            let gt = at_offset(gpu(), &g, g_off, shape);
            let gx = gpu().empty::<f32>(shape).unwrap();
            let gw = gpu().empty::<f32>(&[c]).unwrap();
            let mut encoder = gpu().device().create_command_encoder(&Default::default());
            gpu()
                .encode_backward(&mut encoder, &act, &xt, &gt, &gx, Some(&gw))
                .unwrap();
            gpu().queue().submit([encoder.finish()]);
            let bits: Vec<u32> = gpu()
                .download(&gw)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            match &first {
                None => first = Some((x_off, g_off, bits)),
                Some((x0, g0, expected)) => assert_eq!(
                    &bits, expected,
                    "{shape:?}: x at {x_off}, g at {g_off} against x at {x0}, g at {g0}"
                ),
            }
        }
    }
}
