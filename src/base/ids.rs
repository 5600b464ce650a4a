//! Typed row ids: a `JobId` cannot be passed where a `SubmissionId` is
//! wanted. Each binds to and reads from SQLite as its integer and serialises
//! as a plain number.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// `users.user_id`.
    UserId
);
id_type!(
    /// `submissions.submission_id`.
    SubmissionId
);
id_type!(
    /// `jobs.job_id`.
    JobId
);
id_type!(
    /// `file_generation.file_generation_id`: one cached generation.
    FileGenerationId
);
id_type!(
    /// `generation_tasks.task_id`: one unit of queued work.
    TaskId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bind_read_and_serialise_as_integers() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let back: JobId = conn
            .query_row("SELECT ?1 + 1", [JobId(41)], |r| r.get(0))
            .unwrap();
        assert_eq!(back, JobId(42));
        assert_eq!(serde_json::to_string(&SubmissionId(7)).unwrap(), "7");
        assert_eq!(TaskId(3).to_string(), "3");
    }
}
