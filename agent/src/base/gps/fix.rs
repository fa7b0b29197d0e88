//! From sentences to fixes: the [`Assembler`] groups the sentences of one
//! receiver reporting cycle into an [`Epoch`] by gpsd's rules (cycles by
//! time of day across talkers, a learned cycle ender, the last valid
//! position, gpsd's fix mode), adds speed, course, heading, quality and
//! dilution, and places the epoch on the timeline by the receiver's own
//! date and time — never by when the line arrived.

use serde::Serialize;

use crate::base::gps::nmea::{Date, Gga, Gns, LatLon, Sentence, TimeOfDay};
use seaframe_wire::timestamp::Timestamp;

const DAY_MS: u32 = 86_400_000;

/// One position report of the receiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    /// The receiver's time of the fix.
    #[serde(skip)]
    pub time: Timestamp,
    pub lat: f64,
    pub lon: f64,
    /// 2 (2D) or 3 (3D).
    pub mode: u8,
    /// GGA quality: 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning; 0 unknown.
    pub quality: u8,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    pub altitude_m: Option<f64>,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
}

impl Fix {
    /// A short name of the fix's quality, for the API and the index.
    pub fn quality_name(&self) -> &'static str {
        match (self.quality, self.mode) {
            (2, _) => "dgps",
            (4, _) => "rtk",
            (5, _) => "rtk-float",
            (6, _) => "dead-reckoning",
            (_, 3) => "3d",
            _ => "2d",
        }
    }
}

/// The sentences of one epoch (one reporting cycle), merged.
#[derive(Debug, Clone, Default)]
pub struct Epoch {
    pub time: Option<TimeOfDay>,
    pub pos: Option<LatLon>,
    /// Some sentence said the position is valid.
    pub valid: bool,
    pub quality: u8,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    pub altitude_m: Option<f64>,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub heading_deg: Option<f64>,
    /// gpsd's fix mode so far: 0 unknown, 1 no fix, 2 2D, 3 3D; the
    /// highest any sentence of the cycle gave (a cycle never downgrades).
    pub mode: u8,
    pub date: Option<Date>,
    /// When the epoch's first sentence arrived (the live sources say).
    pub arrived: Option<Timestamp>,
}

/// A set of sentence types (talker ignored), as gpsd keeps its cycle enders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Kinds(u16);

fn kind(s: &Sentence) -> u16 {
    1 << match s {
        Sentence::Gga(_) => 0,
        Sentence::Rmc(_) => 1,
        Sentence::Gll(_) => 2,
        Sentence::Gns(_) => 3,
        Sentence::Vtg(_) => 4,
        Sentence::Zda(_) => 5,
        Sentence::Hdt(_) => 6,
        Sentence::Hdg(_) => 7,
        Sentence::Gsa(_) => 8,
    }
}

impl Kinds {
    fn contains(self, kind: u16) -> bool {
        self.0 & kind != 0
    }
}

/// The epochs one sentence completes (none, one or two).
pub type Reported = std::iter::Flatten<std::array::IntoIter<Option<Epoch>, 2>>;

/// Groups sentences into epochs by gpsd's rules for NMEA receivers:
///
/// - A reporting cycle is the run of sentences from one whose time of day
///   differs from the previous timed sentence's, up to the next such
///   change; sentences without a time (GSA, VTG, HDT…) join the cycle they
///   arrive in, whatever their talker (GP, GN, GL, GA, BD…).
/// - The cycle ender is learned: at each change of time, the type of the
///   last timed sentence before it (talker ignored) is marked as one.
/// - An epoch is reported when a cycle ender arrives (that sentence
///   merged in), once per cycle; a cycle that ends without one (the first,
///   before any ender is known, or one cut short) is reported when the next
///   begins, or by [`Assembler::finish`].
/// - Within the cycle later values win: the position is that of the last
///   valid GGA/RMC/GLL/GNS, not of the first.
/// - The mode is the highest any sentence gave (GGA: none under three
///   satellites used, 3D with an altitude and four; GNS alike; RMC and GLL
///   2D; GSA its own), held at 3D through 2D-only cycles after a 3D one.
///
/// Sentences of a cycle that arrive after its report are dropped when the
/// next cycle begins, as gpsd does — but for a heading (HDT/HDG), which
/// seeds the next epoch: a gyro is not in step with the receiver.
#[derive(Debug, Default)]
pub struct Assembler {
    epoch: Epoch,
    /// The current cycle was reported already.
    reported: bool,
    /// The time of day of the last timed sentence, and its type.
    last_time: Option<TimeOfDay>,
    last_kind: u16,
    enders: Kinds,
    /// The date of the latest epoch, carried over midnight.
    date: Option<Date>,
    /// The time of the latest reported epoch (to notice midnight).
    reported_time: Option<TimeOfDay>,
    /// A heading that came after its cycle's report: a gyro's HDT is not
    /// in step with the receiver's cycle, so it seeds the next epoch.
    late_heading_deg: Option<f64>,
    /// The latest reported epoch was a 3D fix: gpsd holds 3D through
    /// cycles whose sentences only say 2D (RMC, GLL) until one says no fix.
    holding_3d: bool,
}

impl Assembler {
    /// Feeds one sentence; returns the epochs it completes, in order: the
    /// previous cycle, when this sentence begins a new one and that cycle
    /// was not reported yet; then this sentence's cycle, when it is a cycle
    /// ender (a receiver sending only RMC makes every sentence both).
    pub fn push(&mut self, s: &Sentence) -> Reported {
        self.push_arrived(s, None)
    }

    /// [`Assembler::push`], with the time the sentence arrived.
    pub fn push_arrived(&mut self, s: &Sentence, arrived: Option<Timestamp>) -> Reported {
        let time = s.time();
        let this_kind = kind(s);
        let mut previous = None;
        if let Some(t) = time {
            if self.last_time.is_some_and(|last| last != t) {
                self.enders.0 |= self.last_kind;
                previous = self.finish();
                self.epoch = Epoch {
                    heading_deg: self.late_heading_deg.take(),
                    ..Epoch::default()
                };
                self.reported = false;
            }
            self.last_time = Some(t);
            self.last_kind = this_kind;
            self.epoch.time = Some(t);
        }
        if self.epoch.arrived.is_none() {
            self.epoch.arrived = arrived;
        }
        self.apply(s);
        let this = if time.is_some() && self.enders.contains(this_kind) {
            self.finish()
        } else {
            None
        };
        [previous, this].into_iter().flatten()
    }

    /// Reports the epoch in progress now, unless it was reported already
    /// or holds nothing (at the end of the input, or when the source goes
    /// quiet). Idempotent; sentences of the same cycle after it are dropped.
    pub fn finish(&mut self) -> Option<Epoch> {
        if self.reported || (self.epoch.time.is_none() && self.epoch.pos.is_none()) {
            return None;
        }
        self.reported = true;
        let mut epoch = self.epoch.clone();
        if epoch.mode == 2 && self.holding_3d {
            epoch.mode = 3;
        }
        self.holding_3d = epoch.mode() == 3;
        if let (Some(t), Some(last)) = (epoch.time, self.reported_time) {
            // Past midnight without a new date: the next day.
            if t < last && last.0 - t.0 > DAY_MS / 2 && epoch.date.is_none() {
                self.date = self.date.map(next_day);
            }
        }
        if epoch.date.is_some() {
            self.date = epoch.date;
        }
        epoch.date = epoch.date.or(self.date);
        if epoch.time.is_some() {
            self.reported_time = epoch.time;
        }
        Some(epoch)
    }

    fn apply(&mut self, s: &Sentence) {
        if let (true, Sentence::Hdt(Some(h)) | Sentence::Hdg(Some(h))) = (self.reported, s) {
            self.late_heading_deg = Some(*h);
        }
        let e = &mut self.epoch;
        let mut take_pos = |pos: Option<LatLon>, valid: bool| {
            if valid && pos.is_some() {
                e.pos = pos;
                e.valid = true;
            }
        };
        let mode = match s {
            Sentence::Gga(g) => {
                take_pos(g.pos, g.quality > 0);
                e.quality = g.quality;
                e.satellites = g.satellites.or(e.satellites);
                e.hdop = g.hdop.or(e.hdop);
                e.altitude_m = g.altitude_m.filter(|_| g.quality > 0).or(e.altitude_m);
                gga_mode(g)
            }
            Sentence::Rmc(r) => {
                take_pos(r.pos, r.valid);
                e.speed_kn = r.speed_kn.or(e.speed_kn);
                e.course_deg = r.course_deg.or(e.course_deg);
                e.date = r.date.or(e.date);
                if r.valid && r.pos.is_some() { 2 } else { 0 }
            }
            Sentence::Gll(g) => {
                take_pos(g.pos, g.valid);
                if g.valid && g.pos.is_some() { 2 } else { 0 }
            }
            Sentence::Gns(g) => {
                take_pos(g.pos, g.valid);
                e.satellites = g.satellites.or(e.satellites);
                e.hdop = g.hdop.or(e.hdop);
                e.altitude_m = g.altitude_m.filter(|_| g.valid).or(e.altitude_m);
                gns_mode(g)
            }
            Sentence::Vtg(v) => {
                e.speed_kn = v.speed_kn.or(e.speed_kn);
                e.course_deg = v.course_deg.or(e.course_deg);
                0
            }
            Sentence::Zda(z) => {
                e.date = z.date.or(e.date);
                0
            }
            Sentence::Hdt(h) | Sentence::Hdg(h) => {
                e.heading_deg = h.or(e.heading_deg);
                0
            }
            Sentence::Gsa(g) => g.fix_type.unwrap_or(0).min(3),
        };
        e.mode = e.mode.max(mode);
    }
}

/// The mode gpsd gives a GGA: no fix without a quality or with fewer than
/// three satellites used (an empty count is none); 3D with an altitude
/// and four or more; else 2D.
fn gga_mode(g: &Gga) -> u8 {
    let used = g.satellites.unwrap_or(0);
    match (g.quality, g.pos) {
        (0, _) | (_, None) => 1,
        _ if used < 3 => 1,
        _ if used >= 4 && g.altitude_m.is_some() => 3,
        _ => 2,
    }
}

/// The mode gpsd gives a GNS: no fix when every system says `N`; 3D with
/// an altitude and more than three satellites; else 2D.
fn gns_mode(g: &Gns) -> u8 {
    match (g.valid, g.pos) {
        (false, _) | (_, None) => 1,
        _ if g.satellites.unwrap_or(0) > 3 && g.altitude_m.is_some() => 3,
        _ => 2,
    }
}

fn next_day(d: Date) -> Date {
    let next = time::Date::from_calendar_date(
        d.year,
        time::Month::try_from(d.month).unwrap_or(time::Month::January),
        d.day,
    )
    .ok()
    .and_then(time::Date::next_day);
    match next {
        Some(n) => Date {
            year: n.year(),
            month: u8::from(n.month()),
            day: n.day(),
        },
        None => d,
    }
}

/// The instant of a date and a time of day (UTC).
pub fn instant(date: Date, time: TimeOfDay) -> Option<Timestamp> {
    let d = time::Date::from_calendar_date(
        date.year,
        time::Month::try_from(date.month).ok()?,
        date.day,
    )
    .ok()?;
    let midnight_ns = d.midnight().assume_utc().unix_timestamp_nanos();
    let ns = midnight_ns + i128::from(time.0) * 1_000_000;
    i64::try_from(ns).ok().map(Timestamp::from_unix_nanos)
}

impl Epoch {
    /// The epoch's fix mode as gpsd would report it: 1 (no fix) unless
    /// a valid position came with a 2D or 3D mode.
    pub fn mode(&self) -> u8 {
        if self.valid && self.pos.is_some() {
            self.mode.max(1)
        } else {
            1
        }
    }

    /// The fix of this epoch: a valid position with a date and time.
    pub fn fix(&self) -> Option<Fix> {
        let pos = self.pos.filter(|_| self.valid)?;
        if self.mode() < 2 {
            return None; // the receiver says: no fix
        }
        let time = instant(self.date?, self.time?)?;
        let mode = self.mode();
        Some(Fix {
            time,
            lat: pos.lat,
            lon: pos.lon,
            mode,
            quality: self.quality,
            satellites: self.satellites,
            hdop: self.hdop,
            altitude_m: self.altitude_m,
            speed_kn: self.speed_kn,
            course_deg: self.course_deg,
            heading_deg: self.heading_deg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::gps::nmea::parse;

    fn sentence(line: &str) -> Sentence {
        parse(line.as_bytes()).unwrap().unwrap()
    }

    /// A sentence with its checksum computed.
    fn body(body: &str) -> Sentence {
        let sum = body.bytes().fold(0u8, |x, b| x ^ b);
        sentence(&format!("${body}*{sum:02X}"))
    }

    fn feed(lines: &[&str]) -> Vec<Epoch> {
        let mut a = Assembler::default();
        let mut out: Vec<Epoch> = lines.iter().flat_map(|l| a.push(&sentence(l))).collect();
        out.extend(a.finish());
        out
    }

    #[test]
    fn an_epoch_combines_its_sentences_and_is_placed_by_its_own_date_and_time() {
        let epochs = feed(&[
            "$GNRMC,014500.00,A,4404.1306024,N,12118.8446777,W,0.013,,231221,,,D,V*04",
            "$GNVTG,,T,,M,0.013,N,0.024,K,D*3C",
            "$GNGGA,014500.00,4404.1306024,N,12118.8446777,W,2,12,0.49,1129.913,M,-21.350,M,,0278*4C",
            "$GNGSA,A,3,21,30,46,13,17,51,14,44,15,19,07,01,0.98,0.49,0.84,1*0C",
            "$GPHDT,,T*1B",
        ]);
        let fix = epochs[0].fix().unwrap();
        assert_eq!(fix.time.to_rfc3339(), "2021-12-23T01:45:00.000000000Z");
        assert_eq!((fix.mode, fix.quality, fix.satellites), (3, 2, Some(12)));
        assert_eq!(fix.speed_kn, Some(0.013));
        assert_eq!(fix.quality_name(), "dgps");
    }

    #[test]
    fn no_valid_sentence_no_fix() {
        let epochs = feed(&[
            "$GPGGA,,,,,,0,,,,M,,M,,*66",
            "$GPZDA,193913.00,07,09,2018,00,00*63",
        ]);
        assert!(epochs.iter().all(|e| e.fix().is_none()));
    }

    #[test]
    fn the_date_rolls_over_at_midnight() {
        let mut a = Assembler::default();
        a.push(&body("GPZDA,235959.00,31,12,2025,00,00"))
            .for_each(drop);
        a.push(&body("GPGGA,000000.00,,,,,0,,,,M,,M,,"))
            .for_each(drop);
        let e = a.finish().unwrap();
        assert_eq!(
            e.date,
            Some(Date {
                year: 2026,
                month: 1,
                day: 1
            })
        );
    }

    /// One u-blox-like cycle at `sec` seconds past 12:00: three talkers'
    /// sentences, the GP position a little west of the GN one.
    fn cycle(sec: u32) -> Vec<Sentence> {
        let t = format!("1200{sec:02}.00");
        vec![
            body(&format!("GNRMC,{t},A,4404.0,N,12118.0,W,0.1,,231221,,,A")),
            body("GNVTG,,T,,M,0.1,N,0.2,K,A"),
            body(&format!(
                "GPGGA,{t},4404.0,N,12118.5,W,1,08,1.0,10.0,M,0.0,M,,"
            )),
            body("GPGSA,A,3,01,02,03,04,,,,,,,,,2.0,1.0,1.5"),
            body("GLGSA,A,3,65,66,,,,,,,,,,,2.0,1.0,1.5"),
            body(&format!("GNGLL,4404.0,N,12118.9,W,{t},A,A")),
            body("GPHDT,90.0,T"),
        ]
    }

    #[test]
    fn several_talkers_make_one_epoch_a_cycle_reported_at_its_ender() {
        let mut a = Assembler::default();
        let mut reported: Vec<(usize, Epoch)> = Vec::new();
        let mut n = 0;
        for sec in 0..4 {
            for s in cycle(sec) {
                n += 1;
                reported.extend(a.push(&s).map(|e| (n, e)));
            }
        }
        reported.extend(a.finish().map(|e| (n, e)));
        let times: Vec<u32> = reported.iter().map(|(_, e)| e.time.unwrap().0).collect();
        assert_eq!(times, [43_200_000, 43_201_000, 43_202_000, 43_203_000]);
        // The first cycle ends when the second begins (sentence 8); then GLL,
        // the last timed sentence before a new time, is the cycle ender: each
        // later cycle is reported at its GLL (sentence 6 of 7), not a cycle late.
        let at: Vec<usize> = reported.iter().map(|(n, _)| *n).collect();
        assert_eq!(at, [8, 13, 20, 27]);
        for (_, e) in &reported {
            // The cycle's position is the last valid one (GLL), not the first.
            assert!(
                (e.pos.unwrap().lon + (121.0 + 18.9 / 60.0)).abs() < 1e-9,
                "{e:?}"
            );
            assert_eq!(e.mode(), 3);
        }
        // The first cycle, reported at the boundary, has its HDT; later ones
        // end at GLL, and the HDT after it seeds the next epoch.
        let headings: Vec<Option<f64>> = reported.iter().map(|(_, e)| e.heading_deg).collect();
        assert_eq!(headings, [Some(90.0), None, Some(90.0), Some(90.0)]);
    }

    #[test]
    fn a_receiver_sending_only_rmc_gets_every_epoch_at_once() {
        let mut a = Assembler::default();
        let rmc = |sec: u32| {
            body(&format!(
                "GPRMC,1200{sec:02},A,4404.0,N,12118.0,W,0.1,,231221,,"
            ))
        };
        assert_eq!(a.push(&rmc(0)).count(), 0);
        // The second RMC ends the first cycle and, now an ender, its own.
        let two: Vec<u32> = a.push(&rmc(1)).map(|e| e.time.unwrap().0).collect();
        assert_eq!(two, [43_200_000, 43_201_000]);
        assert_eq!(a.push(&rmc(2)).count(), 1);
        assert!(a.finish().is_none(), "reported already");
    }

    #[test]
    fn after_a_3d_fix_a_2d_only_cycle_stays_3d_until_one_says_no_fix() {
        let mut a = Assembler::default();
        let gga = |sec: u32, q: u8| {
            body(&format!(
                "GPGGA,1200{sec:02},4404.0,N,12118.0,W,{q},08,1.0,10.0,M,0.0,M,,"
            ))
        };
        let rmc = |sec: u32| {
            body(&format!(
                "GPRMC,1200{sec:02},A,4404.0,N,12118.0,W,0.1,,231221,,"
            ))
        };
        let mut modes = Vec::new();
        // 3D (GGA with altitude), then RMC only, then a GGA without a fix,
        // then RMC only again.
        for s in [gga(0, 1), rmc(1), gga(2, 0), rmc(3), rmc(4)] {
            modes.extend(a.push(&s).map(|e| e.mode()));
        }
        modes.extend(a.finish().map(|e| e.mode()));
        assert_eq!(modes, [3, 3, 1, 2, 2]);
    }

    #[test]
    fn finish_reports_a_cycle_in_progress_once() {
        let mut a = Assembler::default();
        for sec in 0..2 {
            for s in cycle(sec) {
                a.push(&s).for_each(drop);
            }
        }
        // A cycle cut short: RMC and GGA came, its ender (GLL) never did.
        let cut = cycle(2);
        assert_eq!(a.push(&cut[0]).count() + a.push(&cut[2]).count(), 0);
        let e = a.finish().unwrap();
        assert_eq!(e.time, Some(TimeOfDay(43_202_000)));
        assert!((e.pos.unwrap().lon + (121.0 + 18.5 / 60.0)).abs() < 1e-9);
        assert!(a.finish().is_none());
        // The rest of that cycle, arriving late, is not a second epoch.
        assert_eq!(a.push(&cut[5]).count(), 0);
        assert!(a.finish().is_none());
    }
}
