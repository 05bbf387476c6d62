//! Checks every op makes of its tensors before anything is made or
//! recorded, and the tensors as the engine sees them.

use crate::element::Element;
use crate::engine::Operand;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Largest tensor, in elements: PReLU's channel arithmetic runs in u32.
pub(crate) const MAX_ELEMENTS: u64 = 1 << 31;

/// A tensor as an operand of the engine.
pub(crate) fn operand<'a, T: Element>(tensor: &'a Tensor<T>, name: &'static str) -> Operand<'a> {
    Operand {
        buffer: tensor.raw_buffer(),
        byte_offset: tensor.byte_offset(),
        name,
    }
}

/// Outputs are shaped like `x`: the same element count in another shape
/// is an error, as in PyTorch, since a caller who reads the output by its
/// shape would misread it.
pub(crate) fn check_same_shape<T: Element>(
    output: &Tensor<T>,
    x: &Tensor<T>,
    name: &'static str,
) -> Result<()> {
    if output.shape() == x.shape() {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what: name,
            actual: output.shape().to_vec(),
            expected: x.shape().to_vec(),
        })
    }
}

/// An error if `output` overlaps `input` in the same buffer, unless it is
/// exactly the same range and `same_allowed`.
pub(crate) fn check_overlap<A: Element, B: Element>(
    input: &Tensor<A>,
    input_name: &'static str,
    output: &Tensor<B>,
    output_name: &'static str,
    same_allowed: bool,
) -> Result<()> {
    if !same_buffer(input.raw_buffer(), output.raw_buffer())
        || input.is_empty()
        || output.is_empty()
    {
        return Ok(());
    }
    let (a, b) = (input.byte_range(), output.byte_range());
    let overlaps = a.start < b.end && b.start < a.end;
    if !overlaps || (same_allowed && a == b) {
        Ok(())
    } else {
        Err(Error::Overlap {
            input: input_name,
            output: output_name,
        })
    }
}

/// Whether two handles are one buffer. wgpu compares buffers by registry
/// id, and ids repeat from one wgpu instance to the next, so a wrapped
/// buffer of another device may compare equal to one of ours: the size and
/// usage must agree too. (A buffer of another device is then caught when it
/// is bound.)
fn same_buffer(a: &wgpu::Buffer, b: &wgpu::Buffer) -> bool {
    a == b && a.size() == b.size() && a.usage() == b.usage()
}

/// An error for a tensor of more than [`MAX_ELEMENTS`].
pub(crate) fn check_len(len: usize) -> Result<()> {
    if len as u64 > MAX_ELEMENTS {
        return Err(Error::TooLarge {
            what: "the tensor's element count",
            size: len as u64,
            limit: MAX_ELEMENTS,
            hint: "split the tensor into several of at most 2^31 elements",
        });
    }
    Ok(())
}
