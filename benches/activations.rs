//! `cargo bench` runs the same benchmark as `cargo run --release --example
//! bench`: every op as a ratio to `copy_buffer_to_buffer` of the same bytes,
//! on this machine's adapter (see BENCHMARKS.md). Its flags work here too:
//! `cargo bench -- --json`, `--filter prelu`, `--quick`.

#[path = "../examples/bench/main.rs"]
mod bench;

fn main() -> Result<(), wgpu_relu::Error> {
    bench::main()
}
