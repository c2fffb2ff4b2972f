//! Synthetic districts, sub-districts and villages with LGD-style codes.
//!
//! Codes follow the shape of the Local Government Directory: district 3 digits, sub-district
//! 4 digits, village 6 digits, all unique and non-zero. The first four districts of state 34
//! carry Puducherry's district names; the rest are synthetic.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// One village with its place in the state's hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Village {
    /// LGD state code (34 for Puducherry).
    pub state_code: u32,
    /// State name.
    pub state_name: String,
    /// 3-digit district code.
    pub district_code: u32,
    /// District name.
    pub district_name: String,
    /// 4-digit sub-district (taluk / commune) code.
    pub sub_district_code: u32,
    /// Sub-district name.
    pub sub_district_name: String,
    /// 6-digit village code.
    pub village_code: u32,
    /// Village name.
    pub village_name: String,
}

/// Largest number of districts the code scheme can number uniquely.
pub const MAX_DISTRICTS: u32 = 900;
/// Largest number of villages the code scheme can number uniquely.
pub const MAX_VILLAGES: u32 = 399_999;

/// A state name for a handful of LGD state codes; "State NN" otherwise.
pub fn state_name(state_code: u32) -> String {
    match state_code {
        28 => "Andhra Pradesh".into(),
        29 => "Karnataka".into(),
        32 => "Kerala".into(),
        33 => "Tamil Nadu".into(),
        34 => "Puducherry".into(),
        36 => "Telangana".into(),
        37 => "Andhra Pradesh".into(),
        _ => format!("State {state_code}"),
    }
}

const PUDUCHERRY_DISTRICTS: [&str; 4] = ["Puducherry", "Karaikal", "Mahe", "Yanam"];

const PLACE_PREFIX: &[&str] = &[
    "Ariyan",
    "Thiru",
    "Kottai",
    "Mullai",
    "Sedar",
    "Vada",
    "Then",
    "Keezh",
    "Mel",
    "Pudu",
    "Periya",
    "Chinna",
    "Kil",
    "Manna",
    "Karai",
    "Villi",
    "Bahu",
    "Kala",
    "Mudali",
    "Nalla",
    "Odai",
    "Pillai",
    "Sorai",
    "Thava",
    "Uppa",
    "Veera",
    "Kuru",
    "Abhishe",
    "Embala",
    "Kari",
    "Lawspet",
    "Murunga",
    "Nettap",
    "Pandasoz",
    "Sella",
    "Thirubhuvana",
    "Kootu",
    "Madagadi",
    "Nedun",
    "Poorana",
    "Sandhai",
    "Korkadu",
    "Kurumba",
    "Manavely",
    "Pudhu",
    "Sooramangala",
];

const PLACE_SUFFIX: &[&str] = &[
    "kuppam", "palayam", "nallur", "pet", "ur", "patti", "pakkam", "puram", "nagar", "kadu",
    "mangalam", "cheri", "kulam", "thurai", "medu", "vakkam", "kottai", "agaram", "pattu", "nur",
];

const SUB_DISTRICT_NAMES: &[&str] = &[
    "Villianur",
    "Bahour",
    "Ariyankuppam",
    "Nettapakkam",
    "Mannadipet",
    "Ozhukarai",
    "Thirunallar",
    "Kottucherry",
    "Nedungadu",
    "Neravy",
    "Thirumalairayanpattinam",
    "Palloor",
    "Chalakkara",
    "Kanakalapeta",
    "Mettakur",
];

fn synthetic_name<R: Rng + ?Sized>(rng: &mut R) -> String {
    let p = PLACE_PREFIX[rng.random_range(0..PLACE_PREFIX.len())];
    let s = PLACE_SUFFIX[rng.random_range(0..PLACE_SUFFIX.len())];
    let mut name = String::with_capacity(p.len() + s.len());
    name.push_str(p);
    name.push_str(s);
    name
}

/// The built place hierarchy plus what the generator needs to draw from it.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    pub villages: Vec<Village>,
    /// District position (0-based) of each village.
    pub district_pos: Vec<u32>,
    /// A 6-digit pincode per village.
    pub pincodes: Vec<String>,
    /// Cumulative population weights for drawing a village.
    pub cumulative: Vec<f64>,
}

impl Places {
    /// Builds `districts` × `villages_per_district` villages deterministically from `rng`.
    pub fn build<R: Rng + ?Sized>(
        rng: &mut R,
        state_code: u32,
        districts: u32,
        villages_per_district: u32,
    ) -> Places {
        let districts = districts.clamp(1, MAX_DISTRICTS);
        let villages_per_district = villages_per_district.clamp(1, MAX_VILLAGES / districts);
        let subs_per_district = (villages_per_district / 8).clamp(1, 9000 / districts);
        let state_name = state_name(state_code);
        let n = (districts * villages_per_district) as usize;
        let mut villages = Vec::with_capacity(n);
        let mut district_pos = Vec::with_capacity(n);
        let mut pincodes = Vec::with_capacity(n);
        let mut cumulative = Vec::with_capacity(n);
        let mut total = 0.0;
        let mut global_village = 0u32;
        for d in 0..districts {
            let district_code = 100 + (state_code.wrapping_mul(37).wrapping_add(d)) % MAX_DISTRICTS;
            let district_name = if state_code == 34 && (d as usize) < PUDUCHERRY_DISTRICTS.len() {
                PUDUCHERRY_DISTRICTS[d as usize].to_string()
            } else {
                let mut n = synthetic_name(rng);
                n.push_str(" District");
                n
            };
            // Puducherry-like population split: big first district, small enclaves.
            let district_weight = match (state_code, d) {
                (34, 0) => 1.0,
                (34, 1) => 0.3,
                (34, _) if d < 4 => 0.08,
                _ => 1.0,
            };
            let sub_names: Vec<String> = (0..subs_per_district)
                .map(|s| {
                    let i = (d * subs_per_district + s) as usize;
                    if i < SUB_DISTRICT_NAMES.len() {
                        SUB_DISTRICT_NAMES[i].to_string()
                    } else {
                        synthetic_name(rng)
                    }
                })
                .collect();
            let pin_head = 5 + (d % 5); // pincodes 605xxx..609xxx
            let mut used: Vec<String> = Vec::with_capacity(villages_per_district as usize);
            for v in 0..villages_per_district {
                let s = v * subs_per_district / villages_per_district;
                let sub_district_code = 1000 + d * subs_per_district + s;
                let mut name = synthetic_name(rng);
                let mut tries = 0;
                while used.contains(&name) && tries < 20 {
                    name = synthetic_name(rng);
                    tries += 1;
                }
                if used.contains(&name) {
                    name.push_str(&format!(" {}", v + 1));
                }
                used.push(name.clone());
                let village_code = 600_001 + global_village;
                global_village += 1;
                villages.push(Village {
                    state_code,
                    state_name: state_name.clone(),
                    district_code,
                    district_name: district_name.clone(),
                    sub_district_code,
                    sub_district_name: sub_names[s as usize].clone(),
                    village_code,
                    village_name: name,
                });
                district_pos.push(d);
                pincodes.push(format!("60{}{:03}", pin_head, rng.random_range(1..1000u32)));
                total += district_weight * rng.random_range(0.3..1.7);
                cumulative.push(total);
            }
        }
        Places {
            villages,
            district_pos,
            pincodes,
            cumulative,
        }
    }

    /// Draws a village index, weighted by population.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.villages.len() - 1)
    }
}
