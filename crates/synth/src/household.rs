//! Household and member generation.
//!
//! Household `i` is drawn from its own ChaCha8 stream (the generator's seed, stream `i`), so it
//! depends only on the seed and `i`: chunks can be generated in parallel and in any order.
//! Person ids are `i * 10 + position + 1` (households have at most nine members), and ID
//! numbers are a keyed permutation of the person id, so both are unique without any set.

use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::names::{self, Convention, NameStyle};
use crate::places::{Places, Village};

/// Settings of a generation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Seed: same seed, same output.
    pub seed: u64,
    /// Number of households `households()` yields.
    pub households: u64,
    /// LGD state code (34 = Puducherry).
    pub state_code: u32,
    /// Number of districts (1..=900).
    pub districts: u32,
    /// Villages in each district.
    pub villages_per_district: u32,
    /// Share of residents holding an ID number.
    pub id_number_coverage: f64,
    /// Share of residents with a mobile number.
    pub mobile_coverage: f64,
    /// "Today" for ages.
    pub reference_date: NaiveDate,
}

/// The default reference date, 2026-11-01.
pub fn default_reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or(NaiveDate::MIN)
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 0,
            households: 1000,
            state_code: 34,
            districts: 4,
            villages_per_district: 25,
            id_number_coverage: 0.92,
            mobile_coverage: 0.7,
            reference_date: default_reference_date(),
        }
    }
}

/// Ration card category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CardType {
    /// Antyodaya Anna Yojana (poorest).
    Aay,
    /// Priority household.
    Phh,
    /// Non-priority household.
    Nphh,
}

impl CardType {
    /// The hub's code: "AAY", "PHH", "NPHH".
    pub fn code(self) -> &'static str {
        match self {
            CardType::Aay => "AAY",
            CardType::Phh => "PHH",
            CardType::Nphh => "NPHH",
        }
    }
}

/// Gender as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gender {
    /// "F".
    Female,
    /// "M".
    Male,
    /// "T".
    Transgender,
}

impl Gender {
    /// The hub's code: "F", "M", "T".
    pub fn code(self) -> &'static str {
        match self {
            Gender::Female => "F",
            Gender::Male => "M",
            Gender::Transgender => "T",
        }
    }
}

/// Relationship to the head of household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Relationship {
    Head,
    Spouse,
    Son,
    Daughter,
    Father,
    Mother,
    DaughterInLaw,
    SonInLaw,
    Grandson,
    Granddaughter,
    Brother,
    Sister,
    Other,
}

impl Relationship {
    /// The hub's code, e.g. "HEAD", "DAUGHTER_IN_LAW".
    pub fn code(self) -> &'static str {
        match self {
            Relationship::Head => "HEAD",
            Relationship::Spouse => "SPOUSE",
            Relationship::Son => "SON",
            Relationship::Daughter => "DAUGHTER",
            Relationship::Father => "FATHER",
            Relationship::Mother => "MOTHER",
            Relationship::DaughterInLaw => "DAUGHTER_IN_LAW",
            Relationship::SonInLaw => "SON_IN_LAW",
            Relationship::Grandson => "GRANDSON",
            Relationship::Granddaughter => "GRANDDAUGHTER",
            Relationship::Brother => "BROTHER",
            Relationship::Sister => "SISTER",
            Relationship::Other => "OTHER",
        }
    }
}

/// Whether the person is alive, dead or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LifeStatus {
    /// "alive".
    Alive,
    /// "deceased".
    Deceased,
    /// "migrated".
    Migrated,
}

impl LifeStatus {
    /// The hub's code: "alive", "deceased", "migrated".
    pub fn code(self) -> &'static str {
        match self {
            LifeStatus::Alive => "alive",
            LifeStatus::Deceased => "deceased",
            LifeStatus::Migrated => "migrated",
        }
    }
}

/// A date of birth as recorded: full, year only, or an age the person declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dob {
    /// Full date; displays as "YYYY-MM-DD".
    Full(NaiveDate),
    /// Year only; displays as "YYYY".
    YearOnly(i32),
    /// Declared age in years at the reference date; displays as the bare number.
    DeclaredAge(u8),
}

impl Dob {
    /// The (approximate) birth year, given the reference date declared ages count from.
    pub fn approx_year(&self, reference: NaiveDate) -> i32 {
        match *self {
            Dob::Full(d) => d.year(),
            Dob::YearOnly(y) => y,
            Dob::DeclaredAge(a) => reference.year() - i32::from(a),
        }
    }
}

impl fmt::Display for Dob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dob::Full(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Dob::YearOnly(y) => write!(f, "{y:04}"),
            Dob::DeclaredAge(a) => write!(f, "{a}"),
        }
    }
}

/// Postal address of a household.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    /// Door number, e.g. "12", "12/3", "45A".
    pub house_no: String,
    /// Street.
    pub street: String,
    /// Locality (village name or a "Nagar").
    pub locality: String,
    /// 6-digit pincode starting "60".
    pub pincode: String,
}

/// One member of a household.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Member {
    /// Globally unique within a generation: the ground-truth identity.
    pub person_id: u64,
    /// Full name as recorded.
    pub name: String,
    /// Father's name (husband's for a married woman) as officials record it.
    pub relative_name: String,
    /// Gender.
    pub gender: Gender,
    /// Date of birth as recorded.
    pub dob: Dob,
    /// Relationship to the head.
    pub relationship: Relationship,
    /// 12-digit ID number (Verhoeff-valid, first digit 2-9), unique across the generation.
    pub id_number: Option<String>,
    /// 10-digit mobile number, first digit 6-9.
    pub mobile: Option<String>,
    /// Alive, deceased or migrated.
    pub life_status: LifeStatus,
}

/// One household (ration card) and its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    /// Position in the generation; the household depends only on the seed and this.
    pub index: u64,
    /// Ration card number: a two-letter state prefix and 10 digits, unique per index.
    pub card_number: String,
    /// Card category.
    pub card_type: CardType,
    /// Address.
    pub address: Address,
    /// The village (shared with `Generator::places`).
    pub village: Arc<Village>,
    /// The naming convention the household's members follow.
    pub convention: Convention,
    /// Members, head first.
    pub members: Vec<Member>,
}

impl Household {
    /// The head of household.
    pub fn head(&self) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.relationship == Relationship::Head)
    }
}

/// Members per household never exceed this, so `index * MEMBER_SLOTS + position + 1` is a
/// unique person id.
pub const MEMBER_SLOTS: u64 = 10;

/// The seeded generator.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    places: Places,
    villages: Vec<Arc<Village>>,
    seed_bytes: [u8; 32],
    id_key: u64,
    card_key: u64,
    card_prefix: &'static str,
    reference_days: i32,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn feistel(key: u64, half_bits: u32, x: u64) -> u64 {
    let mask = (1u64 << half_bits) - 1;
    let mut l = x >> half_bits;
    let mut r = x & mask;
    for round in 0..6u64 {
        let f = splitmix(key ^ round.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ r) & mask;
        let next_l = r;
        r = l ^ f;
        l = next_l;
    }
    (l << half_bits) | r
}

/// A keyed bijection of `[0, n)` onto itself (Feistel network with cycle walking);
/// `4^half_bits` must be at least `n`.
fn permute(key: u64, x: u64, n: u64, half_bits: u32) -> u64 {
    debug_assert!(x < n && n <= 1u64 << (2 * half_bits));
    let mut y = feistel(key, half_bits, x);
    while y >= n {
        y = feistel(key, half_bits, y);
    }
    y
}

const ID_SPACE: u64 = 80_000_000_000; // 11-digit bodies 2xxxxxxxxxx..9xxxxxxxxxx
const CARD_SPACE: u64 = 10_000_000_000;

/// The 12-digit ID number the generator gives `person_id` under `key`.
fn id_number_for(key: u64, person_id: u64) -> String {
    let body = 20_000_000_000 + permute(key, person_id % ID_SPACE, ID_SPACE, 19);
    let mut s = format!("{body:011}");
    let check = sangam_domain::verhoeff::check_digit(&s).unwrap_or(0);
    s.push(char::from(b'0' + check));
    s
}

fn state_prefix(state_code: u32) -> &'static str {
    match state_code {
        28 | 37 => "AP",
        29 => "KA",
        32 => "KL",
        33 => "TN",
        34 => "PY",
        36 => "TS",
        _ => "SG",
    }
}

const STREETS: &[&str] = &[
    "Mariamman Koil Street",
    "Main Road",
    "Vinayagar Koil Street",
    "Gandhi Street",
    "Perumal Koil Street",
    "Church Street",
    "Mosque Street",
    "Nehru Street",
    "Bharathi Street",
    "Kamarajar Salai",
    "Anna Salai",
    "Pillaiyar Koil Street",
    "Middle Street",
    "East Street",
    "West Street",
    "North Street",
    "South Street",
    "Big Street",
    "Kuttai Street",
    "Ayyanar Koil Street",
    "Thiruvalluvar Street",
    "Rajiv Gandhi Street",
    "1st Cross",
    "2nd Cross",
    "3rd Cross",
    "Bazaar Street",
    "Tank Street",
    "Colony Main Road",
    "Draupathi Amman Koil Street",
    "School Street",
    "Madha Koil Street",
    "Beach Road",
];

const LOCALITIES: &[&str] = &[
    "Indira Nagar",
    "Anna Nagar",
    "Rajiv Gandhi Nagar",
    "Kamaraj Nagar",
    "Bharathi Nagar",
    "Ambedkar Nagar",
    "MGR Nagar",
    "Periyar Nagar",
    "Muthialpet",
    "Adi Dravidar Colony",
    "Fishermen Colony",
    "Housing Board",
    "Old Town",
    "New Colony",
    "Subramaniya Nagar",
    "Thattanchavady",
    "Reddiarpalayam",
    "Mudaliarpet",
];

const YEAR_DAYS: f64 = 365.2425;

fn years_to_days(years: f64) -> i32 {
    (years * YEAR_DAYS) as i32
}

/// Where a member's relative name comes from.
#[derive(Debug)]
enum RelRef {
    Member(usize),
    External(String),
}

#[derive(Debug)]
struct Draft {
    rel: Relationship,
    male: bool,
    given: &'static str,
    birth: i32,
    name: String,
    relative: RelRef,
    husband_of: Option<usize>, // for a son: index of his wife, once she exists
}

impl Generator {
    /// Builds a generator: the place hierarchy and keys are derived from `config.seed`.
    pub fn new(config: GeneratorConfig) -> Generator {
        let mut setup = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5A5A_0000_CAFE_F00D);
        let places = Places::build(
            &mut setup,
            config.state_code,
            config.districts,
            config.villages_per_district,
        );
        let villages = places.villages.iter().cloned().map(Arc::new).collect();
        let mut seed_bytes = [0u8; 32];
        setup.fill(&mut seed_bytes[..]);
        let id_key = setup.random();
        let card_key = setup.random();
        let reference_days = config.reference_date.num_days_from_ce();
        Generator {
            card_prefix: state_prefix(config.state_code),
            config,
            places,
            villages,
            seed_bytes,
            id_key,
            card_key,
            reference_days,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// All villages, with their districts and sub-districts.
    pub fn places(&self) -> &[Village] {
        &self.places.villages
    }

    /// The configured number of households, lazily, in index order.
    pub fn households(&self) -> impl Iterator<Item = Household> + '_ {
        (0..self.config.households).map(move |i| self.household(i))
    }

    /// Households `range`, lazily (for parallel chunks).
    pub fn households_in(
        &self,
        range: std::ops::Range<u64>,
    ) -> impl Iterator<Item = Household> + '_ {
        range.map(move |i| self.household(i))
    }

    /// The ID number this generation gives `person_id` (whether or not the member holds it).
    pub fn id_number_of(&self, person_id: u64) -> String {
        id_number_for(self.id_key, person_id)
    }

    /// The household at `index`; depends only on the seed and `index`.
    pub fn household(&self, index: u64) -> Household {
        let mut rng = ChaCha8Rng::from_seed(self.seed_bytes);
        rng.set_stream(index);
        let rng = &mut rng;

        let village_idx = self.places.pick(rng);
        let weights = names::convention_weights(self.places.district_pos[village_idx]);
        let convention = names::pick_convention(rng, &weights);
        let style = NameStyle::choose(rng, convention);

        let card_type = {
            let r = rng.random::<f64>();
            if r < 0.10 {
                CardType::Aay
            } else if r < 0.55 {
                CardType::Phh
            } else {
                CardType::Nphh
            }
        };
        let mut card_number = String::with_capacity(12);
        card_number.push_str(self.card_prefix);
        let digits = permute(self.card_key, index % CARD_SPACE, CARD_SPACE, 17);
        card_number.push_str(&format!("{digits:010}"));

        let address = self.address(rng, village_idx);
        let drafts = self.draft_members(rng, &style);
        let members = self.finish_members(rng, index, drafts);

        Household {
            index,
            card_number,
            card_type,
            address,
            village: Arc::clone(&self.villages[village_idx]),
            convention,
            members,
        }
    }

    fn address(&self, rng: &mut ChaCha8Rng, village_idx: usize) -> Address {
        let r = rng.random::<f64>();
        let house_no = if r < 0.6 {
            rng.random_range(1..300u32).to_string()
        } else if r < 0.85 {
            format!(
                "{}/{}",
                rng.random_range(1..200u32),
                rng.random_range(1..12u32)
            )
        } else {
            let letter = ['A', 'B', 'C'][rng.random_range(0..3)];
            format!("{}{}", rng.random_range(1..150u32), letter)
        };
        let street = STREETS[rng.random_range(0..STREETS.len())].to_string();
        let locality = if rng.random_bool(0.5) {
            self.places.villages[village_idx].village_name.clone()
        } else {
            LOCALITIES[rng.random_range(0..LOCALITIES.len())].to_string()
        };
        Address {
            house_no,
            street,
            locality,
            pincode: self.places.pincodes[village_idx].clone(),
        }
    }

    /// A birth day (days from CE) for someone `age` years old, give or take the year.
    fn birth_for_age(&self, rng: &mut ChaCha8Rng, age: f64) -> i32 {
        self.reference_days - years_to_days(age) - rng.random_range(0..365)
    }

    /// A birth day uniformly in `[lo, hi]`, clamped to the reference date.
    fn birth_between(&self, rng: &mut ChaCha8Rng, lo: i32, hi: i32) -> i32 {
        let hi = hi.min(self.reference_days);
        if hi <= lo {
            lo.min(self.reference_days)
        } else {
            rng.random_range(lo..=hi)
        }
    }

    fn age_years(&self, birth: i32) -> f64 {
        f64::from(self.reference_days - birth) / YEAR_DAYS
    }

    fn draft_members(&self, rng: &mut ChaCha8Rng, style: &NameStyle) -> Vec<Draft> {
        let pools = names::pools();
        let conv = style.convention;
        let size: usize = {
            // Mean ≈ 4.3.
            const W: [u32; 9] = [5, 12, 17, 24, 19, 11, 6, 4, 2];
            let mut u = rng.random_range(0..100u32);
            let mut n = 1;
            for (i, w) in W.iter().enumerate() {
                if u < *w {
                    n = i + 1;
                    break;
                }
                u -= w;
            }
            n
        };
        let head_female = rng.random_bool(if size == 1 { 0.35 } else { 0.13 });
        let head_age = if head_female {
            35.0 + (rng.random::<f64>() + rng.random::<f64>()) * 25.0
        } else if size == 1 {
            22.0 + rng.random::<f64>() * 60.0
        } else if rng.random_bool(0.9) {
            24.0 + (rng.random::<f64>() + rng.random::<f64>()) * 23.0
        } else {
            70.0 + rng.random::<f64>() * 15.0
        };
        let head_birth = self.birth_for_age(rng, head_age);
        let head_given = pools.given(rng, conv, !head_female);

        // The head's father (a member if he lives with them).
        let mut head_father_given = pools.given(rng, conv, true);
        if head_father_given == head_given {
            head_father_given = pools.given(rng, conv, true);
        }
        let grandfather_given = pools.given(rng, conv, true);
        let head_father_name = style.format(rng, head_father_given, true, grandfather_given, None);

        let mut drafts: Vec<Draft> = Vec::with_capacity(size);
        // A widow's late husband.
        let (late_husband_given, late_husband_name) = if head_female {
            let g = pools.given(rng, conv, true);
            let f = pools.given(rng, conv, true);
            (Some(g), Some(style.format(rng, g, true, f, None)))
        } else {
            (None, None)
        };
        let head_name = style.format(
            rng,
            head_given,
            !head_female,
            head_father_given,
            late_husband_given,
        );
        let head_relative = match &late_husband_name {
            Some(n) => RelRef::External(n.clone()),
            None => RelRef::External(head_father_name.clone()),
        };
        drafts.push(Draft {
            rel: Relationship::Head,
            male: !head_female,
            given: head_given,
            birth: head_birth,
            name: head_name,
            relative: head_relative,
            husband_of: None,
        });

        // Spouse.
        let mut mother_birth = if head_female { Some(head_birth) } else { None };
        if !head_female && drafts.len() < size && rng.random_bool(0.93) {
            let gap = if rng.random_bool(0.05) {
                -(1.0 + rng.random::<f64>() * 2.0)
            } else {
                1.0 + (rng.random::<f64>() + rng.random::<f64>()) * 4.5
            };
            let age = (head_age - gap).max(19.0);
            let birth = self
                .birth_for_age(rng, age)
                .min(self.reference_days - years_to_days(19.0));
            let given = pools.given(rng, conv, false);
            let her_father = pools.given(rng, conv, true);
            let name = style.format(rng, given, false, her_father, Some(head_given));
            drafts.push(Draft {
                rel: Relationship::Spouse,
                male: false,
                given,
                birth,
                name,
                relative: RelRef::Member(0),
                husband_of: None,
            });
            drafts[0].husband_of = Some(1);
            mother_birth = Some(birth);
        }

        // An elderly parent of the head.
        let mut father_idx: Option<usize> = None;
        if drafts.len() < size && head_age <= 55.0 && rng.random_bool(0.18) {
            let age = head_age + 20.0 + rng.random::<f64>() * 16.0;
            let birth = self
                .birth_for_age(rng, age)
                .min(head_birth - years_to_days(20.0));
            if rng.random_bool(0.25) {
                drafts.push(Draft {
                    rel: Relationship::Father,
                    male: true,
                    given: head_father_given,
                    birth,
                    name: head_father_name.clone(),
                    relative: {
                        let great = pools.given(rng, conv, true);
                        RelRef::External(style.format(rng, grandfather_given, true, great, None))
                    },
                    husband_of: None,
                });
                father_idx = Some(drafts.len() - 1);
            } else {
                let given = pools.given(rng, conv, false);
                let her_father = pools.given(rng, conv, true);
                let name = style.format(rng, given, false, her_father, Some(head_father_given));
                drafts.push(Draft {
                    rel: Relationship::Mother,
                    male: false,
                    given,
                    birth,
                    name,
                    relative: RelRef::External(head_father_name.clone()),
                    husband_of: None,
                });
            }
        }

        // Children, daughters-in-law, grandchildren, siblings.
        let (child_father_given, child_relative) = match late_husband_given {
            Some(g) => (
                g,
                RelRef::External(late_husband_name.clone().unwrap_or_default()),
            ),
            None => (head_given, RelRef::Member(0)),
        };
        let father_birth = if head_female {
            head_birth - years_to_days(5.0)
        } else {
            head_birth
        };
        let child_lo = match mother_birth {
            Some(m) => (m + years_to_days(18.0)).max(father_birth + years_to_days(20.0)),
            None => father_birth + years_to_days(20.0),
        };
        let child_hi = match mother_birth {
            Some(m) => m + years_to_days(42.0),
            None => father_birth + years_to_days(50.0),
        };
        let mut has_dil: Option<(usize, usize)> = None; // (son, wife)
        while drafts.len() < size {
            // A daughter-in-law for an adult unmarried son.
            if has_dil.is_none() && rng.random_bool(0.5) {
                let son = drafts.iter().position(|d| {
                    d.rel == Relationship::Son
                        && d.husband_of.is_none()
                        && self.age_years(d.birth) >= 22.0
                });
                if let Some(son) = son {
                    let son_birth = drafts[son].birth;
                    let birth = (son_birth + years_to_days(1.0 + rng.random::<f64>() * 6.0))
                        .min(self.reference_days - years_to_days(18.5));
                    let given = pools.given(rng, conv, false);
                    let her_father = pools.given(rng, conv, true);
                    let name = style.format(rng, given, false, her_father, Some(drafts[son].given));
                    drafts.push(Draft {
                        rel: Relationship::DaughterInLaw,
                        male: false,
                        given,
                        birth,
                        name,
                        relative: RelRef::Member(son),
                        husband_of: None,
                    });
                    let wife = drafts.len() - 1;
                    drafts[son].husband_of = Some(wife);
                    has_dil = Some((son, wife));
                    continue;
                }
            }
            // A grandchild of the son and daughter-in-law.
            if let Some((son, wife)) = has_dil
                && rng.random_bool(0.6)
            {
                let lo = (drafts[wife].birth + years_to_days(18.0))
                    .max(drafts[son].birth + years_to_days(20.0));
                let hi = (drafts[wife].birth + years_to_days(40.0)).min(self.reference_days);
                if lo <= hi {
                    let male = rng.random_bool(0.51);
                    let son_given = drafts[son].given;
                    let mut given = pools.given(rng, conv, male);
                    if given == son_given {
                        given = pools.given(rng, conv, male);
                    }
                    let name = style.format(rng, given, male, son_given, None);
                    let birth = self.birth_between(rng, lo, hi);
                    drafts.push(Draft {
                        rel: if male {
                            Relationship::Grandson
                        } else {
                            Relationship::Granddaughter
                        },
                        male,
                        given,
                        birth,
                        name,
                        relative: RelRef::Member(son),
                        husband_of: None,
                    });
                    continue;
                }
            }
            let r = rng.random::<f64>();
            if r < 0.04 {
                // A brother or sister of the head.
                let male = rng.random_bool(0.5);
                let mut given = pools.given(rng, conv, male);
                for _ in 0..3 {
                    if given != head_father_given && !drafts.iter().any(|d| d.given == given) {
                        break;
                    }
                    given = pools.given(rng, conv, male);
                }
                let age = (head_age + rng.random_range(-12.0..12.0)).clamp(8.0, 95.0);
                let birth = self.birth_for_age(rng, age);
                let name = style.format(rng, given, male, head_father_given, None);
                let relative = match father_idx {
                    Some(i) => RelRef::Member(i),
                    None => RelRef::External(head_father_name.clone()),
                };
                drafts.push(Draft {
                    rel: if male {
                        Relationship::Brother
                    } else {
                        Relationship::Sister
                    },
                    male,
                    given,
                    birth,
                    name,
                    relative,
                    husband_of: None,
                });
                continue;
            }
            if r < 0.06 {
                // Someone else: a niece, a nephew, a helper.
                let male = rng.random_bool(0.5);
                let given = pools.given(rng, conv, male);
                let their_father = pools.given(rng, conv, true);
                let grand = pools.given(rng, conv, true);
                let father_name = style.format(rng, their_father, true, grand, None);
                let name = style.format(rng, given, male, their_father, None);
                let age = 5.0 + rng.random::<f64>() * 60.0;
                let birth = self.birth_for_age(rng, age);
                drafts.push(Draft {
                    rel: Relationship::Other,
                    male,
                    given,
                    birth,
                    name,
                    relative: RelRef::External(father_name),
                    husband_of: None,
                });
                continue;
            }
            if r < 0.08 {
                // A son-in-law living with his wife's family.
                let daughter = drafts.iter().position(|d| {
                    d.rel == Relationship::Daughter
                        && d.husband_of.is_none()
                        && self.age_years(d.birth) >= 20.0
                });
                if let Some(daughter) = daughter {
                    let given = pools.given(rng, conv, true);
                    let his_father = pools.given(rng, conv, true);
                    let grand = pools.given(rng, conv, true);
                    let father_name = style.format(rng, his_father, true, grand, None);
                    let name = style.format(rng, given, true, his_father, None);
                    let birth =
                        drafts[daughter].birth - years_to_days(2.0 + rng.random::<f64>() * 6.0);
                    drafts.push(Draft {
                        rel: Relationship::SonInLaw,
                        male: true,
                        given,
                        birth,
                        name,
                        relative: RelRef::External(father_name),
                        husband_of: None,
                    });
                    let him = drafts.len() - 1;
                    drafts[daughter].husband_of = Some(him);
                    continue;
                }
            }
            // A son or daughter.
            let male = rng.random_bool(0.51);
            let mut given = pools.given(rng, conv, male);
            for _ in 0..3 {
                if given != child_father_given && !drafts.iter().any(|d| d.given == given) {
                    break;
                }
                given = pools.given(rng, conv, male);
            }
            let birth = self.birth_between(rng, child_lo, child_hi);
            let name = style.format(rng, given, male, child_father_given, None);
            drafts.push(Draft {
                rel: if male {
                    Relationship::Son
                } else {
                    Relationship::Daughter
                },
                male,
                given,
                birth,
                name,
                relative: match &child_relative {
                    RelRef::Member(i) => RelRef::Member(*i),
                    RelRef::External(s) => RelRef::External(s.clone()),
                },
                husband_of: None,
            });
        }
        order_drafts(drafts)
    }

    fn finish_members(&self, rng: &mut ChaCha8Rng, index: u64, drafts: Vec<Draft>) -> Vec<Member> {
        let mut members: Vec<Member> = Vec::with_capacity(drafts.len());
        let mut head_mobile: Option<String> = None;
        for (pos, d) in drafts.iter().enumerate() {
            let person_id = index * MEMBER_SLOTS + pos as u64 + 1;
            let relative_name = match &d.relative {
                RelRef::Member(i) => drafts[*i].name.clone(),
                RelRef::External(s) => s.clone(),
            };
            let gender = if rng.random_bool(0.001) {
                Gender::Transgender
            } else if d.male {
                Gender::Male
            } else {
                Gender::Female
            };
            let birth = d.birth.min(self.reference_days);
            let date =
                NaiveDate::from_num_days_from_ce_opt(birth).unwrap_or(self.config.reference_date);
            let r = rng.random::<f64>();
            let dob = if r < 0.80 {
                Dob::Full(date)
            } else if r < 0.92 {
                Dob::YearOnly(date.year())
            } else {
                let age = self.config.reference_date.years_since(date).unwrap_or(0);
                Dob::DeclaredAge(age.min(120) as u8)
            };
            let id_number = if rng.random_bool(self.config.id_number_coverage.clamp(0.0, 1.0)) {
                Some(id_number_for(self.id_key, person_id))
            } else {
                None
            };
            let mobile = if rng.random_bool(self.config.mobile_coverage.clamp(0.0, 1.0)) {
                match &head_mobile {
                    Some(m) if rng.random_bool(0.3) => Some(m.clone()),
                    _ => Some(random_mobile(rng)),
                }
            } else {
                None
            };
            if pos == 0 {
                head_mobile = mobile.clone();
            }
            let r = rng.random::<f64>();
            let life_status = if r < 0.97 {
                LifeStatus::Alive
            } else if r < 0.99 {
                LifeStatus::Deceased
            } else {
                LifeStatus::Migrated
            };
            members.push(Member {
                person_id,
                name: d.name.clone(),
                relative_name,
                gender,
                dob,
                relationship: d.rel,
                id_number,
                mobile,
                life_status,
            });
        }
        members
    }
}

/// Puts members in the order a ration card lists them: head, spouse, parents, children eldest
/// first (each followed by their spouse), grandchildren, siblings, others; remaps references.
fn order_drafts(drafts: Vec<Draft>) -> Vec<Draft> {
    let spouse_of = |i: usize| -> Option<usize> {
        drafts.iter().position(|d| {
            d.husband_of == Some(i) && matches!(d.rel, Relationship::Son | Relationship::Daughter)
        })
    };
    let key = |i: usize| -> (u8, i32, u8) {
        let d = &drafts[i];
        match d.rel {
            Relationship::Head => (0, 0, 0),
            Relationship::Spouse => (1, 0, 0),
            Relationship::Father | Relationship::Mother => (2, d.birth, 0),
            Relationship::Son | Relationship::Daughter => (3, d.birth, 0),
            Relationship::DaughterInLaw | Relationship::SonInLaw => {
                (3, spouse_of(i).map_or(d.birth, |s| drafts[s].birth), 1)
            }
            Relationship::Grandson | Relationship::Granddaughter => (4, d.birth, 0),
            Relationship::Brother | Relationship::Sister => (5, d.birth, 0),
            Relationship::Other => (6, d.birth, 0),
        }
    };
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| key(i));
    if order.iter().enumerate().all(|(a, &b)| a == b) {
        return drafts;
    }
    let mut new_pos = vec![0usize; drafts.len()];
    for (pos, &old) in order.iter().enumerate() {
        new_pos[old] = pos;
    }
    let mut slots: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&old| slots[old].take())
        .map(|mut d| {
            if let RelRef::Member(i) = d.relative {
                d.relative = RelRef::Member(new_pos[i]);
            }
            d.husband_of = d.husband_of.map(|i| new_pos[i]);
            d
        })
        .collect()
}

/// A random 10-digit mobile number starting 6-9 (9 most common).
pub fn random_mobile<R: Rng + ?Sized>(rng: &mut R) -> String {
    let r = rng.random::<f64>();
    let first = if r < 0.4 {
        9
    } else if r < 0.65 {
        8
    } else if r < 0.85 {
        7
    } else {
        6
    };
    format!("{first}{:09}", rng.random_range(0..1_000_000_000u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection_on_a_small_domain() {
        let n = 1000u64;
        let mut seen = vec![false; n as usize];
        for x in 0..n {
            let y = permute(42, x, n, 5);
            assert!(y < n);
            assert!(!seen[y as usize]);
            seen[y as usize] = true;
        }
    }

    #[test]
    fn dob_display() {
        let d = NaiveDate::from_ymd_opt(1980, 3, 7).unwrap_or_default();
        assert_eq!(Dob::Full(d).to_string(), "1980-03-07");
        assert_eq!(Dob::YearOnly(1980).to_string(), "1980");
        assert_eq!(Dob::DeclaredAge(46).to_string(), "46");
    }
}
