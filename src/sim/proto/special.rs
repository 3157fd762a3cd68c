//! Messages whose JSON form is not an object of their fields: `metav1.Time` and `MicroTime`
//! (RFC 3339 strings), `metav1.Duration`, `IntOrString`, `resource.Quantity`, and embedded JSON
//! (`RawExtension`, `FieldsV1`, apiextensions `JSON`). Each takes the message's bytes and gives
//! its JSON value, or None where Go's JSON encoder writes `null` (the field is then left out).

use serde_json::Value;

use super::ProtoError;
use super::wire::{Reader, Wire};

/// Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: Go refuses to write years outside.
const MIN_SECONDS: i64 = -62_167_219_200;
const MAX_SECONDS: i64 = 253_402_300_799;

/// The varint fields of a small message, by number (last wins, as for any scalar).
fn varints<const N: usize>(name: &str, buf: &[u8]) -> Result<[u64; N], ProtoError> {
    let mut out = [0u64; N];
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (number, wire) = r.field(name)?;
        let Some(slot) = out.get_mut(number as usize - 1) else {
            continue;
        };
        match wire {
            Wire::Varint(v) => *slot = v,
            other => {
                return Err(ProtoError::WrongWireType {
                    field: format!("{name}.{number}"),
                    wire: other.wire_type(),
                });
            }
        }
    }
    Ok(out)
}

/// `metav1.Time` / `MicroTime`: `Timestamp{seconds = 1, nanos = 2}`; no bytes is the zero time,
/// which Go writes as `null`.
fn timestamp(name: &str, buf: &[u8], micro: bool) -> Result<Option<Value>, ProtoError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let [seconds, nanos] = varints::<2>(name, buf)?;
    let (seconds, nanos) = (seconds as i64, i64::from(nanos as i32));
    // time.Unix normalises nanoseconds outside [0, 1e9).
    let seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| out_of_range(name))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(out_of_range(name));
    }
    let ts = jiff::Timestamp::from_second(seconds).map_err(|_| out_of_range(name))?;
    let date = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(Some(Value::String(if micro {
        format!("{date}.{:06}Z", nanos / 1000)
    } else {
        format!("{date}Z")
    })))
}

fn out_of_range(name: &str) -> ProtoError {
    ProtoError::Invalid(format!(
        "{name}.MarshalJSON: year outside of range [0,9999]"
    ))
}

pub fn time(buf: &[u8]) -> Result<Option<Value>, ProtoError> {
    timestamp("Time", buf, false)
}

pub fn micro_time(buf: &[u8]) -> Result<Option<Value>, ProtoError> {
    timestamp("MicroTime", buf, true)
}

/// `metav1.Duration{duration = 1}` in nanoseconds, written as Go's `time.Duration.String()`.
pub fn duration(buf: &[u8]) -> Result<Option<Value>, ProtoError> {
    let [d] = varints::<1>("Duration", buf)?;
    Ok(Some(Value::String(go_duration(d as i64))))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let u = d.unsigned_abs();
    // The fraction of `v` below 10^prec without trailing zeros, and the integer part.
    let frac = |v: u64, prec: u32| {
        let p = 10u64.pow(prec);
        let (int, f) = (v / p, v % p);
        if f == 0 {
            (String::new(), int)
        } else {
            let digits = format!("{f:0width$}", width = prec as usize);
            (format!(".{}", digits.trim_end_matches('0')), int)
        }
    };
    let body = if u < 1_000_000_000 {
        let (unit, prec) = if u < 1_000 {
            ("ns", 0)
        } else if u < 1_000_000 {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        let (f, int) = frac(u, prec);
        format!("{int}{f}{unit}")
    } else {
        let (f, secs) = frac(u, 9);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            format!("{h}h{m}m{s}{f}s")
        } else if m > 0 {
            format!("{m}m{s}{f}s")
        } else {
            format!("{s}{f}s")
        }
    };
    if d < 0 { format!("-{body}") } else { body }
}

/// `IntOrString{type = 1, intVal = 2, strVal = 3}`: a number for type 0, a string for type 1.
pub fn int_or_string(buf: &[u8]) -> Result<Option<Value>, ProtoError> {
    let (mut ty, mut int, mut text) = (0u64, 0i32, String::new());
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.field("IntOrString")? {
            (1, Wire::Varint(v)) => ty = v,
            (2, Wire::Varint(v)) => int = v as i32,
            (3, Wire::Bytes(b)) => text = String::from_utf8_lossy(b).into_owned(),
            (n @ 1..=3, w) => {
                return Err(ProtoError::WrongWireType {
                    field: ["Type", "IntVal", "StrVal"][n as usize - 1].into(),
                    wire: w.wire_type(),
                });
            }
            _ => {}
        }
    }
    match ty {
        0 => Ok(Some(Value::from(int))),
        1 => Ok(Some(Value::String(text))),
        _ => Err(ProtoError::Invalid("impossible IntOrString.Type".into())),
    }
}

/// `Quantity{string = 1}`, passed on as the string the client wrote (a JSON client's quantity
/// string is not canonicalised either). No string is Go's zero Quantity, `"0"`.
pub fn quantity(buf: &[u8]) -> Result<Option<Value>, ProtoError> {
    let mut out = "0".to_string();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.field("Quantity")? {
            (1, Wire::Bytes(b)) => out = String::from_utf8_lossy(b).into_owned(),
            (1, w) => {
                return Err(ProtoError::WrongWireType {
                    field: "String_".into(),
                    wire: w.wire_type(),
                });
            }
            _ => {}
        }
    }
    Ok(Some(Value::String(out)))
}

/// Embedded JSON in field 1 (`raw` / `Raw`). No bytes is Go's `null`. A nested protobuf object
/// (`k8s\0` prefix) is decoded in turn.
pub fn raw(buf: &[u8], depth: usize) -> Result<Option<Value>, ProtoError> {
    let mut data: &[u8] = &[];
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.field("RawExtension")? {
            (1, Wire::Bytes(b)) => data = b,
            (1, w) => {
                return Err(ProtoError::WrongWireType {
                    field: "Raw".into(),
                    wire: w.wire_type(),
                });
            }
            _ => {}
        }
    }
    if data.is_empty() {
        return Ok(None);
    }
    if data.starts_with(super::MAGIC) {
        return super::decode_at(data, depth + 1).map(Some);
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(ProtoError::Invalid(format!(
            "error decoding embedded JSON: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::build::Msg;
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_rfc3339_in_utc() {
        // 2024-05-06T07:08:09Z with 123456789ns.
        let t = Msg::new().int(1, 1_714_979_289).int(2, 123_456_789);
        assert_eq!(time(&t.0).unwrap(), Some(json!("2024-05-06T07:08:09Z")));
        assert_eq!(
            micro_time(&t.0).unwrap(),
            Some(json!("2024-05-06T07:08:09.123456Z"))
        );
        // Go marshals a zero Time as no bytes at all: JSON null, so the field is left out.
        assert_eq!(time(&[]).unwrap(), None);
        // The Unix epoch is a real time, sent as explicit zeros.
        assert_eq!(
            time(&Msg::new().int(1, 0).int(2, 0).0).unwrap(),
            Some(json!("1970-01-01T00:00:00Z"))
        );
        assert_eq!(
            micro_time(&Msg::new().int(1, 0).0).unwrap(),
            Some(json!("1970-01-01T00:00:00.000000Z"))
        );
        // Out of Go's range [0,9999] and nonsense wire types are errors.
        assert!(time(&Msg::new().int(1, i64::MAX).0).is_err());
        assert!(time(&Msg::new().str(1, "x").0).is_err());
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(1_000), "1µs");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(-2_500_000_000), "-2.5s");
        assert_eq!(
            duration(&Msg::new().int(1, 300_000_000_000).0).unwrap(),
            Some(json!("5m0s"))
        );
    }

    #[test]
    fn int_or_string_by_type() {
        assert_eq!(
            int_or_string(&Msg::new().int(1, 0).int(2, 25).str(3, "").0).unwrap(),
            Some(json!(25))
        );
        assert_eq!(
            int_or_string(&Msg::new().int(1, 1).int(2, 0).str(3, "25%").0).unwrap(),
            Some(json!("25%"))
        );
        assert_eq!(
            int_or_string(&Msg::new().int(1, 0).int(2, -1).0).unwrap(),
            Some(json!(-1))
        );
        assert!(int_or_string(&Msg::new().int(1, 2).0).is_err());
        assert!(int_or_string(&Msg::new().str(2, "x").0).is_err());
    }

    #[test]
    fn quantities_and_raw_json() {
        assert_eq!(
            quantity(&Msg::new().str(1, "500m").0).unwrap(),
            Some(json!("500m"))
        );
        assert_eq!(quantity(&[]).unwrap(), Some(json!("0")));
        assert_eq!(
            raw(&Msg::new().str(1, r#"{"a":[1,"b"]}"#).0, 0).unwrap(),
            Some(json!({"a": [1, "b"]}))
        );
        assert_eq!(raw(&[], 0).unwrap(), None);
        assert!(raw(&Msg::new().str(1, "{nope").0, 0).is_err());
    }
}
