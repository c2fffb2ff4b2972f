//! Rebuilds the crate when a migration is added: `embed_migrations!` reads the folder when
//! the crate compiles, and cargo does not otherwise know to look at it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
