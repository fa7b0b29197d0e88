//! The design card's crates measured against what seaframe uses, on the
//! project's own data (docs/architecture.md "Dependencies").
//!
//! `nmea`: every line of the 38 GPSD captures in `tests/data/nmea/` through
//! `nmea::parse_str` and through the agent's parser — accepted, refused by
//! reason, lines per second — then fix by fix: `nmea::Nmea::parse_for_fix`
//! and the agent's assembler against gpsd's own fixes (`*.log.chk`).
//! `chrono`: the agent's three time formats parsed and formatted by
//! `chrono` and by `time`, per second.
//!
//! `cargo run --release --manifest-path bench/card/Cargo.toml`

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use seaframe_agent::base::gps::fix::Assembler;
use seaframe_agent::base::gps::framer::{Framed, Framer};
use seaframe_agent::base::gps::nmea as ours;
use seaframe_wire::timestamp::Timestamp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/nmea");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let captures: Vec<(PathBuf, Vec<u8>)> = logs
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).map(|b| data_bytes(&b));
            bytes.map(|b| (p, b))
        })
        .collect::<Result<_, _>>()?;
    sentences(&captures);
    fixes(&captures)?;
    times();
    Ok(())
}

/// A capture's data: comment lines dropped, gpsfake's `|` write marks
/// removed (tests/data/nmea/README.md).
fn data_bytes(bytes: &[u8]) -> Vec<u8> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"#"))
        .flat_map(|l| l.iter().copied().filter(|&b| b != b'|'))
        .collect()
}

fn lines(captures: &[(PathBuf, Vec<u8>)]) -> Vec<&[u8]> {
    captures
        .iter()
        .flat_map(|(_, b)| b.split(|&c| c == b'\n'))
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect()
}

/// The first word of an error's or a result's Debug form: its variant.
fn variant(debug: String) -> String {
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn sentences(captures: &[(PathBuf, Vec<u8>)]) {
    let lines = lines(captures);
    let mut theirs: BTreeMap<String, usize> = BTreeMap::new();
    let mut mine: BTreeMap<String, usize> = BTreeMap::new();
    // Where the two disagree on whether a line is good.
    let mut only_ours: BTreeMap<String, usize> = BTreeMap::new();
    let mut only_theirs: BTreeMap<String, usize> = BTreeMap::new();
    for line in &lines {
        let t = match std::str::from_utf8(line) {
            Ok(s) => nmea::parse_str(s).map_err(|e| variant(format!("{e:?}"))),
            Err(_) => Err("Utf8Decoding".to_owned()),
        };
        let o = ours::parse(line).map_err(|e| variant(format!("{e:?}")));
        let t_key = match &t {
            Ok(nmea::ParseResult::Unsupported(kind)) => format!("ok, unsupported {kind:?}"),
            Ok(r) => format!("ok {}", variant(format!("{r:?}"))),
            Err(e) => format!("refused: {e}"),
        };
        let o_key = match &o {
            Ok(Some(s)) => format!("ok {}", variant(format!("{s:?}")).to_uppercase()),
            Ok(None) => "ok, not used".to_owned(),
            Err(e) => format!("refused: {e}"),
        };
        *theirs.entry(t_key.clone()).or_default() += 1;
        *mine.entry(o_key.clone()).or_default() += 1;
        match (&t, &o) {
            (Ok(_), Err(e)) => *only_theirs.entry(format!("{t_key} / ours {e}")).or_default() += 1,
            (Err(e), Ok(Some(_))) => {
                *only_ours.entry(format!("{o_key} / nmea {e}")).or_default() += 1
            }
            _ => {}
        }
    }
    println!("== sentences: {} lines of {} captures", lines.len(), captures.len());
    println!("-- nmea 0.8 (parse_str)");
    for (k, n) in &theirs {
        println!("{n:7}  {k}");
    }
    println!("-- seaframe (gps::nmea::parse)");
    for (k, n) in &mine {
        println!("{n:7}  {k}");
    }
    println!("-- a sentence we use, refused by nmea");
    for (k, n) in &only_ours {
        println!("{n:7}  {k}");
    }
    println!("-- accepted by nmea, refused by us");
    for (k, n) in &only_theirs {
        println!("{n:7}  {k}");
    }
    let rounds = 20;
    let t0 = Instant::now();
    for _ in 0..rounds {
        for line in &lines {
            if let Ok(s) = std::str::from_utf8(line) {
                let _ = black_box(nmea::parse_str(black_box(s)));
            }
        }
    }
    let theirs_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    for _ in 0..rounds {
        for line in &lines {
            let _ = black_box(ours::parse(black_box(line)));
        }
    }
    let ours_s = t0.elapsed().as_secs_f64();
    let n = (lines.len() * rounds) as f64;
    println!(
        "speed: nmea {:.2} M lines/s, seaframe {:.2} M lines/s (one core)",
        n / theirs_s / 1e6,
        n / ours_s / 1e6
    );
}

/// gpsd's fixes of a capture: time of day (ms) → positions, for TPV
/// records of mode 2 or 3.
fn gpsd_fixes(log: &Path) -> Result<Vec<(u32, f64, f64)>, Box<dyn std::error::Error>> {
    let chk = std::fs::read_to_string(log.with_extension("log.chk")).unwrap_or_default();
    let mut out = Vec::new();
    for line in chk.lines().filter(|l| l.starts_with("{\"class\":\"TPV\"")) {
        let tpv: serde_json::Value = serde_json::from_str(line)?;
        let (Some(mode), Some(lat), Some(lon), Some(time)) = (
            tpv["mode"].as_u64(),
            tpv["lat"].as_f64(),
            tpv["lon"].as_f64(),
            tpv["time"].as_str(),
        ) else {
            continue;
        };
        if mode >= 2 {
            let t = Timestamp::parse_user(time)?;
            out.push((t.unix_millis().rem_euclid(86_400_000) as u32, lat, lon));
        }
    }
    Ok(out)
}

fn near(ps: Option<&Vec<(f64, f64)>>, lat: f64, lon: f64) -> bool {
    ps.is_some_and(|ps| {
        ps.iter()
            .any(|(a, b)| (a - lat).abs() <= 1e-6 && (b - lon).abs() <= 1e-6)
    })
}

fn fixes(captures: &[(PathBuf, Vec<u8>)]) -> Result<(), Box<dyn std::error::Error>> {
    let (mut gpsd, mut agreed_theirs, mut agreed_ours) = (0, 0, 0);
    let (mut reported_theirs, mut reported_ours) = (0, 0);
    let mut parse_errors_theirs = 0;
    for (log, bytes) in captures {
        // nmea's fix-by-fix state machine, fed line by line.
        let mut theirs: HashMap<u32, Vec<(f64, f64)>> = HashMap::new();
        let mut state = nmea::Nmea::default();
        for line in bytes.split(|&c| c == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Ok(s) = std::str::from_utf8(line) else {
                continue;
            };
            if s.is_empty() {
                continue;
            }
            match state.parse_for_fix(s) {
                Ok(nmea::sentences::FixType::Invalid) => {}
                Ok(_) => {
                    if let (Some(t), Some(lat), Some(lon)) =
                        (state.fix_time, state.latitude, state.longitude)
                    {
                        use chrono::Timelike;
                        let tod = t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000;
                        theirs.entry(tod).or_default().push((lat, lon));
                        reported_theirs += 1;
                    }
                }
                Err(_) => parse_errors_theirs += 1,
            }
        }
        // Ours: the stream framer, the parser and the epoch assembler.
        let mut mine: HashMap<u32, Vec<(f64, f64)>> = HashMap::new();
        let mut assembler = Assembler::default();
        let mut epochs = Vec::new();
        Framer::default().push(bytes, |framed| {
            if let Framed::Sentence(line) = framed
                && let Ok(Some(s)) = ours::parse(line)
            {
                epochs.extend(assembler.push(&s));
            }
        });
        epochs.extend(assembler.finish());
        for e in &epochs {
            if let (Some(t), Some(p), true) = (e.time, e.pos, e.mode() >= 2) {
                mine.entry(t.0).or_default().push((p.lat, p.lon));
                reported_ours += 1;
            }
        }
        for (tod, lat, lon) in gpsd_fixes(log)? {
            gpsd += 1;
            agreed_theirs += usize::from(near(theirs.get(&tod), lat, lon));
            agreed_ours += usize::from(near(mine.get(&tod), lat, lon));
        }
    }
    let pct = |n: usize| n as f64 * 100.0 / gpsd.max(1) as f64;
    println!("== fixes against gpsd's ({gpsd} 2D/3D fixes with a time in the .chk files)");
    println!(
        "nmea 0.8 (Nmea::parse_for_fix): {reported_theirs} fixes reported, {agreed_theirs} of gpsd's \
         matched in time and position ({:.1} %); {parse_errors_theirs} lines refused",
        pct(agreed_theirs)
    );
    println!(
        "seaframe (framer, parse, Assembler): {reported_ours} fixes reported, {agreed_ours} of gpsd's \
         matched ({:.1} %)",
        pct(agreed_ours)
    );
    Ok(())
}

/// The agent's time formats (docs/api.md): RFC 3339 with nanoseconds, the
/// slashed UTC form, and formatting RFC 3339 with nanoseconds.
fn times() {
    use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let rfc = "2026-11-24T08:01:02.345678901Z";
    let slashed = "2026/11/24 08:01:02";
    let n = 1_000_000;
    let rate = |f: &dyn Fn()| {
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        n as f64 / t0.elapsed().as_secs_f64() / 1e6
    };
    let slashed_fd = format_description!("[year]/[month]/[day] [hour]:[minute]:[second]");
    let c_rfc = rate(&|| {
        black_box(DateTime::parse_from_rfc3339(black_box(rfc)).ok());
    });
    let t_rfc = rate(&|| {
        black_box(time::OffsetDateTime::parse(black_box(rfc), &Rfc3339).ok());
    });
    let c_sl = rate(&|| {
        black_box(NaiveDateTime::parse_from_str(black_box(slashed), "%Y/%m/%d %H:%M:%S").ok());
    });
    let t_sl = rate(&|| {
        black_box(time::PrimitiveDateTime::parse(black_box(slashed), &slashed_fd).ok());
    });
    let cdt: DateTime<Utc> = DateTime::parse_from_rfc3339(rfc)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default();
    let tdt = time::OffsetDateTime::parse(rfc, &Rfc3339).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let c_fmt = rate(&|| {
        black_box(black_box(cdt).to_rfc3339_opts(SecondsFormat::Nanos, true));
    });
    let t_fmt = rate(&|| {
        black_box(black_box(tdt).format(&Rfc3339).ok());
    });
    let agree = cdt.timestamp_nanos_opt() == Some(tdt.unix_timestamp_nanos() as i64)
        && cdt.to_rfc3339_opts(SecondsFormat::Nanos, true) == tdt.format(&Rfc3339).unwrap_or_default();
    println!("== times (M operations/s, one core): chrono 0.4 / time 0.3");
    println!("parse RFC 3339 ns   {c_rfc:6.2} / {t_rfc:6.2}");
    println!("parse YYYY/MM/DD    {c_sl:6.2} / {t_sl:6.2}");
    println!("format RFC 3339 ns  {c_fmt:6.2} / {t_fmt:6.2}");
    println!("same instant and text from both: {agree}");
}
