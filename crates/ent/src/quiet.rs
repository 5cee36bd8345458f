//! Quiet hours (« Heures calmes »): the hours of the day when a structure's pupils (or
//! other profiles it chose) are not disturbed. A message to someone in his quiet hours is
//! held by the server and delivered when they end; its sender is told.
//!
//! A structure's setting ([`QuietHours`]) is a time zone and a list of windows, each for
//! some profiles, from a local time to another (over midnight when the end comes before
//! the start: 21:00–07:00). The default ([`QuietHours::school_default`]) is 21:00–07:00
//! in Europe/Paris for pupils only; no window at all means no quiet hours.
//!
//! The decision is a pure function of the instant ([`QuietHours::quiet_at`]): whether a
//! profile is in quiet hours then, and until which instant (the end of the window, in the
//! structure's time zone, across daylight saving changes: an end that falls in the
//! spring's missing hour is the first instant after it, one that falls twice in the
//! autumn is its first occurrence).

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Profile;
use crate::register::Text;

/// The time zone of a structure that set none.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Paris";

/// The most windows one structure may have.
pub const MAX_WINDOWS: usize = 10;

/// A local time of day, in seconds since midnight (0..86400), written "HH:MM" or
/// "HH:MM:SS".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(pub u32);

impl TimeOfDay {
    pub const fn hm(h: u32, m: u32) -> TimeOfDay {
        TimeOfDay(h * 3600 + m * 60)
    }

    /// Parses "HH:MM" or "HH:MM:SS" (24-hour clock).
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let mut n = [0u32; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n[i] = p.parse().ok()?;
        }
        if n[0] > 23 || n[1] > 59 || n[2] > 59 {
            return None;
        }
        Some(TimeOfDay(n[0] * 3600 + n[1] * 60 + n[2]))
    }

    fn parts(self) -> (u32, u32, u32) {
        (self.0 / 3600, self.0 / 60 % 60, self.0 % 60)
    }

    fn civil(self) -> Time {
        let (h, m, s) = self.parts();
        // In range by construction (parse, hm with valid values).
        Time::new(h as i8, m as i8, s as i8, 0).unwrap_or(Time::midnight())
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (h, m, s) = self.parts();
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeOfDay::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("\"{s}\" is not a time of day (HH:MM)"))
        })
    }
}

/// One window: `profiles` are quiet from `start` to `end` (local times; over midnight
/// when `end` < `start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietWindow {
    pub profiles: Vec<Profile>,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl QuietWindow {
    /// Parses `PROFILES@START-END` ("student@21:00-07:00", "student,relative@22:00-06:30"),
    /// the command line's form; [`std::fmt::Display`] writes it back.
    pub fn parse(s: &str) -> Result<QuietWindow, String> {
        let bad = || format!("\"{s}\" is not a window: PROFILES@HH:MM-HH:MM (student@21:00-07:00)");
        let (profiles, times) = s.trim().split_once('@').ok_or_else(bad)?;
        let (start, end) = times.split_once('-').ok_or_else(bad)?;
        let profiles = profiles
            .split(',')
            .map(|p| {
                Profile::parse(p.trim()).ok_or_else(|| format!("unknown profile \"{}\"", p.trim()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QuietWindow {
            profiles,
            start: TimeOfDay::parse(start).ok_or_else(bad)?,
            end: TimeOfDay::parse(end).ok_or_else(bad)?,
        })
    }

    /// Whether the local time `t` is inside the window.
    pub fn contains(&self, t: TimeOfDay) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

impl std::fmt::Display for QuietWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let profiles: Vec<&str> = self.profiles.iter().map(|p| p.as_str()).collect();
        write!(f, "{}@{}-{}", profiles.join(","), self.start, self.end)
    }
}

/// A structure's quiet hours (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// An IANA time zone name ("Europe/Paris", "America/Cayenne", "UTC").
    pub time_zone: String,
    #[serde(default)]
    pub windows: Vec<QuietWindow>,
}

/// Someone is in quiet hours until an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiet {
    /// When they end (milliseconds since the Unix epoch).
    pub until_ms: i64,
    /// When they end, as the structure's clock reads it ("07:00").
    pub until_local: String,
}

impl QuietHours {
    /// The setting of a structure that never set its own: pupils, 21:00–07:00, Paris.
    pub fn school_default() -> QuietHours {
        QuietHours {
            time_zone: DEFAULT_TIME_ZONE.into(),
            windows: vec![QuietWindow {
                profiles: vec![Profile::Student],
                start: TimeOfDay::hm(21, 0),
                end: TimeOfDay::hm(7, 0),
            }],
        }
    }

    /// No quiet hours at all.
    pub fn none() -> QuietHours {
        QuietHours {
            time_zone: DEFAULT_TIME_ZONE.into(),
            windows: Vec::new(),
        }
    }

    /// The setting checked: a known time zone, at most [`MAX_WINDOWS`] windows, each with
    /// profiles (without repeats, in the canonical order) and a start different from its
    /// end. The error names the field (English, for the API's and the CLI's errors).
    pub fn validated(mut self) -> Result<QuietHours, String> {
        self.time_zone = self.time_zone.trim().to_string();
        if TimeZone::get(&self.time_zone).is_err() {
            return Err(format!(
                "time_zone: unknown time zone \"{}\" (an IANA name such as Europe/Paris)",
                self.time_zone
            ));
        }
        if self.windows.len() > MAX_WINDOWS {
            return Err(format!("windows: at most {MAX_WINDOWS} windows"));
        }
        for (i, w) in self.windows.iter_mut().enumerate() {
            w.profiles = Profile::ALL
                .into_iter()
                .filter(|p| w.profiles.contains(p))
                .collect();
            if w.profiles.is_empty() {
                return Err(format!("windows[{i}].profiles: no profile"));
            }
            if w.start == w.end {
                return Err(format!("windows[{i}]: the start and the end are the same"));
            }
        }
        Ok(self)
    }

    /// Whether `profile` is in quiet hours at `now_ms` (milliseconds since the epoch),
    /// and until when (the latest end of the windows he is in). None when not, or when
    /// the time zone is unknown (a setting is validated before it is stored).
    pub fn quiet_at(&self, profile: Profile, now_ms: i64) -> Option<Quiet> {
        let tz = TimeZone::get(&self.time_zone).ok()?;
        let now = Timestamp::from_millisecond(now_ms).ok()?;
        let local = tz.to_datetime(now);
        let t = TimeOfDay(
            local.hour() as u32 * 3600 + local.minute() as u32 * 60 + local.second() as u32,
        );
        let mut best: Option<(Timestamp, TimeOfDay)> = None;
        for w in self
            .windows
            .iter()
            .filter(|w| w.profiles.contains(&profile) && w.contains(t))
        {
            let Some(end) = end_after(&tz, now, local, t, w.end) else {
                continue;
            };
            if best.is_none_or(|(b, _)| end > b) {
                best = Some((end, w.end));
            }
        }
        best.map(|(end, local_end)| Quiet {
            until_ms: end.as_millisecond(),
            until_local: local_end.to_string(),
        })
    }

    /// Whether any window applies to `profile` (a setting that concerns him at all).
    pub fn concerns(&self, profile: Profile) -> bool {
        self.windows.iter().any(|w| w.profiles.contains(&profile))
    }
}

/// The instant of the next local `end` after the local time `t` of `local` (today when it
/// is still to come, else tomorrow), resolved in `tz` (a time in a gap: the first instant
/// after it; a time that happens twice: the first one after `now`).
fn end_after(
    tz: &TimeZone,
    now: Timestamp,
    local: DateTime,
    t: TimeOfDay,
    end: TimeOfDay,
) -> Option<Timestamp> {
    let mut date = local.date();
    if end <= t {
        date = date.tomorrow().ok()?;
    }
    let dt = date.to_datetime(end.civil());
    let first = tz.to_timestamp(dt).ok()?;
    if first > now {
        return Some(first);
    }
    // The clock went back: the second time it shows `end` today.
    let later = tz.to_ambiguous_timestamp(dt).later().ok()?;
    if later > now {
        return Some(later);
    }
    tz.to_timestamp(date.tomorrow().ok()?.to_datetime(end.civil()))
        .ok()
}

/// The combination for someone in several structures: in quiet hours if any of them says
/// so, until the latest end.
pub fn combine(all: impl IntoIterator<Item = Quiet>) -> Option<Quiet> {
    all.into_iter().max_by_key(|q| q.until_ms)
}

/// What the sender of a held message is told: `name` (the recipient's displayed name) is
/// in quiet hours until `until` (local time); the message will be delivered then.
pub fn held_notice(name: &str, until: &str) -> Text<String> {
    crate::said!(
        tu: "{name} est en heures calmes jusqu'à {until} : ton message lui sera remis à ce moment-là.",
        vous: "{name} est en heures calmes jusqu'à {until} : votre message lui sera remis à ce moment-là.",
        en: "{name} is in quiet hours until {until}: your message will be delivered then.",
    )
}

/// What someone in quiet hours is told (at login, and when they begin).
pub fn started_notice(until: &str) -> Text<String> {
    crate::said!(
        tu: "Heures calmes jusqu'à {until} : ne pas déranger. Les messages reçus d'ici là te seront remis à {until}.",
        vous: "Heures calmes jusqu'à {until} : ne pas déranger. Les messages reçus d'ici là vous seront remis à {until}.",
        en: "Quiet hours until {until}: do not disturb. Messages received until then will be delivered at {until}.",
    )
}

/// What someone is told when his quiet hours end.
pub fn ended_notice() -> Text {
    Text::new(
        "Fin des heures calmes : les messages reçus pendant ce temps te sont remis.",
        "Fin des heures calmes : les messages reçus pendant ce temps vous sont remis.",
        "Quiet hours are over: the messages received meanwhile are delivered.",
    )
}

/// The status shown with the « Ne pas déranger » presence of someone in quiet hours.
pub fn status(until: &str) -> Text<String> {
    // Addresses nobody: the same French in both registers (like `Text::same`).
    let fr = format!("Ne pas déranger : heures calmes jusqu'à {until}");
    Text {
        tu: fr.clone(),
        vous: fr,
        en: format!("Do not disturb: quiet hours until {until}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn hours(tz: &str, start: &str, end: &str, profiles: &[Profile]) -> QuietHours {
        QuietHours {
            time_zone: tz.into(),
            windows: vec![QuietWindow {
                profiles: profiles.to_vec(),
                start: TimeOfDay::parse(start).unwrap(),
                end: TimeOfDay::parse(end).unwrap(),
            }],
        }
        .validated()
        .unwrap()
    }

    #[test]
    fn times_of_day_read_and_print() {
        assert_eq!(TimeOfDay::parse("21:00"), Some(TimeOfDay::hm(21, 0)));
        assert_eq!(TimeOfDay::parse("7:05"), Some(TimeOfDay::hm(7, 5)));
        assert_eq!(TimeOfDay::parse("23:59:30"), Some(TimeOfDay(86370)));
        for bad in [
            "24:00",
            "12:60",
            "12",
            "12:00:00:00",
            "ab:cd",
            "",
            "-1:00",
            "123:00",
        ] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad}");
        }
        assert_eq!(TimeOfDay::hm(7, 0).to_string(), "07:00");
        assert_eq!(TimeOfDay(86370).to_string(), "23:59:30");
        let j: QuietHours = serde_json::from_str(
            r#"{"time_zone":"UTC","windows":[{"profiles":["student"],"start":"21:00","end":"07:00"}]}"#,
        )
        .unwrap();
        assert_eq!(j.windows[0].end, TimeOfDay::hm(7, 0));
        assert!(
            serde_json::from_str::<QuietHours>(
                r#"{"time_zone":"UTC","windows":[{"profiles":[],"start":"25:00","end":"07:00"}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn windows_in_the_command_line_form() {
        let w = QuietWindow::parse("student,relative@22:00-06:30").unwrap();
        assert_eq!(w.profiles, vec![Profile::Student, Profile::Relative]);
        assert_eq!(
            (w.start, w.end),
            (TimeOfDay::hm(22, 0), TimeOfDay::hm(6, 30))
        );
        assert_eq!(w.to_string(), "student,relative@22:00-06:30");
        assert!(
            QuietWindow::parse("pupil@21:00-07:00")
                .unwrap_err()
                .contains("pupil")
        );
        for bad in [
            "student",
            "student@21:00",
            "student@21:00-7",
            "@21:00-07:00",
        ] {
            assert!(QuietWindow::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(QuietHours::school_default().validated().is_ok());
        let mut bad = QuietHours::school_default();
        bad.time_zone = "Mars/Olympus".into();
        assert!(bad.validated().unwrap_err().starts_with("time_zone"));
        let mut same = QuietHours::school_default();
        same.windows[0].end = same.windows[0].start;
        assert!(same.validated().is_err());
        let mut nobody = QuietHours::school_default();
        nobody.windows[0].profiles.clear();
        assert!(nobody.validated().unwrap_err().contains("profiles"));
        let mut many = QuietHours::school_default();
        many.windows = vec![many.windows[0].clone(); MAX_WINDOWS + 1];
        assert!(many.validated().is_err());
        let mut repeated = QuietHours::school_default();
        repeated.windows[0].profiles = vec![Profile::Relative, Profile::Student, Profile::Student];
        assert_eq!(
            repeated.validated().unwrap().windows[0].profiles,
            vec![Profile::Student, Profile::Relative]
        );
    }

    #[test]
    fn a_window_over_midnight() {
        let q = QuietHours::school_default();
        // 22:30 in Paris in winter (UTC+1) is 21:30 UTC.
        let at = q
            .quiet_at(Profile::Student, ms("2026-01-15T21:30:00Z"))
            .unwrap();
        assert_eq!(
            at.until_ms,
            ms("2026-01-16T06:00:00Z"),
            "07:00 tomorrow, Paris"
        );
        assert_eq!(at.until_local, "07:00");
        // After midnight: until 07:00 the same day.
        let at = q
            .quiet_at(Profile::Student, ms("2026-01-16T02:00:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-01-16T06:00:00Z"));
        // The edges: 21:00 is inside, 07:00 is not.
        assert!(
            q.quiet_at(Profile::Student, ms("2026-01-15T20:00:00Z"))
                .is_some()
        );
        assert!(
            q.quiet_at(Profile::Student, ms("2026-01-15T19:59:59Z"))
                .is_none()
        );
        assert!(
            q.quiet_at(Profile::Student, ms("2026-01-16T06:00:00Z"))
                .is_none()
        );
        assert!(
            q.quiet_at(Profile::Student, ms("2026-01-16T05:59:59Z"))
                .is_some()
        );
        // In the day, and for adults: never.
        assert!(
            q.quiet_at(Profile::Student, ms("2026-01-15T12:00:00Z"))
                .is_none()
        );
        for adult in [
            Profile::Relative,
            Profile::Teacher,
            Profile::Personnel,
            Profile::Guest,
        ] {
            assert!(
                q.quiet_at(adult, ms("2026-01-15T23:00:00Z")).is_none(),
                "{adult:?}"
            );
        }
        // In summer Paris is UTC+2: 21:00 is 19:00 UTC.
        assert!(
            q.quiet_at(Profile::Student, ms("2026-07-01T19:30:00Z"))
                .is_some()
        );
        assert_eq!(
            q.quiet_at(Profile::Student, ms("2026-07-01T19:30:00Z"))
                .unwrap()
                .until_ms,
            ms("2026-07-02T05:00:00Z")
        );
    }

    #[test]
    fn a_window_within_the_day_and_other_time_zones() {
        let q = hours("America/Cayenne", "12:00", "14:00", &[Profile::Student]);
        // Cayenne is UTC-3.
        assert!(
            q.quiet_at(Profile::Student, ms("2026-03-01T14:59:00Z"))
                .is_none()
        );
        let at = q
            .quiet_at(Profile::Student, ms("2026-03-01T15:00:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-03-01T17:00:00Z"));
        assert!(
            q.quiet_at(Profile::Student, ms("2026-03-01T17:00:00Z"))
                .is_none()
        );
        let utc = hours("UTC", "10:00:00", "10:00:05", &[Profile::Student]);
        let at = utc
            .quiet_at(Profile::Student, ms("2026-03-01T10:00:02Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-03-01T10:00:05Z"), "seconds count");
        assert_eq!(at.until_local, "10:00:05");
    }

    #[test]
    fn daylight_saving_changes() {
        // Spring: in Paris, 2026-03-29 02:00 → 03:00. A night over the change is an hour
        // shorter: 21:00 (UTC+1) to 07:00 (UTC+2).
        let q = QuietHours::school_default();
        let at = q
            .quiet_at(Profile::Student, ms("2026-03-28T21:00:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-03-29T05:00:00Z"));
        // Autumn: 2026-10-25 03:00 → 02:00; the night is an hour longer.
        let at = q
            .quiet_at(Profile::Student, ms("2026-10-24T20:00:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-10-25T06:00:00Z"));
        // An end in the spring's missing hour (02:30): the first instant after the gap,
        // 03:30 summer time.
        let gap = hours("Europe/Paris", "23:00", "02:30", &[Profile::Student]);
        let at = gap
            .quiet_at(Profile::Student, ms("2026-03-28T23:00:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-03-29T01:30:00Z"));
        // An end that happens twice (02:30 on the autumn night): the first time.
        let twice = hours("Europe/Paris", "23:00", "02:30", &[Profile::Student]);
        let at = twice
            .quiet_at(Profile::Student, ms("2026-10-24T22:00:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-10-25T00:30:00Z"));
        // Inside the repeated hour, before the first 02:30: still quiet, same end.
        assert!(
            twice
                .quiet_at(Profile::Student, ms("2026-10-25T00:15:00Z"))
                .is_some()
        );
        // Between the two 02:30s (the second 02:00–02:30): quiet again by the clock, until
        // the next 02:30 the clock shows, which is the second one (the earliest instant
        // after now of that civil time).
        let at = twice
            .quiet_at(Profile::Student, ms("2026-10-25T01:15:00Z"))
            .unwrap();
        assert_eq!(at.until_ms, ms("2026-10-25T01:30:00Z"));
    }

    #[test]
    fn several_windows_and_structures() {
        let q = QuietHours {
            time_zone: "UTC".into(),
            windows: vec![
                QuietWindow {
                    profiles: vec![Profile::Student],
                    start: TimeOfDay::hm(21, 0),
                    end: TimeOfDay::hm(7, 0),
                },
                QuietWindow {
                    profiles: vec![Profile::Student, Profile::Relative],
                    start: TimeOfDay::hm(22, 0),
                    end: TimeOfDay::hm(8, 0),
                },
            ],
        };
        let at = q
            .quiet_at(Profile::Student, ms("2026-01-15T23:00:00Z"))
            .unwrap();
        assert_eq!(at.until_local, "08:00", "the latest end");
        assert!(
            q.quiet_at(Profile::Relative, ms("2026-01-15T21:30:00Z"))
                .is_none()
        );
        assert!(q.concerns(Profile::Relative) && !q.concerns(Profile::Teacher));
        assert!(QuietHours::none().quiet_at(Profile::Student, 0).is_none());
        let a = Quiet {
            until_ms: 5,
            until_local: "a".into(),
        };
        let b = Quiet {
            until_ms: 9,
            until_local: "b".into(),
        };
        assert_eq!(combine([a.clone(), b.clone()]), Some(b));
        assert_eq!(combine(std::iter::empty()), None);
    }

    #[test]
    fn notices_speak_in_each_register() {
        assert_eq!(held_notice("Léa Martin", "07:00").check(), Ok(()));
        assert_eq!(started_notice("07:00").check(), Ok(()));
        assert_eq!(ended_notice().check(), Ok(()));
        assert!(held_notice("Léa", "07:00").vous.contains("votre message"));
        assert!(held_notice("Léa", "07:00").tu.contains("ton message"));
    }
}
