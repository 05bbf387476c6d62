//! WGSL shared by the families' kernels, one idea a file: the NaN-safe sign
//! tests, products and sums exact down to subnormals, index arithmetic
//! (division by multiply-shift, the flat workgroup index) and f16 halves in
//! u32 words.
//! None of it touches a binding.

/// `is_positive1/4`, `is_negative1/4`: sign tests on the bits.
pub(crate) const SIGN: &str = include_str!("sign.wgsl");
/// `mul1/4`: products, recomputed in integer arithmetic where the device
/// flushes subnormals (the `EXACT_PRODUCTS` pipeline constant).
pub(crate) const EXACT: &str = include_str!("exact.wgsl");
/// `div_by`, `mul_hi`, `workgroup_index`.
pub(crate) const INDEX: &str = include_str!("index.wgsl");
/// Masks of f16 halves by bit pattern, and exact conversions to and from f32.
pub(crate) const HALVES: &str = include_str!("halves.wgsl");
/// `add1/4`: f32 additions, exact down to subnormals where the device
/// flushes them (the `EXACT_PRODUCTS` pipeline constant too).
pub(crate) const ADD: &str = include_str!("add.wgsl");
/// `mul_wide`: the 64-bit product of two u32s as two words, from
/// `mul_hi`; a module's source swaps in [`WIDE64`] on devices with 64-bit
/// integers.
pub(crate) const WIDE: &str = include_str!("wide.wgsl");
/// `mul_wide` with `u64` (`SHADER_INT64`).
pub(crate) const WIDE64: &str = include_str!("wide64.wgsl");

#[cfg(test)]
mod tests;
