//! HMAC-signed, expiring links to local files.
//!
//! The signature is the lowercase hex HMAC-SHA256 of `{key}\n{expires}` under
//! a link key derived from the secret (HMAC-SHA256 of `broker-lite links`
//! keyed with the secret's bytes), so other tools holding the secret can mint
//! and check links.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks local download links.
#[derive(Clone)]
pub struct LinkSigner {
    link_key: [u8; 32],
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Missing, malformed or wrong signature or expiry.
    BadSignature,
    /// The link was valid but its time is up.
    Expired,
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC accepts any key length")
}

impl LinkSigner {
    pub fn new(secret: &str) -> Self {
        let mut derive = mac(secret.as_bytes());
        derive.update(b"broker-lite links");
        LinkSigner {
            link_key: derive.finalize().into_bytes().into(),
        }
    }

    fn message_mac(&self, key: &str, expires: u64) -> HmacSha256 {
        let mut m = mac(&self.link_key);
        m.update(key.as_bytes());
        m.update(b"\n");
        m.update(expires.to_string().as_bytes());
        m
    }

    /// Lowercase hex signature of a key and expiry.
    pub fn sign(&self, key: &str, expires: u64) -> String {
        hex::encode(self.message_mac(key, expires).finalize().into_bytes())
    }

    /// Checks a link's parameters in constant time, then its expiry.
    pub fn verify(
        &self,
        key: &str,
        expires: &str,
        signature: &str,
        now: u64,
    ) -> Result<(), LinkError> {
        let expires_at: u64 = expires
            .parse()
            .ok()
            .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()) && expires.len() <= 20)
            .ok_or(LinkError::BadSignature)?;
        let lowercase_hex = signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let given = (signature.len() == 64 && lowercase_hex)
            .then(|| hex::decode(signature).ok())
            .flatten()
            .ok_or(LinkError::BadSignature)?;
        self.message_mac(key, expires_at)
            .verify_slice(&given)
            .map_err(|_| LinkError::BadSignature)?;
        if expires_at < now {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_computation() {
        // python3: k = hmac.new(b"s3cret", b"broker-lite links", sha256).digest();
        //          hmac.new(k, b"12/file.csv\n1700000000", sha256).hexdigest()
        let signer = LinkSigner::new("s3cret");
        assert_eq!(
            signer.sign("12/file.csv", 1_700_000_000),
            "957995332fe2375f6b18544f159d984519ef64079bed97e6bdb3ca08b5754558"
        );
    }

    #[test]
    fn verify_accepts_its_own_links_and_refuses_changes() {
        let signer = LinkSigner::new("s3cret");
        let sig = signer.sign("1/a.csv", 2000);
        assert_eq!(signer.verify("1/a.csv", "2000", &sig, 1000), Ok(()));
        assert_eq!(
            signer.verify("1/a.csv", "2000", &sig, 2001),
            Err(LinkError::Expired)
        );
        assert_eq!(
            signer.verify("1/b.csv", "2000", &sig, 1000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify("1/a.csv", "2001", &sig, 1000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify("1/a.csv", "+2000", &sig, 1000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify("1/a.csv", "2000", &sig.to_uppercase(), 1000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify("1/a.csv", "2000", "zz", 1000),
            Err(LinkError::BadSignature)
        );
        let other = LinkSigner::new("other");
        assert_eq!(
            other.verify("1/a.csv", "2000", &sig, 1000),
            Err(LinkError::BadSignature)
        );
    }
}
