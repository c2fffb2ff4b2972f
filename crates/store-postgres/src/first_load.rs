//! A load into an empty registry and vault (a first-time migration), which builds most of the
//! registry's and the vault's indexes once at its commit instead of row by row.
//!
//! Row by row, each index is an insert at a random place of a B-tree (reference keys and
//! blind indexes are random by design) and each foreign key a trigger that runs a query per
//! row; put back at the end, an index is built once from sorted rows and a foreign key is
//! checked by one join. Measured on a million-row first load, the vault's two unique indexes
//! and the residents' two cost about 11 s of the server's time row by row, against about
//! 4 s built at the commit.
//!
//! What a first load drops, under the tables' exclusive locks and inside its transaction (a
//! crash or a failure undoes the drops with the rest):
//! - the residents' foreign keys, and the non-unique indexes of households and residents;
//! - the unique keys of the vault (reference key, blind index) and of residents (resident id,
//!   reference key). The households' primary key stays: every chunk looks its cards up by it.
//!   A key that a table outside the registry references (enrolments, match reviews) is
//!   deferred only when those tables are empty too, since its foreign keys go with it.
//!
//! Nothing that judges a row is lost. Every row in these tables is the load's own, so a
//! lookup that would have found a row finds it in what the load remembers instead
//! ([`Remembered`]), which also spares the load most lookups of the keys that stay:
//! - the vault's blind index: the load keeps the first 8 bytes of every blind index it
//!   stored, so a batch none of whose blind indexes shares 8 bytes with one stored before (or
//!   with another of the batch) cannot repeat an ID number and is appended as it is; a batch
//!   that might (an ID number sent twice, or one chance in 10^19 a pair) goes the ordinary
//!   way, looked up through the index, which the first such batch builds there and then
//!   (later batches that cannot repeat a number are still appended as they are);
//! - a resident's reference key: `ref_keys_in_use` needs no lookup for keys the vault has
//!   just created (see `PgLoad::fresh_keys`); for any other key it builds the index first;
//! - card numbers (whose key stays): the load keeps a 64-bit hash of every card it inserted
//!   and the card numbers of its last batch, so a card whose hash it has not seen is not
//!   there, one of the last batch is, and only the rest (a card inserted several chunks
//!   before, or one hash in 10^19 that two cards share) is looked up;
//! - steps that look residents or vault entries up by a deferred key (changes to the
//!   registry, enrolments linked to residents) build the keys they use first.
//!
//! A unique key that a row breaks anyway (two rows with one resident id, say) fails the
//! commit with an error that names the key, and the whole load rolls back.
//!
//! The drops take the exclusive locks of households, residents and the vault (and of
//! enrolments and match reviews when their foreign keys go) until the load ends: readers of
//! those (empty) tables wait for the load instead of reading nothing. The tables are locked
//! first and found empty under the locks, so two loads that start together never both take
//! this path; a load into a registry that holds rows drops nothing and locks nothing more.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use deadpool_postgres::Object;
use sangam_store::blind_prefix::{PrefixSet, blind_prefix};
use sangam_store::{NewVaultEntry, StoreResult};

use crate::sql::{conflict_detail, get, map_err, query, query_one};

/// The unique keys a first load defers, as (table, column). Each is looked up during a load
/// only behind a guard (see the module comment), and rebuilt at the commit.
const DEFERRED_KEYS: [(&str, &str); 4] = [
    ("vault_entries", "ref_key"),
    ("vault_entries", "blind_index"),
    ("residents", "resident_id"),
    ("residents", "id_ref_key"),
];

/// The registry's tables a first load needs empty.
const REGISTRY: &str = "households, residents, vault_entries";

/// A unique key dropped until the commit.
struct DeferredKey {
    table: String,
    column: String,
    name: String,
    /// `PRIMARY KEY (ref_key)`, `UNIQUE (blind_index)`.
    definition: String,
}

impl DeferredKey {
    fn restore(&self) -> String {
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}",
            self.table,
            quote_ident(&self.name),
            self.definition
        )
    }

    /// Builds the key. A value found twice fails the load; the error names the key, and the
    /// value too unless it is a blind index (keyed from an ID number).
    async fn build(&self, c: &Object) -> StoreResult<()> {
        c.batch_execute(&self.restore()).await.map_err(|e| {
            if self.column == "blind_index" {
                map_err(e)
            } else {
                conflict_detail(table_name(&self.table))(e)
            }
        })
    }
}

/// The table's name as a `'static` str for error messages (the deferred tables only).
fn table_name(table: &str) -> &'static str {
    if table == "vault_entries" {
        "vault_entries"
    } else {
        "residents"
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What a first load dropped until its commit. It lives with the load's connection.
pub(crate) struct Deferred {
    /// Unique keys, rebuilt first at the commit (the foreign keys need them).
    keys: Vec<DeferredKey>,
    /// `CREATE INDEX` statements of the non-unique indexes.
    indexes: Vec<String>,
    /// `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY` statements, run last.
    foreign_keys: Vec<String>,
}

impl Deferred {
    /// A load that defers nothing (the registry held rows when it began).
    pub(crate) fn none() -> Self {
        Deferred {
            keys: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
        }
    }

    /// Inside the load's transaction: if the registry and the vault are empty, under their
    /// exclusive locks, drops what a first load defers, and returns it with what the load
    /// is to remember instead; `None` for a load into a registry that holds rows.
    pub(crate) async fn begin(c: &Object) -> StoreResult<Option<(Self, Remembered)>> {
        // A first look without locks: a load into a registry that holds rows takes none.
        if !empty(c, REGISTRY).await? {
            return Ok(None);
        }
        // Then under the locks, which a rollback to the savepoint releases.
        c.batch_execute(&format!(
            "SAVEPOINT first_load; LOCK TABLE {REGISTRY} IN ACCESS EXCLUSIVE MODE"
        ))
        .await
        .map_err(map_err)?;
        if !empty(c, REGISTRY).await? {
            c.batch_execute("ROLLBACK TO SAVEPOINT first_load; RELEASE SAVEPOINT first_load")
                .await
                .map_err(map_err)?;
            return Ok(None);
        }
        c.batch_execute("RELEASE SAVEPOINT first_load")
            .await
            .map_err(map_err)?;

        let mut load = Self::none();
        let mut remembered = Remembered::default();
        let mut drops = Vec::new();
        // The residents' own foreign keys.
        for row in query(
            c,
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'residents'::regclass AND contype = 'f' ORDER BY conname",
            &[],
        )
        .await?
        {
            let name: String = get("pg_constraint", &row, 0)?;
            let definition: String = get("pg_constraint", &row, 1)?;
            drops.push(format!(
                "ALTER TABLE residents DROP CONSTRAINT {}",
                quote_ident(&name)
            ));
            load.foreign_keys.push(format!(
                "ALTER TABLE residents ADD CONSTRAINT {} {definition}",
                quote_ident(&name)
            ));
        }

        // The unique keys, and the foreign keys of other tables that reference them.
        let mut keys = Vec::new();
        for row in query(
            c,
            "SELECT k.conrelid::regclass::text, a.attname::text, k.conname::text, \
             pg_get_constraintdef(k.oid) FROM pg_constraint AS k \
             JOIN pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
             WHERE k.conrelid IN ('vault_entries'::regclass, 'residents'::regclass) \
             AND k.contype IN ('p', 'u') AND cardinality(k.conkey) = 1 ORDER BY 1, 3",
            &[],
        )
        .await?
        {
            let key = DeferredKey {
                table: get("pg_constraint", &row, 0)?,
                column: get("pg_constraint", &row, 1)?,
                name: get("pg_constraint", &row, 2)?,
                definition: get("pg_constraint", &row, 3)?,
            };
            if DEFERRED_KEYS
                .iter()
                .any(|(t, col)| *t == key.table && *col == key.column)
            {
                keys.push(key);
            }
        }
        let outside = query(
            c,
            "SELECT f.conrelid::regclass::text, f.conname::text, pg_get_constraintdef(f.oid), \
             k.conname::text FROM pg_constraint AS f \
             JOIN pg_constraint AS k ON k.conindid = f.conindid AND k.contype IN ('p', 'u') \
             WHERE f.contype = 'f' \
             AND f.confrelid IN ('vault_entries'::regclass, 'residents'::regclass) \
             AND f.conrelid NOT IN ('households'::regclass, 'residents'::regclass, \
             'vault_entries'::regclass) ORDER BY 1, 2",
            &[],
        )
        .await?;
        let mut referencing: Vec<String> = Vec::new();
        let mut outside_keys: Vec<(String, String, String, String)> = Vec::new();
        for row in &outside {
            let table: String = get("pg_constraint", row, 0)?;
            if !referencing.contains(&table) {
                referencing.push(table.clone());
            }
            outside_keys.push((
                table,
                get("pg_constraint", row, 1)?,
                get("pg_constraint", row, 2)?,
                get("pg_constraint", row, 3)?,
            ));
        }
        // Keys other tables reference are deferred only if those tables are empty, under
        // their locks too; otherwise they stay, and so do those tables' foreign keys.
        let others_empty = referencing.is_empty() || {
            let tables = referencing.join(", ");
            c.batch_execute(&format!(
                "SAVEPOINT first_load_others; LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"
            ))
            .await
            .map_err(map_err)?;
            let others_empty = empty(c, &tables).await?;
            c.batch_execute(if others_empty {
                "RELEASE SAVEPOINT first_load_others"
            } else {
                "ROLLBACK TO SAVEPOINT first_load_others; RELEASE SAVEPOINT first_load_others"
            })
            .await
            .map_err(map_err)?;
            others_empty
        };
        for key in keys {
            let references: Vec<&(String, String, String, String)> =
                outside_keys.iter().filter(|o| o.3 == key.name).collect();
            if !references.is_empty() && !others_empty {
                continue;
            }
            for (table, name, definition, _) in references {
                drops.push(format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {}",
                    quote_ident(name)
                ));
                load.foreign_keys.push(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {} {definition}",
                    quote_ident(name)
                ));
            }
            drops.push(format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                key.table,
                quote_ident(&key.name)
            ));
            if key.column == "blind_index" {
                remembered.blind_prefixes = Some(PrefixSet::default());
            }
            load.keys.push(key);
        }

        // The non-unique indexes.
        for row in query(
            c,
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i \
             WHERE i.indrelid IN ('households'::regclass, 'residents'::regclass) \
             AND NOT i.indisunique ORDER BY 1",
            &[],
        )
        .await?
        {
            let name: String = get("pg_index", &row, 0)?;
            let definition: String = get("pg_index", &row, 1)?;
            drops.push(format!("DROP INDEX {name}"));
            load.indexes.push(definition);
        }
        c.batch_execute(&drops.join("; ")).await.map_err(map_err)?;
        Ok(Some((load, remembered)))
    }

    /// Builds now the deferred keys on these columns (of any table), if they are deferred,
    /// for a step that looks rows up by them.
    pub(crate) async fn build(&mut self, c: &Object, columns: &[&str]) -> StoreResult<()> {
        while let Some(i) = self
            .keys
            .iter()
            .position(|k| columns.contains(&k.column.as_str()))
        {
            let key = self.keys.remove(i);
            key.build(c).await?;
        }
        Ok(())
    }

    /// Before the commit: puts back everything, keys first (the foreign keys need them).
    pub(crate) async fn finish(&mut self, c: &Object) -> StoreResult<()> {
        for key in std::mem::take(&mut self.keys) {
            key.build(c).await?;
        }
        for statement in std::mem::take(&mut self.indexes)
            .iter()
            .chain(&std::mem::take(&mut self.foreign_keys))
        {
            c.batch_execute(statement).await.map_err(map_err)?;
        }
        Ok(())
    }
}

/// What a first load remembers of the rows it wrote, in place of lookups (see the module
/// comment). It lives with the load's caller, so that a step it answers needs no round trip
/// and does not wait for the writes queued before it.
#[derive(Default)]
pub(crate) struct Remembered {
    /// The first 8 bytes of every blind index the load stored (`None` if the blind index was
    /// not deferred).
    blind_prefixes: Option<PrefixSet>,
    /// A hash of every card number the load inserted a household for.
    cards: HashSet<u64>,
    /// The card numbers of the last batch of households inserted.
    last_cards: HashSet<String>,
    hasher: RandomState,
}

/// What [`Remembered`] knows of a card number.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Card {
    Absent,
    Present,
    /// To be looked up.
    Unsure,
}

impl Remembered {
    /// In a first load: whether no entry of the batch can repeat an ID number stored before
    /// or in the batch, so that the entries may be appended as they are. `false` means the
    /// batch must go the ordinary way, looked up through the blind index (built first if it
    /// is still deferred: see [`Deferred::build`]). Either way the batch's prefixes are
    /// remembered from here, since either way the vault then holds its numbers.
    pub(crate) fn unseen(&mut self, entries: &[NewVaultEntry]) -> bool {
        let Some(seen) = &mut self.blind_prefixes else {
            return false;
        };
        let mut batch = PrefixSet::with_capacity_and_hasher(entries.len(), Default::default());
        let mut clash = false;
        for e in entries {
            let prefix = blind_prefix(&e.blind_index);
            clash |= seen.contains(&prefix) || !batch.insert(prefix);
        }
        seen.extend(batch);
        !clash
    }

    /// Notes the households of a batch about to be inserted.
    pub(crate) fn inserted<'a>(&mut self, cards: impl Iterator<Item = &'a str>) {
        self.last_cards.clear();
        for card in cards {
            self.cards.insert(self.hasher.hash_one(card));
            self.last_cards.insert(card.to_owned());
        }
    }

    pub(crate) fn card(&self, card: &str) -> Card {
        if !self.cards.contains(&self.hasher.hash_one(card)) {
            Card::Absent
        } else if self.last_cards.contains(card) {
            Card::Present
        } else {
            Card::Unsure
        }
    }
}

/// Whether all of these tables (a list for SQL) are empty.
async fn empty(c: &Object, tables: &str) -> StoreResult<bool> {
    let checks: Vec<String> = tables
        .split(", ")
        .map(|t| format!("NOT EXISTS (SELECT 1 FROM {t})"))
        .collect();
    let row = query_one(c, &format!("SELECT {}", checks.join(" AND ")), &[]).await?;
    get("registry", &row, 0)
}
