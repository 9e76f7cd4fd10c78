//! Go's `strconv` and `time` text, as a real Jaeger parses query parameters
//! and words its messages: integer, bool and duration parsing with Go's
//! error messages, `time.Duration` and `time.Time` printing, RFC 3339
//! (`time.RFC3339Nano`) parsing.

/// `strconv.Quote` for the text that appears in Go's error messages.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn num_error(func: &str, text: &str, reason: &str) -> String {
    format!("strconv.{func}: parsing {}: {reason}", quote(text))
}

/// `strconv.ParseInt(text, 10, bits)`.
pub fn parse_int(text: &str, bits: u32) -> Result<i64, String> {
    let syntax = || num_error("ParseInt", text, "invalid syntax");
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    let magnitude: u128 = digits
        .bytes()
        .try_fold(0u128, |acc, b| {
            acc.checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(b - b'0')))
        })
        .unwrap_or(u128::MAX);
    let limit = 1u128 << (bits - 1);
    let in_range = if negative {
        magnitude <= limit
    } else {
        magnitude < limit
    };
    if !in_range {
        return Err(num_error("ParseInt", text, "value out of range"));
    }
    let value = magnitude as i128;
    Ok(if negative { -value } else { value } as i64)
}

/// `strconv.ParseUint(text, 10, bits)`.
pub fn parse_uint(text: &str, bits: u32) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(num_error("ParseUint", text, "invalid syntax"));
    }
    text.parse::<u64>()
        .ok()
        .filter(|v| bits >= 64 || *v < (1u64 << bits))
        .ok_or_else(|| num_error("ParseUint", text, "value out of range"))
}

/// `strconv.ParseUint(text, 16, 64)`.
pub fn parse_hex_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(num_error("ParseUint", text, "invalid syntax"));
    }
    u64::from_str_radix(text, 16).map_err(|_| num_error("ParseUint", text, "value out of range"))
}

/// `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(num_error("ParseBool", text, "invalid syntax")),
    }
}

/// `time.ParseDuration`: nanoseconds, or Go's error message.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", time_quote(text));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in rest[..int_len].bytes() {
            if whole > LIMIT / 10 {
                return Err(invalid());
            }
            whole = whole * 10 + u64::from(b - b'0');
            if whole > LIMIT {
                return Err(invalid());
            }
        }
        rest = &rest[int_len..];
        let (mut fraction, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for b in after_dot[..frac_len].bytes() {
                if overflow || fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(b - b'0');
                if next > LIMIT {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            post = frac_len > 0;
            rest = &after_dot[frac_len..];
        }
        if int_len == 0 && !post {
            return Err(invalid());
        }
        let unit_len = rest
            .bytes()
            .take_while(|b| !(*b == b'.' || b.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                time_quote(text)
            ));
        }
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit: u64 = match unit_text {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(unit_text),
                    time_quote(text)
                ));
            }
        };
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total += value;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// The `time` package's own quoting: bytes outside printable ASCII as `\x`.
fn time_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if (c as u32) >= 0x80 || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// `time.Duration.String()`: `1.5ms`, `-750µs`, `1h0m0s`.
pub fn duration_string(nanos: i64) -> String {
    let negative = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".to_string(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (frac, rest) = fraction(u, prec);
        out = format!("{rest}{frac}{unit}");
    } else {
        let (frac, rest) = fraction(u, 9);
        u = rest;
        let seconds = format!("{}{frac}s", u % 60);
        u /= 60;
        if u > 0 {
            let minutes = u % 60;
            u /= 60;
            if u > 0 {
                out = format!("{u}h");
            }
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&seconds);
    }
    if negative {
        out.insert(0, '-');
    }
    out
}

/// Go's `fmtFrac`: the last `prec` digits as a fraction without trailing
/// zeros, and what is left.
fn fraction(value: u64, prec: u32) -> (String, u64) {
    let divisor = 10u64.pow(prec);
    let frac = value % divisor;
    let rest = value / divisor;
    if frac == 0 {
        return (String::new(), rest);
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), rest)
}

/// `time.Time.String()` of a UTC time given in nanoseconds since the epoch:
/// `2026-11-25 12:15:16.102397796 +0000 UTC`.
pub fn utc_time_string(unix_nanos: i64) -> String {
    let seconds = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    text
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 with optional fraction and a `Z` or `±hh:mm` offset, as Go's
/// `time.RFC3339Nano` layout parses it: nanoseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Result<i128, String> {
    let bad = || {
        format!(
            "parsing time {text:?} as \"2006-01-02T15:04:05.999999999Z07:00\": cannot parse {text:?} as \"2006\""
        )
    };
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let s = text.get(from..from + n)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (year, month, day) = (
        digits(0, 4).ok_or_else(bad)?,
        digits(5, 2).ok_or_else(bad)?,
        digits(8, 2).ok_or_else(bad)?,
    );
    let (hour, minute, second) = (
        digits(11, 2).ok_or_else(bad)?,
        digits(14, 2).ok_or_else(bad)?,
        digits(17, 2).ok_or_else(bad)?,
    );
    let mut at = 19;
    let mut nanos: i64 = 0;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        if end == start || end - start > 9 {
            return Err(bad());
        }
        let fraction = &text[start..end];
        nanos = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
        at = end;
    }
    let offset_seconds = match &text[at..] {
        "Z" => 0,
        zone if zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')) => {
            let h = digits(at + 1, 2).ok_or_else(bad)?;
            let m = digits(at + 4, 2).ok_or_else(bad)?;
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(format!(
            "parsing time {text:?}: month, day or time out of range"
        ));
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Ok(i128::from(seconds) * 1_000_000_000 + i128::from(nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now as RFC 3339, for tests and callers that build searches.
pub fn rfc3339(nanos: i128) -> String {
    let seconds = nanos.div_euclid(1_000_000_000) as i64;
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_time_parse_duration() {
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("-1ms"), Ok(-1_000_000));
        assert_eq!(parse_duration("+5ms"), Ok(5_000_000));
        assert_eq!(parse_duration("1.h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration("1µs"), Ok(1_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
    }

    #[test]
    fn bad_durations_get_gos_messages() {
        let cases = [
            ("5", "time: missing unit in duration \"5\""),
            ("5x", "time: unknown unit \"x\" in duration \"5x\""),
            ("x", "time: invalid duration \"x\""),
            ("", "time: invalid duration \"\""),
            (".s", "time: invalid duration \".s\""),
            (
                "9999999999999999999h",
                "time: invalid duration \"9999999999999999999h\"",
            ),
            ("1e3s", "time: unknown unit \"e\" in duration \"1e3s\""),
            ("5 ms", "time: unknown unit \" ms\" in duration \"5 ms\""),
            ("é", "time: invalid duration \"\\xc3\\xa9\""),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).unwrap_err(), want, "{text:?}");
        }
    }

    #[test]
    fn integers_parse_like_strconv_with_its_messages() {
        assert_eq!(parse_int("+5", 64), Ok(5));
        assert_eq!(parse_int("-9223372036854775808", 64), Ok(i64::MIN));
        assert_eq!(
            parse_int("abc", 64).unwrap_err(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            parse_int("3000000000", 32).unwrap_err(),
            "strconv.ParseInt: parsing \"3000000000\": value out of range"
        );
        assert_eq!(
            parse_int("é\n", 64).unwrap_err(),
            "strconv.ParseInt: parsing \"é\\n\": invalid syntax"
        );
        assert_eq!(
            parse_int("1_000", 64).unwrap_err(),
            "strconv.ParseInt: parsing \"1_000\": invalid syntax"
        );
        assert_eq!(
            parse_bool("yes").unwrap_err(),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            parse_hex_u64("xyz").unwrap_err(),
            "strconv.ParseUint: parsing \"xyz\": invalid syntax"
        );
    }

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (-750_000, "-750µs"),
            (2_000_000, "2ms"),
            (3_600_000_000_000, "1h0m0s"),
            (90_061_500_000_000, "25h1m1.5s"),
            (61_000_000_000, "1m1s"),
            (-1, "-1ns"),
        ];
        for (nanos, want) in cases {
            assert_eq!(duration_string(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn times_print_like_go() {
        assert_eq!(
            utc_time_string(1_795_609_308_691_222_000),
            "2026-11-25 12:21:48.691222 +0000 UTC"
        );
        assert_eq!(utc_time_string(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            utc_time_string(1),
            "1970-01-01 00:00:00.000000001 +0000 UTC"
        );
    }
    #[test]
    fn rfc3339_reads_what_it_writes_and_offsets() {
        let t = parse_rfc3339("2026-12-02T14:30:00.5Z").unwrap();
        assert_eq!(rfc3339(t), "2026-12-02T14:30:00Z");
        assert_eq!(
            parse_rfc3339("2026-12-02T16:30:00+02:00").unwrap(),
            t - 500_000_000
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
