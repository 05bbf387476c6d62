//! The training forms against PyTorch's golden vectors (scripts/golden.py):
//! the masks the forwards write, the backward from the mask and from the
//! output, and gradients added to, on every path and offset.

#![allow(dead_code)]

use crate::common::{at_offset, same_bits, Op};
use crate::golden::{
    assert_golden, load, load_u32, passed, prelu_inputs, slopes, Direction, OFFSETS,
};
use wgpu_relu::{cpu, Activation, Element, Error, Gpu, GradOut, Mask, Saved, Tensor};

/// A mask of `len` elements `word_offset` words into a buffer whose every
/// bit is set beforehand, so that a word the forward leaves unwritten, or a
/// bit past `len` left set, shows.
pub fn poisoned_mask(gpu: &Gpu, len: usize, word_offset: usize) -> Mask {
    let words = vec![f32::from_bits(u32::MAX); word_offset + Mask::words_for(len).max(1)];
    let buffer = gpu.upload(&words).unwrap().buffer().clone();
    Mask::from_buffer(buffer, word_offset as u64 * 4, len).unwrap()
}

/// One activation's golden files.
struct Case<T: Element> {
    op: Op<T>,
    name: String,
    forward: Vec<T>,
    mask: Vec<u32>,
    backward: Vec<T>,
    /// `None` where PyTorch refuses to go back from the output.
    from_output: Option<Vec<T>>,
    accumulated: Vec<T>,
}

fn cases<T: Element>() -> Vec<Case<T>> {
    let mut cases = vec![Case {
        op: Op::Relu,
        name: format!("{} relu", T::NAME),
        forward: load("relu_forward"),
        mask: load_u32::<T>("relu_mask"),
        backward: load("relu_backward"),
        from_output: Some(load("relu_backward_from_output")),
        accumulated: load("relu_backward_acc"),
    }];
    for (k, slope) in slopes::<T>().into_iter().enumerate() {
        cases.push(Case {
            op: Op::Leaky(slope),
            name: format!("{} leaky {slope:e}", T::NAME),
            forward: load(&format!("leaky_forward_{k}")),
            mask: load_u32::<T>("leaky_mask"),
            backward: load(&format!("leaky_backward_{k}")),
            from_output: (slope >= 0.0).then(|| load(&format!("leaky_backward_from_output_{k}"))),
            accumulated: load(&format!("leaky_backward_acc_{k}")),
        });
    }
    cases
}

fn activation<T: Element>(op: &Op<T>) -> Activation<'static, T> {
    match op {
        Op::Relu => Activation::Relu,
        Op::Leaky(s) => Activation::LeakyRelu { negative_slope: *s },
        Op::Prelu { .. } => unreachable!("PReLU has its own check"),
    }
}

/// The CPU reference's mask and backward forms against the golden files.
fn check_cpu<T: Element>(case: &Case<T>, x: &[T], g: &[T], y: &[T], acc: &[T]) {
    let what = &case.name;
    let no_pass = vec![None; x.len()];
    let pass = passed(&case.op, Direction::Backward, x, g);
    let (mask, from_mask, from_output) = match case.op {
        Op::Relu => (
            cpu::relu_mask(x),
            cpu::relu_backward_from_mask(&case.mask, g),
            Some(cpu::relu_backward_from_output(y, g)),
        ),
        Op::Leaky(s) => (
            cpu::leaky_relu_mask(x),
            cpu::leaky_relu_backward_from_mask(&case.mask, g, s),
            cpu::leaky_relu_backward_from_output(y, g, s).ok(),
        ),
        Op::Prelu { .. } => unreachable!(),
    };
    assert_eq!(mask, case.mask, "{what}: cpu mask");
    assert_golden(
        &from_mask,
        &case.backward,
        &pass,
        &format!("{what}: cpu from the mask"),
    );
    assert_eq!(
        from_output.is_some(),
        case.from_output.is_some(),
        "{what}: cpu from the output"
    );
    if let (Some(ours), Some(torch)) = (from_output, &case.from_output) {
        assert_golden(&ours, torch, &pass, &format!("{what}: cpu from the output"));
    }
    let reference = match case.op {
        Op::Relu => cpu::relu_backward(x, g),
        Op::Leaky(s) => cpu::leaky_relu_backward(x, g, s),
        Op::Prelu { .. } => unreachable!(),
    };
    let accumulated = cpu::accumulate(acc, &reference);
    assert_golden(
        &accumulated,
        &case.accumulated,
        &no_pass,
        &format!("{what}: cpu accumulated"),
    );
}

/// Every case at every offset: the forward with its mask (out of place and
/// in place), the backward from the mask, from the output and from x,
/// each overwriting and adding to grad_x.
pub fn check_training<T: Element>(gpu: &Gpu) {
    let (x, g, acc) = (load::<T>("x"), load::<T>("g"), load::<T>("acc"));
    let n = x.len();
    let shape = [n];
    let no_pass = vec![None; n];
    for case in cases::<T>() {
        let act = activation(&case.op);
        let what = &case.name;
        let pass_forward = passed(&case.op, Direction::Forward, &x, &x);
        let pass = passed(&case.op, Direction::Backward, &x, &g);
        check_cpu(&case, &x, &g, &case.forward, &acc);
        for offset in OFFSETS {
            let at = |data: &[T]| at_offset(gpu, data, offset, &shape);
            let poison = vec![T::from_f32(-12345.0); n];
            let (xt, yt) = (at(&x), at(&poison));
            let mask = poisoned_mask(gpu, n, offset % 3);
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_forward_with_mask(&mut encoder, &act, &xt, &yt, &mask)
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            let w = format!("{what}, offset {offset}");
            assert_golden(
                &gpu.download(&yt).unwrap(),
                &case.forward,
                &pass_forward,
                &w,
            );
            assert_eq!(gpu.download_mask(&mask).unwrap(), case.mask, "{w}: mask");
            let in_place = at(&x);
            let mask_in_place = gpu.forward_in_place_with_mask(&act, &in_place).unwrap();
            assert_eq!(
                gpu.download_mask(&mask_in_place).unwrap(),
                case.mask,
                "{w}: mask in place"
            );
            assert_golden(
                &gpu.download(&in_place).unwrap(),
                &case.forward,
                &pass_forward,
                &format!("{w}: in place"),
            );

            let gt = at(&g);
            let mut saved = vec![(Saved::Mask(&mask), Some(&case.backward), "from the mask")];
            saved.push((Saved::Input(&xt), Some(&case.backward), "from x"));
            saved.push((
                Saved::Output(&in_place),
                case.from_output.as_ref(),
                "from the output",
            ));
            for (saved, torch, how) in saved {
                let w = format!("{w}, {how}");
                let gx = at(&poison);
                let mut encoder = gpu.device().create_command_encoder(&Default::default());
                let r =
                    gpu.encode_backward_from(&mut encoder, &act, saved, &gt, GradOut::write(&gx));
                let Some(torch) = torch else {
                    assert!(matches!(r, Err(Error::NeedsInput(_))), "{w}: {r:?}");
                    continue;
                };
                r.unwrap();
                gpu.queue().submit([encoder.finish()]);
                assert_golden(&gpu.download(&gx).unwrap(), torch, &pass, &w);
                // Added to gradients already there (every special against
                // every value), and into grad_y's own range.
                let gx = at(&acc);
                gpu.backward_into(&act, saved, &gt, GradOut::add_to(&gx))
                    .unwrap();
                assert_golden(
                    &gpu.download(&gx).unwrap(),
                    &case.accumulated,
                    &no_pass,
                    &format!("{w}: accumulated"),
                );
                let gy = at(&g);
                gpu.backward_into(&act, saved, &gy, GradOut::write(&gy))
                    .unwrap();
                assert_golden(
                    &gpu.download(&gy).unwrap(),
                    torch,
                    &pass,
                    &format!("{w}: into grad_y"),
                );
            }
        }
        let xt = gpu.upload(&x).unwrap();
        let (y, mask) = gpu.forward_with_mask(&act, &xt).unwrap();
        assert_eq!(
            gpu.download_mask(&mask).unwrap(),
            case.mask,
            "{what}: forward_with_mask"
        );
        assert_golden(
            &gpu.download(&y).unwrap(),
            &case.forward,
            &pass_forward,
            what,
        );
        let gt = gpu.upload(&g).unwrap();
        let grads = gpu.backward_from(&act, Saved::Mask(&mask), &gt).unwrap();
        assert!(grads.weight.is_none());
        assert_golden(
            &gpu.download(&grads.input).unwrap(),
            &case.backward,
            &pass,
            &format!("{what}: backward_from"),
        );
    }
    check_prelu_accumulated::<T>(gpu);
}

/// PReLU's grad_x added to (golden), and its weight gradient added to: the
/// weight gradient written beforehand plus exactly what the overwriting
/// backward gives, rounded once, at every offset.
fn check_prelu_accumulated<T: Element>(gpu: &Gpu) {
    let (shape, px, pg, pw) = prelu_inputs::<T>();
    let (acc, torch) = (load::<T>("prelu_acc"), load::<T>("prelu_backward_acc"));
    let no_pass = vec![None; px.len()];
    let w = gpu.upload(&pw).unwrap();
    let act = Activation::Prelu {
        weight: &w,
        channel_axis: 1,
    };
    let reference = cpu::prelu_backward(&px, &pg, &shape, &pw, 1).unwrap().0;
    assert_golden(
        &cpu::accumulate(&acc, &reference),
        &torch,
        &no_pass,
        "prelu: cpu accumulated",
    );
    let old_w: Vec<T> = (0..pw.len())
        .map(|c| T::from_f32(c as f32 * 0.75 - 3.0))
        .collect();
    let overwritten = {
        let xt = gpu.upload(&px).unwrap().reshape(&shape).unwrap();
        let gt = gpu.upload(&pg).unwrap().reshape(&shape).unwrap();
        gpu.download(&gpu.backward(&act, &xt, &gt).unwrap().weight.unwrap())
            .unwrap()
    };
    let expected_w = cpu::accumulate(&old_w, &overwritten);
    for offset in OFFSETS {
        let xt = at_offset(gpu, &px, offset, &shape);
        let gt = at_offset(gpu, &pg, offset, &shape);
        let gx = at_offset(gpu, &acc, offset, &shape);
        let gw: Tensor<T> = gpu.upload(&old_w).unwrap();
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        let out = GradOut::add_to(&gx).with_weight(&gw);
        gpu.encode_backward_from(&mut encoder, &act, Saved::Input(&xt), &gt, out)
            .unwrap();
        gpu.queue().submit([encoder.finish()]);
        let what = format!("{} prelu accumulated, offset {offset}", T::NAME);
        assert_golden(&gpu.download(&gx).unwrap(), &torch, &no_pass, &what);
        let ours = gpu.download(&gw).unwrap();
        for c in 0..ours.len() {
            let same =
                same_bits(ours[c], expected_w[c]) || (ours[c].is_nan() && expected_w[c].is_nan());
            assert!(
                same,
                "{what}: weight gradient {c}: {:?} vs {:?}",
                ours[c], expected_w[c]
            );
        }
        // grad_x alone, added to.
        let gx = at_offset(gpu, &acc, offset, &shape);
        gpu.backward_into(&act, Saved::Input(&xt), &gt, GradOut::add_to(&gx))
            .unwrap();
        assert_golden(
            &gpu.download(&gx).unwrap(),
            &torch,
            &no_pass,
            &format!("{what}: grad_x alone"),
        );
    }
}
