//! JSON as Apache RocketMQ writes it.
//!
//! Java RocketMQ serializes bodies with fastjson, which writes map keys that are not strings
//! bare: numbers (`{"brokerAddrs":{0:"127.0.0.1:10911"}}`) and objects (a `MessageQueue`
//! key of `TopicStatsTable` or `ConsumeStats`: `{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`).
//! That is not JSON, so before handing a body to serde we quote such keys (an object key
//! becomes a string holding its JSON text, which is how we write those maps too).
//! Everything we write is standard JSON, which every client parses.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::DeserializeOwned;

use crate::error::{ProtocolError, Result};

/// Quotes bare numeric keys (`{0:"a", -1:"b"}` -> `{"0":"a", "-1":"b"}`) and turns object
/// keys into string keys holding their JSON text (`{{"a":1}:2}` -> `{"{\"a\":1}":2}`),
/// leaving strings and everything else untouched. Borrowed when there is nothing to fix;
/// malformed input is left for the JSON parser to reject. Linear in the input.
pub fn quote_bare_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    // Open brace -> its closing brace; computed only when a brace appears in key position.
    let mut closing: Option<HashMap<usize, usize>> = None;
    let mut strings = StringTracker::default();
    // True right after `{` or `,` in an object context (ignoring white space): a key may start.
    let mut key_may_start = false;
    // Open containers, innermost last: a `,` inside an array starts no key (so an array of
    // objects, as in heartbeats and route bodies, never makes the brace map be built).
    let mut containers: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if strings.in_string(c) {
            key_may_start = false;
            if let Some(o) = out.as_mut() {
                o.push(c);
            }
            i += 1;
            continue;
        }
        match c {
            b'{' if key_may_start => {
                let closing = closing.get_or_insert_with(|| matching_braces(input));
                if let Some(end) = closing.get(&i).copied().filter(|&end| followed_by_colon(input, end)) {
                    let o = out.get_or_insert_with(|| {
                        let mut v = Vec::with_capacity(input.len() + 32);
                        v.extend_from_slice(&input[..i]);
                        v
                    });
                    push_json_string(o, &input[i..=end]);
                    i = end + 1;
                    key_may_start = false;
                    continue;
                }
                // Not a key: an object opening like any other.
                containers.push(b'{');
            }
            b'{' => {
                containers.push(b'{');
                key_may_start = true;
            }
            b'[' => {
                containers.push(b'[');
                key_may_start = false;
            }
            b'}' | b']' => {
                containers.pop();
                key_may_start = false;
            }
            b',' => key_may_start = containers.last() == Some(&b'{'),
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'-' | b'0'..=b'9' if key_may_start => {
                let start = i;
                let mut end = i + 1;
                while end < input.len() && input[end].is_ascii_digit() {
                    end += 1;
                }
                key_may_start = false;
                if followed_by_colon(input, end - 1) {
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
            }
            _ => key_may_start = false,
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

/// Every balanced object's opening brace index -> its closing brace index (outside strings).
fn matching_braces(input: &[u8]) -> HashMap<usize, usize> {
    let mut pairs = HashMap::new();
    let mut open = Vec::new();
    let mut strings = StringTracker::default();
    for (i, &c) in input.iter().enumerate() {
        if strings.in_string(c) {
            continue;
        }
        match c {
            b'{' => open.push(i),
            b'}' => {
                if let Some(start) = open.pop() {
                    pairs.insert(start, i);
                }
            }
            _ => {}
        }
    }
    pairs
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
