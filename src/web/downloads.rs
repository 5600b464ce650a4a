//! `GET /v1/files/{key}`: downloads of local files through signed links.

use super::params::Query;
use crate::base::error::AppError;
use crate::state::AppState;
use crate::storage::is_safe_key;
use crate::storage::links::LinkError;
use percent_encoding::percent_decode_str;
use rouille::{Request, Response, ResponseBody};

fn forbidden(message: &str) -> AppError {
    AppError::Forbidden(message.into())
}

fn not_found() -> AppError {
    AppError::NotFound("File not found".into())
}

/// Content type of a generated file, by its extension.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// `raw_key` is the path after `/v1/files/`, still percent-encoded.
pub fn download(req: &Request, st: &AppState, raw_key: &str) -> Result<Response, AppError> {
    let Some(store) = st.local.as_ref() else {
        return Err(not_found());
    };
    let key = percent_decode_str(raw_key)
        .decode_utf8()
        .map_err(|_| forbidden("Invalid file path"))?;
    if !is_safe_key(&key) {
        return Err(forbidden("Invalid file path"));
    }
    let query = Query::of(req);
    let (Some(expires), Some(signature)) = (query.get("expires"), query.get("signature")) else {
        return Err(forbidden("Missing link signature"));
    };
    match store.check_link(&key, expires, signature) {
        Ok(()) => {}
        Err(LinkError::BadSignature) => return Err(forbidden("Invalid link signature")),
        Err(LinkError::Expired) => return Err(forbidden("This link has expired")),
    }
    let (file, size) = store
        .open(&key)
        .map_err(anyhow::Error::from)?
        .ok_or_else(not_found)?;
    let name: String = key
        .rsplit('/')
        .next()
        .unwrap_or("file")
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let size = usize::try_from(size).map_err(anyhow::Error::from)?;
    Ok(Response {
        status_code: 200,
        headers: vec![
            ("Content-Type".into(), content_type(&key).into()),
            (
                "Content-Disposition".into(),
                format!("attachment; filename=\"{name}\"").into(),
            ),
            ("Cache-Control".into(), "no-store".into()),
        ],
        data: ResponseBody::from_reader_and_size(file, size),
        upgrade: None,
    })
}
