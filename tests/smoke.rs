mod common;
use common::*;
use wgpu_relu::{cpu, Activation};

#[test]
fn smoke() {
    let gpu = gpu();
    eprintln!("{:?}", gpu.adapter_info());
    let mut rng = Rng::new("smoke");
    for len in [0usize, 1, 3, 4, 5, 1023, 1757, 100_000] {
        let data = rng.values(len);
        let x = gpu.upload(&data).unwrap();
        let y = gpu.forward(&Activation::Relu, &x).unwrap();
        assert_same(&gpu.download(&y).unwrap(), &cpu::relu(&data), "relu");
        let y = gpu
            .forward(
                &Activation::LeakyRelu {
                    negative_slope: 0.1,
                },
                &x,
            )
            .unwrap();
        assert_same(
            &gpu.download(&y).unwrap(),
            &cpu::leaky_relu(&data, 0.1),
            "leaky",
        );
        let g = rng.values(len);
        let gt = gpu.upload(&g).unwrap();
        let gr = gpu.backward(&Activation::Relu, &x, &gt).unwrap();
        assert_same(
            &gpu.download(&gr.input).unwrap(),
            &cpu::relu_backward(&data, &g),
            "relu bwd",
        );
    }
}
