//! The walks' places: every vec4 one item, the tail's item alone, short
//! runs fitted.

use super::*;

/// As `chunk_elements` gives it for f32 under WebGPU's default limits.
const CHUNK: u64 = ((128 << 20) - 252) / 4 / 4096 * 4096;

/// Columns: a row is a whole number of periods and of vec4s; as many
/// steps as one workgroup holds where a step fits one, else the fewest
/// whose workgroups average `BUSY_SHARE_FROM` vec4s or more and are not
/// two, while a block of rows fits a binding.
#[test]
fn column_rows_hold_whole_periods() {
    let wg = 256;
    let average = |row: u64| row / row.div_ceil(wg);
    let settled =
        |row: u64| average(row) >= BUSY_SHARE_FROM && row.div_ceil(wg) != ROW_GROUPS_SHUNNED;
    for period in [
        1u64, 2, 3, 4, 7, 37, 64, 93, 96, 131, 255, 256, 257, 372, 509, 513, 1000, 1001, 1024,
        1800, 2048, 2112, 4096, 25088, 100_003,
    ] {
        let columns = Columns::new(period, CHUNK).unwrap();
        assert!((4 * columns.row).is_multiple_of(period), "{period}");
        let step = period / gcd(period, 4);
        assert!(columns.row.is_multiple_of(step), "{period}");
        match step <= wg {
            true => assert!(columns.row <= wg && columns.row + step > wg, "{period}"),
            false => {
                // Busy workgroups, never two a row, from the fewest steps.
                assert!(settled(columns.row), "{period}");
                let steps = columns.row / step;
                assert!((1..steps).all(|k| !settled(k * step)), "{period}");
            }
        }
    }
    // Rows grow only while a block of sixteen fits a binding.
    let block = |row: u64| 4 * row * COLUMN_ROWS;
    assert_eq!(Columns::new(257, block(257)).unwrap().row, 257);
    assert_eq!(Columns::new(257, block(3 * 257)).unwrap().row, 3 * 257);
    // A step two busy workgroups wide (channels-last 2,048: 512 vec4s)
    // takes two, four workgroups, where a block of them fits.
    assert_eq!(Columns::new(2048, CHUNK).unwrap().row, 1024);
    assert_eq!(Columns::new(2048, block(512)).unwrap().row, 512);
}

/// Runs: every vec4 that starts in the tensor belongs to one invocation,
/// each invocation's vec4s start in its own run, and none crosses two
/// run ends.
#[test]
fn runs_give_every_vec4_one_invocation() {
    for inner in [
        4u64, 5, 6, 7, 9, 16, 17, 49, 63, 64, 65, 81, 100, 252, 784, 9009,
    ] {
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
                last + 1 - first <= plan.per_run * plan.items,
                "inner {inner}"
            );
            next = last + 1;
        }
    }
}

/// The tail's item is the one item whose walk reaches the tensor's
/// partial last vec4 (each invocation tested as the kernels test it),
/// and the pieces of the chunks dispatch every item once, the tail's
/// alone and with the tail's kernel, in chunks of one or many.
#[test]
fn the_tail_is_one_item_dispatched_alone() {
    let walks: Vec<(Plan, u64)> = [(5u64, 9u64), (9009, 7), (7, 3), (6, 3), (17, 1)]
        .into_iter()
        .flat_map(|(inner, runs)| {
            let layout = Layout {
                outer: runs,
                channels: 1,
                inner,
            };
            [CHUNK, 64].map(|chunk| (super::runs(layout, chunk), inner * runs))
        })
        .chain(
            [(37u64, 385u64), (3, 4001), (21, 9), (35, 65)]
                .into_iter()
                .flat_map(|(period, rows)| {
                    [CHUNK, 4096].map(|chunk| {
                        let columns = Columns::new(period, chunk).unwrap();
                        (columns.plan(rows * period, period, 1, chunk), rows * period)
                    })
                }),
        )
        .collect();
    for (plan, total) in walks {
        let at = format!("{:?}, {total} elements", plan.pass1);
        assert!(!total.is_multiple_of(4), "{at}");
        let whole = total / 4;
        let reaches = |item: u64| match plan.pass1 {
            Pass1::Runs => {
                let (r, j) = (item / plan.per_run, item % plan.per_run);
                let (first, last) = run_vec4s(r, plan.inner);
                let v0 = (first + plan.items * j).min(last + 1);
                let v1 = (v0 + plan.items).min(last + 1);
                v0 <= whole && whole < v1
            }
            Pass1::Columns => (0..plan.row).any(|q| {
                let first = item * plan.rows * plan.row + q;
                let past = whole.wrapping_sub(first);
                whole >= first && past < plan.rows * plan.row && past.is_multiple_of(plan.row)
            }),
        };
        let items: u64 = plan.chunks.iter().map(|c| c.items).sum();
        let reached: Vec<u64> = (0..items).filter(|&i| reaches(i)).collect();
        assert_eq!(reached, [plan.tail_item(total).unwrap()], "{at}");
        let mut next = 0;
        let mut tails = Vec::new();
        for chunk in &plan.chunks {
            let pieces = plan.pieces(chunk, total);
            assert_eq!(pieces[0].base, chunk.base, "{at}");
            for piece in pieces {
                assert_eq!(piece.base, next, "{at}");
                assert!(piece.items > 0, "{at}");
                assert_eq!(piece.workgroups, plan.workgroups(piece.items), "{at}");
                if piece.tail {
                    tails.push((piece.base, piece.items));
                }
                next += piece.items;
            }
            assert_eq!(next, chunk.base + chunk.items, "{at}");
        }
        assert_eq!(next, items, "{at}");
        assert_eq!(tails, [(reached[0], 1)], "{at}");
    }
    // A whole number of vec4s has no tail, and one piece a chunk.
    let plan = runs_plan(64, 9);
    assert_eq!(plan.tail_item(64 * 9), None);
    assert_eq!(plan.pieces(&plan.chunks[0], 64 * 9).len(), 1);
}

/// Runs take the vec4s per invocation that cost them least, each
/// invocation its places and a vec4's worth of set-up, counting the
/// invocations that pad long runs' partials to fours; the most on a tie.
#[test]
fn runs_fit_the_vec4s_an_invocation_takes() {
    // A run's invocations, padding included, each its places and set-up.
    let cost = |inner: u64, head: u64, items: u64| {
        (run_slots(inner.div_ceil(4).div_ceil(items), head) - head) * (items + 1)
    };
    for (inner, items) in [
        (4u64, 4u64), // one vec4: four places at least
        (5, 4),
        (64, 8),   // 16 vec4s: two of eight, not four of four
        (65, 6),   // 17: 18 places, not 20
        (68, 6),   // the same 17, whole
        (81, 7),   // 21: 21, not 24
        (100, 5),  // 25: 25, not 28
        (129, 7),  // 33: five of seven, not seven of five
        (150, 8),  // 38: 40 in five, not ten
        (252, 8),  // 63: 64 in eight, as dear as 63 in nine
        (253, 8),  // 64 and a head: eight of eight, not 16 of four padded to 19
        (256, 8),  // 64, whole: eight of eight
        (784, 7),  // 196: 28 of seven, not 25 of eight
        (3136, 7), // 784: 112 of seven, not 98 of eight padded to 100
        (9009, 8), // 2,253 and a head: 282 of eight, 284 partials
    ] {
        let head = u64::from(!inner.is_multiple_of(4));
        assert_eq!(run_items(inner, head), items, "runs of {inner}");
        assert_eq!(runs_plan(inner, 3).items, items, "runs of {inner}");
    }
    for inner in 1..5000 {
        for head in [0, 1] {
            let items = run_items(inner, head);
            assert!((RUN_ITEMS..=RUN_ITEMS_MAX).contains(&items), "{inner}");
            for other in RUN_ITEMS..=RUN_ITEMS_MAX {
                let (mine, theirs) = (cost(inner, head, items), cost(inner, head, other));
                assert!(
                    mine < theirs || (mine == theirs && items >= other),
                    "{inner}"
                );
            }
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
