//! Request parameters as the broker checks them: the query string, JSON or
//! form bodies, and the typed parameters the routes share, in the broker's
//! order and with its messages.

use crate::base::domain::{AgencyType, FileFormat, FileType};
use crate::base::error::AppError;
use crate::base::ids::SubmissionId;
use crate::base::messages;
use crate::base::timefmt::parse_mdy_date;
use crate::files::spec::{FileSpec, spec};
use percent_encoding::percent_decode_str;
use rouille::Request;
use serde_json::{Map, Value};
use std::io::Read;
use time::Date;

/// Largest request body accepted (413 beyond it; the front end refuses a
/// larger declared body before reading it).
pub const MAX_BODY_BYTES: usize = crate::http::MAX_BODY_BYTES as usize;

/// Decoded query parameters, in order; the first of a repeated name wins.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Query {
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            raw.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    pub fn of(req: &Request) -> Query {
        Query::parse(req.raw_query_string())
    }

    /// A parameter's value; an empty value counts as missing.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`].
pub fn read_body(req: &Request) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::PayloadTooLarge(messages::BODY_TOO_LARGE.into());
    if let Some(length) = req
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        && length > MAX_BODY_BYTES as u64
    {
        return Err(too_large());
    }
    let Some(body) = req.data() else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    body.take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| AppError::bad_request("The request body could not be read"))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Request parameters from a JSON object body or a form body.
pub fn read_params(req: &Request) -> Result<Map<String, Value>, AppError> {
    let body = read_body(req)?;
    let is_form = req
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let text = std::str::from_utf8(&body)
            .map_err(|_| AppError::bad_request("The request body is not valid UTF-8"))?;
        let Query(pairs) = Query::parse(text);
        let mut map = serde_json::Map::new();
        for (name, value) in pairs {
            map.entry(name).or_insert(serde_json::Value::String(value));
        }
        return Ok(map);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(AppError::bad_request(
            "The request body must be a JSON object",
        )),
    }
}

/// `submission_id` as the broker checks it: required, then an integer that
/// names an existing submission.
pub fn parse_submission_id(raw: Option<&str>) -> Result<SubmissionId, AppError> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let raw = raw.ok_or_else(|| AppError::bad_request(messages::SUBMISSION_ID_REQUIRED))?;
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_request(messages::SUBMISSION_ID_NOT_INTEGER));
    }
    // Negative and out-of-range ids cannot name a submission.
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .map(SubmissionId)
        .ok_or_else(|| AppError::bad_request(messages::NO_SUCH_SUBMISSION))
}

/// `file_type`: required, one of the types `offered` picks from the specs
/// (else `invalid`, the route's own message listing them).
pub fn file_type_param(
    raw: Option<&str>,
    offered: fn(&FileSpec) -> bool,
    invalid: &str,
) -> Result<FileType, AppError> {
    let raw = raw.ok_or_else(|| AppError::bad_request(messages::FILE_TYPE_MISSING))?;
    FileType::parse(raw)
        .filter(|t| offered(spec(*t)))
        .ok_or_else(|| AppError::bad_request(invalid))
}

/// A JSON parameter that must be a string: `None` when absent or null, and
/// `Some("")` (never valid) for any other type.
pub fn json_str<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    match params.get(name)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        _ => Some(""),
    }
}

/// A request parameter as text: strings as they are, numbers as written.
pub fn param_text(params: &Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An optional integer parameter (a JSON integer, or text of one, as the
/// broker's schema takes it); `message` when it is anything else.
pub fn int_param(
    params: &Map<String, Value>,
    name: &str,
    message: &str,
) -> Result<Option<i64>, AppError> {
    let bad = || AppError::bad_request(message);
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(f as i64)),
            _ => Err(bad()),
        },
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// An optional `MM/DD/YYYY` date parameter.
pub fn date_param(params: &Map<String, Value>, name: &str) -> Result<Option<Date>, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_mdy_date(s)
            .map(Some)
            .ok_or_else(|| AppError::bad_request(messages::date_format_invalid(name))),
        Some(_) => Err(AppError::bad_request(messages::date_format_invalid(name))),
    }
}

/// An optional enum parameter with the broker's "if provided" message.
pub fn choice_param<T>(
    params: &Map<String, Value>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    default: T,
    message: &str,
) -> Result<T, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => parse(s).ok_or_else(|| AppError::bad_request(message)),
        Some(_) => Err(AppError::bad_request(message)),
    }
}

/// The date-range parameters shared by the submission and detached routes,
/// in the broker's order: dates, agency type, file format.
pub struct DateAndFormat {
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub agency_type: AgencyType,
    pub file_format: FileFormat,
}

pub fn date_and_format(params: &Map<String, Value>) -> Result<DateAndFormat, AppError> {
    Ok(DateAndFormat {
        start: date_param(params, "start")?,
        end: date_param(params, "end")?,
        agency_type: choice_param(
            params,
            "agency_type",
            AgencyType::parse,
            AgencyType::Awarding,
            messages::AGENCY_TYPE_INVALID,
        )?,
        file_format: choice_param(
            params,
            "file_format",
            FileFormat::parse,
            FileFormat::Csv,
            messages::FILE_FORMAT_INVALID,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded_and_first_wins() {
        let q = Query::parse("a=1&b=x%20y+z&a=2&c=&d");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y z"));
        assert_eq!(q.get("c"), None);
        assert_eq!(q.get("d"), None);
    }

    #[test]
    fn submission_ids_are_checked_like_the_broker() {
        let msg = |r: Result<SubmissionId, AppError>| r.unwrap_err().to_string();
        assert_eq!(parse_submission_id(Some("12")).unwrap(), SubmissionId(12));
        assert_eq!(msg(parse_submission_id(None)), "submission_id is required");
        assert_eq!(msg(parse_submission_id(Some("-3"))), "No such submission");
        assert_eq!(
            msg(parse_submission_id(Some("99999999999999999999"))),
            "No such submission"
        );
        assert_eq!(
            msg(parse_submission_id(Some("1e3"))),
            "submission_id: Not a valid integer."
        );
    }
}
