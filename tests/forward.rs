//! Every forward op against the CPU reference: random inputs (fresh each
//! run), every edge value, odd lengths, several layouts.

mod common;
use common::*;

const LENGTHS: [usize; 9] = [0, 1, 3, 4, 5, 1023, 1757, 4096, 65535 * 64 + 1];
const SLOPES: [f32; 6] = [0.01, 0.0, -0.5, 2.5, 1.0, -1e-3];

#[test]
fn relu_matches_reference_at_every_length() {
    let mut rng = Rng::new("relu");
    for len in LENGTHS {
        check_forward(gpu(), &Op::Relu, &rng.values(len), &[len]);
    }
}

#[test]
fn relu_edge_values() {
    let x = edge_values();
    check_forward(gpu(), &Op::Relu, &x, &[x.len()]);
    let y = gpu()
        .forward(&wgpu_relu::Activation::Relu, &gpu().upload(&x).unwrap())
        .unwrap();
    let y = gpu().download(&y).unwrap();
    assert!(y[0].is_nan(), "NaN stays NaN");
    assert_eq!(y[3], f32::INFINITY, "+inf stays +inf");
    assert_eq!(y[4], 0.0, "-inf gives 0");
    assert_eq!(y[9].to_bits(), 1, "a positive subnormal survives");
    assert_eq!(y[10], 0.0, "a negative subnormal gives 0");
}

#[test]
fn leaky_relu_matches_reference_for_every_slope() {
    let mut rng = Rng::new("leaky");
    for slope in SLOPES {
        for len in [1, 5, 1757, 100_003] {
            check_forward(gpu(), &Op::Leaky(slope), &rng.values(len), &[len]);
        }
        let x = edge_values();
        check_forward(gpu(), &Op::Leaky(slope), &x, &[x.len()]);
    }
}

/// NCHW (axis 1), channels-last (last axis), a shared weight, rank 1 and
/// rank 5, channel counts 1, 3, 64, 1000; and a layout for each way the
/// vec4 kernel fetches weights (one per element, one per vec4, once per
/// invocation, both).
#[test]
fn prelu_matches_reference_for_every_layout() {
    let mut rng = Rng::new("prelu");
    let cases: [(&[usize], usize, bool); 13] = [
        // Runs of 4: one weight per vec4, the pattern repeating every
        // 64 elements: loaded once per invocation.
        (&[100, 16, 4], 1, false),
        // Channels-last with 256 channels: repeating, four weights per vec4.
        (&[9, 256], 1, false),
        // Runs of 8, period 96: one weight per vec4, no repeat.
        (&[70, 12, 8], 1, false),
        // Runs of 6: vec4s straddle channels, four weights each.
        (&[50, 7, 6], 1, false),
        (&[2, 3, 17, 19], 1, false),
        (&[2, 3, 17, 19], 1, true),
        (&[4, 7, 9, 64], 3, false),
        (&[1000], 0, false),
        (&[5, 1000], 1, false),
        (&[3, 64, 33], 1, false),
        (&[2, 1, 3, 4, 5], 2, false),
        (&[1, 2, 4096], 1, false),
        (&[0, 3, 4], 1, false),
    ];
    for (shape, axis, shared) in cases {
        let len = shape.iter().product();
        let channels = if shared { 1 } else { shape[axis] };
        let weight = rng.values(channels);
        check_forward(gpu(), &Op::Prelu { weight, axis }, &rng.values(len), shape);
    }
}

/// 20,000,000 elements: past what a naive 1-D dispatch reaches.
#[test]
fn twenty_million_elements() {
    let mut rng = Rng::new("twenty_million");
    let x = rng.values(20_000_000);
    check_forward(gpu(), &Op::Relu, &x, &[x.len()]);
    let weight = rng.values(5);
    check_forward(
        gpu(),
        &Op::Prelu { weight, axis: 1 },
        &x,
        &[2, 5, 2_000_000],
    );
}

/// The layouts whose vec4 kernels step the channel from item to item:
/// runs at least an invocation's step (1,024 elements) long, of fours and
/// not, exactly one step; runs shorter than a step and not of fours (a
/// step then divides once); runs that end inside a vec4; over 1 MiB
/// bindings (chunks that start mid-run); f16; forward and the input
/// gradient alone.
#[test]
fn prelu_layouts_that_step_the_channel() {
    let small = small_bindings_gpu();
    let mut rng = Rng::new("prelu_step");
    for (gpu, shapes) in [
        (
            gpu(),
            vec![
                vec![3, 5, 1027],
                vec![4, 3, 1024],
                vec![2, 7, 4099],
                vec![1, 2, 5000],
                // Short runs, seven and five vec4s an invocation.
                vec![5, 3, 81],
                vec![7, 3, 58],
                // Runs of 33 in a batch (and of 49 below): the runs walk
                // without the weight gradient, columns with it.
                vec![10, 3, 33],
                // Runs shorter than a step and not of fours: a step divides.
                vec![30, 512, 7, 7],
                vec![9, 5, 13],
                vec![64, 3, 5],
                // Channels-last with channels not dividing 1,024: every
                // element its own run (the channel axis last below).
                vec![1001, 3],
                vec![77, 37],
                // Rows of seven steps of 257 vec4s, eight workgroups of
                // 232; rows of 131 vec4s, one workgroup.
                vec![40, 257],
                vec![150, 131],
                vec![30, 7, 7, 5],
                // Channels-last counts that are not a period apart on a
                // CPU adapter: the walk (132, 12, 48, 6, 255, 7, 28, 24,
                // 20, and above 3, 37 and 5), the items WG apart (1,024),
                // and the engine's table in lines (256, 16).
                vec![77, 256],
                vec![45, 1024],
                vec![61, 132],
                vec![1001, 12],
                vec![333, 48],
                vec![45, 6],
                vec![33, 255],
                vec![301, 16],
                vec![999, 7],
                vec![257, 28],
                vec![513, 24],
                vec![601, 20],
                // Items in lines of 64 vec4s, the table's period dividing
                // them: 64 and 128 channels, the last line partial.
                vec![333, 64],
                vec![129, 128],
                // 512 channels: a period of two lines, two sets held;
                // odd rows, so that the last invocation's lines are
                // partial.
                vec![67, 512],
            ],
        ),
        (
            &small,
            vec![
                vec![2, 3, 100_003],
                vec![3, 2, 65_536 + 4],
                vec![200, 7, 1001],
                vec![300_001, 3],
                // Channels-last over chunks that start mid-period.
                vec![2001, 132],
                vec![300, 1024],
                vec![22_001, 12],
                vec![50_001, 6],
                vec![40_001, 7],
                // Items in lines over chunks (512: two sets held).
                vec![5001, 64],
                vec![2001, 256],
                vec![1001, 512],
            ],
        ),
    ] {
        for shape in shapes {
            let len: usize = shape.iter().product();
            // Channels-last for the two-axis shapes and [30, 7, 7, 5].
            let axis = match shape.len() {
                2 => 1,
                4 if shape[3] == 5 => 3,
                _ => 1,
            };
            let op = Op::Prelu {
                weight: (0..shape[axis]).map(|_| rng.uniform(1.0)).collect(),
                axis,
            };
            let (x, g) = (rng.values(len), rng.values(len));
            check_forward(gpu, &op, &x, &shape);
            check_backward(gpu, &op, &x, &g, &shape, 1e-5);
            if gpu.supports_f16() {
                let op16 = Op::Prelu {
                    weight: (0..shape[axis])
                        .map(|_| half::f16::from_f32(rng.uniform(1.0)))
                        .collect(),
                    axis,
                };
                check_forward(gpu, &op16, &rng.values_f16(len), &shape);
            }
        }
    }
}
