//! Treasury Account Symbols as the broker writes them from their parts: the
//! `tas` key (fixed-width, gaps filled) and the `display_tas` label.

/// The parts of a TAS, as stored (`None` for NULL).
#[derive(Debug, Clone, Copy, Default)]
pub struct TasParts<'a> {
    pub allocation_transfer_agency: Option<&'a str>,
    pub agency_identifier: Option<&'a str>,
    pub beginning_period_of_availa: Option<&'a str>,
    pub ending_period_of_availabil: Option<&'a str>,
    pub availability_type_code: Option<&'a str>,
    pub main_account_code: Option<&'a str>,
    pub sub_account_code: Option<&'a str>,
}

/// The part columns, in TAS order.
pub const TAS_PART_COLUMNS: [&str; 7] = [
    "allocation_transfer_agency",
    "agency_identifier",
    "beginning_period_of_availa",
    "ending_period_of_availabil",
    "availability_type_code",
    "main_account_code",
    "sub_account_code",
];

impl<'a> TasParts<'a> {
    /// Parts by column name (see [`TAS_PART_COLUMNS`]).
    pub fn from_lookup(get: impl Fn(&str) -> Option<&'a str>) -> TasParts<'a> {
        TasParts {
            allocation_transfer_agency: get(TAS_PART_COLUMNS[0]),
            agency_identifier: get(TAS_PART_COLUMNS[1]),
            beginning_period_of_availa: get(TAS_PART_COLUMNS[2]),
            ending_period_of_availabil: get(TAS_PART_COLUMNS[3]),
            availability_type_code: get(TAS_PART_COLUMNS[4]),
            main_account_code: get(TAS_PART_COLUMNS[5]),
            sub_account_code: get(TAS_PART_COLUMNS[6]),
        }
    }

    /// The `tas` key: every part, a missing one as zeros (a blank type code).
    pub fn tas(&self) -> String {
        [
            (self.allocation_transfer_agency, "000"),
            (self.agency_identifier, "000"),
            (self.beginning_period_of_availa, "0000"),
            (self.ending_period_of_availabil, "0000"),
            (self.availability_type_code, " "),
            (self.main_account_code, "0000"),
            (self.sub_account_code, "000"),
        ]
        .iter()
        .map(|(part, missing)| part.unwrap_or(missing))
        .collect()
    }

    /// The label: `ATA-AID-` then the type code or `BPOA/EPOA`, then
    /// `-MAIN-SUB`, leaving out empty parts (`020-X-5688-000`,
    /// `097-2019/2020-0100-000`).
    pub fn display_tas(&self) -> String {
        let present = |part: Option<&'a str>| part.filter(|p| !p.is_empty());
        let mut parts: Vec<String> = [self.allocation_transfer_agency, self.agency_identifier]
            .into_iter()
            .filter_map(present)
            .map(str::to_string)
            .collect();
        match present(self.availability_type_code) {
            Some(code) => parts.push(code.to_string()),
            None => {
                let years: Vec<&str> = [
                    self.beginning_period_of_availa,
                    self.ending_period_of_availabil,
                ]
                .into_iter()
                .filter_map(present)
                .collect();
                if !years.is_empty() {
                    parts.push(years.join("/"));
                }
            }
        }
        parts.extend(
            [self.main_account_code, self.sub_account_code]
                .into_iter()
                .filter_map(present)
                .map(str::to_string),
        );
        parts.join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_labels_follow_the_broker() {
        let x = TasParts {
            agency_identifier: Some("020"),
            availability_type_code: Some("X"),
            main_account_code: Some("5688"),
            sub_account_code: Some("000"),
            ..TasParts::default()
        };
        assert_eq!(x.tas(), "00002000000000X5688000");
        assert_eq!(x.display_tas(), "020-X-5688-000");
        let annual = TasParts {
            allocation_transfer_agency: Some("017"),
            agency_identifier: Some("097"),
            beginning_period_of_availa: Some("2019"),
            ending_period_of_availabil: Some("2020"),
            main_account_code: Some("0100"),
            sub_account_code: Some("000"),
            ..TasParts::default()
        };
        assert_eq!(annual.tas(), "01709720192020 0100000");
        assert_eq!(annual.display_tas(), "017-097-2019/2020-0100-000");
    }
}
