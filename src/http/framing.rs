//! What a request head says about the bytes that follow it, checked strictly
//! (RFC 9112 §6): one valid Content-Length or `Transfer-Encoding: chunked`,
//! never both, nothing else. Anything ambiguous is refused and the connection
//! closed, so no byte of a request can be read as the start of another.

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    Chunked,
}

/// What the head of a request asks for, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub body: Body,
    /// The client asked to keep the connection open (HTTP/1.1 default).
    pub keep_alive: bool,
    /// `Expect: 100-continue`: say so before reading the body.
    pub expect_continue: bool,
}

/// Why a head is refused: the status and the message of the answer. The
/// connection is closed after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: &'static str,
}

pub const BAD_LENGTH: Refusal = Refusal {
    status: 400,
    message: "The request has an invalid Content-Length",
};
pub const LENGTH_AND_CHUNKED: Refusal = Refusal {
    status: 400,
    message: "The request has both Content-Length and Transfer-Encoding",
};
pub const BAD_TRANSFER_ENCODING: Refusal = Refusal {
    status: 400,
    message: "The request has an unsupported Transfer-Encoding",
};
pub const TOO_LARGE: Refusal = Refusal {
    status: 413,
    message: crate::base::messages::BODY_TOO_LARGE,
};

fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Checks the framing headers of a request (`version` is the minor version:
/// 0 for HTTP/1.0, 1 for HTTP/1.1).
pub fn check(
    version: u8,
    headers: &[httparse::Header<'_>],
    max_body: u64,
) -> Result<Framing, Refusal> {
    let mut length: Option<u64> = None;
    let mut transfer_encoding: Option<Vec<u8>> = None;
    let mut keep_alive = version >= 1;
    let mut expect_continue = false;
    for header in headers {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("content-length") {
            // Exactly one run of digits; a list, a sign, a repeat: refused.
            let text = value.trim_ascii();
            if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
                return Err(BAD_LENGTH);
            }
            let n: u64 = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or(BAD_LENGTH)?;
            if length.replace(n).is_some() {
                return Err(BAD_LENGTH);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let all = transfer_encoding.get_or_insert_with(Vec::new);
            if !all.is_empty() {
                all.push(b',');
            }
            all.extend_from_slice(value);
        } else if name.eq_ignore_ascii_case("connection") {
            if has_token(value, "close") {
                keep_alive = false;
            } else if has_token(value, "keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    let body = match (length, transfer_encoding) {
        (Some(_), Some(_)) => return Err(LENGTH_AND_CHUNKED),
        (None, Some(te)) => {
            // Only `chunked`, once, and only in HTTP/1.1.
            if version == 0 || !te.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(BAD_TRANSFER_ENCODING);
            }
            Body::Chunked
        }
        (Some(n), None) if n > max_body => return Err(TOO_LARGE),
        (Some(0), None) | (None, None) => Body::None,
        (Some(n), None) => Body::Length(n),
    };
    Ok(Framing {
        body,
        keep_alive,
        expect_continue: expect_continue && body != Body::None && version >= 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(version: u8, headers: &[(&'static str, &'static str)]) -> Result<Framing, Refusal> {
        let parsed: Vec<httparse::Header<'_>> = headers
            .iter()
            .map(|(name, value)| httparse::Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        check(version, &parsed, 1024)
    }

    #[test]
    fn one_plain_length_or_chunked_is_accepted() {
        assert_eq!(
            head(1, &[("Content-Length", "12")]).unwrap().body,
            Body::Length(12)
        );
        assert_eq!(
            head(1, &[("content-length", " 0 ")]).unwrap().body,
            Body::None
        );
        assert_eq!(head(1, &[]).unwrap().body, Body::None);
        assert_eq!(
            head(1, &[("Transfer-Encoding", "Chunked")]).unwrap().body,
            Body::Chunked
        );
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for value in ["abc", "-1", "5, 5", "+5", "", "1 2", "99999999999999999999"] {
            assert_eq!(
                head(1, &[("Content-Length", value)]),
                Err(BAD_LENGTH),
                "{value:?}"
            );
        }
        assert_eq!(
            head(1, &[("Content-Length", "5"), ("Content-Length", "6")]),
            Err(BAD_LENGTH)
        );
        assert_eq!(
            head(1, &[("Content-Length", "5"), ("Content-Length", "5")]),
            Err(BAD_LENGTH)
        );
        assert_eq!(
            head(
                1,
                &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
            ),
            Err(LENGTH_AND_CHUNKED)
        );
        for te in ["identity", "gzip, chunked", "chunked, chunked"] {
            assert_eq!(
                head(1, &[("Transfer-Encoding", te)]),
                Err(BAD_TRANSFER_ENCODING),
                "{te}"
            );
        }
        assert_eq!(
            head(
                1,
                &[
                    ("Transfer-Encoding", "chunked"),
                    ("Transfer-Encoding", "chunked")
                ]
            ),
            Err(BAD_TRANSFER_ENCODING)
        );
        assert_eq!(
            head(0, &[("Transfer-Encoding", "chunked")]),
            Err(BAD_TRANSFER_ENCODING)
        );
        assert_eq!(head(1, &[("Content-Length", "1025")]), Err(TOO_LARGE));
        assert_eq!(
            head(1, &[("Content-Length", "4611686018427387904")]),
            Err(TOO_LARGE)
        );
    }

    #[test]
    fn connection_and_expect_are_read() {
        assert!(head(1, &[]).unwrap().keep_alive);
        assert!(!head(0, &[]).unwrap().keep_alive);
        assert!(head(0, &[("Connection", "keep-alive")]).unwrap().keep_alive);
        assert!(
            !head(1, &[("Connection", "Upgrade, close")])
                .unwrap()
                .keep_alive
        );
        assert!(
            head(1, &[("Connection", "Upgrade"), ("Upgrade", "h2c")])
                .unwrap()
                .keep_alive
        );
        let expect = [("Expect", "100-continue"), ("Content-Length", "3")];
        assert!(head(1, &expect).unwrap().expect_continue);
        assert!(
            !head(1, &[("Expect", "100-continue")])
                .unwrap()
                .expect_continue
        );
    }
}
