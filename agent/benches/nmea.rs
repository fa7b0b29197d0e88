//! NMEA parser throughput on the GPSD captures in `tests/data/nmea/`,
//! concatenated: every line of the 38 real logs (garbage and bad checksums
//! included) through `nmea::parse`, and through the epoch assembler as well;
//! and the same bytes through the stream framer.
//! `cargo bench -p seaframe-agent --bench nmea`

#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seaframe_agent::base::gps::fix::Assembler;
use seaframe_agent::base::gps::framer::{Framed, Framer};
use seaframe_agent::base::gps::nmea;

fn lines() -> Vec<Vec<u8>> {
    let dir = seaframe_testkit::nmea_dir();
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "log") {
            let bytes = std::fs::read(path).unwrap();
            out.extend(
                bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.starts_with(b"#"))
                    .map(<[u8]>::to_vec),
            );
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let mut g = c.benchmark_group("nmea");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| matches!(nmea::parse(l), Ok(Some(_))))
                .count()
        })
    });
    g.bench_function("parse+assemble", |b| {
        b.iter(|| {
            let mut a = Assembler::default();
            lines
                .iter()
                .filter_map(|l| nmea::parse(l).ok().flatten())
                .flat_map(|s| a.push(&s))
                .filter(|e| e.fix().is_some())
                .count()
        })
    });
    let bytes: Vec<u8> = lines.join(&b'\n');
    g.bench_function("frame", |b| {
        b.iter(|| {
            let mut n = 0usize;
            Framer::default().push(&bytes, |f| {
                n += usize::from(matches!(f, Framed::Sentence(_)))
            });
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
