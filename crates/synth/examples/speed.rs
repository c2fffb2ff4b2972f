//! Measures generation speed: `cargo run --release -p sangam-synth --example speed [households]`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use sangam_synth::{Generator, GeneratorConfig, write_base_registry_csv};

fn main() {
    let households: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let generator = Generator::new(GeneratorConfig {
        seed: 1,
        households,
        ..Default::default()
    });
    let start = Instant::now();
    let mut residents = 0u64;
    for h in generator.households() {
        residents += h.members.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "generated {households} households, {residents} residents in {secs:.2}s: {:.0} residents/s",
        residents as f64 / secs
    );

    let start = Instant::now();
    let rows = write_base_registry_csv(&generator, std::io::sink()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "wrote {rows} CSV rows in {secs:.2}s: {:.0} rows/s",
        rows as f64 / secs
    );
}
