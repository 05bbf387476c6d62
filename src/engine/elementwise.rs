//! The element-wise recording every family shares: one template of entry
//! points (src/engine/elementwise.wgsl, words.wgsl for f16 as u32 words,
//! blocked.wgsl, blocked_words.wgsl and masked.wgsl for the 1-bit mask and
//! the activity bits),
//! the op cut into binding-sized chunks, each run by the vec4, the scalar or
//! the word kernel its offsets allow (f16 words take all of a chunk but the
//! few halves that keep them from lining up: src/engine/word_parts.rs).

use crate::element::Dtype;
use crate::error::Result;

use super::bind::{Bound, Operand};
use super::dispatch::Prepared;
use super::kernel::{items, KernelSpec, Module, WORKGROUP_SIZE};
use super::word_parts::word_parts;
use super::Engine;

/// The tensor bindings every kernel shares (x, g, y as vec4s and scalars).
pub(crate) const TENSORS: &str =
    concat!(include_str!("tensors.wgsl"), include_str!("scalars.wgsl"));
/// Only their scalar views, for a module with vec4 views of its own.
pub(crate) const SCALARS: &str = include_str!("scalars.wgsl");
/// The element-wise entry points, for a family's module (with [`TENSORS`]).
pub(crate) const ELEMENTWISE: &str = include_str!("elementwise.wgsl");
/// The entry points on f16 data as u32 words, for the families that
/// supply `forward_words` and `backward_words`.
pub(crate) const WORDS: &str = include_str!("words.wgsl");
/// The forward over the blocks of the mask layout, writing the mask, the
/// activity bits or both, for every family (it supplies the predicate).
pub(crate) const BLOCKED: &str = include_str!("blocked.wgsl");
/// The forward over the blocks of the mask layout on f16 as u32 words, for
/// the families that supply `forward_words_at` (with [`BLOCKED`]).
pub(crate) const BLOCKED_WORDS: &str = include_str!("blocked_words.wgsl");
/// The backward from a mask, for the families that go back from one (with
/// [`WORDS`], [`BLOCKED`] and [`BLOCKED_WORDS`]).
pub(crate) const MASKED: &str = include_str!("masked.wgsl");

use super::entries::{ACTIVITY, GW1, GW2, GW4, MASK, XW1, XW2, XW4, YW1, YW2, YW4};
pub(crate) use super::entries::{G1, G4, X1, X4, Y1, Y4};
pub(crate) use super::operands::{Operands, Watch};

/// Elements of one block of the mask layout (src/mask.rs): a workgroup of
/// the masked kernels, 256 words.
pub(crate) const MASK_BLOCK: u64 = WORKGROUP_SIZE as u64 * 32;

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
    pub(crate) m_off: u32,
    pub(crate) pad: u32,
}

/// An element-wise op as a family describes it.
pub(crate) struct Elementwise<'a> {
    pub(crate) module: &'static Module,
    pub(crate) operands: Operands<'a>,
    /// Bindings of the family's own that every entry takes (PReLU's
    /// weight), bound whole.
    pub(crate) extra: Vec<(u32, Bound<'a>)>,
    /// Pipeline constants of the entries whose invocations take vec4s
    /// (PReLU's weight fetch): the vec4 entry, and over the blocks of the
    /// mask layout the f16 word entry too. The family sets
    /// `cpu_item_step` only as close as they hold for.
    pub(crate) vec4_constants: Vec<(&'static str, f64)>,
    /// Whether f16 data runs as u32 words where the offsets allow (the
    /// module then has the word entries).
    pub(crate) words: bool,
    /// On a CPU adapter, outside the blocks of the mask layout, how many
    /// vectors apart an invocation's items lie (`ITEM_STEP` in
    /// elementwise.wgsl): 1, side by side, where nothing the family
    /// computes per item assumes them WG apart; a power of two that
    /// divides WG.
    pub(crate) cpu_item_step: u32,
    /// On a CPU adapter, outside the blocks of the mask layout, the lines
    /// an invocation's items lie in (`ITEM_LINES` in elementwise.wgsl:
    /// `items` of them side by side in each, eight invocations a line),
    /// or 0 for none: where what the family computes per item repeats
    /// every `LINE_VEC4S` vec4s (kernel.rs).
    pub(crate) cpu_item_lines: u32,
}

/// The words of the mask of `len` elements, or the first word of the
/// block at element `len` (src/mask.rs has the layout): 256 words a whole
/// block, one per vec4 of a partial one.
pub(crate) fn mask_words(len: u64) -> u64 {
    let rest = len % MASK_BLOCK;
    len / MASK_BLOCK * u64::from(WORKGROUP_SIZE) + rest.div_ceil(4).min(u64::from(WORKGROUP_SIZE))
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
            mask,
            watch,
            ..
        } = op.operands;
        let esize = op.operands.esize();
        if len == 0 {
            return Ok(Vec::new());
        }
        let entries = op.operands.entries();
        let constants = op.operands.constants();
        // `vec4`: the entry's invocations take vec4s (`item_step` apart);
        // `same_offsets`: x, g and y lie at one offset in their bindings.
        let lines = match self.cpu_adapter() && !entries.blocked {
            true => op.cpu_item_lines,
            false => 0,
        };
        let items = items(self.cpu_adapter()) * lines.max(1);
        // (Over the mask layout's blocks, whose words hold vec4s WG apart,
        // a workgroup put together side by side in workgroup memory read
        // 1.45-2.1 x the floor where WG apart reads 1.3; BENCHMARKS.md.)
        let item_step = match self.cpu_adapter() && !entries.blocked {
            true => op.cpu_item_step,
            false => WORKGROUP_SIZE,
        };
        let spec = |(entry, bindings): (&'static str, &[u32]), vec4: bool, same_offsets: bool| {
            let mut constants = constants.clone();
            constants.push(("ITEMS", f64::from(items)));
            if item_step < WORKGROUP_SIZE {
                constants.push(("ITEM_STEP", f64::from(item_step)));
            }
            if lines > 0 {
                constants.push(("ITEM_LINES", f64::from(lines)));
            }
            if vec4 {
                constants.extend(op.vec4_constants.iter().copied());
            }
            if same_offsets {
                constants.push(("SAME_OFFSETS", 1.0));
            }
            KernelSpec {
                module: op.module,
                entry,
                bindings: bindings
                    .iter()
                    .copied()
                    .chain(op.extra.iter().map(|(n, _)| *n))
                    .collect(),
                constants,
            }
        };
        // Each chunk's kernel is built (or found in the cache) for its
        // offsets; nothing is recorded here, so one the adapter rejects
        // still fails before anything is.
        let kernel =
            |entry, vec4, same_offsets| self.kernel(&spec(entry, vec4, same_offsets), dtype);
        let words = dtype == Dtype::F16 && op.words;
        // Every binding is checked before any dispatch is made.
        for operand in [x, Some(y), g].into_iter().flatten() {
            self.bind(operand, esize, 0, len)?;
        }
        if let Some(mask) = mask {
            self.bind(mask, 4, 0, mask_words(len))?;
        }
        let per_group = u64::from(WORKGROUP_SIZE * items);
        let mut chunk = self.chunk_elements(esize);
        if entries.blocked {
            // Every chunk starts on a block of the mask.
            chunk = (chunk / MASK_BLOCK * MASK_BLOCK).max(MASK_BLOCK);
        }
        // One chunk's activity bits at a time: each chunk's count reads them
        // before the next chunk's forward writes them again (the queue runs
        // dispatches in order, wgpu places a barrier between them).
        let activity = watch.map(|_| self.scratch(4 * mask_words(chunk.min(len))));
        let mut dispatches = Vec::new();
        let mut start = 0;
        while start < len {
            let chunk_len = chunk.min(len - start);
            for (first, n) in self.parts(op, words && !entries.blocked, start, chunk_len)? {
                let start = start + first;
                let bx = match x {
                    Some(x) => Some(self.bind(x, esize, start, n)?),
                    None => None,
                };
                let bg = match g {
                    Some(g) => Some(self.bind(g, esize, start, n)?),
                    None => None,
                };
                let by = self.bind(y, esize, start, n)?;
                let bm = match mask {
                    Some(mask) => Some(self.bind(mask, 4, mask_words(start), mask_words(n))?),
                    None => None,
                };
                let offsets_multiple_of = |m: u32| {
                    [bx.as_ref(), Some(&by), bg.as_ref()]
                        .into_iter()
                        .flatten()
                        .all(|b| b.elem_off.is_multiple_of(m))
                };
                // The vec4 and word entries then find x, g and y by one
                // index (the mask has its own, in words).
                let same_offsets = [bx.as_ref(), bg.as_ref()]
                    .into_iter()
                    .flatten()
                    .all(|b| b.elem_off == by.elem_off);
                let mut geometry = Geometry {
                    len: n as u32,
                    x_off: bx.as_ref().map_or(0, |b| b.elem_off),
                    y_off: by.elem_off,
                    g_off: bg.as_ref().map_or(0, |b| b.elem_off),
                    m_off: bm.as_ref().map_or(0, |b| b.elem_off),
                    ..Geometry::default()
                };
                let mut bound: Vec<(u32, &Bound<'_>)> =
                    op.extra.iter().map(|(n, b)| (*n, b)).collect();
                bound.extend([(Y4, &by), (Y1, &by)]);
                if let Some(bx) = &bx {
                    bound.extend([(X4, bx), (X1, bx)]);
                }
                if let Some(bg) = &bg {
                    bound.extend([(G4, bg), (G1, bg)]);
                }
                if let Some(bm) = &bm {
                    bound.push((MASK, bm));
                }
                let ba = match &activity {
                    Some(buffer) => {
                        Some(self.bind(scratch_operand(buffer), 4, 0, mask_words(n))?)
                    }
                    None => None,
                };
                if let Some(ba) = &ba {
                    bound.push((ACTIVITY, ba));
                }
                // Workgroups for `units` vec4s, scalars or words, or for the
                // blocks of a mask.
                let groups = |units: u64| match entries.blocked {
                    true => n.div_ceil(MASK_BLOCK),
                    false => units.div_ceil(per_group).max(1),
                };
                let (kernel, groups) = match words {
                    true if entries.blocked && n >= 4 && offsets_multiple_of(4) => {
                        // Two u32s a vec4 of halves; offsets stay in halves.
                        bound.push((YW2, &by));
                        if let Some(bx) = &bx {
                            bound.push((XW2, bx));
                        }
                        if let Some(bg) = &bg {
                            bound.push((GW2, bg));
                        }
                        (kernel(entries.packed, true, same_offsets)?, groups(0))
                    }
                    // (A vec4<u32> binding must hold one: eight halves at least.)
                    true if !entries.blocked
                        && n >= 8
                        && n.is_multiple_of(2)
                        && offsets_multiple_of(8) =>
                    {
                        // Lengths and offsets in u32 words, each vec4<u32> eight
                        // halves.
                        geometry.len /= 2;
                        geometry.x_off /= 2;
                        geometry.y_off /= 2;
                        geometry.g_off /= 2;
                        bound.extend([(YW4, &by), (YW1, &by)]);
                        if let Some(bx) = &bx {
                            bound.extend([(XW4, bx), (XW1, bx)]);
                        }
                        if let Some(bg) = &bg {
                            bound.extend([(GW4, bg), (GW1, bg)]);
                        }
                        (kernel(entries.packed, false, same_offsets)?, groups(n / 8))
                    }
                    _ if n >= 4 && offsets_multiple_of(4) => {
                        (kernel(entries.vec4, true, same_offsets)?, groups(n / 4))
                    }
                    _ => (kernel(entries.scalar, false, false)?, groups(n)),
                };
                if let Some(grid) = self.grid(groups)? {
                    geometry.groups_x = grid.x;
                    geometry.groups_y = grid.y;
                    dispatches.push(self.prepare(
                        &kernel,
                        &params(geometry, start),
                        grid,
                        &bound,
                    )?);
                }
            }
            if let (Some(watch), Some(bits)) = (watch, &activity) {
                dispatches.extend((watch.count)(bits, start, chunk_len)?);
            }
            start += chunk_len;
        }
        Ok(dispatches)
    }

    /// The parts of the chunk of `n` elements from `start` that run in
    /// dispatches of their own: where `words` (f16 as u32 words, not over
    /// blocks), those of `word_parts`, so that an odd count or a view at an
    /// odd place runs as words but for a few halves; else the chunk whole.
    fn parts(
        &self,
        op: &Elementwise<'_>,
        words: bool,
        start: u64,
        n: u64,
    ) -> Result<Vec<(u64, u64)>> {
        if !words {
            return Ok(vec![(0, n)]);
        }
        let Operands { x, g, y, .. } = op.operands;
        let mut offsets = Vec::new();
        for operand in [x, Some(y), g].into_iter().flatten() {
            offsets.push(self.bind(operand, op.operands.esize(), start, n)?.elem_off);
        }
        Ok(word_parts(n, &offsets))
    }
}

/// The engine's scratch as an operand.
fn scratch_operand(buffer: &wgpu::Buffer) -> Operand<'_> {
    Operand {
        buffer,
        byte_offset: 0,
        name: "the activity bits",
    }
}
