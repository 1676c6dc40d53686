//! Request processors: one function per request family, mapping RocketMQ requests onto the
//! metadata managers and the store. [`BrokerHandler`] dispatches by request code; every code
//! it does not serve is answered REQUEST_CODE_NOT_SUPPORTED with a remark, never dropped.

pub mod admin;
pub mod consumer;
pub mod hold;
pub mod pull;
pub mod query;
pub mod send;

use std::sync::Arc;

use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{Connection, RequestHandler};

use crate::context::BrokerContext;

/// Serves every client connection of the broker.
pub struct BrokerHandler {
    pub ctx: Arc<BrokerContext>,
}

impl RequestHandler for BrokerHandler {
    fn handle(&self, conn: &Connection, req: RemotingCommand) -> Option<RemotingCommand> {
        let ctx = &self.ctx;
        tracing::trace!(code = req.code, name = RequestCode::name(req.code), peer = %conn.peer_addr(), "request");
        match req.code {
            RequestCode::SEND_MESSAGE | RequestCode::SEND_MESSAGE_V2 | RequestCode::SEND_BATCH_MESSAGE => {
                send::process(ctx, conn, req)
            }
            RequestCode::PULL_MESSAGE | RequestCode::LITE_PULL_MESSAGE => pull::process(ctx, conn, req, true),
            RequestCode::HEART_BEAT => Some(consumer::heartbeat(ctx, conn, &req)),
            RequestCode::UNREGISTER_CLIENT => Some(consumer::unregister_client(ctx, conn, &req)),
            RequestCode::GET_CONSUMER_LIST_BY_GROUP => Some(consumer::consumer_list(ctx, &req)),
            RequestCode::UPDATE_CONSUMER_OFFSET => Some(consumer::update_offset(ctx, conn, &req)),
            RequestCode::QUERY_CONSUMER_OFFSET => Some(consumer::query_offset(ctx, &req)),
            RequestCode::LOCK_BATCH_MQ => Some(consumer::lock_batch(ctx, conn, &req)),
            RequestCode::UNLOCK_BATCH_MQ => Some(consumer::unlock_batch(ctx, conn, &req)),
            RequestCode::GET_MAX_OFFSET => Some(query::max_offset(ctx, &req)),
            RequestCode::GET_MIN_OFFSET => Some(query::min_offset(ctx, &req)),
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => Some(query::search_offset(ctx, &req)),
            RequestCode::GET_EARLIEST_MSG_STORETIME => Some(query::earliest_msg_store_time(ctx, &req)),
            RequestCode::QUERY_MESSAGE => Some(query::query_message(ctx, &req)),
            RequestCode::VIEW_MESSAGE_BY_ID => Some(query::view_message_by_id(ctx, &req)),
            RequestCode::UPDATE_AND_CREATE_TOPIC => Some(admin::update_and_create_topic(ctx, &req)),
            RequestCode::DELETE_TOPIC_IN_BROKER => Some(admin::delete_topic(ctx, &req)),
            RequestCode::GET_ALL_TOPIC_CONFIG => Some(admin::all_topic_config(ctx)),
            RequestCode::GET_TOPIC_CONFIG => Some(admin::topic_config(ctx, &req)),
            RequestCode::GET_TOPIC_STATS_INFO => Some(admin::topic_stats(ctx, &req)),
            RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
                Some(admin::update_and_create_group(ctx, &req))
            }
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => Some(admin::all_group_config(ctx)),
            RequestCode::DELETE_SUBSCRIPTIONGROUP => Some(admin::delete_group(ctx, &req)),
            RequestCode::GET_BROKER_CONFIG => Some(admin::broker_config(ctx)),
            RequestCode::UPDATE_BROKER_CONFIG => Some(admin::update_broker_config(ctx, &req)),
            RequestCode::GET_BROKER_RUNTIME_INFO => Some(admin::runtime_info(ctx)),
            RequestCode::GET_CONSUMER_CONNECTION_LIST => Some(admin::consumer_connections(ctx, &req)),
            RequestCode::GET_CONSUME_STATS => Some(admin::consume_stats(ctx, &req)),
            code => Some(RemotingCommand::not_supported(code)),
        }
    }

    fn on_burst_end(&self, _conn: &Connection) -> bool {
        // The burst's ASYNC_FLUSH sends sit in the store's write buffer: one pwrite puts them
        // all in the page cache before their acknowledgements are sent.
        if !self.ctx.store.config().commits_deferred() {
            return true;
        }
        match self.ctx.store.commit() {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "commit to the page cache failed; the burst is not acknowledged");
                false
            }
        }
    }

    fn on_closed(&self, conn: &Connection) {
        consumer::channel_closed(&self.ctx, conn);
    }
}

/// Java's `TopicValidator.validateTopic`, answered with Java's code and remark.
pub fn validate_topic_name(topic: &str) -> Result<(), RemotingCommand> {
    crate::metadata::validate_topic(topic).map_err(|e| RemotingCommand::error(e.response_code(), e.remark()))
}

/// Decodes a typed header, or returns from the calling processor with the SYSTEM_ERROR
/// response Java gives for it.
macro_rules! try_header {
    ($req:expr) => {
        match $crate::processor::header($req) {
            Ok(h) => h,
            Err(resp) => return resp,
        }
    };
}
pub(crate) use try_header;

/// Decodes a typed header or yields the SYSTEM_ERROR response Java gives for it.
pub fn header<H: ferromq_protocol::CommandHeader>(req: &RemotingCommand) -> Result<H, RemotingCommand> {
    req.decode_header().map_err(|e| RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string()))
}
