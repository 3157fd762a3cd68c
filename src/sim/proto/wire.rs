//! The protobuf wire format, read side: varints, fixed 32/64-bit values and length-delimited
//! records, one field at a time. Errors use the words of gogo-protobuf's generated
//! `Unmarshal` methods, which kube-apiserver returns as they are.

use super::ProtoError;

/// One field's value as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl Wire<'_> {
    /// The wire type number (0, 1, 2 or 5).
    pub fn wire_type(&self) -> u8 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Fixed64(_) => 1,
            Wire::Bytes(_) => 2,
            Wire::Fixed32(_) => 5,
        }
    }
}

/// Reads the fields of one message in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// A base-128 varint; more than ten bytes is an overflow, as in gogo-protobuf.
    pub fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            if shift >= 64 {
                return Err(ProtoError::IntOverflow);
            }
            let b = *self.buf.get(self.pos).ok_or(ProtoError::UnexpectedEof)?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtoError::IntOverflow)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).ok_or(ProtoError::InvalidLength)?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(ProtoError::UnexpectedEof)?;
        self.pos = end;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A little-endian fixed64 (packed doubles).
    pub fn fixed64(&mut self) -> Result<u64, ProtoError> {
        Ok(u64::from_le_bytes(self.fixed::<8>()?))
    }

    /// The next field: its number and value. `message` names the message in errors.
    pub fn field(&mut self, message: &str) -> Result<(u32, Wire<'a>), ProtoError> {
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let number = key >> 3;
        if wire == 4 {
            return Err(ProtoError::EndGroup {
                message: message.to_string(),
            });
        }
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(ProtoError::IllegalTag {
                message: message.to_string(),
                tag: number,
                wire,
            });
        }
        let value = match wire {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(self.fixed64()?),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| ProtoError::InvalidLength)?;
                if i64::try_from(len).is_err() {
                    return Err(ProtoError::InvalidLength);
                }
                Wire::Bytes(self.take(len)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.fixed::<4>()?)),
            other => return Err(ProtoError::IllegalWireType(other)),
        };
        Ok((number as u32, value))
    }
}

/// Builds protobuf bytes by hand, for tests.
#[cfg(test)]
pub mod build {
    /// Appends a varint.
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A message under construction.
    #[derive(Default, Clone)]
    pub struct Msg(pub Vec<u8>);

    impl Msg {
        pub fn new() -> Self {
            Self::default()
        }
        pub fn int(mut self, field: u32, v: i64) -> Self {
            varint(&mut self.0, u64::from(field) << 3);
            varint(&mut self.0, v as u64);
            self
        }
        pub fn bytes(mut self, field: u32, v: &[u8]) -> Self {
            varint(&mut self.0, (u64::from(field) << 3) | 2);
            varint(&mut self.0, v.len() as u64);
            self.0.extend_from_slice(v);
            self
        }
        pub fn str(self, field: u32, v: &str) -> Self {
            self.bytes(field, v.as_bytes())
        }
        pub fn msg(self, field: u32, m: Msg) -> Self {
            self.bytes(field, &m.0)
        }
        pub fn double(mut self, field: u32, v: f64) -> Self {
            varint(&mut self.0, (u64::from(field) << 3) | 1);
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        /// A map entry (`key` = 1, `value` = 2) with a string value.
        pub fn entry(self, field: u32, k: &str, v: &str) -> Self {
            self.msg(field, Msg::new().str(1, k).str(2, v))
        }
        /// A map entry with a message value.
        pub fn entry_msg(self, field: u32, k: &str, v: Msg) -> Self {
            self.msg(field, Msg::new().str(1, k).msg(2, v))
        }
    }

    /// An ObjectMeta as gogo-protobuf writes it: every non-pointer field, even when empty.
    pub fn meta(name: &str) -> Msg {
        Msg::new()
            .str(1, name)
            .str(2, "")
            .str(3, "")
            .str(4, "")
            .str(5, "")
            .str(6, "")
            .int(7, 0)
            .msg(8, Msg::new())
    }

    /// `k8s\0` + a `runtime.Unknown` around `raw`.
    pub fn envelope(api_version: &str, kind: &str, raw: Msg) -> Vec<u8> {
        let unknown = Msg::new()
            .msg(1, Msg::new().str(1, api_version).str(2, kind))
            .msg(2, raw)
            .str(3, "")
            .str(4, "");
        let mut out = b"k8s\x00".to_vec();
        out.extend_from_slice(&unknown.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn varints_round_trip_and_overflow() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(Reader::new(&buf).varint(), Ok(v));
        }
        // -1 as int32 is sent as a ten-byte varint.
        let mut buf = Vec::new();
        varint(&mut buf, -1i64 as u64);
        assert_eq!(buf.len(), 10);
        assert_eq!(
            Reader::new(&[0xff; 11]).varint(),
            Err(ProtoError::IntOverflow)
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80]).varint(),
            Err(ProtoError::UnexpectedEof)
        );
    }

    #[test]
    fn fields_of_every_wire_type() {
        let mut m = Msg::new().int(1, 150).str(2, "hi").double(3, 1.5);
        m.0.extend_from_slice(&[(4 << 3) | 5, 1, 0, 0, 0]);
        let mut r = Reader::new(&m.0);
        assert_eq!(r.field("T"), Ok((1, Wire::Varint(150))));
        assert_eq!(r.field("T"), Ok((2, Wire::Bytes(b"hi"))));
        assert_eq!(r.field("T"), Ok((3, Wire::Fixed64(1.5f64.to_bits()))));
        assert_eq!(r.field("T"), Ok((4, Wire::Fixed32(1))));
        assert!(r.is_empty());
    }

    #[test]
    fn malformed_fields_are_errors() {
        // Field number 0.
        assert!(matches!(
            Reader::new(&[0x00, 0x01]).field("T"),
            Err(ProtoError::IllegalTag { tag: 0, .. })
        ));
        // End group without a group, and the unused wire types.
        assert!(matches!(
            Reader::new(&[0x0c]).field("T"),
            Err(ProtoError::EndGroup { .. })
        ));
        assert_eq!(
            Reader::new(&[0x0e, 0]).field("T"),
            Err(ProtoError::IllegalWireType(6))
        );
        // A length past the end of the buffer.
        assert_eq!(
            Reader::new(&[0x12, 0x05, b'a']).field("T"),
            Err(ProtoError::UnexpectedEof)
        );
        // A length that does not fit in an int64.
        let mut buf = vec![0x12];
        varint(&mut buf, u64::MAX);
        assert!(Reader::new(&buf).field("T").is_err());
        // Truncated fixed64.
        assert_eq!(
            Reader::new(&[0x09, 1, 2]).field("T"),
            Err(ProtoError::UnexpectedEof)
        );
    }
}
