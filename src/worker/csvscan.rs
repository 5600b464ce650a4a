//! A fast reader for the files broker-lite writes (Postgres CSV: fields
//! quoted only when needed, quotes doubled, LF between rows): for each row
//! it gives the number of fields and the bytes of a few chosen fields,
//! without copying the others.
//!
//! The file-level validation re-reads every generated D file; a general CSV
//! parser spent 2.6 s of it on a million-row D1 (267 fields a row). This
//! reader looks at 64 bytes at a time: bit masks of the quotes, delimiters
//! and line feeds, a prefix XOR of the quote mask for which bytes lie inside
//! quotes (a doubled quote toggles twice), and then only the delimiters and
//! line feeds outside quotes are visited.

use std::io::{self, Read};

const BLOCK: usize = 64;

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// `0x80` in each byte of `word` equal to `byte`, `0` in the others (exact:
/// no borrow runs from one byte into the next).
#[inline]
fn equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW7) + LOW7) | x) & !LOW7
}

/// The high bit of each byte of `flags`, packed into bits 0..8.
#[inline]
fn pack(flags: u64) -> u64 {
    ((flags >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Bit `i` set where `block[i]` is a quote, the delimiter, or a line feed:
/// eight bytes at a time (a byte-by-byte loop was six times slower).
#[inline]
fn masks(block: &[u8; BLOCK], delimiter: u8) -> (u64, u64, u64) {
    let (mut quotes, mut delimiters, mut ends) = (0u64, 0u64, 0u64);
    for (k, chunk) in block.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        quotes |= pack(equal_bytes(word, b'"')) << (8 * k);
        delimiters |= pack(equal_bytes(word, delimiter)) << (8 * k);
        ends |= pack(equal_bytes(word, b'\n')) << (8 * k);
    }
    (quotes, delimiters, ends)
}

/// Bit `i` set when an odd number of bits at or below `i` are set.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// One row as the scanner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedRow {
    pub fields: usize,
    /// The chosen fields, unquoted; `None` when the row is too short.
    pub chosen: Vec<Option<Vec<u8>>>,
}

/// Why a file could not be scanned.
#[derive(Debug)]
pub enum ScanError {
    Io(io::Error),
    /// The file ends inside a quoted field.
    UnclosedQuote,
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// Reads rows of a Postgres-CSV file, keeping the fields at `chosen`.
pub struct RowScanner<R> {
    reader: R,
    delimiter: u8,
    chosen: Vec<usize>,
    /// The highest chosen field index (fields after it are only counted).
    last_chosen: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` read from the file.
    filled: usize,
    /// Where the current row starts, and the next byte to classify.
    row_start: usize,
    scan: usize,
    eof: bool,
    /// Whether the byte before `scan` is inside quotes.
    in_quotes: bool,
    /// The current row's field count so far and the current field's start.
    field: usize,
    field_start: usize,
    /// Byte ranges of the chosen fields of the current row.
    ranges: Vec<Option<(usize, usize)>>,
}

impl<R: Read> RowScanner<R> {
    pub fn new(reader: R, delimiter: u8, chosen: &[usize]) -> Self {
        Self::with_capacity(reader, delimiter, chosen, 1 << 20)
    }

    /// `capacity` is the read size (tests use tiny ones to split rows).
    pub fn with_capacity(reader: R, delimiter: u8, chosen: &[usize], capacity: usize) -> Self {
        RowScanner {
            reader,
            delimiter,
            chosen: chosen.to_vec(),
            last_chosen: chosen.iter().copied().max().unwrap_or(0),
            buf: vec![0; capacity.max(BLOCK) + BLOCK],
            filled: 0,
            row_start: 0,
            scan: 0,
            eof: false,
            in_quotes: false,
            field: 0,
            field_start: 0,
            ranges: vec![None; chosen.len()],
        }
    }

    /// Chooses other fields to keep, from the next row on.
    pub fn choose(&mut self, chosen: &[usize]) {
        self.chosen = chosen.to_vec();
        self.last_chosen = chosen.iter().copied().max().unwrap_or(0);
        self.ranges = vec![None; chosen.len()];
    }

    /// Moves the current row to the front of the buffer and reads more.
    fn refill(&mut self) -> io::Result<()> {
        let shift = self.row_start;
        self.buf.copy_within(shift..self.filled, 0);
        self.filled -= shift;
        self.scan -= shift;
        self.field_start -= shift;
        self.row_start = 0;
        for (start, end) in self.ranges.iter_mut().flatten() {
            *start -= shift;
            *end -= shift;
        }
        // A row longer than the buffer: grow it.
        if self.buf.len() - self.filled < BLOCK * 2 {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        let room = self.buf.len() - BLOCK - self.filled;
        let n = self
            .reader
            .read(&mut self.buf[self.filled..self.filled + room])?;
        if n == 0 {
            self.eof = true;
        }
        self.filled += n;
        Ok(())
    }

    fn end_field(&mut self, at: usize) {
        if let Some(slot) = self.chosen.iter().position(|&c| c == self.field) {
            self.ranges[slot] = Some((self.field_start, at));
        }
        self.field += 1;
        self.field_start = at + 1;
    }

    fn take_row(&mut self, end: usize) -> ScannedRow {
        self.end_field(end);
        let chosen = self
            .ranges
            .iter_mut()
            .map(|r| r.take().map(|(s, e)| unquote(&self.buf[s..e])))
            .collect();
        let row = ScannedRow {
            fields: self.field,
            chosen,
        };
        self.field = 0;
        self.row_start = end + 1;
        self.field_start = end + 1;
        row
    }

    /// The next row, `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<ScannedRow>, ScanError> {
        loop {
            while self.scan + BLOCK <= self.filled || (self.eof && self.scan < self.filled) {
                let mut block = [0u8; BLOCK];
                let take = (self.filled - self.scan).min(BLOCK);
                block[..take].copy_from_slice(&self.buf[self.scan..self.scan + take]);
                let (quotes, delimiters, ends) = masks(&block, self.delimiter);
                let inside = prefix_xor(quotes) ^ if self.in_quotes { !0 } else { 0 };
                let valid = if take == BLOCK {
                    !0
                } else {
                    (1u64 << take) - 1
                };
                let ends = ends & !inside & valid;
                // The row's delimiters in this block: those before its end.
                let row_end = if ends == 0 {
                    take
                } else {
                    ends.trailing_zeros() as usize
                };
                let below_end = if row_end == BLOCK {
                    !0
                } else {
                    (1u64 << row_end) - 1
                };
                let mut delimiters = delimiters & !inside & below_end;
                // Fields up to the last chosen one are located one by one;
                // past it, a row's fields only need counting.
                while delimiters != 0 && self.field <= self.last_chosen {
                    let bit = delimiters.trailing_zeros() as usize;
                    delimiters &= delimiters - 1;
                    self.end_field(self.scan + bit);
                }
                self.field += delimiters.count_ones() as usize;
                if row_end < take {
                    // A row ends here: outside quotes; the rest of the block
                    // is classified again from the next row's start.
                    let at = self.scan + row_end;
                    self.in_quotes = false;
                    self.scan = at + 1;
                    return Ok(Some(self.take_row(at)));
                }
                self.in_quotes = (inside >> (take - 1)) & 1 == 1;
                self.scan += take;
            }
            if self.eof {
                if self.in_quotes {
                    return Err(ScanError::UnclosedQuote);
                }
                if self.row_start < self.filled {
                    // A last row without a line end.
                    let end = self.filled;
                    return Ok(Some(self.take_row(end)));
                }
                return Ok(None);
            }
            self.refill()?;
        }
    }
}

/// A field's value: quotes removed and doubled quotes made single.
fn unquote(raw: &[u8]) -> Vec<u8> {
    match raw {
        [b'"', inner @ .., b'"'] => {
            let mut out = Vec::with_capacity(inner.len());
            let mut i = 0;
            while i < inner.len() {
                out.push(inner[i]);
                i += if inner[i] == b'"' { 2 } else { 1 };
            }
            out
        }
        _ => raw.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::pgcsv::PgCsv;

    fn scan_all(bytes: &[u8], delimiter: u8, chosen: &[usize], cap: usize) -> Vec<ScannedRow> {
        let mut scanner = RowScanner::with_capacity(bytes, delimiter, chosen, cap);
        let mut rows = Vec::new();
        while let Some(row) = scanner.next_row().unwrap() {
            rows.push(row);
        }
        rows
    }

    /// What the csv crate makes of the same bytes.
    fn reference(bytes: &[u8], delimiter: u8, chosen: &[usize]) -> Vec<ScannedRow> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
            .byte_records()
            .map(|r| {
                let r = r.unwrap();
                ScannedRow {
                    fields: r.len(),
                    chosen: chosen
                        .iter()
                        .map(|&c| r.get(c).map(<[u8]>::to_vec))
                        .collect(),
                }
            })
            .collect()
    }

    /// splitmix64, for deterministic random rows.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn random_files_scan_as_a_csv_parser_reads_them() {
        let alphabet = b"ab,|\"\n\r x1";
        let mut state = 7u64;
        for round in 0..300 {
            let delimiter = if round % 3 == 0 { b'|' } else { b',' };
            let mut out = PgCsv::new(Vec::new(), delimiter);
            let rows = 1 + next(&mut state) % 20;
            for _ in 0..rows {
                // At least two fields: a lone NULL field is an empty line, which
                // the csv crate skips (and no generated file has).
                let fields = 2 + next(&mut state) % 11;
                for _ in 0..fields {
                    let len = next(&mut state) % 90;
                    let value: Vec<u8> = (0..len)
                        .map(|_| alphabet[(next(&mut state) % alphabet.len() as u64) as usize])
                        .collect();
                    let null = next(&mut state).is_multiple_of(5);
                    out.field(if null { None } else { Some(&value) }).unwrap();
                }
                out.end_row().unwrap();
            }
            let bytes = out.into_inner();
            let chosen = [0, 1, 5, 11];
            let want = reference(&bytes, delimiter, &chosen);
            for cap in [1, 7, 64, 100, 1 << 16] {
                assert_eq!(
                    scan_all(&bytes, delimiter, &chosen, cap),
                    want,
                    "round {round}, capacity {cap}: {:?}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }

    #[test]
    fn word_masks_match_a_byte_by_byte_look() {
        let bytes = [
            b'a', b',', b'|', b'"', b'\n', 0x80, 0xff, 0x00, 0x7f, 0x2b, 0x2d,
        ];
        let mut state = 3u64;
        for _ in 0..2000 {
            let mut block = [0u8; BLOCK];
            for b in block.iter_mut() {
                *b = bytes[(next(&mut state) % bytes.len() as u64) as usize];
            }
            let scalar = |byte: u8| {
                block
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, b)| m | (u64::from(*b == byte) << i))
            };
            for delimiter in [b',', b'|'] {
                assert_eq!(
                    masks(&block, delimiter),
                    (scalar(b'"'), scalar(delimiter), scalar(b'\n'))
                );
            }
        }
    }

    #[test]
    fn edge_cases_of_the_format() {
        let bytes = b"a,\"b,\"\"c\"\"\nd\",\n,\"\"\nlast,row";
        let rows = scan_all(bytes, b',', &[0, 1, 2], 64);
        assert_eq!(rows, reference(bytes, b',', &[0, 1, 2]));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].fields, 3);
        assert_eq!(rows[0].chosen[1].as_deref(), Some(&b"b,\"c\"\nd"[..]));
        assert!(scan_all(b"", b',', &[0], 64).is_empty());
        let mut open = RowScanner::new(&b"a,\"never closed\n"[..], b',', &[0]);
        assert!(matches!(open.next_row(), Err(ScanError::UnclosedQuote)));
    }
}
