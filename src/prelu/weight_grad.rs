//! PReLU's backward with the weight gradient: grad_x and the partial sums
//! (pass 1), then one fixed-order reduction per channel (pass 2), recorded
//! from the plan of `plan.rs` as a plain loop.

use crate::common::{ADD, EXACT, HALVES, INDEX, SIGN};
use crate::engine::elementwise::Operands;
use crate::engine::{Bound, Engine, KernelSpec, Module, Operand, Prepared, WORKGROUP_SIZE};
use crate::error::{Error, Result};
use crate::shape::Channels;

use super::placed::Placed;
use super::plan::{self, Fold, Pass2};

/// The weight-gradient kernels' module, which also serves the forward
/// and the input gradient alone (`placed.rs`).
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.prelu_weight_grad",
    parts: &[
        SIGN,
        EXACT,
        ADD,
        INDEX,
        crate::engine::elementwise::TENSORS,
        include_str!("quads.wgsl"),
        super::WGSL,
        super::WEIGHTS,
        include_str!("sums.wgsl"),
        include_str!("weight_grad.wgsl"),
        include_str!("columns.wgsl"),
        include_str!("reduce.wgsl"),
    ],
};

/// The same kernels on f16 tensors as u32 words, for CPU adapters: half the
/// load lanes of `MODULE`'s f16 views, and conversions in bit arithmetic
/// (BENCHMARKS.md). For ALIGNED operands only.
pub(crate) static WORDS_MODULE: Module = Module {
    name: "wgpu_relu.prelu_weight_grad_words",
    parts: &[
        SIGN,
        EXACT,
        ADD,
        INDEX,
        HALVES,
        crate::engine::elementwise::SCALARS,
        include_str!("quad_words.wgsl"),
        super::PRELU_HALVES,
        super::WGSL,
        super::WEIGHTS,
        include_str!("sums.wgsl"),
        include_str!("weight_grad.wgsl"),
        include_str!("columns.wgsl"),
        include_str!("reduce.wgsl"),
    ],
};

// Binding numbers, as in weight_grad.wgsl: x, g and y where the
// element-wise template has them, then the partials and the gradient.
pub(crate) const PARTIALS: u32 = 8;
const GRAD_W: u32 = 9;
pub(crate) const PARTIALS4: u32 = 16;
const ACC: u32 = 17;
const FOLDED: u32 = 18;
const FOLDED4: u32 = 20;

/// `Params` in weight_grad.wgsl (144 bytes: a uniform block comes in 16s).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub(crate) len: u32,
    pub(crate) groups_x: u32,
    pub(crate) groups_y: u32,
    pub(crate) x_off: u32,
    pub(crate) g_off: u32,
    pub(crate) y_off: u32,
    pub(crate) w_off: u32,
    pub(crate) channels: u32,
    pub(crate) inner: u32,
    pub(crate) phase: u32,
    pub(crate) total: u32,
    pub(crate) first: u32,
    pub(crate) base: u32,
    pub(crate) per_run: u32,
    pub(crate) slots: u32,
    pub(crate) period: u32,
    pub(crate) row: u32,
    pub(crate) row_groups: u32,
    pub(crate) a_count: u32,
    pub(crate) a_stride: u32,
    pub(crate) b_count: u32,
    pub(crate) p_shift: u32,
    pub(crate) acc_mode: u32,
    pub(crate) c_first: u32,
    pub(crate) inner_div: [u32; 2],
    pub(crate) channels_div: [u32; 2],
    pub(crate) per_run_div: [u32; 2],
    pub(crate) period_div: [u32; 2],
    pub(crate) row_groups_div: [u32; 2],
    pub(crate) b_count_div: [u32; 2],
}

/// The fold of the partials before pass 2 (`Fold`); `row_barrier`: a
/// barrier after each row of partials.
fn fold_spec(fold: Fold, row_barrier: bool) -> KernelSpec {
    KernelSpec {
        module: &MODULE,
        entry: match fold {
            Fold::Runs => "weight_grad_fold_runs",
            Fold::RowsVec4 => "weight_grad_fold_vec4",
            _ => "weight_grad_fold",
        },
        bindings: match fold {
            Fold::RowsVec4 => vec![PARTIALS4, FOLDED4],
            _ => vec![PARTIALS, FOLDED],
        },
        constants: barrier_constant(row_barrier, vec![("FOLD", plan::FOLD_ROWS as f64)]),
    }
}

/// The entry point of pass 2; `accumulate`: grad_w is added to;
/// `row_barrier` as for the fold.
fn pass2_spec(pass: Pass2, accumulate: bool, row_barrier: bool) -> KernelSpec {
    // The partials' views each kernel reads: the four-channel kernel names
    // both, and ROWS_IN_VEC4S picks one.
    let (entry, views): (_, &[u32]) = match pass {
        Pass2::WideVec4 => ("weight_grad_reduce_wide_vec4", &[PARTIALS4]),
        Pass2::Wide => ("weight_grad_reduce_wide", &[PARTIALS]),
        Pass2::NarrowVec4 => ("weight_grad_reduce_narrow_vec4", &[PARTIALS4]),
        Pass2::Narrow => ("weight_grad_reduce_narrow", &[PARTIALS]),
        Pass2::FourChannels | Pass2::FourChannelsVec4 => {
            ("weight_grad_reduce_four_channels", &[PARTIALS, PARTIALS4])
        }
    };
    let mut constants = Vec::new();
    if accumulate {
        constants.push(("ACCUMULATE", 1.0));
    }
    if pass == Pass2::FourChannelsVec4 {
        constants.push(("ROWS_IN_VEC4S", 1.0));
    }
    KernelSpec {
        module: &MODULE,
        entry,
        bindings: [views, &[GRAD_W, ACC]].concat(),
        constants: barrier_constant(row_barrier, constants),
    }
}

/// `constants` with `ROW_BARRIER` where `row_barrier`.
fn barrier_constant(
    row_barrier: bool,
    mut constants: Vec<(&'static str, f64)>,
) -> Vec<(&'static str, f64)> {
    if row_barrier {
        constants.push(("ROW_BARRIER", 1.0));
    }
    constants
}

/// The dispatches of PReLU's backward over `operands` (`g` set, `y` the
/// input gradient) with the weight `w` and its gradient into `grad_w`.
pub(crate) fn dispatches(
    engine: &Engine,
    operands: Operands<'_>,
    w: Operand<'_>,
    grad_w: Operand<'_>,
    channels: &Channels,
) -> Result<Vec<Prepared>> {
    if operands.g.is_none() {
        return Err(Error::Validation(
            "the weight gradient was asked of a forward".into(),
        ));
    }
    if channels.channels == 0 {
        return Ok(Vec::new());
    }
    let placed = Placed::new(engine, operands, w, channels, true)?;
    let Placed {
        ref plan, common, ..
    } = placed;
    let (dtype, c) = (operands.dtype, channels.channels as u64);
    let align = engine.offset_alignment();
    let bgw = engine.bind(grad_w, operands.esize(), 0, c)?;
    let accumulate = operands.accumulate;
    // A barrier after each row of partials on a software rasteriser, where
    // the rows lie far apart (`Plan::rows_apart`), in the kernels that read
    // a vec4 a row: with a float a row, four times the SIMD groups wait at
    // each, and the barriers cost more than they save (BENCHMARKS.md).
    let far_rows = engine.cpu_adapter() && plan.rows_apart();
    let far_fold_rows = engine.cpu_adapter() && plan.fold_rows_apart();
    let pass2 = engine.kernel(
        &pass2_spec(
            plan.pass2,
            accumulate,
            far_rows && plan.pass2 == Pass2::FourChannelsVec4,
        ),
        dtype,
    )?;

    // The scratch: the partials, the folded rows where there are, one f32
    // per channel carried between slabs, then the row of lane weights
    // where the walk reads one (each aligned).
    let fold_start = (plan.partials.max(1) * 4).next_multiple_of(align);
    let acc_start = match plan.fold {
        Fold::None => fold_start,
        _ => fold_start + (plan.reduced * 4).next_multiple_of(align),
    };
    let row_start = (acc_start + c * 4).next_multiple_of(align);
    let scratch_bytes = row_start + placed.row_bytes();
    if scratch_bytes > engine.limits.max_buffer_size {
        return Err(Error::TooLarge {
            what: "the weight gradient's partial sums (bytes)",
            size: scratch_bytes,
            limit: engine.limits.max_buffer_size,
            hint: "reshape so that the dimensions after channel_axis hold more elements, \
                   or request a device with a larger max_buffer_size",
        });
    }
    let scratch = engine.scratch(scratch_bytes);
    let partials = Operand {
        buffer: &scratch,
        byte_offset: 0,
        name: "the weight gradient's partial sums",
    };
    let folded = Operand {
        buffer: &scratch,
        byte_offset: fold_start,
        name: "the weight gradient's folded partial sums",
    };
    let bacc = Bound {
        buffer: &scratch,
        offset: acc_start,
        size: c * 4,
        elem_off: 0,
    };
    let row = Operand {
        buffer: &scratch,
        byte_offset: row_start,
        name: "the row of lane weights",
    };
    let mut dispatches = placed.pass1(engine, partials, row, &scratch)?;
    let reduced = match plan.fold {
        Fold::None => partials,
        fold => {
            let kernel = engine.kernel(
                &fold_spec(fold, far_fold_rows && fold == Fold::RowsVec4),
                dtype,
            )?;
            let bp = engine.bind(partials, 4, 0, plan.partials)?;
            let bf = engine.bind(folded, 4, 0, plan.reduced)?;
            // An invocation per partial it leaves, or per four.
            let lanes = match fold {
                Fold::RowsVec4 => 4,
                _ => 1,
            };
            let invocations = plan.reduced / lanes;
            if let Some(grid) = engine.grid(invocations.div_ceil(u64::from(WORKGROUP_SIZE)))? {
                let mut params = Params {
                    len: invocations as u32,
                    groups_x: grid.x,
                    groups_y: grid.y,
                    y_off: bf.elem_off,
                    p_shift: bp.elem_off.wrapping_neg(),
                    ..common
                };
                if fold == Fold::Runs {
                    params.b_count = plan.b_count as u32;
                    params.b_count_div = crate::divisor::pack(plan.b_count as u32);
                } else {
                    // Rows of whole periods, or of every run's partials.
                    params.a_count = (plan.partials / plan.fold_stride) as u32;
                    params.period = plan.fold_stride as u32;
                    params.period_div = crate::divisor::pack((plan.fold_stride / lanes) as u32);
                }
                let bound = match fold {
                    Fold::RowsVec4 => [(PARTIALS4, &bp), (FOLDED4, &bf)],
                    _ => [(PARTIALS, &bp), (FOLDED, &bf)],
                };
                dispatches.push(engine.prepare(
                    &kernel,
                    bytemuck::bytes_of(&params),
                    grid,
                    &bound,
                )?);
            }
            folded
        }
    };
    for slab in &plan.slabs {
        let first = slab.a0 * plan.a_stride + slab.c0 * plan.b_count;
        let span = match slab.a1 - slab.a0 {
            0 => 1, // an empty tensor: no partials, the sums are 0
            rows => (rows - 1) * plan.a_stride + (slab.c1 - slab.c0) * plan.b_count,
        };
        let mut bp = engine.bind(reduced, 4, first, span)?;
        if matches!(
            plan.pass2,
            Pass2::WideVec4 | Pass2::NarrowVec4 | Pass2::FourChannels | Pass2::FourChannelsVec4
        ) {
            // Read as vec4s, or four floats from a multiple of four past
            // the last channel: the binding ends on a whole vec4 (the
            // scratch's next part starts aligned past it).
            let off = u64::from(bp.elem_off);
            bp = engine.bind(reduced, 4, first, (off + span).next_multiple_of(4) - off)?;
        }
        let slab_channels = slab.c1 - slab.c0;
        let groups = match plan.pass2 {
            Pass2::Wide | Pass2::WideVec4 => slab_channels,
            Pass2::FourChannels | Pass2::FourChannelsVec4 => {
                slab_channels.div_ceil(4 * u64::from(WORKGROUP_SIZE))
            }
            _ => slab_channels.div_ceil(u64::from(WORKGROUP_SIZE)),
        };
        let Some(grid) = engine.grid(groups)? else {
            continue;
        };
        let params = Params {
            len: slab_channels as u32,
            groups_x: grid.x,
            groups_y: grid.y,
            y_off: bgw.elem_off,
            a_count: (slab.a1 - slab.a0) as u32,
            a_stride: plan.a_stride as u32,
            b_count: plan.b_count as u32,
            b_count_div: crate::divisor::pack(plan.b_count as u32),
            // The kernel indexes from its slab's first row and channel.
            p_shift: bp.elem_off.wrapping_neg(),
            acc_mode: slab.acc_mode,
            c_first: slab.c0 as u32,
            ..Params::default()
        };
        let bound = [
            (PARTIALS, &bp),
            (PARTIALS4, &bp),
            (GRAD_W, &bgw),
            (ACC, &bacc),
        ];
        dispatches.push(engine.prepare(&pass2, bytemuck::bytes_of(&params), grid, &bound)?);
    }
    Ok(dispatches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn params_layout_matches_wgsl() {
        let fields = [
            ("len", offset_of!(Params, len)),
            ("groups_x", offset_of!(Params, groups_x)),
            ("groups_y", offset_of!(Params, groups_y)),
            ("x_off", offset_of!(Params, x_off)),
            ("g_off", offset_of!(Params, g_off)),
            ("y_off", offset_of!(Params, y_off)),
            ("w_off", offset_of!(Params, w_off)),
            ("channels", offset_of!(Params, channels)),
            ("inner", offset_of!(Params, inner)),
            ("phase", offset_of!(Params, phase)),
            ("total", offset_of!(Params, total)),
            ("first", offset_of!(Params, first)),
            ("base", offset_of!(Params, base)),
            ("per_run", offset_of!(Params, per_run)),
            ("slots", offset_of!(Params, slots)),
            ("period", offset_of!(Params, period)),
            ("row", offset_of!(Params, row)),
            ("row_groups", offset_of!(Params, row_groups)),
            ("a_count", offset_of!(Params, a_count)),
            ("a_stride", offset_of!(Params, a_stride)),
            ("b_count", offset_of!(Params, b_count)),
            ("p_shift", offset_of!(Params, p_shift)),
            ("acc_mode", offset_of!(Params, acc_mode)),
            ("c_first", offset_of!(Params, c_first)),
            ("inner_div", offset_of!(Params, inner_div)),
            ("channels_div", offset_of!(Params, channels_div)),
            ("per_run_div", offset_of!(Params, per_run_div)),
            ("period_div", offset_of!(Params, period_div)),
            ("row_groups_div", offset_of!(Params, row_groups_div)),
            ("b_count_div", offset_of!(Params, b_count_div)),
        ];
        for module in [&MODULE, &WORDS_MODULE] {
            crate::engine::kernel::assert_layout(
                module,
                "Params",
                &fields,
                std::mem::size_of::<Params>(),
            );
        }
    }
}
