//! The arithmetic every family's CPU reference shares: one product and one
//! sum with their NaNs fixed, and the selection that keeps a passed value's
//! bits.

use crate::element::Element;

/// `x > 0 ? v : scale * v`, the product computed in f32 and rounded once to
/// `T`; `v` itself, bits and all, where `x > 0`.
pub(crate) fn scale_unless_positive<T: Element>(x: T, v: T, scale: f32) -> T {
    if x.to_f32() > 0.0 {
        v
    } else {
        T::from_f32(mul(scale, v.to_f32()))
    }
}

/// `scale * value` in f32, with the NaN of a NaN result fixed: the NaN
/// operand quieted (the value's first), or x86's default NaN (0xffc00000)
/// for `0 · ±inf`. The hardware does the same, but a product the compiler
/// folds at build time gives other NaNs; this does not depend on that. The
/// exact-products path of the kernels (`mul_exact`) makes the same choice.
pub(crate) fn mul(scale: f32, value: f32) -> f32 {
    let product = scale * value;
    if !product.is_nan() {
        product
    } else if value.is_nan() {
        f32::from_bits(value.to_bits() | 0x0040_0000)
    } else if scale.is_nan() {
        f32::from_bits(scale.to_bits() | 0x0040_0000)
    } else {
        f32::from_bits(0xffc0_0000)
    }
}

/// `a + b` in f32, with the NaN of a NaN result fixed as [`mul`] fixes it:
/// the NaN operand quieted (`a`'s first), or x86's default NaN for
/// `inf - inf`.
pub(crate) fn add(a: f32, b: f32) -> f32 {
    let sum = a + b;
    if !sum.is_nan() {
        sum
    } else if a.is_nan() {
        f32::from_bits(a.to_bits() | 0x0040_0000)
    } else if b.is_nan() {
        f32::from_bits(b.to_bits() | 0x0040_0000)
    } else {
        f32::from_bits(0xffc0_0000)
    }
}

/// `f(x[i], grad_y[i])` for every element.
pub(crate) fn zip_map<T: Element>(x: &[T], grad_y: &[T], f: impl Fn(T, T) -> T) -> Vec<T> {
    x.iter().zip(grad_y).map(|(&x, &g)| f(x, g)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product's NaN is the same whether the compiler folds it or the
    /// processor computes it.
    #[test]
    fn product_nans_do_not_depend_on_constant_folding() {
        let folded = mul(0.0, f32::NEG_INFINITY);
        let computed = mul(
            std::hint::black_box(0.0),
            std::hint::black_box(f32::NEG_INFINITY),
        );
        assert_eq!(folded.to_bits(), 0xffc0_0000);
        assert_eq!(computed.to_bits(), 0xffc0_0000);
        // A NaN operand comes out quieted, its sign and payload kept.
        assert_eq!(mul(0.5, f32::from_bits(0xff81_2345)).to_bits(), 0xffc1_2345);
        assert_eq!(mul(f32::from_bits(0x7f80_0001), 2.0).to_bits(), 0x7fc0_0001);
    }
}
