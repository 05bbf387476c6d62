//! Binding geometry: which part of a buffer one dispatch binds, and how
//! many elements one binding can hold.
//!
//! A tensor may sit at any element-aligned offset and be larger than one
//! storage binding may be. Every op is therefore recorded as a list of
//! *chunks*: element ranges small enough to bind, each bound at an offset
//! aligned down to `min_storage_buffer_offset_alignment`, the remainder
//! going to the shader as an element offset.

use crate::error::{Error, Result};

use super::kernel::{vec4_span, WORKGROUP_SIZE};
use super::Engine;

/// Largest number of elements one dispatch addresses, so that every index
/// in the shaders fits in a u32 with room to spare.
const MAX_CHUNK_ELEMENTS: u64 = 1 << 30;

/// A tensor operand of an op: where its elements start.
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pub(crate) buffer: &'a wgpu::Buffer,
    pub(crate) byte_offset: u64,
    /// Its name in errors.
    pub(crate) name: &'static str,
}

/// The part of an operand one dispatch binds.
pub(crate) struct Bound<'a> {
    pub(crate) buffer: &'a wgpu::Buffer,
    /// Byte offset of the binding (aligned).
    pub(crate) offset: u64,
    pub(crate) size: u64,
    /// Element offset of the operand's first element within the binding.
    pub(crate) elem_off: u32,
}

impl<'a> Bound<'a> {
    /// All of `buffer`, from its start.
    pub(crate) fn whole(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            offset: 0,
            size: buffer.size(),
            elem_off: 0,
        }
    }
}

impl Engine {
    /// Largest storage binding, in bytes.
    pub(crate) fn binding_limit(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Checks that `bytes` of an operand the kernels bind whole (PReLU's
    /// weight, a monitor's totals) fit one storage binding, with room for
    /// its offset's alignment: `what` and `hint` make the error.
    pub(crate) fn check_bound_whole(
        &self,
        what: &'static str,
        bytes: u64,
        hint: &'static str,
    ) -> Result<()> {
        let limit = self.binding_limit();
        if bytes + 256 > limit {
            return Err(Error::TooLarge {
                what,
                size: bytes,
                limit,
                hint,
            });
        }
        Ok(())
    }

    /// The device's storage-buffer offset alignment, in bytes.
    pub(crate) fn offset_alignment(&self) -> u64 {
        u64::from(self.limits.min_storage_buffer_offset_alignment)
    }

    /// Largest element range one binding can hold wherever it starts.
    pub(crate) fn chunk_elements(&self, esize: u64) -> u64 {
        let usable = self
            .binding_limit()
            .saturating_sub(self.offset_alignment().saturating_sub(esize));
        // Every kernel covers at least WORKGROUP_SIZE elements per
        // workgroup, so this many always fit the grid.
        let max_groups = u64::from(self.limits.max_compute_workgroups_per_dimension).pow(3);
        let grid = max_groups.saturating_mul(u64::from(WORKGROUP_SIZE));
        // Chunks are a multiple of a vec4 workgroup's span, which keeps
        // every chunk after the first as vec4-aligned as the first, and
        // each workgroup's span where it was relative to PReLU's runs.
        let span = vec4_span(self.cpu_adapter());
        ((usable / esize).min(grid) / span * span).clamp(span, MAX_CHUNK_ELEMENTS)
    }

    /// The part of `operand` holding elements `start..start + len` (of
    /// `esize` bytes), bound at an aligned offset.
    pub(crate) fn bind<'a>(
        &self,
        operand: Operand<'a>,
        esize: u64,
        start: u64,
        len: u64,
    ) -> Result<Bound<'a>> {
        let align = self.offset_alignment();
        let first_byte = operand.byte_offset + start * esize;
        let offset = first_byte / align * align;
        let end = first_byte + len.max(1) * esize;
        let size = (end - offset)
            .next_multiple_of(4)
            .min(operand.buffer.size() - offset);
        if !size.is_multiple_of(4) {
            return Err(Error::Misaligned {
                tensor: operand.name,
                rule: format!(
                    "its range ends at byte {end}, at the end of a {}-byte buffer that is not a \
                     multiple of 4 bytes; storage bindings come in 4-byte units, so make the \
                     buffer size a multiple of 4",
                    operand.buffer.size()
                ),
            });
        }
        Ok(Bound {
            buffer: operand.buffer,
            offset,
            size,
            elem_off: ((first_byte - offset) / esize) as u32,
        })
    }
}
