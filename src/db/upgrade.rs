//! Schema versions. `PRAGMA user_version` is the version of a database; a
//! fresh one gets `schema.sql` whole, an older one runs the numbered steps it
//! lacks, each in one transaction, so an upgrade that fails changes nothing.
//! A database newer than this binary is refused untouched.
//!
//! Adding a schema change: append a [`Step`] here and make the same change at
//! the end of the table in `schema.sql` (new columns go last, as `ALTER TABLE
//! ADD COLUMN` puts them, unless the step rebuilds the table); a test checks
//! that both give the same schema.

use super::SCHEMA;
use super::value_kinds::{NUMERIC_COLUMNS, NumericKind};
use anyhow::{Context, bail};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// One upgrade: from `version - 1` to `version`.
pub struct Step {
    pub version: i64,
    pub summary: &'static str,
    run: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

/// The steps after release 1 (schema version 1), in order.
pub const STEPS: &[Step] = &[
    Step {
        version: 2,
        summary: "broker-numeric columns stored as Postgres prints them",
        run: normalize_numerics,
    },
    Step {
        version: 3,
        summary: "what the broker web app's pages need: submission metadata, banners, submission windows",
        run: web_app_tables,
    },
    Step {
        version: 4,
        summary: "GTAS tables and published File B for detached File A and BOC generation",
        run: gtas_tables,
    },
    Step {
        version: 5,
        summary: "award rows of validated D files with their loaded columns first, to store a third as much",
        run: award_columns_first,
    },
];

/// `PRAGMA user_version` of a database built from `schema.sql`.
pub const SCHEMA_VERSION: i64 = 1 + STEPS.len() as i64;

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings a database to [`SCHEMA_VERSION`]; safe to run on every start, and
/// by two processes at once.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version = user_version(conn)?;
    if version > SCHEMA_VERSION {
        bail!(
            "the database has schema version {version}, newer than this broker-lite \
             (schema version {SCHEMA_VERSION}); use the newer broker-lite, or restore a backup"
        );
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version == 0 {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if user_version(&tx)? == 0 {
            tx.execute_batch(SCHEMA)
                .context("cannot apply schema.sql")?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        tx.commit()?;
        return Ok(());
    }
    // A step may rebuild a table; foreign keys are checked before each commit
    // instead (the pragma cannot change inside a transaction).
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = run_steps(conn);
    conn.pragma_update(None, "foreign_keys", true)?;
    result
}

fn run_steps(conn: &mut Connection) -> anyhow::Result<()> {
    for step in STEPS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have run it since we looked.
        if user_version(&tx)? >= step.version {
            continue;
        }
        (step.run)(&tx).with_context(|| {
            format!(
                "cannot upgrade the database to schema version {}",
                step.version
            )
        })?;
        let broken: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            bail!(
                "upgrading the database to schema version {} would break {broken} reference(s); nothing was changed",
                step.version
            );
        }
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
        log::info!(
            "database upgraded to schema version {}: {}",
            step.version,
            step.summary
        );
    }
    Ok(())
}

/// Version 2: values of the broker-numeric columns rewritten in the form
/// Postgres prints them (`007.10` → `7.10`); text Postgres would refuse is
/// kept as it was.
fn normalize_numerics(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for (name, kind) in [
        ("broker_numeric", NumericKind::Numeric),
        ("broker_integer", NumericKind::Integer),
    ] {
        tx.create_scalar_function(
            name,
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let value: Option<String> = ctx.get(0)?;
                Ok(value.map(|v| kind.normalize(&v).unwrap_or(v)))
            },
        )?;
    }
    // The tables of release 1 only: later steps create theirs already normalised.
    let release_1 = [
        "detached_award_procurement",
        "award_procurement",
        "published_fabs",
        "award_financial_assistance",
    ];
    for (table, columns) in NUMERIC_COLUMNS
        .iter()
        .filter(|(t, _)| release_1.contains(t))
    {
        let call = |column: &str, kind: &NumericKind| match kind {
            NumericKind::Numeric => format!("broker_numeric({column})"),
            NumericKind::Integer => format!("broker_integer({column})"),
        };
        let sets: Vec<String> = columns
            .iter()
            .map(|(c, k)| format!("{c} = {}", call(c, k)))
            .collect();
        let changed: Vec<String> = columns
            .iter()
            .map(|(c, k)| format!("{c} IS NOT {}", call(c, k)))
            .collect();
        // Names come from the constant list above, never from input.
        tx.execute(
            &format!(
                "UPDATE {table} SET {} WHERE {}",
                sets.join(", "),
                changed.join(" OR ")
            ),
            [],
        )?;
    }
    tx.remove_function("broker_numeric", 1)?;
    tx.remove_function("broker_integer", 1)?;
    Ok(())
}

/// Version 3: the columns and tables of the web app's routes. Submissions
/// of older releases get their jobs' latest update as their creation and
/// update times.
fn web_app_tables(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE users ADD COLUMN skip_guide BOOLEAN NOT NULL DEFAULT 0 CHECK (skip_guide IN (0, 1));
         ALTER TABLE submissions ADD COLUMN created_at TIMESTAMP;
         ALTER TABLE submissions ADD COLUMN updated_at TIMESTAMP;
         ALTER TABLE submissions ADD COLUMN number_of_errors INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE submissions ADD COLUMN number_of_warnings INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE submissions ADD COLUMN test_submission BOOLEAN NOT NULL DEFAULT 0
             CHECK (test_submission IN (0, 1));
         ALTER TABLE submissions ADD COLUMN certified BOOLEAN NOT NULL DEFAULT 0
             CHECK (certified IN (0, 1));
         ALTER TABLE jobs ADD COLUMN last_validated TIMESTAMP;
         UPDATE submissions SET
             created_at = (SELECT MIN(updated_at) FROM jobs j WHERE j.submission_id = submissions.submission_id),
             updated_at = (SELECT MAX(updated_at) FROM jobs j WHERE j.submission_id = submissions.submission_id);
         CREATE TABLE banner (
             banner_id INTEGER PRIMARY KEY,
             start_date DATE NOT NULL,
             end_date DATE NOT NULL,
             notice_block BOOLEAN NOT NULL DEFAULT 0 CHECK (notice_block IN (0, 1)),
             header TEXT,
             message TEXT NOT NULL,
             type TEXT NOT NULL DEFAULT 'all' CHECK (type IN ('dabs', 'fabs', 'all', 'login')),
             banner_type TEXT NOT NULL DEFAULT 'info'
         );
         CREATE TABLE submission_window_schedule (
             submission_window_schedule_id INTEGER PRIMARY KEY,
             year INTEGER NOT NULL,
             period INTEGER NOT NULL CHECK (period BETWEEN 1 AND 12),
             period_start TIMESTAMP,
             publish_deadline TIMESTAMP,
             certification_deadline TIMESTAMP,
             UNIQUE (year, period)
         );",
    )
}

/// Version 4: the GTAS tables and published File B rows (new, empty), and
/// `file_generation` and `jobs` rebuilt to accept the A and BOC file types.
fn gtas_tables(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(include_str!("steps/v4_generated_types.sql"))?;
    tx.execute_batch(include_str!("steps/v4_gtas_tables.sql"))
}

/// Version 5: `award_procurement` and `award_financial_assistance` rebuilt
/// with the columns a validation loads right after the id, every row kept.
fn award_columns_first(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(include_str!("steps/v5_award_columns_first.sql"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::in_memory;

    /// Every table and index with its columns, in order.
    fn shape(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT m.type, m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                 UNION ALL
                 SELECT m.type, m.name, i.seqno, i.name, m.tbl_name, '', '', ''
                 FROM sqlite_master m JOIN pragma_index_info(m.name) i
                 WHERE m.type = 'index'
                 ORDER BY 1, 2, 3",
            )
            .unwrap();
        stmt.query_map([], |r| {
            let parts: Vec<String> = (0..8)
                .map(|i| r.get_ref(i).map(|v| format!("{v:?}")).unwrap_or_default())
                .collect();
            Ok(parts.join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// A copy of the database made by release `version` (`tests/upgrade/v{version}`).
    fn release_copy(version: i64) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.db");
        std::fs::copy(
            format!(
                "{}/tests/upgrade/v{version}/broker.db",
                env!("CARGO_MANIFEST_DIR")
            ),
            &path,
        )
        .unwrap();
        let conn = crate::db::open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), version);
        (dir, conn)
    }

    #[test]
    fn an_upgraded_release_1_or_2_database_has_the_schema_of_a_fresh_one() {
        for version in [1, 2] {
            let (_dir, mut old) = release_copy(version);
            migrate(&mut old).unwrap();
            assert_eq!(user_version(&old).unwrap(), SCHEMA_VERSION);
            let fresh = in_memory();
            assert_eq!(shape(&old), shape(&fresh), "release {version}");
        }
    }

    #[test]
    fn the_numeric_upgrade_rewrites_old_values_and_keeps_unreadable_ones() {
        let (_dir, mut old) = release_copy(1);
        old.execute_batch(
            "INSERT INTO published_fabs (published_fabs_id, federal_action_obligation, record_type,
                 face_value_loan_guarantee, is_active)
             VALUES (9001, '007.10', '02', 'n/a', 1), (9002, '1e6', NULL, '-0.00', 1);",
        )
        .unwrap();
        migrate(&mut old).unwrap();
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = old
            .prepare(
                "SELECT federal_action_obligation, record_type, face_value_loan_guarantee
                 FROM published_fabs WHERE published_fabs_id > 9000 ORDER BY 1",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            vec![
                (Some("1000000".into()), None, Some("0.00".into())),
                (Some("7.10".into()), Some("2".into()), Some("n/a".into())),
            ]
        );
        // Migrating again is a no-op.
        migrate(&mut old).unwrap();
    }

    #[test]
    fn the_gtas_upgrade_keeps_every_job_and_generation_and_takes_the_new_types() {
        let (_dir, mut old) = release_copy(1);
        let count = |conn: &Connection, table: &str| -> i64 {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        let dump = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare("SELECT job_id, file_type, job_status, filename, file_generation_id FROM jobs ORDER BY job_id")
                .unwrap();
            stmt.query_map([], |r| {
                Ok(format!(
                    "{:?}",
                    (0..5)
                        .map(|i| r.get_ref(i).map(|v| format!("{v:?}")).unwrap())
                        .collect::<Vec<_>>()
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        let (jobs, generations, tasks) = (
            dump(&old),
            count(&old, "file_generation"),
            count(&old, "generation_tasks"),
        );
        assert!(!jobs.is_empty() && generations > 0);
        migrate(&mut old).unwrap();
        assert_eq!(dump(&old), jobs);
        assert_eq!(count(&old, "file_generation"), generations);
        assert_eq!(count(&old, "generation_tasks"), tasks);
        old.execute_batch(
            "INSERT INTO file_generation (request_date, start_date, end_date, agency_code, file_type)
                 VALUES ('2021-04-01', '2021-03-01', '2021-03-31', '097', 'BOC');
             INSERT INTO jobs (job_type, file_type, updated_at, file_generation_id)
                 VALUES ('file_upload', 'BOC', '2021-04-01 00:00:00', last_insert_rowid());",
        )
        .unwrap();
        let broken: i64 = old
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(broken, 0);
    }

    #[test]
    fn the_award_column_upgrade_keeps_every_award_row_and_value() {
        for version in [1, 2] {
            award_rows_survive_the_upgrade_from(version);
        }
    }

    fn award_rows_survive_the_upgrade_from(version: i64) {
        let (_dir, mut old) = release_copy(version);
        // Every column by name, so the rows compare across the new order.
        let dump = |conn: &Connection, table: &str| -> Vec<String> {
            let columns: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY name"
                ))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let sql = format!("SELECT {} FROM {table} ORDER BY 1", columns.join(", "));
            let mut stmt = conn.prepare(&sql).unwrap();
            stmt.query_map([], |r| {
                Ok((0..columns.len())
                    .map(|i| format!("{}={:?}", columns[i], r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        let tables = ["award_procurement", "award_financial_assistance"];
        let before: Vec<_> = tables.iter().map(|t| dump(&old, t)).collect();
        assert!(before.iter().all(|rows| !rows.is_empty()));
        migrate(&mut old).unwrap();
        let after: Vec<_> = tables.iter().map(|t| dump(&old, t)).collect();
        assert_eq!(after, before);
        let first: Vec<String> = old
            .prepare(
                "SELECT name FROM pragma_table_info('award_financial_assistance') WHERE cid < 4",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            first,
            [
                "award_financial_assistance_id",
                "submission_id",
                "unique_award_key",
                "awardee_or_recipient_uei"
            ]
        );
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let mut conn = in_memory();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(
            err.contains(&format!("schema version {}", SCHEMA_VERSION + 1))
                && err.contains(&format!("(schema version {SCHEMA_VERSION})")),
            "{err}"
        );
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION + 1);
    }
}
