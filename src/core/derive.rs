//! Ids derived from content: the same on every platform, in every run and in every driver (the
//! Node entry's server mode, the backfill CLI), so that re-sending the same data never counts it
//! twice and one user's events always carry the same derived device.
//!
//! The output is a UUID-shaped string (version nibble 8, RFC 9562's "custom" layout) of 128 bits
//! drawn from two seeded [`key`] hashes. **Never change the algorithm**: stored data and servers'
//! de-duplication depend on it; the test vectors below pin it.

use super::keys::key;
use crate::prelude::*;

/// What an id is derived for: keeps the spaces apart (a user's anonymous id never equals the
/// messageId derived from the same bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// The anonymous (device) id of a user who gave none, from the user id.
    AnonymousId,
    /// The messageId of an event that carries none, from its content (the backfill CLI).
    MessageId,
}

const SEEDS: [u64; 2] = [0x6261_7463_6877_6972, 0x6520_6465_7269_7665]; // "batchwire derive"
const HEX: &[u8; 16] = b"0123456789abcdef";

/// The id derived from `content` for `what`, e.g. `4f0c...-...-8...-...`.
pub fn derive_id(what: Derived, content: &[u8]) -> String {
    let tag = match what {
        Derived::AnonymousId => b'A',
        Derived::MessageId => b'M',
    };
    let (a, b) = (key(SEEDS[0], tag, content), key(SEEDS[1], tag, content));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    let mut s = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[usize::from(byte >> 4)] as char);
        s.push(HEX[usize::from(byte & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_ids_never_change() {
        // Pinned: a change here re-counts every re-sent backfill and splits users' devices.
        assert_eq!(
            derive_id(Derived::AnonymousId, b"user-123"),
            derive_id(Derived::AnonymousId, b"user-123")
        );
        let anon = derive_id(Derived::AnonymousId, b"user-123");
        let msg = derive_id(Derived::MessageId, b"user-123");
        assert_ne!(anon, msg, "the spaces are kept apart");
        assert_eq!(anon.len(), 36);
        assert_eq!(&anon[14..15], "8", "version 8: {anon}");
        assert!(matches!(&anon[19..20], "8" | "9" | "a" | "b"), "{anon}");
        assert_eq!(anon, PINNED_ANON, "the algorithm changed");
        assert_eq!(derive_id(Derived::MessageId, b""), PINNED_EMPTY_MSG);
        assert_ne!(
            derive_id(Derived::AnonymousId, b"user-124"),
            anon,
            "one byte changes it"
        );
    }

    const PINNED_ANON: &str = "9510e12f-fa1c-8854-9c76-943ff4236d5d";
    const PINNED_EMPTY_MSG: &str = "f1d233bd-526d-8675-ad96-bd9b0374c3e2";
}
