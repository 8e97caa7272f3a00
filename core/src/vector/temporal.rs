//! Dates and date-times of attribute columns: parsed once from the formats' text forms
//! (ISO 8601, Shapefile `YYYYMMDD`) and written back in ISO 8601, as GDAL does.
//!
//! A [`Date`](super::ColumnData::Date) is a day count since 1970-01-01 (proleptic Gregorian,
//! like numpy's `datetime64[D]`); a [`Timestamp`] is milliseconds since 1970-01-01T00:00 plus the
//! time zone the source gave (`None`: a local, "naive" time, as GDAL's `TZFlag` unknown).

/// A date-time: milliseconds since 1970-01-01T00:00:00 **UTC** when `offset_min` is known,
/// of the wall clock otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    /// Milliseconds since the epoch (UTC when the offset is known, wall clock when not).
    pub ms: i64,
    /// The source's UTC offset in minutes (`Some(0)` for `Z`), `None` for a time without zone.
    pub offset_min: Option<i16>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day count since 1970-01-01 (`civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')))
}

/// `YYYY-MM-DD` (or `YYYY/MM/DD`, GDAL's other form) at the start of `s`: the day count and the
/// rest of the string.
fn date_prefix(s: &[u8]) -> Option<(i64, &[u8])> {
    if s.len() < 10 || !(s[4] == s[7] && (s[4] == b'-' || s[4] == b'/')) {
        return None;
    }
    let (y, m, d) = (digits(&s[..4])?, digits(&s[5..7])? as u32, digits(&s[8..10])? as u32);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some((days_from_civil(y, m, d), &s[10..]))
}

/// A date in ISO form `YYYY-MM-DD` (also `YYYY/MM/DD`); `None` for anything else.
pub fn parse_date(s: &str) -> Option<i32> {
    match date_prefix(s.trim().as_bytes())? {
        (d, []) => i32::try_from(d).ok(),
        _ => None,
    }
}

/// A Shapefile date (`YYYYMMDD`); `None` for anything else (blank dates are nulls).
pub fn parse_yyyymmdd(s: &str) -> Option<i32> {
    // bytes, not `str` slices: a corrupt field's multi-byte character must not split a slice
    let b = s.trim().as_bytes();
    if b.len() != 8 {
        return None;
    }
    let iso = [&b[..4], b"-", &b[4..6], b"-", &b[6..]].concat();
    match date_prefix(&iso)? {
        (d, []) => i32::try_from(d).ok(),
        _ => None,
    }
}

/// An ISO 8601 date-time: `YYYY-MM-DD[T| ]HH:MM[:SS[.fff…]][Z|±HH[:MM]]`; `None` for anything
/// else, also for a bare date (see [`parse_date_or_datetime`]).
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    let (days, rest) = date_prefix(s.trim().as_bytes())?;
    let rest = match rest.first() {
        Some(b'T' | b't' | b' ') => &rest[1..],
        _ => return None,
    };
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let (h, mi) = (digits(&rest[..2])?, digits(&rest[3..5])?);
    let mut rest = &rest[5..];
    let (mut sec, mut ms) = (0i64, 0i64);
    if rest.first() == Some(&b':') {
        sec = digits(rest.get(1..3)?)?;
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            // milliseconds, truncated like GDAL's
            let frac = &rest[1..1 + n.min(3)];
            ms = digits(frac)? * 10i64.pow(3 - frac.len() as u32);
            rest = &rest[1 + n..];
        }
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let offset_min = match rest {
        [] => None,
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let (oh, om) = match tz {
                [a, b] => (digits(&[*a, *b])?, 0),
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                _ => return None,
            };
            if oh > 14 || om > 59 {
                return None;
            }
            let o = (oh * 60 + om) as i16;
            Some(if *sign == b'-' { -o } else { o })
        }
        _ => return None,
    };
    let wall = ((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms;
    let ms = wall - i64::from(offset_min.unwrap_or(0)) * 60_000;
    Some(Timestamp { ms, offset_min })
}

/// A date-time, or a bare date as midnight without zone (FlatGeobuf DateTime columns and
/// GeoPackage DATETIME columns may hold either).
pub fn parse_date_or_datetime(s: &str) -> Option<Timestamp> {
    parse_datetime(s).or_else(|| parse_date(s).map(|d| Timestamp { ms: i64::from(d) * 86_400_000, offset_min: None }))
}

/// `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(days));
    format!("{y:04}-{m:02}-{d:02}")
}

/// ISO 8601 in the source's zone: `YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]` (no zone for a naive
/// time), the form GDAL writes.
pub fn format_datetime(t: Timestamp) -> String {
    let wall = t.ms + i64::from(t.offset_min.unwrap_or(0)) * 60_000;
    let (days, ms_of_day) = (wall.div_euclid(86_400_000), wall.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, ms) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if ms != 0 {
        out.push_str(&format!(".{ms:03}"));
    }
    match t.offset_min {
        None => {}
        Some(0) => out.push('Z'),
        Some(o) => out.push_str(&format!("{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, o.abs() / 60, o.abs() % 60)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_match_numpy() {
        // numpy: np.datetime64('2024-02-29', 'D').astype(int) == 19782; '1900-01-01' == -25567
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("1900-01-01"), Some(-25_567));
        assert_eq!(parse_date("1970/01/01"), Some(0));
        // years 1 to 9999 (four-digit ISO years)
        for d in (-719_162..2_932_897).step_by(997) {
            assert_eq!(parse_date(&format_date(d)), Some(d));
        }
        for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "20240101", "2024-01-01x", "", "abcd-ef-gh"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_yyyymmdd("20240229"), Some(19_782));
        assert_eq!(parse_yyyymmdd("        "), None);
        // corrupt DBF date fields (found by AFL): multi-byte characters inside the eight bytes
        for bad in ["   \u{a1} ", "\u{f8}\u{c0}36t", "20200\u{cb}0", "199\u{cb}123", "@@@@@\u{c0}0", "2024-1-1"] {
            assert_eq!(parse_yyyymmdd(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_keep_their_zone() {
        // pandas: pd.Timestamp('2021-06-01T12:30:15.250+02:00').value // 10**6 == 1622543415250
        let t = parse_datetime("2021-06-01T12:30:15.250+02:00").unwrap();
        assert_eq!(t, Timestamp { ms: 1_622_543_415_250, offset_min: Some(120) });
        assert_eq!(format_datetime(t), "2021-06-01T12:30:15.250+02:00");
        let z = parse_datetime("2021-06-01 10:30:15Z").unwrap();
        assert_eq!((z.ms, z.offset_min), (1_622_543_415_000, Some(0)));
        assert_eq!(format_datetime(z), "2021-06-01T10:30:15Z");
        let naive = parse_datetime("1969-12-31T23:59").unwrap();
        assert_eq!((naive.ms, naive.offset_min), (-60_000, None));
        assert_eq!(format_datetime(naive), "1969-12-31T23:59:00");
        assert_eq!(parse_datetime("2021-06-01T10:30:15-0330").unwrap().offset_min, Some(-210));
        assert_eq!(parse_datetime("2021-06-01T10:30:15.123456Z").unwrap().ms % 1000, 123);
        for bad in ["2021-06-01", "2021-06-01T25:00", "2021-06-01T10:30:15+1", "2021-06-01T10:30:15.Z", "2021-06-01T"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(
            parse_date_or_datetime("2021-06-01").unwrap(),
            Timestamp { ms: 18_779 * 86_400_000, offset_min: None }
        );
    }
}
