//! The one error type of the protocol crate: everything a malformed peer can cause.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge { size: usize, limit: usize },
    #[error("frame length {0} is too small to hold a header length")]
    FrameTooSmall(usize),
    #[error("header length {header} does not fit in frame of {frame} bytes")]
    HeaderLengthInvalid { header: usize, frame: usize },
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    #[error("malformed JSON header: {0}")]
    JsonHeader(String),
    #[error("malformed ROCKETMQ binary header: {0}")]
    BinaryHeader(&'static str),
    #[error("the custom field <{0}> is null")]
    MissingField(&'static str),
    #[error("the custom field <{field}> has an invalid value {value:?}")]
    InvalidField { field: &'static str, value: String },
    #[error("malformed body: {0}")]
    Body(String),
    #[error("malformed message: {0}")]
    Message(String),
}

pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
