//! How long a structure keeps its users' one-to-one archives (XEP-0313 on accounts):
//! [`Retention`], and the date the school year starts ([`YearStart`]), as pure values.
//!
//! A retention is a maximum: past it, archived messages are deleted for real. The default
//! is [`Retention::SchoolYear`]: what is older than the start of the current school year
//! (in France, 1 September) is deleted, so on 1 September the archive of the past year
//! goes. A structure may set a number of days instead ([`Retention::Days`], 1 to
//! [`MAX_DAYS`]). A user of several structures keeps his archive no longer than the
//! shortest of their retentions (each school's retention is a limit it promised).

use serde::{Deserialize, Serialize};

/// Longest retention in days a structure may set (ten years).
pub const MAX_DAYS: u32 = 3650;

/// See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Retention {
    /// Kept until the start of the next school year.
    #[default]
    SchoolYear,
    /// Kept this many days (1 to [`MAX_DAYS`]).
    Days(u32),
}

impl Retention {
    /// Parses `school_year` (or `school-year`) or a number of days, `30` or `30d`.
    pub fn parse(s: &str) -> Result<Retention, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("school_year") || s.eq_ignore_ascii_case("school-year") {
            return Ok(Retention::SchoolYear);
        }
        let digits = s.strip_suffix('d').unwrap_or(s);
        let days: u32 = digits.parse().map_err(|_| {
            format!("`{s}` is not a retention: give \"school_year\" or a number of days")
        })?;
        Retention::days(days)
    }

    /// A retention of `days` days, checked (1 to [`MAX_DAYS`]).
    pub fn days(days: u32) -> Result<Retention, String> {
        if (1..=MAX_DAYS).contains(&days) {
            Ok(Retention::Days(days))
        } else {
            Err(format!(
                "a retention is 1 to {MAX_DAYS} days (or \"school_year\"), not {days}"
            ))
        }
    }

    /// The stored and JSON form: `school_year` or the number of days.
    pub fn as_text(self) -> String {
        match self {
            Retention::SchoolYear => "school_year".into(),
            Retention::Days(d) => d.to_string(),
        }
    }

    /// In French, for texts shown to administrators.
    pub fn label_fr(self) -> String {
        match self {
            Retention::SchoolYear => "l'année scolaire".into(),
            Retention::Days(d) => format!("{d} jours"),
        }
    }
}

impl Serialize for Retention {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Retention::SchoolYear => s.serialize_str("school_year"),
            Retention::Days(d) => s.serialize_u32(*d),
        }
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Retention, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Days(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Days(n) => u32::try_from(n)
                .map_err(|_| format!("a retention is 1 to {MAX_DAYS} days, not {n}"))
                .and_then(Retention::days),
            Raw::Text(t) => Retention::parse(&t),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The day the school year starts, each year (default 1 September).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearStart {
    pub month: u32,
    pub day: u32,
}

impl Default for YearStart {
    fn default() -> YearStart {
        YearStart { month: 9, day: 1 }
    }
}

impl YearStart {
    /// Parses `MM-DD` (`09-01`); the day must exist every year (no 29 February).
    pub fn parse(s: &str) -> Result<YearStart, String> {
        let bad = || format!("`{s}` is not a day of the year \"MM-DD\" (such as \"09-01\")");
        let (m, d) = s.trim().split_once('-').ok_or_else(bad)?;
        let (month, day): (u32, u32) =
            (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
        let days_in = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 => 28,
            _ => return Err(bad()),
        };
        if day == 0 || day > days_in {
            return Err(bad());
        }
        Ok(YearStart { month, day })
    }

    /// The start (year, month, day) of the school year that `today` (year, month, day)
    /// is in: this year's start if it is passed (or today), else last year's.
    pub fn current(self, today: (i32, u32, u32)) -> (i32, u32, u32) {
        let (y, m, d) = today;
        if (m, d) >= (self.month, self.day) {
            (y, self.month, self.day)
        } else {
            (y - 1, self.month, self.day)
        }
    }
}

impl<'de> Deserialize<'de> for YearStart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<YearStart, D::Error> {
        YearStart::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_text() {
        assert_eq!(Retention::parse("school_year"), Ok(Retention::SchoolYear));
        assert_eq!(Retention::parse("school-year"), Ok(Retention::SchoolYear));
        assert_eq!(Retention::parse("30"), Ok(Retention::Days(30)));
        assert_eq!(Retention::parse("30d"), Ok(Retention::Days(30)));
        for bad in ["0", "3651", "-1", "forever", ""] {
            assert!(Retention::parse(bad).is_err(), "{bad}");
        }
        for r in [Retention::SchoolYear, Retention::Days(7)] {
            assert_eq!(Retention::parse(&r.as_text()), Ok(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Retention>(&json).unwrap(), r);
        }
        assert!(serde_json::from_str::<Retention>("0").is_err());
        assert!(serde_json::from_str::<Retention>("\"ever\"").is_err());
    }

    #[test]
    fn school_year_starts() {
        let s = YearStart::default();
        assert_eq!(s.current((2025, 9, 1)), (2025, 9, 1));
        assert_eq!(s.current((2025, 8, 31)), (2024, 9, 1));
        assert_eq!(s.current((2026, 1, 15)), (2025, 9, 1));
        assert_eq!(
            YearStart::parse("08-25"),
            Ok(YearStart { month: 8, day: 25 })
        );
        for bad in ["02-29", "13-01", "09-31", "9", "aa-bb", "09-00"] {
            assert!(YearStart::parse(bad).is_err(), "{bad}");
        }
    }
}
