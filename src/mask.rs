//! `Mask`: the one bit per element a forward can leave for its backward,
//! and its layout on the CPU.

use crate::error::Result;
use crate::tensor::Tensor;

/// One bit per element, written by a forward
/// ([`Gpu::forward_with_mask`](crate::Gpu::forward_with_mask)) for its
/// backward ([`Saved::Mask`](crate::Saved::Mask)): 1/32 of the memory of
/// keeping `x` in f32.
///
/// **Layout**: `u32` words, little end first. Element `i` of the tensor is
/// bit `i % 32` of word `i / 32` (the bit `1 << (i % 32)`); the mask of
/// `len` elements takes `len.div_ceil(32)` words, and the bits past `len`
/// in the last word are 0. The bit is the predicate the family's backward
/// takes `grad_y` on, exactly:
///
/// | written by | bit set where |
/// | --- | --- |
/// | `Relu` | `!(x <= 0)`: `x > 0` or `x` is NaN (PyTorch's `x <= 0 ? 0 : g`) |
/// | `LeakyRelu` | `x > 0` (NaN gives 0) |
///
/// A backward reads the bits only: a mask written by one family and read by
/// the other differs from that one's own only where `x` was NaN.
/// [`cpu::mask_bit`](crate::cpu::mask_bit) reads one bit on the CPU.
#[derive(Clone, Debug)]
pub struct Mask {
    /// The words, seen as a tensor so that they share the tensors'
    /// ownership, pooling and checks (their bits are never read as floats).
    words: Tensor<f32>,
    len: usize,
}

impl Mask {
    /// The number of `u32` words a mask of `len` elements takes.
    pub fn words_for(len: usize) -> usize {
        len.div_ceil(32)
    }

    /// Wraps a range of an app's own buffer as the mask of `len` elements,
    /// starting `byte_offset` bytes in; nothing is copied. The buffer needs
    /// `STORAGE` usage, the offset must be a multiple of 4, and
    /// [`Mask::words_for`]`(len)` words must fit after it.
    pub fn from_buffer(buffer: wgpu::Buffer, byte_offset: u64, len: usize) -> Result<Self> {
        let words = Tensor::from_buffer(buffer, byte_offset, &[Self::words_for(len)])?;
        Ok(Mask { words, len })
    }

    pub(crate) fn from_words(words: Tensor<f32>, len: usize) -> Self {
        Mask { words, len }
    }

    /// The number of elements (bits) it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer holding the words (see [`Tensor::buffer`] on reuse).
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.words.buffer()
    }

    /// Where the words start in the buffer, in bytes.
    pub fn byte_offset(&self) -> u64 {
        self.words.byte_offset()
    }

    /// Size of the words in bytes: 4 × [`Mask::words_for`]`(len)`.
    pub fn byte_len(&self) -> u64 {
        self.words.byte_len()
    }

    /// The words as the library's checks and bindings see them.
    pub(crate) fn words(&self) -> &Tensor<f32> {
        &self.words
    }
}

/// Packs one predicate per element into mask words (the layout above).
pub(crate) fn pack(len: usize, predicate: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut words = vec![0u32; Mask::words_for(len)];
    for i in (0..len).filter(|&i| predicate(i)) {
        words[i / 32] |= 1 << (i % 32);
    }
    words
}

/// Bit `i` of `words`; `false` past their end.
pub(crate) fn bit(words: &[u32], i: usize) -> bool {
    words.get(i / 32).is_some_and(|w| w >> (i % 32) & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_bit_i_mod_32_of_word_i_div_32() {
        let words = pack(70, |i| i == 0 || i == 33 || i == 69);
        assert_eq!(words, vec![1, 1 << 1, 1 << 5]);
        assert!(bit(&words, 33) && !bit(&words, 34) && !bit(&words, 1000));
        assert_eq!(Mask::words_for(0), 0);
        assert_eq!(Mask::words_for(32), 1);
        assert_eq!(Mask::words_for(33), 2);
    }
}
