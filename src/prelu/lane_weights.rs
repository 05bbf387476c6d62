//! Where PReLU's walks find each invocation's weights (`placed.rs`): a
//! pure choice by the plan, the weight's count and place, and the kind of
//! adapter.

use super::plan::{Pass1, Plan};
use super::walks;
use super::weights::TABLE_CHANNELS;

/// How the walk finds each invocation's weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LaneWeights {
    /// Columns: four consecutive channels, one vec4 of the weights
    /// (channels last, a multiple of four of them, on a multiple of four).
    Direct,
    /// Columns: one vec4 of a row of lane weights made before the walk in
    /// scratch.
    Row,
    /// Runs: each run's weight from the engine's table, into which a
    /// dispatch copies the weights before the walk.
    Table,
    /// The walk finds them itself: runs (a weight per run), and columns
    /// whose rows are too long for the row.
    InWalk,
}

impl LaneWeights {
    /// Where the walk of `plan` finds its weights, `channels` of them bound
    /// `w_elem_off` elements into their binding. On a CPU adapter the runs
    /// walk reads them from the table where it holds them: lavapipe loads
    /// a storage weight lane by lane, a uniform one in one gather. On
    /// lavapipe at 16M f32, × the floor, four rounds by turns in one
    /// binary, batched NCHW (runs of 3,136, 784, 50,176 and 9,009): the
    /// forward 1.02–1.19 → 1.04–1.15, the input gradient alone 1.17–1.24 →
    /// 1.10–1.17, with the weight gradient 1.27–1.35 → 1.24–1.31
    /// (BENCHMARKS.md).
    pub(super) fn choose(plan: &Plan, channels: u64, w_elem_off: u32, cpu_adapter: bool) -> Self {
        let runs = plan.pass1 == Pass1::Runs;
        let table = runs && cpu_adapter && channels <= TABLE_CHANNELS as u64;
        let fours = plan.inner == 1 && channels.is_multiple_of(4);
        match () {
            _ if table => Self::Table,
            _ if runs => Self::InWalk,
            _ if fours && w_elem_off.is_multiple_of(4) => Self::Direct,
            _ if plan.row <= walks::LANE_WEIGHT_ROW_UP_TO => Self::Row,
            _ => Self::InWalk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LaneWeights::{self, Direct, InWalk, Row, Table};
    use crate::prelu::plan::{plan, Layout, Limits};

    /// Where each class's walk finds its weights, on each kind of adapter:
    /// the runs walk from the engine's table on a CPU adapter where it
    /// holds them, the columns walk as one vec4 of the weight or of a row
    /// of lane weights.
    #[test]
    fn lane_weights_per_class() {
        let limits = Limits {
            chunk: ((128 << 20) - 252) / 4 / 4096 * 4096,
            binding: 128 << 20,
            align: 256,
        };
        let choose = |[outer, channels, inner]: [u64; 3], w_off: u32, cpu: bool| {
            let layout = Layout {
                outer,
                channels,
                inner,
            };
            LaneWeights::choose(&plan(layout, limits).unwrap(), channels, w_off, cpu)
        };
        // [outer, channels, inner], the weight's offset, and the choice on a
        // CPU adapter and on a GPU.
        let cases: [([u64; 3], u32, LaneWeights, LaneWeights); 9] = [
            ([80, 64, 3136], 0, Table, InWalk),    // batched NCHW: runs
            ([111, 3, 50_176], 0, Table, InWalk),  // an RGB batch
            ([50, 37, 9009], 3, Table, InWalk),    // odd runs, an odd offset
            ([4, 1024, 1024], 0, Table, InWalk),   // the most the table holds
            ([16, 1, 1 << 20], 0, Table, InWalk),  // one shared weight
            ([4, 4096, 1024], 0, InWalk, InWalk),  // more than the table holds
            ([250_880, 64, 1], 0, Direct, Direct), // channels-last
            ([250_880, 64, 1], 2, Row, Row),       // channels-last off a vec4
            ([640, 512, 49], 0, Row, Row),         // short runs: columns
        ];
        for (layout, w_off, cpu, gpu) in cases {
            assert_eq!(choose(layout, w_off, true), cpu, "CPU {layout:?}");
            assert_eq!(choose(layout, w_off, false), gpu, "GPU {layout:?}");
        }
    }
}
