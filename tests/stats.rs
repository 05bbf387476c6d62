//! Dead-unit statistics: the counts of a watched forward against the CPU
//! for every family and layout class, at every offset class, in place and
//! with the mask; a monitor's totals over many batches, its dead channels
//! and its reset; over several bindings and past the grid's limit; in an
//! app's pass; and every bad input an `Error`.

mod common;
use common::*;
use wgpu_relu::{
    cpu, wgpu, Activation, ActivityMonitor, Element, Error, ForwardOut, Gpu, GpuOptions, RreluMode,
    Tensor,
};

/// (shape, channel axis): every count kernel's class, odd sizes, runs
/// that cross blocks, and rank 1.
const LAYOUTS: [(&[usize], usize); 16] = [
    (&[2, 5, 3136], 1),   // runs (NCHW 56 x 56)
    (&[3, 7, 49], 1),     // runs of 49
    (&[4, 3, 33], 1),     // the shortest runs the run kernel takes, odd
    (&[1, 2, 20001], 1),  // one image, runs past a block
    (&[37, 300], 0),      // a dense layer along axis 0
    (&[300, 64], 1),      // channels-last, 64 | 1024
    (&[21, 1024], 1),     // a dense layer of 1024 units
    (&[3, 4, 16, 16], 1), // NCHW whose period is 1024
    (&[333, 2, 2], 1),    // period 4, runs of 2
    (&[40, 8, 4], 1),     // period 32, runs of 4
    (&[777, 1], 1),       // one channel
    (&[300, 3], 1),       // channels-last, 3
    (&[200, 37], 1),      // channels-last, 37
    (&[100, 7, 5], 1),    // short odd runs
    (&[3, 5000], 1),      // a dense layer of 5000 units
    (&[4999], 0),         // rank 1: every element its own channel
];

/// Element offsets: the vec4 (and f16 word) path, the scalar path.
const OFFSETS: [usize; 4] = [0, 1, 3, 4];

/// How one watched forward writes: out of place, in place, with the mask.
#[derive(Clone, Copy, Debug)]
enum Form {
    OutOfPlace,
    InPlace,
    WithMask,
}

/// The families, PReLU with a weight per channel of `shape`'s axis.
fn each_family<T: Element>(
    gpu: &Gpu,
    shape: &[usize],
    axis: usize,
    f: impl Fn(&Activation<'_, T>),
) {
    let channels = shape[axis];
    let weight: Vec<T> = (0..channels)
        .map(|c| T::from_f32(0.25 - c as f32 / 8.0))
        .collect();
    let w = gpu.upload(&weight).unwrap();
    for act in [
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: 0.01,
        },
        Activation::LeakyRelu {
            negative_slope: -0.5,
        },
        Activation::Prelu {
            weight: &w,
            channel_axis: axis,
        },
        Activation::Rrelu {
            lower: 0.125,
            upper: 1.0 / 3.0,
            mode: RreluMode::Training { seed: 7, stream: 1 },
        },
        Activation::Rrelu {
            lower: 0.125,
            upper: 1.0 / 3.0,
            mode: RreluMode::Evaluation,
        },
    ] {
        f(&act);
    }
}

/// Whether the activation's forward can write a mask.
fn has_mask<T: Element>(act: &Activation<'_, T>) -> bool {
    matches!(act, Activation::Relu | Activation::LeakyRelu { .. })
}

/// Every layout, family, offset and form: one forward's counts equal the
/// CPU's, the elements seen are the tensor's per channel, and y is the
/// plain forward's, bit for bit.
fn counts_match_the_reference<T: Element>(values: impl Fn(&mut Rng, usize) -> Vec<T>) {
    let gpu = gpu();
    let mut rng = Rng::new(&format!("counts_match_the_reference_{}", T::NAME));
    for (shape, axis) in LAYOUTS {
        let len: usize = shape.iter().product();
        let x = values(&mut rng, len);
        let expected = cpu::active_counts(&x, shape, axis).unwrap();
        each_family::<T>(gpu, shape, axis, |act| {
            let plain = gpu
                .download(
                    &gpu.forward(act, &gpu.upload(&x).unwrap().reshape(shape).unwrap())
                        .unwrap(),
                )
                .unwrap();
            for (i, offset) in OFFSETS.into_iter().enumerate() {
                let form = match i % 3 {
                    0 => Form::OutOfPlace,
                    1 => Form::InPlace,
                    _ if has_mask(act) => Form::WithMask,
                    _ => Form::OutOfPlace,
                };
                let what = format!(
                    "{} {shape:?} axis {axis} offset {offset} {form:?}",
                    act.name()
                );
                let monitor = gpu.activity_monitor(shape[axis], axis).unwrap();
                let xt = at_offset(gpu, &x, offset, shape);
                let y = match form {
                    Form::OutOfPlace => {
                        let y: Tensor<T> = poisoned(gpu, shape);
                        gpu.forward_into(act, &xt, ForwardOut::write(&y).with_stats(&monitor))
                            .unwrap();
                        y
                    }
                    Form::InPlace => {
                        gpu.forward_into(act, &xt, ForwardOut::write(&xt).with_stats(&monitor))
                            .unwrap();
                        xt.clone()
                    }
                    Form::WithMask => {
                        let y: Tensor<T> = poisoned(gpu, shape);
                        let mask = gpu.empty_mask(len).unwrap();
                        let out = ForwardOut::write(&y).with_mask(&mask).with_stats(&monitor);
                        gpu.forward_into(act, &xt, out).unwrap();
                        let (_, plain_mask) = gpu.forward_with_mask(act, &xt).unwrap();
                        assert_eq!(
                            gpu.download_mask(&mask).unwrap(),
                            gpu.download_mask(&plain_mask).unwrap(),
                            "{what}: mask"
                        );
                        y
                    }
                };
                let stats = gpu.read_activity(&monitor).unwrap();
                assert_eq!(stats.active, expected, "{what}: counts");
                assert_eq!(stats.seen, (len / shape[axis]) as u64, "{what}: seen");
                assert_same_products(&gpu.download(&y).unwrap(), &plain, &vec![true; len], &what);
            }
        });
    }
}

#[test]
fn f32_counts_match_the_reference() {
    counts_match_the_reference::<f32>(|rng, n| rng.values(n));
}

#[test]
fn f16_counts_match_the_reference() {
    let gpu = gpu();
    if !gpu.supports_f16() {
        let r = gpu.activity_monitor(4, 0).and_then(|m| {
            gpu.forward_with_stats(&Activation::Relu, &gpu.empty::<half::f16>(&[4])?, &m)
        });
        assert!(matches!(r, Err(Error::MissingFeature { .. })), "{r:?}");
        return;
    }
    counts_match_the_reference::<half::f16>(|rng, n| rng.values_f16(n));
}

/// The edge values one by one: NaN, ±0, −inf and the negative subnormals
/// are never active; +inf and the positive subnormals are.
#[test]
fn special_values_count_as_the_reference_says() {
    let gpu = gpu();
    let x = edge_values();
    let expected = cpu::active_counts(&x, &[x.len()], 0).unwrap();
    assert_eq!(
        expected.iter().sum::<u64>(),
        x.iter().filter(|v| **v > 0.0).count() as u64
    );
    for offset in OFFSETS {
        each_family::<f32>(gpu, &[x.len()], 0, |act| {
            let monitor = gpu.activity_monitor(x.len(), 0).unwrap();
            let xt = at_offset(gpu, &x, offset, &[x.len()]);
            gpu.forward_with_stats(act, &xt, &monitor).unwrap();
            let stats = gpu.read_activity(&monitor).unwrap();
            assert_eq!(stats.active, expected, "{} offset {offset}", act.name());
        });
    }
}

/// Twenty batches recorded into one encoder add up to the CPU's sums; the
/// channels that never see a positive value are the dead ones; a reset
/// zeroes everything, and counting starts again after it.
#[test]
fn monitor_adds_batches_until_reset() {
    let gpu = gpu();
    let mut rng = Rng::new("monitor_adds_batches_until_reset");
    let shape = [8, 16, 7, 9];
    let dead = [3usize, 11];
    let len: usize = shape.iter().product();
    let monitor = gpu.activity_monitor(16, 1).unwrap();
    let mut totals = vec![0u64; 16];
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let mut keep = Vec::new();
    for batch in 0..20 {
        let mut x = rng.values(len);
        for (i, v) in x.iter_mut().enumerate() {
            if dead.contains(&((i / 63) % 16)) {
                *v = -v.abs();
            }
        }
        for (t, c) in totals
            .iter_mut()
            .zip(cpu::active_counts(&x, &shape, 1).unwrap())
        {
            *t += c;
        }
        let xt = gpu.upload(&x).unwrap().reshape(&shape).unwrap();
        let act = Activation::LeakyRelu {
            negative_slope: 0.1,
        };
        // Out of place and in place by turns.
        let y: Tensor = match batch % 2 {
            0 => gpu.empty(&shape).unwrap(),
            _ => xt.clone(),
        };
        let out = ForwardOut::write(&y).with_stats(&monitor);
        gpu.encode_forward_into(&mut encoder, &act, &xt, out)
            .unwrap();
        keep.push((xt, y));
    }
    gpu.queue().submit([encoder.finish()]);
    let stats = gpu.read_activity(&monitor).unwrap();
    assert_eq!(stats.active, totals);
    assert_eq!(stats.seen, 20 * (len / 16) as u64);
    assert_eq!(stats.dead_channels(), dead.to_vec());
    assert_eq!(stats.dead_fraction(), 2.0 / 16.0);
    let fractions = stats.active_fraction();
    assert_eq!(fractions[0], totals[0] as f64 / stats.seen as f64);

    gpu.reset_activity(&monitor).unwrap();
    let reset = gpu.read_activity(&monitor).unwrap();
    assert_eq!((&reset.active, reset.seen), (&vec![0; 16], 0));
    assert!(
        reset.dead_channels().is_empty(),
        "nothing seen, nothing dead"
    );

    let x = vec![1.0f32; len];
    gpu.forward_with_stats(
        &Activation::Relu,
        &gpu.upload(&x).unwrap().reshape(&shape).unwrap(),
        &monitor,
    )
    .unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    gpu.encode_reset_activity(&mut encoder, &monitor).unwrap();
    gpu.forward_with_stats(
        &Activation::Relu,
        &gpu.upload(&x).unwrap().reshape(&shape).unwrap(),
        &monitor,
    )
    .unwrap();
    // The encoder's reset runs after the second forward: submitted last.
    assert_eq!(
        gpu.read_activity(&monitor).unwrap().seen,
        2 * (len / 16) as u64
    );
    gpu.queue().submit([encoder.finish()]);
    assert_eq!(gpu.read_activity(&monitor).unwrap().seen, 0);
}

/// One layout of each count kernel on `gpu`, at offsets 0 and 3.
fn counts_on(gpu: &Gpu, len: usize) {
    let mut rng = Rng::new(&format!("counts_on_{len}"));
    let x = rng.values(len);
    for shape in [
        vec![len / 9, 9],           // channels-last, 9: the word kernel
        vec![2, 4, len / 8],        // long runs
        vec![len / 64, 16, 4],      // period 64
        vec![len / 1000, 1000],     // a dense layer of 1000 units
        vec![len / 70_001, 70_001], // the window kernel's long period
    ] {
        let n: usize = shape.iter().product();
        let expected = cpu::active_counts(&x[..n], &shape, 1).unwrap();
        for offset in [0, 3] {
            let monitor = gpu.activity_monitor(shape[1], 1).unwrap();
            let xt = at_offset(gpu, &x[..n], offset, &shape);
            let y = gpu
                .forward_with_stats(&Activation::Relu, &xt, &monitor)
                .unwrap();
            let stats = gpu.read_activity(&monitor).unwrap();
            assert_eq!(stats.active, expected, "{shape:?} offset {offset}");
            assert_same(&gpu.download(&y).unwrap(), &cpu::relu(&x[..n]), "y");
        }
    }
}

/// Channels-last layouts with more channels than the window kernel takes
/// (a period past a million, or past its window classes): the
/// per-channel kernel, at two offsets.
#[test]
fn counts_of_a_period_past_a_million() {
    let gpu = gpu();
    let mut rng = Rng::new("counts_of_a_period_past_a_million");
    for shape in [[3, (1 << 20) + 1], [5, 300_007]] {
        let x = rng.values(shape[0] * shape[1]);
        let expected = cpu::active_counts(&x, &shape, 1).unwrap();
        for offset in [0, 1] {
            let monitor = gpu.activity_monitor(shape[1], 1).unwrap();
            let xt = at_offset(gpu, &x, offset, &shape);
            gpu.forward_with_stats(&Activation::Relu, &xt, &monitor)
                .unwrap();
            let stats = gpu.read_activity(&monitor).unwrap();
            assert!(
                stats.active == expected,
                "{shape:?} offset {offset}: counts differ"
            );
            assert_eq!(stats.seen, shape[0] as u64);
        }
    }
}

/// Over several 1 MiB bindings: each chunk's bits counted once, with the
/// channel phase of its first element.
#[test]
fn counts_over_several_bindings() {
    counts_on(&small_bindings_gpu(), (3 << 18) + 7000);
}

/// Past the grid's limit per dimension (16 workgroups here).
#[test]
fn counts_past_the_workgroup_limit() {
    let limits = wgpu::Limits {
        max_compute_workgroups_per_dimension: 16,
        ..wgpu::Limits::default()
    };
    counts_on(
        &Gpu::with_options(GpuOptions::default().limits(limits)).unwrap(),
        1_000_000,
    );
}

/// In the app's own compute pass, beside its own dispatches.
#[test]
fn counts_in_the_apps_pass() {
    let gpu = gpu();
    let mut rng = Rng::new("counts_in_the_apps_pass");
    let shape = [6, 32, 10, 10];
    let x = rng.values(shape.iter().product());
    let monitor = gpu.activity_monitor(32, 1).unwrap();
    let xt = gpu.upload(&x).unwrap().reshape(&shape).unwrap();
    let y: Tensor = gpu.empty(&shape).unwrap();
    let mask = gpu.empty_mask(x.len()).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for _ in 0..3 {
            let out = ForwardOut::write(&y).with_mask(&mask).with_stats(&monitor);
            gpu.encode_forward_into_in_pass(&mut pass, &Activation::Relu, &xt, out)
                .unwrap();
        }
    }
    gpu.queue().submit([encoder.finish()]);
    let expected: Vec<u64> = cpu::active_counts(&x, &shape, 1)
        .unwrap()
        .iter()
        .map(|c| 3 * c)
        .collect();
    assert_eq!(gpu.read_activity(&monitor).unwrap().active, expected);
    assert_eq!(gpu.download_mask(&mask).unwrap(), cpu::relu_mask(&x));
}

/// A monitor that does not fit the tensor, or another `Gpu`'s, is an
/// error before anything is recorded, and leaves the totals alone.
#[test]
fn bad_monitors_are_errors() {
    let gpu = gpu();
    let x = gpu
        .upload(&[1.0f32; 24])
        .unwrap()
        .reshape(&[2, 3, 4])
        .unwrap();
    let y: Tensor = gpu.empty(&[2, 3, 4]).unwrap();
    let monitor = gpu.activity_monitor(3, 1).unwrap();
    let relu = Activation::Relu;

    let wrong_axis = gpu.activity_monitor(3, 3).unwrap();
    let r = gpu.forward_with_stats(&relu, &x, &wrong_axis);
    assert!(
        matches!(&r, Err(Error::Shape(m)) if m.contains("axis 3")),
        "{r:?}"
    );

    let wrong_count = gpu.activity_monitor(5, 2).unwrap();
    let r = gpu.forward_with_stats(&relu, &x, &wrong_count);
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let r = gpu.encode_forward_into(
        &mut encoder,
        &relu,
        &x,
        ForwardOut::write(&y).with_stats(&wrong_count),
    );
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    gpu.queue().submit([encoder.finish()]);

    let other = Gpu::new().unwrap();
    let foreign: ActivityMonitor = other.activity_monitor(3, 1).unwrap();
    let r = gpu.forward_with_stats(&relu, &x, &foreign);
    assert!(matches!(r, Err(Error::DeviceMismatch { .. })), "{r:?}");
    assert!(matches!(
        gpu.read_activity(&foreign),
        Err(Error::DeviceMismatch { .. })
    ));
    assert!(matches!(
        gpu.reset_activity(&foreign),
        Err(Error::DeviceMismatch { .. })
    ));

    for channels in [0, 1 << 32] {
        let r = gpu.activity_monitor(channels, 0);
        assert!(matches!(r, Err(Error::Shape(_))), "{channels}: {r:?}");
    }
    // Totals bound whole: past one binding, an error when the monitor is
    // made, before anything is recorded.
    let small = small_bindings_gpu();
    assert!(small.activity_monitor(100_000, 1).is_ok());
    let r = small.activity_monitor(150_000, 1);
    assert!(
        matches!(&r, Err(Error::TooLarge { what, .. }) if what.contains("monitor")),
        "{r:?}"
    );
    // PReLU takes its statistics, but still no mask.
    let w = gpu.upload(&[0.25f32; 3]).unwrap();
    let prelu = Activation::Prelu {
        weight: &w,
        channel_axis: 1,
    };
    let mask = gpu.empty_mask(24).unwrap();
    let out = ForwardOut::write(&y).with_mask(&mask).with_stats(&monitor);
    assert!(matches!(
        gpu.forward_into(&prelu, &x, out),
        Err(Error::NeedsInput(_))
    ));

    for m in [&wrong_axis, &wrong_count] {
        assert_eq!(gpu.read_activity(m).unwrap().seen, 0);
    }
    let stats = gpu.read_activity(&monitor).unwrap();
    assert_eq!((stats.active, stats.seen), (vec![0; 3], 0));
}
