//! `Mask`: the one bit per element a forward can leave for its backward,
//! and its layout on the CPU.

use crate::error::Result;
use crate::tensor::Tensor;

/// One bit per element, written by a forward
/// ([`Gpu::forward_with_mask`](crate::Gpu::forward_with_mask)) for its
/// backward ([`Saved::Mask`](crate::Saved::Mask)): 1/32 of the memory of
/// keeping `x` in f32.
///
/// The bit is the predicate the family's backward takes `grad_y` on,
/// exactly:
///
/// | written by | bit set where |
/// | --- | --- |
/// | `Relu` | `!(x <= 0)`: `x > 0` or `x` is NaN (PyTorch's `x <= 0 ? 0 : g`) |
/// | `LeakyRelu` | `x > 0` (NaN gives 0) |
///
/// A backward reads the bits only: a mask written by one family and read by
/// the other differs from that one's own only where `x` was NaN.
///
/// **Layout**: `u32` words in blocks of 8192 elements. Block `b` (elements
/// `8192·b..`) takes words `256·b..256·b + 256`; within it, the vec4 of
/// elements `q` (elements `4q..4q + 4` of the block, `q < 2048`) is the
/// nibble `q / 256` of word `q % 256`. So element `i` is bit
/// `4·(r / 1024) + r % 4` of word `256·(i / 8192) + (r / 4) % 256`, with
/// `r = i % 8192` ([`Mask::position`]). A last, partial block takes one
/// word per started vec4 of elements, up to 256 ([`Mask::words_for`]), and
/// every bit of a word past the tensor's end is 0. The kernels write a
/// block with one workgroup whose every invocation owns one word and reads
/// and writes memory next to its neighbours': no atomics, no barriers, and
/// the same bits on every adapter, at every offset.
#[derive(Clone, Debug)]
pub struct Mask {
    /// The words, seen as a tensor so that they share the tensors'
    /// ownership, pooling and checks (their bits are never read as floats).
    words: Tensor<f32>,
    len: usize,
}

impl Mask {
    /// The number of `u32` words a mask of `len` elements takes: 256 a
    /// whole block of 8192 elements, one per started vec4 of a partial one
    /// (at most 256): `len.div_ceil(32)` for a whole number of blocks.
    pub fn words_for(len: usize) -> usize {
        crate::engine::elementwise::mask_words(len as u64) as usize
    }

    /// Where the bit of element `i` is: its word and its bit in the word
    /// (`word >> bit & 1`).
    ///
    /// ```
    /// use wgpu_relu::Mask;
    /// assert_eq!(Mask::position(0), (0, 0));
    /// assert_eq!(Mask::position(5), (1, 1)); // the second vec4's word
    /// assert_eq!(Mask::position(1024), (0, 4)); // vec4 256: word 0 again
    /// assert_eq!(Mask::position(8192 + 3), (256, 3)); // the next block
    /// ```
    pub fn position(i: usize) -> (usize, u32) {
        let (block, r) = (i / BLOCK, i % BLOCK);
        (block * 256 + (r / 4) % 256, (4 * (r / 1024) + r % 4) as u32)
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

/// Elements of a block of the layout.
const BLOCK: usize = crate::engine::elementwise::MASK_BLOCK as usize;

/// Packs one predicate per element into mask words (the layout above).
pub(crate) fn pack(len: usize, predicate: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut words = vec![0u32; Mask::words_for(len)];
    for i in (0..len).filter(|&i| predicate(i)) {
        let (word, bit) = Mask::position(i);
        words[word] |= 1 << bit;
    }
    words
}

/// The bit of element `i` in `words`; `false` past their end.
pub(crate) fn bit(words: &[u32], i: usize) -> bool {
    let (word, bit) = Mask::position(i);
    words.get(word).is_some_and(|w| w >> bit & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element has its own bit, every word of a mask is used, and
    /// a word holds neighbouring vec4s' nibbles 256 vec4s apart.
    #[test]
    fn layout_gives_every_element_its_own_bit() {
        for len in [
            1,
            4,
            5,
            31,
            1023,
            1024,
            1025,
            8191,
            8192,
            8193,
            8192 * 3 + 77,
        ] {
            let words = Mask::words_for(len);
            let mut seen = vec![0u32; words];
            for i in 0..len {
                let (w, b) = Mask::position(i);
                assert!(w < words, "len {len}: element {i} in word {w} of {words}");
                assert_eq!(seen[w] >> b & 1, 0, "len {len}: element {i} shares a bit");
                seen[w] |= 1 << b;
            }
            assert!(seen.iter().all(|&w| w != 0), "len {len}: an unused word");
        }
        assert_eq!(Mask::words_for(0), 0);
        assert_eq!(Mask::words_for(5), 2);
        assert_eq!(Mask::words_for(8192), 256);
        assert_eq!(Mask::words_for(8192 + 2000), 512);
        assert_eq!(Mask::position(4 * 256 + 4 * 3 + 2), (3, 6));
        let words = pack(9, |i| i == 0 || i == 6);
        assert_eq!(words, vec![1, 1 << 2, 0]);
        assert!(bit(&words, 6) && !bit(&words, 5) && !bit(&words, 100_000));
    }
}
