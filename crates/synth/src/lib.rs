//! Seeded generator of synthetic households and residents.
//!
//! Same seed, same output. Households are produced lazily and each depends only on the seed
//! and its index, so a million households (about 4.3 million people) stream out without being
//! held in memory, and chunks can be generated in parallel with [`Generator::household`].
//!
//! ```
//! use sangam_synth::{Generator, GeneratorConfig, name_variant};
//! use rand::SeedableRng;
//!
//! let generator = Generator::new(GeneratorConfig { seed: 7, households: 3, ..Default::default() });
//! for household in generator.households() {
//!     let head = household.head().expect("every household has a head");
//!     assert_eq!(head.relationship.code(), "HEAD");
//!     println!("{} {} {}", household.card_number, head.name, household.village.village_name);
//! }
//! assert_eq!(generator.household(1), generator.households().nth(1).unwrap());
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let variant = name_variant(&mut rng, "K. Lakshmi");
//! assert!(!variant.is_empty());
//!
//! let mut csv = Vec::new();
//! let rows = sangam_synth::write_base_registry_csv(&generator, &mut csv).unwrap();
//! assert!(rows >= 3);
//! ```

pub mod csv_out;
pub mod household;
pub mod linkage;
pub mod names;
pub mod places;
pub mod variants;

pub use csv_out::{BASE_REGISTRY_HEADER, write_base_registry_csv};
pub use household::{
    Address, CardType, Dob, Gender, Generator, GeneratorConfig, Household, LifeStatus,
    MEMBER_SLOTS, Member, Relationship,
};
pub use linkage::{
    LINKAGE_BASE_HEADER, LINKAGE_SCHEME_HEADER, LINKAGE_TRUTH_HEADER, LinkageConfig, LinkageCounts,
    write_linkage, write_linkage_dir,
};
pub use names::Convention;
pub use places::Village;
pub use variants::{NoisyRecord, dob_variant, dob_variant_at, name_variant, noisy_copy};
