//! The merge rule of pushed configuration, shared by both ends: the shore
//! folds each PATCH into a vessel's desired overlay with it, and the agent
//! lays that overlay over the operator's file with it.
//!
//! It is JSON Merge Patch (RFC 7396) — an object merges key by key, `null`
//! removes a key, anything else replaces — with one addition for lists of
//! tables that carry an `id` (`cameras`): an *object* patch addresses their
//! items by id. `{"cameras": {"bow": {"fps": 2}}}` changes bow's fps and
//! keeps the rest of bow and every other camera; `{"bow": null}` removes
//! bow's entry; an id not in the list adds an item. An *array* patch still
//! replaces the whole list.

use serde_json::{Map, Value};

/// Applies `patch` to `target` (RFC 7396, plus items addressed by id).
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if let Value::Array(items) = target
        && items.iter().all(|i| id_of(i).is_some())
    {
        merge_by_id(items, patch);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        unreachable!("made an object just above");
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn id_of(item: &Value) -> Option<&str> {
    item.get("id").and_then(Value::as_str)
}

fn merge_by_id(items: &mut Vec<Value>, patch: &Map<String, Value>) {
    for (id, value) in patch {
        let at = items.iter().position(|i| id_of(i) == Some(id.as_str()));
        match (at, value.is_null()) {
            (Some(at), true) => {
                items.remove(at);
            }
            (None, true) => {}
            (Some(at), false) => {
                merge(&mut items[at], value);
                keep_id(&mut items[at], id);
            }
            (None, false) => {
                let mut item = Value::Object(Map::new());
                merge(&mut item, value);
                keep_id(&mut item, id);
                items.push(item);
            }
        }
    }
}

/// The address is the id: a patch cannot rename an item.
fn keep_id(item: &mut Value, id: &str) {
    if let Value::Object(map) = item {
        map.insert("id".into(), Value::String(id.to_owned()));
    }
}

/// `value` without its `null`s (at any depth): what an overlay means when
/// a `null` in it is read as "the file's value".
pub fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(mut target: Value, patch: Value) -> Value {
        merge(&mut target, &patch);
        target
    }

    #[test]
    fn objects_merge_key_by_key_and_null_removes() {
        let file = json!({"retention": {"max_age_s": 10, "retain_bytes": 5, "min_free_bytes": 1}});
        assert_eq!(
            merged(file.clone(), json!({"retention": {"max_age_s": 3600}})),
            json!({"retention": {"max_age_s": 3600, "retain_bytes": 5, "min_free_bytes": 1}})
        );
        assert_eq!(
            merged(
                file,
                json!({"retention": {"retain_bytes": null}, "gps": {"source": "none"}})
            ),
            json!({"retention": {"max_age_s": 10, "min_free_bytes": 1}, "gps": {"source": "none"}})
        );
        assert_eq!(merged(json!({"a": 1}), json!({"a": null})), json!({}));
        assert_eq!(merged(json!(1), json!({"a": 2})), json!({"a": 2}));
    }

    #[test]
    fn lists_of_tables_with_ids_are_addressed_by_id() {
        let cams = json!({"cameras": [
            {"id": "bow", "source": "testpattern", "fps": 5.0},
            {"id": "mast", "source": "testpattern", "fps": 1.0}]});
        assert_eq!(
            merged(
                cams.clone(),
                json!({"cameras": {"mast": {"fps": 2.0}, "aft": {"source": "testpattern"}}})
            ),
            json!({"cameras": [
                {"id": "bow", "source": "testpattern", "fps": 5.0},
                {"id": "mast", "source": "testpattern", "fps": 2.0},
                {"id": "aft", "source": "testpattern"}]})
        );
        assert_eq!(
            merged(
                cams.clone(),
                json!({"cameras": {"bow": null, "gone": null}})
            ),
            json!({"cameras": [{"id": "mast", "source": "testpattern", "fps": 1.0}]})
        );
        // An id in the patch's table cannot rename the item.
        assert_eq!(
            merged(cams.clone(), json!({"cameras": {"bow": {"id": "stern"}}}))["cameras"][0]["id"],
            "bow"
        );
        // An array replaces the list.
        assert_eq!(
            merged(
                cams,
                json!({"cameras": [{"id": "x", "source": "testpattern"}]})
            ),
            json!({"cameras": [{"id": "x", "source": "testpattern"}]})
        );
        // Two object patches fold into one (the shore's desired overlay).
        assert_eq!(
            merged(
                json!({"cameras": {"bow": {"fps": 2.0}}}),
                json!({"cameras": {"bow": {"width": 640}, "mast": {"fps": 1.0}}})
            ),
            json!({"cameras": {"bow": {"fps": 2.0, "width": 640}, "mast": {"fps": 1.0}}})
        );
    }

    #[test]
    fn nulls_are_dropped_at_any_depth() {
        assert_eq!(
            without_nulls(&json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]})),
            json!({"b": {"d": 1}, "e": [{}]})
        );
    }
}
