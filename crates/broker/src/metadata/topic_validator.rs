//! Java's `TopicValidator` (4.9.8): topic name rules and the built-in system topics.
//!
//! A broker adds its own system topics (cluster name, broker name, reply and trace topics);
//! [`super::TopicConfigManager::is_system_topic`] knows those too.

use ferromq_protocol::ResponseCode;

use super::names::*;

/// 4.9.8's `TOPIC_MAX_LENGTH`.
pub const TOPIC_MAX_LENGTH: usize = 127;

/// Topics that are system topics on every broker.
pub const BUILTIN_SYSTEM_TOPICS: &[&str] = &[
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    RMQ_SYS_SCHEDULE_TOPIC,
    RMQ_SYS_BENCHMARK_TOPIC,
    RMQ_SYS_TRANS_HALF_TOPIC,
    RMQ_SYS_TRACE_TOPIC,
    RMQ_SYS_TRANS_OP_HALF_TOPIC,
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
    RMQ_SYS_SELF_TEST_TOPIC,
    RMQ_SYS_OFFSET_MOVED_EVENT,
];

/// Topics no client may send to.
pub const NOT_ALLOWED_SEND_TOPICS: &[&str] = &[
    RMQ_SYS_SCHEDULE_TOPIC,
    RMQ_SYS_TRANS_HALF_TOPIC,
    RMQ_SYS_TRANS_OP_HALF_TOPIC,
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
    RMQ_SYS_SELF_TEST_TOPIC,
    RMQ_SYS_OFFSET_MOVED_EVENT,
];

/// Why a topic name was refused; [`Self::remark`] is Java's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    #[error("The specified topic is blank.")]
    Blank,
    #[error("The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")]
    IllegalCharacters,
    #[error("The specified topic is longer than topic max length.")]
    TooLong,
}

impl TopicNameError {
    /// The response code Java answers with (`SYSTEM_ERROR`).
    pub fn response_code(self) -> i32 {
        ResponseCode::SYSTEM_ERROR
    }

    /// The response remark Java answers with.
    pub fn remark(self) -> String {
        self.to_string()
    }
}

/// `TopicValidator.isTopicOrGroupIllegal`: a character outside `[%|a-zA-Z0-9_-]`.
pub fn is_topic_or_group_illegal(name: &str) -> bool {
    !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// `TopicValidator.validateTopic`.
pub fn validate_topic(topic: &str) -> Result<(), TopicNameError> {
    if topic.chars().all(is_java_whitespace) {
        return Err(TopicNameError::Blank);
    }
    if is_topic_or_group_illegal(topic) {
        return Err(TopicNameError::IllegalCharacters);
    }
    if topic.len() > TOPIC_MAX_LENGTH {
        return Err(TopicNameError::TooLong);
    }
    Ok(())
}

/// `TopicValidator.isSystemTopic` for the built-in set (and the `rmq_sys_` prefix).
pub fn is_builtin_system_topic(topic: &str) -> bool {
    BUILTIN_SYSTEM_TOPICS.contains(&topic) || topic.starts_with(SYSTEM_TOPIC_PREFIX)
}

/// `TopicValidator.isNotAllowedSendTopic`.
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    NOT_ALLOWED_SEND_TOPICS.contains(&topic)
}

/// Java's remark (with `NO_PERMISSION`) for a send to a forbidden topic.
pub fn not_allowed_send_remark(topic: &str) -> String {
    format!("Sending message to topic[{topic}] is forbidden.")
}

/// Java's remark (with `SYSTEM_ERROR`) for creating a topic named like a system topic.
pub fn system_topic_conflict_remark(topic: &str) -> String {
    format!("The topic[{topic}] is conflict with system topic.")
}

/// Java's `Character.isWhitespace` (what `UtilAll.isBlank` uses).
fn is_java_whitespace(c: char) -> bool {
    match c {
        '\u{a0}' | '\u{2007}' | '\u{202f}' | '\u{85}' => false,
        '\u{1c}'..='\u{1f}' => true,
        c => c.is_whitespace(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_java() {
        assert_eq!(validate_topic("TopicTest"), Ok(()));
        assert_eq!(validate_topic("%RETRY%g|x-y_z"), Ok(()));
        assert_eq!(validate_topic(""), Err(TopicNameError::Blank));
        assert_eq!(validate_topic(" \t"), Err(TopicNameError::Blank));
        assert_eq!(validate_topic("a b"), Err(TopicNameError::IllegalCharacters));
        assert_eq!(validate_topic("topic.x"), Err(TopicNameError::IllegalCharacters));
        assert_eq!(validate_topic("中文"), Err(TopicNameError::IllegalCharacters));
        assert_eq!(validate_topic(&"a".repeat(127)), Ok(()));
        assert_eq!(validate_topic(&"a".repeat(128)), Err(TopicNameError::TooLong));
        assert_eq!(
            TopicNameError::IllegalCharacters.remark(),
            "The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        );
        assert_eq!(TopicNameError::Blank.response_code(), ResponseCode::SYSTEM_ERROR);
    }

    #[test]
    fn system_topics() {
        assert!(is_builtin_system_topic("TBW102"));
        assert!(is_builtin_system_topic("rmq_sys_anything"));
        assert!(!is_builtin_system_topic("TopicTest"));
        assert!(is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(!is_not_allowed_send_topic("TBW102"));
        assert!(!is_not_allowed_send_topic("RMQ_SYS_TRACE_TOPIC"));
    }
}
