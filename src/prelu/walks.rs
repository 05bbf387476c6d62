//! The two walks of the weight gradient's plan (`plan.rs`): where `Runs`
//! and `Columns` put each invocation's vec4s, and the chunks and partials
//! that follow. Pure, as the plan is.

use crate::engine::WORKGROUP_SIZE;

use super::plan::{Chunk, Layout, Pass1, Pass2, Plan};

/// vec4s an invocation of `weight_grad_runs` takes, side by side.
pub(crate) const RUN_ITEMS: u64 = 4;
/// Rows of vec4s an invocation of `weight_grad_columns` takes, a row apart:
/// each of its four lanes' partials sums 16 elements.
pub(crate) const COLUMN_ROWS: u64 = 16;
/// The longest row (vec4s) whose lane weights are made in scratch before
/// the columns walk (1 MiB of f32); longer rows find them in the walk.
pub(crate) const LANE_WEIGHT_ROW_UP_TO: u64 = 1 << 16;
/// Columns' rows are one workgroup wide where that is this many vec4s or
/// more (3 KiB of f32).
pub(crate) const ONE_GROUP_FROM: u64 = 192;

/// Where run r's vec4s are: those starting inside it, `first..=last` (its
/// last may reach into run r + 1).
pub(crate) fn run_vec4s(r: u64, inner: u64) -> (u64, u64) {
    let start = r * inner;
    (start.div_ceil(4), (start + inner - 1) / 4)
}

/// `Runs`: `per_run` invocations of `RUN_ITEMS` vec4s per run, one partial
/// each after the run's head; chunks of whole invocations within a binding.
pub(crate) fn runs(layout: Layout, chunk: u64) -> Plan {
    let Layout {
        outer,
        channels: c,
        inner,
    } = layout;
    let total = outer * c * inner;
    let runs = outer * c;
    // The most vec4s that start inside one run.
    let per_run = inner.div_ceil(4).div_ceil(RUN_ITEMS).max(1);
    // Runs that end inside a vec4 have a head before their partials.
    let head = u64::from(!inner.is_multiple_of(4));
    // Pass 2 reads a channel's partials as vec4s where each run's lie in
    // fours: for long runs, worth the idle invocations that pad them.
    let slots = match per_run >= 16 {
        true => (per_run + head).next_multiple_of(4),
        false => per_run + head,
    };
    let per_run = slots - head;
    let threads = runs * per_run;
    let vec4s = |t: u64| {
        let (r, j) = (t / per_run, t % per_run);
        let (first, last) = run_vec4s(r, inner);
        let start = (first + j * RUN_ITEMS).min(last + 1);
        (start, (start + RUN_ITEMS).min(last + 1))
    };
    // Invocations per chunk: their vec4s, from the first's start, within
    // a binding.
    let per_chunk = (chunk / (4 * RUN_ITEMS)).max(1);
    let mut chunks = Vec::new();
    let mut t0 = 0;
    while t0 < threads {
        let t1 = (t0 + per_chunk).min(threads);
        let first = 4 * vec4s(t0).0;
        let end = (4 * vec4s(t1 - 1).1).min(total).max(first);
        // A chunk writes its invocations' partials and the heads of the
        // runs that start inside its last vec4s.
        let p0 = (t0 / per_run) * slots;
        let p1 = ((t1 - 1) / per_run + 1 + head) * slots;
        chunks.push(Chunk {
            first,
            elements: end - first,
            base: t0,
            items: t1 - t0,
            workgroups: (t1 - t0).div_ceil(u64::from(WORKGROUP_SIZE)),
            partials: (p0, p1.min(runs * slots)),
        });
        t0 = t1;
    }
    Plan {
        pass1: Pass1::Runs,
        inner,
        per_run,
        slots,
        row: 0,
        row_groups: 0,
        rows: 0,
        chunks,
        partials: runs * slots,
        fold_rows: 0,
        reduced: 0,
        a_stride: c * slots,
        b_count: slots,
        pass2: Pass2::Narrow,
        slabs: Vec::new(),
    }
}

/// The rows of `Columns`, where they fit: `row` vec4s, the fewest periods
/// that make at least 256 vec4s (4 KiB of f32) and a whole number of
/// vec4s; `rows` of them per block, within a binding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns {
    row: u64,
    rows: u64,
}

impl Columns {
    pub(crate) fn new(period: u64, chunk: u64) -> Option<Self> {
        if period == 0 {
            return None;
        }
        // vec4s in the least common multiple of the period and 4.
        let step = period / gcd(period, 4);
        // One workgroup's worth where that leaves rows 3 KiB apart or
        // more (the workgroup then as wide as the row: `Plan::workgroup`);
        // else the fewest workgroups past it (a second, nearly idle
        // workgroup per block cost lavapipe as much as a full one).
        let wg = u64::from(WORKGROUP_SIZE);
        let within = wg / step * step;
        let row = match within >= ONE_GROUP_FROM {
            true => within,
            false => step * wg.div_ceil(step),
        };
        let rows = COLUMN_ROWS.min(chunk / (4 * row));
        (rows > 0).then_some(Self { row, rows })
    }

    /// The plan over `total` elements of `period`-element periods: a
    /// block's partials are its row's lanes, a whole number of periods,
    /// channel c's `inner` of each at c * inner.
    pub(crate) fn plan(self, total: u64, period: u64, inner: u64, chunk: u64) -> Plan {
        let Self { row, rows } = self;
        let block = 4 * row * rows; // elements
        let blocks = total.div_ceil(block);
        let row_groups = row.div_ceil(u64::from(WORKGROUP_SIZE));
        let per_chunk = (chunk / block).max(1);
        let mut chunks = Vec::new();
        let mut b0 = 0;
        while b0 < blocks {
            let b1 = (b0 + per_chunk).min(blocks);
            let first = (b0 * block).min(total);
            chunks.push(Chunk {
                first,
                elements: (b1 * block).min(total) - first,
                base: b0,
                items: b1 - b0,
                workgroups: (b1 - b0) * row_groups,
                partials: (b0 * 4 * row, b1 * 4 * row),
            });
            b0 = b1;
        }
        Plan {
            pass1: Pass1::Columns,
            inner,
            per_run: 0,
            slots: 0,
            row,
            row_groups,
            rows,
            chunks,
            partials: blocks * 4 * row,
            fold_rows: 0,
            reduced: 0,
            a_stride: period,
            b_count: inner,
            pass2: Pass2::Narrow,
            slabs: Vec::new(),
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    match b {
        0 => a,
        _ => gcd(b, a % b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `chunk_elements` gives it for f32 under WebGPU's default limits.
    const CHUNK: u64 = ((128 << 20) - 252) / 4 / 4096 * 4096;

    /// Columns: a row is a whole number of periods and of vec4s, at least
    /// 3 KiB of f32, and as near one workgroup's 256 vec4s as it can be.
    #[test]
    fn column_rows_hold_whole_periods() {
        for period in [
            1u64, 2, 3, 4, 7, 37, 64, 96, 255, 256, 257, 1000, 1001, 1024, 4096, 25088,
        ] {
            let columns = Columns::new(period, CHUNK).unwrap();
            assert!((4 * columns.row).is_multiple_of(period), "{period}");
            assert!(columns.row >= ONE_GROUP_FROM, "{period}");
            let step = period / gcd(period, 4);
            // One workgroup wide where a multiple of the step fits one,
            // else the least multiple past it.
            match step <= 256 && 256 / step * step >= ONE_GROUP_FROM {
                true => assert!(columns.row <= 256 && columns.row + step > 256, "{period}"),
                false => assert!(columns.row >= 256 && columns.row < 256 + step, "{period}"),
            }
        }
    }

    /// Runs: every vec4 that starts in the tensor belongs to one invocation,
    /// each invocation's vec4s start in its own run, and none crosses two
    /// run ends.
    #[test]
    fn runs_give_every_vec4_one_invocation() {
        for inner in [4u64, 5, 6, 7, 9, 16, 17, 49, 63, 64, 65, 784, 9009] {
            let runs = 9;
            let plan = runs_plan(inner, runs);
            let mut next = 0;
            for r in 0..runs {
                let (first, last) = run_vec4s(r, inner);
                assert_eq!(first, next, "inner {inner}, run {r}");
                assert!(
                    4 * first >= r * inner && 4 * last < (r + 1) * inner,
                    "inner {inner}"
                );
                assert!(
                    4 * last + 3 < (r + 2) * inner,
                    "inner {inner}: two run ends"
                );
                assert!(
                    last + 1 - first <= plan.per_run * RUN_ITEMS,
                    "inner {inner}"
                );
                next = last + 1;
            }
        }
    }

    fn runs_plan(inner: u64, runs: u64) -> Plan {
        let layout = Layout {
            outer: runs,
            channels: 1,
            inner,
        };
        super::runs(layout, CHUNK)
    }
}
