//! Bit-exact WGSL compute kernels for the ReLU family — ReLU, Leaky ReLU and
//! PReLU, forward and backward — on any wgpu adapter.
//!
//! ```
//! use wgpu_relu::{Activation, Gpu};
//!
//! # fn main() -> Result<(), wgpu_relu::Error> {
//! let gpu = Gpu::new()?;
//! let x = gpu.upload(&[-2.0f32, -0.5, 0.0, 1.5])?;
//! let y = gpu.forward(&Activation::Relu, &x)?;
//! assert_eq!(gpu.download(&y)?, vec![0.0, 0.0, 0.0, 1.5]);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod activation;
pub mod cpu;
mod divisor;
mod element;
mod error;
mod gpu;
mod kernels;
mod pool;
mod tensor;

pub use activation::{Activation, Gradients};
pub use element::Element;
pub use error::{Error, Result};
pub use gpu::Gpu;
pub use kernels::Allocations;
pub use tensor::Tensor;

pub use half;
pub use wgpu;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
