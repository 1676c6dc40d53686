//! Tag filtering, as Java's `FilterAPI` builds subscriptions and `ExpressionMessageFilter`
//! matches them: first by the tag hash code kept in the ConsumeQueue (cheap, may let a
//! colliding tag through), then — on the client, or here when the string is at hand — by
//! the tag itself.
//!
//! A subscription expression is `*` (or empty) for every message, or tags separated by
//! `||` (`TagA || TagB`), each trimmed; `tagsSet` holds them and `codeSet` their Java
//! `String.hashCode`. Messages carry one tag (multi-tag messages are not special-cased).
//! SQL92 subscriptions are built here but matched elsewhere; the tag stage lets them pass.

use ferromq_protocol::body::{expression_type, SubscriptionData, SUB_ALL};
use ferromq_protocol::message::stored::tags_code;

/// Why a subscription cannot be built (Java's `FilterAPI.build` exception).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("Expression can't be null! {0}")]
    EmptyExpression(String),
}

/// Java's `FilterAPI.buildSubscriptionData`: a tag subscription (sub version 0; set it).
pub fn build_tag_subscription(topic: &str, sub_string: &str) -> SubscriptionData {
    let mut sub =
        SubscriptionData { topic: topic.to_owned(), sub_string: sub_string.to_owned(), ..Default::default() };
    if sub_string.is_empty() || sub_string == SUB_ALL {
        sub.sub_string = SUB_ALL.to_owned();
        return sub;
    }
    for tag in sub_string.split("||").map(str::trim).filter(|t| !t.is_empty()) {
        // Java's hash code is an int: the i64 from `tags_code` is its sign extension.
        sub.code_set.insert(tags_code(tag) as i32);
        sub.tags_set.insert(tag.to_owned());
    }
    sub
}

/// Java's `FilterAPI.build`: a tag subscription when `expression_type` is absent, empty
/// or `TAG`; otherwise (SQL92) the expression as it is, which must not be empty.
pub fn build_subscription_data(
    topic: &str,
    sub_string: &str,
    expression_type: Option<&str>,
) -> Result<SubscriptionData, FilterError> {
    match expression_type {
        None => Ok(build_tag_subscription(topic, sub_string)),
        Some(t) if expression_type::is_tag_type(t) => Ok(build_tag_subscription(topic, sub_string)),
        Some(t) => {
            if sub_string.is_empty() {
                return Err(FilterError::EmptyExpression(t.to_owned()));
            }
            Ok(SubscriptionData {
                topic: topic.to_owned(),
                sub_string: sub_string.to_owned(),
                expression_type: t.to_owned(),
                ..Default::default()
            })
        }
    }
}

/// `ExpressionMessageFilter.isMatchedByConsumeQueue` for tags: a class-filter or SQL92
/// subscription, `*`, or a tag code in the code set.
pub fn matches_tags_code(sub: &SubscriptionData, tags_code: i64) -> bool {
    if sub.class_filter_mode || !sub.is_tag_type() || sub.is_all() {
        return true;
    }
    sub.code_set.contains(&(tags_code as i32))
}

/// The tag string check (Java's client-side re-check): passes everything when the
/// subscription lists no tags; otherwise the message's tag must be listed.
pub fn matches_tag(sub: &SubscriptionData, tag: Option<&str>) -> bool {
    if sub.class_filter_mode || !sub.is_tag_type() || sub.tags_set.is_empty() {
        return true;
    }
    tag.is_some_and(|t| sub.tags_set.contains(t))
}

/// A subscription's tag stage, detached from the subscription (what a pull hands the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Every message passes the tag stage.
    match_all: bool,
    /// Sorted tag codes.
    codes: Vec<i32>,
}

impl SubscriptionFilter {
    pub fn new(sub: &SubscriptionData) -> Self {
        let match_all = sub.class_filter_mode || !sub.is_tag_type() || sub.is_all();
        SubscriptionFilter {
            match_all,
            codes: if match_all { Vec::new() } else { sub.code_set.iter().copied().collect() },
        }
    }

    /// Passes everything.
    pub fn all() -> Self {
        SubscriptionFilter { match_all: true, codes: Vec::new() }
    }

    pub fn is_match_all(&self) -> bool {
        self.match_all
    }

    /// The ConsumeQueue stage: see [`matches_tags_code`].
    pub fn matches_tags_code(&self, tags_code: i64) -> bool {
        self.match_all || self.codes.binary_search(&(tags_code as i32)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_like_filter_api() {
        let s = build_tag_subscription("T", " TagA ||TagB|| ||TagA");
        assert_eq!(s.sub_string, " TagA ||TagB|| ||TagA");
        assert_eq!(s.tags_set.iter().map(String::as_str).collect::<Vec<_>>(), ["TagA", "TagB"]);
        assert_eq!(s.code_set.iter().copied().collect::<Vec<_>>(), [2_598_919, 2_598_920]);
        assert_eq!(s.expression_type, "TAG");
        for all in ["", "*"] {
            let s = build_tag_subscription("T", all);
            assert!(s.is_all() && s.tags_set.is_empty() && s.code_set.is_empty());
        }
        // A tag whose hash is negative keeps Java's int value.
        let s = build_tag_subscription("T", "some-rather-long-tag-name");
        let code = *s.code_set.iter().next().unwrap();
        assert_eq!(i64::from(code), tags_code("some-rather-long-tag-name"));
    }

    #[test]
    fn build_by_expression_type() {
        assert!(build_subscription_data("T", "TagA", Some("TAG")).unwrap().tags_set.contains("TagA"));
        assert!(build_subscription_data("T", "TagA", Some("")).unwrap().is_tag_type());
        let sql = build_subscription_data("T", "a > 5", Some("SQL92")).unwrap();
        assert_eq!((sql.expression_type.as_str(), sql.sub_string.as_str()), ("SQL92", "a > 5"));
        assert!(sql.tags_set.is_empty());
        assert_eq!(
            build_subscription_data("T", "", Some("SQL92")),
            Err(FilterError::EmptyExpression("SQL92".into()))
        );
    }

    #[test]
    fn matches_by_code_and_by_tag() {
        let s = build_tag_subscription("T", "TagA || TagB");
        let f = SubscriptionFilter::new(&s);
        for (tag, expected) in [("TagA", true), ("TagB", true), ("TagC", false)] {
            assert_eq!(matches_tags_code(&s, tags_code(tag)), expected, "{tag}");
            assert_eq!(f.matches_tags_code(tags_code(tag)), expected, "{tag}");
            assert_eq!(matches_tag(&s, Some(tag)), expected, "{tag}");
        }
        // A message without tags (code 0) does not match a tag subscription.
        assert!(!f.matches_tags_code(0));
        assert!(!matches_tag(&s, None));

        let all = build_tag_subscription("T", "*");
        assert!(SubscriptionFilter::new(&all).is_match_all());
        assert!(matches_tags_code(&all, 12345) && matches_tag(&all, None));
        let sql = build_subscription_data("T", "a > 5", Some("SQL92")).unwrap();
        assert!(matches_tags_code(&sql, 1) && SubscriptionFilter::new(&sql).matches_tags_code(1));
        assert!(SubscriptionFilter::all().matches_tags_code(-7));
    }
}
