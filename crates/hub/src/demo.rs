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
use crate::sharing::fields;
use crate::sharing::model::{
    AgreementTerms, ApplicationForm, ApplicationStatus, ApprovedPurpose, ConnectivityRequest,
    Environment, OrganisationCategory, OrganisationForm, RequestedItem,
};
use crate::{Hub, HubError, HubResult};
use sangam_access::limits::Limits;

/// Households generated and loaded per transaction.
pub const CHUNK: u64 = 5_000;
/// The demo administrator's user name.
pub const DEMO_ADMIN: &str = "admin";

/// What `demo-credentials.json` holds.
#[derive(Clone, Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    pub admin_username: String,
    pub admin_password: String,
    /// The demo consuming application, live, with an agreement for [`DEMO_PURPOSE`].
    pub application_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The purpose to state (`X-Purpose`) on data calls.
    pub purpose: String,
}

/// The demo application's organisation.
pub const DEMO_ORGANISATION: &str = "demo-consumer";
/// The purpose the demo application's agreement approves.
pub const DEMO_PURPOSE: &str = "scheme-eligibility";

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

    /// Sets a fresh random password for the demo administrator and issues client credentials
    /// for the demo consuming application, onboarding it first if it is not live yet.
    pub async fn issue_demo_credentials(&self) -> HubResult<DemoCredentials> {
        let mut bytes = [0u8; 15];
        rand::rng().fill_bytes(&mut bytes);
        let password = URL_SAFE_NO_PAD.encode(bytes);
        self.save_user(DEMO_ADMIN, &password, Role::Admin, None, "system")
            .await?;
        let admin = self
            .store()
            .user(DEMO_ADMIN)
            .await?
            .ok_or_else(|| HubError::Internal("the demo administrator vanished".into()))?;
        let existing = self
            .store()
            .applications(Some(DEMO_ORGANISATION))
            .await?
            .into_iter()
            .find(|a| a.status == ApplicationStatus::Live.code());
        let application_id = match existing {
            Some(app) => app.id,
            None => self.onboard_demo_application(&admin).await?,
        };
        let secret = self
            .issue_client_secret(
                &application_id,
                Environment::Live,
                chrono::Duration::zero(),
                DEMO_ADMIN,
            )
            .await?;
        Ok(DemoCredentials {
            admin_username: DEMO_ADMIN.into(),
            admin_password: password,
            application_id,
            client_id: secret.client_id,
            client_secret: secret.client_secret,
            purpose: DEMO_PURPOSE.into(),
        })
    }

    /// Takes the demo application through every onboarding step, as an administrator would.
    async fn onboard_demo_application(&self, admin: &sangam_store::User) -> HubResult<String> {
        let today = crate::sharing::model::ist_day(self.now());
        self.register_organisation(
            OrganisationForm {
                id: DEMO_ORGANISATION.into(),
                name: "Demo Social Welfare Department".into(),
                address: "1 Secretariat Road".into(),
                contact_person: "Demo Nodal Officer".into(),
                designation: "Deputy Director".into(),
                email: "nodal@demo.invalid".into(),
                mobile: "9876543210".into(),
                phone: None,
                city: "Puducherry".into(),
                state: "Puducherry".into(),
                pin_code: "605001".into(),
                category: OrganisationCategory::Government,
            },
            admin,
        )
        .await?;
        let loopback = vec!["127.0.0.1".to_owned(), "::1".to_owned()];
        let app = self
            .submit_application(
                Some(DEMO_ORGANISATION),
                ApplicationForm {
                    name: "Demo pension portal".into(),
                    description: "Checks applicants for old-age pension against the registry"
                        .into(),
                    contact_person: "Demo Nodal Officer".into(),
                    email: "nodal@demo.invalid".into(),
                    access_required_for: "eligibility checks of pension applicants".into(),
                    public_ips: loopback.clone(),
                },
                ConnectivityRequest {
                    head_of_department: "Demo Director".into(),
                    head_employee_id: "EMP-0001".into(),
                    nodal_officer: "Demo Nodal Officer".into(),
                    nodal_officer_contact: "nodal@demo.invalid".into(),
                    project_name: "Pension portal".into(),
                    project_scope: "old-age pension applications".into(),
                    software_frameworks: "Java Spring".into(),
                    database_used: "PostgreSQL".into(),
                    launch_date: today,
                    last_security_audit: today,
                    requested: vec![RequestedItem {
                        item: "residents.read".into(),
                        purpose: DEMO_PURPOSE.into(),
                    }],
                    receiving_api: None,
                    client_public_ips: loopback,
                    client_private_ips: Vec::new(),
                    url: None,
                },
                admin,
            )
            .await?;
        let id = app.id;
        self.move_application(&id, ApplicationStatus::PreliminaryCheck, None, admin)
            .await?;
        self.move_application(&id, ApplicationStatus::TechnicalEvaluation, None, admin)
            .await?;
        let scopes = [
            fields::scopes::RESIDENTS_READ,
            fields::scopes::HOUSEHOLDS_READ,
            fields::scopes::RESIDENTS_PROFILE,
            fields::scopes::RESIDENTS_SEARCH,
            fields::scopes::EKYC_READ,
            fields::scopes::RESIDENTS_ENROL,
        ];
        self.approve_application(
            &id,
            AgreementTerms {
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                purposes: vec![ApprovedPurpose {
                    code: DEMO_PURPOSE.into(),
                    description: "eligibility of pension applicants".into(),
                    fields: [
                        "name",
                        "relative_name",
                        "gender",
                        "dob",
                        "relationship",
                        "id_number",
                        "ekyc_status",
                        "life_status",
                        "card_number",
                        "village_code",
                        "enrolments",
                    ]
                    .iter()
                    .map(|f| (*f).to_owned())
                    .collect(),
                    reveal: false,
                }],
                limits: Limits {
                    per_second: 20_000,
                    burst: 20_000,
                    daily: 10_000_000,
                    monthly: 100_000_000,
                },
                approved_daily_records: 1_000_000,
                starts_on: None,
                ends_on: None,
                notice_days: None,
            },
            admin,
        )
        .await?;
        self.issue_client_secret(
            &id,
            Environment::Sandbox,
            chrono::Duration::zero(),
            DEMO_ADMIN,
        )
        .await?;
        self.move_application(&id, ApplicationStatus::Sandbox, None, admin)
            .await?;
        self.move_application(&id, ApplicationStatus::Live, None, admin)
            .await?;
        Ok(id)
    }
}
