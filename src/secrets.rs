//! Secrets come from the environment, never from config files. The admin
//! token is `SURGE_ADMIN_TOKEN`; without it, one is generated on first start
//! and kept in the data directory, readable by the owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Secrets handed to the application (tests pass them directly).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub admin_token: Option<String>,
}

impl Secrets {
    pub fn from_env() -> Self {
        Self {
            admin_token: std::env::var("SURGE_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty()),
        }
    }
}

/// Where the admin token came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// The admin token file inside a data directory.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin_token")
}

/// The admin token: from `secrets`, else the token file, else a new random
/// one written to the token file with mode 0600.
pub fn admin_token(secrets: &Secrets, data_dir: &Path) -> anyhow::Result<(String, TokenSource)> {
    if let Some(token) = &secrets.admin_token {
        return Ok((token.trim().to_owned(), TokenSource::Environment));
    }
    let path = token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((text.trim().to_owned(), TokenSource::File(path)))
        }
        Ok(_) => anyhow::bail!(
            "admin token file {} is empty; delete it to generate a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anyhow::bail!("reading admin token file {}: {e}", path.display()),
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the admin token: {e}"))?;
    let token = hex::encode(bytes);
    std::fs::create_dir_all(data_dir)?;
    let mut file = open_private(&path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok((token, TokenSource::Generated(path)))
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = admin_token(&Secrets::default(), dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert!(matches!(source, TokenSource::Generated(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = admin_token(&Secrets::default(), dir.path()).unwrap();
        assert_eq!(again, first);
        assert!(matches!(source, TokenSource::File(_)));
        let env = Secrets {
            admin_token: Some("from-env".into()),
        };
        assert_eq!(admin_token(&env, dir.path()).unwrap().0, "from-env");
    }
}
