//! Tier 1: session tokens (HS256 JWTs), password hashes and login back-off.
//! The request guard that uses them lives with the routes (`web::guard`).

pub mod password;
pub mod throttle;

pub use password::hash_password;

use crate::base::config::Secret;
use crate::base::ids::UserId;
use crate::base::util::random_hex;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Issuer of session tokens; other token purposes would get their own.
pub const SESSION_ISSUER: &str = "broker-lite";
/// Longest token accepted; anything larger is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Claims of a session token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string (JWT `sub`).
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub iss: String,
}

impl Claims {
    /// The user the token is for, if `sub` is a user id.
    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok().map(UserId)
    }
}

/// Mints a session token for a user, valid for `ttl_secs`.
pub fn mint_token(
    secret: &Secret,
    user_id: UserId,
    ttl_secs: u64,
) -> anyhow::Result<(String, Claims)> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: user_id.to_string(),
        exp: now + ttl_secs,
        iat: now,
        jti: random_hex(16),
        iss: SESSION_ISSUER.into(),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )?;
    Ok((token, claims))
}

/// What checking session tokens needs, built once per server.
pub struct SessionKeys {
    key: DecodingKey,
    validation: Validation,
    /// Tells this server's verified tokens from another's in the cache.
    id: u64,
}

thread_local! {
    /// The token this thread verified last, with its keys' id and claims.
    /// A connection (one thread each) sends the same token request after
    /// request, and verifying its signature again proves nothing new; its
    /// expiry is checked on every use, and revocation is the database's,
    /// checked on every request.
    static LAST_VERIFIED: RefCell<Option<(u64, Box<str>, Claims)>> = const { RefCell::new(None) };
}

/// Equality that takes the same time wherever two tokens differ, so that
/// comparing a request's token with a verified one reveals nothing of it.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

impl SessionKeys {
    /// HS256 only, `exp`, `sub` and `iss` required, `exp` with no leeway.
    pub fn new(secret: &Secret) -> SessionKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[SESSION_ISSUER]);
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        SessionKeys {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Decodes a session token; oversized tokens are refused unread.
    pub fn decode(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        let cached = LAST_VERIFIED.with_borrow(|last| match last {
            Some((id, verified, claims)) if *id == self.id && same_token(verified, token) => {
                Some(claims.clone())
            }
            _ => None,
        });
        if let Some(claims) = cached {
            // As the full check does: expired once `exp` is past, no leeway.
            if claims.exp < jsonwebtoken::get_current_timestamp() {
                return Err(jsonwebtoken::errors::ErrorKind::ExpiredSignature.into());
            }
            return Ok(claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)?.claims;
        LAST_VERIFIED.set(Some((self.id, token.into(), claims.clone())));
        Ok(claims)
    }
}

/// Decodes a session token with a secret (see [`SessionKeys`]).
pub fn decode_token(secret: &Secret, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
    SessionKeys::new(secret).decode(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire_without_leeway() {
        let secret = Secret::new("k");
        let (token, claims) = mint_token(&secret, UserId(7), 60).unwrap();
        assert_eq!(
            decode_token(&secret, &token).unwrap().user_id(),
            Some(UserId(7))
        );
        assert_eq!(claims.iss, SESSION_ISSUER);
        let (expired, _) = mint_token(&secret, UserId(7), 0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(decode_token(&secret, &expired).is_err());
        assert!(decode_token(&Secret::new("other"), &token).is_err());
        assert!(decode_token(&secret, &"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires_and_stays_bound_to_its_keys() {
        let secret = Secret::new("k");
        let keys = SessionKeys::new(&secret);
        let (token, _) = mint_token(&secret, UserId(7), 1).unwrap();
        assert!(keys.decode(&token).is_ok());
        assert!(keys.decode(&token).is_ok(), "remembered");
        assert!(SessionKeys::new(&secret).decode(&token).is_ok());
        assert!(
            SessionKeys::new(&Secret::new("other"))
                .decode(&token)
                .is_err()
        );
        let mut tampered = token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keys.decode(&tampered).is_err());
        assert!(keys.decode(&token).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let err = keys.decode(&token).unwrap_err();
        assert_eq!(
            err.kind(),
            &jsonwebtoken::errors::ErrorKind::ExpiredSignature
        );
    }
}
