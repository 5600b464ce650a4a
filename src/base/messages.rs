//! The broker's messages, each defined once. Routes, the status mapping and
//! the worker all answer with these; tests compare against the same text.

// Sessions.
pub const LOGIN_REQUIRED: &str = "Login Required";
pub const LOGIN_SUCCESSFUL: &str = "Login successful";
pub const LOGOUT_SUCCESSFUL: &str = "Logout successful";
/// Any refused login, locked ones included.
pub const INVALID_LOGIN: &str = "Invalid username or password";
pub const LOGINS_BUSY: &str = "Too many logins at once; try again shortly";
pub const NO_PERMISSION: &str = "User does not have permission to access that submission";

// Parameters.
pub const SUBMISSION_ID_REQUIRED: &str = "submission_id is required";
pub const SUBMISSION_ID_NOT_INTEGER: &str = "submission_id: Not a valid integer.";
pub const NO_SUCH_SUBMISSION: &str = "No such submission";
pub const FILE_TYPE_MISSING: &str = "file_type: Missing data for required field.";
pub const JOB_ID_MISSING: &str = "job_id: Missing data for required field.";
pub const JOB_ID_NOT_INTEGER: &str = "job_id: Not a valid integer.";
pub const AGENCY_TYPE_INVALID: &str = "agency_type: Must be either awarding or funding if provided";
pub const FILE_FORMAT_INVALID: &str = "file_format: Must be either csv or txt if provided";
pub const ELEMENT_NUMBERS_INVALID: &str = "element_numbers: Not a valid boolean.";

/// `{name}: Must be in the format MM/DD/YYYY`.
pub fn date_format_invalid(name: &str) -> String {
    format!("{name}: Must be in the format MM/DD/YYYY")
}

/// `{name}: Missing data for required field.`
pub fn missing_field(name: &str) -> String {
    format!("{name}: Missing data for required field.")
}

/// `{name}: Not a valid string.`
pub fn not_a_string(name: &str) -> String {
    format!("{name}: Not a valid string.")
}

// Generation requests.
pub const FABS_SUBMISSION: &str = "Cannot generate files for FABS submissions.";
pub const NEED_DATES: &str = "Must have a start and end date for D file generation.";
pub const PREREQUISITES_UNFINISHED: &str =
    "Must wait for completion of prerequisite validation job";
pub const NEED_AGENCY: &str = "Detached file generation requires CGAC or FR Entity Code";
pub const DETACHED_FILE_TYPE_INVALID: &str = "file_type: Must be one of: A, BOC, D1, D2.";
pub const NEED_YEAR_AND_PERIOD: &str = "Must have a year and period for A or BOC file generation.";
pub const YEAR_NOT_INTEGER: &str = "year: Not a valid integer.";
pub const YEAR_FORMAT_INVALID: &str = "Year must be in YYYY format.";
pub const PERIOD_NOT_INTEGER: &str = "period: Not a valid integer.";
pub const PERIOD_INVALID: &str = "period: Period must be an integer 2-12.";

/// BOC generation without a published submission of the agency for the
/// period, or without any GTAS BOC rows for it: names what is missing.
pub fn no_published_submission_or_boc_data(no_submission: bool, no_data: bool) -> String {
    let missing: Vec<&str> = [
        (no_submission, "published submission"),
        (no_data, "BOC data"),
    ]
    .iter()
    .filter(|(missing, _)| *missing)
    .map(|(_, what)| *what)
    .collect();
    format!(
        "There is no {} for the selected agency in the selected year and period",
        missing.join(" or ")
    )
}
pub const NO_GENERATION_JOB: &str = "No generation job found with the specified ID";
pub const NOT_DETACHED: &str = "This is not a detached generation job.";

// The web app's routes.
pub const NO_RESPONSE_FOR_SUBMISSION: &str = "The submission ID returns no response";
pub const FILE_URL_TYPE_INVALID: &str =
    "file_type: Must be one of: A, B, BOC, C, D1, D2, E, F, FABS.";
pub const FILE_TYPE_WRONG_FOR_SUBMISSION: &str = "Invalid file type for this submission";
pub const NO_FILE_FOR_TYPE: &str = "No file uploaded or generated for this type";
pub const LOGIN_NOT_BOOLEAN: &str = "login: Not a valid boolean.";

// The status mapping.
pub const UPLOAD_FAILED_NO_MESSAGE: &str = "Upload job failed without error message";
pub const ROW_LEVEL_ERRORS: &str = "Validation completed but row-level errors were found";
pub const FILE_LEVEL_ERRORS: &str = "Generated file had file-level errors";
pub const VALIDATION_INTERNAL_ERROR: &str = "Validation job had an internal error";

/// The data fault of a D1/D2 upload job without its validation job.
pub fn missing_validation_job(
    upload_job_id: impl std::fmt::Display,
    submission_id: impl std::fmt::Display,
) -> String {
    format!(
        "The upload Job {upload_job_id} with submission_id {submission_id} is missing its validation Job"
    )
}

/// The data fault of a submission without an upload job for a file type.
pub fn missing_upload_job(
    submission_id: impl std::fmt::Display,
    file_type: impl std::fmt::Display,
) -> String {
    format!("The submission {submission_id} has no upload Job for file type {file_type}")
}

// The broker's web framework (Flask) on unknown paths and methods.
pub const URL_NOT_FOUND: &str = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
pub const METHOD_NOT_ALLOWED: &str = "The method is not allowed for the requested URL.";

// Answers of our own (not the broker's).
pub const INTERNAL_ERROR: &str = "An internal error occurred";
pub const BODY_TOO_LARGE: &str = "Request body is too large";
