//! Domain types parsed at the edge: statuses, types and permission levels,
//! stored in SQLite as their names.

use std::fmt;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

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

impl FileType {
    /// D1 and D2 carry a date range and a validation job of their own.
    pub fn is_d_file(self) -> bool {
        matches!(self, FileType::D1 | FileType::D2)
    }
}

impl Permission {
    /// Whether the level allows writing DABS submissions.
    pub fn can_write_dabs(self) -> bool {
        matches!(self, Permission::Writer | Permission::Submitter)
    }
}

/// Reads a named enum out of a SQLite text column.
pub fn column_enum<T>(
    row: &rusqlite::Row<'_>,
    idx: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value {text:?}").into(),
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
        assert_eq!(FileType::parse("A"), None);
    }
}
