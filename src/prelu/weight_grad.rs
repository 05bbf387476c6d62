//! PReLU's backward with the weight gradient: grad_x and the partial sums
//! (pass 1), then one fixed-order reduction per channel (pass 2), recorded
//! from the plan of `plan.rs` as a plain loop.

use crate::common::{ADD, EXACT, INDEX, SIGN};
use crate::engine::elementwise::{Operands, G1, G4, X1, X4, Y1, Y4};
use crate::engine::{Bound, Engine, KernelSpec, Module, Operand, Prepared};
use crate::error::{Error, Result};
use crate::shape::Channels;

use super::plan::{self, Layout, Limits, Pass1, Pass2};
use super::{Weights, W1};

/// The weight-gradient kernels' module.
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.prelu_weight_grad",
    parts: &[
        SIGN,
        EXACT,
        ADD,
        INDEX,
        crate::engine::elementwise::TENSORS,
        super::WGSL,
        super::WEIGHTS,
        include_str!("sums.wgsl"),
        include_str!("weight_grad.wgsl"),
        include_str!("reduce.wgsl"),
    ],
};

// Binding numbers, as in weight_grad.wgsl: x, g and y where the
// element-wise template has them, then the partials and the gradient.
const PARTIALS: u32 = 8;
const GRAD_W: u32 = 9;
const PARTIALS4: u32 = 16;
const ACC: u32 = 17;

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
    pub(crate) first: u32,
    pub(crate) base: u32,
    pub(crate) tiles: u32,
    pub(crate) period: u32,
    pub(crate) cols: u32,
    pub(crate) rows: u32,
    pub(crate) outer: u32,
    pub(crate) a_count: u32,
    pub(crate) a_stride: u32,
    pub(crate) b_count: u32,
    pub(crate) p_shift: u32,
    pub(crate) acc_mode: u32,
    pub(crate) c_first: u32,
    pub(crate) pad: u32,
    pub(crate) inner_div: [u32; 2],
    pub(crate) channels_div: [u32; 2],
    pub(crate) tiles_div: [u32; 2],
    pub(crate) cols_div: [u32; 2],
    pub(crate) b_count_div: [u32; 2],
    pub(crate) pad_end: [u32; 2],
}

/// The entry point and pipeline constants of pass 1. `aligned`: every
/// operand on a multiple of four elements, so the four-at-a-time kernels
/// load vec4s (else scalars, in the same order). `accumulate`: grad_x is
/// added to.
fn pass1_spec(pass: Pass1, channels: &Channels, aligned: bool, accumulate: bool) -> KernelSpec {
    let (entry, bindings, mut constants) = match pass {
        Pass1::RowsVec4 => (
            "weight_grad_rows_vec4",
            vec![X4, G4, Y4, X1, G1, Y1, PARTIALS, W1],
            vec![("ITEMS", f64::from(plan::ITEMS_ROWS_VEC4))],
        ),
        Pass1::Rows => (
            "weight_grad_rows",
            vec![X1, G1, Y1, PARTIALS, W1],
            vec![("ITEMS", f64::from(plan::ITEMS_ROWS))],
        ),
        Pass1::ColsVec4 => (
            "weight_grad_cols_vec4",
            vec![X4, G4, Y4, X1, G1, Y1, PARTIALS4, W1],
            Weights::for_columns(channels).constants(),
        ),
        Pass1::Cols => (
            "weight_grad_cols",
            vec![X1, G1, Y1, PARTIALS, W1],
            Vec::new(),
        ),
    };
    if !aligned && matches!(pass, Pass1::RowsVec4 | Pass1::ColsVec4) {
        constants.push(("ALIGNED", 0.0));
    }
    if accumulate {
        constants.push(("ACCUMULATE", 1.0));
    }
    KernelSpec {
        module: &MODULE,
        entry,
        bindings,
        constants,
    }
}

/// The entry point of pass 2; `accumulate`: grad_w is added to.
fn pass2_spec(pass: Pass2, accumulate: bool) -> KernelSpec {
    let (entry, partials) = match pass {
        Pass2::WideVec4 => ("weight_grad_reduce_wide_vec4", PARTIALS4),
        Pass2::Wide => ("weight_grad_reduce_wide", PARTIALS),
        Pass2::NarrowVec4 => ("weight_grad_reduce_narrow_vec4", PARTIALS4),
        Pass2::Narrow => ("weight_grad_reduce_narrow", PARTIALS),
    };
    KernelSpec {
        module: &MODULE,
        entry,
        bindings: vec![partials, GRAD_W, ACC],
        constants: match accumulate {
            true => vec![("ACCUMULATE", 1.0)],
            false => Vec::new(),
        },
    }
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
    let Operands {
        dtype, len, g, y, ..
    } = operands;
    let x = operands.values("PReLU")?;
    let Some(g) = g else {
        return Err(Error::Validation(
            "the weight gradient was asked of a forward".into(),
        ));
    };
    let esize = operands.esize();
    let c = channels.channels as u64;
    if c == 0 {
        return Ok(Vec::new());
    }
    let inner = channels.inner as u64;
    for operand in [x, g, y] {
        engine.bind(operand, esize, 0, len)?;
    }
    let period = c * inner;
    let layout = Layout {
        outer: len.checked_div(period).unwrap_or(0),
        channels: c,
        inner,
    };
    let limits = Limits {
        chunk: engine.chunk_elements(esize),
        binding: engine.binding_limit(),
        align: engine.offset_alignment(),
    };
    let plan = plan::plan(layout, limits)?;
    let bw = engine.bind(w, esize, 0, c)?;
    let bgw = engine.bind(grad_w, esize, 0, c)?;
    let mut aligned = true;
    for operand in [x, g, y] {
        aligned &= engine
            .bind(operand, esize, 0, 1)?
            .elem_off
            .is_multiple_of(4);
    }
    let accumulate = operands.accumulate;
    let pass1 = engine.kernel(
        &pass1_spec(plan.pass1, channels, aligned, accumulate),
        dtype,
    )?;
    let pass2 = engine.kernel(&pass2_spec(plan.pass2, accumulate), dtype)?;

    // The scratch: the partials, then (aligned) one f32 per channel carried
    // between slabs.
    let acc_start = (plan.partials.max(1) * 4).next_multiple_of(limits.align);
    let scratch_bytes = acc_start + c * 4;
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
    let bacc = Bound {
        buffer: &scratch,
        offset: acc_start,
        size: c * 4,
        elem_off: 0,
    };
    let common = Params {
        w_off: bw.elem_off,
        channels: c as u32,
        inner: inner as u32,
        period: period as u32,
        outer: layout.outer as u32,
        tiles: plan.tiles as u32,
        rows: plan.rows as u32,
        inner_div: crate::divisor::pack(inner as u32),
        channels_div: crate::divisor::pack(c as u32),
        tiles_div: crate::divisor::pack(plan.tiles as u32),
        ..Params::default()
    };
    let width = match plan.pass1 {
        Pass1::ColsVec4 => 4,
        _ => 1,
    };
    let cols = (period / width) as u32;

    let mut dispatches = Vec::new();
    for chunk in &plan.chunks {
        let bx = engine.bind(x, esize, chunk.first, chunk.elements)?;
        let bg = engine.bind(g, esize, chunk.first, chunk.elements)?;
        let by = engine.bind(y, esize, chunk.first, chunk.elements)?;
        let (p0, p1) = chunk.partials;
        let bp = engine.bind(partials, 4, p0, p1 - p0)?;
        let Some(grid) = engine.grid(chunk.workgroups)? else {
            continue;
        };
        let params = Params {
            len: chunk.items as u32,
            groups_x: grid.x,
            groups_y: grid.y,
            x_off: bx.elem_off,
            g_off: bg.elem_off,
            y_off: by.elem_off,
            first: chunk.first as u32,
            base: chunk.base as u32,
            cols,
            cols_div: crate::divisor::pack(cols),
            p_shift: (bp.offset / 4) as u32,
            ..common
        };
        let bound = [
            (X1, &bx),
            (G1, &bg),
            (Y1, &by),
            (X4, &bx),
            (G4, &bg),
            (Y4, &by),
            (W1, &bw),
            (PARTIALS, &bp),
            (PARTIALS4, &bp),
        ];
        dispatches.push(engine.prepare(&pass1, bytemuck::bytes_of(&params), grid, &bound)?);
    }
    for slab in &plan.slabs {
        let first = slab.a0 * plan.a_stride + slab.c0 * plan.b_count;
        let span = match slab.a1 - slab.a0 {
            0 => 1, // an empty tensor: no partials, the sums are 0
            rows => (rows - 1) * plan.a_stride + (slab.c1 - slab.c0) * plan.b_count,
        };
        let bp = engine.bind(partials, 4, first, span)?;
        let slab_channels = slab.c1 - slab.c0;
        let groups = match plan.pass2 {
            Pass2::Wide | Pass2::WideVec4 => slab_channels,
            _ => slab_channels.div_ceil(u64::from(crate::engine::WORKGROUP_SIZE)),
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
            p_shift: ((bp.offset / 4) as u32).wrapping_sub(first as u32),
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
            ("first", offset_of!(Params, first)),
            ("base", offset_of!(Params, base)),
            ("tiles", offset_of!(Params, tiles)),
            ("period", offset_of!(Params, period)),
            ("cols", offset_of!(Params, cols)),
            ("rows", offset_of!(Params, rows)),
            ("outer", offset_of!(Params, outer)),
            ("a_count", offset_of!(Params, a_count)),
            ("a_stride", offset_of!(Params, a_stride)),
            ("b_count", offset_of!(Params, b_count)),
            ("p_shift", offset_of!(Params, p_shift)),
            ("acc_mode", offset_of!(Params, acc_mode)),
            ("c_first", offset_of!(Params, c_first)),
            ("inner_div", offset_of!(Params, inner_div)),
            ("channels_div", offset_of!(Params, channels_div)),
            ("tiles_div", offset_of!(Params, tiles_div)),
            ("cols_div", offset_of!(Params, cols_div)),
            ("b_count_div", offset_of!(Params, b_count_div)),
        ];
        crate::engine::kernel::assert_layout(
            &MODULE,
            "Params",
            &fields,
            std::mem::size_of::<Params>(),
        );
    }
}
