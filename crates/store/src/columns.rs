//! Column lists in SQL text, the same for both backends.

/// `columns` (a comma-separated list) with each name prefixed by `alias.`, for a join that
/// reads one table's columns among another's: `qualified("a, b", "r")` is `r.a, r.b`.
pub fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_column_gets_the_alias() {
        assert_eq!(super::qualified("a, b,c", "r"), "r.a, r.b, r.c");
    }
}
