//! Message encodings: the properties string, the stored-message record (CommitLog and
//! pull body), the batch body, and message ids.
//!
//! * [`properties`]: `name\u0001value\u0002…` and the `MessageConst` property names.
//! * [`sysflag`]: `MessageSysFlag` bits and, in [`sysflag::pull`], `PullSysFlag`.
//! * [`stored`]: the stored-message record ([`MessageExt`], [`encode_stored`],
//!   [`decode_stored`], zero-copy [`StoredMessageRef`], field positions for in-place
//!   patching, the blank end-of-segment record, [`tags_code`]).
//! * [`send`] / [`batch`]: the producer's [`Message`] and the SEND_BATCH_MESSAGE body.
//! * [`id`]: offset message ids and the client unique id (`UNIQ_KEY`) generator.

pub mod batch;
pub mod id;
pub mod properties;
mod reader;
pub mod send;
pub mod stored;
pub mod sysflag;

pub use batch::{
    decode_batch, decode_batch_bytes, decode_batch_entry, encode_batch, encode_batch_entry,
    encode_batch_entry_raw, iter_batch, BatchEntryRef, BatchIter,
};
pub use id::{decode_offset_msg_id, encode_offset_msg_id, UniqIdGenerator};
pub use properties::Properties;
pub use send::Message;
pub use stored::{
    body_crc, decode_all, decode_all_bytes, decode_stored, decode_stored_bytes, decode_stored_ref,
    encode_blank, encode_stored, encode_stored_ref, iter_stored, peek_record, tags_code, MessageExt,
    MessageVersion, RecordKind, StoredIter, StoredMessageRef,
};
