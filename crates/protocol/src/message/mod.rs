//! Message encodings: the properties string, the stored-message record (CommitLog and
//! pull body), the batch body, and message ids.
