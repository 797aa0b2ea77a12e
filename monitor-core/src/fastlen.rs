//! The length of `format!("{:?}", value)` for common types, computed
//! without going through `core::fmt`.
//!
//! Formatting a `Vec<u32>` of ten through `fmt` costs more than the rest of
//! a recorded call. For strings, integers, `bool` and slices, `Vec`s,
//! arrays and `Option`s of them (behind any `&`, `Box`, `Rc` or `Arc`), the
//! `Debug` length follows from the value directly. Everything else, and
//! any string with a character `Debug` would escape other than `"` or `\`,
//! goes through `fmt` as before: the result is always exactly the length of
//! the `Debug` text.
//!
//! `#[monitored_tool]` asks [`FastLenProbe`] first (autoref
//! specialization: a type without [`FastLen`] answers `None` at no cost)
//! and falls back to the `Debug` path.

use std::rc::Rc;
use std::sync::Arc;

/// A type whose `Debug` length can be computed without formatting.
pub trait FastLen {
    /// The byte length of `format!("{self:?}")`, or `None` when only
    /// formatting can tell.
    fn fast_debug_len(&self) -> Option<u64>;

    /// The summed lengths of `items` (without the brackets and separators
    /// of the slice), or `None` when only formatting can tell. Integers
    /// override it to sum in narrow lanes.
    #[inline]
    fn fast_items_len(items: &[Self]) -> Option<u64>
    where
        Self: Sized,
    {
        items
            .iter()
            .try_fold(0u64, |sum, item| Some(sum + item.fast_debug_len()?))
    }
}

/// `"` + the text + `"`, when no character needs more than a backslash.
impl FastLen for str {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        // Branch-free, so that the loop vectorizes.
        let mut escaped = 0;
        let mut plain = true;
        for &byte in self.as_bytes() {
            escaped += u64::from(byte == b'"' || byte == b'\\');
            // Printable ASCII is written as it is; control characters, DEL
            // and non-ASCII text may be escaped in ways only `fmt` knows.
            plain &= (0x20..=0x7e).contains(&byte);
        }
        plain.then_some(self.len() as u64 + 2 + escaped)
    }
}

impl FastLen for String {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        self.as_str().fast_debug_len()
    }
}

impl FastLen for bool {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        Some(if *self { 4 } else { 5 })
    }
}

/// Decimal digits of an unsigned integer: one plus the number of powers of
/// ten (from a const table of the type's own width) it reaches. The
/// compares are independent of each other, so a slice of integers is
/// measured in vector registers, in lanes of the integer's own width.
macro_rules! digits {
    ($t:ty, $n:expr) => {{
        const POWERS: [$t; <$t>::MAX.ilog10() as usize] = {
            let mut powers = [0; <$t>::MAX.ilog10() as usize];
            let mut power: $t = 10;
            let mut i = 0;
            while i < powers.len() {
                powers[i] = power;
                power = power.wrapping_mul(10);
                i += 1;
            }
            powers
        };
        let n: $t = $n;
        1 + POWERS
            .iter()
            .map(|&power| u32::from(n >= power))
            .sum::<u32>()
    }};
}

/// Elements summed per `u32` before widening: 2^16 lengths of at most 40
/// bytes each fit.
const NARROW_SUM: usize = 1 << 16;

macro_rules! integers {
    ($($t:ty => $u:ty),*) => {$(
        impl FastLen for $t {
            #[inline]
            fn fast_debug_len(&self) -> Option<u64> {
                Some(u64::from(Self::narrow_len(*self)))
            }

            #[inline]
            fn fast_items_len(items: &[Self]) -> Option<u64> {
                let mut total = 0;
                for chunk in items.chunks(NARROW_SUM) {
                    total += u64::from(chunk.iter().map(|&n| Self::narrow_len(n)).sum::<u32>());
                }
                Some(total)
            }
        }

        impl NarrowLen for $t {
            #[inline]
            #[allow(unused_comparisons)] // `n < 0` of an unsigned type
            fn narrow_len(n: Self) -> u32 {
                digits!($u, n.unsigned_abs()) + u32::from(n < 0)
            }
        }
    )*};
}

/// The `Debug` length of an integer, as a `u32`.
trait NarrowLen {
    fn narrow_len(n: Self) -> u32;
}

/// `unsigned_abs` for unsigned types: the value itself.
trait UnsignedAbs {
    fn unsigned_abs(self) -> Self;
}

macro_rules! unsigned_abs {
    ($($t:ty),*) => {$(
        impl UnsignedAbs for $t {
            #[inline]
            fn unsigned_abs(self) -> Self {
                self
            }
        }
    )*};
}

unsigned_abs!(u8, u16, u32, u64, u128, usize);

integers!(
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128, isize => usize
);

/// `[a, b, c]`.
impl<T: FastLen> FastLen for [T] {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        let separators = 2 + 2 * (self.len().saturating_sub(1) as u64);
        Some(separators + T::fast_items_len(self)?)
    }
}

impl<T: FastLen> FastLen for Vec<T> {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        self.as_slice().fast_debug_len()
    }
}

impl<T: FastLen, const N: usize> FastLen for [T; N] {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        self.as_slice().fast_debug_len()
    }
}

/// `None` or `Some(x)`.
impl<T: FastLen> FastLen for Option<T> {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        match self {
            None => Some(4),
            Some(value) => Some(6 + value.fast_debug_len()?),
        }
    }
}

/// Pointers whose `Debug` is their pointee's.
macro_rules! transparent {
    ($($p:ident),*) => {$(
        impl<T: FastLen + ?Sized> FastLen for $p<T> {
            #[inline]
            fn fast_debug_len(&self) -> Option<u64> {
                (**self).fast_debug_len()
            }
        }
    )*};
}

transparent!(Box, Rc, Arc);

impl<T: FastLen + ?Sized> FastLen for &T {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        (**self).fast_debug_len()
    }
}

impl<T: FastLen + ?Sized> FastLen for &mut T {
    #[inline]
    fn fast_debug_len(&self) -> Option<u64> {
        (**self).fast_debug_len()
    }
}

/// A value whose `Debug` length is asked for.
#[derive(Debug)]
pub struct Fast<'a, T: ?Sized>(pub &'a T);

/// `Some(length)` for a [`FastLen`] type that could tell, `None` for any
/// other type (call as `(&&&Fast(value)).__monitor_fast_len()`).
pub trait FastLenProbe {
    /// The `Debug` length, if known without formatting.
    fn __monitor_fast_len(&self) -> Option<u64>;
}

impl<T: FastLen + ?Sized> FastLenProbe for &&Fast<'_, T> {
    #[inline]
    fn __monitor_fast_len(&self) -> Option<u64> {
        self.0.fast_debug_len()
    }
}

impl<T: ?Sized> FastLenProbe for &Fast<'_, T> {
    #[inline]
    fn __monitor_fast_len(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the extra `&`s choose the impl, as in generated code
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same<T: FastLen + std::fmt::Debug + ?Sized>(value: &T) -> Result<(), TestCaseError> {
        if let Some(fast) = value.fast_debug_len() {
            prop_assert_eq!(fast, format!("{value:?}").len() as u64, "{:?}", value);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn lengths_equal_the_debug_text(
            text in ".*",
            ascii in "[ -~]*",
            numbers in prop::collection::vec(any::<i64>(), 0..20),
            small in prop::collection::vec(any::<u8>(), 0..20),
            wide in any::<(u128, i128, usize, isize, u16, i16)>(),
            maybe in prop::option::of(any::<i32>()),
            flags in prop::collection::vec(any::<bool>(), 0..5),
            words in prop::collection::vec("[a-z\"\\\\]{0,6}", 0..5),
        ) {
            same(text.as_str())?;
            same(&text)?;
            same(ascii.as_str())?;
            prop_assert!(ascii.as_str().fast_debug_len().is_some());
            same(&numbers)?;
            same(numbers.as_slice())?;
            same(&small)?;
            same(&wide.0)?;
            same(&wide.1)?;
            same(&wide.2)?;
            same(&wide.3)?;
            same(&wide.4)?;
            same(&wide.5)?;
            same(&maybe)?;
            same(&Some(Some(maybe)))?;
            same(&flags)?;
            same(&words)?;
            same(&Box::new(words.clone()))?;
            same(&Arc::new(text.clone()))?;
            same(&[1u8, 2, 3])?;
            same(&&&7u32)?;
        }
    }

    #[test]
    fn every_ascii_byte_at_every_word_position() {
        for byte in 0..=0x7fu8 {
            for len in [1, 7, 8, 9, 17] {
                for at in 0..len {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    let text = String::from_utf8(text).unwrap();
                    let fast = text.as_str().fast_debug_len();
                    assert_eq!(fast.is_some(), (0x20..=0x7e).contains(&byte), "{text:?}");
                    if let Some(fast) = fast {
                        assert_eq!(fast, format!("{text:?}").len() as u64, "{text:?}");
                    }
                }
            }
        }
        assert_eq!("\"\\".fast_debug_len(), Some(6));
        assert_eq!("é".repeat(9).as_str().fast_debug_len(), None);
    }

    #[test]
    fn digits_are_exact_at_every_power_of_ten_and_bit_length() {
        let mut edges = vec![0u64, u64::MAX];
        for power in (0..20).map(|e| 10u64.pow(e)) {
            edges.extend([power - 1, power, power + 1]);
        }
        for bit in 0..64 {
            let value = 1u64 << bit;
            edges.extend([value - 1, value, value + 1]);
        }
        for n in &edges {
            let text = n.to_string().len() as u64;
            assert_eq!(n.fast_debug_len(), Some(text), "{n}");
            if let Ok(small) = u32::try_from(*n) {
                assert_eq!(small.fast_debug_len(), Some(text), "{n}");
                let negative = -i64::from(small);
                assert_eq!(
                    negative.fast_debug_len(),
                    Some(negative.to_string().len() as u64)
                );
            }
        }
        assert_eq!(
            edges.fast_debug_len(),
            Some(format!("{edges:?}").len() as u64)
        );
    }

    #[test]
    fn probes_fall_back_to_none_for_other_types() {
        #[derive(Debug)]
        struct Other;
        assert_eq!((&&&Fast(&Other)).__monitor_fast_len(), None);
        assert_eq!((&&&Fast(&0.5f64)).__monitor_fast_len(), None);
        assert_eq!((&&&Fast("rust agents")).__monitor_fast_len(), Some(13));
        assert_eq!((&&&Fast(&vec![1u32, 22])).__monitor_fast_len(), Some(7));
        assert_eq!(
            (&&&Fast("é")).__monitor_fast_len(),
            None,
            "non-ASCII goes through fmt"
        );
        assert_eq!(
            i64::MIN.fast_debug_len(),
            Some(format!("{:?}", i64::MIN).len() as u64)
        );
        assert_eq!(0u8.fast_debug_len(), Some(1));
    }
}
