//! Finds the line of a key path such as `cameras[1].fps` in TOML text, so
//! that problems found after parsing still point at the file.

use toml::de::{DeTable, DeValue};

/// The 1-based line where `key` (dotted, with `[i]` for array items) is set,
/// or where its table starts if the key itself is absent.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = root.span();
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some(value) = table.get(name) else {
            break;
        };
        span = value.span();
        let mut value = value.get_ref();
        if let (Some(i), DeValue::Array(items)) = (index, value) {
            let item = items.get(i)?;
            span = item.span();
            value = item.get_ref();
        }
        match value {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    Some(text.get(..span.start)?.matches('\n').count() + 1)
}
