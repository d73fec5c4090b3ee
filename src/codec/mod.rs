//! Encrypted payloads: a Temporal payload codec that encrypts every payload `cart` sends (cart
//! contents, e-mail addresses, payment methods, receipts) with AES-256-GCM before it reaches the
//! Temporal server, and decrypts what it receives.
//!
//! An encrypted payload carries, in the clear, only `encoding: binary/encrypted` and the id of
//! its key (`encryption-key-id`), as Temporal's own encryption samples do; its data is a random
//! 96-bit nonce followed by the encrypted original payload (metadata and data, as protobuf), so
//! not even the original encoding shows. Payloads without that encoding (the tutorial's own
//! clients, `temporal workflow signal`) pass through unchanged.
//!
//! Keys come from a [`Keyring`]: the first key encrypts, every key decrypts, so a new key is
//! rolled out by putting it first and old payloads stay readable while the old key is kept.

mod keys;
pub mod server;

pub use keys::{KeyError, Keyring, generate_key};

/// How a worker advertises its keys' fingerprints in its identity, which clients see in the
/// task queue's pollers: `… keys=ab12cd34ef56,0a1b2c3d4e5f` (the encrypting key first), or
/// `keys=none`.
pub fn identity(fingerprints: &[String]) -> String {
    let keys = if fingerprints.is_empty() {
        "none".to_owned()
    } else {
        fingerprints.join(",")
    };
    format!("cart-worker-{} keys={keys}", std::process::id())
}

/// The fingerprints a worker's identity advertises; `None` for a worker that says nothing
/// (not a `cart` worker of this version).
pub fn advertised(identity: &str) -> Option<Vec<String>> {
    let keys = identity.rsplit_once(" keys=")?.1;
    Some(if keys == "none" {
        Vec::new()
    } else {
        keys.split(',').map(str::to_owned).collect()
    })
}

use aes_gcm::aead::{Aead, AeadCore, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use futures::future::BoxFuture;
use prost::Message;
use std::sync::Arc;
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// The `encoding` of an encrypted payload.
pub const ENCRYPTED: &[u8] = b"binary/encrypted";
/// The metadata key naming the key that encrypted a payload.
pub const KEY_ID: &str = "encryption-key-id";
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(
        "this data is encrypted with key {0:?}, which is not among the keys given here (CART_CODEC_KEY or CART_CODEC_KEY_FILE)"
    )]
    UnknownKey(String),
    #[error(
        "this data could not be decrypted with key {0:?}: the key given here under that id is not the one the data was encrypted with"
    )]
    WrongKey(String),
    #[error(
        "this data is encrypted, and no key is given here: set CART_CODEC_KEY or CART_CODEC_KEY_FILE"
    )]
    NoKey,
    #[error("an encrypted payload is damaged: {0}")]
    Damaged(String),
}

/// The codec: encrypts with the keyring's first key, decrypts with any of its keys. Without
/// keys it encrypts nothing, and refuses encrypted payloads with a clear error.
#[derive(Clone, Default)]
pub struct EncryptionCodec {
    keys: Arc<Keyring>,
}

impl EncryptionCodec {
    pub fn new(keys: Keyring) -> Self {
        Self {
            keys: Arc::new(keys),
        }
    }

    pub fn encrypts(&self) -> bool {
        self.keys.current().is_some()
    }

    /// The ids of its keys, the one that encrypts first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.ids()
    }

    /// The fingerprints of its keys, the one that encrypts first (see `Keyring::fingerprints`).
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.fingerprints()
    }

    /// One payload encrypted with the current key, or unchanged without one.
    pub fn encode_one(&self, payload: Payload) -> Result<Payload, CodecError> {
        let Some((id, cipher)) = self.keys.current() else {
            return Ok(payload);
        };
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, payload.encode_to_vec().as_slice())
            .map_err(|e| CodecError::Damaged(e.to_string()))?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        Ok(Payload {
            metadata: [
                ("encoding".to_owned(), ENCRYPTED.to_vec()),
                (KEY_ID.to_owned(), id.as_bytes().to_vec()),
            ]
            .into(),
            data,
            external_payloads: Vec::new(),
        })
    }

    /// One payload decrypted, or unchanged when it is not encrypted.
    pub fn decode_one(&self, payload: Payload) -> Result<Payload, CodecError> {
        if payload.metadata.get("encoding").map(Vec::as_slice) != Some(ENCRYPTED) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID)
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .unwrap_or_default();
        let cipher = match self.keys.get(&id) {
            Some(cipher) => cipher,
            None if self.keys.is_empty() => return Err(CodecError::NoKey),
            None => return Err(CodecError::UnknownKey(id)),
        };
        if payload.data.len() < NONCE_BYTES {
            return Err(CodecError::Damaged("it is too short".into()));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_BYTES);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CodecError::WrongKey(id))?;
        Payload::decode(plain.as_slice()).map_err(|e| CodecError::Damaged(e.to_string()))
    }

    /// The data converter every Temporal client and worker of `cart` uses.
    pub fn data_converter(&self) -> DataConverter {
        DataConverter::new(
            PayloadConverter::default(),
            DefaultFailureConverter::default(),
            self.clone(),
        )
    }
}

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        each(payloads, |p| self.encode_one(p))
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        each(payloads, |p| self.decode_one(p))
    }
}

/// Converts every payload, at once (the work is in memory); the first failure fails them all.
fn each(
    payloads: Vec<Payload>,
    one: impl Fn(Payload) -> Result<Payload, CodecError>,
) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
    let result = payloads
        .into_iter()
        .map(|p| one(p).map_err(|e| PayloadConversionError::EncodingError(Box::new(e))))
        .collect();
    Box::pin(std::future::ready(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: text.as_bytes().to_vec(),
            external_payloads: Vec::new(),
        }
    }

    fn ring(lines: &str) -> Keyring {
        Keyring::parse(lines).unwrap()
    }

    #[test]
    fn a_payload_is_sealed_and_opened_and_shows_only_its_key_id() {
        let key = generate_key("k1");
        let codec = EncryptionCodec::new(ring(&key));
        let plain = json(r#"{"email":"ann@example.com"}"#);
        let sealed = codec.encode_one(plain.clone()).unwrap();
        assert_eq!(sealed.metadata["encoding"], ENCRYPTED);
        assert_eq!(sealed.metadata[KEY_ID], b"k1");
        assert_eq!(sealed.metadata.len(), 2);
        let text = String::from_utf8_lossy(&sealed.data);
        assert!(!text.contains("ann@example.com") && !text.contains("json"));
        assert_eq!(codec.decode_one(sealed.clone()).unwrap(), plain);
        // The nonce is fresh each time: the same payload never seals the same way.
        assert_ne!(codec.encode_one(plain).unwrap().data, sealed.data);
    }

    #[test]
    fn rotation_decodes_with_any_key_and_encodes_with_the_newest() {
        let (old, new) = (generate_key("k1"), generate_key("k2"));
        let before = EncryptionCodec::new(ring(&old));
        let sealed_before = before.encode_one(json("1")).unwrap();
        let after = EncryptionCodec::new(ring(&format!("{new}\n{old}\n")));
        assert_eq!(after.decode_one(sealed_before).unwrap(), json("1"));
        assert_eq!(after.encode_one(json("2")).unwrap().metadata[KEY_ID], b"k2");
    }

    #[test]
    fn unencrypted_payloads_pass_and_a_wrong_or_missing_key_says_so() {
        let codec = EncryptionCodec::new(ring(&generate_key("k1")));
        assert_eq!(codec.decode_one(json("{}")).unwrap(), json("{}"));
        let sealed = codec.encode_one(json("{}")).unwrap();
        let other = EncryptionCodec::new(ring(&generate_key("k9")));
        let err = other.decode_one(sealed.clone()).unwrap_err().to_string();
        assert!(
            err.contains("encrypted with key \"k1\", which is not among"),
            "{err}"
        );
        let impostor = EncryptionCodec::new(ring(&generate_key("k1")));
        let err = impostor.decode_one(sealed.clone()).unwrap_err().to_string();
        assert!(
            err.contains("not the one the data was encrypted with"),
            "{err}"
        );
        let none = EncryptionCodec::default();
        assert!(!none.encrypts());
        assert_eq!(none.encode_one(json("{}")).unwrap(), json("{}"));
        let err = none.decode_one(sealed).unwrap_err().to_string();
        assert!(err.contains("no key is given here"), "{err}");
    }
}
