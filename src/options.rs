//! `GpuOptions`: how a `Gpu` is made, in code rather than only in the
//! environment.

/// Whether the kernels recompute products that the device flushes to zero
/// (subnormals), so that results stay bit-identical to the CPU reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExactProducts {
    /// Find out with a tiny dispatch when the `Gpu` is made (the default).
    #[default]
    Probe,
    /// Always take the exact path (correct everywhere, slower where the
    /// device does not flush).
    Always,
    /// Never take it (faster; wrong in the last bit where the device flushes).
    Never,
}

/// Options for [`Gpu::with_options`](crate::Gpu::with_options) and
/// [`Gpu::from_device_with_options`](crate::Gpu::from_device_with_options).
///
/// The environment variable `WGPU_RELU_EXACT_PRODUCTS=1` (or `=0`)
/// overrides [`GpuOptions::exact_products`], so a deployed program can be
/// switched without a rebuild.
///
/// ```
/// use wgpu_relu::{ExactProducts, GpuOptions};
/// let options = GpuOptions::default()
///     .exact_products(ExactProducts::Always)
///     .features(wgpu_relu::wgpu::Features::SHADER_F16);
/// assert_eq!(options.exact_products, ExactProducts::Always);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct GpuOptions {
    /// How to treat subnormal products; [`ExactProducts::Probe`] by default.
    pub exact_products: ExactProducts,
    /// Features to require on top of those the library asks for where the
    /// adapter has them (`SHADER_F16`, timestamps, and
    /// `MAPPABLE_PRIMARY_BUFFERS` on CPU adapters). Only for a device the
    /// library makes; a missing one is [`Error::RequestDevice`](crate::Error::RequestDevice).
    pub features: wgpu::Features,
    /// The limits to request; `None` (the default) takes the adapter's own,
    /// so that large buffers work. Only for a device the library makes.
    pub limits: Option<wgpu::Limits>,
}

impl GpuOptions {
    /// These options with `exact_products` set.
    pub fn exact_products(mut self, exact_products: ExactProducts) -> Self {
        self.exact_products = exact_products;
        self
    }

    /// These options with `features` required.
    pub fn features(mut self, features: wgpu::Features) -> Self {
        self.features = features;
        self
    }

    /// These options with `limits` requested.
    pub fn limits(mut self, limits: wgpu::Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The choice after the environment's override.
    pub(crate) fn exact_products_in_effect(&self) -> ExactProducts {
        match std::env::var("WGPU_RELU_EXACT_PRODUCTS").as_deref() {
            Ok("1") => ExactProducts::Always,
            Ok("0") => ExactProducts::Never,
            _ => self.exact_products,
        }
    }
}
