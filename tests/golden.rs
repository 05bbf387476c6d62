//! Every op, f32 and f16, against PyTorch's own results on every pair of
//! special bit patterns and on random values (tests/golden/, made by
//! scripts/golden.py), on every kernel path: vec4, scalar, f16 words, in
//! place, aligned and odd offsets. The CPU reference is held to them too.

mod common;
#[path = "common/golden.rs"]
mod golden;
#[path = "common/golden_training.rs"]
mod golden_training;

use common::gpu;
use wgpu_relu::{wgpu, Error};

#[test]
fn f32_matches_pytorch_bit_for_bit() {
    golden::check_dtype::<f32>(gpu(), 1e-5);
}

#[test]
fn f16_matches_pytorch_bit_for_bit() {
    let gpu = gpu();
    if gpu.adapter_info().backend == wgpu::Backend::Gl {
        // GL has no f16: the calls must say so.
        let x = golden::load::<half::f16>("x");
        assert!(matches!(gpu.upload(&x), Err(Error::MissingFeature { .. })));
        return;
    }
    golden::check_dtype::<half::f16>(gpu, 1e-3);
}

#[test]
fn f32_training_forms_match_pytorch_bit_for_bit() {
    golden_training::check_training::<f32>(gpu());
}

#[test]
fn f16_training_forms_match_pytorch_bit_for_bit() {
    let gpu = gpu();
    if gpu.adapter_info().backend == wgpu::Backend::Gl {
        let x = gpu.upload(&[0.0f32]).unwrap();
        let r = gpu.empty::<half::f16>(&[4]);
        assert!(matches!(r, Err(Error::MissingFeature { .. })), "{r:?}");
        let _ = x;
        return;
    }
    golden_training::check_training::<half::f16>(gpu);
}
