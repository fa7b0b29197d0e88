//! Tests of the NMEA parser: every sentence kind, checksums, fields refused
//! by name, and (proptest) no line that makes it panic.

use crate::base::gps::nmea::*;
use proptest::prelude::*;

fn one(line: &str) -> Sentence {
    parse(line.as_bytes()).unwrap().unwrap()
}

#[test]
fn gga_from_a_real_receiver() {
    let Sentence::Gga(g) = one(
        "$GNGGA,014500.00,4404.1306024,N,12118.8446777,W,2,12,0.49,1129.913,M,-21.350,M,,0278*4C\r\n",
    ) else {
        panic!()
    };
    assert_eq!(g.time, Some(TimeOfDay((60 + 45) * 60 * 1000))); // 01:45:00
    let p = g.pos.unwrap();
    assert!(
        (p.lat - 44.068843373).abs() < 1e-9 && (p.lon + 121.314077962).abs() < 1e-9,
        "{p:?}"
    );
    assert_eq!((g.quality, g.satellites, g.hdop), (2, Some(12), Some(0.49)));
    assert_eq!(g.altitude_m, Some(1129.913));
}

#[test]
fn rmc_vtg_zda_hdt_hdg_gsa_gll_gns() {
    let Sentence::Rmc(r) =
        one("$GNRMC,014500.00,A,4404.1306024,N,12118.8446777,W,0.013,,231221,,,D,V*04")
    else {
        panic!()
    };
    assert!(r.valid);
    assert_eq!(
        r.date,
        Some(Date {
            year: 2021,
            month: 12,
            day: 23
        })
    );
    assert_eq!((r.speed_kn, r.course_deg), (Some(0.013), None));
    let Sentence::Vtg(v) = one("$GNVTG,,T,,M,0.013,N,0.024,K,D*3C") else {
        panic!()
    };
    assert_eq!((v.course_deg, v.speed_kn), (None, Some(0.013)));
    let Sentence::Zda(z) = one("$GPZDA,193913.00,07,09,2018,00,00*63") else {
        panic!()
    };
    assert_eq!(
        z.date,
        Some(Date {
            year: 2018,
            month: 9,
            day: 7
        })
    );
    assert_eq!(one("$GPHDT,,T*1B"), Sentence::Hdt(None));
    assert_eq!(
        one(&with_checksum("HCHDG,101.1,,,7.1,W")),
        Sentence::Hdg(Some(94.0))
    );
    let Sentence::Gsa(g) =
        one("$GNGSA,A,3,21,30,46,13,17,51,14,44,15,19,07,01,0.98,0.49,0.84,1*0C")
    else {
        panic!()
    };
    assert_eq!(
        (g.fix_type, g.pdop, g.hdop, g.vdop),
        (Some(3), Some(0.98), Some(0.49), Some(0.84))
    );
    let Sentence::Gll(l) = one(&with_checksum("GPGLL,4916.45,N,12311.12,W,225444,A,A")) else {
        panic!()
    };
    assert!(l.valid && l.pos.is_some());
    let Sentence::Gns(n) = one(&with_checksum(
        "GNGNS,112257.00,3844.24011,N,00908.43828,W,AN,10,1.0,100.1,55.0,,",
    )) else {
        panic!()
    };
    assert!(n.valid && n.satellites == Some(10));
    // As gpsd: no fix when the first system says N, or the navigation
    // status says not valid.
    for body in [
        "GNGNS,112257.00,3844.24011,N,00908.43828,W,NA,10,1.0,100.1,55.0,,",
        "GNGNS,043539.00,4333.190206,N,00127.618380,E,AAAAN,14,1.3,250.8,50.0,,,V",
    ] {
        let Sentence::Gns(n) = one(&with_checksum(body)) else {
            panic!()
        };
        assert!(!n.valid && n.pos.is_some(), "{body}");
    }
}

fn with_checksum(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}")
}

#[test]
fn every_kind_of_bad_line_is_a_typed_error() {
    let long = with_checksum(&format!("GPGGA,{}", "1".repeat(200)));
    let cases: &[(&[u8], NmeaError)] = &[
        (b"", NmeaError::Empty),
        (b"\r\n", NmeaError::Empty),
        (b"hello", NmeaError::NotNmea),
        (b"\xff\xfe$GPGGA*00", NmeaError::NotNmea),
        (long.as_bytes(), NmeaError::TooLong),
        (b"$GPHDT,,T", NmeaError::NoChecksum),
        (b"$GPHDT,,T*1", NmeaError::NoChecksum),
        (
            b"$GPHDT,,T*1C",
            NmeaError::BadChecksum {
                computed: 0x1B,
                stated: 0x1C,
            },
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse(line),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(
        parse(with_checksum("GPGGA,014500.00,4404.13").as_bytes()),
        Err(NmeaError::Truncated { kind: "GGA" })
    );
    assert_eq!(
        parse(with_checksum("GPGGA,256100.00,4404.13,N,12118.84,W,1,5,1,1,M,,M,,").as_bytes()),
        Err(NmeaError::BadField { field: "time" })
    );
    assert_eq!(
        parse(with_checksum("GPGGA,014500.00,9404.13,N,12118.84,W,1,5,1,1,M,,M,,").as_bytes()),
        Err(NmeaError::BadField { field: "position" })
    );
}

#[test]
fn a_doubled_dollar_is_tolerated() {
    assert!(matches!(
        one("$$GNGSA,A,3,44,34,25,11,19,23,38,,,,,,2.5,1.7,1.8,4*3E"),
        Sentence::Gsa(_)
    ));
}

#[test]
fn proprietary_ais_and_unused_types_are_ignored() {
    assert_eq!(
        parse(with_checksum("PUBX,00,000000.00").as_bytes()),
        Ok(None)
    );
    let ais = with_checksum("AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0").replacen('$', "!", 1);
    assert_eq!(parse(ais.as_bytes()), Ok(None));
    assert_eq!(parse(b"$GPGSV,4,4,13,51,37,160,37,1*55"), Ok(None));
}

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn any_fields_with_a_good_checksum_never_panic(kind in "(GP|GN|II)(GGA|RMC|GLL|GNS|VTG|ZDA|HDT|HDG|GSA)", body in "[0-9A-Z.,NSEW-]{0,80}") {
        let _ = parse(with_checksum(&format!("{kind},{body}")).as_bytes());
    }
}
