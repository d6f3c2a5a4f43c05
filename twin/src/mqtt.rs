//! The twin on an MQTT broker: observations from a topic, recommendations to a topic
//! (rumqttc, plain TCP).
//!
//! `mqtt://HOST[:PORT]/TOPIC` (port 1883 by default; the topic may hold `/`). A feed's
//! messages carry one or more observation lines each; the line
//! `{"time_s": T, "kind": "end"}` ends the feed. Recommendations are published retained
//! with QoS 1, so a dashboard that subscribes later still gets the latest.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// Where an MQTT endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Topic.
    pub topic: String,
}

impl Endpoint {
    /// Parses `mqtt://HOST[:PORT]/TOPIC`; `None` if `s` is not an `mqtt://` address,
    /// an error if it is one but malformed.
    pub fn parse(s: &str) -> Option<Result<Self, String>> {
        let rest = s.strip_prefix("mqtt://")?;
        let bad = |why: &str| Err(format!("{s}: {why}; expected mqtt://HOST[:PORT]/TOPIC"));
        let Some((authority, topic)) = rest.split_once('/') else {
            return Some(bad("no topic"));
        };
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Some(bad("the topic is empty or has wildcards"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) if p > 0 => (h, p),
                _ => return Some(bad("the port is not a number from 1 to 65535")),
            },
            None => (authority, 1883),
        };
        if host.is_empty() {
            return Some(bad("no host"));
        }
        Some(Ok(Self {
            host: host.to_owned(),
            port,
            topic: topic.to_owned(),
        }))
    }

    fn options(&self, role: &str) -> MqttOptions {
        let mut o = MqttOptions::new(
            format!("paraverse-{role}-{}", std::process::id()),
            self.host.clone(),
            self.port,
        );
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(16 << 20, 16 << 20);
        o
    }
}

/// A subscription read as a feed: its messages' lines, in arrival order.
pub struct Feed {
    /// Read the feed from here.
    pub reader: std::io::PipeReader,
    /// Why the subscription ended early, if it did (read after the reader's end).
    pub error: Arc<Mutex<Option<String>>>,
}

/// Subscribes to `endpoint` and hands its messages on as lines. Returns once the broker
/// has acknowledged the subscription (messages published after that are not missed), or
/// the error that prevented it.
pub fn subscribe(endpoint: &Endpoint) -> Result<Feed, String> {
    let (client, mut connection) = Client::new(endpoint.options("twin"), 64);
    client
        .subscribe(endpoint.topic.clone(), QoS::AtLeastOnce)
        .map_err(|e| e.to_string())?;
    let (reader, mut writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let error = Arc::new(Mutex::new(None));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let failed = error.clone();
    let at = format!("{}:{}", endpoint.host, endpoint.port);
    std::thread::spawn(move || {
        let _client = client; // dropping it would end the connection
        let mut ready = Some(ready_tx);
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Ok(()));
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let mut payload = p.payload.to_vec();
                    if !payload.ends_with(b"\n") {
                        payload.push(b'\n');
                    }
                    if writer.write_all(&payload).is_err() {
                        return; // the twin stopped reading
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let message = format!("MQTT broker at {at}: {e}");
                    match ready.take() {
                        Some(r) => {
                            let _ = r.send(Err(message));
                        }
                        None => {
                            *failed
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
                        }
                    }
                    return;
                }
            }
        }
    });
    match ready_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(())) => Ok(Feed { reader, error }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "MQTT broker at {}:{}: no answer to the subscription within 30 s",
            endpoint.host, endpoint.port
        )),
    }
}

/// Publishes retained QoS 1 messages to a topic.
pub struct Publisher {
    client: Client,
    topic: String,
    done: Option<std::thread::JoinHandle<Option<String>>>,
}

impl Publisher {
    /// Connects to `endpoint` (in the background; errors surface at [`Publisher::close`]).
    pub fn connect(endpoint: &Endpoint) -> Self {
        let (client, mut connection) = Client::new(endpoint.options("publisher"), 64);
        let at = format!("{}:{}", endpoint.host, endpoint.port);
        let done = std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(format!("MQTT broker at {at}: {e}")),
                }
            }
            None
        });
        Self {
            client,
            topic: endpoint.topic.clone(),
            done: Some(done),
        }
    }

    /// Queues a message.
    pub fn publish(&self, payload: &str) -> Result<(), String> {
        self.client
            .publish(
                self.topic.clone(),
                QoS::AtLeastOnce,
                true,
                payload.as_bytes().to_vec(),
            )
            .map_err(|e| format!("MQTT publish: {e}"))
    }

    /// Sends what is queued and disconnects; the connection's error, if it had one.
    pub fn close(mut self) -> Result<(), String> {
        let _ = self.client.disconnect();
        let done = self.done.take();
        drop(self);
        match done.map(std::thread::JoinHandle::join) {
            Some(Ok(Some(e))) => Err(e),
            Some(Err(_)) => Err("the MQTT connection thread panicked".into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_clear_errors() {
        assert_eq!(
            Endpoint::parse("mqtt://broker:1884/soc/alerts")
                .unwrap()
                .unwrap(),
            Endpoint {
                host: "broker".into(),
                port: 1884,
                topic: "soc/alerts".into()
            }
        );
        assert_eq!(
            Endpoint::parse("mqtt://10.0.0.1/t").unwrap().unwrap().port,
            1883
        );
        assert!(Endpoint::parse("feed.jsonl").is_none());
        for bad in [
            "mqtt://host",
            "mqtt://host:x/t",
            "mqtt://:1883/t",
            "mqtt://h/a/#",
        ] {
            assert!(Endpoint::parse(bad).unwrap().is_err(), "{bad}");
        }
    }
}
