//! Broker metadata kept on disk: topics, subscription groups, consumer offsets.
