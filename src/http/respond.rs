//! Writes a rouille `Response` to the socket as HTTP/1.1: a known length as
//! `Content-Length`, an unknown one chunked (or closed, for HTTP/1.0).

use rouille::Response;
use std::io::{self, BufWriter, Read, Write};
use std::net::TcpStream;

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Framing headers are the server's to set, never the handler's.
fn is_framing_header(name: &str) -> bool {
    ["content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn is_valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        && !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// Writes the response; returns whether the connection may stay open.
pub fn write(
    stream: &TcpStream,
    response: Response,
    version: u8,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<bool> {
    let status = response.status_code;
    let (mut body, size) = response.data.into_reader_and_size();
    let no_body = head_only || status == 204 || status == 304;
    let chunked = size.is_none() && !no_body && version >= 1;
    let keep = keep_alive && (size.is_some() || chunked || no_body);
    let mut out = BufWriter::with_capacity(16 * 1024, stream);
    write!(out, "HTTP/1.1 {status} {}\r\n", reason(status))?;
    for (name, value) in &response.headers {
        if !is_framing_header(name) && is_valid_header(name, value) {
            write!(out, "{name}: {value}\r\n")?;
        }
    }
    match size {
        _ if status == 204 || status == 304 => {}
        Some(n) => write!(out, "Content-Length: {n}\r\n")?,
        None if chunked => out.write_all(b"Transfer-Encoding: chunked\r\n")?,
        None => {}
    }
    if !keep {
        out.write_all(b"Connection: close\r\n")?;
    }
    out.write_all(b"\r\n")?;
    if !no_body {
        match size {
            Some(n) => {
                let copied = io::copy(&mut (&mut body).take(n as u64), &mut out)?;
                if copied != n as u64 {
                    // The body was shorter than announced: the framing is
                    // broken, so the connection must not be reused.
                    out.flush()?;
                    return Ok(false);
                }
            }
            None if chunked => write_chunked(&mut body, &mut out)?,
            None => {
                io::copy(&mut body, &mut out)?;
            }
        }
    }
    out.flush()?;
    Ok(keep)
}

fn write_chunked(body: &mut dyn Read, out: &mut impl Write) -> io::Result<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = body.read(&mut chunk)?;
        if n == 0 {
            return out.write_all(b"0\r\n\r\n");
        }
        write!(out, "{n:x}\r\n")?;
        out.write_all(&chunk[..n])?;
        out.write_all(b"\r\n")?;
    }
}
