//! [`StableHash`] for `rust_decimal::Decimal`.
//!
//! A decimal is fed as the tag `Decimal`, then its value with trailing zeros stripped
//! (`1.50` and `1.5` are one value, and so one digest; `-0` is `0`): the mantissa as an
//! `i128` and the scale (digits after the point) as a `u32`, both little-endian. An Arrow
//! `Decimal128` row of any scale holding the same value hashes alike, and a decimal never
//! hashes like an integer or a float.

use rust_decimal::Decimal;

use super::{StableHash, StableHasher};

/// A decimal as `Decimal`, then its normalized mantissa (`i128`) and scale (`u32`).
impl StableHash for Decimal {
    fn stable_hash(&self, h: &mut StableHasher) {
        let d = self.normalize();
        h.tag("Decimal");
        h.write(&d.mantissa().to_le_bytes());
        h.write(&d.scale().to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::stable_hash;
    use super::*;

    fn encoding(mantissa: i128, scale: u32) -> String {
        let mut h = StableHasher::new();
        h.tag("Decimal");
        h.write(&mantissa.to_le_bytes());
        h.write(&scale.to_le_bytes());
        h.finish_hex()
    }

    #[test]
    fn decimals_hash_their_value_without_trailing_zeros() {
        let d = |m: i64, s: u32| Decimal::new(m, s);
        assert_eq!(stable_hash(&d(150, 2)), encoding(15, 1));
        assert_eq!(stable_hash(&d(150, 2)), stable_hash(&d(15, 1)));
        assert_eq!(stable_hash(&d(-1_000, 3)), encoding(-1, 0));
        assert_eq!(stable_hash(&d(0, 5)), encoding(0, 0));
        assert_eq!(stable_hash(&-d(0, 5)), stable_hash(&Decimal::ZERO));
        assert_eq!(
            stable_hash(&Decimal::MAX),
            encoding(i128::from(u64::MAX) << 32 | 0xFFFF_FFFF, 0)
        );
        assert_ne!(stable_hash(&d(1, 0)), stable_hash(&1_i64));
        assert_ne!(stable_hash(&d(15, 1)), stable_hash(&1.5_f64));
        assert_ne!(stable_hash(&d(15, 1)), stable_hash(&d(15, 2)));
    }
}
