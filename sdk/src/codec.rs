//! The byte format of method arguments, return values and stored values: the subset of
//! [borsh](https://borsh.io) the SDK implements itself, so that any borsh library
//! (Rust, JS, Python) encodes a call's input and decodes its result.
//!
//! | type | bytes |
//! |---|---|
//! | `u8`…`u128`, `i8`…`i128` | little-endian, fixed width |
//! | `bool` | one byte, 0 or 1 (anything else is an error) |
//! | `Vec<T>`, `String` | length as `u32` LE, then the elements (UTF-8 for `String`) |
//! | `Option<T>` | `0`, or `1` then the value |
//! | `[u8; N]`, tuples up to 6, `()` | the fields in order, no length |
//! | [`Remainder`] (not borsh) | every remaining byte, no length; only as the last field |
//!
//! Why not the `borsh` crate: borsh 1.x needs Rust ≥ 1.67, above the 1.63 wasm32 toolchain
//! this project builds contracts with, and an SDK without dependencies builds offline
//! with bare `rustc` (see sdk/README.md). Decoding is strict, as borsh's: a bad `bool` or
//! `Option` tag, invalid UTF-8, a length past the end or trailing input bytes are errors.

use alloc::string::String;
use alloc::vec::Vec;

/// Why bytes could not be decoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the value did.
    UnexpectedEnd,
    /// A `bool` byte other than 0 or 1.
    InvalidBool,
    /// An `Option` tag other than 0 or 1.
    InvalidOptionTag,
    /// A `String` that is not UTF-8.
    InvalidUtf8,
    /// Bytes left after the last argument.
    TrailingBytes,
}

impl DecodeError {
    /// A short description, used in panic messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecodeError::UnexpectedEnd => "input ended early",
            DecodeError::InvalidBool => "bool is not 0 or 1",
            DecodeError::InvalidOptionTag => "option tag is not 0 or 1",
            DecodeError::InvalidUtf8 => "string is not UTF-8",
            DecodeError::TrailingBytes => "unexpected bytes after the last argument",
        }
    }
}

/// A value that can be written in the SDK's byte format.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// The encoding of `self` as a new vector.
    fn encode(&self) -> Vec<u8> {
        // Room for the common small values (integers, flags, short ids) up front: growing
        // an empty `Vec` goes through `RawVec`'s generic growth path, which costs about
        // 180 gas per encode in a contract (the token's transfer: 4 164 → 3 794 gas, cost table
        // version 2).
        let mut out = Vec::with_capacity(16);
        self.encode_to(&mut out);
        out
    }

    /// Appends the elements of a slice (without the length). Overridden by `u8` to copy
    /// the bytes at once; element types need not touch it.
    #[doc(hidden)]
    fn encode_slice(items: &[Self], out: &mut Vec<u8>)
    where
        Self: Sized,
    {
        for item in items {
            item.encode_to(out);
        }
    }
}

/// A value that can be read from the SDK's byte format.
pub trait Decode: Sized {
    /// Reads a value from the front of `input` and advances it past the value.
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError>;

    /// Decodes exactly the whole of `bytes` (trailing bytes are an error).
    fn decode(mut bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = Self::decode_from(&mut bytes)?;
        if bytes.is_empty() {
            Ok(value)
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }

    /// Reads `len` elements. Overridden by `u8` to copy the bytes at once.
    #[doc(hidden)]
    fn decode_vec(len: usize, input: &mut &[u8]) -> Result<Vec<Self>, DecodeError> {
        // Never allocate what a length prefix claims: it is attacker-controlled.
        let mut items = Vec::with_capacity(len.min(input.len()));
        for _ in 0..len {
            items.push(Self::decode_from(input)?);
        }
        Ok(items)
    }
}

/// Splits `n` bytes off the front of `input`.
fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if input.len() < n {
        return Err(DecodeError::UnexpectedEnd);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
                const WIDTH: usize = core::mem::size_of::<$t>();
                let mut bytes = [0u8; WIDTH];
                bytes.copy_from_slice(take(input, WIDTH)?);
                Ok(<$t>::from_le_bytes(bytes))
            }
        }
    )*};
}
integer!(u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl Encode for u8 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn encode_slice(items: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }
}

impl Decode for u8 {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(take(input, 1)?[0])
    }
    fn decode_vec(len: usize, input: &mut &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(take(input, len)?.to_vec())
    }
}

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match u8::decode_from(input)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidBool),
        }
    }
}

/// Writes a collection length as borsh does (u32 LE). Lengths above `u32::MAX` cannot
/// occur in wasm32 memory; on the host they abort the call like any contract bug.
fn encode_len(len: usize, out: &mut Vec<u8>) {
    let len = u32::try_from(len).unwrap_or_else(|_| crate::env::panic_str("length over u32"));
    len.encode_to(out);
}

fn decode_len(input: &mut &[u8]) -> Result<usize, DecodeError> {
    // A u32 always fits usize on the targets the SDK supports (32 and 64 bits).
    Ok(u32::decode_from(input)? as usize)
}

impl<T: Encode> Encode for [T] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_len(self.len(), out);
        T::encode_slice(self, out);
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_slice().encode_to(out);
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let len = decode_len(input)?;
        T::decode_vec(len, input)
    }
}

impl Encode for str {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_bytes().encode_to(out);
    }
}

impl Encode for String {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_str().encode_to(out);
    }
}

impl Decode for String {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        String::from_utf8(Vec::<u8>::decode_from(input)?).map_err(|_| DecodeError::InvalidUtf8)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode_to(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match u8::decode_from(input)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode_from(input)?)),
            _ => Err(DecodeError::InvalidOptionTag),
        }
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Decode for [u8; N] {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(take(input, N)?);
        Ok(bytes)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode_to(&self, out: &mut Vec<u8>) {
        (**self).encode_to(out);
    }
}

macro_rules! tuple {
    ($($name:ident)*) => {
        impl<$($name: Encode),*> Encode for ($($name,)*) {
            #[allow(non_snake_case, unused_variables)]
            fn encode_to(&self, out: &mut Vec<u8>) {
                let ($($name,)*) = self;
                $($name.encode_to(out);)*
            }
        }
        impl<$($name: Decode),*> Decode for ($($name,)*) {
            #[allow(unused_variables)]
            fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
                Ok(($($name::decode_from(input)?,)*))
            }
        }
    };
}
tuple!();
tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);

/// Every remaining byte of the input, without a length prefix (not a borsh type): the
/// last argument of a method whose input ends with raw bytes, such as an account id
/// after a fixed-width amount. Encodes as the bytes themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Remainder(pub Vec<u8>);

impl Encode for Remainder {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Remainder {
    fn decode_from(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let bytes = input.to_vec();
        *input = &[];
        Ok(Remainder(bytes))
    }
}

impl core::ops::Deref for Remainder {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn integers_are_little_endian_and_fixed_width() {
        assert_eq!(0x0102_0304u32.encode(), [4, 3, 2, 1]);
        assert_eq!((-2i16).encode(), [0xfe, 0xff]);
        assert_eq!(u64::decode(&7u64.to_le_bytes()), Ok(7));
        assert_eq!(u64::decode(&[1, 2, 3]), Err(DecodeError::UnexpectedEnd));
        assert_eq!(u8::decode(&[1, 2]), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn collections_carry_a_u32_length() {
        assert_eq!(b"ab".to_vec().encode(), [2, 0, 0, 0, b'a', b'b']);
        assert_eq!("hi".encode(), [2, 0, 0, 0, b'h', b'i']);
        assert_eq!(vec![1u16, 2].encode(), [2, 0, 0, 0, 1, 0, 2, 0]);
        let nested = vec![b"x".to_vec(), vec![]];
        assert_eq!(Vec::<Vec<u8>>::decode(&nested.encode()), Ok(nested));
        // A length past the end neither allocates it nor reads beyond the input.
        assert_eq!(
            Vec::<u8>::decode(&[0xff, 0xff, 0xff, 0xff, 1]),
            Err(DecodeError::UnexpectedEnd)
        );
        assert_eq!(
            Vec::<u64>::decode(&[0xff, 0xff, 0xff, 0xff, 1]),
            Err(DecodeError::UnexpectedEnd)
        );
        assert_eq!(
            String::decode(&[1, 0, 0, 0, 0xff]),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn tags_are_strict() {
        assert_eq!(bool::decode(&[2]), Err(DecodeError::InvalidBool));
        assert_eq!(
            Option::<u8>::decode(&[2]),
            Err(DecodeError::InvalidOptionTag)
        );
        assert_eq!(Option::<u8>::decode(&[1, 9]), Ok(Some(9)));
        assert_eq!(Some(true).encode(), [1, 1]);
        assert_eq!(None::<u8>.encode(), [0]);
    }

    #[test]
    fn tuples_arrays_and_remainder() {
        let value = (5u64, [7u8; 2], Remainder(b"bob".to_vec()));
        let bytes = value.encode();
        assert_eq!(bytes, [5, 0, 0, 0, 0, 0, 0, 0, 7, 7, b'b', b'o', b'b']);
        assert_eq!(<(u64, [u8; 2], Remainder)>::decode(&bytes), Ok(value));
        assert_eq!(<()>::decode(&[]), Ok(()));
    }
}
