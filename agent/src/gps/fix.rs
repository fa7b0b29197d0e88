//! From sentences to fixes: the [`Assembler`] groups the sentences of one
//! receiver epoch (those sharing a time of day), takes the position from
//! whichever valid sentence has one, adds speed, course, heading, quality
//! and dilution from the others, and places the epoch on the timeline by
//! the receiver's own date and time — never by when the line arrived.

use serde::Serialize;

use super::nmea::{Date, LatLon, Sentence, TimeOfDay};
use crate::timestamp::Timestamp;

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

/// The sentences of one epoch, as far as they have come.
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
    pub fix_type: Option<u8>,
    pub date: Option<Date>,
}

/// Groups sentences into epochs and epochs into [`Fix`]es.
#[derive(Debug, Default)]
pub struct Assembler {
    epoch: Epoch,
    /// The date of the latest epoch, carried over midnight.
    date: Option<Date>,
    last_time: Option<TimeOfDay>,
}

impl Assembler {
    /// Feeds one sentence; returns the previous epoch when this one starts
    /// a new epoch (a different time of day).
    pub fn push(&mut self, s: &Sentence) -> Option<Epoch> {
        let time = s.time();
        let done = match (time, self.epoch.time) {
            (Some(t), Some(current)) if t != current => Some(self.finish()),
            _ => None,
        };
        if time.is_some() {
            self.epoch.time = time;
        }
        self.apply(s);
        done
    }

    /// Ends the current epoch (at the end of the input).
    pub fn finish(&mut self) -> Epoch {
        let mut epoch = std::mem::take(&mut self.epoch);
        if let (Some(t), Some(last)) = (epoch.time, self.last_time) {
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
            self.last_time = epoch.time;
        }
        epoch
    }

    fn apply(&mut self, s: &Sentence) {
        let e = &mut self.epoch;
        let mut take_pos = |pos: Option<LatLon>, valid: bool| {
            if valid && pos.is_some() && !e.valid {
                e.pos = pos;
                e.valid = true;
            }
        };
        match s {
            Sentence::Gga(g) => {
                take_pos(g.pos, g.quality > 0);
                e.quality = g.quality;
                e.satellites = g.satellites.or(e.satellites);
                e.hdop = g.hdop.or(e.hdop);
                e.altitude_m = g.altitude_m.filter(|_| g.quality > 0).or(e.altitude_m);
            }
            Sentence::Rmc(r) => {
                take_pos(r.pos, r.valid);
                e.speed_kn = r.speed_kn.or(e.speed_kn);
                e.course_deg = r.course_deg.or(e.course_deg);
                e.date = r.date.or(e.date);
            }
            Sentence::Gll(g) => take_pos(g.pos, g.valid),
            Sentence::Gns(g) => {
                take_pos(g.pos, g.valid);
                e.satellites = g.satellites.or(e.satellites);
                e.hdop = g.hdop.or(e.hdop);
                e.altitude_m = g.altitude_m.filter(|_| g.valid).or(e.altitude_m);
            }
            Sentence::Vtg(v) => {
                e.speed_kn = v.speed_kn.or(e.speed_kn);
                e.course_deg = v.course_deg.or(e.course_deg);
            }
            Sentence::Zda(z) => e.date = z.date.or(e.date),
            Sentence::Hdt(h) | Sentence::Hdg(h) => e.heading_deg = h.or(e.heading_deg),
            Sentence::Gsa(g) => e.fix_type = g.fix_type.or(e.fix_type),
        }
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
    /// The fix of this epoch: a valid position with a date and time.
    pub fn fix(&self) -> Option<Fix> {
        let pos = self.pos.filter(|_| self.valid)?;
        if self.fix_type == Some(1) {
            return None; // the receiver says: no fix
        }
        let time = instant(self.date?, self.time?)?;
        let mode =
            if self.fix_type == Some(3) || (self.fix_type.is_none() && self.altitude_m.is_some()) {
                3
            } else {
                2
            };
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
    use crate::gps::nmea::parse;

    fn feed(lines: &[&str]) -> Vec<Epoch> {
        let mut a = Assembler::default();
        let mut out: Vec<Epoch> = lines
            .iter()
            .filter_map(|l| parse(l.as_bytes()).ok().flatten())
            .filter_map(|s| a.push(&s))
            .collect();
        out.push(a.finish());
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
        for body in [
            "GPZDA,235959.00,31,12,2025,00,00",
            "GPGGA,000000.00,,,,,0,,,,M,,M,,",
        ] {
            let sum = body.bytes().fold(0u8, |x, b| x ^ b);
            let s = parse(format!("${body}*{sum:02X}").as_bytes())
                .unwrap()
                .unwrap();
            a.push(&s);
        }
        let e = a.finish();
        assert_eq!(
            e.date,
            Some(Date {
                year: 2026,
                month: 1,
                day: 1
            })
        );
    }
}
