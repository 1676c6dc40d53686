//! Lenient reading of Java's JSON: `null` where a value is expected, and Java enums that
//! travel by name (fastjson's default) or by ordinal, including names a newer peer added.

use serde::{Deserialize, Deserializer};

/// `deserialize_with` helper: an explicit `null` reads as the type's default (fastjson
/// omits nulls, but the C++ and other clients write them).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Declares a Java enum carried by name: serialized as its Java name, read from its name
/// or ordinal; `null` and names we do not know read as the default (a newer peer's new
/// value must not make a whole heartbeat unreadable).
macro_rules! java_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? } default $default:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl $name {
            /// Every value, in Java's declaration (ordinal) order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The Java constant name.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value with Java constant name `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The value with Java ordinal `ordinal`.
            pub fn from_ordinal(ordinal: u64) -> Option<Self> {
                usize::try_from(ordinal).ok().and_then(|i| Self::ALL.get(i)).copied()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name or ordinal"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_name(v).unwrap_or_default())
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        Ok($name::from_ordinal(v).unwrap_or_default())
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        Ok(u64::try_from(v).ok().and_then($name::from_ordinal).unwrap_or_default())
                    }
                    fn visit_unit<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_none<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

pub(crate) use java_enum;

/// An integer written as a JSON number, a numeric string (the C++ client writes
/// `"subVersion":"1795244072105"`), or null (the default).
pub fn lenient_int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + TryFrom<i64> + std::str::FromStr,
{
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    let parsed = match &v {
        serde_json::Value::Null => return Ok(T::default()),
        serde_json::Value::Number(n) => n.as_i64().and_then(|i| T::try_from(i).ok()),
        serde_json::Value::String(s) => s.trim().parse::<T>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| D::Error::custom(format!("expected an integer, got {v}")))
}
