//! JSON the way Go's `encoding/json` writes and rejects it, so the embedded
//! collector's answers match a real Jaeger's byte for byte.
//!
//! Writing: [`to_vec`] is serde_json with Go's choices: `<`, `>`, `&`,
//! U+2028 and U+2029 escaped, floats in Go's shortest form (`3`, `1e+21`,
//! `1e-7`). Reading: [`parse_string_map`] reads a `map[string]string` (the
//! query API's `tags` parameter) and fails with Go's error messages;
//! [`field`] and [`kind`] are the lookups and words the Zipkin intakes'
//! Go-like decoding shares.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Serialize as Go's `json.Marshal` would. (Go refuses NaN and infinite
/// floats; serde_json values cannot hold them, so callers check first.)
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = GoFormatter(Layout::Compact(CompactFormatter));
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("serialising into memory cannot fail");
    out
}

/// Serialize as pdata's OTLP JSON marshaller (jsoniter's fastest config)
/// writes: no HTML escapes, floats in Go's `'f'` form, or `'e'` with a
/// two-digit exponent below 1e-6 and from 1e21 on (`1e-07`, `1e+21`).
pub fn to_vec_pdata<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PdataFormatter);
    value
        .serialize(&mut serializer)
        .expect("serialising into memory cannot fail");
    out
}

/// A float as jsoniter's `Stream.WriteFloat64` writes it.
pub fn pdata_float_text(value: f64) -> String {
    let abs = value.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{value:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) => {
                let (sign, digits) = match exponent.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exponent),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => text,
        }
    } else if value == 0.0 && value.is_sign_negative() {
        "-0".to_string()
    } else {
        format!("{value}")
    }
}

struct PdataFormatter;

impl Formatter for PdataFormatter {
    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(pdata_float_text(value).as_bytes())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        match char_escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
}

/// `json.MarshalIndent(value, "", "    ")`: what `?prettyPrint=true` asks for.
pub fn to_vec_pretty<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = GoFormatter(Layout::Pretty(PrettyFormatter::with_indent(b"    ")));
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("serialising into memory cannot fail");
    out
}

/// A float as Go's encoder writes it (and pdata's `AsString`): shortest
/// digits, exponent form below 1e-6 and from 1e21 on. Callers reject NaN
/// and infinities first (Go refuses to encode them).
pub fn float_text(value: f64) -> String {
    let abs = value.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{value:e}");
        // Rust writes 1e21 and 1e-7; Go writes 1e+21 and 1e-7.
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent}")
            }
            _ => text,
        }
    } else {
        format!("{value}")
    }
}

/// serde_json's layout (compact or indented) with Go's escapes and floats.
struct GoFormatter(Layout);

enum Layout {
    Compact(CompactFormatter),
    Pretty(PrettyFormatter<'static>),
}

/// Structure goes to serde_json's own formatter for the layout.
macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                match &mut self.0 {
                    Layout::Compact(f) => f.$name(writer $(, $arg)*),
                    Layout::Pretty(f) => f.$name(writer $(, $arg)*),
                }
            }
        )*
    };
}

impl Formatter for GoFormatter {
    delegate!(
        begin_array(),
        end_array(),
        begin_array_value(first: bool),
        end_array_value(),
        begin_object(),
        end_object(),
        begin_object_key(first: bool),
        end_object_key(),
        begin_object_value(),
        end_object_value(),
    );

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(float_text(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        // serde_json and Go agree on these (\b and \f since Go 1.22).
        CompactFormatter.write_char_escape(writer, char_escape)
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` for the values Go's JSON
/// encoder refuses (`json: unsupported value: NaN`).
pub fn go_float_g(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Go's `json.Unmarshal` into `map[string]string`: `null` values become
/// empty strings, later duplicate keys win, and errors read as Go's do.
pub fn parse_string_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    check_syntax(text.as_bytes())?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    match value {
        serde_json::Value::Null => {}
        serde_json::Value::Object(map) => {
            let mut first_error = None;
            for (key, v) in map {
                match v {
                    serde_json::Value::String(s) => {
                        out.insert(key, s);
                    }
                    serde_json::Value::Null => {
                        out.insert(key, String::new());
                    }
                    other => {
                        first_error.get_or_insert(type_error(&other, "string"));
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        other => return Err(type_error(&other, "map[string]string")),
    }
    Ok(out)
}

fn type_error(value: &serde_json::Value, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go value of type {go_type}",
        kind(value)
    )
}

/// What Go's `UnmarshalTypeError` calls a JSON value: "string", "number", ...
pub fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// A struct field as Go's `encoding/json` finds it: by exact name, else
/// ignoring case; `null` leaves it unset.
pub fn field<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    map.get(name)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// Go's JSON scanner, for its syntax error messages. At the end of input
/// the scanner is fed a space, as Go's is, so `nul` reads "invalid
/// character ' ' in literal null (expecting 'l')".
fn check_syntax(input: &[u8]) -> Result<(), String> {
    let mut scanner = Scanner {
        input,
        pos: 0,
        stack: Vec::new(),
    };
    scanner.run()
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Context>,
}

const EOF: u8 = b' ';

impl Scanner<'_> {
    /// The next byte, or the space Go feeds at the end.
    fn peek(&self) -> (u8, bool) {
        match self.input.get(self.pos) {
            Some(&b) => (b, false),
            None => (EOF, true),
        }
    }

    fn error(&self, c: u8, context: &str) -> String {
        format!("invalid character {} {context}", quote_char(c))
    }

    fn skip_space(&mut self) {
        while self.pos < self.input.len()
            && matches!(self.input[self.pos], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
    }

    fn run(&mut self) -> Result<(), String> {
        self.skip_space();
        if self.pos == self.input.len() {
            return Err("unexpected end of JSON input".into());
        }
        self.value()?;
        loop {
            // After a value: close containers or separate.
            self.skip_space();
            let (c, eof) = self.peek();
            match self.stack.last().copied() {
                None => {
                    if eof {
                        return Ok(());
                    }
                    return Err(self.error(c, "after top-level value"));
                }
                Some(_) if eof => return Err("unexpected end of JSON input".into()),
                Some(Context::ObjectKey) => {
                    if c != b':' {
                        return Err(self.error(c, "after object key"));
                    }
                    self.pos += 1;
                    *self.stack.last_mut().expect("in an object") = Context::ObjectValue;
                    self.value()?;
                }
                Some(Context::ObjectValue) => match c {
                    b',' => {
                        self.pos += 1;
                        *self.stack.last_mut().expect("in an object") = Context::ObjectKey;
                        self.object_key()?;
                    }
                    b'}' => {
                        self.pos += 1;
                        self.stack.pop();
                    }
                    _ => return Err(self.error(c, "after object key:value pair")),
                },
                Some(Context::ArrayValue) => match c {
                    b',' => {
                        self.pos += 1;
                        self.value()?;
                    }
                    b']' => {
                        self.pos += 1;
                        self.stack.pop();
                    }
                    _ => return Err(self.error(c, "after array element")),
                },
            }
        }
    }

    fn object_key(&mut self) -> Result<(), String> {
        self.skip_space();
        let (c, eof) = self.peek();
        if eof {
            return Err("unexpected end of JSON input".into());
        }
        if c != b'"' {
            return Err(self.error(c, "looking for beginning of object key string"));
        }
        self.string()
    }

    /// One value; containers are opened and left on the stack.
    fn value(&mut self) -> Result<(), String> {
        self.skip_space();
        let (c, eof) = self.peek();
        if eof {
            return Err("unexpected end of JSON input".into());
        }
        match c {
            b'{' => {
                self.pos += 1;
                self.skip_space();
                let (next, eof) = self.peek();
                if eof {
                    return Err("unexpected end of JSON input".into());
                }
                if next == b'}' {
                    self.pos += 1;
                    return Ok(());
                }
                self.stack.push(Context::ObjectKey);
                if next != b'"' {
                    return Err(self.error(next, "looking for beginning of object key string"));
                }
                self.string()
            }
            b'[' => {
                self.pos += 1;
                self.skip_space();
                let (next, eof) = self.peek();
                if eof {
                    return Err("unexpected end of JSON input".into());
                }
                if next == b']' {
                    self.pos += 1;
                    return Ok(());
                }
                self.stack.push(Context::ArrayValue);
                self.value()
            }
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(self.error(c, "looking for beginning of value")),
        }
    }

    fn string(&mut self) -> Result<(), String> {
        self.pos += 1; // the opening quote
        loop {
            let (c, eof) = self.peek();
            if eof {
                return Err("unexpected end of JSON input".into());
            }
            self.pos += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let (e, eof) = self.peek();
                    if eof {
                        return Err("unexpected end of JSON input".into());
                    }
                    self.pos += 1;
                    match e {
                        b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                        b'u' => {
                            for _ in 0..4 {
                                let (h, eof) = self.peek();
                                if eof {
                                    return Err("unexpected end of JSON input".into());
                                }
                                if !h.is_ascii_hexdigit() {
                                    return Err(
                                        self.error(h, "in \\u hexadecimal character escape")
                                    );
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(self.error(e, "in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.error(c, "in string literal")),
                _ => {}
            }
        }
    }

    fn number(&mut self) -> Result<(), String> {
        let digits = |s: &mut Self| {
            while s.pos < s.input.len() && s.input[s.pos].is_ascii_digit() {
                s.pos += 1;
            }
        };
        if self.peek().0 == b'-' {
            self.pos += 1;
            let (c, _) = self.peek();
            if !c.is_ascii_digit() {
                return Err(self.error(c, "in numeric literal"));
            }
        }
        if self.peek().0 == b'0' {
            self.pos += 1;
        } else {
            digits(self);
        }
        if self.peek() == (b'.', false) {
            self.pos += 1;
            let (c, _) = self.peek();
            if !c.is_ascii_digit() {
                return Err(self.error(c, "after decimal point in numeric literal"));
            }
            digits(self);
        }
        if matches!(self.peek(), (b'e' | b'E', false)) {
            self.pos += 1;
            if matches!(self.peek(), (b'+' | b'-', false)) {
                self.pos += 1;
            }
            let (c, _) = self.peek();
            if !c.is_ascii_digit() {
                return Err(self.error(c, "in exponent of numeric literal"));
            }
            digits(self);
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        let name = std::str::from_utf8(word).expect("ASCII literal");
        self.pos += 1;
        for &want in &word[1..] {
            let (c, _) = self.peek();
            if c != want {
                return Err(self.error(
                    c,
                    &format!("in literal {name} (expecting {})", quote_char(want)),
                ));
            }
            self.pos += 1;
        }
        Ok(())
    }
}

/// Go's `quoteChar`: a byte in single quotes, escaped like `strconv.Quote`
/// (a lone byte of a multi-byte character reads as that Latin-1 letter).
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            let quoted = crate::collector::go_text::quote(&char::from(c).to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_characters_and_line_separators_are_escaped_as_go_does() {
        let text =
            String::from_utf8(to_vec("<a href=\"x\">&\u{2028}\u{8}\u{c}\u{1}\u{7f}")).unwrap();
        assert_eq!(
            text,
            "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u2028\\b\\f\\u0001\u{7f}\""
        );
    }

    #[test]
    fn pretty_output_indents_like_gos_marshal_indent() {
        let value = serde_json::json!({"data": ["a"], "empty": [], "n": 3.0});
        assert_eq!(
            String::from_utf8(to_vec_pretty(&value)).unwrap(),
            "{\n    \"data\": [\n        \"a\"\n    ],\n    \"empty\": [],\n    \"n\": 3\n}"
        );
    }

    #[test]
    fn floats_take_gos_shortest_form() {
        let cases = [
            (3.0, "3"),
            (1.5, "1.5"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1.23456789e-7, "1.23456789e-7"),
            (-0.0, "-0"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (value, want) in cases {
            assert_eq!(String::from_utf8(to_vec(&value)).unwrap(), want, "{value}");
        }
    }

    #[test]
    fn tags_json_errors_read_as_gos() {
        let cases = [
            ("", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "{\"a\":1}",
                "json: cannot unmarshal number into Go value of type string",
            ),
            (
                "[1]",
                "json: cannot unmarshal array into Go value of type map[string]string",
            ),
            (
                "{\"a\":\"b\",}",
                "invalid character '}' looking for beginning of object key string",
            ),
            ("{\"a\" \"b\"}", "invalid character '\"' after object key"),
            (
                "{\"a\":\"b\" \"c\":\"d\"}",
                "invalid character '\"' after object key:value pair",
            ),
            (
                "nul",
                "invalid character ' ' in literal null (expecting 'l')",
            ),
            (
                "{\"a\":tru}",
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                "{\"a\":\"b\\q\"}",
                "invalid character 'q' in string escape code",
            ),
            (
                "{\"a\":\"\\u12x4\"}",
                "invalid character 'x' in \\u hexadecimal character escape",
            ),
            ("{\"a\":-x}", "invalid character 'x' in numeric literal"),
            (
                "{\"a\":1.x}",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                "{\"a\":1ex}",
                "invalid character 'x' in exponent of numeric literal",
            ),
            (
                "{\"a\":\"b\"} x",
                "invalid character 'x' after top-level value",
            ),
            (
                "{\"a\":\"\n\"}",
                "invalid character '\\n' in string literal",
            ),
            ("01", "invalid character '1' after top-level value"),
            (
                "{\"a\":01}",
                "invalid character '1' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("é", "invalid character 'Ã' looking for beginning of value"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_string_map(input).unwrap_err(), want, "{input:?}");
        }
    }

    #[test]
    fn tags_json_reads_like_gos_map_of_strings() {
        let map = parse_string_map("{\"a\":\"1\",\"b\":null,\"a\":\"2\"}").unwrap();
        assert_eq!(map.get("a").map(String::as_str), Some("2"));
        assert_eq!(map.get("b").map(String::as_str), Some(""));
        assert!(parse_string_map("null").unwrap().is_empty());
    }
}
