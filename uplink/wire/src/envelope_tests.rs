//! Tests of the thumbnail envelope: golden bytes (committed under
//! `uplink/wire/golden/`, described in `docs/wire.md`), round trips and
//! every way a payload can be wrong.

use super::*;
use proptest::prelude::*;

/// The smallest byte string that passes the JPEG check: SOI, EOI.
const TINY_JPEG: [u8; 4] = [0xFF, 0xD8, 0xFF, 0xD9];

fn with_position() -> Thumb {
    Thumb {
        meta: ThumbMeta {
            vessel: VesselName::parse("aurora").unwrap(),
            camera: CameraId::parse("mast").unwrap(),
            captured_at_ns: 1_764_460_800_123_456_789,
            seq: 42,
            clock: Clock::Gps,
            width: 320,
            height: 180,
            position: Some(ThumbPosition {
                lat: 59.5,
                lon: -10.25,
                fix: "3d".into(),
                speed_kn: Some(12.5),
                course_deg: Some(270.0),
                heading_deg: None,
                fix_age_ms: 250,
            }),
        },
        jpeg: TINY_JPEG.to_vec(),
    }
}

fn without_position() -> Thumb {
    let mut t = with_position();
    t.meta.position = None;
    t.meta.clock = Clock::System;
    t
}

#[test]
fn golden_vectors_decode_and_encode_byte_for_byte() {
    let cases: [(&[u8], Thumb); 2] = [
        (
            include_bytes!("../golden/thumb-v1-position.bin"),
            with_position(),
        ),
        (
            include_bytes!("../golden/thumb-v1-no-position.bin"),
            without_position(),
        ),
    ];
    for (golden, thumb) in cases {
        assert_eq!(Thumb::decode(golden).unwrap(), thumb);
        assert_eq!(thumb.encode().unwrap(), golden);
    }
}

#[test]
fn golden_header_is_as_documented() {
    let bytes = without_position().encode().unwrap();
    // Version 1, then metadata length 34: vessel "aurora" (1+6), camera
    // "mast" (1+4), time 8, seq 8, clock 1, width 2, height 2, flag 1.
    assert_eq!(&bytes[..3], &[1, 0, 34]);
    assert_eq!(&bytes[3..10], b"\x06aurora");
    assert_eq!(&bytes[bytes.len() - 4..], &TINY_JPEG);
}

#[test]
fn a_newer_minor_field_at_the_end_of_metadata_is_skipped() {
    let mut bytes = with_position().encode().unwrap();
    let meta_len = u16::from_be_bytes([bytes[1], bytes[2]]);
    let meta_end = 3 + usize::from(meta_len);
    bytes.splice(meta_end..meta_end, [9, 9, 9]);
    bytes[1..3].copy_from_slice(&(meta_len + 3).to_be_bytes());
    assert_eq!(Thumb::decode(&bytes).unwrap(), with_position());
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = with_position().encode().unwrap();
    // Cutting inside the header or metadata is Truncated/Empty; cutting
    // inside the JPEG leaves a payload whose image is cut (NotJpeg below 2).
    let meta_end = 3 + usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
    for cut in 0..meta_end {
        let err = Thumb::decode(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated(_) | DecodeError::Empty),
            "cut at {cut}: {err:?}"
        );
    }
    assert_eq!(Thumb::decode(&bytes[..meta_end]), Err(DecodeError::NotJpeg));
}

#[test]
fn wrong_version_huge_and_bad_fields_are_named() {
    let good = with_position().encode().unwrap();

    let mut v2 = good.clone();
    v2[0] = 2;
    assert_eq!(Thumb::decode(&v2), Err(DecodeError::UnsupportedVersion(2)));

    let huge = vec![1u8; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(
        Thumb::decode(&huge),
        Err(DecodeError::TooLarge(MAX_PAYLOAD_BYTES + 1))
    );

    let mut bad_vessel = good.clone();
    bad_vessel[4] = b'/';
    assert!(matches!(
        Thumb::decode(&bad_vessel),
        Err(DecodeError::BadName {
            field: "vessel",
            ..
        })
    ));

    // The clock byte follows vessel, camera, time and seq.
    let clock_at = 3 + 7 + 5 + 8 + 8;
    let mut bad_clock = good.clone();
    bad_clock[clock_at] = 7;
    assert_eq!(Thumb::decode(&bad_clock), Err(DecodeError::BadClock(7)));

    let mut bad_flag = good.clone();
    bad_flag[clock_at + 5] = 2;
    assert_eq!(
        Thumb::decode(&bad_flag),
        Err(DecodeError::BadPositionFlag(2))
    );

    let mut bad_lat = with_position();
    if let Some(p) = bad_lat.meta.position.as_mut() {
        p.lat = 91.0;
    }
    assert!(matches!(
        Thumb::decode(&bad_lat.encode().unwrap()),
        Err(DecodeError::BadPosition { .. })
    ));
}

#[test]
fn encode_refuses_what_decode_would_refuse() {
    let mut t = with_position();
    if let Some(p) = t.meta.position.as_mut() {
        p.fix = "x".repeat(33);
    }
    assert!(matches!(t.encode(), Err(EncodeError::BadFix(_))));
    let mut big = without_position();
    big.jpeg = vec![0xFF; MAX_PAYLOAD_BYTES];
    assert!(matches!(big.encode(), Err(EncodeError::TooLarge(_))));
}

#[test]
fn debug_prints_the_image_size_not_its_bytes() {
    let text = format!("{:?}", with_position());
    assert!(text.contains("jpeg_bytes: 4"), "{text}");
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?"
}

fn optional_f32() -> impl Strategy<Value = Option<f32>> {
    prop_oneof![Just(None), (-1000.0f32..1000.0).prop_map(Some)]
}

prop_compose! {
    fn position()(
        lat in -90.0f64..=90.0,
        lon in -180.0f64..=180.0,
        fix in "[a-z0-9]{0,32}",
        speed_kn in optional_f32(),
        course_deg in optional_f32(),
        heading_deg in optional_f32(),
        fix_age_ms in any::<u32>(),
    ) -> ThumbPosition {
        ThumbPosition { lat, lon, fix, speed_kn, course_deg, heading_deg, fix_age_ms }
    }
}

prop_compose! {
    fn thumb()(
        vessel in name(),
        camera in name(),
        captured_at_ns in any::<i64>(),
        seq in any::<u64>(),
        gps in any::<bool>(),
        width in any::<u16>(),
        height in any::<u16>(),
        position in proptest::option::of(position()),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) -> Thumb {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(body);
        Thumb {
            meta: ThumbMeta {
                vessel: VesselName::parse(&vessel).unwrap(),
                camera: CameraId::parse(&camera).unwrap(),
                captured_at_ns,
                seq,
                clock: if gps { Clock::Gps } else { Clock::System },
                width,
                height,
                position,
            },
            jpeg,
        }
    }
}

proptest! {
    #[test]
    fn round_trip(t in thumb()) {
        let bytes = t.encode().unwrap();
        prop_assert_eq!(Thumb::decode(&bytes).unwrap(), t);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Thumb::decode(&bytes);
    }

    #[test]
    fn flipping_a_byte_never_panics(t in thumb(), at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let mut bytes = t.encode().unwrap();
        let i = at.index(bytes.len());
        bytes[i] = to;
        let _ = Thumb::decode(&bytes);
    }
}
