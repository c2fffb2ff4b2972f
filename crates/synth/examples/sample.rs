//! Prints a few households of each naming convention and some noisy copies:
//! `cargo run -p sangam-synth --example sample`.
#![allow(clippy::print_stdout)]

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sangam_synth::{Generator, GeneratorConfig, noisy_copy};

fn main() {
    let generator = Generator::new(GeneratorConfig {
        seed: 42,
        households: 400,
        ..Default::default()
    });
    let mut shown = HashSet::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for h in generator.households() {
        if !shown.insert(h.convention) {
            continue;
        }
        println!(
            "{} {} {} | {}, {}, {}, {} {} ({})",
            h.card_number,
            h.card_type.code(),
            h.convention.code(),
            h.address.house_no,
            h.address.street,
            h.address.locality,
            h.village.village_name,
            h.address.pincode,
            h.village.district_name
        );
        for m in &h.members {
            let noisy = noisy_copy(&mut rng, m, 0.7);
            println!(
                "  {:<15} {:<30} rel: {:<30} {} {:<10} | noisy: {:<30} {:?} {:?}",
                m.relationship.code(),
                m.name,
                m.relative_name,
                m.gender.code(),
                m.dob.to_string(),
                noisy.name,
                noisy.relative_name,
                noisy.dob
            );
        }
    }
}
