//! The DAIMS column layouts of the generated files, embedded at build time.

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

/// The column lists of D1, D2, E and F, in output order.
#[derive(Debug)]
pub struct Layouts {
    pub d1: Vec<Column>,
    pub d2: Vec<Column>,
    pub e: Vec<Column>,
    pub f: Vec<Column>,
}

const D1: &str = include_str!("columns/d1_columns.csv");
const D2: &str = include_str!("columns/d2_columns.csv");
const E: &str = include_str!("columns/e_columns.csv");
const F: &str = include_str!("columns/f_columns.csv");

/// The layouts, parsed once. The embedded files are checked by a unit test,
/// so parsing cannot fail at run time.
pub fn layouts() -> &'static Layouts {
    static LAYOUTS: OnceLock<Layouts> = OnceLock::new();
    LAYOUTS.get_or_init(|| Layouts {
        d1: parse(D1),
        d2: parse(D2),
        e: parse(E),
        f: parse(F),
    })
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
        let l = layouts();
        assert_eq!(
            (l.d1.len(), l.d2.len(), l.e.len(), l.f.len()),
            (267, 76, 14, 87)
        );
        for col in l.d1.iter().chain(&l.d2).chain(&l.e).chain(&l.f) {
            assert!(!col.source.is_empty() && !col.header.is_empty(), "{col:?}");
        }
        assert!(l.d1.iter().all(|c| c.header_with_element_number.is_some()));
        assert_eq!(l.d1.iter().filter(|c| c.yyyymmdd).count(), 7);
        assert_eq!(l.d2.iter().filter(|c| c.yyyymmdd).count(), 4);
        let tag =
            l.d1.iter()
                .find(|c| c.source == "materials_supplies_descrip")
                .unwrap();
        assert_eq!(
            tag.header,
            "Materials, Supplies, Articles & Equip Description Tag"
        );
    }
}
