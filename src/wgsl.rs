//! The activations as WGSL an app imports into its own shaders, to apply
//! them in the epilogue of its own matmul or convolution — while the value
//! is still in a register — with the library's exact semantics (NaN, −0,
//! signalling NaNs and payloads, subnormals on devices that flush them).
//!
//! Two ways in:
//!
//! - **Plain text**: [`source`] (or [`source_for`], which takes the
//!   exact-products choice from a [`Gpu`]) returns WGSL to paste or
//!   concatenate before the app's own code. Every name it defines starts
//!   with `wgpu_relu_`, so it cannot collide with an app's:
//!   `wgpu_relu_relu_forward(x)`, `wgpu_relu_relu_backward(x, g)`,
//!   `wgpu_relu_leaky_relu_forward(x, slope)`,
//!   `wgpu_relu_leaky_relu_backward(x, g, slope)`,
//!   `wgpu_relu_prelu_forward(x, w)`, `wgpu_relu_prelu_backward(x, g, w)`,
//!   `wgpu_relu_prelu_weight_term(x, g)` (the element's term of PReLU's
//!   weight gradient), each also as `…4` on `vec4`s. `x` and `g` are of
//!   the element type (`f32`, or `f16` after the app's own `enable f16;`);
//!   slopes and weights are `f32`, products are computed in f32 and rounded
//!   once, as the library's kernels do.
//! - **naga_oil** (cargo feature `naga_oil`): `add_to_composer` registers
//!   the modules `wgpu_relu::relu`, `wgpu_relu::leaky_relu`,
//!   `wgpu_relu::prelu` (and `wgpu_relu::common`, which they import), so a
//!   shader says `#import wgpu_relu::relu::relu_forward` and calls
//!   `relu_forward(x)`.
//!
//! **Exact products**: a device that flushes subnormal products to zero
//! (NVIDIA's Vulkan driver does) would change the last bit of some
//! products; the library finds out with a probe when the `Gpu` is made
//! ([`Gpu::exact_products`]) and recomputes those products in integer
//! arithmetic. The exported functions take the same choice as a constant,
//! fixed when the text is made: pass `gpu.exact_products()` (or use
//! [`source_for`]) and the app's kernel gives the library's bits on that
//! device. f16 needs no exact path (f16 operands never make subnormal f32
//! products), so its text always has it off.
//!
//! ```
//! use wgpu_relu::wgsl;
//! let text = wgsl::source::<f32>(false);
//! let shader = format!("{text}
//! @group(0) @binding(0) var<storage, read_write> data: array<f32>;
//! @compute @workgroup_size(64)
//! fn main(@builtin(global_invocation_id) id: vec3<u32>) {{
//!     data[id.x] = wgpu_relu_leaky_relu_forward(data[id.x], 0.01);
//! }}");
//! # let _ = shader;
//! ```

use std::collections::HashSet;

use crate::element::{Dtype, Element};
use crate::Gpu;

/// The shared helpers the activations call: sign tests on the bits and
/// products exact down to subnormals.
fn helpers() -> String {
    format!("{}\n{}", crate::common::SIGN, crate::common::EXACT)
}

/// The binding-free functions of every family, in `elem`.
fn activations() -> String {
    format!(
        "{}\n{}\n{}",
        crate::relu::WGSL,
        crate::leaky_relu::WGSL,
        crate::prelu::WGSL
    )
}

/// WGSL defining every activation's forward and derivative for element
/// type `T` (`f32` or `half::f16`; an f16 shader starts with `enable f16;`
/// itself), every name prefixed `wgpu_relu_`, the exact-products path on
/// or off (see the module's docs). Bit for bit the library's own kernels
/// on a device where [`Gpu::exact_products`] is `exact_products`.
pub fn source<T: Element>(exact_products: bool) -> String {
    let dtype = Dtype::of::<T>();
    let text = format!("{}\n{}", helpers(), activations());
    let text = concrete(&text, dtype, exact_products);
    prefixed(&text, "wgpu_relu_")
}

/// Philox-4×32-10, the counter-based generator of RReLU's slopes, as WGSL:
/// `wgpu_relu_philox4x32_10(counter: vec4<u32>, key: vec2<u32>) ->
/// vec4<u32>` (with the helpers it needs, every name prefixed
/// `wgpu_relu_`), for an app that wants the same random words in its own
/// shaders; [`cpu::philox4x32_10`](crate::cpu::philox4x32_10) is its CPU
/// twin. Independent of [`source`]: concatenate both if you use both.
pub fn philox() -> String {
    let text = format!(
        "{}\n{}\n{}",
        crate::common::INDEX,
        crate::common::WIDE,
        crate::rrelu::PHILOX
    );
    prefixed(&text, "wgpu_relu_")
}

/// [`source`] with the exact-products choice of `gpu`.
pub fn source_for<T: Element>(gpu: &Gpu) -> String {
    source::<T>(gpu.exact_products())
}

/// `text` for one element type: `elem` spelled out, the exact-products
/// pipeline constant turned into a constant (f16 never needs it).
fn concrete(text: &str, dtype: Dtype, exact_products: bool) -> String {
    let exact = exact_products && dtype == Dtype::F32;
    // An app's shader runs on any adapter: the sign tests on the bits.
    let text = text
        .replace(
            "override EXACT_PRODUCTS: bool = false;",
            &format!("const EXACT_PRODUCTS: bool = {exact};"),
        )
        .replace(
            "override FLOAT_COMPARES: bool = false;",
            "const FLOAT_COMPARES: bool = false;",
        );
    let elem = match dtype {
        Dtype::F32 => "f32",
        Dtype::F16 => "f16",
    };
    replace_identifiers(&text, |name| (name == "elem").then(|| elem.to_string()))
}

/// `text` with every function and constant it defines renamed `prefix` +
/// name, and every use of them with it.
fn prefixed(text: &str, prefix: &str) -> String {
    let mut defined = HashSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        for keyword in ["fn ", "const ", "override "] {
            if let Some(rest) = line.strip_prefix(keyword) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                defined.insert(name);
            }
        }
    }
    replace_identifiers(text, |name| {
        defined.contains(name).then(|| format!("{prefix}{name}"))
    })
}

/// `text` with each identifier for which `rename` gives a name replaced by
/// it; comments and everything else kept.
fn replace_identifiers(text: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &text[start..end];
            out.push_str(&rename(word).unwrap_or_else(|| word.to_string()));
        } else if c.is_ascii_digit() {
            // A number's suffixes (1u, 0x7f800000u) are not identifiers.
            out.push(c);
            while let Some(&(_, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '.' {
                    out.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Registers the naga_oil modules `wgpu_relu::common`, `wgpu_relu::relu`,
/// `wgpu_relu::leaky_relu` and `wgpu_relu::prelu` for element type `T`,
/// with the exact-products path on or off (see the module's docs), so that
/// a shader composed by `composer` can `#import wgpu_relu::relu::relu_forward`
/// and the like. Once per composer and element type.
#[cfg(feature = "naga_oil")]
pub fn add_to_composer<T: Element>(
    composer: &mut naga_oil::compose::Composer,
    exact_products: bool,
) -> Result<(), Box<naga_oil::compose::ComposerError>> {
    use naga_oil::compose::ComposableModuleDescriptor;
    let dtype = Dtype::of::<T>();
    let enable = match dtype {
        Dtype::F16 => "enable f16;\n",
        Dtype::F32 => "",
    };
    let common = concrete(&helpers(), dtype, exact_products);
    let families = [
        ("relu", crate::relu::WGSL, "is_negative1, is_negative4"),
        (
            "leaky_relu",
            crate::leaky_relu::WGSL,
            "is_positive1, is_positive4, mul1, mul4",
        ),
        (
            "prelu",
            crate::prelu::WGSL,
            "is_positive1, is_positive4, mul1, mul4",
        ),
    ];
    let mut modules = vec![(
        "wgpu_relu/common.wgsl".to_string(),
        format!("{enable}#define_import_path wgpu_relu::common\n{common}"),
    )];
    for (name, wgsl, imports) in families {
        let body = concrete(wgsl, dtype, exact_products);
        modules.push((
            format!("wgpu_relu/{name}.wgsl"),
            format!(
                "{enable}#define_import_path wgpu_relu::{name}\n\
                 #import wgpu_relu::common::{{{imports}}}\n{body}"
            ),
        ));
    }
    for (file_path, source) in &modules {
        composer
            .add_composable_module(ComposableModuleDescriptor {
                source,
                file_path,
                ..Default::default()
            })
            .map_err(Box::new)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(source: &str) {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
    }

    /// The text validates alone and inside a user-style shader, for both
    /// element types and both exact-products choices, and defines only
    /// prefixed names.
    #[test]
    fn exported_text_validates_and_is_prefixed() {
        for exact in [false, true] {
            let f32_text = source::<f32>(exact);
            let f16_text = format!("enable f16;\n{}", source::<half::f16>(exact));
            for (text, elem) in [(f32_text, "f32"), (f16_text, "f16")] {
                validate(&text);
                let user = format!(
                    "{text}
fn my_relu(x: f32) -> f32 {{ return max(x, 0.0); }}
@group(0) @binding(0) var<storage, read_write> data: array<{elem}>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {{
    let x = data[id.x];
    data[id.x] = wgpu_relu_prelu_backward(x, wgpu_relu_leaky_relu_forward(x, 0.5), 0.25)
        + wgpu_relu_relu_forward(x) + wgpu_relu_relu_backward4(vec4(x), vec4(x)).x;
}}"
                );
                validate(&user);
                for line in text.lines().map(str::trim_start) {
                    if let Some(rest) = line.strip_prefix("fn ").or(line.strip_prefix("const ")) {
                        assert!(rest.starts_with("wgpu_relu_"), "unprefixed: {line}");
                    }
                }
                assert!(
                    !text.contains("override"),
                    "no pipeline constants in the export"
                );
                let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                assert!(
                    words.clone().all(|w| w != "elem"),
                    "the element type is spelled out"
                );
            }
            assert_eq!(
                source::<f32>(exact).contains("const wgpu_relu_EXACT_PRODUCTS: bool = true;"),
                exact
            );
        }
    }

    /// The naga_oil modules compose into a user-style shader that imports
    /// them, for both element types and both exact-products choices.
    #[cfg(feature = "naga_oil")]
    #[test]
    fn naga_oil_modules_compose() {
        use naga_oil::compose::{Composer, NagaModuleDescriptor};
        for exact in [false, true] {
            for (dtype, enable) in [("f32", ""), ("f16", "enable f16;\n")] {
                let mut composer =
                    Composer::default().with_capabilities(naga::valid::Capabilities::all());
                match dtype {
                    "f32" => add_to_composer::<f32>(&mut composer, exact),
                    _ => add_to_composer::<half::f16>(&mut composer, exact),
                }
                .unwrap_or_else(|e| panic!("{dtype}: {e:?}"));
                let shader = format!(
                    "{enable}#import wgpu_relu::relu::relu_forward
#import wgpu_relu::leaky_relu::leaky_relu_backward
#import wgpu_relu::prelu::{{prelu_forward4, prelu_weight_term}}
@group(0) @binding(0) var<storage, read_write> data: array<{dtype}>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {{
    let x = data[id.x];
    let v = prelu_forward4(vec4(x), vec4(0.25)).x;
    data[id.x] = relu_forward(x) + leaky_relu_backward(x, v, 0.5) + {dtype}(prelu_weight_term(x, v));
}}"
                );
                let module = composer
                    .make_naga_module(NagaModuleDescriptor {
                        source: &shader,
                        file_path: "user.wgsl",
                        ..Default::default()
                    })
                    .unwrap_or_else(|e| panic!("{dtype}: {}", e.emit_to_string(&composer)));
                naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::all(),
                )
                .validate(&module)
                .unwrap_or_else(|e| panic!("{dtype}: {e:?}"));
            }
        }
    }

    #[test]
    fn renaming_leaves_numbers_and_other_words_alone() {
        let text =
            "fn a(x: u32) -> u32 { return x + 0x7fu + 1u; }\nfn b() -> u32 { return a(2u); }";
        assert_eq!(
            prefixed(text, "p_"),
            "fn p_a(x: u32) -> u32 { return x + 0x7fu + 1u; }\nfn p_b() -> u32 { return p_a(2u); }"
        );
    }
}
