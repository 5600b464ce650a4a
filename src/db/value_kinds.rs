//! What a column holds beyond its SQLite declared type: the broker's numeric
//! columns (stored as text in the form Postgres prints them) and the source
//! tables whose dates arrive as FPDS timestamps.
//!
//! Numerics are normalised once, when they are loaded (and by the upgrade of
//! older databases), so the writer copies stored text and pays nothing per row.

use crate::base::pgtext;

/// How a broker-numeric column is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericKind {
    /// Postgres `numeric`: its own scale, no leading zeros, no exponent.
    Numeric,
    /// Postgres `integer`.
    Integer,
}

impl NumericKind {
    /// The stored (printed) form of a literal, `None` if Postgres refuses it.
    pub fn normalize(self, text: &str) -> Option<String> {
        match self {
            NumericKind::Numeric => pgtext::numeric(text),
            NumericKind::Integer => pgtext::integer(text),
        }
    }
}

const D1_NUMERIC: &[(&str, NumericKind)] = &[("federal_action_obligation", NumericKind::Numeric)];

const D2_NUMERIC: &[(&str, NumericKind)] = &[
    ("federal_action_obligation", NumericKind::Numeric),
    ("face_value_loan_guarantee", NumericKind::Numeric),
    ("indirect_federal_sharing", NumericKind::Numeric),
    ("non_federal_funding_amount", NumericKind::Numeric),
    ("original_loan_subsidy_cost", NumericKind::Numeric),
    ("record_type", NumericKind::Integer),
];

const SF133_NUMERIC: &[(&str, NumericKind)] = &[("amount", NumericKind::Numeric)];

const GTAS_BOC_NUMERIC: &[(&str, NumericKind)] = &[("dollar_amount", NumericKind::Numeric)];

/// Every amount of a File B row (`_cpe` and `_fyb` columns).
const FILE_B_NUMERIC: &[(&str, NumericKind)] = &[
    ("deobligations_recov_by_pro_cpe", NumericKind::Numeric),
    ("gross_outlay_amount_by_pro_cpe", NumericKind::Numeric),
    ("gross_outlay_amount_by_pro_fyb", NumericKind::Numeric),
    ("gross_outlays_delivered_or_cpe", NumericKind::Numeric),
    ("gross_outlays_delivered_or_fyb", NumericKind::Numeric),
    ("gross_outlays_undelivered_cpe", NumericKind::Numeric),
    ("gross_outlays_undelivered_fyb", NumericKind::Numeric),
    ("obligations_delivered_orde_cpe", NumericKind::Numeric),
    ("obligations_delivered_orde_fyb", NumericKind::Numeric),
    ("obligations_incurred_by_pr_cpe", NumericKind::Numeric),
    ("obligations_undelivered_or_cpe", NumericKind::Numeric),
    ("obligations_undelivered_or_fyb", NumericKind::Numeric),
    ("ussgl480100_undelivered_or_cpe", NumericKind::Numeric),
    ("ussgl480100_undelivered_or_fyb", NumericKind::Numeric),
    ("ussgl480200_undelivered_or_cpe", NumericKind::Numeric),
    ("ussgl480200_undelivered_or_fyb", NumericKind::Numeric),
    ("ussgl483100_undelivered_or_cpe", NumericKind::Numeric),
    ("ussgl483200_undelivered_or_cpe", NumericKind::Numeric),
    ("ussgl487100_downward_adjus_cpe", NumericKind::Numeric),
    ("ussgl487200_downward_adjus_cpe", NumericKind::Numeric),
    ("ussgl488100_upward_adjustm_cpe", NumericKind::Numeric),
    ("ussgl488200_upward_adjustm_cpe", NumericKind::Numeric),
    ("ussgl490100_delivered_orde_cpe", NumericKind::Numeric),
    ("ussgl490100_delivered_orde_fyb", NumericKind::Numeric),
    ("ussgl490200_delivered_orde_cpe", NumericKind::Numeric),
    ("ussgl490800_authority_outl_cpe", NumericKind::Numeric),
    ("ussgl490800_authority_outl_fyb", NumericKind::Numeric),
    ("ussgl493100_delivered_orde_cpe", NumericKind::Numeric),
    ("ussgl497100_downward_adjus_cpe", NumericKind::Numeric),
    ("ussgl497200_downward_adjus_cpe", NumericKind::Numeric),
    ("ussgl498100_upward_adjustm_cpe", NumericKind::Numeric),
    ("ussgl498200_upward_adjustm_cpe", NumericKind::Numeric),
    ("ussgl480110_rein_undel_ord_cpe", NumericKind::Numeric),
    ("ussgl490110_rein_deliv_ord_cpe", NumericKind::Numeric),
    ("ussgl480210_rein_undel_obs_cpe", NumericKind::Numeric),
    ("ussgl497210_down_adj_refun_cpe", NumericKind::Numeric),
];

/// Columns that are numeric in the broker's models, per table.
pub const NUMERIC_COLUMNS: &[(&str, &[(&str, NumericKind)])] = &[
    ("detached_award_procurement", D1_NUMERIC),
    ("award_procurement", D1_NUMERIC),
    ("published_fabs", D2_NUMERIC),
    ("award_financial_assistance", D2_NUMERIC),
    ("sf_133", SF133_NUMERIC),
    ("gtas_boc", GTAS_BOC_NUMERIC),
    ("published_object_class_program_activity", FILE_B_NUMERIC),
];

/// The numeric kind of a column, if it is one of the broker's numerics.
pub fn numeric_kind(table: &str, column: &str) -> Option<NumericKind> {
    NUMERIC_COLUMNS
        .iter()
        .find(|(t, _)| *t == table)
        .and_then(|(_, cols)| cols.iter().find(|(c, _)| *c == column))
        .map(|(_, kind)| *kind)
}

/// Tables of award source data: their `DATE` columns also take timestamps
/// (`2019-11-04 09:12:34`), kept as written; filters use the date part.
pub const SOURCE_TABLES: &[&str] = &[
    "detached_award_procurement",
    "published_fabs",
    "award_procurement",
    "award_financial_assistance",
    "sam_recipient",
    "subaward",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::in_memory;

    #[test]
    fn every_listed_column_exists_in_the_schema() {
        let conn = in_memory();
        for (table, columns) in NUMERIC_COLUMNS {
            for (column, _) in *columns {
                let found: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
                        [table, column],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert!(found, "{table}.{column}");
            }
        }
        assert_eq!(
            numeric_kind("published_fabs", "record_type"),
            Some(NumericKind::Integer)
        );
        assert_eq!(numeric_kind("published_fabs", "fain"), None);
    }
}
