//! Local login and the session routes: `/v1/login/`, `/v1/logout/`,
//! `/v1/session/`, `/v1/active_user/`.

use super::guard::{request_token, require_user};
use super::params::read_params;
use crate::access::CurrentUser;
use crate::auth::{self, password::Verdict};
use crate::base::config::SESSION_TTL_SECS;
use crate::base::error::{AppError, message_response};
use crate::base::ids::UserId;
use crate::base::messages;
use crate::db::{tokens, users};
use crate::state::AppState;
use rouille::{Request, Response};
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

#[derive(Serialize)]
struct AffiliationView {
    agency_name: String,
    permission: &'static str,
}

/// The user fields of the login and active-user answers.
#[derive(Serialize)]
struct UserView {
    user_id: UserId,
    name: Option<String>,
    title: Option<String>,
    website_admin: bool,
    affiliations: Vec<AffiliationView>,
}

#[derive(Serialize)]
struct LoginResponse {
    message: &'static str,
    #[serde(flatten)]
    user: UserView,
    session_id: String,
}

/// The active user: the login fields with `skip_guide`, and the token the
/// request came with as `session_id`.
#[derive(Serialize)]
struct ActiveUserResponse<'a> {
    #[serde(flatten)]
    user: UserView,
    skip_guide: bool,
    session_id: &'a str,
}

fn user_view(user: &users::User, affiliations: &[users::Affiliation]) -> UserView {
    UserView {
        user_id: user.user_id,
        name: user.name.clone(),
        title: user.title.clone(),
        website_admin: user.website_admin,
        affiliations: affiliations
            .iter()
            .map(|a| AffiliationView {
                agency_name: a.agency_name.clone(),
                permission: a.permission.as_str(),
            })
            .collect(),
    }
}

fn string_field<'a>(
    params: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<&'a str, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Err(AppError::bad_request(messages::missing_field(name))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(AppError::bad_request(messages::not_a_string(name))),
    }
}

/// The broker's answer to any refused login.
const REFUSED: &str = messages::INVALID_LOGIN;

/// `POST /v1/login/`: checks the password and answers with a session token.
/// After repeated failures the account and the address are locked for a
/// while: a locked login is refused unread, with the broker's message.
pub fn login(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let params = read_params(req)?;
    let username = string_field(&params, "username")?;
    let password = string_field(&params, "password")?;
    let addr = req.remote_addr().ip();
    if let Err(wait) = st.login_throttle.check(username, addr, Instant::now()) {
        log::info!(
            "login refused: too many failures, locked for {} s",
            wait.as_secs_f64().ceil()
        );
        return Ok(message_response(401, REFUSED)
            .with_unique_header("Retry-After", wait.as_secs_f64().ceil().to_string()));
    }
    let conn = st.pool.get()?;
    let user = users::find_user_by_email(&conn, username.trim())?;
    // Hash checks take a while: do not hold a pooled connection meanwhile.
    drop(conn);
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verdict = st.passwords.verify(hash, password);
    if verdict == Verdict::Busy {
        return Ok(
            message_response(503, messages::LOGINS_BUSY).with_unique_header("Retry-After", "1")
        );
    }
    let Some(user) = user.filter(|_| verdict == Verdict::Match) else {
        st.login_throttle.failed(username, addr, Instant::now());
        return Ok(message_response(401, REFUSED));
    };
    st.login_throttle.succeeded(username, addr);
    let affiliations = users::find_affiliations(&*st.pool.get()?, user.user_id)?;
    let (token, _) = auth::mint_token(&st.config.secret, user.user_id, SESSION_TTL_SECS)?;
    let body = LoginResponse {
        message: messages::LOGIN_SUCCESSFUL,
        user: user_view(&user, &affiliations),
        session_id: token.clone(),
    };
    Ok(Response::json(&body).with_unique_header("x-session-id", token))
}

/// `POST /v1/logout/`: revokes the token the request carries, if any.
pub fn logout(req: &Request, st: &AppState) -> Result<Response, AppError> {
    if let Some(claims) = request_token(req).and_then(|t| st.session_keys.decode(t).ok()) {
        let now = jsonwebtoken::get_current_timestamp();
        tokens::revoke(&*st.pool.get()?, &claims.jti, claims.exp, now)?;
    }
    Ok(Response::json(
        &serde_json::json!({ "message": messages::LOGOUT_SUCCESSFUL }),
    ))
}

/// `GET /v1/session/`: whether the request carries a valid session.
pub fn session(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let status = match require_user(req, st) {
        Ok(_) => "True",
        Err(AppError::Unauthorized) => "False",
        Err(other) => return Err(other),
    };
    Ok(Response::json(&serde_json::json!({ "status": status })))
}

/// `GET /v1/active_user/`: the logged-in user, as the login answer shows it.
pub fn active_user(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let CurrentUser {
        user, affiliations, ..
    } = require_user(req, st)?;
    let body = ActiveUserResponse {
        user: user_view(&user, &affiliations),
        skip_guide: user.skip_guide,
        session_id: request_token(req).unwrap_or_default(),
    };
    Ok(Response::json(&body))
}
