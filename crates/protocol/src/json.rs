//! JSON as Apache RocketMQ writes it.
//!
//! Java RocketMQ serializes bodies with fastjson, which writes map keys that are not strings
//! bare: numbers (`{"brokerAddrs":{0:"127.0.0.1:10911"}}`) and objects (a `MessageQueue`
//! key of `TopicStatsTable` or `ConsumeStats`: `{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`).
//! That is not JSON, so before handing a body to serde we quote such keys (an object key
//! becomes a string holding its JSON text, which is how we write those maps too).
//! Everything we write is standard JSON, which every client parses.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use crate::error::{ProtocolError, Result};

/// serde_json's recursion limit (it refuses input nested this deep); the key scan leaves
/// input nested deeper than this to the parser before it builds anything, which bounds its
/// work and memory for crafted bodies.
const MAX_DEPTH: usize = 128;

/// Quotes bare numeric keys (`{0:"a", -1:"b"}` -> `{"0":"a", "-1":"b"}`) and turns object
/// keys into string keys holding their JSON text (`{{"a":1}:2}` -> `{"{\"a\":1}":2}`),
/// leaving strings and everything else untouched. Borrowed when there is nothing to fix;
/// too deeply nested input is left to the JSON parser as it is. Malformed input is not
/// repaired, only scanned: what comes out is whatever the parser makes of it (an object key
/// with unbalanced brackets inside may come out quoted). Linear in the input, with memory
/// for the braces in key position only.
pub fn quote_bare_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    // Braces in key position with their closing brace; found only when one appears.
    let mut keys: Option<KeyBraces> = None;
    let mut syntax = KeySyntax::default();
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        // `key_may_start` is never set inside a string.
        if c == b'{' && syntax.key_may_start {
            let keys = match keys {
                Some(ref mut k) => k,
                None => match KeyBraces::find(input) {
                    Some(k) => keys.insert(k),
                    None => return Cow::Borrowed(input),
                },
            };
            if let Some(end) = keys.closing(i).filter(|&end| followed_by_colon(input, end)) {
                let o = out.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(input.len() + 32);
                    v.extend_from_slice(&input[..i]);
                    v
                });
                push_json_string(o, &input[i..=end]);
                i = end + 1;
                syntax.key_may_start = false;
                continue;
            }
        }
        if syntax.key_may_start && matches!(c, b'-' | b'0'..=b'9') {
            let start = i;
            let mut end = i + 1;
            while end < input.len() && input[end].is_ascii_digit() {
                end += 1;
            }
            syntax.key_may_start = false;
            // A lone `-` is no number: left for the parser to reject.
            let is_number = input[start..end].iter().any(u8::is_ascii_digit);
            if is_number && followed_by_colon(input, end - 1) {
                let o = out.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(input.len() + 16);
                    v.extend_from_slice(&input[..start]);
                    v
                });
                o.push(b'"');
                o.extend_from_slice(&input[start..end]);
                o.push(b'"');
                i = end;
                continue;
            }
        } else if !syntax.feed(c) {
            return Cow::Borrowed(input);
        }
        if let Some(o) = out.as_mut() {
            o.push(c);
        }
        i += 1;
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(input),
    }
}

/// Where a scan stands in JSON's syntax, as far as finding keys needs: inside a string or
/// not, the open containers, and whether a key may start here.
#[derive(Default)]
struct KeySyntax {
    strings: StringTracker,
    /// True right after `{` or `,` in an object (ignoring white space): a key may start.
    key_may_start: bool,
    /// Open containers, innermost last: a `,` inside an array starts no key (so an array of
    /// objects, as in heartbeats and route bodies, never makes the brace list be built).
    containers: Vec<u8>,
}

impl KeySyntax {
    /// Feeds the next byte; false when the nesting passes [`MAX_DEPTH`].
    fn feed(&mut self, c: u8) -> bool {
        if self.strings.in_string(c) {
            self.key_may_start = false;
            return true;
        }
        match c {
            // After an opening brace in key position that is not a key, a key may still
            // start (the brace opened a value's object, as any other).
            b'{' => {
                self.containers.push(b'{');
                self.key_may_start = true;
            }
            b'[' => {
                self.containers.push(b'[');
                self.key_may_start = false;
            }
            b'}' | b']' => {
                self.containers.pop();
                self.key_may_start = false;
            }
            b',' => self.key_may_start = self.containers.last() == Some(&b'{'),
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => self.key_may_start = false,
        }
        self.containers.len() <= MAX_DEPTH
    }
}

/// The opening braces that stand in key position, each with its closing brace (or none
/// when unbalanced), in input order.
struct KeyBraces {
    pairs: Vec<(u32, u32)>,
    /// Where the next lookup starts: keys are looked up in increasing order.
    cursor: usize,
}

impl KeyBraces {
    const UNCLOSED: u32 = u32::MAX;

    /// None when the input nests deeper than [`MAX_DEPTH`] or is too large to index (bodies
    /// are far smaller than 4 GiB): the parser is left to reject it.
    fn find(input: &[u8]) -> Option<KeyBraces> {
        if input.len() >= Self::UNCLOSED as usize {
            return None;
        }
        let mut pairs = Vec::new();
        // Per open object: its slot in `pairs` when it opened in key position.
        let mut open: Vec<Option<usize>> = Vec::new();
        let mut syntax = KeySyntax::default();
        for (i, &c) in input.iter().enumerate() {
            let key_position = syntax.key_may_start;
            let in_string = syntax.strings.in_string;
            if !syntax.feed(c) {
                return None;
            }
            if in_string {
                continue;
            }
            match c {
                b'{' if key_position => {
                    open.push(Some(pairs.len()));
                    pairs.push((i as u32, Self::UNCLOSED));
                }
                b'{' => open.push(None),
                b'}' => {
                    if let Some(Some(slot)) = open.pop() {
                        pairs[slot].1 = i as u32;
                    }
                }
                _ => {}
            }
        }
        Some(KeyBraces { pairs, cursor: 0 })
    }

    /// The closing brace of the object opening at `open`, if it opened in key position and
    /// closes. Calls must come in increasing `open` order.
    fn closing(&mut self, open: usize) -> Option<usize> {
        while self.pairs.get(self.cursor).is_some_and(|&(o, _)| (o as usize) < open) {
            self.cursor += 1;
        }
        match self.pairs.get(self.cursor) {
            Some(&(o, c)) if o as usize == open && c != Self::UNCLOSED => Some(c as usize),
            _ => None,
        }
    }
}

/// Where a byte scan stands with respect to JSON string literals.
#[derive(Default)]
struct StringTracker {
    in_string: bool,
    escaped: bool,
}

impl StringTracker {
    /// Feeds the next byte; true when it is part of a string literal, quotes included.
    fn in_string(&mut self, c: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if c == b'\\' {
                self.escaped = true;
            } else if c == b'"' {
                self.in_string = false;
            }
            true
        } else if c == b'"' {
            self.in_string = true;
            true
        } else {
            false
        }
    }
}

/// Whether the next non-blank byte after `end` is `:`.
fn followed_by_colon(input: &[u8], end: usize) -> bool {
    input.iter().skip(end + 1).find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t')) == Some(&b':')
}

/// Appends `raw` as a JSON string literal (escaping quotes, backslashes and controls).
fn push_json_string(out: &mut Vec<u8>, raw: &[u8]) {
    out.push(b'"');
    for &b in raw {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Parses a body written by any RocketMQ peer (standard JSON or fastjson's dialect).
pub fn from_slice<T: DeserializeOwned>(input: &[u8]) -> Result<T> {
    let fixed = quote_bare_keys(input);
    serde_json::from_slice(&fixed).map_err(|e| ProtocolError::Body(e.to_string()))
}

/// Writes a body as standard JSON.
pub fn to_vec<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own plain data types to a Vec cannot fail (no maps with non-string
    // keys, no custom serializers that error); fall back to an empty object regardless.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_fastjson_numeric_keys() {
        let s = br#"{"brokerAddrs":{0:"127.0.0.1:10911",1 : "x:1"},"n":-1,"m":{-2:"y"}}"#;
        let fixed = quote_bare_keys(s);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"{"brokerAddrs":{"0":"127.0.0.1:10911","1" : "x:1"},"n":-1,"m":{"-2":"y"}}"#
        );
    }

    #[test]
    fn leaves_standard_json_and_strings_alone() {
        let s = br#"{"a":[1,2,3],"b":"{0:\"x\"}","c":{"0":"z"}}"#;
        assert!(matches!(quote_bare_keys(s), Cow::Borrowed(_)));
    }

    #[test]
    fn a_lone_minus_is_not_a_key() {
        assert!(matches!(quote_bare_keys(br#"{-:""}"#), Cow::Borrowed(_)));
        assert!(from_slice::<serde_json::Value>(br#"{-:""}"#).is_err());
    }

    #[test]
    fn arrays_of_numbers_are_not_keys() {
        let s = br#"{"a":[1, 2],"b":{3:[4,5]}}"#;
        assert_eq!(&*quote_bare_keys(s), br#"{"a":[1, 2],"b":{"3":[4,5]}}"#);
    }

    #[test]
    fn keys_are_found_inside_arrays_of_objects_and_after_them() {
        // Objects in an array are values, keys inside them are keys; the context is kept
        // across the array, across an object that is not a key, and after both.
        let s = br#"{"x":[{"a":1},{"b":{0:"z"}}],"y":{{"k":1}:2},"w":{{"q":1},3:4}}"#;
        assert_eq!(
            std::str::from_utf8(&quote_bare_keys(s)).unwrap(),
            r#"{"x":[{"a":1},{"b":{"0":"z"}}],"y":{"{\"k\":1}":2},"w":{{"q":1},"3":4}}"#
        );
        assert!(matches!(quote_bare_keys(br#"[{"a":1},{"b":2},{}]"#), Cow::Borrowed(_)));
    }
}
