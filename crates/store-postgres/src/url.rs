//! Connection URLs: naming the server without the password, and pointing a URL at another
//! database.

use tokio_postgres::config::Host;

/// The server and database of a parsed configuration, as `host:port/dbname`, for messages.
pub(crate) fn describe(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(",")
    };
    let dbname = config
        .get_dbname()
        .or_else(|| config.get_user())
        .unwrap_or("");
    format!("{hosts}/{dbname}")
}

/// The scheme of a URL-form connection string, if it is one.
fn url_scheme(url: &str) -> Option<&'static str> {
    ["postgresql://", "postgres://"]
        .into_iter()
        .find(|s| url.starts_with(s))
}

/// Splits the rest of a URL after its scheme into authority (`user:pw@host:port`), path
/// and query (with its `?`).
fn split_url(rest: &str) -> (&str, &str, &str) {
    // User info ends at the last `@` before the path; a password may hold `/` or `?` only
    // percent-encoded, so the first `/` or `?` after it ends the authority.
    let search_from = rest
        .find(['/', '?'])
        .and_then(|end| rest[..end].rfind('@'))
        .or_else(|| rest.rfind('@'))
        .map_or(0, |at| at + 1);
    let authority_end = rest[search_from..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| search_from + i);
    let (authority, tail) = rest.split_at(authority_end);
    let (path, query) = match tail.find('?') {
        Some(q) => tail.split_at(q),
        None => (tail, ""),
    };
    (authority, path, query)
}

/// A connection string fit for messages: the user info and query (which may hold a
/// password) of a URL are left out; a `key=value` string is not shown at all.
pub(crate) fn redact(url: &str) -> String {
    match url_scheme(url) {
        Some(scheme) => {
            let (authority, path, _) = split_url(&url[scheme.len()..]);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}{host}{path}")
        }
        None => "(a key=value connection string, not shown)".to_owned(),
    }
}

/// Percent-encodes a database name for the path of a URL.
fn encode_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The same connection string, pointing at database `name` instead: the path of a URL is
/// replaced (or added), a `dbname` in its query is dropped; a `key=value` string gets a
/// `dbname` that overrides any earlier one.
pub fn with_database(url: &str, name: &str) -> String {
    match url_scheme(url) {
        Some(scheme) => {
            let (authority, _, query) = split_url(&url[scheme.len()..]);
            let params: Vec<&str> = query
                .trim_start_matches('?')
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
                .collect();
            let query = if params.is_empty() {
                String::new()
            } else {
                format!("?{}", params.join("&"))
            };
            format!("{scheme}{authority}/{}{query}", encode_path(name))
        }
        None => {
            let escaped = name.replace('\\', "\\\\").replace('\'', "\\'");
            let url = url.trim_end();
            if url.is_empty() {
                format!("dbname='{escaped}'")
            } else {
                format!("{url} dbname='{escaped}'")
            }
        }
    }
}

/// Quotes an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_adds_or_appends_the_name() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/fresh",
            ),
            (
                "postgres://postgres@127.0.0.1:5432",
                "postgres://postgres@127.0.0.1:5432/fresh",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/",
                "postgres://postgres@127.0.0.1:5432/fresh",
            ),
            (
                "postgresql://u:p%2Fw@db.example:6543/test?sslmode=disable&connect_timeout=2",
                "postgresql://u:p%2Fw@db.example:6543/fresh?sslmode=disable&connect_timeout=2",
            ),
            (
                "postgres://db.example?connect_timeout=2",
                "postgres://db.example/fresh?connect_timeout=2",
            ),
            (
                "postgres:///test?host=/var/run/postgresql&dbname=test",
                "postgres:///fresh?host=/var/run/postgresql",
            ),
            (
                "host=127.0.0.1 user=postgres dbname=test",
                "host=127.0.0.1 user=postgres dbname=test dbname='fresh'",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "fresh"), expected, "{url}");
        }
        assert_eq!(with_database("postgres://h/x", "a b"), "postgres://h/a%20b");
    }

    #[test]
    fn the_new_name_is_what_the_driver_reads() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test?connect_timeout=2",
            "postgres://postgres@127.0.0.1",
            "host=127.0.0.1 user=postgres dbname=test",
        ] {
            let config: tokio_postgres::Config =
                with_database(url, "sangam_x").parse().expect("parses");
            assert_eq!(config.get_dbname(), Some("sangam_x"), "{url}");
            assert_eq!(describe(&config), "127.0.0.1:5432/sangam_x");
        }
    }

    #[test]
    fn redaction_leaves_out_user_info_and_query() {
        assert_eq!(
            redact("postgres://u:s3cretpw@127.0.0.1:1/x?password=other"),
            "postgres://127.0.0.1:1/x"
        );
        assert!(!redact("host=h password=s3cretpw").contains("s3cretpw"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
