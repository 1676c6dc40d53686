//! Route bodies: `TopicRouteData`, `QueueData`, `BrokerData`, `ClusterInfo`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// brokerId of a master (`MixAll.MASTER_ID`).
pub const MASTER_ID: i64 = 0;

/// One broker group's queues for a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct QueueData {
    pub broker_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    pub topic_sys_flag: i32,
}

/// One broker group: its name, cluster, and the address of each member by brokerId.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerData {
    pub cluster: String,
    pub broker_name: String,
    /// brokerId -> "ip:port"; 0 is the master.
    pub broker_addrs: BTreeMap<i64, String>,
    /// 5.x; always written (as null when unknown) because 5.x clients expect the key.
    pub zone_name: Option<String>,
    /// 5.x; always written.
    pub enable_acting_master: bool,
}

impl BrokerData {
    /// The master's address, or the lowest-id member's (`BrokerData.selectBrokerAddr`
    /// prefers the master).
    pub fn select_broker_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).or_else(|| self.broker_addrs.values().next()).map(String::as_str)
    }
}

/// The answer to GET_ROUTEINFO_BY_TOPIC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicRouteData {
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
    pub broker_datas: Vec<BrokerData>,
    /// brokerAddr -> filter server addresses.
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// 5.x static topics; carried through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<serde_json::Value>,
}

/// The answer to GET_BROKER_CLUSTER_INFO.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterInfo {
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn route_carries_4x_and_5x_fields() {
        let route = TopicRouteData {
            queue_datas: vec![QueueData {
                broker_name: "b".into(),
                read_queue_nums: 4,
                write_queue_nums: 4,
                perm: 6,
                topic_sys_flag: 0,
            }],
            broker_datas: vec![BrokerData {
                cluster: "c".into(),
                broker_name: "b".into(),
                broker_addrs: BTreeMap::from([(0, "127.0.0.1:10911".to_string())]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = String::from_utf8(json::to_vec(&route)).unwrap();
        assert_eq!(
            text,
            r#"{"orderTopicConf":null,"queueDatas":[{"brokerName":"b","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}],"brokerDatas":[{"cluster":"c","brokerName":"b","brokerAddrs":{"0":"127.0.0.1:10911"},"zoneName":null,"enableActingMaster":false}],"filterServerTable":{}}"#
        );
        let back: TopicRouteData = json::from_slice(text.as_bytes()).unwrap();
        assert_eq!(back, route);
    }

    #[test]
    fn parses_what_java_fastjson_writes() {
        // Apache RocketMQ 4.9.8's NameServer, as captured (keys sorted, bare numeric key).
        let body = br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:20911",1:"127.0.0.1:20921"},"brokerName":"java-broker-a","cluster":"JavaCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"java-broker-a","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}"#;
        let route: TopicRouteData = json::from_slice(body).unwrap();
        assert_eq!(route.broker_datas[0].broker_addrs[&1], "127.0.0.1:20921");
        assert_eq!(route.broker_datas[0].select_broker_addr(), Some("127.0.0.1:20911"));
        assert_eq!(route.queue_datas[0].write_queue_nums, 8);
        assert!(!route.broker_datas[0].enable_acting_master);
    }

    #[test]
    fn cluster_info_round_trips() {
        let mut info = ClusterInfo::default();
        info.cluster_addr_table.entry("DefaultCluster".into()).or_default().insert("broker-a".into());
        info.broker_addr_table.insert(
            "broker-a".into(),
            BrokerData {
                cluster: "DefaultCluster".into(),
                broker_name: "broker-a".into(),
                ..Default::default()
            },
        );
        let back: ClusterInfo = json::from_slice(&json::to_vec(&info)).unwrap();
        assert_eq!(back, info);
    }
}
