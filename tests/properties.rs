//! Property tests: random shapes (rank 1 to 5), channel axes, shared or
//! per-channel weights, slopes of every sign and size, odd lengths; every
//! op on every draw against the CPU reference. proptest draws fresh cases
//! each run.

mod common;
use common::*;
use proptest::prelude::*;

fn shape_and_axis() -> impl Strategy<Value = (Vec<usize>, usize)> {
    prop::collection::vec(1usize..12, 1..=5).prop_flat_map(|shape| {
        let rank = shape.len();
        (Just(shape), 0..rank)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_op_matches_the_reference(
        (shape, axis) in shape_and_axis(),
        shared in any::<bool>(),
        slope in prop_oneof![Just(0.0f32), Just(0.01), -4.0f32..4.0, 1.0f32..100.0],
        seed in any::<u64>(),
    ) {
        let mut rng = common::Rng::from_seed(seed);
        let len: usize = shape.iter().product();
        let x = rng.values(len);
        let g = rng.values(len);
        let gpu = gpu();
        check_forward(gpu, &Op::Relu, &x, &shape);
        check_backward(gpu, &Op::Relu, &x, &g, &shape, 0.0);
        check_forward(gpu, &Op::Leaky(slope), &x, &shape);
        check_backward(gpu, &Op::Leaky(slope), &x, &g, &shape, 0.0);
        let weight = rng.values(if shared { 1 } else { shape[axis] });
        check_forward(gpu, &Op::Prelu { weight: weight.clone(), axis }, &x, &shape);
        let finite_x: Vec<f32> = x.iter().map(|v| if v.is_finite() { *v } else { 0.5 }).collect();
        let finite_w: Vec<f32> = weight.iter().map(|v| if v.is_finite() { *v } else { 0.5 }).collect();
        let finite_g: Vec<f32> = g.iter().map(|v| if v.is_finite() { *v } else { -0.5 }).collect();
        check_backward(gpu, &Op::Prelu { weight: finite_w, axis }, &finite_x, &finite_g, &shape, 1e-5);
    }
}
