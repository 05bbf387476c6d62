//! Bad input is an `Error` that says what was wrong, never a panic, and the
//! `Gpu` keeps working after it.

mod common;
use common::*;
use wgpu_relu::{wgpu, Activation, Error, Gpu, Tensor};

fn buffer(gpu: &Gpu, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage,
        mapped_at_creation: false,
    })
}

/// The Gpu still computes correctly after an error.
fn still_works(gpu: &Gpu) {
    let x = gpu.upload(&[-1.0f32, 2.0]).unwrap();
    assert_eq!(
        gpu.download(&gpu.forward(&Activation::Relu, &x).unwrap())
            .unwrap(),
        vec![0.0, 2.0]
    );
}

#[test]
fn shape_and_length_mismatches() {
    let gpu = gpu();
    let x = gpu.upload(&[1.0f32; 12]).unwrap().reshape(&[3, 4]).unwrap();
    let g = gpu.upload(&[1.0f32; 12]).unwrap();
    assert!(matches!(
        gpu.backward(&Activation::Relu, &x, &g),
        Err(Error::ShapeMismatch { what: "grad_y", .. })
    ));
    let y = gpu.upload(&[0.0f32; 11]).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    assert!(matches!(
        gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &y),
        Err(Error::ShapeMismatch { what: "y", .. })
    ));
    assert!(matches!(x.reshape(&[5, 3]), Err(Error::Shape(_))));
    assert!(matches!(x.reshape(&[usize::MAX, 3]), Err(Error::Shape(_))));
    still_works(gpu);
}

#[test]
fn prelu_weight_and_axis_errors() {
    let gpu = gpu();
    let x = gpu
        .upload(&[1.0f32; 24])
        .unwrap()
        .reshape(&[2, 3, 4])
        .unwrap();
    let w2 = gpu.upload(&[0.1f32; 2]).unwrap();
    let bad_len = Activation::Prelu {
        weight: &w2,
        channel_axis: 1,
    };
    let err = gpu.forward(&bad_len, &x).unwrap_err();
    assert!(matches!(err, Error::InvalidWeight(_)), "{err}");
    assert!(err.to_string().contains("must have 1"), "{err}");
    let w3 = gpu.upload(&[0.1f32; 3]).unwrap();
    let bad_axis = Activation::Prelu {
        weight: &w3,
        channel_axis: 3,
    };
    assert!(matches!(
        gpu.forward(&bad_axis, &x),
        Err(Error::InvalidWeight(_))
    ));
    let g = gpu
        .upload(&[1.0f32; 24])
        .unwrap()
        .reshape(&[2, 3, 4])
        .unwrap();
    assert!(matches!(
        gpu.backward(&bad_axis, &x, &g),
        Err(Error::InvalidWeight(_))
    ));
    // A weight gradient for an activation without a weight.
    let gx = gpu
        .upload(&[0.0f32; 24])
        .unwrap()
        .reshape(&[2, 3, 4])
        .unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let r = gpu.encode_backward(&mut encoder, &Activation::Relu, &x, &g, &gx, Some(&w3));
    assert!(matches!(r, Err(Error::InvalidWeight(_))));
    // A weight gradient of the wrong length.
    let good = Activation::Prelu {
        weight: &w3,
        channel_axis: 1,
    };
    let r = gpu.encode_backward(&mut encoder, &good, &x, &g, &gx, Some(&w2));
    assert!(matches!(
        r,
        Err(Error::ShapeMismatch {
            what: "grad_weight",
            ..
        })
    ));
    still_works(gpu);
}

#[test]
fn non_finite_slopes() {
    let gpu = gpu();
    let x = gpu.upload(&[1.0f32; 4]).unwrap();
    for s in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let act = Activation::LeakyRelu { negative_slope: s };
        assert!(matches!(gpu.forward(&act, &x), Err(Error::InvalidSlope(_))));
        assert!(matches!(
            gpu.backward(&act, &x, &x),
            Err(Error::InvalidSlope(_))
        ));
        assert!(matches!(
            gpu.forward_in_place(&act, &x),
            Err(Error::InvalidSlope(_))
        ));
    }
    still_works(gpu);
}

#[test]
fn buffers_lacking_usages() {
    let gpu = gpu();
    let no_storage = buffer(
        gpu,
        64,
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    );
    let err = Tensor::<f32>::from_buffer(no_storage, 0, &[4]).unwrap_err();
    assert!(matches!(err, Error::MissingUsage { .. }), "{err}");
    assert!(err.to_string().contains("STORAGE"), "{err}");
    let no_copy_src = buffer(gpu, 64, wgpu::BufferUsages::STORAGE);
    let t = Tensor::<f32>::from_buffer(no_copy_src, 0, &[4]).unwrap();
    assert!(matches!(gpu.download(&t), Err(Error::MissingUsage { .. })));
    still_works(gpu);
}

#[test]
fn ranges_offsets_and_overlaps() {
    let gpu = gpu();
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let b = buffer(gpu, 1024, usage);
    assert!(matches!(
        Tensor::<f32>::from_buffer(b.clone(), 1000, &[10]),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(matches!(
        Tensor::<f32>::from_buffer(b.clone(), 2, &[10]),
        Err(Error::Misaligned { .. })
    ));
    assert!(matches!(
        Tensor::<f32>::from_buffer(b.clone(), u64::MAX - 3, &[10]),
        Err(Error::OutOfBounds { .. })
    ));
    let x = Tensor::<f32>::from_buffer(b.clone(), 0, &[100]).unwrap();
    let partly = Tensor::<f32>::from_buffer(b.clone(), 200, &[100]).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let err = gpu
        .encode_forward(&mut encoder, &Activation::Relu, &x, &partly)
        .unwrap_err();
    assert!(matches!(err, Error::Overlap { .. }), "{err}");
    let disjoint = Tensor::<f32>::from_buffer(b.clone(), 400, &[100]).unwrap();
    gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &disjoint)
        .unwrap();
    gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &x)
        .unwrap(); // in place is fine
    let err = gpu
        .encode_backward(
            &mut encoder,
            &Activation::Relu,
            &x,
            &disjoint,
            &partly,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Overlap { .. }), "{err}");
    gpu.queue().submit([encoder.finish()]);
    still_works(gpu);
}

#[test]
fn sizes_over_the_limits() {
    let gpu = gpu();
    let limit = gpu.device().limits().max_buffer_size;
    let huge = (limit / 4 + 1) as usize;
    let err = gpu.empty::<f32>(&[huge]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    still_works(gpu);
}

#[test]
fn tensors_from_another_device() {
    let gpu = gpu();
    let other = Gpu::new().unwrap();
    let foreign = other.upload(&[1.0f32, -1.0]).unwrap();
    let err = gpu.forward(&Activation::Relu, &foreign).unwrap_err();
    assert!(matches!(err, Error::DeviceMismatch { .. }), "{err}");
    assert!(matches!(
        gpu.download(&foreign),
        Err(Error::DeviceMismatch { .. })
    ));
    // A foreign buffer wrapped without its device is caught when bound, or
    // when copied: never mapped, which would wait for the wrong device.
    let wrapped = Tensor::<f32>::from_buffer(foreign.buffer().clone(), 0, &[2]).unwrap();
    let result = gpu.download(&wrapped);
    assert!(
        matches!(
            result,
            Err(Error::DeviceMismatch { .. }) | Err(Error::Validation(_))
        ),
        "{result:?}"
    );
    let result = gpu.forward(&Activation::Relu, &wrapped);
    assert!(
        matches!(
            result,
            Err(Error::DeviceMismatch { .. }) | Err(Error::Validation(_))
        ),
        "{result:?}"
    );
    still_works(gpu);
    still_works(&other);
}

#[test]
fn f16_without_the_feature_is_an_error_and_with_it_works() {
    let gpu = gpu();
    let data = [half::f16::from_f32(-1.0), half::f16::from_f32(2.0)];
    if gpu.supports_f16() {
        let x = gpu.upload(&data).unwrap();
        let y = gpu.forward(&Activation::Relu, &x).unwrap();
        assert_eq!(
            gpu.download(&y).unwrap(),
            vec![half::f16::ZERO, half::f16::from_f32(2.0)]
        );
    } else {
        let err = gpu.upload(&data).unwrap_err();
        assert!(matches!(err, Error::MissingFeature { .. }), "{err}");
        assert!(err.to_string().contains("SHADER_F16"), "{err}");
    }
    // The Vulkan software adapter has the feature; GL never does.
    match gpu.adapter_info().backend {
        wgpu::Backend::Gl => assert!(!gpu.supports_f16()),
        wgpu::Backend::Vulkan if gpu.adapter_info().device_type == wgpu::DeviceType::Cpu => {
            assert!(gpu.supports_f16())
        }
        _ => {}
    }
}
