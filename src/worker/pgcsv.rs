//! Rows written the way Postgres `COPY ... TO STDOUT WITH CSV` writes them,
//! which is how the broker makes its files: LF line ends, NULL as an empty
//! field, an empty string as `""`, a field quoted only when it is empty or
//! holds the delimiter, a quote, CR or LF, with quotes doubled.

use std::io::{self, Write};

/// A CSV (or pipe-delimited) writer with Postgres's output rules.
pub struct PgCsv<W: Write> {
    out: W,
    delimiter: u8,
    at_row_start: bool,
}

impl<W: Write> PgCsv<W> {
    pub fn new(out: W, delimiter: u8) -> Self {
        PgCsv {
            out,
            delimiter,
            at_row_start: true,
        }
    }

    /// Writes one field; `None` is NULL.
    pub fn field(&mut self, value: Option<&[u8]>) -> io::Result<()> {
        if !self.at_row_start {
            self.out.write_all(&[self.delimiter])?;
        }
        self.at_row_start = false;
        let Some(value) = value else {
            return Ok(());
        };
        let d = self.delimiter;
        let needs_quotes = value.is_empty()
            || value
                .iter()
                .any(|&b| b == d || b == b'"' || b == b'\n' || b == b'\r');
        if !needs_quotes {
            return self.out.write_all(value);
        }
        self.out.write_all(b"\"")?;
        let mut rest = value;
        while let Some(at) = rest.iter().position(|&b| b == b'"') {
            self.out.write_all(&rest[..=at])?;
            self.out.write_all(b"\"")?;
            rest = &rest[at + 1..];
        }
        self.out.write_all(rest)?;
        self.out.write_all(b"\"")
    }

    /// Ends the row with LF.
    pub fn end_row(&mut self) -> io::Result<()> {
        self.at_row_start = true;
        self.out.write_all(b"\n")
    }

    /// A whole row of text fields (a header).
    pub fn row<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        for field in fields {
            self.field(Some(field.as_bytes()))?;
        }
        self.end_row()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(delimiter: u8, fields: &[Option<&str>]) -> String {
        let mut w = PgCsv::new(Vec::new(), delimiter);
        for f in fields {
            w.field(f.map(str::as_bytes)).unwrap();
        }
        w.end_row().unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn fields_are_quoted_where_postgres_quotes_them() {
        // The same row through psql 15: COPY (SELECT 'a,b', '', NULL, 'x"y',
        // E'l1\nl2', E'cr\rx', '\.', ' sp ', 'é|', '#x', E'tab\tx') TO STDOUT WITH CSV
        let fields = [
            Some("a,b"),
            Some(""),
            None,
            Some("x\"y"),
            Some("l1\nl2"),
            Some("cr\rx"),
            Some("\\."),
            Some(" sp "),
            Some("é|"),
            Some("#x"),
            Some("tab\tx"),
        ];
        assert_eq!(
            write(b',', &fields),
            "\"a,b\",\"\",,\"x\"\"y\",\"l1\nl2\",\"cr\rx\",\\., sp ,é|,#x,tab\tx\n"
        );
        assert_eq!(
            write(
                b'|',
                &[Some("a,b"), Some(""), None, Some("p|q"), Some("\\.")]
            ),
            "a,b|\"\"||\"p|q\"|\\.\n"
        );
    }
}
