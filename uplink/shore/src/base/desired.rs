//! A vessel's desired overlay: what the shore wants laid over the
//! operator's file on board, as it is stored in the index and published
//! whole (retained) on `seaframe/v1/<v>/config`. This module owns what a
//! push body may hold ([`check_patch`], [`check_whole`]) and how a PATCH
//! folds into the overlay ([`fold`]); it does no IO. The merge rule itself
//! is the wire crate's ([`seaframe_wire::overlay::merge`]), shared with the
//! agent.
//!
//! A stored overlay has no `null`s (a `null` in a patch removes a key, and
//! an absent key is the file's value) and no empty tables (`{}` would make
//! the agent create a table the file does not have).

use seaframe_wire::CameraId;
use seaframe_wire::overlay::{merge, without_nulls};
use serde_json::{Map, Value};

/// The sections of the agent's config that shore may change.
pub const SECTIONS: [&str; 4] = ["cameras", "gps", "retention", "uplink"];
/// A body is a few KB; anything near this is a mistake.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most a folded overlay may weigh (serialised): it travels in one
/// MQTT message, retained by the broker.
pub const MAX_DESIRED_BYTES: usize = 256 * 1024;

/// What is wrong with a push body: every problem, one per item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct BodyError(pub Vec<String>);

/// The overlay a PATCH would make is over [`MAX_DESIRED_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the desired overlay would be {bytes} bytes, over the {MAX_DESIRED_BYTES} a push may carry"
)]
pub struct TooLarge {
    pub bytes: usize,
}

/// A PATCH body, checked: an object of known sections (at least one),
/// each a table or `null` (`cameras` also a list of tables with ids, or
/// tables by id). The contents are the agent's to validate.
pub fn check_patch(body: &[u8]) -> Result<Value, BodyError> {
    let value = parse(body)?;
    check_sections(&value)?;
    Ok(value)
}

/// A PUT body (the whole overlay), checked like a patch; its `null`s mean
/// "the file's value", so they are dropped.
pub fn check_whole(body: &[u8]) -> Result<Value, BodyError> {
    let value = parse(body)?;
    check_sections(&value)?;
    let desired = normalize(&value);
    check_size(&desired).map_err(|e| BodyError(vec![e.to_string()]))?;
    Ok(desired)
}

/// `desired` with `patch` folded in (RFC 7396, items of `cameras` by id),
/// normalised. Pure: the index calls it inside the transaction that reads
/// and writes the overlay.
pub fn fold(desired: &Value, patch: &Value) -> Result<Value, TooLarge> {
    let mut folded = desired.clone();
    merge(&mut folded, patch);
    let folded = normalize(&folded);
    check_size(&folded)?;
    Ok(folded)
}

/// Without `null`s and without empty tables; always an object.
pub fn normalize(value: &Value) -> Value {
    let mut value = without_nulls(value);
    if !value.is_object() {
        value = Value::Object(Map::new());
    }
    prune_empty_tables(&mut value);
    value
}

/// Removes tables left empty, depth first (inside objects only: a list is
/// a value, kept as it is).
fn prune_empty_tables(value: &mut Value) {
    if let Value::Object(map) = value {
        for child in map.values_mut() {
            prune_empty_tables(child);
        }
        map.retain(|_, child| !matches!(child, Value::Object(m) if m.is_empty()));
    }
}

fn check_size(desired: &Value) -> Result<(), TooLarge> {
    let bytes = desired.to_string().len();
    if bytes > MAX_DESIRED_BYTES {
        return Err(TooLarge { bytes });
    }
    Ok(())
}

fn parse(body: &[u8]) -> Result<Value, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError(vec![format!("is over {MAX_BODY_BYTES} bytes")]));
    }
    serde_json::from_slice(body).map_err(|e| BodyError(vec![format!("not JSON: {e}")]))
}

fn check_sections(value: &Value) -> Result<(), BodyError> {
    let Value::Object(map) = value else {
        return Err(BodyError(vec!["must be a JSON object".into()]));
    };
    if map.is_empty() {
        return Err(BodyError(vec![format!(
            "holds none of {}",
            SECTIONS.join(", ")
        )]));
    }
    let mut problems = Vec::new();
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !SECTIONS.contains(k))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "unknown section(s) {}; only {} may be pushed",
            unknown.join(", "),
            SECTIONS.join(", ")
        ));
    }
    for (key, section) in map {
        match (key.as_str(), section) {
            (_, Value::Null) => {}
            ("cameras", cameras) => check_cameras(cameras, &mut problems),
            (key, Value::Object(_)) if SECTIONS.contains(&key) => {}
            (key, _) if SECTIONS.contains(&key) => {
                problems.push(format!("{key}: must be a table (a JSON object) or null"));
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BodyError(problems))
    }
}

/// `cameras`: a list of tables, each with its `id` (replaces the list), or
/// tables (or `null`) by id (changes those cameras only).
fn check_cameras(cameras: &Value, problems: &mut Vec<String>) {
    match cameras {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.get("id") {
                    _ if !item.is_object() => {
                        problems.push(format!("cameras[{i}]: must be a table (a JSON object)"));
                    }
                    Some(Value::String(id)) => {
                        if let Err(e) = CameraId::parse(id) {
                            problems.push(format!("cameras[{i}].id: {e}"));
                        }
                    }
                    _ => problems.push(format!("cameras[{i}]: needs an \"id\" (a string)")),
                }
            }
        }
        Value::Object(by_id) => {
            for (id, item) in by_id {
                if let Err(e) = CameraId::parse(id) {
                    problems.push(format!("cameras.{id}: {e}"));
                    continue;
                }
                match item {
                    Value::Null => {}
                    Value::Object(table) => {
                        if let Some(other) = table.get("id").filter(|v| v.as_str() != Some(id)) {
                            problems.push(format!(
                                "cameras.{id}.id: is {other}; a camera's id is its address and cannot change"
                            ));
                        }
                    }
                    _ => problems.push(format!(
                        "cameras.{id}: must be a table (a JSON object) or null"
                    )),
                }
            }
        }
        _ => {
            problems.push("cameras: must be a list of tables, tables by camera id, or null".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(body: &str) -> String {
        check_patch(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn only_known_sections_of_the_right_shape_are_accepted() {
        assert!(check_patch(br#"{"uplink": {"thumbs_per_s": 0.5}}"#).is_ok());
        assert!(check_patch(br#"{"gps": null, "cameras": {"bow": null}}"#).is_ok());
        assert!(check_patch(br#"{"cameras": [{"id": "bow", "fps": 1}]}"#).is_ok());
        assert!(problems(r#"{"vessel": "x"}"#).contains("unknown section(s) vessel"));
        assert!(problems("[]").contains("must be a JSON object"));
        assert!(problems("{}").contains("holds none of"));
        assert!(problems("nope").contains("not JSON"));
        assert!(problems(r#"{"gps": {}, "api": {}}"#).contains("api"));
        assert!(problems(r#"{"gps": "none"}"#).contains("gps: must be a table"));
        assert!(problems(r#"{"cameras": [{"fps": 1}]}"#).contains("cameras[0]: needs an \"id\""));
        assert!(problems(r#"{"cameras": [1]}"#).contains("cameras[0]: must be a table"));
        assert!(problems(r#"{"cameras": {"Bad Id": {}}}"#).contains("cameras.Bad Id"));
        assert!(problems(r#"{"cameras": {"bow": {"id": "aft"}}}"#).contains("cannot change"));
        assert!(problems(r#"{"cameras": 3}"#).contains("cameras: must be"));
        // Every problem at once.
        let all = problems(r#"{"api": {}, "gps": 1, "retention": []}"#);
        assert!(
            all.contains("api") && all.contains("gps:") && all.contains("retention:"),
            "{all}"
        );
        let huge = format!(
            r#"{{"gps": {{"source": "{}"}}}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        assert!(problems(&huge).contains("is over"));
    }

    #[test]
    fn a_patch_changes_what_it_names_and_null_resets_a_section() {
        let desired = json!({"retention": {"max_age_s": 60, "retain_bytes": 5}, "gps": {"source": "gpsd:127.0.0.1:2947"}});
        let folded = fold(&desired, &json!({"retention": {"max_age_s": 3600}})).unwrap();
        assert_eq!(
            folded,
            json!({"retention": {"max_age_s": 3600, "retain_bytes": 5}, "gps": {"source": "gpsd:127.0.0.1:2947"}})
        );
        let folded = fold(&folded, &json!({"gps": null})).unwrap();
        assert_eq!(
            folded,
            json!({"retention": {"max_age_s": 3600, "retain_bytes": 5}})
        );
        // Emptied tables go: the overlay is empty, all from the file.
        let folded = fold(
            &folded,
            &json!({"retention": {"max_age_s": null, "retain_bytes": null}}),
        )
        .unwrap();
        assert_eq!(folded, json!({}));
        // A table by id keeps the other cameras; nulls inside lists go too.
        let cams = json!({"cameras": [{"id": "bow", "fps": 5.0}, {"id": "mast", "fps": 1.0}]});
        assert_eq!(
            fold(
                &cams,
                &json!({"cameras": {"mast": {"fps": 2.0, "width": null}}})
            )
            .unwrap(),
            json!({"cameras": [{"id": "bow", "fps": 5.0}, {"id": "mast", "fps": 2.0}]})
        );
        assert_eq!(
            fold(&json!({}), &json!({"cameras": [{"id": "x", "fps": null}]})).unwrap(),
            json!({"cameras": [{"id": "x"}]})
        );
        // An empty list is a value (no cameras), not an empty table.
        assert_eq!(
            fold(&cams, &json!({"cameras": []})).unwrap(),
            json!({"cameras": []})
        );
    }

    #[test]
    fn a_whole_overlay_drops_its_nulls_and_an_overlay_is_bounded() {
        assert_eq!(
            check_whole(
                br#"{"gps": null, "uplink": {"thumbs_per_s": 2, "budget_bytes_per_s": null}}"#
            )
            .unwrap(),
            json!({"uplink": {"thumbs_per_s": 2}})
        );
        let big = json!({"gps": {"source": "x".repeat(MAX_DESIRED_BYTES / 2)}});
        let folded = fold(&json!({}), &big).unwrap();
        let e = fold(
            &folded,
            &json!({"uplink": {"mqtt_url": "x".repeat(MAX_DESIRED_BYTES / 2)}}),
        )
        .unwrap_err();
        assert!(e.bytes > MAX_DESIRED_BYTES);
    }
}
