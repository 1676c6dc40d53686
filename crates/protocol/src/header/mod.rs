//! Typed request and response headers, flattened to and from a command's `extFields`
//! under the field names of Apache RocketMQ's `*RequestHeader` / `*ResponseHeader` classes.
//!
//! Headers are declared with [`ext_header!`]: a field of type `T` is required (its absence
//! is "the custom field <name> is null", as Java's `@CFNotNull` check says), a field of
//! type `Option<T>` is optional. Values are written as Java writes them (`Integer`,
//! `Long` and `Boolean` via `toString`) and parsed leniently where Java is lenient.

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
    /// Java's `Boolean.parseBoolean`: "true" in any case is true, anything else false.
    fn parse_ext(text: &str) -> Option<Self> {
        Some(text.trim().eq_ignore_ascii_case("true"))
    }
    fn format_ext(&self) -> String {
        self.to_string()
    }
}

/// How a header field reads and writes itself: required (`T`) or optional (`Option<T>`).
pub trait ExtField: Sized {
    fn read_field(ext: &ExtFields, key: &'static str) -> Result<Self>;
    fn write_field(&self, ext: &mut ExtFields, key: &'static str);
}

impl<T: ExtValue> ExtField for T {
    fn read_field(ext: &ExtFields, key: &'static str) -> Result<Self> {
        let text = ext.get(key).ok_or(ProtocolError::MissingField(key))?;
        T::parse_ext(text).ok_or_else(|| ProtocolError::InvalidField { field: key, value: text.to_owned() })
    }
    fn write_field(&self, ext: &mut ExtFields, key: &'static str) {
        ext.insert(key, self.format_ext());
    }
}

impl<T: ExtValue> ExtField for Option<T> {
    fn read_field(ext: &ExtFields, key: &'static str) -> Result<Self> {
        match ext.get(key) {
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

/// Declares a header struct and its [`CommandHeader`] impl.
///
/// ```
/// ferromq_protocol::ext_header! {
///     /// Doc comment.
///     pub struct ExampleHeader {
///         topic: String => "topic",
///         queue_id: Option<i32> => "queueId",
///     }
/// }
/// ```
#[macro_export]
macro_rules! ext_header {
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
                Ok($name {
                    $($field: $crate::header::ExtField::read_field(ext, $key)?,)*
                })
            }
        }
    };
}

pub mod namesrv;

pub use namesrv::*;
