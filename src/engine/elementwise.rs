//! The element-wise recording every family shares: one template of entry
//! points (src/engine/elementwise.wgsl, and words.wgsl for f16 as u32
//! words), the op cut into binding-sized chunks, each run by the vec4, the
//! scalar or the word kernel its offsets allow.

use crate::element::Dtype;
use crate::error::Result;

use super::bind::{Bound, Operand};
use super::dispatch::Prepared;
use super::kernel::{KernelSpec, Module, WORKGROUP_SIZE};
use super::Engine;

/// The tensor bindings every kernel shares (x, g, y as vec4s and scalars).
pub(crate) const TENSORS: &str = include_str!("tensors.wgsl");
/// The element-wise entry points, for a family's module (with [`TENSORS`]).
pub(crate) const ELEMENTWISE: &str = include_str!("elementwise.wgsl");
/// The entry points on f16 data as u32 words, for the families that
/// supply `forward_words` and `backward_words`.
pub(crate) const WORDS: &str = include_str!("words.wgsl");

// Binding numbers, as in the templates (the weight gradient's kernels bind
// x, g and y at the same numbers).
pub(crate) const X4: u32 = 1;
pub(crate) const G4: u32 = 2;
pub(crate) const Y4: u32 = 3;
pub(crate) const X1: u32 = 4;
pub(crate) const G1: u32 = 5;
pub(crate) const Y1: u32 = 6;
const XW4: u32 = 10;
const GW4: u32 = 11;
const YW4: u32 = 12;
const XW1: u32 = 13;
const GW1: u32 = 14;
const YW1: u32 = 15;

/// `vec4`s (or scalars, or words) per invocation, the templates' `ITEMS`.
const ITEMS: u32 = 4;

/// The first member of every family's element-wise parameter struct,
/// `Geometry` in the template: where one dispatch's elements are.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Geometry {
    pub(crate) len: u32,
    pub(crate) groups_x: u32,
    pub(crate) groups_y: u32,
    pub(crate) x_off: u32,
    pub(crate) g_off: u32,
    pub(crate) y_off: u32,
    pub(crate) pad: [u32; 2],
}

/// The tensors of an element-wise op: `x`, the gradient `g` for a backward,
/// the output `y`, all of `len` elements of `dtype`.
#[derive(Clone, Copy)]
pub(crate) struct Operands<'a> {
    pub(crate) dtype: Dtype,
    pub(crate) len: u64,
    pub(crate) x: Operand<'a>,
    pub(crate) g: Option<Operand<'a>>,
    pub(crate) y: Operand<'a>,
}

impl Operands<'_> {
    /// Bytes per element.
    pub(crate) fn esize(&self) -> u64 {
        self.dtype.size()
    }
}

/// An element-wise op as a family describes it.
pub(crate) struct Elementwise<'a> {
    pub(crate) module: &'static Module,
    pub(crate) operands: Operands<'a>,
    /// Bindings of the family's own that every entry takes (PReLU's
    /// weight), bound whole.
    pub(crate) extra: Vec<(u32, Bound<'a>)>,
    /// Pipeline constants of the vec4 entry (PReLU's weight fetch).
    pub(crate) vec4_constants: Vec<(&'static str, f64)>,
    /// Whether f16 data runs as u32 words where the offsets allow (the
    /// module then has the word entries).
    pub(crate) words: bool,
}

impl Engine {
    /// The dispatches of `op`: chunks of at most one binding each, every
    /// binding checked before any dispatch is made. `params(geometry,
    /// start)` gives the family's parameter block for the chunk starting
    /// at element `start`.
    pub(crate) fn elementwise(
        &self,
        op: &Elementwise<'_>,
        params: impl Fn(Geometry, u64) -> Vec<u8>,
    ) -> Result<Vec<Prepared>> {
        let Operands {
            dtype,
            len,
            x,
            g,
            y,
            ..
        } = op.operands;
        let esize = op.operands.esize();
        if len == 0 {
            return Ok(Vec::new());
        }
        let extra: Vec<u32> = op.extra.iter().map(|(n, _)| *n).collect();
        let backward = g.is_some();
        let spec = |entry, bindings: &[u32], constants| KernelSpec {
            module: op.module,
            entry,
            bindings: bindings
                .iter()
                .copied()
                .chain(extra.iter().copied())
                .collect(),
            constants,
        };
        let (vec4, scalar, packed) = match backward {
            false => (
                spec("forward_vec4", &[X4, Y4, X1, Y1], op.vec4_constants.clone()),
                spec("forward_scalar", &[X1, Y1], Vec::new()),
                spec("forward_packed", &[XW4, YW4, XW1, YW1], Vec::new()),
            ),
            true => (
                spec(
                    "backward_vec4",
                    &[X4, G4, Y4, X1, G1, Y1],
                    op.vec4_constants.clone(),
                ),
                spec("backward_scalar", &[X1, G1, Y1], Vec::new()),
                spec(
                    "backward_packed",
                    &[XW4, GW4, YW4, XW1, GW1, YW1],
                    Vec::new(),
                ),
            ),
        };
        let vec4 = self.kernel(&vec4, dtype)?;
        let scalar = self.kernel(&scalar, dtype)?;
        let packed = match (dtype, op.words) {
            (Dtype::F16, true) => Some(self.kernel(&packed, dtype)?),
            _ => None,
        };
        // Every binding is checked before any dispatch is made.
        for operand in [Some(x), Some(y), g].into_iter().flatten() {
            self.bind(operand, esize, 0, len)?;
        }
        let per_group = u64::from(WORKGROUP_SIZE * ITEMS);
        let chunk = self.chunk_elements(esize);
        let mut dispatches = Vec::new();
        let mut start = 0;
        while start < len {
            let n = chunk.min(len - start);
            let bx = self.bind(x, esize, start, n)?;
            let by = self.bind(y, esize, start, n)?;
            let bg = match g {
                Some(g) => Some(self.bind(g, esize, start, n)?),
                None => None,
            };
            let offsets_multiple_of = |m: u32| {
                [Some(&bx), Some(&by), bg.as_ref()]
                    .into_iter()
                    .flatten()
                    .all(|b| b.elem_off.is_multiple_of(m))
            };
            let mut geometry = Geometry {
                len: n as u32,
                x_off: bx.elem_off,
                y_off: by.elem_off,
                g_off: bg.as_ref().map_or(0, |b| b.elem_off),
                ..Geometry::default()
            };
            let mut bound: Vec<(u32, &Bound<'_>)> = op.extra.iter().map(|(n, b)| (*n, b)).collect();
            bound.extend([(X4, &bx), (X1, &bx), (Y4, &by), (Y1, &by)]);
            if let Some(bg) = &bg {
                bound.extend([(G4, bg), (G1, bg)]);
            }
            // (A vec4<u32> binding must hold one: eight halves at least.)
            let whole_words = n >= 8 && n.is_multiple_of(2) && offsets_multiple_of(8);
            let (kernel, groups) = match &packed {
                Some(packed) if whole_words => {
                    // Lengths and offsets in u32 words, each vec4<u32> eight halves.
                    geometry.len /= 2;
                    geometry.x_off /= 2;
                    geometry.y_off /= 2;
                    geometry.g_off /= 2;
                    bound.extend([(XW4, &bx), (XW1, &bx), (YW4, &by), (YW1, &by)]);
                    if let Some(bg) = &bg {
                        bound.extend([(GW4, bg), (GW1, bg)]);
                    }
                    (packed, (n / 8).div_ceil(per_group).max(1))
                }
                _ if n >= 4 && offsets_multiple_of(4) => {
                    (&vec4, (n / 4).div_ceil(per_group).max(1))
                }
                _ => (&scalar, n.div_ceil(per_group)),
            };
            if let Some(grid) = self.grid(groups)? {
                geometry.groups_x = grid.x;
                geometry.groups_y = grid.y;
                dispatches.push(self.prepare(kernel, &params(geometry, start), grid, &bound)?);
            }
            start += n;
        }
        Ok(dispatches)
    }
}
