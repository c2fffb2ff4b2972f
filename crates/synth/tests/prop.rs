#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sangam_synth::name_variant;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn name_variant_never_panics_or_empties(name in any::<String>(), seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let v = name_variant(&mut rng, &name);
        if !name.is_empty() {
            prop_assert!(!v.is_empty());
        }
    }

    #[test]
    fn name_variant_on_name_like_input(name in "[A-Z][a-z]{0,12}( [A-Z]\\.?| [A-Z][a-z]{1,10}){0,3}", seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let v = name_variant(&mut rng, &name);
        prop_assert!(!v.trim().is_empty());
    }
}
