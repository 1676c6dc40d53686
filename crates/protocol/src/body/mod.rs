//! JSON bodies exchanged with the NameServer and the broker, with Java's field names.
