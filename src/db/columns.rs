//! Reading a row's columns by name at no cost per read: a query's columns
//! are a constant list, and `col!` turns a name into its
//! position when the program is compiled (a name not in the list does not
//! compile). rusqlite's by-name `get` compares the name with every column
//! of the row on each call, which the hot routes paid for on every request.

/// Position of `name` in `columns`; evaluated at compile time by `col!`.
pub const fn position(columns: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < columns.len() {
        if same(columns[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("the column is not in the query's list");
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The select list of a column array, each name after `alias.` when an
/// alias is given.
pub fn select_list(columns: &[&str], alias: &str) -> String {
    columns
        .iter()
        .map(|c| {
            if alias.is_empty() {
                c.to_string()
            } else {
                format!("{alias}.{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `col!(LIST, "name")`: the position of a column in a constant list.
macro_rules! col {
    ($columns:expr, $name:literal) => {
        const { $crate::db::columns::position(&$columns, $name) }
    };
}
pub(crate) use col;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_found_by_exact_name() {
        const LIST: [&str; 3] = ["job_id", "job_type", "job_status"];
        assert_eq!(col!(LIST, "job_status"), 2);
        assert_eq!(position(&LIST, "job_id"), 0);
        assert_eq!(select_list(&LIST[..2], "j"), "j.job_id, j.job_type");
        assert_eq!(select_list(&LIST[..2], ""), "job_id, job_type");
    }
}
