//! The element types a tensor can hold: `f32`, and `half::f16` where the
//! device has `SHADER_F16`.

use std::fmt::Debug;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
}

/// A floating-point element type the kernels are compiled for.
///
/// Sealed: implemented for `f32` and [`half::f16`] only.
pub trait Element:
    sealed::Sealed + bytemuck::Pod + Copy + Debug + PartialEq + Send + Sync + 'static
{
    /// The WGSL name of the type, as `Debug`/JSON output prints it.
    const NAME: &'static str;
    /// Bytes per element.
    const SIZE: u64;
    /// The line prepended to every shader to compile it for this type.
    const WGSL_HEADER: &'static str;
    /// The device feature the type needs, if any.
    const FEATURE: wgpu::Features;
    /// The value as f32 (exact for both types).
    fn to_f32(self) -> f32;
    /// The nearest value of this type (round to nearest, ties to even).
    fn from_f32(value: f32) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool {
        self.to_f32().is_nan()
    }
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    const SIZE: u64 = 4;
    const WGSL_HEADER: &'static str = "alias elem = f32;\n";
    const FEATURE: wgpu::Features = wgpu::Features::empty();
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(value: f32) -> Self {
        value
    }
}

impl Element for half::f16 {
    const NAME: &'static str = "f16";
    const SIZE: u64 = 2;
    const WGSL_HEADER: &'static str = "enable f16;\nalias elem = f16;\n";
    const FEATURE: wgpu::Features = wgpu::Features::SHADER_F16;
    fn to_f32(self) -> f32 {
        half::f16::to_f32(self)
    }
    fn from_f32(value: f32) -> Self {
        half::f16::from_f32(value)
    }
}

/// Which element type a kernel is compiled for, as a runtime value (the
/// pipeline cache's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Dtype {
    F32,
    F16,
}

impl Dtype {
    pub(crate) fn of<T: Element>() -> Self {
        if T::SIZE == 2 {
            Dtype::F16
        } else {
            Dtype::F32
        }
    }

    /// Bytes per element.
    pub(crate) fn size(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 => 2,
        }
    }

    pub(crate) fn header(self) -> &'static str {
        match self {
            Dtype::F32 => <f32 as Element>::WGSL_HEADER,
            Dtype::F16 => <half::f16 as Element>::WGSL_HEADER,
        }
    }
}
