//! Geometry of places on the Earth (a sphere of mean radius): the
//! great-circle distance, and the box of latitude and longitude around a
//! circle that the R*Tree can search.

use super::GeoBox;

pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The box around a circle (clamped at the poles; across the antimeridian
/// as a wrapped box).
pub fn circle_box(lat: f64, lon: f64, radius_m: f64) -> GeoBox {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    let (min_lat, max_lat) = ((lat - dlat).max(-90.0), (lat + dlat).min(90.0));
    if min_lat <= -90.0 || max_lat >= 90.0 {
        return GeoBox {
            min_lat,
            max_lat,
            min_lon: -180.0,
            max_lon: 180.0,
        };
    }
    let dlon = (dlat / lat.to_radians().cos().max(1e-9)).min(180.0);
    let wrap = |x: f64| {
        if x > 180.0 {
            x - 360.0
        } else if x < -180.0 {
            x + 360.0
        } else {
            x
        }
    };
    if dlon >= 180.0 {
        GeoBox {
            min_lat,
            max_lat,
            min_lon: -180.0,
            max_lon: 180.0,
        }
    } else {
        GeoBox {
            min_lat,
            max_lat,
            min_lon: wrap(lon - dlon),
            max_lon: wrap(lon + dlon),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_on_the_sphere() {
        // One degree of latitude is about 111.2 km.
        assert!((distance_m(0.0, 0.0, 1.0, 0.0) - 111_195.0).abs() < 10.0);
        assert!(
            distance_m(0.0, 179.999, 0.0, -179.999) < 300.0,
            "across the antimeridian"
        );
    }

    #[test]
    fn a_circle_box_wraps_the_antimeridian() {
        let b = circle_box(0.0, 179.99, 5000.0);
        assert!(b.min_lon > b.max_lon, "{b:?}");
    }
}
