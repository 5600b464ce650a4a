//! The guard protected routes start with: the request's session token, its
//! user, and the submission the request names with the user's right to it.

use super::params::parse_submission_id;
use crate::access::{self, Access, CurrentUser};
use crate::base::error::AppError;
use crate::base::messages;
use crate::db::submissions::{Submission, find_submission};
use crate::db::users;
use crate::state::AppState;
use rouille::Request;
use rusqlite::Connection;

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
    let user_id = claims.user_id().ok_or(AppError::Unauthorized)?;
    let (user, affiliations) =
        users::find_session_user(conn, user_id, &claims.jti)?.ok_or_else(|| {
            log::debug!("session token refused: unknown user or revoked token");
            AppError::Unauthorized
        })?;
    Ok(CurrentUser {
        user,
        affiliations,
        claims,
    })
}

/// Loads the submission a request names and checks the user may access it,
/// in the broker's order: the id, the submission's existence, permission.
pub fn authorized_submission(
    conn: &Connection,
    user: &CurrentUser,
    raw_id: Option<&str>,
    access: Access,
) -> Result<Submission, AppError> {
    let submission_id = parse_submission_id(raw_id)?;
    let submission = find_submission(conn, submission_id)?
        .ok_or_else(|| AppError::bad_request(messages::NO_SUCH_SUBMISSION))?;
    if !access::can(user, &submission, access) {
        return Err(AppError::no_permission());
    }
    Ok(submission)
}
