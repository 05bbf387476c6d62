//! Watch ReLU units die: the same multilayer perceptron (2 → 256 → 256 →
//! 256 → 3), the same interleaved spirals (3 × 256 points), the same
//! initial weights and the same learning rate, trained once per activation
//! with plain SGD entirely on the GPU. Every epoch prints the loss, the accuracy and the share of
//! dead units per hidden layer (never active over the whole epoch, counted
//! in the forward by the library's dead-unit statistics), then a verdict,
//! and writes the curves to an SVG.
//!
//! ```text
//! cargo run --release --example dying_relu -- [--lr 0.8] [--bias 0] [--epochs 20]
//!     [--seed 1] [--activation relu|leaky|prelu|rrelu|all] [--hidden 256] [--points 256]
//!     [--svg dying_relu.svg]
//! ```
//!
//! The default learning rate is high enough that in the first epochs some
//! ReLU units are pushed where they are never active again; `--bias -0.5`
//! starts many of them there instead (a poor initialisation), a lower
//! `--lr` keeps them alive.
//!
//! The app's kernels (net.wgsl) do the dense layers, the loss and the
//! update, as an app would write them; the library does every activation,
//! forward with the 1-bit mask and the statistics, backward from the mask
//! (ReLU, Leaky ReLU) or from the pre-activations (PReLU, with its slopes'
//! gradient and an SGD step on them; RReLU, its noise regenerated).

// The CPU twin and the parameter readers serve tests/dying_relu.rs.
#[allow(dead_code)]
mod net;

use std::time::Instant;

use net::{Config, GpuNet, Kind};
use plotters::prelude::*;
use wgpu_relu::Gpu;

/// What one run recorded, epoch by epoch.
struct Run {
    kind: Kind,
    loss: Vec<f64>,
    accuracy: Vec<f64>,
    /// Dead units, in percent of all hidden units.
    dead: Vec<f64>,
}

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => v,
            None => {
                eprintln!("{name} needs a value");
                std::process::exit(2);
            }
        },
        None => default,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = Config {
        hidden: arg("--hidden", 256),
        classes: 3,
        per_class: arg("--points", 256),
        batch: 128,
        lr: arg("--lr", 0.8),
        bias: arg("--bias", 0.0),
        seed: arg("--seed", 1),
    };
    if cfg.samples() == 0 || !cfg.samples().is_multiple_of(cfg.batch) || cfg.hidden == 0 {
        eprintln!(
            "--points times {} classes must be a positive multiple of the batch, {}, and \
             --hidden positive",
            cfg.classes, cfg.batch
        );
        std::process::exit(2);
    }
    let epochs: usize = arg("--epochs", 20);
    let which: String = arg("--activation", "all".to_string());
    let svg: String = arg("--svg", "dying_relu.svg".to_string());
    let kinds: Vec<Kind> = match which.as_str() {
        "all" => Kind::ALL.to_vec(),
        name => match Kind::parse(name) {
            Some(kind) => vec![kind],
            None => {
                eprintln!("--activation: relu, leaky, prelu, rrelu or all, not {name}");
                std::process::exit(2);
            }
        },
    };

    let gpu = Gpu::new()?;
    let info = gpu.adapter_info();
    println!(
        "{} ({:?}): 2 -> {h} -> {h} -> {h} -> {} MLP, {} spiral points, batch {}, SGD lr {}, seed {}",
        info.name,
        info.backend,
        cfg.classes,
        cfg.samples(),
        cfg.batch,
        cfg.lr,
        cfg.seed,
        h = cfg.hidden,
    );
    let data = net::spirals(cfg.classes, cfg.per_class, cfg.seed);
    let params = net::init(&cfg);
    let mut runs = Vec::new();
    for kind in kinds {
        println!(
            "\n{}:\n epoch    loss  accuracy  dead units per layer (%)",
            kind.name()
        );
        let started = Instant::now();
        let net = GpuNet::new(&gpu, cfg, kind, &params, &data)?;
        let mut run = Run {
            kind,
            loss: Vec::new(),
            accuracy: Vec::new(),
            dead: Vec::new(),
        };
        let mut step = 0;
        for epoch in 1..=epochs {
            for batch in 0..cfg.batches() {
                net.step(batch, step)?;
                step += 1;
            }
            let (loss, accuracy) = net.epoch_metrics()?;
            let dead = net.dead_percent_and_reset()?;
            let total = dead.iter().sum::<f64>() / dead.len() as f64;
            println!(
                " {epoch:5}  {loss:6.3}  {:7.1}%  {}",
                100.0 * accuracy,
                dead.iter()
                    .map(|d| format!("{d:5.1}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            run.loss.push(loss);
            run.accuracy.push(accuracy);
            run.dead.push(total);
        }
        println!(" ({:.1} s)", started.elapsed().as_secs_f64());
        runs.push(run);
    }

    println!("\nverdict:");
    for run in &runs {
        let last = run.dead.len() - 1;
        println!(
            "  {:6} final loss {:.3}, accuracy {:.1}%, dead units {:.1}% (most {:.1}%)",
            run.kind.name(),
            run.loss[last],
            100.0 * run.accuracy[last],
            run.dead[last],
            run.dead.iter().copied().fold(0.0, f64::max),
        );
    }
    if runs.len() > 1 {
        let mut order: Vec<&Run> = runs.iter().collect();
        order.sort_by(|a, b| a.dead.last().partial_cmp(&b.dead.last()).unwrap());
        let names: Vec<&str> = order.iter().map(|r| r.kind.name()).collect();
        println!(
            "  fewest dead units at the end, first: {}. A unit never active gets no gradient \
             through ReLU and stays dead; Leaky ReLU passes {} of the gradient there, PReLU \
             learns its slope and RReLU draws one from [1/8, 1/3), so they can pull a unit back.",
            names.join(", "),
            net::LEAKY_SLOPE,
        );
    }
    plot(&runs, &svg)?;
    println!("  curves: {svg}");
    Ok(())
}

/// Dead units and loss against epoch, one line per activation, as SVG.
fn plot(runs: &[Run], path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(450);
    let epochs = runs.iter().map(|r| r.dead.len()).max().unwrap_or(1) as u32;
    let colors = [RED, BLUE, GREEN, MAGENTA];
    let top_loss = runs
        .iter()
        .flat_map(|r| r.loss.iter().copied())
        .fold(0.0, f64::max)
        .max(0.1);
    let top_dead = runs
        .iter()
        .flat_map(|r| r.dead.iter().copied())
        .fold(0.0, f64::max);
    for (area, title, top, series) in [
        (
            &left,
            "dead units (% of all)",
            (top_dead * 1.6).clamp(5.0, 100.0),
            0,
        ),
        (&right, "training loss", top_loss * 1.05, 1),
    ] {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(1u32..epochs.max(2), 0.0..top)?;
        chart.configure_mesh().x_desc("epoch").draw()?;
        for (run, color) in runs.iter().zip(colors) {
            let values = if series == 0 { &run.dead } else { &run.loss };
            chart
                .draw_series(LineSeries::new(
                    values.iter().enumerate().map(|(e, &v)| (e as u32 + 1, v)),
                    color.stroke_width(2),
                ))?
                .label(run.kind.name())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
