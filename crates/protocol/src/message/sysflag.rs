//! `MessageSysFlag` (the `sysFlag` of a stored message and of SEND_MESSAGE) and, in
//! [`pull`], `PullSysFlag` (the `sysFlag` of PULL_MESSAGE).
//!
//! ```text
//! bit   7      6       5          4         3..2         1           0
//!      batch  unwrap  storehost6 bornhost6 transaction  multi-tags  compressed
//! bits 8..10: compression type (LZ4 1, ZSTD 2, ZLIB 3)
//! ```

pub const COMPRESSED_FLAG: i32 = 0x1;
pub const MULTI_TAGS_FLAG: i32 = 0x1 << 1;
pub const TRANSACTION_NOT_TYPE: i32 = 0;
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;
pub const BORNHOST_V6_FLAG: i32 = 0x1 << 4;
pub const STOREHOSTADDRESS_V6_FLAG: i32 = 0x1 << 5;
/// The body is a batch to unwrap (5.x auto batch).
pub const NEED_UNWRAP_FLAG: i32 = 0x1 << 6;
/// The record holds several messages (5.x inner batch).
pub const INNER_BATCH_FLAG: i32 = 0x1 << 7;
pub const COMPRESSION_LZ4_TYPE: i32 = 0x1 << 8;
pub const COMPRESSION_ZSTD_TYPE: i32 = 0x2 << 8;
pub const COMPRESSION_ZLIB_TYPE: i32 = 0x3 << 8;
/// Mask of the compression-type bits.
pub const COMPRESSION_TYPE_COMPARATOR: i32 = 0x7 << 8;

/// The transaction bits: one of the `TRANSACTION_*_TYPE` values.
pub const fn transaction_value(flag: i32) -> i32 {
    flag & TRANSACTION_ROLLBACK_TYPE
}

/// Replaces the transaction bits by `ty` (a `TRANSACTION_*_TYPE` value).
pub const fn reset_transaction_value(flag: i32, ty: i32) -> i32 {
    (flag & !TRANSACTION_ROLLBACK_TYPE) | (ty & TRANSACTION_ROLLBACK_TYPE)
}

pub const fn clear_compressed_flag(flag: i32) -> i32 {
    flag & !COMPRESSED_FLAG
}

pub const fn is_compressed(flag: i32) -> bool {
    flag & COMPRESSED_FLAG != 0
}

pub const fn has_multi_tags(flag: i32) -> bool {
    flag & MULTI_TAGS_FLAG != 0
}

pub const fn is_born_host_v6(flag: i32) -> bool {
    flag & BORNHOST_V6_FLAG != 0
}

pub const fn is_store_host_v6(flag: i32) -> bool {
    flag & STOREHOSTADDRESS_V6_FLAG != 0
}

pub const fn is_inner_batch(flag: i32) -> bool {
    flag & INNER_BATCH_FLAG != 0
}

pub const fn needs_unwrap(flag: i32) -> bool {
    flag & NEED_UNWRAP_FLAG != 0
}

/// The body compression of a compressed message (bits 8..10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    Lz4 = 1,
    Zstd = 2,
    Zlib = 3,
}

impl CompressionType {
    /// Java's `CompressionType.findByValue`: 0 means ZLIB (clients older than the
    /// compression-type bits only knew ZLIB); 4..7 are unknown.
    pub const fn from_value(value: i32) -> Option<CompressionType> {
        match value {
            1 => Some(CompressionType::Lz4),
            2 => Some(CompressionType::Zstd),
            0 | 3 => Some(CompressionType::Zlib),
            _ => None,
        }
    }

    pub const fn value(self) -> i32 {
        self as i32
    }

    /// The sysFlag bits of this type (`COMPRESSION_*_TYPE`).
    pub const fn flag_bits(self) -> i32 {
        (self as i32) << 8
    }
}

/// The compression type named by bits 8..10 (meaningful with [`COMPRESSED_FLAG`]).
pub const fn compression_type(flag: i32) -> Option<CompressionType> {
    CompressionType::from_value((flag & COMPRESSION_TYPE_COMPARATOR) >> 8)
}

/// Replaces the compression-type bits (does not touch [`COMPRESSED_FLAG`]).
pub const fn with_compression_type(flag: i32, ty: CompressionType) -> i32 {
    (flag & !COMPRESSION_TYPE_COMPARATOR) | ty.flag_bits()
}

/// `PullSysFlag`: the `sysFlag` of a PULL_MESSAGE request.
pub mod pull {
    pub const FLAG_COMMIT_OFFSET: i32 = 0x1;
    pub const FLAG_SUSPEND: i32 = 0x1 << 1;
    pub const FLAG_SUBSCRIPTION: i32 = 0x1 << 2;
    pub const FLAG_CLASS_FILTER: i32 = 0x1 << 3;
    pub const FLAG_LITE_PULL_MESSAGE: i32 = 0x1 << 4;

    /// Java's `PullSysFlag.buildSysFlag` (five-argument form).
    pub const fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        let mut flag = 0;
        if commit_offset {
            flag |= FLAG_COMMIT_OFFSET;
        }
        if suspend {
            flag |= FLAG_SUSPEND;
        }
        if subscription {
            flag |= FLAG_SUBSCRIPTION;
        }
        if class_filter {
            flag |= FLAG_CLASS_FILTER;
        }
        if lite_pull {
            flag |= FLAG_LITE_PULL_MESSAGE;
        }
        flag
    }

    pub const fn clear_commit_offset_flag(flag: i32) -> i32 {
        flag & !FLAG_COMMIT_OFFSET
    }

    pub const fn has_commit_offset_flag(flag: i32) -> bool {
        flag & FLAG_COMMIT_OFFSET != 0
    }

    pub const fn has_suspend_flag(flag: i32) -> bool {
        flag & FLAG_SUSPEND != 0
    }

    pub const fn has_subscription_flag(flag: i32) -> bool {
        flag & FLAG_SUBSCRIPTION != 0
    }

    pub const fn has_class_filter_flag(flag: i32) -> bool {
        flag & FLAG_CLASS_FILTER != 0
    }

    pub const fn has_lite_pull_flag(flag: i32) -> bool {
        flag & FLAG_LITE_PULL_MESSAGE != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_values() {
        assert_eq!(TRANSACTION_PREPARED_TYPE, 0x4);
        assert_eq!(TRANSACTION_COMMIT_TYPE, 0x8);
        assert_eq!(TRANSACTION_ROLLBACK_TYPE, 0xC);
        assert_eq!(BORNHOST_V6_FLAG, 0x10);
        assert_eq!(STOREHOSTADDRESS_V6_FLAG, 0x20);
        assert_eq!(NEED_UNWRAP_FLAG, 0x40);
        assert_eq!(INNER_BATCH_FLAG, 0x80);
        assert_eq!(COMPRESSION_ZLIB_TYPE, 0x300);
        assert_eq!(COMPRESSION_TYPE_COMPARATOR, 0x700);
    }

    #[test]
    fn transaction_bits() {
        let f = COMPRESSED_FLAG | TRANSACTION_PREPARED_TYPE | BORNHOST_V6_FLAG;
        assert_eq!(transaction_value(f), TRANSACTION_PREPARED_TYPE);
        let g = reset_transaction_value(f, TRANSACTION_COMMIT_TYPE);
        assert_eq!(transaction_value(g), TRANSACTION_COMMIT_TYPE);
        assert_eq!(g & !TRANSACTION_ROLLBACK_TYPE, f & !TRANSACTION_ROLLBACK_TYPE);
        assert_eq!(transaction_value(reset_transaction_value(g, TRANSACTION_NOT_TYPE)), 0);
        assert!(!is_compressed(clear_compressed_flag(f)));
    }

    #[test]
    fn compression_bits() {
        assert_eq!(compression_type(COMPRESSED_FLAG), Some(CompressionType::Zlib));
        assert_eq!(compression_type(COMPRESSION_LZ4_TYPE), Some(CompressionType::Lz4));
        assert_eq!(compression_type(COMPRESSION_ZSTD_TYPE | 1), Some(CompressionType::Zstd));
        assert_eq!(compression_type(0x4 << 8), None);
        let f = with_compression_type(COMPRESSED_FLAG | COMPRESSION_ZLIB_TYPE, CompressionType::Lz4);
        assert_eq!(f, COMPRESSED_FLAG | COMPRESSION_LZ4_TYPE);
    }

    #[test]
    fn pull_flags() {
        let f = pull::build(true, true, true, false, false);
        assert_eq!(f, 0x7);
        assert!(pull::has_commit_offset_flag(f) && pull::has_suspend_flag(f));
        assert!(pull::has_subscription_flag(f) && !pull::has_class_filter_flag(f));
        assert_eq!(pull::clear_commit_offset_flag(f), 0x6);
        assert!(pull::has_lite_pull_flag(pull::build(false, false, false, false, true)));
        assert_eq!(pull::build(false, false, false, true, true), 0x18);
    }
}
