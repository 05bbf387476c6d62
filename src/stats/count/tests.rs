//! The count pass's planner, its modular steps and its kernels against
//! the CPU reference.

use super::*;
use std::mem::offset_of;

/// `count_runs` walks eight segments an invocation on a software
/// rasteriser and one on a GPU: both give the reference's counts, on
/// runs that cross blocks and segments, odd runs, and a chunk that
/// ends inside a block.
#[test]
fn runs_count_alike_on_both_kinds_of_adapter() {
    use crate::{cpu, Activation, ForwardOut, Gpu};
    let one = Gpu::new().unwrap();
    let other = one.with_engine_changed(|e| e.set_cpu_adapter(!one.engine().cpu_adapter()));
    let shapes: [(&[usize], usize); 4] = [
        (&[3, 5, 9000], 1),
        (&[7, 3, 49], 1),
        (&[2, 2, 20001], 1),
        (&[37, 300], 0),
    ];
    for (shape, axis) in shapes {
        let len: usize = shape.iter().product();
        let x: Vec<f32> = (0..len)
            .map(|i| (i * 7919 % 2003) as f32 - 1001.0)
            .collect();
        let expected = cpu::active_counts(&x, shape, axis).unwrap();
        for gpu in [&one, &other] {
            let monitor = gpu.activity_monitor(shape[axis], axis).unwrap();
            let xt = gpu.upload(&x).unwrap().reshape(shape).unwrap();
            let y = gpu.empty(shape).unwrap();
            let out = ForwardOut::write(&y).with_stats(&monitor);
            gpu.forward_into(&Activation::Relu, &xt, out).unwrap();
            let stats = gpu.read_activity(&monitor).unwrap();
            let kind = gpu.engine().cpu_adapter();
            assert_eq!(stats.active, expected, "{shape:?}, CPU adapter: {kind}");
        }
    }
}

/// The count kernel each layout class gets.
#[test]
fn count_kernel_per_layout_class() {
    let kernel = |shape: &[usize], axis: usize| {
        let layout = Layout {
            channels: shape[axis],
            inner: shape[axis + 1..].iter().product::<usize>().max(1),
        };
        plan(layout).kernel
    };
    use Kernel::*;
    let cases: [(&[usize], usize, Kernel); 21] = [
        (&[80, 64, 56, 56], 1, Runs),    // batched NCHW, runs of 3136
        (&[80, 256, 28, 28], 1, Runs),   // runs of 784
        (&[640, 512, 7, 7], 1, Runs),    // runs of 49, odd
        (&[50, 37, 99, 91], 1, Runs),    // odd everything
        (&[1, 64, 262_144], 1, Runs),    // one image
        (&[256, 256, 256], 0, Runs),     // axis 0
        (&[262_144, 64], 1, Periodic),   // channels-last, 64 | 1024
        (&[16_384, 1024], 1, Periodic),  // a dense layer
        (&[8, 4, 16, 16], 1, Periodic),  // NCHW whose period is 1024
        (&[111, 224, 224, 3], 3, Words), // channels-last, 3
        (&[50, 99, 91, 37], 3, Words),   // channels-last, 37
        (&[4096, 3, 7], 1, Words),       // short odd runs
        (&[64, 1000], 1, Words),         // a dense layer of 1000 units
        (&[8, 1020], 1, Words),          // 255 word classes
        (&[8, 1028], 1, Windows),        // 257 word classes
        (&[8, 4095], 1, Windows),        // channels-last, 4,095
        (&[8, 262_144], 1, Windows),     // channels-last, 2^18
        (&[1 << 17, 8], 0, Windows),     // a period of 2^20, runs of 8
        (&[8, 200_003], 1, Windows),     // 200,003 window classes
        (&[8, 300_007], 1, Channels),    // 300,007 window classes
        (&[8, 2_000_000], 1, Channels),  // a period past a million
    ];
    for (shape, axis, expected) in cases {
        assert_eq!(kernel(shape, axis), expected, "{shape:?} along {axis}");
    }
    // An invocation of a per-channel kernel tests about 64 units.
    let layout = |channels, inner| Layout { channels, inner };
    assert_eq!(plan(layout(64, 1)).blocks_per, 4);
    assert_eq!(plan(layout(1024, 1)).blocks_per, 64);
    // Words a whole number of periods apart: period / gcd(period, 4),
    // as many blocks as keep an invocation within 255 words.
    assert_eq!(plan(layout(37, 1)).classes, 37);
    assert_eq!(plan(layout(37, 1)).blocks_per, 255 / 7);
    assert_eq!(plan(layout(96, 1)).classes, 24);
    assert_eq!(plan(layout(3, 2)).classes, 3);
    assert_eq!(plan(layout(3, 2)).blocks_per, 255 / 86);
    assert_eq!(plan(layout(1020, 1)).blocks_per, 255 / 2);
    // Windows: period / gcd(period, 32).
    assert_eq!(plan(layout(262_144, 1)).classes, 8192);
    assert_eq!(plan(layout(2_000_000, 1)).blocks_per, 15_625);
}

/// The modular steps find every word of a class, and only those: for
/// each period class, phase and block, word l is of class q exactly
/// when l = (inverse q + base - drift b) mod classes.
#[test]
fn word_steps_find_each_class_of_words() {
    for period in [3u64, 6, 9, 10, 37, 96, 255, 1000, 1020, 4098] {
        let classes = period / gcd(period, 4);
        for start in [0, 1, 2, 3, 1000].map(|k| k * MASK_BLOCK) {
            let phase = start % period;
            let s = WordSteps::new(period, phase);
            let (inverse, base, drift) = (s.inverse as u64, s.base as u64, s.drift as u64);
            for b in [0u64, 1, 2, 7, 255] {
                for l in 0..256u64 {
                    let key = (phase + MASK_BLOCK * b + 4 * l) % period;
                    assert_eq!(key % s.spread as u64, 0);
                    let q = key / s.spread as u64;
                    let first = (inverse * q + base + classes - drift * b % classes) % classes;
                    assert_eq!(
                        l % classes,
                        first,
                        "period {period}, phase {phase}, block {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn params_layout_matches_wgsl() {
    crate::engine::kernel::assert_layout(
        &MODULE,
        "Params",
        &[
            ("len", offset_of!(Params, len)),
            ("words", offset_of!(Params, words)),
            ("blocks", offset_of!(Params, blocks)),
            ("channels", offset_of!(Params, channels)),
            ("inner", offset_of!(Params, inner)),
            ("phase", offset_of!(Params, phase)),
            ("blocks_per", offset_of!(Params, blocks_per)),
            ("groups_x", offset_of!(Params, groups_x)),
            ("groups_y", offset_of!(Params, groups_y)),
            ("classes", offset_of!(Params, classes)),
            ("inner_div", offset_of!(Params, inner_div)),
            ("channels_div", offset_of!(Params, channels_div)),
            ("inverse", offset_of!(Params, inverse)),
            ("base", offset_of!(Params, base)),
            ("drift", offset_of!(Params, drift)),
            ("spread", offset_of!(Params, spread)),
        ],
        std::mem::size_of::<Params>(),
    );
}

/// A low word that wraps carries into the high one: totals set just
/// below 2^32 on the GPU, then a forward of 8,192 elements per channel
/// through each count kernel.
#[test]
fn totals_carry_into_the_high_word() {
    let gpu = crate::Gpu::new().unwrap();
    for (shape, axis) in [([2, 8192], 0), ([8192, 2], 1), ([8192, 3], 1)] {
        let channels = shape[axis];
        let monitor = gpu.activity_monitor(channels, axis).unwrap();
        let below = 0xffff_fff0u32;
        let mut words = vec![below, 7];
        for _ in 0..channels {
            words.extend([below, 7]);
        }
        let totals = monitor.totals();
        gpu.queue().write_buffer(
            totals.buffer(),
            totals.byte_offset(),
            bytemuck::cast_slice(&words),
        );
        let n = shape[0] * shape[1];
        let x = gpu
            .upload(&vec![1.0f32; n])
            .unwrap()
            .reshape(&shape)
            .unwrap();
        gpu.forward_with_stats(&crate::Activation::Relu, &x, &monitor)
            .unwrap();
        let stats = gpu.read_activity(&monitor).unwrap();
        let start = 7u64 << 32 | u64::from(below);
        let per_channel = (n / channels) as u64;
        assert_eq!(
            stats.active,
            vec![start + per_channel; channels],
            "{shape:?}"
        );
        assert_eq!(
            stats.seen,
            (start + n as u64) / channels as u64,
            "{shape:?}"
        );
    }
}
