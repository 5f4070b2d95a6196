//! [`StableHash`] for binary data: `bytes::Bytes`, the Rust type of an Arrow `Binary` row.
//!
//! | type | encoding |
//! |---|---|
//! | `Bytes` | the tag `Bytes`, then the bytes, length-prefixed |
//! | `[u8; N]` (an Arrow `FixedSizeBinary(N)` row) | a list of `N` `u8`s, as the `Vec<u8>` and `[u8]` of the same bytes |
//! | `Vec<u8>` (an Arrow `List<UInt8>` row) | a list of `u8`s |
//!
//! So `Bytes` b"ab", `vec![97_u8, 98]` and `"ab"` all differ. (`[u8; N]` hashes through
//! the impl of every array, `[T; N]`, which Rust does not let `u8` arrays override.)

use bytes::Bytes;

use super::{StableHash, StableHasher};

/// The tag `Bytes` and the bytes, length-prefixed.
impl StableHash for Bytes {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.binary(self);
    }
}

impl StableHasher {
    /// Feeds `bytes` as a `Bytes` value: what an Arrow `Binary` row hashes as.
    #[doc(hidden)]
    #[inline]
    pub fn binary(&mut self, bytes: &[u8]) {
        self.tag("Bytes").bytes(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::super::stable_hash;
    use super::*;

    #[test]
    fn bytes_differ_from_lists_of_u8_and_strings() {
        let mut h = StableHasher::new();
        h.tag("Bytes").len(2);
        h.write(b"ab");
        assert_eq!(stable_hash(&Bytes::from_static(b"ab")), h.finish_hex());
        assert_ne!(stable_hash(&Bytes::from_static(b"ab")), stable_hash(&vec![97_u8, 98]));
        assert_ne!(stable_hash(&Bytes::from_static(b"ab")), stable_hash("ab"));
        assert_eq!(stable_hash(&[97_u8, 98]), stable_hash(&vec![97_u8, 98]));
    }
}
