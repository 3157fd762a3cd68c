//! Kubernetes resource quantities (`apimachinery/pkg/api/resource`), read exactly enough to
//! compare them by value: `500m` == `0.5`, `1Gi` == `1024Mi`, `1000M` == `1G`, `2` == `2000m`.
//!
//! A quantity is `<sign><digits>[.<digits>]<suffix>` with a binary suffix (`Ki` … `Ei`), a
//! decimal SI suffix (`n u m "" k M G T P E`) or a decimal exponent (`e3`, `E-2`). Values are
//! kept in nano units (10⁻⁹) in an `i128`, rounded up below one nano as Kubernetes rounds them.

/// The value of a quantity in nano units, or `None` when `s` is not a quantity (or too large).
pub(super) fn parse_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let (pow2, pow10) = suffix_powers(suffix)?;
    let pow10 = pow10 + 9 - i32::try_from(frac_part.len()).ok()?;
    let mut value = mantissa.checked_mul(1i128.checked_shl(pow2)?)?;
    if pow10 >= 0 {
        value = value.checked_mul(10i128.checked_pow(u32::try_from(pow10).ok()?)?)?;
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-pow10).ok()?);
        value = match divisor {
            Some(d) => (value + d - 1) / d,
            // Smaller than a nano for any mantissa we accept: rounds up to one nano (or zero).
            None => i128::from(value > 0),
        };
    }
    Some(if negative { -value } else { value })
}

/// The powers of two and ten of a suffix.
fn suffix_powers(suffix: &str) -> Option<(u32, i32)> {
    let binary = |n: u32| Some((n, 0));
    let decimal = |n: i32| Some((0, n));
    match suffix {
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3
            {
                return None;
            }
            decimal(exponent.parse().ok()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    fn eq(a: &str, b: &str) -> bool {
        parse_nanos(a).is_some() && parse_nanos(a) == parse_nanos(b)
    }

    #[test]
    fn equal_by_value() {
        assert!(eq("500m", "0.5"));
        assert!(eq("1Gi", "1024Mi"));
        assert!(eq("1000M", "1G"));
        assert!(eq("2", "2000m"));
        assert!(eq("1k", "1000"));
        assert!(eq("1e3", "1k"));
        assert!(eq("1E3", "1k"));
        assert!(eq("0.1", "100m"));
        assert!(eq(".5", "500m"));
        assert!(eq("1.", "1"));
        assert!(eq("+1", "1"));
        assert!(!eq("128974848", "129e6"));
        assert!(eq("129M", "129e6"));
        assert!(eq("123Mi", "128974848"));
        assert!(eq("1Ei", "1152921504606846976"));
        assert!(eq("0", "0m"));
        assert!(eq("100u", "100000n"));
        assert!(eq("-1", "-1000m"));
    }

    #[test]
    fn different_values() {
        assert!(!eq("1G", "1Gi"));
        assert!(!eq("500m", "501m"));
        assert!(!eq("1", "1Ki"));
    }

    #[test]
    fn sub_nano_rounds_up() {
        assert_eq!(parse_nanos("0.1n"), Some(1));
        assert_eq!(parse_nanos("1e-12"), Some(1));
        assert_eq!(parse_nanos("1.5n"), Some(2));
    }

    #[test]
    fn not_quantities() {
        for s in [
            "", "abc", "1x", "1..2", ".", "m", "1 Gi", "1e", "1e+", "Gi", "1.2.3", "1ki",
        ] {
            assert_eq!(parse_nanos(s), None, "{s:?}");
        }
        assert_eq!(parse_nanos("1e999"), None);
        assert_eq!(parse_nanos(&"9".repeat(40)), None);
    }
}
