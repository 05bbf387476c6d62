//! How PReLU's element-wise kernels fetch their weights (the pipeline
//! constants of weights.wgsl) and which kernel its plain forward and input
//! gradient take: pure functions of the layout, pinned by unit tests for
//! every class.

use crate::element::Dtype;
use crate::engine::kernel::{items, LINE_VEC4S};
use crate::engine::{TABLE_BYTES, WORKGROUP_SIZE};
use crate::shape::Channels;

/// The widest step (in vec4s) at which a CPU adapter's items, a period
/// apart, beat WG apart. On lavapipe at 16M f32, channels-last forward ×
/// the 2-stream floor, WG apart → the period apart: 8 channels 1.46 →
/// 1.23, 32 1.49 → 1.17, 64 1.42–1.50 → 1.13, but 128 1.41 → 1.50, 256
/// 1.41 → 1.96 and 512 1.52 → 2.22 (BENCHMARKS.md).
const CLOSEST_STEP: u32 = 16;

/// The most lines one period of the engine's table may span where the
/// forward takes its items in lines (`Weights::phases`). lavapipe at 16M
/// f32, × the 2-stream floor, three rounds by turns in one binary: 512
/// channels (two lines) 1.24 side by side → 1.09 in lines, the dense
/// layer of 1,024 channels (four) 1.30 → 1.46 (BENCHMARKS.md).
const MOST_TABLE_PHASES: u32 = 2;

/// The entries the table holds, its f32s: the most channels of the
/// weights it serves (the runs walk's, `TABLE_LOADS`, and the forward's in
/// lines, `Weights::table`).
pub(crate) const TABLE_CHANNELS: usize = (TABLE_BYTES / 4) as usize;

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
    /// The weights read from the engine's table, the items in lines
    /// (`Weights::table`, `CPU_ITEM_LINES`).
    pub(crate) table: bool,
    /// With `table`, the lines one period of the table spans
    /// (`TABLE_PHASES`): 1 where it divides a line (`LINE_VEC4S`), else
    /// up to `MOST_TABLE_PHASES`. An invocation holds a line's items'
    /// vec4s for each (`TABLE_HELD`), and its line l takes set
    /// l % `phases`.
    pub(crate) phases: u32,
    /// Every weight load reads the engine's table at its channel
    /// (`with_table_loads`).
    pub(crate) table_loads: bool,
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
            phases: 0,
            table_loads: false,
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

    /// On a CPU adapter, where the kernel loads weights item by item
    /// (stepped from channel to channel, or divided for: neither repeated
    /// nor from the table's vec4s nor one vec4 load) and the table holds
    /// them (1,024 channels or fewer): every load from the table
    /// (`TABLE_LOADS`), into which a dispatch copies them first. lavapipe
    /// loads a storage weight lane by lane, in a loop with a branch and a
    /// bounds test for each lane, and a uniform one in one gather. On
    /// lavapipe at 16M, PReLU's forward with statistics over a batch of
    /// 32×32 images (runs of 1,024, stepped), × the 2-stream floor, four
    /// rounds by turns in one binary on an eighth machine: f32 1.830 →
    /// 1.555, f16 (three rounds) 4.19 → 3.81; the rows it leaves alone
    /// moved by −0.07 to +0.02 (BENCHMARKS.md).
    pub(crate) fn with_table_loads(self, channels: &Channels, cpu_adapter: bool) -> Self {
        let per_item = !self.repeat && !self.table && !self.vec4_load;
        let fits = channels.channels <= TABLE_CHANNELS;
        Self {
            table_loads: cpu_adapter && per_item && fits,
            ..self
        }
    }

    /// The fetch from the engine's table, on a CPU adapter's plain
    /// forward (`plain_kernel`), where the layout is channels-last with a
    /// multiple of four channels whose vec4s divide a line's
    /// (`LINE_VEC4S`) or span up to `MOST_TABLE_PHASES` whole lines, and
    /// the items do not lie a period apart instead: 16, 64, 128, 256 and
    /// 512 channels. The items lie in lines: eight invocations take a
    /// line of 64 vec4s together, eight side by side each, line after
    /// line, and each invocation holds eight weights for each place its
    /// lines take in the period, so that it loads none item by item and a
    /// SIMD group still streams one stretch.
    ///
    /// lavapipe at 16M f32, × the 2-stream floor, by turns in one binary:
    /// before → in lines, 256 channels 1.315 → 1.045, 128 1.280 → 1.080,
    /// 64 (a period apart before) 1.220 → 1.035, 16 1.450 → 1.020, 512
    /// (two sets) 1.24 → 1.09; three rounds, the kernel their repeating
    /// weights take otherwise (items a period or WG apart) / lines: 16
    /// 1.31 / 0.94, 64 1.17 / 1.02, 128 1.34 / 1.05, 256 1.40 / 1.06, 512
    /// 1.34 / 1.08. 32 reads better a period apart (1.12 against 1.145).
    ///
    /// Every other channels-last count (`None`) takes the walk, but 4, 8
    /// and 32, whose items lie a period apart (`plain_kernel`): the table
    /// one load a vec4, items side by side, read worse or level against
    /// the walk in three rounds by turns, table / walk: 37 1.25 / 1.11, 99
    /// 1.28 / 1.18, 132 1.29 / 1.22, 255 1.28 / 1.19, 48 1.29 / 1.21, 768
    /// 1.27 / 1.26; and where an invocation held the table's few vec4s, 7
    /// 1.29 / 1.16, 24 1.26 / 1.16, 3 1.21 / 1.18, 12 1.18 / 1.17, 20 1.18
    /// / 1.17. The dense layer of 1,024 read 1.28–1.33 from the table and
    /// 1.09–1.175 with the walk, in separate comparisons (`plain_kernel`).
    /// Four sets for
    /// 1,024 channels read 1.46 against 1.30, lines of a whole period
    /// (sixteen or thirty-two weights a line) 1.19–1.46, lines a period
    /// apart 1.40 against 1.31 for 512 (BENCHMARKS.md).
    pub(crate) fn table(channels: &Channels) -> Option<Self> {
        let c = channels.channels;
        let vec4s = (c / 4) as u32;
        let period_apart = c <= 4 * CLOSEST_STEP as usize
            && (4 * WORKGROUP_SIZE as usize).is_multiple_of(c)
            && c != 16
            && c != 64;
        // The lines a period spans, where it divides one or is whole
        // lines long.
        let phases = vec4s.div_ceil(LINE_VEC4S);
        let lines = match phases {
            0 => false,
            1 => LINE_VEC4S.is_multiple_of(vec4s),
            _ => vec4s == phases * LINE_VEC4S && phases <= MOST_TABLE_PHASES,
        };
        let fits = channels.inner == 1
            && c.is_multiple_of(4)
            && c <= TABLE_CHANNELS
            && lines
            && !period_apart;
        fits.then_some(Self {
            item_step: 1,
            table: true,
            phases,
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
            (self.table_loads, "TABLE_LOADS"),
        ]
        .into_iter()
        .filter(|&(on, _)| on)
        .map(|(_, name)| (name, 1.0))
        .chain(self.table.then_some(("TABLE_HELD", f64::from(items(true)))))
        .chain((self.phases > 1).then_some(("TABLE_PHASES", f64::from(self.phases))))
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
    /// adapter where the weights repeat with the items side by side or
    /// a period apart (runs of whole workgroup spans, channels-last with
    /// a count that divides 64, one shared weight), f32. With eight vec4s
    /// an invocation (`kernel::items`) it loads one
    /// weight per eight vec4s, side by side or a period apart
    /// (`Weights::item_step`), where the walk's columns load a row's lane
    /// weights and its runs one per four to eight vec4s: on lavapipe at
    /// 16M, `[1, 64, n/64]`'s forward 1.34 → 1.15 × the 2-stream floor and
    /// channels-last 64's 1.44 → 1.30 on the fifth machine, 1.17 → 1.08
    /// and 1.16 → 1.10 on the sixth (BENCHMARKS.md). The f16 kernels stay
    /// with the walk, which takes halves as words on CPU adapters, and so
    /// do operands off a multiple of four elements, which the element-wise
    /// template takes one element at a time, each with its own weight.
    /// Channels-last with 16, 64, 128, 256 or 512 channels takes its
    /// items in lines, their weights held from the engine's table
    /// (`Weights::table`).
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
    // Weights that repeat only WG apart (periods of 128 to 1,024 elements:
    // the dense layer of 1,024, NCHW's [n, 4, 8, 8] and [n, 16, 8, 8])
    // would put the items WG apart: the walk read 1.09, 1.10 and 1.07 ×
    // the 2-stream floor where they read 1.35, 1.21 and 1.33 (lavapipe at
    // 16M f32, three rounds by turns; BENCHMARKS.md).
    let close = weights.item_step < WORKGROUP_SIZE;
    let fetch = (weights.repeat && close) || weights.table;
    match cpu_adapter && !gradient && fetch && f32_on_vec4s {
        true => Plain::Elementwise,
        false => Plain::Walk,
    }
}

#[cfg(test)]
mod tests;
