//! The planner against a table of shapes: each class takes its path.

use super::*;

/// WebGPU's default limits: 128 MiB bindings, 256-byte alignment, as
/// `chunk_elements` gives them for f32.
const DEFAULT: Limits = Limits {
    chunk: ((128 << 20) - 252) / 4 / 4096 * 4096,
    binding: 128 << 20,
    align: 256,
};

/// `[outer, channels, inner...]`, or `[outer..., channels]` with the
/// channel axis last where `last` (channels-last, a dense layer).
fn layout(shape: &[u64], last: bool) -> Layout {
    match last {
        false => Layout {
            outer: shape[0],
            channels: shape[1],
            inner: shape[2..].iter().product(),
        },
        true => Layout {
            outer: shape[..shape.len() - 1].iter().product(),
            channels: shape[shape.len() - 1],
            inner: 1,
        },
    }
}

/// The planner's choice for each class of shape: one image or a batch,
/// runs of every length from 1 to a million, channels-last with 1 to
/// 4,096 channels, a dense layer, odd counts, one shared weight; and which
/// fold comes before pass 2 (none where the partials are few).
#[test]
fn each_shape_class_takes_its_path() {
    use Folds::*;
    use Pass1::*;
    use Pass2::*;
    /// Which fold, if any, comes before pass 2.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Folds {
        No,
        FoldRows,
        FoldRowsVec4,
        FoldRuns,
    }
    let table: [(&[u64], bool, Pass1, Pass2, Folds); 28] = [
        (&[1, 64, 512, 512], false, Runs, NarrowVec4, FoldRuns), // one large image: long runs
        (&[1, 2, 65536], false, Runs, WideVec4, No),             // two channels, few partials
        (&[80, 64, 56, 56], false, Runs, NarrowVec4, FoldRuns),  // a batch of 56x56: runs of 3,136
        (&[80, 256, 28, 28], false, Runs, NarrowVec4, FoldRuns), // runs of 784
        (&[111, 3, 224, 224], false, Runs, WideVec4, FoldRuns),  // an RGB batch
        (&[50, 37, 99, 91], false, Runs, NarrowVec4, FoldRuns),  // odd everything: runs of 9,009
        (&[4, 3, 1_000_003], false, Runs, WideVec4, FoldRuns),   // odd runs of a million
        (&[8, 2, 1000, 1000], false, Runs, WideVec4, FoldRuns),  // a batch of runs of a million
        (&[64, 1, 512, 512], false, Runs, WideVec4, FoldRuns),   // one shared weight, 16M
        (&[4033, 64, 65], false, Runs, WideVec4, FoldRowsVec4),  // many short odd runs
        (&[1, 64, 56, 56], false, Runs, NarrowVec4, No), // one image: 200 partials a channel
        (&[4, 3, 3000], false, Runs, NarrowVec4, No),    // four rows
        (&[2, 40, 5], false, Runs, Narrow, No),          // short odd runs, few rows
        (&[640, 512, 7, 7], false, Columns, NarrowVec4, No), // runs of 49 in a batch
        (&[300, 4, 7], false, Columns, Wide, No),        // runs of 7
        (&[9, 3, 7], false, Columns, Wide, No),          // rows of 21 elements
        (
            &[16384, 1024],
            true,
            Columns,
            FourChannelsVec4,
            FoldRowsVec4,
        ), // a dense layer
        (
            &[80, 56, 56, 64],
            true,
            Columns,
            FourChannelsVec4,
            FoldRowsVec4,
        ), // channels-last 64
        (&[111, 224, 224, 3], true, Columns, Wide, FoldRowsVec4), // channels-last 3
        (&[50, 99, 91, 37], true, Columns, FourChannels, FoldRowsVec4), // channels-last 37
        (&[4000, 3, 100], false, Runs, Wide, FoldRows),  // runs of 100: rows of 15
        (&[4096, 4096], true, Columns, FourChannelsVec4, No), // 4,096 channels
        (&[2000, 1001], true, Columns, FourChannels, No), // an odd count past 1,024
        (&[40000, 1], true, Runs, WideVec4, No),         // one channel: one run
        (&[1, 1, 40000], false, Runs, WideVec4, No),     // one shared weight
        (&[1000, 1], false, Runs, NarrowVec4, No),       // one weight, a short tensor
        (&[3, 1000, 2], false, Columns, Narrow, No),     // runs of 2, three rows
        (&[0, 3, 5], false, Runs, Narrow, No),           // empty
    ];
    let mut wrong = Vec::new();
    for (shape, last, pass1, pass2, folds) in table {
        let layout = layout(shape, last);
        let plan = plan(layout, DEFAULT).unwrap();
        let fold = match plan.fold {
            Fold::None => No,
            Fold::Rows => FoldRows,
            Fold::RowsVec4 => FoldRowsVec4,
            Fold::Runs => FoldRuns,
        };
        if (plan.pass1, plan.pass2, fold) != (pass1, pass2, folds) {
            wrong.push(format!(
                "{shape:?}: {:?} {:?} {:?}",
                plan.pass1, plan.pass2, plan.fold
            ));
        }
        assert_eq!(plan.slabs.len(), 1, "{shape:?}: partials fit one binding");
        // The chunks cover the tensor once, in order, each within a
        // binding, from a multiple of four.
        let mut next = 0;
        for chunk in &plan.chunks {
            assert_eq!(chunk.first, next, "{shape:?}");
            assert!(chunk.first.is_multiple_of(4), "{shape:?}");
            assert!(chunk.elements <= DEFAULT.chunk, "{shape:?}");
            assert!(chunk.partials.1 <= plan.partials, "{shape:?}");
            next += chunk.elements;
        }
        assert_eq!(next, shape.iter().product::<u64>(), "{shape:?}");
        // Every channel has as many partials, in rows of b_count, and a
        // fold leaves pass 2 a quarter of them or fewer.
        let c = layout.channels.max(1);
        assert_eq!(plan.reduced % (c * plan.b_count.max(1)), 0, "{shape:?}");
        if plan.fold != Fold::None {
            assert!(plan.reduced * 4 <= plan.partials, "{shape:?}");
        }
        // Partials stay a small fraction of the tensor where it is large.
        let n = shape.iter().product::<u64>();
        if n >= 1 << 20 {
            assert!(
                plan.partials * 7 <= n,
                "{shape:?}: {} partials",
                plan.partials
            );
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Rows of partials 512 bytes apart or more are what a software rasteriser's
/// fold and pass 2 read a row at a time (`rows_apart`); nearer rows, which
/// a SIMD group's walk down them reads a stretch at a time anyway, are not.
#[test]
fn far_rows_of_partials_are_read_a_row_at_a_time() {
    let table: [(&[u64], bool, bool); 8] = [
        (&[4096, 4096], true, true),     // a dense layer: rows 4,096 floats apart
        (&[640, 7, 7, 512], true, true), // channels-last 512
        (&[320, 14, 14, 256], true, true), // channels-last 256
        (&[1024, 128, 1, 128], true, true), // channels-last 128: the least that is
        (&[4033, 64, 65], false, true),  // runs of 65 in 64 channels: 256 (four a run)
        (&[80, 56, 56, 64], true, false), // channels-last 64
        (&[4100, 3, 65], false, false),  // runs of 65 in 3 channels: 12
        (&[50, 99, 91, 37], true, false), // channels-last 37
    ];
    for (shape, last, apart) in table {
        let plan = plan(layout(shape, last), DEFAULT).unwrap();
        assert_eq!(
            plan.rows_apart(),
            apart,
            "{shape:?}: rows {} apart",
            plan.a_stride
        );
    }
}

/// The fold after columns adds rows of whole vec4s whatever the channel
/// count: the fewest periods that are a multiple of four (a block's
/// partials hold a whole number of them). Runs' rows are a period each.
#[test]
fn the_columns_fold_reads_vec4s_whatever_the_period() {
    let table: [(&[u64], bool, u64); 6] = [
        (&[111, 224, 224, 3], true, 12),
        (&[50, 99, 91, 37], true, 148),
        (&[16761, 1001], true, 4004),
        (&[80, 56, 56, 64], true, 64),
        (&[16384, 1024], true, 1024),
        (&[300, 3, 100], false, 15), // runs: five partials a run
    ];
    for (shape, last, stride) in table {
        let plan = plan(layout(shape, last), DEFAULT).unwrap();
        assert_eq!(plan.fold_stride, stride, "{shape:?}");
        assert!(plan.partials.is_multiple_of(stride), "{shape:?}");
        assert_eq!(plan.fold == Fold::RowsVec4, stride % 4 == 0, "{shape:?}");
        assert_eq!(plan.reduced % plan.a_stride, 0, "{shape:?}");
    }
}

/// Past one binding, chunks still split the tensor exactly.
#[test]
fn chunks_split_where_a_binding_ends() {
    let small = Limits {
        chunk: 4096,
        binding: 1 << 20,
        align: 256,
    };
    for (shape, last) in [(&[3u64, 5, 10007][..], false), (&[700, 37][..], true)] {
        let plan = plan(layout(shape, last), small).unwrap();
        assert!(plan.chunks.len() > 1, "{shape:?}");
        let mut next = 0;
        for chunk in &plan.chunks {
            assert_eq!(chunk.first, next, "{shape:?}");
            assert!(chunk.elements <= small.chunk, "{shape:?}");
            next += chunk.elements;
        }
        assert_eq!(next, shape.iter().product::<u64>());
    }
}

/// A columns row of steps no longer than the engine's workgroup is the
/// workgroup, one a row, however short; longer rows split evenly over the
/// fewest workgroups that hold them, in whole SIMD groups; runs take the
/// engine's. A software rasteriser's barriers come after each row where a
/// workgroup holds it, after every fourth where it is wider; its
/// invocations take two columns side by side where a workgroup holds the
/// row, its workgroup then half as many (an odd row's last invocation
/// with one column), and one in wider rows.
#[test]
fn columns_rows_split_evenly_over_their_workgroups() {
    // Shape, channels last, and: the workgroup on a GPU and on a CPU, the
    // workgroups a row, the rows between two barriers.
    let table: [(&[u64], bool, [u64; 4]); 14] = [
        (&[50, 99, 91, 37], true, [222, 111, 1, 1]), // 6 periods of 37 vec4s
        (&[111, 224, 224, 3], true, [255, 128, 1, 1]),
        (&[80, 56, 56, 64], true, [256, 128, 1, 1]),
        (&[128070, 131], true, [131, 66, 1, 1]), // a step of 131 vec4s
        (&[180400, 93], true, [186, 93, 1, 1]),  // two steps of 93
        (&[640, 512, 7, 7], false, [256, 256, 25, 4]), // rows of 6,272 vec4s
        (&[7943, 64, 33], false, [232, 232, 7, 4]), // three steps of 528 vec4s: 1,584
        (&[65280, 257], true, [232, 232, 8, 4]), // seven steps of 257: 1,799
        (&[32700, 513], true, [232, 232, 9, 4]), // four steps of 513: 2,052
        (&[300, 1001], true, [256, 256, 4, 4]),  // rows of 1,001 vec4s
        (&[4096, 4096], true, [256, 256, 4, 4]), // rows of 1,024 vec4s
        (&[8192, 2048], true, [256, 256, 4, 4]), // two steps of 512, not one over two
        (&[8192, 1800], true, [232, 232, 4, 4]), // two steps of 450: 900
        (&[80, 64, 56, 56], false, [256, 256, 0, 1]), // runs
    ];
    for (shape, last, [workgroup, cpu_workgroup, row_groups, barrier_rows]) in table {
        let plan = plan(layout(shape, last), DEFAULT).unwrap();
        assert_eq!(plan.workgroup(false), workgroup, "{shape:?}");
        assert_eq!(plan.workgroup(true), cpu_workgroup, "{shape:?}");
        let columns = plan.columns_each(true);
        assert_eq!(columns, 1 + u64::from(row_groups == 1), "{shape:?}");
        assert_eq!(plan.columns_each(false), 1, "{shape:?}");
        assert!(
            cpu_workgroup * columns >= workgroup.min(plan.row),
            "{shape:?}"
        );
        assert_eq!(plan.row_groups, row_groups, "{shape:?}");
        assert_eq!(plan.barrier_rows(), barrier_rows, "{shape:?}");
        if plan.pass1 == Pass1::Columns {
            // The row's workgroups hold it, each a whole number of SIMD
            // groups where there are several, fewer than a SIMD group
            // idle each.
            let held = workgroup * row_groups;
            assert!(
                held >= plan.row && held < plan.row + 8 * row_groups,
                "{shape:?}"
            );
            assert!(row_groups == 1 || workgroup % 8 == 0, "{shape:?}");
        }
    }
}

/// The plan depends on the shape and the limits only: the same shape
/// always gets the same plan.
#[test]
fn the_plan_is_a_function_of_shape_and_limits() {
    let a = plan(layout(&[16, 64, 28, 28], false), DEFAULT).unwrap();
    let b = plan(layout(&[16, 64, 28, 28], false), DEFAULT).unwrap();
    assert_eq!(a.chunks, b.chunks);
    assert_eq!(a.slabs, b.slabs);
}

/// Runs that end inside a vec4 leave their last vec4's next-run lanes to a
/// head partial, but a single run (one shared weight over an odd count)
/// has no next run: its last vec4 is the tensor's, and it runs without the
/// ragged selects.
#[test]
fn a_single_odd_run_is_not_ragged() {
    for (shape, ragged) in [
        (&[1u64, 1, 600_001][..], false),
        (&[10, 1, 1_677_721], false), // one shared weight: one run
        (&[2, 3, 8191], true),
        (&[1, 2, 8191], true),
    ] {
        let n = shape.iter().product();
        let plan = plan(layout(shape, false), DEFAULT).unwrap();
        assert_eq!(walks::ragged(plan.inner, n), ragged, "{shape:?}");
        assert_eq!(plan.slots - plan.per_run, u64::from(ragged), "{shape:?}");
    }
}

/// The forward and the input gradient alone, which leave no partials,
/// take the runs walk from runs of 32 in a batch; the weight gradient from
/// runs of 64. Channels-last and runs shorter than 32 keep columns.
#[test]
fn the_walk_alone_takes_runs_from_32() {
    use Pass1::*;
    let table: [(&[u64], bool, Pass1, Pass1); 7] = [
        (&[640, 512, 7, 7], false, Columns, Runs), // runs of 49
        (&[7943, 64, 33], false, Columns, Runs),
        (&[100, 3, 32], false, Columns, Runs),
        (&[100, 3, 31], false, Columns, Columns),
        (&[300, 4, 7], false, Columns, Columns),
        (&[80, 56, 56, 64], true, Columns, Columns), // channels-last 64
        (&[80, 64, 56, 56], false, Runs, Runs),
    ];
    for (shape, last, sums, alone) in table {
        let layout = layout(shape, last);
        assert_eq!(plan(layout, DEFAULT).unwrap().pass1, sums, "{shape:?}");
        assert_eq!(
            plan_alone(layout, DEFAULT).unwrap().pass1,
            alone,
            "{shape:?}"
        );
    }
}
