//! Layered configuration: built-in defaults, then a TOML file, then `SANGAM_*` environment
//! variables, then command-line flags. Any secret can instead be read from a file named by the
//! matching `*_file` setting (`SANGAM_MASTER_KEY_FILE`, `SANGAM_DATABASE_URL_FILE`), which is
//! how container secrets are mounted. Secrets never appear in Debug output or logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use sangam_hub::bootstrap::{MASTER_KEY_FILE, MasterKeySource, StoreLocation};
use sangam_vault::MasterKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The default data directory, relative to where the hub starts.
pub const DEFAULT_DATA_DIR: &str = "sangam-data";

/// A commented example configuration; `sangam config default` prints it.
pub const EXAMPLE: &str = r#"# Sangam configuration. Every setting can also be given as an environment variable
# (SANGAM_ and the name in capitals, e.g. SANGAM_LISTEN) or as a command-line flag; flags win
# over the environment, which wins over this file, which wins over the defaults shown here.

# Where the embedded store (SQLite) and, by default, the master key file live.
data_dir = "sangam-data"

# Address the HTTP API listens on.
listen = "127.0.0.1:8080"

# PostgreSQL instead of the embedded store. The URL may hold a password, so prefer
# database_url_file (or SANGAM_DATABASE_URL_FILE) pointing at a file that holds the URL.
# database_url = "postgres://sangam@127.0.0.1:5432/sangam"
# database_url_file = "/run/secrets/sangam-database-url"

# The master key that wraps the vault's data keys. By default it is the file master.key in
# data_dir, created with mode 0600 on first start. Give it instead as a file (recommended for
# production: keep it off the database host's backups) or, least preferred, inline.
# master_key_file = "/run/secrets/sangam-master-key"
# master_key = "base64url-encoded 32 bytes"

# Log level (error, warn, info, debug, trace, or a tracing filter) and format (text or json).
log_level = "info"
log_format = "text"

# Linking scheme records to residents: a match probability at or above link_at links the
# record; from review_at up to it, a reviewer decides; below, the record is "not found in
# base data". Lower link_at for fewer reviews and more wrong links.
link_at = 0.9
review_at = 0.5

# Days the rejected rows of an upload are kept after it finished, for its officers to fix and
# send again (1 to 3650). They hold what the department typed, ID and bank numbers included;
# after this a daily job deletes them, and the upload keeps only its counts.
rejections_retention_days = 90

# Reverse proxies (addresses or CIDR blocks) in front of the hub. A consuming application's
# address, checked against its IP allow-list, is the TCP peer's unless the peer is one of
# these; then it is the rightmost address in X-Forwarded-For that is not a trusted proxy.
# Leave empty when clients connect directly: otherwise a client could forge its address.
trusted_proxies = []
"#;

/// The hub's settings after every layer is applied.
#[derive(Deserialize, Serialize)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    #[serde(default, skip_serializing)]
    pub database_url: Option<SecretString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url_file: Option<PathBuf>,
    #[serde(default, skip_serializing)]
    pub master_key: Option<SecretString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub link_at: f64,
    pub review_at: f64,
    /// Signed, so that a negative value is refused by the hub's own check, which names the
    /// setting and its range, rather than by the parser.
    pub rejections_retention_days: i64,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            database_url_file: None,
            master_key: None,
            master_key_file: None,
            log_level: "info".into(),
            log_format: LogFormat::Text,
            link_at: sangam_hub::linking::LinkPolicy::default().link_at,
            review_at: sangam_hub::linking::LinkPolicy::default().review_at,
            rejections_retention_days: i64::from(
                sangam_hub::uploads::retention::DEFAULT_REJECTIONS_RETENTION_DAYS,
            ),
            trusted_proxies: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<SecretString>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &redacted(&self.database_url))
            .field("database_url_file", &self.database_url_file)
            .field("master_key", &redacted(&self.master_key))
            .field("master_key_file", &self.master_key_file)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("link_at", &self.link_at)
            .field("review_at", &self.review_at)
            .field("rejections_retention_days", &self.rejections_retention_days)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// Values given as flags; only those present override the other layers.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

fn read_secret_file(path: &Path, what: &str) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    Ok(SecretString::from(text.trim().to_owned()))
}

impl Settings {
    /// Applies the layers: defaults, the TOML file (if given), the environment, the flags.
    pub fn load(config_file: Option<&Path>, flags: FlagOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            if !path.exists() {
                bail!("the configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        // A flag wins over every other layer, including a secret file set in another layer.
        let url_flag = flags.database_url.is_some();
        let mut settings: Settings = figment
            .merge(Env::prefixed("SANGAM_").ignore(&["config", "test_database_url", "log"]))
            .merge(Serialized::globals(flags))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        if url_flag {
            settings.database_url_file = None;
        }
        Ok(settings)
    }

    /// Where the data lives: PostgreSQL when a URL is configured, the embedded store otherwise.
    pub fn store_location(&self) -> anyhow::Result<StoreLocation> {
        let url = match (&self.database_url, &self.database_url_file) {
            (Some(_), Some(_)) => bail!("set database_url or database_url_file, not both"),
            (Some(url), None) => Some(url.clone()),
            (None, Some(path)) => Some(read_secret_file(path, "database URL")?),
            (None, None) => None,
        };
        Ok(match url {
            Some(url) if !url.expose_secret().is_empty() => {
                StoreLocation::Postgres(url.expose_secret().to_owned())
            }
            _ => StoreLocation::Sqlite(self.data_dir.clone()),
        })
    }

    /// Where the master key comes from.
    pub fn master_key_source(&self) -> anyhow::Result<MasterKeySource> {
        Ok(match (&self.master_key, &self.master_key_file) {
            (Some(_), Some(_)) => bail!("set master_key or master_key_file, not both"),
            (Some(key), None) => MasterKeySource::Inline {
                key: MasterKey::from_encoded(key.expose_secret(), "given in master_key")?,
            },
            (None, Some(path)) => MasterKeySource::File {
                path: path.clone(),
                create: false,
            },
            (None, None) => MasterKeySource::File {
                path: self.data_dir.join(MASTER_KEY_FILE),
                create: true,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_printed_example_is_valid_and_matches_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sangam.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let from_file = Settings::load(Some(&path), FlagOverrides::default()).unwrap();
        let defaults = Settings::default();
        assert_eq!(from_file.listen, defaults.listen);
        assert_eq!(from_file.data_dir, defaults.data_dir);
        assert_eq!(from_file.log_format, defaults.log_format);
        assert_eq!(
            (from_file.link_at, from_file.review_at),
            (defaults.link_at, defaults.review_at)
        );
        assert_eq!(
            from_file.rejections_retention_days,
            defaults.rejections_retention_days
        );
        assert_eq!(defaults.rejections_retention_days, 90);
    }

    #[test]
    fn the_retention_of_rejected_rows_comes_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sangam.toml");
        std::fs::write(&path, "rejections_retention_days = 30\n").unwrap();
        let settings = Settings::load(Some(&path), FlagOverrides::default()).unwrap();
        assert_eq!(settings.rejections_retention_days, 30);
        // A negative value reaches the hub's check, which refuses it by name.
        std::fs::write(&path, "rejections_retention_days = -5\n").unwrap();
        let settings = Settings::load(Some(&path), FlagOverrides::default()).unwrap();
        assert_eq!(settings.rejections_retention_days, -5);
        let refused = sangam_hub::uploads::retention::RetentionPolicy::new(
            settings.rejections_retention_days,
        )
        .unwrap_err();
        assert!(
            refused.to_string().contains("rejections_retention_days"),
            "{refused}"
        );
        // Not a number at all: the parser names the setting.
        std::fs::write(&path, "rejections_retention_days = \"ninety\"\n").unwrap();
        let err = Settings::load(Some(&path), FlagOverrides::default()).unwrap_err();
        assert!(
            err.to_string().contains("rejections_retention_days"),
            "{err}"
        );
    }

    #[test]
    fn flags_override_the_file_and_secrets_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sangam.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndatabase_url = \"postgres://u:hunter2hunter2@db/x\"\n",
        )
        .unwrap();
        let flags = FlagOverrides {
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            ..Default::default()
        };
        let settings = Settings::load(Some(&path), flags).unwrap();
        assert_eq!(settings.listen.port(), 9001);
        assert!(matches!(
            settings.store_location().unwrap(),
            StoreLocation::Postgres(_)
        ));
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn a_database_url_flag_wins_over_a_url_file_from_another_layer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sangam.toml");
        std::fs::write(&path, "database_url_file = \"/run/secrets/url\"\n").unwrap();
        let flags = FlagOverrides {
            database_url: Some("postgres://postgres@127.0.0.1/flag".into()),
            ..Default::default()
        };
        let settings = Settings::load(Some(&path), flags).unwrap();
        assert_eq!(
            settings.store_location().unwrap(),
            StoreLocation::Postgres("postgres://postgres@127.0.0.1/flag".into())
        );
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("url");
        std::fs::write(&url_file, "postgres://postgres@127.0.0.1/test\n").unwrap();
        let settings = Settings {
            database_url_file: Some(url_file),
            master_key_file: Some(dir.path().join("key")),
            ..Settings::default()
        };
        assert_eq!(
            settings.store_location().unwrap(),
            StoreLocation::Postgres("postgres://postgres@127.0.0.1/test".into())
        );
        assert!(matches!(
            settings.master_key_source().unwrap(),
            MasterKeySource::File { create: false, .. }
        ));
    }

    #[test]
    fn a_missing_config_file_is_named() {
        let err = Settings::load(
            Some(Path::new("/nonexistent/sangam.toml")),
            FlagOverrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/sangam.toml"));
    }
}
