//! `serve --demo`: the demo fixture and the files its finished jobs point to,
//! embedded so that one command gives a newcomer a working system.

use super::fixtures::{self, FixtureSource};
use crate::storage::FileStore;
use anyhow::Context;
use rusqlite::Connection;
use std::path::Path;

/// `fixtures/demo.json`.
pub const DEMO_JSON: &str = include_str!("../../fixtures/demo.json");

/// Storage key and bytes of each file a finished demo job names.
pub const DEMO_FILES: &[(&str, &[u8])] = &[
    (
        "1/SubID-1_File-D1_FY20Q1_20191001_20191231_awarding_1576854245.csv",
        include_bytes!(
            "../../fixtures/demo_files/1/SubID-1_File-D1_FY20Q1_20191001_20191231_awarding_1576854245.csv"
        ),
    ),
    (
        "1/SubID-1_File-E_FY20Q1_1576854245.csv",
        include_bytes!("../../fixtures/demo_files/1/SubID-1_File-E_FY20Q1_1576854245.csv"),
    ),
    (
        "3/SubID-3_File-F_FY20Q1_1576854245.csv",
        include_bytes!("../../fixtures/demo_files/3/SubID-3_File-F_FY20Q1_1576854245.csv"),
    ),
];

/// Loads the demo into a fresh database and publishes its files. A database
/// that already has users is left alone; returns whether the demo was loaded.
pub fn load_demo(
    conn: &mut Connection,
    store: &dyn FileStore,
    scratch: &Path,
) -> anyhow::Result<bool> {
    let users: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
    if users > 0 {
        return Ok(false);
    }
    std::fs::create_dir_all(scratch).context("cannot create the scratch folder")?;
    for (key, bytes) in DEMO_FILES {
        let tmp = scratch.join("demo-file.tmp");
        std::fs::write(&tmp, bytes).context("cannot write a demo file")?;
        store
            .put(key, &tmp)
            .with_context(|| format!("cannot store demo file {key}"))?;
        let _ = std::fs::remove_file(&tmp);
    }
    fixtures::load(
        conn,
        &[FixtureSource {
            name: "fixtures/demo.json",
            text: DEMO_JSON,
        }],
    )?;
    Ok(true)
}
