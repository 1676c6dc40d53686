//! Typed request and response headers, flattened to and from a command's `extFields`
//! under the field names of Apache RocketMQ's `*RequestHeader` / `*ResponseHeader` classes.
//!
//! Headers are declared with [`ext_header!`](crate::ext_header): a field of type `T` is
//! required (its absence is "the custom field `<name>` is null", as Java's `@CFNotNull`
//! check says), a field of type `Option<T>` is optional. Values are written as Java writes
//! them (`Integer`, `Long` and `Boolean` via `toString`) and parsed leniently where Java
//! is lenient.

use crate::command::ExtFields;
use crate::error::{ProtocolError, Result};

/// A header that lives in a command's ext fields.
pub trait CommandHeader: Sized {
    fn write_ext_fields(&self, ext: &mut ExtFields);
    fn read_ext_fields(ext: &ExtFields) -> Result<Self>;
}

/// A scalar that travels as ext-field text.
pub trait ExtValue: Sized {
    fn parse_ext(text: &str) -> Option<Self>;
    fn format_ext(&self) -> String;
}

impl ExtValue for String {
    fn parse_ext(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn format_ext(&self) -> String {
        self.clone()
    }
}

macro_rules! ext_value_int {
    ($($t:ty),*) => {$(
        impl ExtValue for $t {
            fn parse_ext(text: &str) -> Option<Self> {
                text.trim().parse().ok()
            }
            fn format_ext(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
ext_value_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl ExtValue for bool {
    /// Java's `Boolean.parseBoolean` ("true" in any case), plus "1": the C++ client 2.1.0
    /// writes its batch flag as `m="1"`, and reading that as false would store a whole batch
    /// as one message.
    fn parse_ext(text: &str) -> Option<Self> {
        let t = text.trim();
        Some(t.eq_ignore_ascii_case("true") || t == "1")
    }
    fn format_ext(&self) -> String {
        self.to_string()
    }
}

/// How a header field reads and writes itself: required (`T`) or optional (`Option<T>`).
pub trait ExtField: Sized {
    /// Reads the field; `cursor` is [`ExtFields::get_from`]'s search start.
    fn read_field(ext: &ExtFields, cursor: &mut usize, key: &'static str) -> Result<Self>;
    fn write_field(&self, ext: &mut ExtFields, key: &'static str);
}

impl<T: ExtValue> ExtField for T {
    fn read_field(ext: &ExtFields, cursor: &mut usize, key: &'static str) -> Result<Self> {
        let text = ext.get_from(cursor, key).ok_or(ProtocolError::MissingField(key))?;
        T::parse_ext(text).ok_or_else(|| ProtocolError::InvalidField { field: key, value: text.to_owned() })
    }
    fn write_field(&self, ext: &mut ExtFields, key: &'static str) {
        ext.insert(key, self.format_ext());
    }
}

impl<T: ExtValue> ExtField for Option<T> {
    fn read_field(ext: &ExtFields, cursor: &mut usize, key: &'static str) -> Result<Self> {
        match ext.get_from(cursor, key) {
            None => Ok(None),
            Some(text) => T::parse_ext(text)
                .map(Some)
                .ok_or_else(|| ProtocolError::InvalidField { field: key, value: text.to_owned() }),
        }
    }
    fn write_field(&self, ext: &mut ExtFields, key: &'static str) {
        if let Some(v) = self {
            ext.insert(key, v.format_ext());
        }
    }
}

/// Declares a header struct, its [`CommandHeader`] impl and its (property-test)
/// [`ArbitraryHeader`] impl.
///
/// A header that extends one of 5.x's RPC base classes says so with `extends`:
/// `extends RpcRequestHeader` appends the optional fields `ns` (namespace), `nsd`
/// (namespaced), `bname` (broker name) and `oway` (oneway); `extends TopicRequestHeader`
/// and `extends TopicQueueRequestHeader` add `lo` (logical queue) as well. Java writes
/// these only when set, so they are always optional.
///
/// ```
/// ferromq_protocol::ext_header! {
///     /// Doc comment.
///     pub struct ExampleHeader {
///         topic: String => "topic",
///         queue_id: Option<i32> => "queueId",
///     }
/// }
/// ferromq_protocol::ext_header! {
///     /// A 5.x header with the RPC base fields.
///     pub struct ExampleRpcHeader extends TopicQueueRequestHeader {
///         topic: String => "topic",
///     }
/// }
/// ```
#[macro_export]
macro_rules! ext_header {
    ($(#[$meta:meta])* pub struct $name:ident extends TopicQueueRequestHeader { $($(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal),* $(,)? }) => {
        $crate::ext_header! {
            $(#[$meta])*
            pub struct $name extends TopicRequestHeader {
                $($(#[$fmeta])* $field: $ty => $key,)*
            }
        }
    };
    ($(#[$meta:meta])* pub struct $name:ident extends TopicRequestHeader { $($(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal),* $(,)? }) => {
        $crate::ext_header! {
            $(#[$meta])*
            pub struct $name extends RpcRequestHeader {
                $($(#[$fmeta])* $field: $ty => $key,)*
                /// 5.x `TopicRequestHeader.lo`: the topic is a logical (static) topic.
                lo: Option<bool> => "lo",
            }
        }
    };
    ($(#[$meta:meta])* pub struct $name:ident extends RpcRequestHeader { $($(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal),* $(,)? }) => {
        $crate::ext_header! {
            $(#[$meta])*
            pub struct $name {
                $($(#[$fmeta])* $field: $ty => $key,)*
                /// 5.x `RpcRequestHeader.ns`: the namespace.
                ns: Option<String> => "ns",
                /// 5.x `RpcRequestHeader.nsd`: the resources are already namespaced.
                nsd: Option<bool> => "nsd",
                /// 5.x `RpcRequestHeader.bname`: the (physical) broker name addressed.
                bname: Option<String> => "bname",
                /// 5.x `RpcRequestHeader.oway`: oneway call.
                oway: Option<bool> => "oway",
            }
        }
    };
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::header::CommandHeader for $name {
            #[allow(unused_variables)]
            fn write_ext_fields(&self, ext: &mut $crate::command::ExtFields) {
                $($crate::header::ExtField::write_field(&self.$field, ext, $key);)*
            }
            #[allow(unused_variables)]
            fn read_ext_fields(ext: &$crate::command::ExtFields) -> $crate::error::Result<Self> {
                let mut cursor = 0usize;
                Ok($name {
                    $($field: $crate::header::ExtField::read_field(ext, &mut cursor, $key)?,)*
                })
            }
        }

        impl $crate::header::ArbitraryHeader for $name {
            #[allow(unused_variables)]
            fn arbitrary(g: &mut $crate::header::HeaderGen) -> Self {
                $name {
                    $($field: $crate::header::ArbitraryValue::arbitrary_value(g),)*
                }
            }
        }
    };
}

/// Arbitrary values of a header type, for property tests (see `tests/header_roundtrip.rs`).
#[doc(hidden)]
pub trait ArbitraryHeader {
    fn arbitrary(g: &mut HeaderGen) -> Self;
}

/// Arbitrary values of a header field type.
#[doc(hidden)]
pub trait ArbitraryValue {
    fn arbitrary_value(g: &mut HeaderGen) -> Self;
}

/// A tiny deterministic generator (splitmix64) of header field values: strings with
/// non-ASCII, empty and escape-worthy characters, integers over their full range with the
/// edges favoured, booleans and `Some`/`None`.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct HeaderGen {
    state: u64,
}

impl HeaderGen {
    /// Characters that stress the JSON and binary encodings.
    const CHARS: &'static [char] = &[
        'a',
        'z',
        'A',
        'Z',
        '0',
        '9',
        '_',
        '-',
        '%',
        '|',
        '.',
        ' ',
        '"',
        '\\',
        '\'',
        '/',
        '{',
        '}',
        '[',
        ']',
        ':',
        ',',
        '=',
        '\u{0}',
        '\u{1}',
        '\u{2}',
        '\n',
        '\r',
        '\t',
        '\u{7f}',
        '\u{80}',
        'é',
        'ß',
        'Ω',
        '中',
        '文',
        '\u{2028}',
        '\u{feff}',
        '\u{fffd}',
        '🚀',
        '\u{10ffff}',
    ];

    pub fn new(seed: u64) -> Self {
        HeaderGen { state: seed }
    }

    /// The next splitmix64 output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// A string of up to 16 characters; empty one time in six.
    pub fn string(&mut self) -> String {
        if self.below(6) == 0 {
            return String::new();
        }
        let len = 1 + self.below(16);
        (0..len)
            .map(|_| {
                if self.below(8) == 0 {
                    // Any scalar value at all (surrogates fall back to U+FFFD).
                    char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{fffd}')
                } else {
                    Self::CHARS[self.below(Self::CHARS.len() as u64) as usize]
                }
            })
            .collect()
    }
}

impl ArbitraryValue for String {
    fn arbitrary_value(g: &mut HeaderGen) -> Self {
        g.string()
    }
}

impl ArbitraryValue for bool {
    fn arbitrary_value(g: &mut HeaderGen) -> Self {
        g.bool()
    }
}

macro_rules! arbitrary_int {
    ($($t:ty),*) => {$(
        impl ArbitraryValue for $t {
            fn arbitrary_value(g: &mut HeaderGen) -> Self {
                match g.below(8) {
                    0 => 0,
                    1 => <$t>::MIN,
                    2 => <$t>::MAX,
                    3 => g.below(100) as $t,
                    4 => <$t>::MAX.wrapping_sub(g.below(100) as $t),
                    _ => g.next_u64() as $t,
                }
            }
        }
    )*};
}
arbitrary_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl<T: ArbitraryValue> ArbitraryValue for Option<T> {
    fn arbitrary_value(g: &mut HeaderGen) -> Self {
        if g.below(3) == 0 {
            None
        } else {
            Some(T::arbitrary_value(g))
        }
    }
}

pub mod admin;
pub mod client;
pub mod namesrv;
pub mod offset;
pub mod pop;
pub mod pull;
pub mod send;
pub mod topic;
pub mod transaction;

pub use admin::*;
pub use client::*;
pub use namesrv::*;
pub use offset::*;
pub use pop::*;
pub use pull::*;
pub use send::*;
pub use topic::*;
pub use transaction::*;
