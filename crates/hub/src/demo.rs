//! Seeding a hub with synthetic households for demonstrations and benchmarks, and issuing
//! the demo's sign-in and client credentials.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rayon::prelude::*;
use sangam_domain::{
    CardType, ConsentRef, DateOfBirth, Gender, IdNumber, LifeStatus, MobileNumber, PersonName,
    RationCardNumber, Relationship, ValidationError, VillageCode,
};
use sangam_store::{Address, Role};
use sangam_synth::{Dob, Generator, GeneratorConfig};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::registry::{HouseholdDetails, LoadCounts, MemberDetails, NewHousehold, NewMember};
use crate::{Hub, HubError, HubResult};

/// Households generated and loaded per transaction.
pub const CHUNK: u64 = 5_000;
/// The demo administrator's user name.
pub const DEMO_ADMIN: &str = "admin";

/// What `demo-credentials.json` holds.
#[derive(Clone, Serialize)]
pub struct DemoCredentials {
    pub admin_username: String,
    pub admin_password: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for DemoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredentials")
            .field("admin_username", &self.admin_username)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str, index: u64) -> impl Fn(ValidationError) -> HubError + '_ {
    move |e| {
        HubError::Internal(format!(
            "synthetic household {index} has an invalid {what}: {} ({})",
            e.message, e.code
        ))
    }
}

/// Turns one generated household into validated input, as a department's file would be.
fn convert(h: sangam_synth::Household, reference: chrono::NaiveDate) -> HubResult<NewHousehold> {
    let i = h.index;
    let mut members = Vec::with_capacity(h.members.len());
    for m in h.members {
        let dob = match m.dob {
            Dob::Full(date) => DateOfBirth::Full(date),
            Dob::YearOnly(year) => DateOfBirth::Year(year),
            Dob::DeclaredAge(age) => DateOfBirth::DeclaredAge {
                age,
                as_of: reference,
            },
        };
        let id_number = match &m.id_number {
            Some(digits) => Some((
                IdNumber::parse(digits).map_err(invalid("ID number", i))?,
                ConsentRef::parse(&format!("CF-{}", m.person_id)).map_err(invalid("consent", i))?,
            )),
            None => None,
        };
        members.push(NewMember {
            details: MemberDetails {
                name: PersonName::parse(&m.name).map_err(invalid("name", i))?,
                relative_name: Some(
                    PersonName::parse(&m.relative_name).map_err(invalid("relative", i))?,
                ),
                gender: Gender::parse(m.gender.code()).map_err(invalid("gender", i))?,
                dob,
                relationship: Relationship::parse(m.relationship.code())
                    .map_err(invalid("relationship", i))?,
                mobile: m
                    .mobile
                    .as_deref()
                    .map(MobileNumber::parse)
                    .transpose()
                    .map_err(invalid("mobile", i))?,
                life_status: LifeStatus::parse(m.life_status.code())
                    .map_err(invalid("life status", i))?,
            },
            id_number,
        });
    }
    Ok(NewHousehold {
        details: HouseholdDetails {
            card_number: RationCardNumber::parse(&h.card_number)
                .map_err(invalid("card number", i))?,
            card_type: CardType::parse(h.card_type.code()).map_err(invalid("card type", i))?,
            address: Address {
                house_no: Some(h.address.house_no),
                street: Some(h.address.street),
                locality: Some(h.address.locality),
                pincode: Some(h.address.pincode),
            },
            village_code: VillageCode::new(h.village.village_code)
                .map_err(invalid("village code", i))?,
        },
        members,
    })
}

impl Hub {
    /// Generates `households` synthetic households from `seed` and loads them in chunks,
    /// calling `progress` with the number of households loaded so far.
    pub async fn seed_demo(
        &self,
        households: u64,
        seed: u64,
        progress: impl Fn(u64) + Send,
    ) -> HubResult<LoadCounts> {
        let config = GeneratorConfig {
            seed,
            households,
            ..GeneratorConfig::default()
        };
        let reference = config.reference_date;
        let generator = std::sync::Arc::new(Generator::new(config));
        let mut total = LoadCounts::default();
        let mut start = 0;
        while start < households {
            let end = (start + CHUNK).min(households);
            let generator = generator.clone();
            let chunk = tokio::task::spawn_blocking(move || {
                (start..end)
                    .into_par_iter()
                    .map(|i| convert(generator.household(i), reference))
                    .collect::<HubResult<Vec<_>>>()
            })
            .await
            .map_err(|e| HubError::Internal(format!("generation failed: {e}")))??;
            let counts = self.load_households(chunk).await?;
            total.households += counts.households;
            total.residents += counts.residents;
            total.id_numbers += counts.id_numbers;
            progress(end);
            start = end;
        }
        self.audit(
            "system",
            AuditEvent::RegistryLoaded {
                source: format!("synthetic demo data (seed {seed})"),
                households: total.households,
                residents: total.residents,
            },
        )
        .await?;
        Ok(total)
    }

    /// Sets a fresh random password for the demo administrator and issues demo client
    /// credentials.
    pub async fn issue_demo_credentials(&self) -> HubResult<DemoCredentials> {
        let mut bytes = [0u8; 15];
        rand::rng().fill_bytes(&mut bytes);
        let password = URL_SAFE_NO_PAD.encode(bytes);
        self.save_user(DEMO_ADMIN, &password, Role::Admin, None, "system")
            .await?;
        let client = self
            .create_api_client("Demo consuming application", "system")
            .await?;
        Ok(DemoCredentials {
            admin_username: DEMO_ADMIN.into(),
            admin_password: password,
            client_id: client.client_id,
            client_secret: client.client_secret,
        })
    }
}
