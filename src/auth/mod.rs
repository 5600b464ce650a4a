//! Session tokens (HS256 JWTs), passwords, and the guard protected routes
//! start with.

pub mod password;
pub mod throttle;

pub use password::hash_password;

use crate::app::AppState;
use crate::config::Secret;
use crate::db::users;
use crate::error::AppError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rouille::Request;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

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

/// Random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source does not fail on supported platforms.
    getrandom::fill(&mut buf).expect("the OS random source failed");
    hex::encode(buf)
}

/// Mints a session token for a user, valid for `ttl_secs`.
pub fn mint_token(
    secret: &Secret,
    user_id: i64,
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
}

impl SessionKeys {
    /// HS256 only, `exp`, `sub` and `iss` required, `exp` with no leeway.
    pub fn new(secret: &Secret) -> SessionKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[SESSION_ISSUER]);
        SessionKeys {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// Decodes a session token; oversized tokens are refused unread.
    pub fn decode(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims)
    }
}

/// Decodes a session token with a secret (see [`SessionKeys`]).
pub fn decode_token(secret: &Secret, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
    SessionKeys::new(secret).decode(token)
}

/// The token a request carries: `x-session-id`, else `Authorization: Bearer`.
pub fn request_token(req: &Request) -> Option<&str> {
    if let Some(token) = req
        .header("x-session-id")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Some(token);
    }
    let auth = req.header("Authorization")?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A logged-in user with their affiliations.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: users::User,
    pub affiliations: Vec<users::Affiliation>,
    pub claims: Claims,
}

/// Checks the request's token and loads its user; 401 otherwise. The reason
/// is logged at debug level, never the token.
pub fn require_user(req: &Request, st: &AppState) -> Result<CurrentUser, AppError> {
    // No token, no database: anonymous requests never wait for a connection.
    request_token(req).ok_or(AppError::Unauthorized)?;
    require_user_on(req, st, &*st.pool.get()?)
}

/// [`require_user`] on a connection the handler already holds.
pub fn require_user_on(
    req: &Request,
    st: &AppState,
    conn: &Connection,
) -> Result<CurrentUser, AppError> {
    let token = request_token(req).ok_or(AppError::Unauthorized)?;
    let claims = st.session_keys.decode(token).map_err(|e| {
        log::debug!("session token refused: {:?}", e.kind());
        AppError::Unauthorized
    })?;
    let user_id: i64 = claims.sub.parse().map_err(|_| AppError::Unauthorized)?;
    let user = users::find_session_user(conn, user_id, &claims.jti)?.ok_or_else(|| {
        log::debug!("session token refused: unknown user or revoked token");
        AppError::Unauthorized
    })?;
    let affiliations = users::find_affiliations(conn, user_id)?;
    Ok(CurrentUser {
        user,
        affiliations,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire_without_leeway() {
        let secret = Secret::new("k");
        let (token, claims) = mint_token(&secret, 7, 60).unwrap();
        assert_eq!(decode_token(&secret, &token).unwrap().sub, "7");
        assert_eq!(claims.iss, SESSION_ISSUER);
        let (expired, _) = mint_token(&secret, 7, 0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(decode_token(&secret, &expired).is_err());
        assert!(decode_token(&Secret::new("other"), &token).is_err());
        assert!(decode_token(&secret, &"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
