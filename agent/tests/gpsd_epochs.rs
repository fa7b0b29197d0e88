//! Our epochs against a real gpsd's, epoch by epoch, on receiver streams
//! as they really talk, made from the GPSD captures by the test kit: UBX
//! frames between the sentences (one holding a whole GGA in its payload),
//! binary junk before `$` on the same line, fix sentences re-broadcast by a
//! second talker. The same bytes go through gpsfake into gpsd and, read in
//! chunks of every size from 1 to 61 bytes, through our framer, parser and
//! assembler. Prints the agreement per stream and asserts it.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::collections::{BTreeMap, HashMap};

use seaframe_agent::base::gps::fix::{Assembler, Epoch};
use seaframe_agent::base::gps::framer::{Framed, Framer};
use seaframe_agent::base::gps::nmea;
use seaframe_testkit::{Gpsd, Mix, Mixed, mix_capture, nmea_log};
use seaframe_wire::timestamp::Timestamp;

const DAY_MS: i64 = 86_400_000;

/// At most this many epochs of a stream may disagree with gpsd: before it
/// has learned the cycle ender gpsd reports on every sentence that changes
/// position or mode, so its word on the first cycle it reports can be a
/// mid-cycle one (an RMC-only 2D fix where ours, taken at the cycle's end,
/// is 3D). Every later epoch must agree.
const MAX_DISAGREEING_PER_STREAM: usize = 1;
/// And over all streams together, at least this share must agree.
const MIN_AGREEMENT: f64 = 0.95;

struct Case {
    log: &'static str,
    what: &'static str,
    mix: Mix,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            log: "ublox-f9p-hpnmea.log",
            what: "u-blox F9P, UBX+NMEA, junk",
            mix: Mix {
                ubx_every: 3,
                junk_every: 7,
                ..Mix::default()
            },
        },
        Case {
            log: "neo-m8n.log",
            what: "u-blox M8N, UBX+NMEA, junk",
            mix: Mix {
                ubx_every: 4,
                junk_every: 5,
                ..Mix::default()
            },
        },
        Case {
            log: "telit-pls83-w.log",
            what: "five talkers (GP GL GA BD GN), junk",
            mix: Mix {
                junk_every: 4,
                ..Mix::default()
            },
        },
        Case {
            log: "hemi.log",
            what: "GP re-broadcast as GN, UBX, junk",
            mix: Mix {
                // The capture's last 113 lines: the receiver has a fix.
                from_line: 640,
                ubx_every: 6,
                junk_every: 9,
                rebroadcast_as: Some(*b"GN"),
                ..Mix::default()
            },
        },
    ]
}

/// One epoch as gpsd or we report it (`mode` 1: no fix).
#[derive(Debug, Clone, Copy)]
struct Report {
    lat: f64,
    lon: f64,
    mode: u8,
}

/// gpsd's word on each cycle (TPV with a time) by time of day in ms: its
/// last report of a cycle, which holds all of the cycle it merged.
fn gpsd_epochs(reports: &[serde_json::Value]) -> BTreeMap<i64, Report> {
    let mut out = BTreeMap::new();
    for r in reports.iter().filter(|r| r["class"] == "TPV") {
        let (Some(mode), Some(time)) = (r["mode"].as_u64(), r["time"].as_str()) else {
            continue;
        };
        let tod = Timestamp::parse_user(time)
            .unwrap()
            .unix_millis()
            .rem_euclid(DAY_MS);
        let report = Report {
            lat: r["lat"].as_f64().unwrap_or(f64::NAN),
            lon: r["lon"].as_f64().unwrap_or(f64::NAN),
            mode: u8::try_from(mode).unwrap(),
        };
        out.insert(tod, report);
    }
    out
}

/// Our epochs of the same bytes, read in chunks of 1, 2, … 61 bytes, and
/// the framer's refusals by name.
fn ours(bytes: &[u8]) -> (Vec<Epoch>, HashMap<&'static str, usize>) {
    let mut framer = Framer::default();
    let mut assembler = Assembler::default();
    let mut epochs = Vec::new();
    let mut refused: HashMap<&'static str, usize> = HashMap::new();
    let mut rest = bytes;
    let mut size = 0;
    while !rest.is_empty() {
        size = size % 61 + 1;
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        rest = after;
        framer.push(chunk, |framed| match framed {
            Framed::Sentence(line) => {
                if let Ok(Some(s)) = nmea::parse(line) {
                    epochs.extend(assembler.push(&s));
                }
            }
            Framed::Refused(why) => *refused.entry(why.name()).or_default() += 1,
        });
    }
    epochs.extend(assembler.finish());
    (epochs, refused)
}

/// Our fixes by time of day; panics if a cycle gave two epochs.
fn our_fixes(epochs: &[Epoch]) -> BTreeMap<i64, Report> {
    let mut out = BTreeMap::new();
    for e in epochs {
        let (Some(t), Some(p), true) = (e.time, e.pos, e.mode() >= 2) else {
            continue;
        };
        let report = Report {
            lat: p.lat,
            lon: p.lon,
            mode: e.mode(),
        };
        let before = out.insert(i64::from(t.0), report);
        assert!(
            before.is_none(),
            "two epochs at {t:?}: {before:?} and {report:?}"
        );
    }
    out
}

#[derive(Debug, Default)]
struct Tally {
    /// Cycles gpsd reports a 2D/3D fix for.
    gpsd_fixes: usize,
    /// Of those, ours at the same time of day with the same position.
    time_and_position: usize,
    /// …and the same mode.
    agreed: usize,
    /// Cycles we have a fix for and gpsd's last word says no fix.
    contradicted: usize,
    /// Cycles we have a fix for and gpsd says nothing of (it missed them).
    unseen: usize,
}

impl Tally {
    fn compared(&self) -> usize {
        self.gpsd_fixes + self.contradicted
    }
}

fn compare(gpsd: &BTreeMap<i64, Report>, ours: &BTreeMap<i64, Report>) -> Tally {
    let mut t = Tally::default();
    for (tod, g) in gpsd.iter().filter(|(_, g)| g.mode >= 2) {
        t.gpsd_fixes += 1;
        let Some(o) = ours.get(tod) else { continue };
        if (o.lat - g.lat).abs() <= 1e-6 && (o.lon - g.lon).abs() <= 1e-6 {
            t.time_and_position += 1;
            t.agreed += usize::from(o.mode == g.mode);
        }
    }
    // gpsd misses the start of a capture while it probes the device: our
    // fixes before its first report are not compared.
    let first = gpsd.keys().next().copied().unwrap_or(i64::MAX);
    for tod in ours.keys().filter(|tod| **tod >= first) {
        match gpsd.get(tod) {
            Some(g) if g.mode < 2 => t.contradicted += 1,
            Some(_) => {}
            None => t.unseen += 1,
        }
    }
    t
}

#[test]
fn our_epochs_agree_with_gpsd_on_mixed_receiver_streams() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for case in cases() {
        let original = std::fs::read(nmea_log(case.log)).unwrap();
        let (bytes, mixed) = mix_capture(&original, case.mix);
        let path = dir.path().join(case.log);
        std::fs::write(&path, &bytes).unwrap();
        // Each gpsd in a thread of its own: the captures play at once.
        let gpsd = std::thread::spawn(move || Gpsd::start(&path).unwrap().reports().unwrap());
        runs.push((case, bytes, mixed, gpsd));
    }
    let (mut all, mut agreed) = (0, 0);
    let mut failed = Vec::new();
    for (case, bytes, mixed, gpsd) in runs {
        let reports = gpsd.join().unwrap();
        let (epochs, refused) = ours(&bytes);
        let theirs = gpsd_epochs(&reports);
        let t = compare(&theirs, &our_fixes(&epochs));
        println!(
            "{:22} {:38} {mixed:?}\n{:22} gpsd fixes {:3}  time+position agreed {:3}  and mode {:3}  ours where gpsd says no fix {}  (ours where gpsd says nothing {})  refused {refused:?}",
            case.log,
            case.what,
            "",
            t.gpsd_fixes,
            t.time_and_position,
            t.agreed,
            t.contradicted,
            t.unseen,
        );
        check_refusals(case.log, &mixed, &refused);
        if t.gpsd_fixes < 4 {
            failed.push(format!(
                "{}: gpsd gave only {} fixes",
                case.log, t.gpsd_fixes
            ));
        }
        if t.compared() - t.agreed > MAX_DISAGREEING_PER_STREAM {
            failed.push(format!("{}: {t:?}", case.log));
        }
        all += t.compared();
        agreed += t.agreed;
    }
    let rate = agreed as f64 / all.max(1) as f64;
    println!(
        "ALL: {agreed} of {all} epochs agreed with gpsd in time, position (1e-6°) and mode ({:.1}%)",
        rate * 100.0
    );
    assert!(rate >= MIN_AGREEMENT, "agreement below {MIN_AGREEMENT}");
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Every UBX frame the mix put in was skipped as one, and every junk run
/// as one (plus the capture's header comments, one run).
fn check_refusals(log: &str, mixed: &Mixed, refused: &HashMap<&'static str, usize>) {
    let count = |name: &str| refused.get(name).copied().unwrap_or(0);
    assert_eq!(count("ubx_frame"), mixed.ubx_frames, "{log}: {refused:?}");
    assert_eq!(count("binary"), mixed.junk_runs + 1, "{log}: {refused:?}");
    assert_eq!(count("ubx_bad_checksum"), 0, "{log}: {refused:?}");
}
