//! Tests of the config: parsing, validation with the line of each problem,
//! defaults, and secrets kept out of what is shown.

use std::path::Path;

use crate::base::config::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml")
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn the_example_holds_every_key_and_is_valid() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.vessel.as_str(), "demo-vessel");
    assert_eq!(c.cameras.len(), 1);
    assert_eq!(c.cameras[0].source, CameraSource::TestPattern);
    assert_eq!(c.queue.workers, 2);
    assert_eq!(c.queue.max_len, 2000);
    assert_eq!(c.retention.max_age_s, 2_592_000);
    let up = c.uplink.expect("the example has [uplink]");
    assert_eq!(up.thumb_width_px, 320);
    for key in [
        "vessel",
        "data_dir",
        "listen",
        "token",
        "redis_url",
        "workers",
        "max_len",
        "id",
        "source",
        "fps",
        "width",
        "height",
        "decoder",
        "decode",
        "max_fix_age_s",
        "max_age_s",
        "retain_bytes",
        "min_free_bytes",
        "mqtt_url",
        "thumb_width_px",
        "thumbs_per_s",
        "budget_bytes_per_s",
        "outbox_max_bytes",
        "link_confirm_s",
    ] {
        assert!(EXAMPLE.contains(&format!("{key} =")), "example lacks {key}");
    }
}

#[test]
fn only_the_vessel_is_required() {
    let c = parse("vessel = \"v\"").unwrap();
    assert_eq!(c.data_dir, Path::new("/var/lib/seaframe"));
    assert!(c.cameras.is_empty() && c.uplink.is_none());
    assert!(matches!(parse(""), Err(ConfigError::Parse { .. })));
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let err = parse("vessel = \"v\"\n[queue]\nworkers = 2\nmax_lenn = 5\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("max_lenn"), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
}

#[test]
fn a_bad_source_is_named_with_its_line() {
    let text = "vessel = \"v\"\n\n[[cameras]]\nid = \"a\"\nsource = \"gopher://x\"\n";
    let msg = parse(text).unwrap_err().to_string();
    assert!(
        msg.contains("line 5") && msg.contains("not a camera source"),
        "{msg}"
    );
}

#[test]
fn every_range_problem_is_reported_at_once_with_lines() {
    let text = r#"vessel = "v"
[queue]
workers = 0
[[cameras]]
id = "a"
source = "testpattern"
fps = 0
[[cameras]]
id = "a"
source = "testpattern"
width = 1
"#;
    let p = problems(text);
    let keys: Vec<_> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        keys,
        [
            ("queue.workers", Some(3)),
            ("cameras[0].fps", Some(7)),
            ("cameras[1].id", Some(9)),
            ("cameras[1].width", Some(11)),
        ]
    );
}

#[test]
fn a_lan_listener_needs_a_token() {
    let p = problems("vessel = \"v\"\n[api]\nlisten = \"0.0.0.0:8780\"\n");
    assert_eq!(p[0].key, "api.token");
    assert!(parse("vessel = \"v\"\n[api]\nlisten = \"0.0.0.0:8780\"\ntoken = \"t\"\n").is_ok());
}

#[test]
fn crew_page_sessions_and_cors_origins_are_checked() {
    let p = problems(
        "vessel = \"v\"\n[api]\nsession_ttl_s = 5\ncors_origins = [\"https://ops.example.com/\", \"*\"]\n",
    );
    let keys: Vec<_> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        keys,
        [
            ("api.session_ttl_s", Some(3)),
            ("api.cors_origins", Some(4)),
            ("api.cors_origins", Some(4)),
        ]
    );
    assert!(
        p[1].message.contains("no path or slash"),
        "{}",
        p[1].message
    );
    let ok = parse(
        "vessel = \"v\"\n[api]\nsession_ttl_s = 3600\ncors_origins = [\"https://ops.example.com\"]\n",
    )
    .unwrap();
    assert_eq!(ok.api.cors_origins, ["https://ops.example.com"]);
}

#[test]
fn a_map_tile_template_is_checked() {
    let p =
        problems("vessel = \"v\"\n[api]\nmap_tiles = \"https://tiles.example.org/{z}/{x}.png\"\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].key.as_str(), p[0].line), ("api.map_tiles", Some(3)));
    assert!(p[0].message.contains("{y}"), "{}", p[0].message);
    let ok =
        parse("vessel = \"v\"\n[api]\nmap_tiles = \"http://10.0.0.20:8080/{z}/{x}/{y}.png\"\n")
            .unwrap();
    assert_eq!(
        ok.api.map_tiles.as_deref(),
        Some("http://10.0.0.20:8080/{z}/{x}/{y}.png")
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c =
        parse("vessel = \"v\"\n[queue]\nredis_url = \"redis://:pw123@127.0.0.1:6379\"\n").unwrap();
    assert!(!format!("{c:?}").contains("pw123"));
}

#[test]
fn a_bad_redis_url_is_refused() {
    let p = problems("vessel = \"v\"\n[queue]\nredis_url = \"http://x\"\n");
    assert_eq!((p[0].key.as_str(), p[0].line), ("queue.redis_url", Some(3)));
}

#[test]
fn a_decoder_is_only_for_rtsp_and_only_a_name() {
    let cam = |source: &str, decoder: &str| {
        format!(
            "vessel = \"v\"\n[[cameras]]\nid = \"a\"\nsource = \"{source}\"\ndecoder = \"{decoder}\"\n"
        )
    };
    let c = parse(&cam("rtsp://u:p@10.0.0.5/s", "h264_v4l2m2m")).unwrap();
    assert_eq!(c.cameras[0].decoder.as_deref(), Some("h264_v4l2m2m"));
    for (source, decoder) in [
        ("testpattern", "h264"),
        ("rtsp://10.0.0.5/s", "-i /etc/passwd"),
        ("rtsp://10.0.0.5/s", ""),
    ] {
        let p = problems(&cam(source, decoder));
        assert_eq!(p[0].key, "cameras[0].decoder", "{source} {decoder}");
    }
}

#[test]
fn keyframe_decoding_is_only_for_rtsp() {
    let cam = |source: &str, decode: &str| {
        format!(
            "vessel = \"v\"\n[[cameras]]\nid = \"a\"\nsource = \"{source}\"\ndecode = \"{decode}\"\n"
        )
    };
    let c = parse(&cam("rtsp://10.0.0.5/s", "keyframes")).unwrap();
    assert_eq!(c.cameras[0].decode, Decode::Keyframes);
    for decode in ["keyframes", "all"] {
        let p = problems(&cam("testpattern", decode));
        assert_eq!(p[0].key, "cameras[0].decode", "{decode}");
    }
    // Not given: `auto`, which a source without key frames ignores.
    let c = parse("vessel = \"v\"\n[[cameras]]\nid = \"a\"\nsource = \"testpattern\"\n").unwrap();
    assert_eq!(c.cameras[0].decode, Decode::Auto);
    assert!(parse(&cam("rtsp://10.0.0.5/s", "some")).is_err());
}
