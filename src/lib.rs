//! Bit-exact WGSL compute kernels for the ReLU family — ReLU, Leaky ReLU,
//! PReLU and RReLU, forward and backward — on any wgpu adapter.
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

// Leaves: no module below imports one above it.
mod divisor;
mod element;
mod error;
mod lock;
mod semantics;
mod shape;

// Tensors and their memory, and the mask a forward leaves for training.
mod mask;
mod pool;
mod tensor;

// The engine, and the WGSL every family shares.
mod common;
mod engine;
mod options;

// One module per op family: its WGSL, its dispatch, its CPU reference.
mod leaky_relu;
mod prelu;
mod relu;
mod rrelu;

// Dead-unit statistics: the monitor and its count pass.
mod stats;

// What a call is and how it is checked, and the device that runs it.
mod activation;
mod device;
#[cfg(test)]
mod modules;
mod training;
mod validate;

pub mod cpu;
pub mod wgsl;

pub use activation::{Activation, Gradients, RreluMode};
pub use device::Gpu;
pub use element::Element;
pub use engine::Allocations;
pub use error::{Error, Result};
pub use mask::Mask;
pub use options::{ExactProducts, GpuOptions};
pub use stats::{ActivityMonitor, ActivityStats};
pub use tensor::Tensor;
pub use training::{ForwardOut, GradOut, Saved};

pub use half;
pub use wgpu;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
