//! Encryption keys: where they come from, how they are written, how a new one is made.
//!
//! A key is written `ID:BASE64` (an id of letters, digits, `.`, `_` or `-`, and 32 random bytes
//! in standard base64). `CART_CODEC_KEY` holds one or more, separated by commas or newlines;
//! `CART_CODEC_KEY_FILE` names a file with one per line, readable by its owner only. The first
//! key encrypts; all of them decrypt.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::Path;

#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<(String, Aes256Gcm)>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0:?} is not a key: write it as ID:BASE64, e.g. one made by `cart codec-key`")]
    Malformed(String),
    #[error("key {0:?} is not 32 bytes of base64")]
    BadKey(String),
    #[error("key id {0:?} appears twice")]
    Duplicate(String),
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the key file {0} can be read by others: make it readable by its owner only (chmod 600)"
    )]
    Exposed(String),
    #[error("the key file {0} holds no key")]
    Empty(String),
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_list().entries(self.ids()).finish()
    }
}

impl Keyring {
    /// Keys written one per line or separated by commas; blank lines and `#` comments skipped.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        for entry in text.split([',', '\n']).map(str::trim) {
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let (id, key) = entry
                .split_once(':')
                .filter(|(id, _)| valid_id(id))
                .ok_or_else(|| KeyError::Malformed(shown(entry)))?;
            let bytes = STANDARD
                .decode(key.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| KeyError::BadKey(id.to_owned()))?;
            if keys.iter().any(|(known, _)| known == id) {
                return Err(KeyError::Duplicate(id.to_owned()));
            }
            let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes));
            keys.push((id.to_owned(), cipher));
        }
        Ok(Self { keys })
    }

    /// The keys of this process: the key file when there is one (`CART_CODEC_KEY_FILE` or
    /// `--codec-key-file`, which must be private), else the keys written out in
    /// `CART_CODEC_KEY`, else none.
    pub fn load(file: Option<&Path>, written: Option<&str>) -> Result<Self, KeyError> {
        match (file, written) {
            (Some(path), _) => Self::from_file(path),
            (None, Some(text)) => Self::parse(text),
            (None, None) => Ok(Self::default()),
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let read = |source| KeyError::Read {
            path: shown.clone(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(read)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed(shown));
            }
        }
        let keys = Self::parse(&std::fs::read_to_string(path).map_err(read)?)?;
        if keys.is_empty() {
            return Err(KeyError::Empty(shown));
        }
        Ok(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key that encrypts: the first.
    pub fn current(&self) -> Option<(&str, &Aes256Gcm)> {
        self.keys.first().map(|(id, c)| (id.as_str(), c))
    }

    pub fn get(&self, id: &str) -> Option<&Aes256Gcm> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, c)| c)
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// A short fingerprint of each key, the one that encrypts first: what workers advertise
    /// and clients compare, so that a client never sends what the workers cannot read. It is
    /// the start of a fixed text encrypted with the key, which says nothing of the key.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|(_, cipher)| {
                let sealed = cipher
                    .encrypt(
                        Nonce::from_slice(&[0; 12]),
                        b"cart key fingerprint".as_slice(),
                    )
                    .unwrap_or_default();
                sealed.iter().take(6).map(|b| format!("{b:02x}")).collect()
            })
            .collect()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The start of a malformed entry, never a whole key.
fn shown(entry: &str) -> String {
    entry.chars().take(12).collect::<String>() + "…"
}

/// A new random key, written `ID:BASE64`.
pub fn generate_key(id: &str) -> String {
    let key = Aes256Gcm::generate_key(OsRng);
    format!("{id}:{}", STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_parsed_from_lines_or_commas_and_checked() {
        let (a, b) = (generate_key("2026-11"), generate_key("2026-10"));
        let ring = Keyring::parse(&format!("# newest first\n{a}\n\n{b}\n")).unwrap();
        assert_eq!(ring.ids(), ["2026-11", "2026-10"]);
        assert_eq!(ring.current().unwrap().0, "2026-11");
        let ring = Keyring::parse(&format!("{b},{a}")).unwrap();
        assert_eq!(ring.ids(), ["2026-10", "2026-11"]);
        assert!(format!("{ring:?}").contains("2026-10"));
        assert!(
            !format!("{ring:?}").contains(&a[8..]),
            "no key material in Debug"
        );
        for bad in [
            "nokey",
            "id:notbase64!",
            "id:c2hvcnQ=",
            "bad id:AAAA",
            ":AAAA",
        ] {
            assert!(Keyring::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Keyring::parse(&format!("{a},{a}")),
            Err(KeyError::Duplicate(_))
        ));
    }

    #[test]
    fn fingerprints_tell_keys_apart_and_stay_the_same() {
        let (a, b) = (generate_key("k1"), generate_key("k1"));
        let one = Keyring::parse(&a).unwrap().fingerprints();
        assert_eq!(one, Keyring::parse(&a).unwrap().fingerprints());
        assert_ne!(
            one,
            Keyring::parse(&b).unwrap().fingerprints(),
            "same id, other key"
        );
        assert_eq!(one[0].len(), 12);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, generate_key("k1")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Keyring::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Keyring::from_file(&path).unwrap().ids(), ["k1"]);
        let other = generate_key("k2");
        let ring = Keyring::load(Some(&path), Some(&other)).unwrap();
        assert_eq!(ring.ids(), ["k1"], "the file wins");
        assert_eq!(Keyring::load(None, Some(&other)).unwrap().ids(), ["k2"]);
        assert!(Keyring::load(None, None).unwrap().is_empty());
    }
}
