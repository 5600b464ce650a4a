//! `fixtures synth`: deterministic, realistic synthetic data for benchmarks
//! and load tests — agencies, an admin, a few submissions with their jobs,
//! D1, D2, SAM and subaward source rows with values of every kind the
//! broker's files hold (amounts with their scale, t/f flags, empty strings,
//! NULLs, FPDS timestamps as action dates), and GTAS data for File A and
//! the BOC comparison (TAS, SF-133 lines, failed edits, BOC balances and a
//! published File B).

use crate::auth::hash_password;
use crate::base::domain::FileType;
use crate::base::timefmt::now_timestamp;
use crate::files::spec;
use anyhow::Context;
use rusqlite::{Connection, ToSql, TransactionBehavior, params_from_iter};
use std::io::Write;
use std::time::Instant;

/// Password of the synthetic admin `admin@synth.local`.
pub const SYNTH_ADMIN_PASSWORD: &str = "synth-admin-pw";
/// Awarding agency of every synthetic D1 and D2 row.
pub const SYNTH_AGENCY: &str = "097";
/// Rows per write transaction.
const BATCH: u64 = 20_000;
/// D1 columns filled besides the keys, dates and agency codes.
const D1_FILLED: usize = 56;

/// splitmix64: small, fast and deterministic for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A date of fiscal year 2020 (2019-10-01 to 2020-09-30).
fn fy2020_date(rng: &mut Rng) -> String {
    let day = rng.below(366) as i64;
    let date = time::macros::date!(2019 - 10 - 01) + time::Duration::days(day);
    crate::base::timefmt::format_iso_date(date)
}

/// A fiscal year 2020 date as FPDS sends it half of the time: a timestamp.
fn fy2020_action_date(rng: &mut Rng) -> String {
    let date = fy2020_date(rng);
    match rng.below(2) {
        0 => date,
        _ => format!(
            "{date} {:02}:{:02}:{:02}",
            rng.below(24),
            rng.below(60),
            rng.below(60)
        ),
    }
}

/// An amount with its scale as Postgres prints a numeric (`1234.50`, `-0.07`).
fn amount(rng: &mut Rng, max_cents: u64) -> String {
    let cents = rng.below(max_cents);
    let sign = if rng.below(10) == 0 && cents > 0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

const REFERENCE: &str = "
INSERT OR IGNORE INTO cgac (cgac_code, agency_name) VALUES
    ('097', 'Department of Defense'), ('020', 'Department of the Treasury'),
    ('075', 'Department of Health and Human Services');
INSERT OR IGNORE INTO frec (frec_code, agency_name, cgac_code) VALUES ('1125', 'Peace Corps', '020');
INSERT OR IGNORE INTO submissions (submission_id, user_id, cgac_code, reporting_start_date,
    reporting_end_date, reporting_fiscal_year, reporting_fiscal_period, is_quarter_format, publish_status)
VALUES (1, 1, '097', '2019-10-01', '2020-09-30', 2020, 12, 1, 'unpublished'),
       (2, 1, '097', '2019-10-01', '2020-09-30', 2020, 12, 1, 'unpublished'),
       (3, 1, '020', '2019-10-01', '2019-12-31', 2020, 3, 1, 'published'),
       (4, 1, '075', '2020-03-01', '2020-03-31', 2020, 6, 0, 'unpublished'),
       (5, 1, '097', '2020-03-01', '2020-03-31', 2020, 6, 0, 'published');
INSERT OR IGNORE INTO submission_window_schedule (year, period, period_start, publish_deadline,
    certification_deadline)
SELECT 2020, p, '2020-01-01 00:00:00', '2020-12-31 00:00:00', '2020-12-31 00:00:00'
FROM (WITH RECURSIVE n(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM n WHERE p < 12) SELECT p FROM n);
";

/// Adds the reference rows, the admin, the submissions and their jobs.
fn reference_data(conn: &Connection) -> anyhow::Result<()> {
    let hash = hash_password(SYNTH_ADMIN_PASSWORD)?;
    conn.execute(
        "INSERT OR IGNORE INTO users (user_id, email, name, title, password_hash, website_admin)
         VALUES (1, 'admin@synth.local', 'Synthetic Admin', 'Benchmark', ?1, 1)",
        [hash],
    )?;
    conn.execute_batch(REFERENCE)?;
    let now = now_timestamp();
    let mut job = conn.prepare(
        "INSERT OR IGNORE INTO jobs (job_id, submission_id, job_type, file_type, job_status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for sub in 1..=5i64 {
        let mut id = sub * 100;
        let mut add = |job_type: &str, file_type: Option<&str>, status: &str| {
            id += 1;
            job.execute(rusqlite::params![id, sub, job_type, file_type, status, now])
        };
        for file in ["A", "B", "C"] {
            add("file_upload", Some(file), "finished")?;
            add("csv_record_validation", Some(file), "finished")?;
        }
        for file in ["D1", "D2"] {
            add("file_upload", Some(file), "waiting")?;
            add("csv_record_validation", Some(file), "waiting")?;
        }
        add("file_upload", Some("E"), "waiting")?;
        add("file_upload", Some("F"), "waiting")?;
        add("validation", None, "finished")?;
    }
    Ok(())
}

/// Inserts `count` rows through `fill`, in batches, reporting progress.
fn insert_rows(
    conn: &mut Connection,
    label: &str,
    sql: &str,
    count: u64,
    mut fill: impl FnMut(u64, &mut Vec<Option<String>>),
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut values: Vec<Option<String>> = Vec::new();
    let mut done = 0;
    while done < count {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(sql)?;
            for i in done..(done + BATCH).min(count) {
                values.clear();
                fill(i, &mut values);
                stmt.execute(params_from_iter(values.iter().map(|v| v as &dyn ToSql)))?;
            }
        }
        tx.commit()?;
        done = (done + BATCH).min(count);
        if done % 100_000 == 0 || done == count {
            let secs = started.elapsed().as_secs_f64();
            eprintln!("synth: {label} {done}/{count} rows ({secs:.1} s)");
        }
    }
    Ok(())
}

fn insert_sql(table: &str, columns: &[String]) -> String {
    let marks = vec!["?"; columns.len()].join(", ");
    format!(
        "INSERT INTO {table} ({}) VALUES ({marks})",
        columns.join(", ")
    )
}

/// Fills the database with `rows` D1 rows, half as many D2 rows, a SAM row
/// per hundred and a subaward per ten, and GTAS data for `tas` TAS (see
/// [`synthesize_gtas`]), deterministically for a seed.
pub fn synthesize(conn: &mut Connection, rows: u64, tas: u64, seed: u64) -> anyhow::Result<()> {
    reference_data(conn).context("cannot add the reference rows")?;
    let base = conn.query_row(
        "SELECT COALESCE(MAX(detached_award_procurement_id), 0) FROM detached_award_procurement",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64;
    let funding = ["097", "020", "075"];
    let ueis = (rows / 100).max(1);

    let text_columns: Vec<String> = spec(FileType::D1)
        .columns()
        .iter()
        .filter(|c| !c.yyyymmdd)
        .map(|c| c.source.clone())
        .filter(|c| {
            !matches!(
                c.as_str(),
                "detached_award_proc_unique"
                    | "unique_award_key"
                    | "awardee_or_recipient_uei"
                    | "awarding_agency_code"
                    | "funding_agency_code"
                    | "federal_action_obligation"
            )
        })
        .take(D1_FILLED)
        .collect();
    let mut d1_columns: Vec<String> = [
        "detached_award_proc_unique",
        "unique_award_key",
        "awardee_or_recipient_uei",
        "awarding_agency_code",
        "funding_agency_code",
        "action_date",
        "period_of_performance_star",
        "last_modified",
    ]
    .map(String::from)
    .to_vec();
    d1_columns.push("federal_action_obligation".into());
    d1_columns.extend(text_columns.iter().cloned());
    let mut rng = Rng(seed);
    insert_rows(
        conn,
        "D1",
        &insert_sql("detached_award_procurement", &d1_columns),
        rows,
        |i, v| {
            let n = base + i + 1;
            let date = fy2020_action_date(&mut rng);
            v.push(Some(format!("CONT_TX_{n}_0")));
            v.push(Some(format!("CONT_AWD_{n}")));
            v.push(Some(format!("UEI{:09}", rng.below(ueis))));
            v.push(Some(SYNTH_AGENCY.into()));
            v.push(Some(funding[rng.below(3) as usize].into()));
            v.push(Some(date.clone()));
            v.push(Some(date));
            v.push(Some("2020-10-15 08:30:00".into()));
            v.push(Some(amount(&mut rng, 100_000_000)));
            // Text of every kind the broker's files hold: amounts kept as
            // written, codes, t/f flags, quoted text, empty strings, NULLs.
            for (k, column) in text_columns.iter().enumerate() {
                v.push(match k % 6 {
                    0 => Some(amount(&mut rng, 10_000_000)),
                    1 => Some(format!(
                        "{}_{}",
                        &column[..column.len().min(6)].to_uppercase(),
                        rng.below(1000)
                    )),
                    2 => Some(["t", "f"][rng.below(2) as usize].to_string()),
                    3 => Some(format!("Synthetic value {n}, item \"{k}\"")),
                    4 => Some(String::new()),
                    _ => None,
                });
            }
        },
    )?;

    let d2_columns: Vec<String> = [
        "afa_generated_unique",
        "unique_award_key",
        "uei",
        "awarding_agency_code",
        "funding_agency_code",
        "action_date",
        "fain",
        "federal_action_obligation",
        "non_federal_funding_amount",
        "record_type",
        "award_description",
        "is_active",
    ]
    .map(String::from)
    .to_vec();
    let mut rng = Rng(seed ^ 0xD2);
    insert_rows(
        conn,
        "D2",
        &insert_sql("published_fabs", &d2_columns),
        rows / 2,
        |i, v| {
            let n = base + i + 1;
            v.push(Some(format!("ASST_TX_{n}")));
            v.push(Some(format!("ASST_NON_{n}")));
            v.push(Some(format!("UEI{:09}", rng.below(ueis))));
            v.push(Some(SYNTH_AGENCY.into()));
            v.push(Some(funding[rng.below(3) as usize].into()));
            v.push(Some(fy2020_action_date(&mut rng)));
            v.push(Some(format!("FAIN{n}")));
            v.push(Some(amount(&mut rng, 100_000_000)));
            v.push(match rng.below(3) {
                0 => None,
                _ => Some(amount(&mut rng, 1_000_000)),
            });
            v.push(Some(["2", "3"][rng.below(2) as usize].into()));
            v.push(match rng.below(4) {
                0 => Some(String::new()),
                1 => None,
                _ => Some("Synthetic \"assistance\", award".into()),
            });
            v.push(Some(if rng.below(20) == 0 { "0" } else { "1" }.into()));
        },
    )?;

    let sam_columns: Vec<String> = [
        "uei",
        "legal_business_name",
        "ultimate_parent_uei",
        "high_comp_officer1_full_na",
        "high_comp_officer1_amount",
    ]
    .map(String::from)
    .to_vec();
    insert_rows(
        conn,
        "SAM",
        &insert_sql("sam_recipient", &sam_columns),
        ueis,
        |i, v| {
            v.push(Some(format!("UEI{i:09}")));
            v.push(Some(format!("Recipient {i}, Inc.")));
            v.push(Some(format!("UEI{:09}", i / 10)));
            v.push((i % 5 != 0).then(|| format!("Officer {i}")));
            v.push(Some(format!("{}", 100_000 + i)));
        },
    )?;

    let sub_columns: Vec<String> = [
        "unique_award_key",
        "subaward_type",
        "subaward_number",
        "subaward_amount",
        "sub_action_date",
        "sub_awardee_or_recipient_uei",
    ]
    .map(String::from)
    .to_vec();
    let mut rng = Rng(seed ^ 0xF);
    insert_rows(
        conn,
        "subaward",
        &insert_sql("subaward", &sub_columns),
        rows / 10,
        |i, v| {
            let contract = i % 2 == 0;
            let n = base + rng.below(if contract { rows } else { (rows / 2).max(1) }) + 1;
            v.push(Some(if contract {
                format!("CONT_AWD_{n}")
            } else {
                format!("ASST_NON_{n}")
            }));
            v.push(Some(
                if contract {
                    "sub-contract"
                } else {
                    "sub-grant"
                }
                .into(),
            ));
            v.push(Some(format!("SUB-{i}")));
            v.push(Some(amount(&mut rng, 10_000_000)));
            v.push(Some(fy2020_date(&mut rng)));
            v.push((i % 7 != 0).then(|| format!("SUBUEI{i:08}")));
        },
    )?;
    synthesize_gtas(conn, tas, seed)?;
    conn.execute_batch("ANALYZE")?;
    crate::db::drop_stat4_samples(conn)?;
    std::io::stderr().flush()?;
    Ok(())
}

/// SF-133 lines of every synthetic TAS and period: the lines File A sums
/// and others it does not.
const SF133_LINES: [i64; 40] = [
    1000, 1010, 1011, 1012, 1020, 1021, 1033, 1040, 1042, 1061, 1065, 1067, 1100, 1120, 1160, 1180,
    1260, 1280, 1340, 1440, 1540, 1640, 1750, 1850, 1910, 2001, 2002, 2104, 2190, 2201, 2202, 2301,
    2412, 2490, 2500, 3010, 3020, 3030, 4801, 4901,
];

/// Identifiers (ATA, AID) of a synthetic TAS: half DOD's own, some through
/// ATA 017, the rest Treasury's and HHS's.
fn synth_tas_agency(i: u64) -> (Option<&'static str>, &'static str) {
    match i % 8 {
        0..=3 => (None, SYNTH_AGENCY),
        4 => (Some("017"), "021"),
        5 => (None, "020"),
        6 => (Some("580"), "020"),
        _ => (None, "075"),
    }
}

/// GTAS data for `tas` TAS of fiscal year 2020: the TAS (one in fifty a
/// financial account), 40 SF-133 lines each in each of the 12 periods,
/// failed edits for one TAS in ten per period, 4 BOC balances per TAS and
/// period, and for DOD's published period-6 submission a File B of 3 rows
/// per TAS, most matching a BOC balance.
pub fn synthesize_gtas(conn: &mut Connection, tas: u64, seed: u64) -> anyhow::Result<()> {
    use crate::base::tas::{TAS_PART_COLUMNS, TasParts};
    let base = conn.query_row("SELECT COALESCE(MAX(tas_id), 0) FROM tas_lookup", [], |r| {
        r.get::<_, i64>(0)
    })? as u64;
    struct Tas {
        ata: Option<&'static str>,
        aid: &'static str,
        years: Option<(String, String)>,
        main: String,
        sub: String,
    }
    let make = |i: u64| {
        let n = base + i;
        let (ata, aid) = synth_tas_agency(n);
        Tas {
            ata,
            aid,
            years: (n % 2 == 1).then(|| ("2019".to_string(), "2020".to_string())),
            main: format!("{:04}", n % 10_000),
            sub: format!("{:03}", n / 10_000 % 1000),
        }
    };
    let labels = |t: &Tas| {
        let parts = TasParts {
            allocation_transfer_agency: t.ata,
            agency_identifier: Some(t.aid),
            beginning_period_of_availa: t.years.as_ref().map(|y| y.0.as_str()),
            ending_period_of_availabil: t.years.as_ref().map(|y| y.1.as_str()),
            availability_type_code: t.years.is_none().then_some("X"),
            main_account_code: Some(&t.main),
            sub_account_code: Some(&t.sub),
        };
        (parts.tas(), parts.display_tas())
    };
    // A TAS's parts and its two labels, in the order `push_parts` gives them.
    let part_columns: Vec<&str> = TAS_PART_COLUMNS
        .iter()
        .copied()
        .chain(["tas", "display_tas"])
        .collect();
    let push_parts = |t: &Tas, v: &mut Vec<Option<String>>| -> String {
        let (key, label) = labels(t);
        v.push(t.ata.map(String::from));
        v.push(Some(t.aid.into()));
        v.push(t.years.as_ref().map(|y| y.0.clone()));
        v.push(t.years.as_ref().map(|y| y.1.clone()));
        v.push(t.years.is_none().then(|| "X".into()));
        v.push(Some(t.main.clone()));
        v.push(Some(t.sub.clone()));
        v.push(Some(key));
        v.push(Some(label.clone()));
        label
    };
    let with_parts = |before: &[&str], after: &[&str]| -> Vec<String> {
        before
            .iter()
            .chain(&part_columns)
            .chain(after)
            .map(|c| c.to_string())
            .collect()
    };
    insert_rows(
        conn,
        "TAS",
        &insert_sql(
            "tas_lookup",
            &with_parts(
                &["tas_id"],
                &["financial_indicator2", "fr_entity_type", "account_title"],
            ),
        ),
        tas,
        |i, v| {
            let t = make(i);
            v.push(Some((base + i + 1).to_string()));
            let label = push_parts(&t, v);
            v.push(((base + i) % 50 == 49).then(|| "F".into()));
            v.push(Some(format!("{}00", &t.aid[1..])));
            v.push(Some(format!("Synthetic account {label}")));
        },
    )?;
    let per_period = tas * SF133_LINES.len() as u64;
    let mut rng = Rng(seed ^ 0x133);
    insert_rows(
        conn,
        "SF-133",
        &insert_sql(
            "sf_133",
            &with_parts(&[], &["fiscal_year", "period", "line", "amount"]),
        ),
        per_period * 12,
        |i, v| {
            let (period, within) = (i / per_period + 1, i % per_period);
            let t = make(within / SF133_LINES.len() as u64);
            push_parts(&t, v);
            v.push(Some("2020".into()));
            v.push(Some(period.to_string()));
            v.push(Some(
                SF133_LINES[(within % SF133_LINES.len() as u64) as usize].to_string(),
            ));
            v.push(Some(amount(&mut rng, 1_000_000_000)));
        },
    )?;
    let edited = tas.div_ceil(10);
    let mut rng = Rng(seed ^ 0xED17);
    insert_rows(
        conn,
        "failed edits",
        &insert_sql(
            "tas_failed_edits",
            &with_parts(
                &[],
                &[
                    "fiscal_year",
                    "period",
                    "edit_number",
                    "severity",
                    "atb_submission_status",
                    "approved_override_exists",
                ],
            ),
        ),
        edited * 12,
        |i, v| {
            let t = make(i % edited * 10);
            push_parts(&t, v);
            v.push(Some("2020".into()));
            v.push(Some((i / edited + 1).to_string()));
            v.push(Some(format!("A{}", rng.below(40))));
            v.push(Some(
                ["fatal", "FATAL", "warning"][rng.below(3) as usize].into(),
            ));
            v.push(Some(
                ["F", "E", "P", "C", "X"][rng.below(5) as usize].into(),
            ));
            v.push(Some(rng.below(2).to_string()));
        },
    )?;
    const BOC_USSGLS: [(&str, &str); 4] = [
        ("480100", "E"),
        ("490800", "B"),
        ("490100", "E"),
        ("497100", "E"),
    ];
    let mut rng = Rng(seed ^ 0xB0C);
    insert_rows(
        conn,
        "GTAS BOC",
        &insert_sql(
            "gtas_boc",
            &with_parts(
                &[],
                &[
                    "fiscal_year",
                    "period",
                    "ussgl_number",
                    "dollar_amount",
                    "debit_credit",
                    "begin_end",
                    "reimbursable_flag",
                    "disaster_emergency_fund_code",
                    "budget_object_class",
                ],
            ),
        ),
        tas * 12 * 4,
        |i, v| {
            let (period, t, k) = (i / (tas * 4) + 1, i / 4 % tas, (i % 4) as usize);
            push_parts(&make(t), v);
            v.push(Some("2020".into()));
            v.push(Some(period.to_string()));
            v.push(Some(BOC_USSGLS[k].0.into()));
            v.push(Some(amount(&mut rng, 100_000_000)));
            v.push(Some(["D", "C"][rng.below(2) as usize].into()));
            v.push(Some(BOC_USSGLS[k].1.into()));
            v.push(Some("D".into()));
            v.push(Some("Q".into()));
            v.push(Some(format!("{}00", 41 + t % 3)));
        },
    )?;
    let mut rng = Rng(seed ^ 0xF11EB);
    insert_rows(
        conn,
        "File B",
        &insert_sql(
            "published_object_class_program_activity",
            &with_parts(
                &[],
                &[
                    "submission_id",
                    "row_number",
                    "object_class",
                    "by_direct_reimbursable_fun",
                    "disaster_emergency_fund_code",
                    "program_activity_code",
                    "ussgl480100_undelivered_or_cpe",
                    "ussgl490800_authority_outl_fyb",
                    "ussgl490100_delivered_orde_cpe",
                ],
            ),
        ),
        tas * 3,
        |i, v| {
            let t = i / 3;
            push_parts(&make(t), v);
            v.push(Some("5".into()));
            v.push(Some((i + 2).to_string()));
            v.push(Some(format!("{}0", 41 + t % 3)));
            v.push(Some("D".into()));
            v.push(Some("Q".into()));
            v.push(Some(format!("{:04}", i % 3)));
            for _ in 0..3 {
                v.push(match rng.below(5) {
                    0 => None,
                    _ => Some(amount(&mut rng, 50_000_000)),
                });
            }
        },
    )?;
    Ok(())
}
