//! The frame a block is stored in (magic, item count, payload checksum, payload), read
//! back and checked, and the keys blocks are stored under.

/// The first bytes of every frame.
pub(super) const MAGIC: &[u8; 4] = b"HNB1";

/// Magic, item count, checksum.
pub(super) const HEADER: usize = 4 + 4 + 16;

/// The item count and payload of a frame, or why it is not one. The checksum is checked
/// when `verify` (reading a block), not when only counting.
pub(super) fn unframe(frame: &[u8], verify: bool) -> std::result::Result<(u32, &[u8]), String> {
    if frame.len() < HEADER {
        return Err(format!(
            "{} bytes, shorter than the {HEADER}-byte frame header",
            frame.len()
        ));
    }
    let (header, payload) = frame.split_at(HEADER);
    if &header[..4] != MAGIC {
        return Err(format!(
            "bad magic {:?}, expected \"HNB1\"",
            String::from_utf8_lossy(&header[..4])
        ));
    }
    let items = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if verify && header[8..] != checksum(payload) {
        return Err("payload checksum mismatch".into());
    }
    Ok((items, payload))
}

/// XXH3-128 of the payload: it catches corruption (not tampering) at memory speed, where
/// a cryptographic hash would cost a run that finds every block a tenth of its time.
pub(super) fn checksum(payload: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(payload).to_le_bytes()
}

pub(super) fn block_key(node: &[u8; 32], block: &[u8; 32]) -> [u8; 64] {
    let mut key = [0; 64];
    key[..32].copy_from_slice(node);
    key[32..].copy_from_slice(block);
    key
}

/// The first 8 bytes of a key in hex, enough to tell keys apart in a message.
pub(super) fn hex8(key: &[u8]) -> String {
    key.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
