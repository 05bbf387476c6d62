//! How PReLU's element-wise kernels fetch their weights (the pipeline
//! constants of weights.wgsl) and which kernel its plain forward and input
//! gradient take: pure functions of the layout, pinned by unit tests for
//! every class.

use crate::element::Dtype;
use crate::engine::{TABLE_BYTES, WORKGROUP_SIZE};
use crate::shape::Channels;

/// The widest step (in vec4s) at which a CPU adapter's items, a period
/// apart, beat WG apart. On lavapipe at 16M f32, channels-last forward ×
/// the 2-stream floor, WG apart → the period apart: 8 channels 1.46 →
/// 1.23, 32 1.49 → 1.17, 64 1.42–1.50 → 1.13, but 128 1.41 → 1.50, 256
/// 1.41 → 1.96 and 512 1.52 → 2.22 (BENCHMARKS.md).
const CLOSEST_STEP: u32 = 16;

/// The most channels the table holds (`Weights::table`): its f32s.
pub(crate) const TABLE_CHANNELS: usize = (TABLE_BYTES / 4) as usize;

/// The entries the element-wise forward's table takes for `channels`
/// channels: the fewest whole periods that fill whole vec4s
/// (weights.wgsl's `table_periods`).
pub(crate) fn table_entries(channels: usize) -> usize {
    let periods = match channels % 4 {
        0 => 1,
        2 => 2,
        _ => 4,
    };
    channels * periods
}

/// How PReLU's vec4 kernels fetch weights: the pipeline constants of the
/// same names in weights.wgsl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Weights {
    /// The four elements of a vec4 share one channel.
    pub(crate) per_vec4: bool,
    /// Every item of an invocation has the weights of its first.
    pub(crate) repeat: bool,
    /// With `repeat`, the closest (in vec4s) an invocation's items may lie
    /// and keep their first one's weights (`Elementwise::cpu_item_step`):
    /// side by side (1) where a workgroup's span lies in one run (one
    /// shared weight, runs a whole number of spans long), the channels'
    /// period in vec4s where it divides 4 · WG elements and is at most
    /// `CLOSEST_STEP` (channels-last with a power-of-two count up to 64),
    /// WG otherwise, and always where the weights are stepped (weights.wgsl
    /// steps 4 · WG elements from item to item).
    pub(crate) item_step: u32,
    /// The weights do not repeat and runs are at least four elements long
    /// (or one, channels-last): the channel is stepped from item to item,
    /// not divided for, a vec4 taking at most two weights (or four
    /// consecutive ones).
    pub(crate) step: bool,
    /// Runs are at least the distance between an invocation's items long:
    /// a step crosses at most one run's end, and needs no division.
    pub(crate) runs_long: bool,
    /// Every element its own run (channels-last), at least three channels:
    /// a vec4's channels follow each other.
    pub(crate) runs_of_one: bool,
    /// Runs of one with a multiple of four channels, the weights repeating
    /// and bound on a multiple of four elements (`with_vec4_load`): a
    /// vec4's four weights are one vec4 of the weight, one load.
    pub(crate) vec4_load: bool,
    /// The weights read from the engine's table (`Weights::table`).
    pub(crate) table: bool,
}

impl Weights {
    /// The cheapest fetch `channels` allows in a vec4 dispatch whose
    /// workgroups cover `span` elements each (chunks start on multiples of
    /// it), their invocations' items 4 · WG elements apart.
    pub(crate) fn for_layout(channels: &Channels, span: u64) -> Self {
        // One shared weight: every element has the same.
        let shared = channels.channels == 1;
        let inner = channels.inner as u64;
        let period = channels.channels as u64 * inner;
        let item_stride = 4 * u64::from(WORKGROUP_SIZE);
        let span_in_one_run = shared || inner.is_multiple_of(span);
        let period_repeats = item_stride.is_multiple_of(period);
        let repeat = span_in_one_run || period_repeats;
        let item_step = match (span_in_one_run, period_repeats) {
            (true, _) => 1,
            // The period is a power of two that divides 4 · WG.
            (false, true) if period <= 4 * u64::from(CLOSEST_STEP) => (period / 4).max(1) as u32,
            (false, _) => WORKGROUP_SIZE,
        };
        let per_vec4 = shared || inner.is_multiple_of(4);
        let runs_long = inner >= item_stride;
        let runs_of_one = inner == 1 && channels.channels >= 3;
        Self {
            per_vec4,
            repeat,
            item_step,
            // With one weight per vec4 and short runs, stepping divides as
            // often as finding each vec4's weight does: nothing to gain.
            step: !repeat && ((inner >= 4 && (runs_long || !per_vec4)) || runs_of_one),
            runs_long,
            runs_of_one,
            vec4_load: false,
            table: false,
        }
    }

    /// With the weight bound `elem_off` elements into its binding, as
    /// `dtype`: its four weights a vec4 in one load where that lies on a
    /// multiple of four (f32; on lavapipe each load costs about as much
    /// as a vec4 of the tensor's: BENCHMARKS.md).
    pub(crate) fn with_vec4_load(self, channels: &Channels, elem_off: u32, dtype: Dtype) -> Self {
        let fours = channels.inner == 1 && channels.channels.is_multiple_of(4);
        Self {
            vec4_load: self.repeat && fours && elem_off.is_multiple_of(4) && dtype == Dtype::F32,
            ..self
        }
    }

    /// The fetch from the engine's table, items side by side, where the
    /// layout is channels-last, the whole periods that fill whole vec4s fit
    /// the table (`table_entries`: up to 1,024 channels for multiples of
    /// four, 510 for other even counts, 255 for odd ones), and the items
    /// cannot lie a period apart: more channels than `CLOSEST_STEP`
    /// allows, or a count that does not divide 4 · WG elements (3, 12, 37:
    /// else the walk).
    /// For the plain forward on a CPU adapter (`plain_kernel`). On
    /// lavapipe at 16M f32, × the 2-stream floor, six rounds by turns in
    /// one binary, the kernels before (items 256 apart, or the walk) → the
    /// table: channels-last 128 1.34 → 1.29, 132 1.59 → 1.38, 256 1.21 →
    /// 1.13, 512 1.22 → 1.14, dense layers of 768 1.33 → 1.21 and 1,024
    /// 1.39 → 1.26. Most of those rounds were contended, which closes the
    /// ratios up: quiet, 256 and 512 read 1.18–1.33 with the table
    /// (BENCHMARKS.md). Counts below 68, four rounds on another machine,
    /// the walk → the table: 12 1.41 → 1.31, 20 1.38 → 1.27, 48 1.57 →
    /// 1.34, 60 1.43 → 1.32; counts not of four, four rounds: 3 1.38 →
    /// 1.27, 6 1.29 → 1.19, 37 1.42 → 1.27, 99 1.23 → 1.18, 255 1.40 → 1.31
    /// (the NCHW rows of the same shapes 0.04 lower too). A 64 KiB table
    /// for 4,096 channels was slower in a throw-away kernel.
    pub(crate) fn table(channels: &Channels) -> Option<Self> {
        let c = channels.channels;
        let period_apart =
            c <= 4 * CLOSEST_STEP as usize && (4 * WORKGROUP_SIZE as usize).is_multiple_of(c);
        let fits =
            channels.inner == 1 && c > 0 && !period_apart && table_entries(c) <= TABLE_CHANNELS;
        fits.then_some(Self {
            item_step: 1,
            table: true,
            ..Self::default()
        })
    }

    /// As pipeline constants.
    pub(crate) fn constants(self) -> Vec<(&'static str, f64)> {
        [
            (self.per_vec4, "WEIGHT_PER_VEC4"),
            (self.repeat, "WEIGHTS_REPEAT"),
            (self.vec4_load, "WEIGHTS_VEC4"),
            (self.step, "WEIGHTS_STEP"),
            (self.step && self.runs_long, "RUNS_LONG"),
            (self.step && self.runs_of_one, "RUNS_OF_ONE"),
            (self.table, "WEIGHTS_TABLE"),
        ]
        .into_iter()
        .filter(|&(on, _)| on)
        .map(|(_, name)| (name, 1.0))
        .collect()
    }
}

/// The kernel of PReLU's forward, or its input gradient alone, where it
/// writes no mask and gathers no statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plain {
    /// The walk of the weight gradient's plan, each vec4 placed by the
    /// shape (`placed.rs`): every PReLU kernel then reads the tensor in
    /// the same places, and on lavapipe with four vec4s an invocation it
    /// beat the element-wise kernel at every layout. The input gradient
    /// always takes it: where the element-wise kernel could run it, the
    /// walk's three streams, an invocation's vec4s side by side, read
    /// 0.82–1.02 × the 3-stream floor at 16M on a sixth machine, by
    /// turns, and the element-wise kernel 1.06–1.21 (`[1, 64, n/64]` 1.06
    /// → 0.82, the dense layer 1.21 → 1.02, channels-last 64 and 256
    /// 1.08–1.20 → 0.86–0.95; on the fifth machine the element-wise
    /// kernel had won by 0.07 at channels-last 64; BENCHMARKS.md).
    Walk,
    /// The element-wise kernel (`kernels.wgsl`), for the forward: on a CPU
    /// adapter where the weights repeat (runs of whole workgroup spans,
    /// channels-last with a count that divides 1,024, one shared weight),
    /// f32. With eight vec4s an invocation (`kernel::items`) it loads one
    /// weight per eight vec4s, side by side or a period apart
    /// (`Weights::item_step`), where the walk's columns load a row's lane
    /// weights and its runs one per four to eight vec4s: on lavapipe at
    /// 16M, `[1, 64, n/64]`'s forward 1.34 → 1.15 × the 2-stream floor and
    /// channels-last 64's 1.44 → 1.30 on the fifth machine, 1.17 → 1.08
    /// and 1.16 → 1.10 on the sixth (BENCHMARKS.md). The f16 kernels stay
    /// with the walk, which takes halves as words on CPU adapters, and so
    /// do operands off a multiple of four elements, which the element-wise
    /// template takes one element at a time, each with its own weight.
    /// Channels-last with more channels, up to what the engine's table
    /// holds, reads each vec4's weights from the table (`Weights::table`).
    Elementwise,
}

/// What the element-wise kernel would load the tensors as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vec4s {
    pub(crate) dtype: Dtype,
    /// Every operand on a multiple of four elements in its binding.
    pub(crate) aligned: bool,
}

/// The plain kernel of the forward (`gradient` false) or the input
/// gradient alone for weights fetched as `weights`: a pure function,
/// pinned by a unit test for every layout class.
pub(crate) fn plain_kernel(
    weights: Weights,
    vec4s: Vec4s,
    cpu_adapter: bool,
    gradient: bool,
) -> Plain {
    let f32_on_vec4s = vec4s.dtype == Dtype::F32 && vec4s.aligned;
    let fetch = weights.repeat || weights.table;
    match cpu_adapter && !gradient && fetch && f32_on_vec4s {
        true => Plain::Elementwise,
        false => Plain::Walk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::elementwise::MASK_BLOCK;
    use crate::engine::kernel::vec4_span;

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
    /// eight vec4s an invocation (f32, operands on multiples of four),
    /// else the walk; on a GPU, and for the input gradient, always the
    /// walk. (The forward tries the table's fetch first, where the layout
    /// has one: `table_per_layout_class`.)
    #[test]
    fn plain_kernel_per_layout_class() {
        use Plain::{Elementwise, Walk};
        let choose = |shape: &[usize], axis: usize, dtype, aligned, cpu, gradient| {
            let len = shape.iter().product();
            let channels = Channels::new(shape, len, shape[axis], axis).unwrap();
            let weights = Weights::for_layout(&channels, vec4_span(cpu));
            plain_kernel(weights, Vec4s { dtype, aligned }, cpu, gradient)
        };
        let kernel =
            |shape, axis, dtype, aligned, cpu| choose(shape, axis, dtype, aligned, cpu, false);
        // Shape, channel axis, and the kernel on a CPU adapter for f32.
        let cases: [(&[usize], usize, Plain); 11] = [
            (&[1, 64, 262_144], 1, Elementwise), // runs of whole spans
            (&[2, 3, 8192], 1, Elementwise),     // runs of one span
            (&[2, 3, 4096], 1, Walk),            // runs of half a span
            (&[262_144, 64], 1, Elementwise),    // channels-last, 64 | 1024
            (&[16_384, 1024], 1, Elementwise),   // a dense layer
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

    /// The fetch from the engine's table: channels-last, as many whole
    /// periods as fill whole vec4s within the table's 1,024 entries, but
    /// for the counts up to 64 that divide 1,024 (they lie a period apart),
    /// items side by side; and the plain kernel it makes on each kind of
    /// adapter, operands and op.
    #[test]
    fn table_per_layout_class() {
        let table = |shape: &[usize], axis: usize| {
            let len = shape.iter().product();
            let channels = Channels::new(shape, len, shape[axis], axis).unwrap();
            Weights::table(&channels)
        };
        // Shape, channel axis, and whether the weights fit the table.
        let cases: [(&[usize], usize, bool); 20] = [
            (&[131_072, 128], 1, true),     // channels-last 128
            (&[80, 28, 28, 256], 3, true),  // channels-last 256
            (&[16_384, 1024], 1, true),     // a dense layer
            (&[1001, 132], 1, true),        // channels-last, not dividing 1,024
            (&[1001, 68], 1, true),         // more than a period apart takes
            (&[85, 64, 64, 48], 3, true),   // fewer, not dividing 1,024
            (&[1001, 12], 1, true),         // four times three
            (&[262_144, 64], 1, false),     // a period apart instead
            (&[1001, 8], 1, false),         // a period apart instead
            (&[1001, 4], 1, false),         // a period apart instead
            (&[4, 32, 32, 4096], 3, false), // more than the table holds
            (&[4, 1028], 1, false),
            (&[50, 99, 91, 37], 3, true),   // odd: four periods
            (&[111, 224, 224, 3], 3, true), // the fewest
            (&[1001, 6], 1, true),          // even: two periods
            (&[1001, 255], 1, true),        // the most odd ones
            (&[1001, 510], 1, true),        // the most even ones
            (&[1001, 257], 1, false),       // more odd ones than it holds
            (&[1001, 514], 1, false),       // more even ones than it holds
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

    /// The weights as one vec4 load: channels-last with a multiple of four
    /// channels whose weights repeat over a workgroup, f32, the weight on a
    /// multiple of four elements of its binding.
    #[test]
    fn vec4_weight_loads_per_layout_class() {
        let vec4 = |shape: &[usize], elem_off: u32, dtype: Dtype| {
            let axis = shape.len() - 1;
            let len = shape.iter().product();
            let channels = Channels::new(shape, len, shape[axis], axis).unwrap();
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
}
