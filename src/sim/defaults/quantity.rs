//! Resource quantities as the API server re-serializes them: `resource.Quantity` parses the
//! input, rounds up to nano precision, caps at 2^63-1 and writes its canonical form (`0.5` →
//! `500m`, `1024Mi` → `1Gi`, `1.5Gi` → `1536Mi`, a JSON number `2` → `"2"`). Resource lists
//! (`SetDefaults_ResourceList`) are also rounded up to milli precision. A value that does not
//! parse is left as it is (validation rejects it).

use serde_json::Value;

use super::util::Obj;

const NANO: u128 = 1_000_000_000;
/// 2^63-1, the largest quantity, in nano units.
const MAX_NANO: u128 = (i64::MAX as u128) * NANO;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// A parsed quantity: sign, magnitude in nano units, and the format it was written in.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quantity {
    negative: bool,
    nanos: u128,
    format: Format,
}

/// Canonicalizes every value of a `ResourceList` and rounds it up to milli precision.
pub fn resource_list(list: &mut Obj) {
    for v in list.values_mut() {
        if let Some(mut q) = parse_value(v) {
            q.nanos = q.nanos.div_ceil(1_000_000) * 1_000_000;
            *v = Value::String(format(q));
        }
    }
}

/// Canonicalizes one quantity field in place.
pub fn canonicalize(v: &mut Value) {
    if let Some(q) = parse_value(v) {
        *v = Value::String(format(q));
    }
}

/// Whether a JSON value is a quantity `resource.Quantity`'s UnmarshalJSON accepts (a string, or
/// a bare number).
pub fn is_quantity(v: &Value) -> bool {
    parse_value(v).is_some()
}

fn parse_value(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => parse(s.trim()),
        Value::Number(n) => parse(&n.to_string()),
        _ => None,
    }
}

/// `ParseQuantity`: `<sign><digits>[.<digits>]<suffix>`.
fn parse(s: &str) -> Option<Quantity> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let (format, base2, exp10) = match suffix {
        "" => (Format::DecimalSI, 0, 0),
        "n" => (Format::DecimalSI, 0, -9),
        "u" => (Format::DecimalSI, 0, -6),
        "m" => (Format::DecimalSI, 0, -3),
        "k" => (Format::DecimalSI, 0, 3),
        "M" => (Format::DecimalSI, 0, 6),
        "G" => (Format::DecimalSI, 0, 9),
        "T" => (Format::DecimalSI, 0, 12),
        "P" => (Format::DecimalSI, 0, 15),
        "E" => (Format::DecimalSI, 0, 18),
        "Ki" => (Format::BinarySI, 10, 0),
        "Mi" => (Format::BinarySI, 20, 0),
        "Gi" => (Format::BinarySI, 30, 0),
        "Ti" => (Format::BinarySI, 40, 0),
        "Pi" => (Format::BinarySI, 50, 0),
        "Ei" => (Format::BinarySI, 60, 0),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 6
            {
                return None;
            }
            (Format::DecimalExponent, 0, exp.parse::<i32>().ok()?)
        }
    };
    // value = digits × 10^(exp10 - len(frac)) × 2^base2, computed in nano units rounding up.
    let digits = format!("{whole}{frac}");
    let digits = digits.trim_start_matches('0');
    let scale = exp10 - frac.len() as i32 + 9;
    let nanos = if digits.is_empty() {
        0
    } else {
        scaled(digits, scale, base2)?
    };
    let mut format = format;
    if format == Format::BinarySI && nanos < NANO && nanos > 0 {
        format = Format::DecimalSI;
    }
    Some(Quantity {
        negative: negative && nanos > 0,
        nanos: nanos.min(MAX_NANO),
        format,
    })
}

/// `digits × 10^scale × 2^base2`, rounded up to an integer and saturated at just above the cap.
fn scaled(digits: &str, scale: i32, base2: u32) -> Option<u128> {
    let over = MAX_NANO + 1;
    if digits.len() as i32 + scale > 40 {
        return Some(over);
    }
    let (kept, dropped) = if scale >= 0 {
        (digits, "")
    } else {
        let cut = digits.len() as i32 + scale;
        if cut <= 0 {
            ("", digits)
        } else {
            digits.split_at(cut as usize)
        }
    };
    let mut n: u128 = 0;
    for b in kept.bytes() {
        n = n.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        if n > over {
            return Some(over);
        }
    }
    for _ in 0..scale.max(0) {
        n = n.saturating_mul(10).min(over);
    }
    // Binary suffixes need the exact product before rounding: with dropped digits, scale the
    // dropped part too (rare, so a simple re-computation on the fractional digits).
    if base2 > 0 {
        let shift = 1u128 << base2;
        let whole = n.saturating_mul(shift).min(over);
        let frac = fraction_times(dropped, shift);
        return Some(whole.saturating_add(frac).min(over));
    }
    let round_up = dropped.bytes().any(|b| b != b'0');
    Some(n + u128::from(round_up))
}

/// ceil(0.<digits> × factor), the part below one nano unit of a binary-suffixed value.
fn fraction_times(digits: &str, factor: u128) -> u128 {
    // 18 digits keep every product inside u128 (factor ≤ 2^60 < 10^19); later digits only
    // force the round-up.
    let take = digits.len().min(18);
    let mut num: u128 = 0;
    for b in digits[..take].bytes() {
        num = num * 10 + u128::from(b - b'0');
    }
    let rest_nonzero = digits[take..].bytes().any(|b| b != b'0');
    let den = 10u128.pow(take as u32);
    let (hi, lo) = (factor / den, factor % den);
    let floor = num * hi + num * lo / den;
    let exact = (num * lo).is_multiple_of(den) && !rest_nonzero;
    if exact { floor } else { floor + 1 }
}

/// `Quantity.String()`: canonical form for the format.
fn format(q: Quantity) -> String {
    if q.nanos == 0 {
        return "0".to_string();
    }
    let sign = if q.negative { "-" } else { "" };
    let mut fmt = q.format;
    if fmt == Format::BinarySI && (q.nanos < 1024 * NANO || !q.nanos.is_multiple_of(NANO)) {
        fmt = Format::DecimalSI;
    }
    if fmt == Format::BinarySI {
        let mut n = q.nanos / NANO;
        let mut power = 0;
        while n.is_multiple_of(1024) && power < 6 {
            n /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
        return format!("{sign}{n}{suffix}");
    }
    let mut mantissa = q.nanos;
    let mut exp: i32 = -9;
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exp += 1;
    }
    while exp.rem_euclid(3) != 0 {
        mantissa *= 10;
        exp -= 1;
    }
    let suffix = match fmt {
        Format::DecimalExponent if exp == 0 => String::new(),
        Format::DecimalExponent => format!("e{exp}"),
        _ => match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        }
        .to_string(),
    };
    format!("{sign}{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(s: &str) -> String {
        parse(s)
            .map(format)
            .unwrap_or_else(|| format!("invalid {s}"))
    }

    // Expected values from apimachinery's quantity_test.go (TestQuantityParse / canonical forms).
    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("0", "0"),
            ("0n", "0"),
            ("0Mi", "0"),
            ("-0", "0"),
            ("1", "1"),
            ("1000", "1k"),
            ("1001", "1001"),
            ("1500", "1500"),
            ("1200000", "1200k"),
            ("0.5", "500m"),
            ("0.1", "100m"),
            ("1.1", "1100m"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("0.001", "1m"),
            ("100n", "100n"),
            ("1.5k", "1500"),
            ("10M", "10M"),
            ("1Ki", "1Ki"),
            ("1024", "1024"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("100Mi", "100Mi"),
            ("1025Ki", "1025Ki"),
            ("3Gi", "3Gi"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1e-3", "1e-3"),
            ("12e6", "12e6"),
            ("1e0", "1"),
            ("1E", "1E"),
            ("-1", "-1"),
            ("-0.5", "-500m"),
            ("+2", "2"),
            (".5", "500m"),
            ("5.", "5"),
            ("0.0000000001", "1n"),
            ("1.0000000001", "1000000001n"),
            ("9223372036854775807", "9223372036854775807"),
            ("10E", "9223372036854775807"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn invalid_quantities_are_rejected() {
        for input in ["", "abc", "1.2.3", "1Kb", "1e", "e3", "1 m", "--1", "1ki"] {
            assert!(parse(input).is_none(), "{input}");
        }
    }

    #[test]
    fn resource_lists_round_up_to_milli_and_keep_odd_values() {
        let mut list = match json!({"cpu": 0.5, "memory": "1024Mi", "tiny": "100u", "gpu": 2, "bad": "lots", "n": null})
        {
            Value::Object(m) => m,
            _ => Obj::new(),
        };
        resource_list(&mut list);
        assert_eq!(
            Value::Object(list),
            json!({"cpu": "500m", "memory": "1Gi", "tiny": "1m", "gpu": "2", "bad": "lots", "n": null})
        );
    }

    #[test]
    fn canonical_form_is_stable() {
        for input in [
            "0.5",
            "1024Mi",
            "1.5Gi",
            "1e3",
            "12345678912345n",
            "7Ei",
            "1.5",
        ] {
            let once = canon(input);
            assert_eq!(canon(&once), once, "{input}");
        }
    }
}
