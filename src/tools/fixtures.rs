//! The fixture loader: JSON files of `table -> [row objects]`, loaded in one
//! transaction. Any problem names the file, table, row and column, and
//! nothing is loaded.

use crate::auth::hash_password;
use crate::base::pgtext;
use crate::base::tas::TasParts;
use crate::base::timefmt::{normalize_timestamp, now_timestamp, parse_iso_date};
use crate::db::value_kinds::{SOURCE_TABLES, numeric_kind};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;

/// Tables a fixture may fill.
pub const FIXTURE_TABLES: &[&str] = &[
    "users",
    "cgac",
    "frec",
    "user_affiliations",
    "submissions",
    "file_generation",
    "jobs",
    "external_data_load_date",
    "detached_award_procurement",
    "published_fabs",
    "sam_recipient",
    "subaward",
    "award_procurement",
    "award_financial_assistance",
    "banner",
    "submission_window_schedule",
    "sf_133",
    "tas_lookup",
    "tas_failed_edits",
    "gtas_boc",
    "published_object_class_program_activity",
];

/// Tables whose `tas` and `display_tas` are made from the TAS parts when a
/// row leaves them out, as the broker's loaders do.
const TAS_TABLES: &[&str] = &[
    "sf_133",
    "tas_lookup",
    "tas_failed_edits",
    "gtas_boc",
    "published_object_class_program_activity",
];

/// Where a fixture problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    pub file: String,
    pub table: Option<String>,
    /// 1-based position in the table's array.
    pub row: Option<usize>,
    pub column: Option<String>,
    pub problem: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(table) = &self.table {
            write!(f, ": table {table}")?;
        }
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for FixtureError {}

/// One fixture: a name for messages and its JSON text.
pub struct FixtureSource<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

#[derive(Debug, Clone)]
struct ColumnInfo {
    name: String,
    declared: String,
}

/// Rows loaded per table.
pub type LoadReport = Vec<(String, usize)>;

struct Loader<'c> {
    conn: &'c Connection,
    /// Columns per table, read once; shared so a row does not copy the list.
    columns: HashMap<String, Rc<[ColumnInfo]>>,
    /// (table, rowid) -> (file, row number), to place foreign-key faults.
    origins: HashMap<(String, i64), (String, usize)>,
    now: String,
    counts: Vec<(String, usize)>,
}

/// Loads the fixtures in one transaction: all of them or none.
pub fn load(
    conn: &mut Connection,
    sources: &[FixtureSource<'_>],
) -> Result<LoadReport, FixtureError> {
    let internal = |problem: String| FixtureError {
        file: sources
            .first()
            .map(|s| s.name.to_string())
            .unwrap_or_default(),
        table: None,
        row: None,
        column: None,
        problem,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| internal(format!("cannot start a transaction: {e}")))?;
    // References are checked once everything is in, so table order is free.
    tx.pragma_update(None, "defer_foreign_keys", true)
        .map_err(|e| internal(e.to_string()))?;
    let mut loader = Loader {
        conn: &tx,
        columns: HashMap::new(),
        origins: HashMap::new(),
        now: now_timestamp(),
        counts: Vec::new(),
    };
    for source in sources {
        loader.load_file(source)?;
    }
    loader.check_references()?;
    let counts = std::mem::take(&mut loader.counts);
    drop(loader);
    tx.commit()
        .map_err(|e| internal(format!("cannot commit: {e}")))?;
    Ok(counts)
}

impl Loader<'_> {
    fn load_file(&mut self, source: &FixtureSource<'_>) -> Result<(), FixtureError> {
        let err = |problem: String| FixtureError {
            file: source.name.to_string(),
            table: None,
            row: None,
            column: None,
            problem,
        };
        // Values stay raw JSON text until converted, so that a number keeps
        // the literal as written (`1234.50`, `1e6`).
        serde_json::from_str::<serde::de::IgnoredAny>(source.text)
            .map_err(|e| err(format!("not valid JSON: {e}")))?;
        let tables: BTreeMap<String, &RawValue> = serde_json::from_str(source.text)
            .map_err(|_| err("expected a JSON object of table name -> array of rows".into()))?;
        for (table, rows) in &tables {
            let at = |row: Option<usize>, column: Option<&str>, problem: String| FixtureError {
                file: source.name.to_string(),
                table: Some(table.clone()),
                row,
                column: column.map(String::from),
                problem,
            };
            if !FIXTURE_TABLES.contains(&table.as_str()) {
                return Err(at(None, None, "unknown table".into()));
            }
            let Ok(rows) = serde_json::from_str::<Vec<&RawValue>>(rows.get()) else {
                return Err(at(None, None, "expected an array of row objects".into()));
            };
            for (i, row) in rows.iter().enumerate() {
                let Ok(row) = serde_json::from_str::<BTreeMap<String, &RawValue>>(row.get()) else {
                    return Err(at(Some(i + 1), None, "expected a row object".into()));
                };
                let row = &row;
                let rowid = self
                    .insert(table, row)
                    .map_err(|(column, problem)| at(Some(i + 1), column.as_deref(), problem))?;
                self.origins
                    .insert((table.clone(), rowid), (source.name.to_string(), i + 1));
            }
            match self.counts.iter_mut().find(|(t, _)| t == table) {
                Some((_, n)) => *n += rows.len(),
                None => self.counts.push((table.clone(), rows.len())),
            }
        }
        Ok(())
    }

    fn table_columns(&mut self, table: &str) -> Result<Rc<[ColumnInfo]>, (Option<String>, String)> {
        if let Some(cols) = self.columns.get(table) {
            return Ok(Rc::clone(cols));
        }
        let mut stmt = self
            .conn
            .prepare("SELECT name, type FROM pragma_table_info(?1)")
            .map_err(|e| (None, e.to_string()))?;
        let cols: Rc<[ColumnInfo]> = stmt
            .query_map([table], |r| {
                Ok(ColumnInfo {
                    name: r.get(0)?,
                    declared: r.get(1)?,
                })
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(|e| (None, e.to_string()))?
            .into();
        self.columns.insert(table.to_string(), Rc::clone(&cols));
        Ok(cols)
    }

    /// Inserts one row; on failure returns the column (if known) and problem.
    fn insert(
        &mut self,
        table: &str,
        row: &BTreeMap<String, &RawValue>,
    ) -> Result<i64, (Option<String>, String)> {
        let columns = self.table_columns(table)?;
        let mut names: Vec<&str> = Vec::with_capacity(row.len() + 1);
        let mut values: Vec<SqlValue> = Vec::with_capacity(row.len() + 1);
        for (key, raw) in row {
            let literal = raw.get();
            let value: Value =
                serde_json::from_str(literal).map_err(|e| (Some(key.clone()), e.to_string()))?;
            let value = &value;
            let (column, value) = if table == "users" && key == "password" {
                let hashed = match value {
                    Value::String(p) if !p.is_empty() => hash_password(p),
                    _ => return Err((Some(key.clone()), "expected a non-empty string".into())),
                };
                let hashed = hashed.map_err(|e| (Some(key.clone()), e.to_string()))?;
                ("password_hash", SqlValue::Text(hashed))
            } else {
                let Some(info) = columns.iter().find(|c| &c.name == key) else {
                    return Err((Some(key.clone()), "unknown column".into()));
                };
                let converted =
                    convert(table, info, value, literal).map_err(|p| (Some(key.clone()), p))?;
                (info.name.as_str(), converted)
            };
            if names.contains(&column) {
                return Err((Some(key.clone()), "given twice".into()));
            }
            names.push(column);
            values.push(value);
        }
        if TAS_TABLES.contains(&table) {
            fill_tas(&mut names, &mut values);
        }
        // Times a row must have: the load time when the fixture gives none.
        let stamped: &[&str] = match table {
            "jobs" => &["updated_at"],
            "submissions" => &["created_at", "updated_at"],
            _ => &[],
        };
        for column in stamped {
            if !names.contains(column) {
                names.push(column);
                values.push(SqlValue::Text(self.now.clone()));
            }
        }
        // Names were checked against the schema above; values are bound.
        let sql = if names.is_empty() {
            format!("INSERT INTO {table} DEFAULT VALUES")
        } else {
            let marks = vec!["?"; names.len()].join(", ");
            format!(
                "INSERT INTO {table} ({}) VALUES ({marks})",
                names.join(", ")
            )
        };
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.execute(params_from_iter(values)))
            .map_err(|e| (constraint_column(&e, table), describe(&e)))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn check_references(&mut self) -> Result<(), FixtureError> {
        let internal = |problem: String| FixtureError {
            file: String::new(),
            table: None,
            row: None,
            column: None,
            problem,
        };
        let mut stmt = self
            .conn
            .prepare("SELECT \"table\", rowid, parent, fkid FROM pragma_foreign_key_check")
            .map_err(|e| internal(e.to_string()))?;
        let faults: Vec<(String, Option<i64>, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(Iterator::collect)
            .map_err(|e| internal(e.to_string()))?;
        // Report the first fault in load order.
        let first = faults.into_iter().min_by_key(|(table, rowid, _, _)| {
            rowid
                .and_then(|id| self.origins.get(&(table.clone(), id)))
                .map(|(file, row)| (file.clone(), *row))
        });
        let Some((table, rowid, parent, fkid)) = first else {
            return Ok(());
        };
        let column: Option<String> = self
            .conn
            .query_row(
                "SELECT \"from\" FROM pragma_foreign_key_list(?1) WHERE id = ?2",
                rusqlite::params![table, fkid],
                |r| r.get(0),
            )
            .ok();
        let (file, row) = rowid
            .and_then(|id| self.origins.get(&(table.clone(), id)).cloned())
            .map_or((String::new(), None), |(f, r)| (f, Some(r)));
        Err(FixtureError {
            file,
            table: Some(table),
            row,
            column,
            problem: format!("refers to a row of {parent} that does not exist"),
        })
    }
}

/// Adds `tas` and `display_tas` made from the row's TAS parts when the row
/// does not give them.
fn fill_tas(names: &mut Vec<&str>, values: &mut Vec<SqlValue>) {
    let text: Vec<Option<String>> = values
        .iter()
        .map(|v| match v {
            SqlValue::Text(s) => Some(s.clone()),
            SqlValue::Integer(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    let parts = TasParts::from_lookup(|column| {
        names
            .iter()
            .position(|n| *n == column)
            .and_then(|i| text[i].as_deref())
    });
    let (tas, display_tas) = (parts.tas(), parts.display_tas());
    for (column, value) in [("tas", tas), ("display_tas", display_tas)] {
        if !names.contains(&column) {
            names.push(column);
            values.push(SqlValue::Text(value));
        }
    }
}

/// Converts a JSON value for a column, as "Files, byte for byte" stores it.
/// `literal` is the value's JSON text (a number's literal as written).
fn convert(
    table: &str,
    column: &ColumnInfo,
    value: &Value,
    literal: &str,
) -> Result<SqlValue, String> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    if let Some(kind) = numeric_kind(table, &column.name) {
        let literal = match value {
            // The literal as written: no float round trip.
            Value::Number(_) => literal.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err("expected a number".into()),
        };
        return kind
            .normalize(&literal)
            .map(SqlValue::Text)
            .ok_or_else(|| format!("expected a number, not {literal:?}"));
    }
    match column.declared.to_ascii_uppercase().as_str() {
        "INTEGER" => value
            .as_i64()
            .map(SqlValue::Integer)
            .ok_or_else(|| "expected an integer".into()),
        "BOOLEAN" => match value {
            Value::Bool(b) => Ok(SqlValue::Integer(i64::from(*b))),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(SqlValue::Integer(n.as_i64().unwrap_or(0)))
            }
            _ => Err("expected a boolean (true/false or 0/1)".into()),
        },
        "DATE" if SOURCE_TABLES.contains(&table) => match value {
            Value::String(s) if is_date_or_timestamp(s) => Ok(SqlValue::Text(s.clone())),
            _ => Err("expected a date YYYY-MM-DD or a timestamp YYYY-MM-DD HH:MM:SS".into()),
        },
        "DATE" => match value {
            Value::String(s) if parse_iso_date(s).is_some() => Ok(SqlValue::Text(s.clone())),
            _ => Err("expected a date YYYY-MM-DD".into()),
        },
        "TIMESTAMP" => match value {
            Value::String(s) => normalize_timestamp(s)
                .map(SqlValue::Text)
                .ok_or_else(|| "expected a timestamp YYYY-MM-DD HH:MM:SS[.ffffff]".into()),
            _ => Err("expected a timestamp YYYY-MM-DD HH:MM:SS[.ffffff]".into()),
        },
        _ => match value {
            Value::String(s) => Ok(SqlValue::Text(s.clone())),
            Value::Number(_) => Ok(SqlValue::Text(literal.to_string())),
            // Postgres prints booleans as t and f.
            Value::Bool(b) => Ok(SqlValue::Text(if *b { "t" } else { "f" }.into())),
            _ => Err("expected text".into()),
        },
    }
}

/// A source date as FPDS sends it: `YYYY-MM-DD`, or a timestamp on that date.
fn is_date_or_timestamp(text: &str) -> bool {
    let valid_date = pgtext::date_part(text.as_bytes())
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(parse_iso_date)
        .is_some();
    valid_date && (text.len() == 10 || normalize_timestamp(text).is_some())
}

/// The column a constraint message names (`table.column`), if any.
fn constraint_column(err: &rusqlite::Error, table: &str) -> Option<String> {
    let message = err.to_string();
    let prefix = format!("{table}.");
    let start = message.find(&prefix)? + prefix.len();
    let column: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!column.is_empty()).then_some(column)
}

fn describe(err: &rusqlite::Error) -> String {
    let message = err.to_string();
    if message.starts_with("UNIQUE constraint failed") {
        format!("duplicate value ({message})")
    } else if message.starts_with("NOT NULL constraint failed") {
        format!("missing required value ({message})")
    } else if message.starts_with("CHECK constraint failed") {
        format!("value not allowed ({message})")
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::in_memory;

    fn load_one(conn: &mut Connection, text: &str) -> Result<LoadReport, FixtureError> {
        load(
            conn,
            &[FixtureSource {
                name: "f.json",
                text,
            }],
        )
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn rows_load_in_any_table_order_with_their_ids() {
        let mut conn = in_memory();
        let report = load_one(
            &mut conn,
            r#"{"frec": [{"frec_code": "1125", "agency_name": "F", "cgac_code": "097"}],
                "cgac": [{"cgac_code": "097", "agency_name": "DOD"}]}"#,
        )
        .unwrap();
        assert_eq!(report.len(), 2);
        assert_eq!(count(&conn, "frec"), 1);
    }

    #[test]
    fn problems_name_file_table_row_and_column_and_load_nothing() {
        let cases = [
            (r#"{"nope": []}"#, "f.json: table nope: unknown table"),
            (
                r#"{"cgac": [{"cgac_code": "097", "agency_name": "A"}, {"cgac_code": "020", "agency": "B"}]}"#,
                "f.json: table cgac, row 2, column agency: unknown column",
            ),
            (
                r#"{"cgac": [{"cgac_code": "097", "agency_name": "A"}], "submissions": [{"submission_id": "x"}]}"#,
                "f.json: table submissions, row 1, column submission_id: expected an integer",
            ),
            (
                r#"{"cgac": [{"cgac_code": "097", "agency_name": "A"}, {"cgac_code": "097", "agency_name": "B"}]}"#,
                "f.json: table cgac, row 2, column cgac_code: duplicate value (UNIQUE constraint failed: cgac.cgac_code)",
            ),
            (
                r#"{"cgac": [{"cgac_code": "097", "agency_name": "A"}], "submissions": [{"submission_id": 1, "cgac_code": "999"}]}"#,
                "f.json: table submissions, row 1, column cgac_code: refers to a row of cgac that does not exist",
            ),
            (
                r#"{"cgac": [{"cgac_code": "097", "agency_name": "A"}], "submissions": [{"submission_id": 1, "reporting_start_date": "2020-02-30"}]}"#,
                "f.json: table submissions, row 1, column reporting_start_date: expected a date YYYY-MM-DD",
            ),
            (
                "[1]",
                "f.json: expected a JSON object of table name -> array of rows",
            ),
        ];
        for (text, expected) in cases {
            let mut conn = in_memory();
            let err = load_one(&mut conn, text).unwrap_err();
            assert_eq!(err.to_string(), expected);
            assert_eq!(count(&conn, "cgac"), 0, "{expected}");
        }
    }

    #[test]
    fn real_world_values_are_stored_as_the_broker_prints_them() {
        let mut conn = in_memory();
        load_one(
            &mut conn,
            r#"{"detached_award_procurement": [
                {"detached_award_procurement_id": 1, "federal_action_obligation": 1234.50,
                 "base_exercised_options_val": 1e6, "small_business_competitive": true,
                 "action_date": "2019-12-31 00:00:00", "last_modified": "2019-11-04 09:12:34.5"},
                {"detached_award_procurement_id": 2, "federal_action_obligation": "007.10",
                 "base_exercised_options_val": "007.10", "small_business_competitive": false,
                 "action_date": "2019-12-31"},
                {"detached_award_procurement_id": 3, "federal_action_obligation": 1e6,
                 "piid": ""}],
              "published_fabs": [{"published_fabs_id": 1, "record_type": "02",
                 "face_value_loan_guarantee": -0.01}]}"#,
        )
        .unwrap();
        let row = |sql: &str| -> Vec<Option<String>> {
            conn.query_row(sql, [], |r| {
                (0..r.as_ref().column_count())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .unwrap()
        };
        let cols = "federal_action_obligation, base_exercised_options_val, \
                    small_business_competitive, action_date, last_modified, piid";
        assert_eq!(
            row(&format!(
                "SELECT {cols} FROM detached_award_procurement WHERE detached_award_procurement_id = 1"
            )),
            [
                Some("1234.50"),
                Some("1e6"),
                Some("t"),
                Some("2019-12-31 00:00:00"),
                Some("2019-11-04 09:12:34.5"),
                None
            ]
            .map(|v| v.map(String::from))
        );
        assert_eq!(
            row(&format!(
                "SELECT {cols} FROM detached_award_procurement WHERE detached_award_procurement_id = 2"
            )),
            [
                Some("7.10"),
                Some("007.10"),
                Some("f"),
                Some("2019-12-31"),
                None,
                None
            ]
            .map(|v| v.map(String::from))
        );
        assert_eq!(
            row(
                "SELECT federal_action_obligation, piid FROM detached_award_procurement WHERE detached_award_procurement_id = 3"
            ),
            [Some("1000000"), Some("")].map(|v| v.map(String::from))
        );
        assert_eq!(
            row("SELECT record_type, face_value_loan_guarantee FROM published_fabs"),
            [Some("2"), Some("-0.01")].map(|v| v.map(String::from))
        );
    }

    #[test]
    fn values_postgres_would_refuse_are_named_with_their_place() {
        let cases = [
            (
                r#"{"published_fabs": [{"federal_action_obligation": "12,50"}]}"#,
                "f.json: table published_fabs, row 1, column federal_action_obligation: expected a number, not \"12,50\"",
            ),
            (
                r#"{"published_fabs": [{"record_type": 2.5}]}"#,
                "f.json: table published_fabs, row 1, column record_type: expected a number, not \"2.5\"",
            ),
            (
                r#"{"published_fabs": [{"federal_action_obligation": true}]}"#,
                "f.json: table published_fabs, row 1, column federal_action_obligation: expected a number",
            ),
            (
                r#"{"detached_award_procurement": [{"action_date": "2019-12-31 25:00:00"}]}"#,
                "f.json: table detached_award_procurement, row 1, column action_date: expected a date YYYY-MM-DD or a timestamp YYYY-MM-DD HH:MM:SS",
            ),
            (
                r#"{"detached_award_procurement": [{"action_date": "2019-02-30"}]}"#,
                "f.json: table detached_award_procurement, row 1, column action_date: expected a date YYYY-MM-DD or a timestamp YYYY-MM-DD HH:MM:SS",
            ),
            (
                r#"{"submissions": [{"reporting_start_date": "2019-12-31 00:00:00"}]}"#,
                "f.json: table submissions, row 1, column reporting_start_date: expected a date YYYY-MM-DD",
            ),
        ];
        for (text, expected) in cases {
            let mut conn = in_memory();
            assert_eq!(load_one(&mut conn, text).unwrap_err().to_string(), expected);
        }
    }

    #[test]
    fn jobs_without_updated_at_get_the_load_time_and_passwords_are_hashed() {
        let mut conn = in_memory();
        load_one(
            &mut conn,
            r#"{"users": [{"user_id": 1, "email": "a@b", "password": "pw"}],
                "jobs": [{"job_id": 5, "job_type": "file_upload", "file_type": "E"}]}"#,
        )
        .unwrap();
        let updated: String = conn
            .query_row("SELECT updated_at FROM jobs WHERE job_id = 5", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(normalize_timestamp(&updated).is_some());
        let hash: String = conn
            .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
    }

    #[test]
    fn gtas_rows_get_their_tas_labels_and_numeric_amounts() {
        let mut conn = in_memory();
        load_one(
            &mut conn,
            r#"{"sf_133": [{"agency_identifier": "020", "availability_type_code": "X",
                            "main_account_code": "5688", "sub_account_code": "000",
                            "fiscal_year": 2021, "period": 6, "line": 1910, "amount": "007.50"},
                           {"tas": "given", "display_tas": "given-label", "fiscal_year": 2021,
                            "period": 6, "line": 1000, "amount": "1e3"}],
                "tas_failed_edits": [{"tas": "x", "approved_override_exists": true}]}"#,
        )
        .unwrap();
        let rows: Vec<(String, String, String)> = conn
            .prepare("SELECT tas, display_tas, amount FROM sf_133 ORDER BY line DESC")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "00002000000000X5688000".to_string(),
                    "020-X-5688-000".to_string(),
                    "7.50".to_string()
                ),
                ("given".into(), "given-label".into(), "1000".into()),
            ]
        );
        let err = load_one(
            &mut conn,
            r#"{"gtas_boc": [{"fiscal_year": 2021, "dollar_amount": "12,50"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            (err.table.as_deref(), err.row, err.column.as_deref()),
            (Some("gtas_boc"), Some(1), Some("dollar_amount"))
        );
        assert_eq!(count(&conn, "gtas_boc"), 0);
    }
}
