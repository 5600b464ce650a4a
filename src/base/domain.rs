//! Domain types parsed at the edge: statuses, types and permission levels,
//! stored in SQLite as their names.

use std::fmt;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the exact stored or wire name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// Status of a row in `jobs`.
    JobStatus {
        Waiting => "waiting",
        Ready => "ready",
        Running => "running",
        Finished => "finished",
        Invalid => "invalid",
        Failed => "failed",
    }
);

named_enum!(
    /// Kind of a row in `jobs`.
    JobType {
        FileUpload => "file_upload",
        CsvRecordValidation => "csv_record_validation",
        Validation => "validation",
    }
);

named_enum!(
    /// The files broker-lite generates (the `file_type` parameter of the routes).
    FileType {
        D1 => "D1",
        D2 => "D2",
        E => "E",
        F => "F",
        /// An agency's budgetary resources per TAS, from GTAS SF-133 lines.
        A => "A",
        /// GTAS object-class balances against the agency's published File B.
        Boc => "BOC",
    }
);

named_enum!(
    /// What a queued task asks the worker to do (`generation_tasks.kind`).
    /// The stored names predate other file types than D and E/F.
    TaskKind {
        /// Generate a cached file for a `file_generation` and every job waiting on it.
        GenerateShared => "generate_d",
        /// Generate one job's own file (not cached).
        GenerateForJob => "generate_ef",
        /// Copy a cached generation's file to a job.
        Attach => "attach",
        /// Run a submission file's file-level validation.
        Validate => "validate",
    }
);

named_enum!(
    /// State of a queued task (`generation_tasks.state`).
    TaskState {
        Queued => "queued",
        Running => "running",
        Done => "done",
        Failed => "failed",
        /// A newer request for the same job replaced it before it ran.
        Cancelled => "cancelled",
    }
);

named_enum!(
    /// Status reported by the generation status routes.
    GenerationStatus {
        Waiting => "waiting",
        Invalid => "invalid",
        Finished => "finished",
        Failed => "failed",
    }
);

named_enum!(
    /// Permission level of a user affiliation.
    Permission {
        Reader => "reader",
        Writer => "writer",
        Submitter => "submitter",
        EditFabs => "editfabs",
        Fabs => "fabs",
    }
);

named_enum!(
    /// Publication state of a submission.
    PublishStatus {
        Unpublished => "unpublished",
        Published => "published",
        Updated => "updated",
        Publishing => "publishing",
        Reverting => "reverting",
    }
);

named_enum!(
    /// Whose agency code selects D rows: the awarding or the funding agency.
    AgencyType {
        Awarding => "awarding",
        Funding => "funding",
    }
);

named_enum!(
    /// Output format of a D file: comma-separated or pipe-delimited.
    FileFormat {
        Csv => "csv",
        Txt => "txt",
    }
);

impl FileFormat {
    pub fn delimiter(self) -> u8 {
        match self {
            FileFormat::Csv => b',',
            FileFormat::Txt => b'|',
        }
    }
}

impl Permission {
    /// Whether the level allows writing DABS submissions.
    pub fn can_write_dabs(self) -> bool {
        matches!(self, Permission::Writer | Permission::Submitter)
    }
}

/// Whether the broker's File A rules take an agency code for a FREC: four
/// characters (`fileA.py`, `filters_helper.py`).
pub fn is_frec_code(code: &str) -> bool {
    code.chars().count() == 4
}

/// Whether the broker's BOC comparison takes an agency code for a CGAC:
/// three characters (`fileBOC.py`; any other length is looked up as a FREC).
pub fn is_cgac_code(code: &str) -> bool {
    code.chars().count() == 3
}

/// Reads a named enum out of a SQLite text column (by position or name).
pub fn column_enum<T, I>(
    row: &rusqlite::Row<'_>,
    column: I,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T>
where
    I: rusqlite::RowIndex + Copy + fmt::Debug,
{
    let text = row.get_ref(column)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unexpected {column:?} {text:?}").into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_parsing_is_exact() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(FileType::parse("D1"), Some(FileType::D1));
        assert_eq!(FileType::parse("d1"), None);
        assert_eq!(FileType::parse("BOC"), Some(FileType::Boc));
        assert_eq!(FileType::parse("boc"), None);
    }
}
