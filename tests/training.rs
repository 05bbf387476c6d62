//! The training forms on fresh random inputs and odd layouts: masks against
//! the CPU reference at lengths around multiples of 32 and every offset
//! class, backward from the mask and from the output bit-identical to the
//! backward from x, gradients added to, over several bindings, in an app's
//! pass, and every bad input an `Error`.

mod common;
use common::*;
use wgpu_relu::{
    cpu, wgpu, Activation, Element, Error, Gpu, GpuOptions, GradOut, Mask, Saved, Tensor,
};

/// Lengths around multiples of 32 (a mask word) and of the vec4 and word
/// paths, and one past a workgroup's words.
const LENGTHS: [usize; 12] = [1, 7, 31, 32, 33, 63, 64, 65, 100, 1000, 8191, 8192 * 4 + 37];
/// Element offsets: 0 (vec4, f16 words), 1 and 3 (scalar), 4, 8 (words for
/// f16) and 9.
const OFFSETS: [usize; 6] = [0, 1, 3, 4, 8, 9];

fn activations() -> Vec<Activation<'static, f32>> {
    vec![
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: 0.01,
        },
        Activation::LeakyRelu {
            negative_slope: -0.75,
        },
        Activation::LeakyRelu {
            negative_slope: 0.0,
        },
    ]
}

/// The CPU's mask and backward of `act` (ReLU or Leaky) from `x`.
fn reference<T: Element>(act: &Activation<'_, T>, x: &[T], g: &[T]) -> (Vec<u32>, Vec<T>) {
    match *act {
        Activation::Relu => (cpu::relu_mask(x), cpu::relu_backward(x, g)),
        Activation::LeakyRelu { negative_slope } => (
            cpu::leaky_relu_mask(x),
            cpu::leaky_relu_backward(x, g, negative_slope),
        ),
        Activation::Prelu { .. } | Activation::Rrelu { .. } => unreachable!(),
    }
}

fn products_of<T: Element>(act: &Activation<'_, T>, x: &[T]) -> Vec<bool> {
    match act {
        Activation::Relu => products(&Op::<T>::Relu, x),
        _ => products(&Op::<T>::Leaky(0.0), x),
    }
}

/// Every length, offset and activation: the mask equals the CPU's (bits
/// past the end zero in a poisoned buffer), y equals the plain forward's,
/// and the backward from the mask, and where allowed from the output,
/// equals the CPU's backward from x.
fn masks_and_backward_forms<T: Element>(gpu: &Gpu, values: impl Fn(&mut Rng, usize) -> Vec<T>) {
    let mut rng = Rng::new(&format!("masks_and_backward_forms_{}", T::NAME));
    for act in activations() {
        let act = retyped::<T>(&act);
        for len in LENGTHS {
            let x = values(&mut rng, len);
            let g = values(&mut rng, len);
            let (mask, backward) = reference(&act, &x, &g);
            let prods = products_of(&act, &x);
            let plain_y = gpu
                .download(&gpu.forward(&act, &gpu.upload(&x).unwrap()).unwrap())
                .unwrap();
            for offset in OFFSETS {
                let what = format!("{} len {len} offset {offset}", act.name());
                let xt = at_offset(gpu, &x, offset, &[len]);
                let yt = at_offset(gpu, &vec![T::from_f32(-9.0); len], offset, &[len]);
                let m = poisoned_mask(gpu, len, offset % 5);
                let mut encoder = gpu.device().create_command_encoder(&Default::default());
                gpu.encode_forward_with_mask(&mut encoder, &act, &xt, &yt, &m)
                    .unwrap();
                gpu.queue().submit([encoder.finish()]);
                assert_eq!(gpu.download_mask(&m).unwrap(), mask, "{what}: mask");
                assert_same(&gpu.download(&yt).unwrap(), &plain_y, &what);

                let gt = at_offset(gpu, &g, (offset * 3) % 10, &[len]);
                let gx = at_offset(gpu, &vec![T::from_f32(-9.0); len], offset, &[len]);
                gpu.backward_into(&act, Saved::Mask(&m), &gt, GradOut::write(&gx))
                    .unwrap();
                let from_mask = gpu.download(&gx).unwrap();
                assert_same_products(
                    &from_mask,
                    &backward,
                    &prods,
                    &format!("{what}: from the mask"),
                );
                let r = gpu.backward_into(&act, Saved::Output(&yt), &gt, GradOut::write(&gx));
                match act {
                    Activation::LeakyRelu { negative_slope } if negative_slope < 0.0 => {
                        assert!(matches!(r, Err(Error::NeedsInput(_))), "{what}: {r:?}");
                    }
                    _ => {
                        r.unwrap();
                        let from_output = gpu.download(&gx).unwrap();
                        assert_same_products(
                            &from_output,
                            &backward,
                            &prods,
                            &format!("{what}: from the output"),
                        );
                    }
                }
            }
        }
    }
}

/// The same activation for another element type.
fn retyped<T: Element>(act: &Activation<'_, f32>) -> Activation<'static, T> {
    match *act {
        Activation::Relu => Activation::Relu,
        Activation::LeakyRelu { negative_slope } => Activation::LeakyRelu { negative_slope },
        Activation::Prelu { .. } | Activation::Rrelu { .. } => unreachable!(),
    }
}

/// A mask of `len` elements `word_offset` words into a buffer of set bits.
fn poisoned_mask(gpu: &Gpu, len: usize, word_offset: usize) -> Mask {
    let words = vec![f32::from_bits(u32::MAX); word_offset + Mask::words_for(len).max(1)];
    let buffer = gpu.upload(&words).unwrap().buffer().clone();
    Mask::from_buffer(buffer, word_offset as u64 * 4, len).unwrap()
}

#[test]
fn f32_masks_and_backward_forms_match_the_reference() {
    masks_and_backward_forms::<f32>(gpu(), |rng, n| rng.values(n));
}

#[test]
fn f16_masks_and_backward_forms_match_the_reference() {
    let gpu = gpu();
    if !gpu.supports_f16() {
        let r = gpu.empty::<half::f16>(&[4]);
        assert!(matches!(r, Err(Error::MissingFeature { .. })), "{r:?}");
        return;
    }
    masks_and_backward_forms::<half::f16>(gpu, |rng, n| rng.values_f16(n));
}

/// Adding to grad_x: every form of the backward leaves `old + r` rounded
/// once, `r` the overwriting backward's result; and twice over a tensor
/// that feeds two branches gives the two added.
#[test]
fn accumulated_gradients_add_what_the_backward_writes() {
    let gpu = gpu();
    let mut rng = Rng::new("accumulated_gradients");
    for act in activations() {
        for len in [5, 64, 1001] {
            let (x, g1, g2, old) = (
                rng.values(len),
                rng.values(len),
                rng.values(len),
                rng.values(len),
            );
            let (_, r1) = reference(&act, &x, &g1);
            let (_, r2) = reference(&act, &x, &g2);
            let once = cpu::accumulate(&old, &r1);
            let twice = cpu::accumulate(&once, &r2);
            let xt = gpu.upload(&x).unwrap();
            let (_, mask) = gpu.forward_with_mask(&act, &xt).unwrap();
            for offset in [0, 1, 4] {
                let what = format!("{} len {len} offset {offset}", act.name());
                let gx = at_offset(gpu, &old, offset, &[len]);
                let (gt1, gt2) = (gpu.upload(&g1).unwrap(), gpu.upload(&g2).unwrap());
                gpu.backward_into(&act, Saved::Input(&xt), &gt1, GradOut::add_to(&gx))
                    .unwrap();
                let mut encoder = gpu.device().create_command_encoder(&Default::default());
                gpu.encode_backward_from(
                    &mut encoder,
                    &act,
                    Saved::Mask(&mask),
                    &gt2,
                    GradOut::add_to(&gx),
                )
                .unwrap();
                gpu.queue().submit([encoder.finish()]);
                let nan_ok: Vec<bool> = twice.iter().map(|v| v.is_nan()).collect();
                assert_same_products(&gpu.download(&gx).unwrap(), &twice, &nan_ok, &what);
            }
        }
    }
}

/// PReLU's weight gradient added to over micro-batches stays
/// deterministic: the same bits at every offset, and equal to the
/// overwriting backward's added on the CPU.
#[test]
fn prelu_accumulated_weight_gradient_is_deterministic() {
    let gpu = gpu();
    let mut rng = Rng::new("prelu_accumulated_weight_gradient");
    for shape in WEIGHT_GRADIENT_SHAPES {
        let len: usize = shape.iter().product();
        let channels = shape[1];
        let (x, g) = (rng.values(len), rng.values(len));
        let weight: Vec<f32> = (0..channels).map(|_| rng.uniform(1.0)).collect();
        let old: Vec<f32> = (0..channels).map(|_| rng.uniform(100.0)).collect();
        let w = gpu.upload(&weight).unwrap();
        let act = Activation::Prelu {
            weight: &w,
            channel_axis: 1,
        };
        let xt = gpu.upload(&x).unwrap().reshape(shape).unwrap();
        let gt = gpu.upload(&g).unwrap().reshape(shape).unwrap();
        let fresh = gpu.backward(&act, &xt, &gt).unwrap();
        let expected = cpu::accumulate(&old, &gpu.download(&fresh.weight.unwrap()).unwrap());
        let expected_x = cpu::accumulate(&x, &gpu.download(&fresh.input).unwrap());
        for offset in [0, 3, 4] {
            let what = format!("shape {shape:?} offset {offset}");
            let xo = at_offset(gpu, &x, offset, shape);
            let go = at_offset(gpu, &g, offset, shape);
            let gx = at_offset(gpu, &x, offset + 1, shape);
            let gw = gpu.upload(&old).unwrap();
            gpu.backward_into(
                &act,
                Saved::Input(&xo),
                &go,
                GradOut::add_to(&gx).with_weight(&gw),
            )
            .unwrap();
            let nan_ok: Vec<bool> = expected.iter().map(|v| v.is_nan()).collect();
            assert_same_products(&gpu.download(&gw).unwrap(), &expected, &nan_ok, &what);
            let nan_ok: Vec<bool> = expected_x.iter().map(|v| v.is_nan()).collect();
            assert_same_products(
                &gpu.download(&gx).unwrap(),
                &expected_x,
                &nan_ok,
                &format!("{what}: grad_x"),
            );
        }
    }
}

/// Over several 1 MiB bindings: every chunk's mask words in their place.
#[test]
fn masks_over_several_bindings() {
    masks_on(&small_bindings_gpu(), (3 << 18) + 77);
}

/// Past the grid's limit per dimension (16 workgroups here, as 65535 on a
/// real device): the workgroups spread over y and z.
#[test]
fn masks_past_the_workgroup_limit() {
    let limits = wgpu::Limits {
        max_compute_workgroups_per_dimension: 16,
        ..wgpu::Limits::default()
    };
    masks_on(
        &Gpu::with_options(GpuOptions::default().limits(limits)).unwrap(),
        2_000_003,
    );
}

/// The mask and the backward from it of `len` random elements on `gpu`.
fn masks_on(gpu: &Gpu, len: usize) {
    let gpu = gpu.clone();
    let mut rng = Rng::new(&format!("masks_on_{len}"));
    let x = rng.values(len);
    let g = rng.values(len);
    for act in activations() {
        let (mask, backward) = reference(&act, &x, &g);
        let prods = products_of(&act, &x);
        for offset in [0, 1] {
            let xt = at_offset(&gpu, &x, offset, &[len]);
            let (_, m) = gpu.forward_with_mask(&act, &xt).unwrap();
            assert_eq!(
                gpu.download_mask(&m).unwrap(),
                mask,
                "{} offset {offset}",
                act.name()
            );
            let gt = at_offset(&gpu, &g, offset, &[len]);
            let grads = gpu.backward_from(&act, Saved::Mask(&m), &gt).unwrap();
            assert_same_products(
                &gpu.download(&grads.input).unwrap(),
                &backward,
                &prods,
                act.name(),
            );
        }
    }
}

/// A forward with its mask and the backward from it in the app's own
/// compute pass, beside each other.
#[test]
fn mask_forms_in_the_apps_pass() {
    let gpu = gpu();
    let mut rng = Rng::new("mask_forms_in_the_apps_pass");
    let len = 4099;
    let (x, g) = (rng.values(len), rng.values(len));
    let act = Activation::LeakyRelu {
        negative_slope: 0.2,
    };
    let (mask, backward) = reference(&act, &x, &g);
    let xt = gpu.upload(&x).unwrap();
    let gt = gpu.upload(&g).unwrap();
    let y = gpu.empty::<f32>(&[len]).unwrap();
    let gx = gpu.empty::<f32>(&[len]).unwrap();
    let m = gpu.empty_mask(len).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        gpu.encode_forward_with_mask_in_pass(&mut pass, &act, &xt, &y, &m)
            .unwrap();
        gpu.encode_backward_from_in_pass(
            &mut pass,
            &act,
            Saved::Mask(&m),
            &gt,
            GradOut::write(&gx),
        )
        .unwrap();
    }
    gpu.queue().submit([encoder.finish()]);
    assert_eq!(gpu.download_mask(&m).unwrap(), mask);
    assert_same_products(
        &gpu.download(&gx).unwrap(),
        &backward,
        &products_of(&act, &x),
        "in pass",
    );
}

/// Every bad input is an error that says what was wrong; nothing is
/// recorded, and the Gpu carries on.
#[test]
fn bad_inputs_are_errors() {
    let gpu = gpu();
    let x = gpu.upload(&[-1.0f32, 2.0, 3.0, -4.0, 5.0]).unwrap();
    let g = gpu.upload(&[1.0f32; 5]).unwrap();
    let relu = Activation::Relu;
    let (y, mask) = gpu.forward_with_mask(&relu, &x).unwrap();

    // A mask of another length.
    let short = gpu.empty_mask(4).unwrap();
    let r = gpu.backward_from(&relu, Saved::Mask(&short), &g);
    assert!(
        matches!(
            r,
            Err(Error::ShapeMismatch {
                what: "the mask",
                ..
            })
        ),
        "{r:?}"
    );
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let r = gpu.encode_forward_with_mask(&mut encoder, &relu, &x, &y, &short);
    assert!(
        matches!(
            r,
            Err(Error::ShapeMismatch {
                what: "the mask",
                ..
            })
        ),
        "{r:?}"
    );

    // A mask of another Gpu.
    let other = Gpu::new().unwrap();
    let foreign = other.empty_mask(5).unwrap();
    let r = gpu.backward_from(&relu, Saved::Mask(&foreign), &g);
    assert!(
        matches!(r, Err(Error::DeviceMismatch { tensor: "the mask" })),
        "{r:?}"
    );

    // A negative slope from the output; PReLU from a mask or its output, and
    // its forward asked for a mask.
    let leaky = Activation::LeakyRelu {
        negative_slope: -0.1,
    };
    let r = gpu.backward_from(&leaky, Saved::Output(&y), &g);
    let Err(Error::NeedsInput(why)) = r else {
        panic!("negative slope from the output: {r:?}")
    };
    assert!(why.contains("negative_slope -0.1"), "{why}");
    let w = gpu.upload(&[0.25f32]).unwrap();
    let prelu = Activation::Prelu {
        weight: &w,
        channel_axis: 0,
    };
    for (r, case) in [
        (
            gpu.backward_from(&prelu, Saved::Mask(&mask), &g)
                .map(|_| ()),
            "from a mask",
        ),
        (
            gpu.backward_from(&prelu, Saved::Output(&y), &g).map(|_| ()),
            "from the output",
        ),
        (
            gpu.forward_with_mask(&prelu, &x).map(|_| ()),
            "forward with a mask",
        ),
    ] {
        assert!(
            matches!(r, Err(Error::NeedsInput(_))),
            "PReLU {case}: {r:?}"
        );
    }
    let msg = gpu
        .backward_from(&prelu, Saved::Mask(&mask), &g)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("weight gradient needs x") && msg.contains("Saved::Input"),
        "{msg}"
    );

    // A mask buffer without STORAGE, at an offset not a multiple of 4, or
    // too small.
    let plain = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 64,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let r = Mask::from_buffer(plain, 0, 5);
    assert!(matches!(r, Err(Error::MissingUsage { .. })), "{r:?}");
    let storage = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let r = Mask::from_buffer(storage.clone(), 2, 5);
    assert!(matches!(r, Err(Error::Misaligned { .. })), "{r:?}");
    let r = Mask::from_buffer(storage, 0, 32 * 16 + 1);
    assert!(matches!(r, Err(Error::OutOfBounds { .. })), "{r:?}");

    // A mask overlapping y or grad_x.
    let shared = gpu.upload(&[0.0f32; 16]).unwrap().buffer().clone();
    let yt = Tensor::<f32>::from_buffer(shared.clone(), 0, &[5]).unwrap();
    let overlapping = Mask::from_buffer(shared, 16, 5).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let r = gpu.encode_forward_with_mask(&mut encoder, &relu, &x, &yt, &overlapping);
    assert!(matches!(r, Err(Error::Overlap { .. })), "{r:?}");
    let r = gpu.backward_into(&relu, Saved::Mask(&overlapping), &g, GradOut::write(&yt));
    assert!(matches!(r, Err(Error::Overlap { .. })), "{r:?}");

    // Nothing recorded on an error: the encoder stays valid and empty.
    gpu.queue().submit([encoder.finish()]);
    let grads = gpu.backward_from(&relu, Saved::Mask(&mask), &g).unwrap();
    assert_eq!(
        gpu.download(&grads.input).unwrap(),
        vec![0.0, 1.0, 1.0, 0.0, 1.0]
    );
}
