//! ReLU: `y = x < 0 ? 0 : x`, `grad_x = x <= 0 ? 0 : g` — its WGSL
//! (`relu.wgsl`: the binding-free `relu_forward`/`relu_backward` and the
//! template's per-element functions), its parameter block, its dispatch and
//! its CPU reference (`cpu.rs`).

pub(crate) mod cpu;

use crate::common::{ADD, EXACT, HALVES, INDEX, SIGN};
use crate::engine::elementwise::{
    Elementwise, Geometry, Operands, BLOCKED, BLOCKED_WORDS, ELEMENTWISE, MASKED, TENSORS, WORDS,
};
use crate::engine::{Engine, Module, Prepared};
use crate::error::Result;

/// The activation's binding-free WGSL functions.
pub(crate) const WGSL: &str = include_str!("relu.wgsl");
/// Its side of the element-wise templates: `Params` and the per-element
/// functions they call.
const KERNELS: &str = include_str!("kernels.wgsl");

/// The module of ReLU's kernels: the element-wise template and its word
/// entries (ReLU runs f16 as u32 words on every adapter: it needs no
/// conversion at all).
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.relu",
    parts: &[
        SIGN,
        EXACT,
        ADD,
        INDEX,
        HALVES,
        TENSORS,
        ELEMENTWISE,
        WORDS,
        BLOCKED,
        BLOCKED_WORDS,
        MASKED,
        WGSL,
        KERNELS,
    ],
};

/// `Params` in relu.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub(crate) geometry: Geometry,
}

/// ReLU forward (`operands.g` is `None`) or backward over `operands`.
pub(crate) fn dispatches(engine: &Engine, operands: Operands<'_>) -> Result<Vec<Prepared>> {
    let op = Elementwise {
        module: &MODULE,
        operands,
        extra: Vec::new(),
        vec4_constants: Vec::new(),
        words: true,
        cpu_item_step: 1,
        cpu_item_lines: 0,
    };
    engine.elementwise(&op, |geometry, _| {
        bytemuck::bytes_of(&Params { geometry }).to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_layout_matches_wgsl() {
        crate::engine::kernel::assert_layout(
            &MODULE,
            "Params",
            &[("geometry", std::mem::offset_of!(Params, geometry))],
            std::mem::size_of::<Params>(),
        );
    }
}
