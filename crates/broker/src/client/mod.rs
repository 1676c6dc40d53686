//! Connected clients: producer and consumer groups, their channels, queue locks.
