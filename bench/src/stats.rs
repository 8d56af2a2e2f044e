//! Summaries of repeated measurements: median with the min-max spread, percentiles, and the
//! number formatting of the table.

/// Median and spread of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

/// The samples sorted ascending (NaN last).
fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// Median (mean of the two middle samples for an even count), min and max; `None` when empty.
pub(crate) fn summarize(v: &[f64]) -> Option<Summary> {
    let s = sorted(v);
    let n = s.len();
    if n == 0 {
        return None;
    }
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: s[0],
        max: s[n - 1],
    })
}

/// Nearest-rank percentile `p` (0-100) of the samples; `None` when empty.
pub(crate) fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let s = sorted(v);
    if s.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    Some(s[rank.clamp(1, s.len()) - 1])
}

/// Arithmetic mean; `None` when empty.
pub(crate) fn mean(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Three significant figures or so, as the reference figures are written: `359`, `35.7`, `3.25`.
pub(crate) fn num(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "?".to_string()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// `median (min–max)`, or just the value for a single sample.
pub(crate) fn cell(s: &Summary) -> String {
    if s.min == s.max {
        num(s.median)
    } else {
        format!("{} ({}–{})", num(s.median), num(s.min), num(s.max))
    }
}

/// `a / b` with two decimals, `—` when either side is missing or `b` is zero.
pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        _ => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = summarize(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = summarize(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn nearest_rank_percentile() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[5.0], 99.0), Some(5.0));
        assert_eq!(percentile(&[], 99.0), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    }

    #[test]
    fn formatting() {
        assert_eq!(num(359.4), "359");
        assert_eq!(num(35.71), "35.7");
        assert_eq!(num(3.254), "3.25");
        assert_eq!(num(0.5), "0.500");
        let s = summarize(&[20.0, 21.6, 22.0]).unwrap();
        assert_eq!(cell(&s), "21.6 (20.0–22.0)");
        assert_eq!(cell(&summarize(&[7.0]).unwrap()), "7.00");
        assert_eq!(ratio(Some(1.0), Some(4.0)), "0.25");
        assert_eq!(ratio(None, Some(4.0)), "—");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "—");
    }
}
