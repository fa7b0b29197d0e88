//! An IO-free NMEA 0183 parser: one line in, one typed sentence out.
//!
//! Written here rather than taken from the `nmea` crate: the agent needs
//! zero-allocation parsing of exactly the sentences it uses (GGA, RMC, GLL,
//! GNS, VTG, ZDA, HDT, HDG, GSA) from every talker, with a typed error for
//! each way a line can be bad (too long, truncated, no or bad checksum,
//! garbage) so that each is counted, and never a panic. Proprietary
//! sentences (`$P…`), AIS (`!…`) and sentence types the agent does not use
//! are recognised and ignored (`Ok(None)`).

/// NMEA 0183 allows 82 characters; high-precision receivers (u-blox
/// "HPNMEA", RTK) send longer GGA/GNS lines, so accept up to twice that.
pub const MAX_LINE_BYTES: usize = 164;

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NmeaError {
    #[error("empty line")]
    Empty,
    #[error("not an NMEA sentence")]
    NotNmea,
    #[error("line longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("no checksum")]
    NoChecksum,
    #[error("bad checksum (computed {computed:02X}, sentence says {stated:02X})")]
    BadChecksum { computed: u8, stated: u8 },
    #[error("too few fields in {kind}")]
    Truncated { kind: &'static str },
    #[error("bad {field} field")]
    BadField { field: &'static str },
}

/// Milliseconds since midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u32);

/// A calendar date (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// Degrees, north and east positive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gga {
    pub time: Option<TimeOfDay>,
    pub pos: Option<LatLon>,
    /// 0 invalid, 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning…
    pub quality: u8,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    pub altitude_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rmc {
    pub time: Option<TimeOfDay>,
    /// Status `A` (and a mode other than `N`).
    pub valid: bool,
    pub pos: Option<LatLon>,
    pub speed_kn: Option<f64>,
    pub course_deg: Option<f64>,
    pub date: Option<Date>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gll {
    pub pos: Option<LatLon>,
    pub time: Option<TimeOfDay>,
    pub valid: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gns {
    pub time: Option<TimeOfDay>,
    pub pos: Option<LatLon>,
    /// The first mode character is not `N` and the navigation status (NMEA
    /// 4.1) is not U (unsafe) or V (not valid), as gpsd reads it.
    pub valid: bool,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    pub altitude_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vtg {
    pub course_deg: Option<f64>,
    pub speed_kn: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zda {
    pub time: Option<TimeOfDay>,
    pub date: Option<Date>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gsa {
    /// 1 no fix, 2 2D, 3 3D.
    pub fix_type: Option<u8>,
    pub pdop: Option<f64>,
    pub hdop: Option<f64>,
    pub vdop: Option<f64>,
}

/// A sentence the agent uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Sentence {
    Gga(Gga),
    Rmc(Rmc),
    Gll(Gll),
    Gns(Gns),
    Vtg(Vtg),
    Zda(Zda),
    /// True heading, degrees.
    Hdt(Option<f64>),
    /// True heading from a magnetic one with deviation and variation applied
    /// (`None` unless the variation is known).
    Hdg(Option<f64>),
    Gsa(Gsa),
}

impl Sentence {
    /// The time of day the sentence reports, if it is one that names its
    /// epoch (GGA, RMC, GLL, GNS, ZDA).
    pub fn time(&self) -> Option<TimeOfDay> {
        match self {
            Self::Gga(g) => g.time,
            Self::Rmc(r) => r.time,
            Self::Gll(g) => g.time,
            Self::Gns(g) => g.time,
            Self::Zda(z) => z.time,
            _ => None,
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Parses one line (with or without its CR/LF). `Ok(None)`: a valid line
/// the agent does not use (proprietary, AIS, other sentence types).
pub fn parse(line: &[u8]) -> Result<Option<Sentence>, NmeaError> {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b'\n' | b' ' | b'\0') {
        end -= 1;
    }
    let mut start = 0;
    while start < end && matches!(line[start], b' ' | b'\0') {
        start += 1;
    }
    // Some receivers (ST Teseo) double the leading `$`.
    while end - start > 1 && line[start] == b'$' && line[start + 1] == b'$' {
        start += 1;
    }
    let line = &line[start..end];
    if line.is_empty() {
        return Err(NmeaError::Empty);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(NmeaError::TooLong);
    }
    if !matches!(line[0], b'$' | b'!') || !line.is_ascii() {
        return Err(NmeaError::NotNmea);
    }
    let star = line
        .iter()
        .rposition(|&b| b == b'*')
        .ok_or(NmeaError::NoChecksum)?;
    let body = &line[1..star];
    let stated = match &line[star + 1..] {
        [a, b] => hex(*a)
            .zip(hex(*b))
            .map(|(a, b)| a << 4 | b)
            .ok_or(NmeaError::NoChecksum)?,
        _ => return Err(NmeaError::NoChecksum),
    };
    let computed = body.iter().fold(0u8, |acc, b| acc ^ b);
    if computed != stated {
        return Err(NmeaError::BadChecksum { computed, stated });
    }
    if line[0] == b'!' {
        return Ok(None); // AIS and other encapsulated sentences
    }
    // Checked ASCII above, so this cannot fail.
    let body = std::str::from_utf8(body).map_err(|_| NmeaError::NotNmea)?;
    let mut fields = body.split(',');
    let address = fields.next().unwrap_or("");
    if address.starts_with('P') {
        return Ok(None); // proprietary
    }
    if address.len() != 5 || !address.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(NmeaError::NotNmea);
    }
    let mut f = Fields::new(fields);
    let sentence = match &address[2..] {
        "GGA" => Sentence::Gga(gga(&mut f)?),
        "RMC" => Sentence::Rmc(rmc(&mut f)?),
        "GLL" => Sentence::Gll(gll(&mut f)?),
        "GNS" => Sentence::Gns(gns(&mut f)?),
        "VTG" => Sentence::Vtg(vtg(&mut f)?),
        "ZDA" => Sentence::Zda(zda(&mut f)?),
        "HDT" => Sentence::Hdt(f.float("heading", "HDT")?),
        "HDG" => Sentence::Hdg(hdg(&mut f)?),
        "GSA" => Sentence::Gsa(gsa(&mut f)?),
        _ => return Ok(None),
    };
    Ok(Some(sentence))
}

/// The comma-separated fields after the address, read in order.
struct Fields<'a> {
    inner: std::str::Split<'a, char>,
}

impl<'a> Fields<'a> {
    fn new(inner: std::str::Split<'a, char>) -> Self {
        Self { inner }
    }

    fn next(&mut self, kind: &'static str) -> Result<&'a str, NmeaError> {
        self.inner.next().ok_or(NmeaError::Truncated { kind })
    }

    /// A field that may be missing at the end of a short sentence.
    fn optional(&mut self) -> &'a str {
        self.inner.next().unwrap_or("")
    }

    fn float(&mut self, field: &'static str, kind: &'static str) -> Result<Option<f64>, NmeaError> {
        float(self.next(kind)?, field)
    }

    fn time(&mut self, kind: &'static str) -> Result<Option<TimeOfDay>, NmeaError> {
        time_of_day(self.next(kind)?)
    }

    fn latlon(&mut self, kind: &'static str) -> Result<Option<LatLon>, NmeaError> {
        let (lat, ns, lon, ew) = (
            self.next(kind)?,
            self.next(kind)?,
            self.next(kind)?,
            self.next(kind)?,
        );
        latlon(lat, ns, lon, ew)
    }
}

fn float(s: &str, field: &'static str) -> Result<Option<f64>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or(NmeaError::BadField { field })
}

fn small_int(s: &str, field: &'static str) -> Result<Option<u8>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u8>()
        .map(Some)
        .map_err(|_| NmeaError::BadField { field })
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `hhmmss[.sss]` → milliseconds since midnight.
fn time_of_day(s: &str) -> Result<Option<TimeOfDay>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = NmeaError::BadField { field: "time" };
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    if hms.len() != 6 {
        return Err(bad);
    }
    let (h, m, sec) = (
        digits(&hms[0..2]).ok_or(bad)?,
        digits(&hms[2..4]).ok_or(bad)?,
        digits(&hms[4..6]).ok_or(bad)?,
    );
    // Leap second 60 is allowed.
    if h > 23 || m > 59 || sec > 60 {
        return Err(bad);
    }
    let ms = if frac.is_empty() {
        0
    } else {
        let f = frac.get(..3.min(frac.len())).ok_or(bad)?;
        let v = digits(f).ok_or(bad)?;
        v * 10u32.pow(3 - f.len() as u32)
    };
    Ok(Some(TimeOfDay(((h * 60 + m) * 60 + sec) * 1000 + ms)))
}

/// `ddmmyy` (RMC).
fn date_ddmmyy(s: &str) -> Result<Option<Date>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = NmeaError::BadField { field: "date" };
    if s.len() != 6 {
        return Err(bad);
    }
    let d = digits(&s[0..2]).ok_or(bad)?;
    let m = digits(&s[2..4]).ok_or(bad)?;
    let y = digits(&s[4..6]).ok_or(bad)?;
    // Two-digit years: 80..99 are 1980.., the rest 2000.. (GPS began in 1980).
    let year = if y >= 80 { 1900 + y } else { 2000 + y } as i32;
    checked_date(year, m, d).ok_or(bad).map(Some)
}

fn checked_date(year: i32, month: u32, day: u32) -> Option<Date> {
    let month = u8::try_from(month).ok()?;
    let day = u8::try_from(day).ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(Date { year, month, day })
}

/// `ddmm.mmmm,N,dddmm.mmmm,E` → degrees.
fn latlon(lat: &str, ns: &str, lon: &str, ew: &str) -> Result<Option<LatLon>, NmeaError> {
    if lat.is_empty() || lon.is_empty() {
        return Ok(None);
    }
    let lat = degrees(lat, 2).ok_or(NmeaError::BadField { field: "latitude" })?;
    let lon = degrees(lon, 3).ok_or(NmeaError::BadField { field: "longitude" })?;
    let lat = match ns {
        "N" => lat,
        "S" => -lat,
        _ => return Err(NmeaError::BadField { field: "N/S" }),
    };
    let lon = match ew {
        "E" => lon,
        "W" => -lon,
        _ => return Err(NmeaError::BadField { field: "E/W" }),
    };
    if lat.abs() > 90.0 || lon.abs() > 180.0 {
        return Err(NmeaError::BadField { field: "position" });
    }
    Ok(Some(LatLon { lat, lon }))
}

/// `(d)ddmm.mmmm` with `deg_digits` digits of degrees.
fn degrees(s: &str, deg_digits: usize) -> Option<f64> {
    let dot = s.find('.').unwrap_or(s.len());
    if dot != deg_digits + 2 {
        return None;
    }
    let deg = digits(&s[..deg_digits])? as f64;
    let minutes: f64 = s[deg_digits..].parse().ok()?;
    (minutes < 60.0).then_some(deg + minutes / 60.0)
}

fn gga(f: &mut Fields<'_>) -> Result<Gga, NmeaError> {
    const K: &str = "GGA";
    let time = f.time(K)?;
    let pos = f.latlon(K)?;
    let quality = small_int(f.next(K)?, "quality")?.unwrap_or(0);
    let satellites = small_int(f.next(K)?, "satellites")?;
    let hdop = f.float("hdop", K)?;
    let altitude_m = float(f.optional(), "altitude")?;
    Ok(Gga {
        time,
        pos,
        quality,
        satellites,
        hdop,
        altitude_m,
    })
}

fn rmc(f: &mut Fields<'_>) -> Result<Rmc, NmeaError> {
    const K: &str = "RMC";
    let time = f.time(K)?;
    let status = f.next(K)?;
    let pos = f.latlon(K)?;
    let speed_kn = f.float("speed", K)?;
    let course_deg = f.float("course", K)?;
    let date = date_ddmmyy(f.next(K)?)?;
    let _variation = f.optional();
    let _variation_ew = f.optional();
    let mode = f.optional();
    Ok(Rmc {
        time,
        valid: status == "A" && mode != "N",
        pos,
        speed_kn,
        course_deg,
        date,
    })
}

fn gll(f: &mut Fields<'_>) -> Result<Gll, NmeaError> {
    const K: &str = "GLL";
    let pos = f.latlon(K)?;
    let time = time_of_day(f.optional())?;
    let status = f.optional();
    let mode = f.optional();
    Ok(Gll {
        pos,
        time,
        valid: status == "A" && mode != "N",
    })
}

fn gns(f: &mut Fields<'_>) -> Result<Gns, NmeaError> {
    const K: &str = "GNS";
    let time = f.time(K)?;
    let pos = f.latlon(K)?;
    let modes = f.next(K)?;
    let satellites = small_int(f.next(K)?, "satellites")?;
    let hdop = f.float("hdop", K)?;
    let altitude_m = float(f.optional(), "altitude")?;
    let (_geoid, _age, _station) = (f.optional(), f.optional(), f.optional());
    // NMEA 4.1 navigation status: U unsafe, V not valid for navigation.
    let navigable = !matches!(f.optional(), "U" | "V");
    Ok(Gns {
        time,
        pos,
        // As gpsd: the first system's mode decides (`N`: no fix).
        valid: navigable && !matches!(modes.bytes().next(), None | Some(b'N')),
        satellites,
        hdop,
        altitude_m,
    })
}

fn vtg(f: &mut Fields<'_>) -> Result<Vtg, NmeaError> {
    const K: &str = "VTG";
    let first = f.next(K)?;
    let second = f.next(K)?;
    // NMEA 2.0+: course,T,course,M,speed,N,speed,K; very old: course,course,speed,speed.
    if second == "T" || second.is_empty() {
        let course_deg = float(first, "course")?;
        let _mag = f.next(K)?;
        let _m = f.next(K)?;
        let speed_kn = f.float("speed", K)?;
        Ok(Vtg {
            course_deg,
            speed_kn,
        })
    } else {
        let course_deg = float(first, "course")?;
        let speed_kn = f.float("speed", K)?;
        Ok(Vtg {
            course_deg,
            speed_kn,
        })
    }
}

fn zda(f: &mut Fields<'_>) -> Result<Zda, NmeaError> {
    const K: &str = "ZDA";
    let time = f.time(K)?;
    let (d, m, y) = (f.next(K)?, f.next(K)?, f.next(K)?);
    let date = match (digits(d), digits(m), digits(y)) {
        (Some(d), Some(m), Some(y)) if y >= 1980 => {
            Some(checked_date(y as i32, m, d).ok_or(NmeaError::BadField { field: "date" })?)
        }
        _ if d.is_empty() && m.is_empty() && y.is_empty() => None,
        _ => return Err(NmeaError::BadField { field: "date" }),
    };
    Ok(Zda { time, date })
}

fn hdg(f: &mut Fields<'_>) -> Result<Option<f64>, NmeaError> {
    const K: &str = "HDG";
    let magnetic = f.float("heading", K)?;
    let deviation = f.float("deviation", K)?;
    let dev_ew = f.next(K)?;
    let variation = float(f.optional(), "variation")?;
    let var_ew = f.optional();
    let signed = |v: Option<f64>, ew: &str| match (v, ew) {
        (Some(v), "W") => Some(-v),
        (Some(v), _) => Some(v),
        (None, _) => None,
    };
    Ok(match (magnetic, signed(variation, var_ew)) {
        (Some(m), Some(var)) => {
            let dev = signed(deviation, dev_ew).unwrap_or(0.0);
            Some((m + dev + var).rem_euclid(360.0))
        }
        _ => None,
    })
}

fn gsa(f: &mut Fields<'_>) -> Result<Gsa, NmeaError> {
    const K: &str = "GSA";
    let _auto = f.next(K)?;
    let fix_type = small_int(f.next(K)?, "fix type")?;
    for _ in 0..12 {
        f.next(K)?;
    }
    Ok(Gsa {
        fix_type,
        pdop: f.float("pdop", K)?,
        hdop: f.float("hdop", K)?,
        vdop: float(f.optional().split('*').next().unwrap_or(""), "vdop")?,
    })
}

#[cfg(test)]
mod tests;
