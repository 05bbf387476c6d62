//! Leaky ReLU: `y = x > 0 ? x : s·x`, `grad_x = x > 0 ? g : s·g` — its WGSL
//! (`leaky_relu.wgsl`), its parameter block, its dispatch and its CPU
//! reference (`cpu.rs`).

pub(crate) mod cpu;

use crate::common::{ADD, EXACT, HALVES, INDEX, SIGN};
use crate::element::Dtype;
use crate::engine::elementwise::{
    Elementwise, Geometry, Operands, BLOCKED, BLOCKED_WORDS, ELEMENTWISE, MASKED, TENSORS, WORDS,
};
use crate::engine::{Engine, Module, Prepared};
use crate::error::{Error, Result};

/// The activation's binding-free WGSL functions.
pub(crate) const WGSL: &str = include_str!("leaky_relu.wgsl");
/// Its side of the element-wise templates: `Params` and the per-element
/// functions they call.
const KERNELS: &str = include_str!("kernels.wgsl");

/// The module of Leaky ReLU's kernels, word entries included.
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.leaky_relu",
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

/// `Params` in leaky_relu.wgsl (48 bytes: a uniform block comes in 16s).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub(crate) geometry: Geometry,
    /// The f32 slope as bits, so that blocks can be hashed.
    pub(crate) slope: u32,
    pub(crate) pad: [u32; 3],
}

/// Leaky ReLU forward (`operands.g` is `None`) or backward with
/// `negative_slope`, which must be finite.
pub(crate) fn dispatches(
    engine: &Engine,
    operands: Operands<'_>,
    negative_slope: f32,
) -> Result<Vec<Prepared>> {
    if !negative_slope.is_finite() {
        return Err(Error::InvalidSlope(negative_slope));
    }
    let slope = effective_slope(operands.dtype, negative_slope).to_bits();
    let op = Elementwise {
        module: &MODULE,
        operands,
        extra: Vec::new(),
        vec4_constants: Vec::new(),
        // f16 as u32 words on CPU adapters only, rounding to f16 in bit
        // arithmetic: there loads cost more than that arithmetic, where on
        // GPUs the hardware converts and the f16 kernels are memory-bound.
        words: engine.cpu_adapter(),
        cpu_item_step: 1,
        cpu_item_lines: 0,
    };
    engine.elementwise(&op, |geometry, _| {
        let params = Params {
            geometry,
            slope,
            pad: [0; 3],
        };
        bytemuck::bytes_of(&params).to_vec()
    })
}

/// The slope the kernels use. For f16, a subnormal f32 slope becomes the
/// smallest normal one of the same sign: every f16 times either rounds to
/// the same signed zero (or the same infinity), and a normal slope cannot be
/// flushed by a device that flushes subnormals, which would turn
/// ±inf · slope into NaN.
fn effective_slope(dtype: Dtype, slope: f32) -> f32 {
    if dtype == Dtype::F16 && slope != 0.0 && slope.abs() < f32::MIN_POSITIVE {
        f32::MIN_POSITIVE.copysign(slope)
    } else {
        slope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_layout_matches_wgsl() {
        crate::engine::kernel::assert_layout(
            &MODULE,
            "Params",
            &[
                ("geometry", std::mem::offset_of!(Params, geometry)),
                ("slope", std::mem::offset_of!(Params, slope)),
            ],
            std::mem::size_of::<Params>(),
        );
    }

    /// The f16 slope substitution changes no result: every f16 value times
    /// the subnormal slope and times its stand-in round to the same f16.
    #[test]
    fn subnormal_f16_slope_stand_in_gives_identical_results() {
        for slope in [
            f32::from_bits(1),
            -f32::from_bits(1),
            1.0e-40,
            -7.3e-39,
            f32::from_bits(0x007f_ffff),
        ] {
            let stand_in = effective_slope(Dtype::F16, slope);
            assert!(stand_in.is_normal() && stand_in.signum() == slope.signum());
            for bits in 0..=u16::MAX {
                let x = half::f16::from_bits(bits);
                let exact = cpu::leaky_relu(&[x], slope)[0];
                let substituted = cpu::leaky_relu(&[x], stand_in)[0];
                assert!(
                    exact.to_bits() == substituted.to_bits()
                        || (exact.is_nan() && substituted.is_nan()),
                    "x = {x}, slope {slope:e}: {exact} vs {substituted}"
                );
            }
        }
        assert_eq!(
            effective_slope(Dtype::F32, 1.0e-40),
            1.0e-40,
            "f32 keeps its slope"
        );
        assert_eq!(effective_slope(Dtype::F16, 0.0), 0.0);
    }
}
