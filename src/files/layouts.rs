//! The DAIMS column layouts of the generated files (`layouts/*.csv`, copied
//! from the shared DAIMS folder), embedded at build time.

use std::sync::OnceLock;

/// One column of a generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column of the source table (and of `schema.sql`).
    pub source: String,
    /// Header written in the file.
    pub header: String,
    /// Header used by detached D1 generation with `element_numbers` (D1 only).
    pub header_with_element_number: Option<String>,
    /// Written as `YYYYMMDD` instead of the stored `YYYY-MM-DD`.
    pub yyyymmdd: bool,
}

/// One embedded layout file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    D1,
    D2,
    E,
    F,
    A,
    Boc,
}

impl Layout {
    const ALL: [Layout; 6] = [
        Layout::D1,
        Layout::D2,
        Layout::E,
        Layout::F,
        Layout::A,
        Layout::Boc,
    ];

    fn text(self) -> &'static str {
        match self {
            Layout::D1 => include_str!("layouts/d1_columns.csv"),
            Layout::D2 => include_str!("layouts/d2_columns.csv"),
            Layout::E => include_str!("layouts/e_columns.csv"),
            Layout::F => include_str!("layouts/f_columns.csv"),
            Layout::A => include_str!("layouts/a_columns.csv"),
            Layout::Boc => include_str!("layouts/boc_columns.csv"),
        }
    }
}

/// A layout's columns in output order, parsed once. The embedded files are
/// checked by a unit test, so parsing cannot fail at run time.
pub fn layout(which: Layout) -> &'static [Column] {
    static PARSED: OnceLock<Vec<Vec<Column>>> = OnceLock::new();
    let all = PARSED.get_or_init(|| Layout::ALL.iter().map(|l| parse(l.text())).collect());
    &all[Layout::ALL.iter().position(|l| *l == which).unwrap_or(0)]
}

fn parse(text: &str) -> Vec<Column> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().cloned().unwrap_or_default();
    let index = |name: &str| headers.iter().position(|h| h == name);
    let (source, header) = (index("source_column"), index("header"));
    let (element, format) = (index("header_with_element_number"), index("format"));
    reader
        .records()
        .filter_map(Result::ok)
        .map(|rec| {
            let field = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").to_string();
            Column {
                source: field(source),
                header: field(header),
                header_with_element_number: element.map(|_| field(element)),
                yyyymmdd: field(format) == "yyyymmdd",
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_layouts_have_the_daims_column_counts() {
        let (d1, d2, e, f) = (
            layout(Layout::D1),
            layout(Layout::D2),
            layout(Layout::E),
            layout(Layout::F),
        );
        assert_eq!((d1.len(), d2.len(), e.len(), f.len()), (267, 76, 14, 87));
        assert_eq!(
            (layout(Layout::A).len(), layout(Layout::Boc).len()),
            (21, 20)
        );
        assert_eq!(layout(Layout::A)[20].header, "GTASStatus");
        assert_eq!(layout(Layout::Boc)[19].header, "FileBRows");
        for col in d1.iter().chain(d2).chain(e).chain(f) {
            assert!(!col.source.is_empty() && !col.header.is_empty(), "{col:?}");
        }
        assert!(d1.iter().all(|c| c.header_with_element_number.is_some()));
        assert_eq!(d1.iter().filter(|c| c.yyyymmdd).count(), 7);
        assert_eq!(d2.iter().filter(|c| c.yyyymmdd).count(), 4);
        let tag = d1
            .iter()
            .find(|c| c.source == "materials_supplies_descrip")
            .unwrap();
        assert_eq!(
            tag.header,
            "Materials, Supplies, Articles & Equip Description Tag"
        );
    }
}
