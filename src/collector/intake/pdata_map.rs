//! pdata's `pcommon.Map` semantics on an OTLP attribute list, for the
//! translators that build OTLP the way the OpenTelemetry collector's do
//! (Jaeger's, Zipkin v1's): `Put` replaces the first attribute with the key
//! in place or appends, `Get` finds the first, and `Remove` moves the last
//! attribute into the removed one's slot. The order matters where Jaeger
//! shows it (`raw=true`) and decides which of two equal keys a search sees.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

/// `Map.Put*`: replace the first attribute with the key, or append.
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    let value = Some(AnyValue { value: Some(value) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }),
    }
}

pub fn put_str(attrs: &mut Vec<KeyValue>, key: &str, value: impl Into<String>) {
    put(attrs, key, any_value::Value::StringValue(value.into()));
}

/// `Map.Get`: the value of the first attribute with the key (`None` inside
/// for an empty value).
pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<Option<&'a any_value::Value>> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_ref().and_then(|v| v.value.as_ref()))
}

/// `Value.Str()`: the string of a string value, else "".
pub fn str_of(value: Option<&any_value::Value>) -> &str {
    match value {
        Some(any_value::Value::StringValue(s)) => s,
        _ => "",
    }
}

/// `Map.Remove`: the first attribute with the key goes, the last takes its
/// place.
pub fn remove(attrs: &mut Vec<KeyValue>, key: &str) -> Option<KeyValue> {
    let index = attrs.iter().position(|kv| kv.key == key)?;
    Some(attrs.swap_remove(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(attrs: &[KeyValue]) -> Vec<&str> {
        attrs.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn put_replaces_in_place_and_remove_moves_the_last_in() {
        let mut attrs = Vec::new();
        for key in ["a", "b", "c", "d"] {
            put_str(&mut attrs, key, key);
        }
        put(&mut attrs, "b", any_value::Value::IntValue(7));
        assert_eq!(keys(&attrs), ["a", "b", "c", "d"]);
        assert_eq!(get(&attrs, "b"), Some(Some(&any_value::Value::IntValue(7))));
        remove(&mut attrs, "a");
        assert_eq!(keys(&attrs), ["d", "b", "c"]);
        assert_eq!(remove(&mut attrs, "zz"), None);
        assert_eq!(str_of(get(&attrs, "b").flatten()), "");
        assert_eq!(str_of(get(&attrs, "d").flatten()), "d");
    }
}
