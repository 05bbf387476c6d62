//! The weight fetch and the plain kernel for each layout class.

use super::*;
use crate::engine::elementwise::MASK_BLOCK;
use crate::engine::kernel::vec4_span;

/// A tensor of `shape` with a weight for each index of `axis`.
fn layout(shape: &[usize], axis: usize) -> Channels {
    Channels::new(shape, shape.iter().product(), shape[axis], axis).unwrap()
}

/// The weight fetch each layout class gets: (per vec4, repeat, step).
#[test]
fn weight_fetch_per_layout_class() {
    let fetch = |shape: &[usize], weights: usize, axis: usize| {
        let len = shape.iter().product();
        let channels = Channels::new(shape, len, weights, axis).unwrap();
        let w = Weights::for_layout(&channels, vec4_span(false));
        (w.per_vec4, w.repeat, w.step)
    };
    // Shape, weights, channel axis, and the fetch expected.
    type Case<'a> = (&'a [usize], usize, usize, (bool, bool, bool));
    let cases: [Case; 10] = [
        (&[8, 64, 100], 1, 1, (true, true, false)), // one shared weight
        (&[1, 64, 262_144], 64, 1, (true, true, false)), // runs of whole spans
        (&[80, 64, 56, 56], 64, 1, (true, false, true)), // runs >= a step, of fours
        (&[50, 37, 99, 91], 37, 1, (false, false, true)), // runs >= a step, odd
        (&[80, 256, 28, 28], 256, 1, (true, false, false)), // runs < a step, of fours
        (&[640, 512, 7, 7], 512, 1, (false, false, true)), // runs of 49: stepped, dividing
        (&[262_144, 64], 64, 1, (false, true, false)), // channels-last, 64 | 1024
        (&[111, 224, 224, 3], 3, 3, (false, false, true)), // channels-last, 3: runs of one
        (&[50, 99, 91, 37], 37, 3, (false, false, true)), // channels-last, 37
        (&[16_384, 1024], 1024, 1, (false, true, false)), // a dense layer
    ];
    for (shape, weights, axis, expected) in cases {
        assert_eq!(fetch(shape, weights, axis), expected, "{shape:?}");
    }
    // Over the blocks of the mask layout (the forward with statistics)
    // a workgroup spans a block: runs of whole blocks repeat, runs of
    // an odd number of vec4 spans no longer do.
    let blocked = |inner: usize| {
        let channels = Channels::new(&[2, 8, inner], 16 * inner, 8, 1).unwrap();
        Weights::for_layout(&channels, MASK_BLOCK).repeat
    };
    assert!(blocked(4 * 8192));
    assert!(!blocked(3 * 4096));
}

/// How close the element-wise kernel's items lie on a CPU adapter:
/// side by side where a workgroup's span lies in one run (one shared
/// weight, runs of whole spans), the channels' period apart where it
/// divides 1,024 elements and is at most 64 (channels-last, a power of
/// two), WG apart where it is longer or the weights do not repeat.
#[test]
fn item_step_per_layout_class() {
    let step = |shape: &[usize], weights: usize, axis: usize| {
        let len = shape.iter().product();
        let channels = Channels::new(shape, len, weights, axis).unwrap();
        let w = Weights::for_layout(&channels, vec4_span(true));
        // Stepped weights advance WG apart: never closer.
        assert!(!w.step || w.item_step == WORKGROUP_SIZE, "{shape:?}");
        w.item_step
    };
    assert_eq!(step(&[8, 64, 100], 1, 1), 1); // one shared weight
    assert_eq!(step(&[1, 64, 262_144], 64, 1), 1); // runs of whole spans
    assert_eq!(step(&[2, 3, 8192], 3, 1), 1); // runs of one span
    assert_eq!(step(&[1000, 2], 2, 1), 1); // channels-last, a vec4's period
    assert_eq!(step(&[1000, 8], 8, 1), 2);
    assert_eq!(step(&[262_144, 64], 64, 1), 16); // channels-last, 64
    assert_eq!(step(&[131_072, 128], 128, 1), 256); // 128: farther than 256 bytes
    assert_eq!(step(&[16_384, 1024], 1024, 1), 256); // a dense layer
    assert_eq!(step(&[2, 3, 4096], 3, 1), 256); // runs of half a span
    assert_eq!(step(&[80, 64, 56, 56], 64, 1), 256); // batched NCHW
    assert_eq!(step(&[50, 99, 91, 37], 37, 3), 256); // channels-last, 37
}

/// The plain forward's kernel for each layout class: on a CPU adapter
/// the element-wise kernel where its weights repeat over a workgroup's
/// eight vec4s an invocation with its items side by side or a period
/// apart (f32, operands on multiples of four), else the walk; on a GPU, and for the input gradient, always the
/// walk. (The forward tries the table's fetch first, where the layout
/// has one: `table_per_layout_class`.)
#[test]
fn plain_kernel_per_layout_class() {
    use Plain::{Elementwise, Walk};
    let choose = |shape: &[usize], axis: usize, dtype, aligned, cpu, gradient| {
        let channels = layout(shape, axis);
        let weights = Weights::for_layout(&channels, vec4_span(cpu));
        plain_kernel(weights, Vec4s { dtype, aligned }, cpu, gradient)
    };
    let kernel = |shape, axis, dtype, aligned, cpu| choose(shape, axis, dtype, aligned, cpu, false);
    // Shape, channel axis, and the kernel on a CPU adapter for f32.
    let cases: [(&[usize], usize, Plain); 13] = [
        (&[1, 64, 262_144], 1, Elementwise), // runs of whole spans
        (&[2, 3, 8192], 1, Elementwise),     // runs of one span
        (&[2, 3, 4096], 1, Walk),            // runs of half a span
        (&[262_144, 64], 1, Elementwise),    // channels-last, 64 | 1024
        (&[16_384, 1024], 1, Walk),          // a dense layer: WG apart
        (&[65_536, 4, 8, 8], 1, Walk),       // a period of 256: WG apart
        (&[16_384, 16, 8, 8], 1, Walk),      // a period of 1,024: WG apart
        (&[4, 32, 32, 4096], 3, Walk),       // channels-last, 4,096
        (&[111, 224, 224, 3], 3, Walk),      // channels-last, 3
        (&[80, 64, 56, 56], 1, Walk),        // batched NCHW
        (&[640, 512, 7, 7], 1, Walk),        // short runs
        (&[50, 37, 99, 91], 1, Walk),        // odd runs
        (&[8, 1, 100], 1, Elementwise),      // one channel
    ];
    for (shape, axis, expected) in cases {
        let (f32, f16) = (Dtype::F32, Dtype::F16);
        assert_eq!(kernel(shape, axis, f32, true, true), expected, "{shape:?}");
        assert_eq!(kernel(shape, axis, f16, true, true), Walk, "f16 {shape:?}");
        assert_eq!(kernel(shape, axis, f32, false, true), Walk, "off {shape:?}");
        assert_eq!(kernel(shape, axis, f32, true, false), Walk, "GPU {shape:?}");
        let gradient = choose(shape, axis, f32, true, true, true);
        assert_eq!(gradient, Walk, "input gradient {shape:?}");
    }
}

/// The fetch from the engine's table: channels-last with 16, 64, 128, 256
/// or 512 channels, whose vec4s divide a line of items or span two, but
/// not 4, 8 and 32 (they lie a period apart); and the plain kernel it
/// makes on each kind of adapter, operands and op. Every other count
/// takes the walk, or its items WG apart where its weights repeat.
#[test]
fn table_per_layout_class() {
    let table = |shape: &[usize], axis: usize| Weights::table(&layout(shape, axis));
    // Shape, channel axis, and whether the forward takes the table.
    let cases: [(&[usize], usize, bool); 22] = [
        (&[131_072, 128], 1, true),     // channels-last 128
        (&[80, 28, 28, 256], 3, true),  // channels-last 256
        (&[640, 7, 7, 512], 3, true),   // two lines
        (&[262_144, 64], 1, true),      // 16 vec4s
        (&[1001, 16], 1, true),         // four vec4s
        (&[16_384, 1024], 1, false),    // a dense layer: four lines
        (&[1001, 768], 1, false),       // three lines
        (&[1001, 384], 1, false),       // a line and a half
        (&[1001, 132], 1, false),       // 33 vec4s
        (&[85, 64, 64, 48], 3, false),  // 12 vec4s
        (&[1001, 96], 1, false),        // 24 vec4s
        (&[1001, 12], 1, false),        // three vec4s
        (&[1001, 8], 1, false),         // a period apart instead
        (&[1001, 4], 1, false),         // a period apart instead
        (&[1001, 32], 1, false),        // a period apart instead
        (&[4, 32, 32, 4096], 3, false), // more than the table holds
        (&[50, 99, 91, 37], 3, false),  // not of four
        (&[111, 224, 224, 3], 3, false),
        (&[1001, 6], 1, false),
        (&[1001, 130], 1, false),       // two periods would be 65 vec4s
        (&[1001, 258], 1, false),       // two periods would be 129 vec4s
        (&[80, 256, 28, 28], 1, false), // batched NCHW
    ];
    for (shape, axis, fits) in cases {
        let weights = table(shape, axis);
        assert_eq!(weights.is_some(), fits, "{shape:?}");
        let Some(weights) = weights else { continue };
        assert_eq!(weights.item_step, 1, "{shape:?}");
        assert!(!weights.repeat && !weights.step && !weights.vec4_load);
        assert!(weights.constants().contains(&("WEIGHTS_TABLE", 1.0)));
        let (f32, f16) = (Dtype::F32, Dtype::F16);
        let plain = |dtype, aligned, cpu, gradient| {
            plain_kernel(weights, Vec4s { dtype, aligned }, cpu, gradient)
        };
        assert_eq!(plain(f32, true, true, false), Plain::Elementwise);
        assert_eq!(plain(f16, true, true, false), Plain::Walk, "f16");
        assert_eq!(plain(f32, false, true, false), Plain::Walk, "unaligned");
        assert_eq!(plain(f32, true, false, false), Plain::Walk, "GPU");
        assert_eq!(plain(f32, true, true, true), Plain::Walk, "gradient");
    }
}

/// The table's sets an invocation holds: one where the table's vec4s
/// divide a line's 64, two where they are two lines long (512 channels),
/// eight vec4s each, a line's items.
#[test]
fn table_sets_per_count() {
    let table = |c: usize| Weights::table(&layout(&[1001, c], 1));
    // Channels, and the lines a period spans (None: not from the table).
    let cases = [
        (16, Some(1)), // four vec4s, held twice in a set
        (64, Some(1)),
        (128, Some(1)),
        (256, Some(1)), // a line's 64 vec4s
        (512, Some(2)), // two lines: two sets
        (1024, None),   // four lines
        (32, None),     // a period apart
    ];
    for (c, expected) in cases {
        let weights = table(c);
        assert_eq!(weights.map(|w| w.phases), expected, "{c} channels");
        let Some(w) = weights else { continue };
        let constant = |name| w.constants().into_iter().find(|k| k.0 == name);
        let held = f64::from(items(true));
        assert_eq!(constant("TABLE_HELD"), Some(("TABLE_HELD", held)), "{c}");
        let phases = (w.phases > 1).then_some(("TABLE_PHASES", f64::from(w.phases)));
        assert_eq!(constant("TABLE_PHASES"), phases, "{c} channels");
        // Each set is a line's items at their places in the period: the
        // sets span the period, or a line the period divides.
        assert_eq!(items(true), 8, "{c} channels");
        let vec4s = c as u32 / 4;
        assert_eq!(LINE_VEC4S * w.phases, vec4s.max(LINE_VEC4S), "{c} channels");
        assert!(
            LINE_VEC4S.is_multiple_of(vec4s.min(LINE_VEC4S)),
            "{c} channels"
        );
        // A line is eight invocations' items of one line.
        assert_eq!(LINE_VEC4S, 8 * items(true));
    }
}

/// Where every weight load reads the engine's table: on a CPU adapter,
/// where the kernel loads weights item by item and the table holds them.
#[test]
fn table_loads_per_layout_class() {
    let loads = |shape: &[usize], axis: usize, cpu: bool| {
        let channels = layout(shape, axis);
        let weights = Weights::for_layout(&channels, vec4_span(cpu));
        let weights = weights.with_table_loads(&channels, cpu);
        let constant = weights.constants().contains(&("TABLE_LOADS", 1.0));
        assert_eq!(constant, weights.table_loads, "{shape:?}");
        weights.table_loads
    };
    // Shape, channel axis, and whether a CPU adapter's loads read the table.
    let cases: [(&[usize], usize, bool); 10] = [
        (&[256, 64, 32, 32], 1, true),  // runs of a step: stepped
        (&[80, 64, 56, 56], 1, true),   // longer runs: stepped
        (&[80, 256, 28, 28], 1, true),  // shorter runs: divided for
        (&[50, 37, 99, 91], 1, true),   // odd runs
        (&[111, 224, 224, 3], 3, true), // channels-last: stepped
        (&[16_384, 1024], 1, false),    // repeats: loaded once an invocation
        (&[1, 64, 262_144], 1, false),  // runs of whole spans: repeat
        (&[8, 1, 100], 1, false),       // one shared weight: repeat
        (&[4, 4096, 32, 32], 1, false), // more than the table holds
        (&[4, 1025, 4, 4], 1, false),   // more than the table holds
    ];
    for (shape, axis, expected) in cases {
        assert_eq!(loads(shape, axis, true), expected, "{shape:?}");
        assert!(!loads(shape, axis, false), "{shape:?} on a GPU");
    }
}

/// The weights as one vec4 load: channels-last with a multiple of four
/// channels whose weights repeat over a workgroup, f32, the weight on a
/// multiple of four elements of its binding.
#[test]
fn vec4_weight_loads_per_layout_class() {
    let vec4 = |shape: &[usize], elem_off: u32, dtype: Dtype| {
        let axis = shape.len() - 1;
        let channels = layout(shape, axis);
        let weights = Weights::for_layout(&channels, vec4_span(true));
        weights.with_vec4_load(&channels, elem_off, dtype).vec4_load
    };
    let f32 = Dtype::F32;
    assert!(vec4(&[300, 64], 0, f32));
    assert!(vec4(&[300, 64], 4, f32));
    assert!(vec4(&[9, 1024], 0, f32)); // a dense layer
    assert!(vec4(&[1000, 4], 0, f32));
    assert!(!vec4(&[300, 64], 2, f32)); // the weight off a vec4
    assert!(!vec4(&[300, 64], 0, Dtype::F16));
    assert!(!vec4(&[1000, 2], 0, f32)); // two channels
    assert!(!vec4(&[300, 37], 0, f32)); // weights not repeating
    assert!(!vec4(&[300, 4096], 0, f32));
}
