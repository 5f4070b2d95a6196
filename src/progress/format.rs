//! How the bars write durations, rates and the share served from the cache.

use std::time::Duration;

/// `0.42 s`, `12.3 s`, `3 min 05 s`.
pub(super) fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {:02} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// A rate: `812`, `12.3k`, `4.56M`.
pub(super) fn format_count(x: f64) -> String {
    if x < 1e3 {
        format!("{x:.0}")
    } else if x < 1e6 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{:.2}M", x / 1e6)
    }
}

/// The share of `done` served from the cache, for a finished row: ` (40%)` (nothing
/// when nothing was cached; never 0% when something was, nor 100% when not all was).
pub(super) fn cached_share(cached: u64, done: u64) -> String {
    if cached == 0 || done == 0 {
        return String::new();
    }
    let percent = (cached as f64 * 100.0 / done as f64).round() as u64;
    let percent = match percent {
        0 => 1,
        100 if cached < done => 99,
        p => p.min(100),
    };
    format!(" ({percent}%)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_millis(420)), "0.42 s");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(format_count(812.4), "812");
        assert_eq!(format_count(12_345.0), "12.3k");
        assert_eq!(format_count(4_560_000.0), "4.56M");
    }

    #[test]
    fn cached_shares() {
        assert_eq!(cached_share(0, 10), "");
        assert_eq!(cached_share(0, 0), "");
        assert_eq!(cached_share(4, 10), " (40%)");
        assert_eq!(cached_share(10, 10), " (100%)");
        assert_eq!(cached_share(1, 1000), " (1%)");
        assert_eq!(cached_share(999, 1000), " (99%)");
        assert_eq!(cached_share(2, 3), " (67%)");
    }
}
