//! Headers of transactional messages: end (commit/rollback), check-back, resume check.

crate::ext_header! {
    /// END_TRANSACTION (37) request, oneway from the producer
    /// (`EndTransactionRequestHeader`).
    pub struct EndTransactionRequestHeader extends RpcRequestHeader {
        /// 5.x: the half message's topic, for authorization.
        topic: Option<String> => "topic",
        producer_group: String => "producerGroup",
        /// Consume-queue offset of the half message.
        tran_state_table_offset: i64 => "tranStateTableOffset",
        /// CommitLog offset of the half message.
        commit_log_offset: i64 => "commitLogOffset",
        /// `MessageSysFlag` transaction type: not-type 0x0, prepared 0x4, commit 0x8,
        /// rollback 0xC.
        commit_or_rollback: i32 => "commitOrRollback",
        /// The answer to a CHECK_TRANSACTION_STATE rather than the producer's own decision.
        from_transaction_check: Option<bool> => "fromTransactionCheck",
        /// The half message's offset message id.
        msg_id: String => "msgId",
        transaction_id: Option<String> => "transactionId",
    }
}

crate::ext_header! {
    /// CHECK_TRANSACTION_STATE (39) request, broker to producer, oneway; the body is the
    /// half message (`CheckTransactionStateRequestHeader`).
    pub struct CheckTransactionStateRequestHeader extends RpcRequestHeader {
        /// 5.x.
        topic: Option<String> => "topic",
        tran_state_table_offset: i64 => "tranStateTableOffset",
        commit_log_offset: i64 => "commitLogOffset",
        /// The client message id (UNIQ_KEY).
        msg_id: Option<String> => "msgId",
        transaction_id: Option<String> => "transactionId",
        offset_msg_id: Option<String> => "offsetMsgId",
    }
}

crate::ext_header! {
    /// RESUME_CHECK_HALF_MESSAGE (323) request (`ResumeCheckHalfMessageRequestHeader`).
    pub struct ResumeCheckHalfMessageRequestHeader {
        /// 5.x.
        topic: Option<String> => "topic",
        msg_id: Option<String> => "msgId",
    }
}
