//! Tier 2: the logged-in user, and who may do what to a submission, as the
//! broker decides it.

use crate::auth::Claims;
use crate::db::submissions::Submission;
use crate::db::users::{Affiliation, User};

/// A logged-in user with their affiliations.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub affiliations: Vec<Affiliation>,
    pub claims: Claims,
}

/// What a route wants to do with a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any affiliation with the submission's agency.
    Read,
    /// Writing a DABS submission: writer or submitter.
    WriteDabs,
}

fn same_agency(aff: &Affiliation, sub: &Submission) -> bool {
    let cgac = sub.cgac_code.is_some() && aff.cgac_code == sub.cgac_code;
    let frec = sub.frec_code.is_some() && aff.frec_code == sub.frec_code;
    cgac || frec
}

/// Website admins and the submission's creator may do anything; otherwise an
/// affiliation with the submission's agency (CGAC or FREC) at the right level.
pub fn can(user: &CurrentUser, sub: &Submission, access: Access) -> bool {
    if user.user.website_admin || sub.user_id == Some(user.user.user_id) {
        return true;
    }
    user.affiliations
        .iter()
        .filter(|a| same_agency(a, sub))
        .any(|a| match access {
            Access::Read => true,
            Access::WriteDabs => a.permission.can_write_dabs(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::domain::{Permission, PublishStatus};
    use crate::base::ids::{SubmissionId, UserId};

    fn user(
        id: i64,
        admin: bool,
        affs: &[(Option<&str>, Option<&str>, Permission)],
    ) -> CurrentUser {
        CurrentUser {
            user: User {
                user_id: UserId(id),
                email: format!("u{id}@x"),
                name: None,
                title: None,
                website_admin: admin,
                password_hash: None,
                skip_guide: false,
            },
            affiliations: affs
                .iter()
                .map(|(c, f, p)| Affiliation {
                    cgac_code: c.map(String::from),
                    frec_code: f.map(String::from),
                    agency_name: String::new(),
                    permission: *p,
                })
                .collect(),
            claims: Claims {
                sub: id.to_string(),
                exp: 0,
                iat: 0,
                jti: String::new(),
                iss: String::new(),
            },
        }
    }

    fn sub(owner: i64, cgac: Option<&str>, frec: Option<&str>) -> Submission {
        Submission {
            submission_id: SubmissionId(1),
            user_id: Some(UserId(owner)),
            cgac_code: cgac.map(String::from),
            frec_code: frec.map(String::from),
            reporting_fiscal_year: None,
            reporting_fiscal_period: None,
            is_quarter_format: false,
            is_fabs: false,
            publish_status: PublishStatus::Unpublished,
        }
    }

    #[test]
    fn permission_rules_follow_the_broker() {
        use Permission::*;
        let cgac_sub = sub(1, Some("097"), None);
        let frec_sub = sub(1, None, Some("1125"));
        let reader = user(2, false, &[(Some("097"), None, Reader)]);
        let writer = user(3, false, &[(Some("097"), None, Writer)]);
        let fabs = user(4, false, &[(Some("097"), None, Fabs)]);
        let other = user(5, false, &[(Some("020"), None, Submitter)]);
        let frec_writer = user(6, false, &[(None, Some("1125"), Submitter)]);
        let admin = user(7, true, &[]);
        let owner = user(1, false, &[]);

        assert!(can(&reader, &cgac_sub, Access::Read));
        assert!(!can(&reader, &cgac_sub, Access::WriteDabs));
        assert!(can(&writer, &cgac_sub, Access::WriteDabs));
        assert!(can(&fabs, &cgac_sub, Access::Read));
        assert!(!can(&fabs, &cgac_sub, Access::WriteDabs));
        assert!(!can(&other, &cgac_sub, Access::Read));
        assert!(can(&frec_writer, &frec_sub, Access::WriteDabs));
        assert!(!can(&frec_writer, &cgac_sub, Access::Read));
        assert!(!can(&writer, &frec_sub, Access::Read));
        assert!(can(&admin, &frec_sub, Access::WriteDabs));
        assert!(can(&owner, &cgac_sub, Access::WriteDabs));
    }
}
