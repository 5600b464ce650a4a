//! The one error type handlers return, and its conversion to a response.

use super::messages;
use rouille::Response;

/// Fallback message for 500 answers; the cause is logged, never sent.
pub const INTERNAL_MESSAGE: &str = messages::INTERNAL_ERROR;

/// What a handler can fail with. Each variant maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{}", messages::LOGIN_REQUIRED)]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A 500 whose message the broker words itself (a data fault, not a bug).
    #[error("{0}")]
    DataFault(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        AppError::BadRequest(msg.into())
    }

    /// The 403 every permission check answers with.
    pub fn no_permission() -> Self {
        AppError::Forbidden(messages::NO_PERMISSION.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::MethodNotAllowed(_) => 405,
            AppError::PayloadTooLarge(_) => 413,
            AppError::DataFault(_) | AppError::Internal(_) => 500,
        }
    }

    /// The broker's error body, `{"message": ...}`. Internal causes are logged here.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Internal(cause) => {
                log::error!("internal error: {cause:#}");
                INTERNAL_MESSAGE.to_string()
            }
            AppError::DataFault(msg) => {
                log::error!("data fault: {msg}");
                msg.clone()
            }
            other => other.to_string(),
        };
        message_response(status, &message)
    }
}

/// A JSON `{"message": ...}` response with the given status.
pub fn message_response(status: u16, message: &str) -> Response {
    Response::json(&serde_json::json!({ "message": message })).with_status_code(status)
}

impl From<rusqlite::Error> for AppError {
    fn from(err: rusqlite::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> Self {
        AppError::Internal(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_status_code() {
        let cases = [
            (AppError::bad_request("x"), 400),
            (AppError::Unauthorized, 401),
            (AppError::no_permission(), 403),
            (AppError::NotFound("x".into()), 404),
            (AppError::MethodNotAllowed("x".into()), 405),
            (AppError::PayloadTooLarge("x".into()), 413),
            (AppError::DataFault("x".into()), 500),
            (AppError::Internal(anyhow::anyhow!("secret path /etc")), 500),
        ];
        for (err, code) in cases {
            assert_eq!(err.into_response().status_code, code);
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let resp = AppError::Internal(anyhow::anyhow!("/var/db/broker.db: SELECT")).into_response();
        let (mut body, _) = resp.data.into_reader_and_size();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut body, &mut text).unwrap();
        assert_eq!(text, r#"{"message":"An internal error occurred"}"#);
    }
}
