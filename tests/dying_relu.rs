//! The dying-ReLU example's training is verified: one SGD step of its
//! network at a tiny size, on the GPU, gives the gradients of a CPU
//! implementation of the same network (weights, biases, PReLU's slopes),
//! for every activation; and the same seed gives the same numbers, bit for
//! bit, run to run.

mod common;

#[path = "../examples/dying_relu/net.rs"]
#[allow(dead_code)]
mod net;

use net::{Config, GpuNet, Kind, Params};

fn tiny(seed: u64) -> Config {
    Config {
        hidden: 8,
        classes: 3,
        per_class: 64,
        batch: 64,
        lr: 0.1,
        bias: -0.1,
        seed,
    }
}

/// Every gradient within float rounding of the CPU's: the sums run in the
/// same order, but a GPU may fuse a multiply and an add.
fn assert_close(gpu: &[Vec<f32>], cpu: &[Vec<f32>], what: &str) {
    assert_eq!(gpu.len(), cpu.len(), "{what}");
    for (l, (g, c)) in gpu.iter().zip(cpu).enumerate() {
        assert_eq!(g.len(), c.len(), "{what} {l}");
        let scale = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 0.0 || c.is_empty(),
            "{what} {l}: all zero, nothing checked"
        );
        for (i, (a, b)) in g.iter().zip(c).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 + 1e-4 * scale,
                "{what} {l}[{i}]: GPU {a}, CPU {b} (largest {scale})"
            );
        }
    }
}

#[test]
fn one_step_gives_the_cpu_networks_gradients() {
    let gpu = common::gpu();
    let cfg = tiny(3);
    let data = net::spirals(cfg.classes, cfg.per_class, cfg.seed);
    let params = net::init(&cfg);
    for kind in Kind::ALL {
        let gpu_net = GpuNet::new(gpu, cfg, kind, &params, &data).unwrap();
        let (batch, step) = (1, 5);
        gpu_net.step(batch, step).unwrap();
        let g = gpu_net.gradients().unwrap();
        let c = net::cpu_gradients(&cfg, kind, &params, &data, batch, step);
        let what = kind.name();
        assert_close(&g.weights, &c.weights, &format!("{what} weights"));
        assert_close(&g.biases, &c.biases, &format!("{what} biases"));
        if kind == Kind::Prelu {
            assert_close(&g.slopes, &c.slopes, "prelu slopes");
        }
        // And the step: every parameter moved by lr times its gradient.
        let after = gpu_net.params().unwrap();
        let expected = |p: &[Vec<f32>], d: &[Vec<f32>]| -> Vec<Vec<f32>> {
            p.iter()
                .zip(d)
                .map(|(p, d)| p.iter().zip(d).map(|(p, d)| p - cfg.lr * d).collect())
                .collect()
        };
        assert_close(
            &after.weights,
            &expected(&params.weights, &g.weights),
            "weights after",
        );
        if kind == Kind::Prelu {
            assert_close(
                &after.slopes,
                &expected(&params.slopes, &g.slopes),
                "slopes after",
            );
        } else {
            assert_eq!(after.slopes, params.slopes, "{what}: slopes untouched");
        }
    }
}

/// Two runs from one seed: the same parameters, bit for bit, after a few
/// steps of every activation (RReLU's noise regenerated, PReLU's weight
/// gradient deterministic).
#[test]
fn the_same_seed_gives_the_same_numbers() {
    let gpu = common::gpu();
    let cfg = tiny(11);
    let data = net::spirals(cfg.classes, cfg.per_class, cfg.seed);
    let params = net::init(&cfg);
    for kind in Kind::ALL {
        let run = || -> Params {
            let n = GpuNet::new(gpu, cfg, kind, &params, &data).unwrap();
            for step in 0..6 {
                n.step(step as usize % cfg.batches(), step).unwrap();
            }
            n.params().unwrap()
        };
        let (a, b) = (run(), run());
        let bits = |p: &Params| -> Vec<u32> {
            p.weights
                .iter()
                .chain(&p.biases)
                .chain(&p.slopes)
                .flatten()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&a), bits(&b), "{}", kind.name());
        assert_ne!(a, params, "{}: the steps changed nothing", kind.name());
    }
}
