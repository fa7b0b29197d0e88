//! Places on the Earth, as both ends' APIs search them (the agent's frames,
//! the shore's thumbnails): a box of longitude and latitude (which may cross
//! the antimeridian: west edge east of the east edge) or a circle, read from
//! a query string by [`place_param`], and the prefilter an index searches
//! before the exact test. The prefilter must never miss a point the exact test keeps:
//! a circle's box is computed on the sphere (it widens toward the poles,
//! takes every longitude when the circle holds a pole, and wraps across
//! ±180°), not as radius ÷ cos(latitude) around the centre.

/// The mean Earth radius, m (the sphere distances are measured on).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A place to search in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    /// `min_lon, min_lat, max_lon, max_lat`, degrees; `min_lon > max_lon`
    /// is a box across the antimeridian (from `min_lon` east to `max_lon`).
    BBox {
        min_lon: f64,
        min_lat: f64,
        max_lon: f64,
        max_lat: f64,
    },
    Circle {
        lat: f64,
        lon: f64,
        radius_m: f64,
    },
}

/// Which longitudes a prefilter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lons {
    All,
    /// `west ≤ lon ≤ east`.
    Within {
        west: f64,
        east: f64,
    },
    /// `lon ≥ west` or `lon ≤ east` (across the antimeridian).
    Across {
        west: f64,
        east: f64,
    },
}

impl Lons {
    pub fn contains(&self, lon: f64) -> bool {
        match *self {
            Self::All => true,
            Self::Within { west, east } => (west..=east).contains(&lon),
            Self::Across { west, east } => lon >= west || lon <= east,
        }
    }

    /// From a west and an east edge in [-180, 180].
    fn from_edges(west: f64, east: f64) -> Self {
        if west <= east {
            Self::Within { west, east }
        } else {
            Self::Across { west, east }
        }
    }
}

/// What the index searches before [`Place::contains`]: a latitude band
/// and the longitudes of [`Lons`]. Holds every point of its place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prefilter {
    pub min_lat: f64,
    pub max_lat: f64,
    pub lons: Lons,
}

impl Place {
    /// The box the index searches (exact for a box, enclosing for a circle).
    pub fn prefilter(&self) -> Prefilter {
        match *self {
            Self::BBox {
                min_lon,
                min_lat,
                max_lon,
                max_lat,
            } => Prefilter {
                min_lat,
                max_lat,
                lons: Lons::from_edges(min_lon, max_lon),
            },
            Self::Circle { lat, lon, radius_m } => circle_prefilter(lat, lon, radius_m),
        }
    }

    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        match *self {
            Self::BBox {
                min_lon,
                min_lat,
                max_lon,
                max_lat,
            } => {
                (min_lat..=max_lat).contains(&lat)
                    && Lons::from_edges(min_lon, max_lon).contains(lon)
            }
            Self::Circle {
                lat: clat,
                lon: clon,
                radius_m,
            } => haversine_m(clat, clon, lat, lon) <= radius_m,
        }
    }
}

/// The largest radius a place query takes: half the Earth's circumference
/// (a circle that size holds every point).
pub const MAX_RADIUS_M: f64 = 20_037_509.0;

/// A place parameter that is not understood: which one, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {why}")]
pub struct BadPlace {
    pub param: &'static str,
    pub why: String,
}

/// `bbox=minlon,minlat,maxlon,maxlat` or `lat=&lon=&radius_m=`, or neither,
/// from a query string's parameters (`get` looks one up). A box whose
/// `minlon` is east of its `maxlon` crosses the antimeridian
/// (`bbox=170,-10,-170,10` is the 20° either side of 180°).
pub fn place_param<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Option<Place>, BadPlace> {
    if let Some(s) = get("bbox") {
        let bad = |why: String| BadPlace { param: "bbox", why };
        let v: Vec<f64> = s
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad(format!("{s:?} is not minlon,minlat,maxlon,maxlat")))?;
        let [min_lon, min_lat, max_lon, max_lat] = v[..] else {
            return Err(bad("needs four numbers: minlon,minlat,maxlon,maxlat".into()));
        };
        if ![min_lon, max_lon]
            .iter()
            .all(|x| (-180.0..=180.0).contains(x))
            || ![min_lat, max_lat]
                .iter()
                .all(|x| (-90.0..=90.0).contains(x))
            || min_lat > max_lat
        {
            return Err(bad(
                "longitudes in [-180, 180], latitudes in [-90, 90], minlat ≤ maxlat \
                 (minlon > maxlon is a box across the antimeridian)"
                    .into(),
            ));
        }
        return Ok(Some(Place::BBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        }));
    }
    let number = |param: &'static str, range: std::ops::RangeInclusive<f64>| {
        get(param)
            .map(|s| match s.parse::<f64>() {
                Ok(v) if range.contains(&v) => Ok(v),
                _ => Err(BadPlace {
                    param,
                    why: format!(
                        "{s:?} is not a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                }),
            })
            .transpose()
    };
    let lat = number("lat", -90.0..=90.0)?;
    let lon = number("lon", -180.0..=180.0)?;
    let radius_m = number("radius_m", 0.0..=MAX_RADIUS_M)?;
    match (lat, lon, radius_m) {
        (None, None, None) => Ok(None),
        (Some(lat), Some(lon), Some(radius_m)) => Ok(Some(Place::Circle { lat, lon, radius_m })),
        _ => Err(BadPlace {
            param: "radius_m",
            why: "lat, lon and radius_m go together".into(),
        }),
    }
}

/// The smallest band of latitude and longitude that holds the circle: its
/// angular radius `d` spans `lat ± d`; when that reaches a pole every
/// longitude is in; otherwise the widest longitude is at the tangent
/// meridians, `asin(sin d / cos lat)` either side, wrapped across ±180°.
fn circle_prefilter(lat: f64, lon: f64, radius_m: f64) -> Prefilter {
    // A hair wider than exact, so that rounding never loses a point on the rim.
    let d = (radius_m / EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-12;
    let (lat_r, d_deg) = (lat.to_radians(), d.to_degrees());
    let (min_lat, max_lat) = (lat - d_deg, lat + d_deg);
    if min_lat <= -90.0 || max_lat >= 90.0 || d >= std::f64::consts::FRAC_PI_2 {
        return Prefilter {
            min_lat: min_lat.max(-90.0),
            max_lat: max_lat.min(90.0),
            lons: Lons::All,
        };
    }
    let ratio = d.sin() / lat_r.cos();
    if ratio >= 1.0 {
        return Prefilter {
            min_lat,
            max_lat,
            lons: Lons::All,
        };
    }
    let dlon = ratio.asin().to_degrees();
    let wrap = |x: f64| {
        if x > 180.0 {
            x - 360.0
        } else if x < -180.0 {
            x + 360.0
        } else {
            x
        }
    };
    Prefilter {
        min_lat,
        max_lat,
        lons: Lons::from_edges(wrap(lon - dlon), wrap(lon + dlon)),
    }
}

/// Great-circle distance, m.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn place_parameters_are_read_or_refused_by_name() {
        assert_eq!(place_param(query(&[])), Ok(None));
        assert_eq!(
            place_param(query(&[("bbox", "170,-10,-170,10")])),
            Ok(Some(Place::BBox {
                min_lon: 170.0,
                min_lat: -10.0,
                max_lon: -170.0,
                max_lat: 10.0
            }))
        );
        assert_eq!(
            place_param(query(&[("lat", "59"), ("lon", "10"), ("radius_m", "5")])),
            Ok(Some(Place::Circle {
                lat: 59.0,
                lon: 10.0,
                radius_m: 5.0
            }))
        );
        for (pairs, param) in [
            (&[("bbox", "1,2,3")][..], "bbox"),
            (&[("bbox", "0,91,1,92")], "bbox"),
            (&[("bbox", "0,1,x,2")], "bbox"),
            (&[("lat", "50"), ("lon", "0")], "radius_m"),
            (&[("lat", "95"), ("lon", "0"), ("radius_m", "5")], "lat"),
            (
                &[("lat", "50"), ("lon", "0"), ("radius_m", "-1")],
                "radius_m",
            ),
        ] {
            assert_eq!(place_param(query(pairs)).map_err(|e| e.param), Err(param));
        }
    }

    #[test]
    fn circles_contain_what_is_near() {
        let c = Place::Circle {
            lat: 59.0,
            lon: 10.0,
            radius_m: 1000.0,
        };
        assert!(c.contains(59.005, 10.0));
        assert!(!c.contains(59.02, 10.0));
        let d = haversine_m(0.0, 0.0, 0.0, 1.0);
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
    }

    #[test]
    fn boxes_and_circles_across_the_antimeridian_and_over_a_pole() {
        let b = Place::BBox {
            min_lon: 170.0,
            min_lat: -10.0,
            max_lon: -170.0,
            max_lat: 10.0,
        };
        assert!(b.contains(0.0, 179.9) && b.contains(0.0, -179.9) && b.contains(5.0, 170.0));
        assert!(!b.contains(0.0, 0.0) && !b.contains(0.0, 169.9) && !b.contains(11.0, 180.0));
        let c = Place::Circle {
            lat: 0.0,
            lon: 179.9,
            radius_m: 50_000.0,
        };
        let p = c.prefilter();
        assert!(matches!(p.lons, Lons::Across { .. }), "{p:?}");
        assert!(c.contains(0.0, -179.9) && p.lons.contains(-179.9));
        let polar = Place::Circle {
            lat: 89.5,
            lon: 0.0,
            radius_m: 100_000.0,
        };
        assert_eq!(polar.prefilter().lons, Lons::All);
        assert!(polar.contains(89.7, 180.0), "over the pole");
    }

    fn prefilter_holds(lat: f64, lon: f64, radius_m: f64, plat: f64, plon: f64) {
        let c = Place::Circle { lat, lon, radius_m };
        if c.contains(plat, plon) {
            let p = c.prefilter();
            assert!(
                (p.min_lat..=p.max_lat).contains(&plat) && p.lons.contains(plon),
                "{plat},{plon} is in {c:?} but not in {p:?}"
            );
        }
    }

    #[test]
    fn the_naive_box_missed_this_point_near_the_pole() {
        // 85°N, 450 km: radius ÷ cos(lat) gives ±46°; the circle spans ±53°.
        prefilter_holds(85.0, 0.0, 450_000.0, 86.5, 52.0);
    }

    proptest! {
        #[test]
        fn a_circle_prefilter_never_misses_a_point_of_the_circle(
            lat in -89.99f64..89.99,
            lon in -180.0f64..180.0,
            radius_m in 1.0f64..3_000_000.0,
            bearing in 0.0f64..360.0,
            frac in 0.0f64..1.0,
        ) {
            // A point at `frac` of the radius along `bearing` (on the sphere).
            let d = radius_m * frac / EARTH_RADIUS_M;
            let (p1, l1, b) = (lat.to_radians(), lon.to_radians(), bearing.to_radians());
            let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * b.cos()).asin();
            let l2 = l1 + (b.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
            let plon = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
            prefilter_holds(lat, lon, radius_m, p2.to_degrees(), plon);
        }
    }
}
