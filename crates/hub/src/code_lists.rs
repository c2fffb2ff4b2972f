//! Code lists: the LGD village directory, the list of scheme codes and the directory of bank
//! branches (IFSC) a state loads, so that uploads check a code against the real list rather
//! than only its format. A list is checked
//! whole before it replaces the one loaded (a half-loaded directory would reject valid
//! villages later), and kept as the CSV it came from.

use std::sync::Arc;

use sangam_domain::code_list::{CodeListError, IfscDirectory, LgdDirectory, SchemeCodeList};
use sangam_ingest::spec::CodeLists;
use sangam_store::StoredCodeList;
use sha2::{Digest, Sha256};

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// The lists a state can load.
pub const CODE_LISTS: [&str; 3] = ["villages", "schemes", "ifsc"];

/// The parsed lists, by the checksum of the body they were parsed from.
#[derive(Debug, Default)]
pub struct CodeListCache {
    villages: Option<(String, Arc<LgdDirectory>)>,
    schemes: Option<(String, Arc<SchemeCodeList>)>,
    ifsc: Option<(String, Arc<IfscDirectory>)>,
}

fn invalid(name: &str, e: impl std::fmt::Display) -> HubError {
    HubError::Invalid {
        field: "body".into(),
        code: "code_list.invalid",
        message: format!("the {name} list was not loaded: {e}; nothing was changed"),
    }
}

impl Hub {
    /// Checks and stores a code list (CSV), replacing the one loaded before. Villages need
    /// `state_code`, `district_code`, `sub_district_code`, `village_code` and
    /// `village_name`; schemes `scheme_code` and `scheme_name`; bank branches (`ifsc`) `ifsc`,
    /// with `bank` and `branch` if the file has them.
    pub async fn load_code_list(
        &self,
        name: &str,
        body: &str,
        actor: &str,
    ) -> HubResult<StoredCodeList> {
        let entries = match name {
            "villages" => LgdDirectory::from_csv(body.as_bytes())
                .map_err(|e| invalid(name, e))?
                .len(),
            "schemes" => SchemeCodeList::from_csv(body.as_bytes())
                .map_err(|e| invalid(name, e))?
                .len(),
            "ifsc" => IfscDirectory::from_csv(body.as_bytes())
                .map_err(|e| invalid(name, e))?
                .len(),
            _ => {
                return Err(HubError::NotFound(format!(
                    "code list {name:?}; the hub has {}",
                    CODE_LISTS.join(", ")
                )));
            }
        };
        if entries == 0 {
            return Err(invalid(name, "it has no rows"));
        }
        let list = StoredCodeList {
            name: name.to_owned(),
            body: body.to_owned(),
            entries: entries as u64,
            sha256: hex::encode(Sha256::digest(body.as_bytes())),
            loaded_by: actor.to_owned(),
            loaded_at: self.now(),
        };
        self.store.put_code_list(&list).await?;
        self.audit(
            actor,
            AuditEvent::CodeListLoaded {
                name: name.to_owned(),
                entries: list.entries,
                sha256: list.sha256.clone(),
            },
        )
        .await?;
        Ok(StoredCodeList {
            body: String::new(),
            ..list
        })
    }

    /// The loaded lists, without their bodies.
    pub async fn code_lists(&self) -> HubResult<Vec<StoredCodeList>> {
        Ok(self.store.code_lists().await?)
    }

    /// The lists uploads are checked against now, parsed once per version loaded.
    pub(crate) async fn loaded_code_lists(&self) -> HubResult<CodeLists> {
        let loaded = self.store.code_lists().await?;
        let sha = |name: &str| {
            loaded
                .iter()
                .find(|l| l.name == name)
                .map(|l| l.sha256.clone())
        };
        Ok(CodeLists {
            villages: self
                .parsed_list(
                    "villages",
                    sha("villages"),
                    |c| &mut c.villages,
                    |b| LgdDirectory::from_csv(b),
                )
                .await?,
            schemes: self
                .parsed_list(
                    "schemes",
                    sha("schemes"),
                    |c| &mut c.schemes,
                    |b| SchemeCodeList::from_csv(b),
                )
                .await?,
            ifsc: self
                .parsed_list(
                    "ifsc",
                    sha("ifsc"),
                    |c| &mut c.ifsc,
                    |b| IfscDirectory::from_csv(b),
                )
                .await?,
        })
    }

    /// The list `name` as loaded now (its body's checksum `sha`), from the cache `slot` when
    /// it holds that version, otherwise read from the store, parsed and cached.
    async fn parsed_list<T>(
        &self,
        name: &str,
        sha: Option<String>,
        slot: impl Fn(&mut CodeListCache) -> &mut Option<(String, Arc<T>)>,
        parse: impl Fn(&[u8]) -> Result<T, CodeListError>,
    ) -> HubResult<Option<Arc<T>>> {
        let Some(sha) = sha else {
            return Ok(None);
        };
        let cache = || {
            self.code_list_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some((cached, list)) = slot(&mut cache()).as_ref()
            && *cached == sha
        {
            return Ok(Some(list.clone()));
        }
        let Some(stored) = self.store.code_list(name).await? else {
            return Ok(None);
        };
        let list = Arc::new(parse(stored.body.as_bytes()).map_err(|e| {
            HubError::Internal(format!("the stored {name} list no longer parses: {e}"))
        })?);
        *slot(&mut cache()) = Some((stored.sha256, list.clone()));
        Ok(Some(list))
    }
}
