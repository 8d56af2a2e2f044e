//! Integer helpers shared by the recovery modules: no floats, no `u128`, no panics.

/// `a * b / c`, rounded down, saturating at `u64::MAX`; `c == 0` gives `u64::MAX` (or 0 when
/// the product is 0).
///
/// Exact whenever the true result fits and `(c - 1) * b` fits in a `u64`, which holds for
/// every use in this crate (`b` is a small factor); otherwise a lower approximation.
pub(crate) fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    if a == 0 || b == 0 {
        return 0;
    }
    if c == 0 {
        return u64::MAX;
    }
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    // a = q*c + r  =>  a*b/c = q*b + r*b/c.
    let (q, r) = (a / c, a % c);
    let hi = q.saturating_mul(b);
    let lo = match r.checked_mul(b) {
        Some(p) => p / c,
        // Only reachable when b and c are both huge: r < c, so r*b/c < b; approximate.
        None => (b / c).saturating_mul(r),
    };
    hi.saturating_add(lo)
}

/// `ceil(a * b / c)` with the same saturation rules as [`mul_div`].
pub(crate) fn mul_div_ceil(a: u64, b: u64, c: u64) -> u64 {
    let q = mul_div(a, b, c);
    if q == u64::MAX || c == 0 {
        return q;
    }
    // Round up when q*c < a*b, checked without forming a*b when it would overflow.
    match (a.checked_mul(b), q.checked_mul(c)) {
        (Some(p), Some(qc)) if qc < p => q.saturating_add(1),
        (Some(_), _) => q,
        // a*b overflowed: the remainder term decides; recompute it the slow way.
        (None, _) => {
            let r = a % c;
            let rb_rem = match r.checked_mul(b) {
                Some(p) => p % c,
                None => 1,
            };
            if rb_rem != 0 {
                q.saturating_add(1)
            } else {
                q
            }
        }
    }
}

/// `(num_old * old + (den - num_old) * new) / den` without overflow, rounded down: the
/// exponentially weighted moving average used for `smoothed_rtt` (7/8) and `rttvar` (3/4).
pub(crate) fn ewma(old: u64, new: u64, num_old: u64, den: u64) -> u64 {
    if den == 0 || num_old > den {
        return old;
    }
    let num_new = den - num_old;
    // Split each term into quotient and remainder by `den` so nothing overflows.
    let whole = (old / den)
        .saturating_mul(num_old)
        .saturating_add((new / den).saturating_mul(num_new));
    let frac = (old % den)
        .saturating_mul(num_old)
        .saturating_add((new % den).saturating_mul(num_new));
    whole.saturating_add(frac / den)
}

/// The integer cube root: the largest `y` with `y^3 <= x` (bit-by-bit, three bits a step).
pub(crate) fn icbrt(x: u64) -> u64 {
    let mut rem = x;
    let mut y: u64 = 0;
    let mut shift: u32 = 63;
    loop {
        y = y.saturating_mul(2);
        // (y+1)^3 - y^3 = 3y(y+1) + 1 for the doubled root; y < 2^22 so this fits.
        let step = y
            .saturating_mul(y.saturating_add(1))
            .saturating_mul(3)
            .saturating_add(1);
        if (rem >> shift) >= step {
            rem = rem.saturating_sub(step << shift);
            y = y.saturating_add(1);
        }
        if shift < 3 {
            break;
        }
        shift -= 3;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cube_roots() {
        assert_eq!(icbrt(0), 0);
        assert_eq!(icbrt(1), 1);
        assert_eq!(icbrt(7), 1);
        assert_eq!(icbrt(8), 2);
        assert_eq!(icbrt(26), 2);
        assert_eq!(icbrt(27), 3);
        assert_eq!(icbrt(1_000_000_000), 1000);
        assert_eq!(icbrt(999_999_999), 999);
        assert_eq!(icbrt(u64::MAX), 2_642_245);
    }

    #[test]
    fn mul_div_overflow_paths() {
        assert_eq!(mul_div(u64::MAX, 2, 4), u64::MAX / 2);
        assert_eq!(mul_div(1 << 62, 1 << 10, 1 << 20), 1 << 52);
        assert_eq!(mul_div(u64::MAX, u64::MAX, 1), u64::MAX);
        assert_eq!(mul_div(5, 0, 0), 0);
        assert_eq!(mul_div(5, 1, 0), u64::MAX);
        assert_eq!(mul_div_ceil(7, 1, 2), 4);
        assert_eq!(mul_div_ceil(8, 1, 2), 4);
        assert_eq!(mul_div_ceil(u64::MAX / 3 * 3, 5, 3), u64::MAX);
    }

    #[test]
    fn ewma_matches_formula() {
        assert_eq!(ewma(800, 1600, 7, 8), 900);
        assert_eq!(ewma(100, 20, 3, 4), 80);
        assert_eq!(ewma(u64::MAX, u64::MAX, 7, 8), u64::MAX);
    }

    proptest! {
        #[test]
        fn icbrt_is_floor_cube_root(x in any::<u64>()) {
            let y = icbrt(x);
            let cube = |v: u64| v.checked_mul(v).and_then(|s| s.checked_mul(v));
            prop_assert!(cube(y).is_some_and(|c| c <= x));
            prop_assert!(cube(y + 1).map_or(true, |c| c > x));
        }

        #[test]
        fn mul_div_exact_when_representable(a in any::<u32>(), b in any::<u32>(), c in 1u64..) {
            let (a, b) = (u64::from(a), u64::from(b));
            prop_assert_eq!(mul_div(a, b, c), a * b / c);
            prop_assert_eq!(mul_div_ceil(a, b, c), (a * b).div_ceil(c));
        }

        #[test]
        fn mul_div_large(a in any::<u64>(), b in 1u64..1 << 20, c in 1u64..1 << 40) {
            // Exactness is promised when (c - 1) * b fits, as here: check the definition
            // q*c <= a*b < (q+1)*c on exact double-width products.
            let ab = mul_wide(a, b);
            let q = mul_div(a, b, c);
            if q == u64::MAX {
                prop_assert!(ab >= mul_wide(u64::MAX, c));
            } else {
                prop_assert!(mul_wide(q, c) <= ab);
                prop_assert!(ab < mul_wide(q + 1, c));
            }
            let qc = mul_div_ceil(a, b, c);
            if qc != u64::MAX {
                prop_assert!(mul_wide(qc, c) >= ab);
                prop_assert!(qc == 0 || mul_wide(qc - 1, c) < ab);
            }
        }
    }

    /// The exact product `x * y` as (high, low) 64-bit words, from 32-bit limbs.
    fn mul_wide(x: u64, y: u64) -> (u64, u64) {
        const M: u64 = 0xffff_ffff;
        let (x1, x0, y1, y0) = (x >> 32, x & M, y >> 32, y & M);
        let (p00, p01, p10, p11) = (x0 * y0, x0 * y1, x1 * y0, x1 * y1);
        let mid = (p00 >> 32) + (p01 & M) + (p10 & M);
        (
            (p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32)),
            (p00 & M) | (mid << 32),
        )
    }

    #[test]
    fn wide_products() {
        assert_eq!(mul_wide(u64::MAX, u64::MAX), (u64::MAX - 1, 1));
        assert_eq!(mul_wide(1 << 32, 1 << 32), (1, 0));
        assert_eq!(mul_wide(3, 5), (0, 15));
    }
}
