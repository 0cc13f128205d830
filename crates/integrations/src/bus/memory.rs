//! The embedded bus: a bounded in-process channel of observation batches.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use tapio_domain::Observation;

use super::BusError;

/// Publishing side of the in-process bus.
#[derive(Clone)]
pub struct MemoryPublisher {
    tx: SyncSender<Vec<Observation>>,
}

/// Consuming side of the in-process bus.
pub struct MemorySubscriber {
    rx: Receiver<Vec<Observation>>,
}

/// A bus holding at most `capacity` batches in flight; publishers wait beyond that.
pub fn memory_bus(capacity: usize) -> (MemoryPublisher, MemorySubscriber) {
    let (tx, rx) = sync_channel(capacity.max(1));
    (MemoryPublisher { tx }, MemorySubscriber { rx })
}

impl MemoryPublisher {
    /// Publishes a batch, waiting while the bus is full.
    pub fn publish(&self, batch: Vec<Observation>) -> Result<(), BusError> {
        self.tx.send(batch).map_err(|_| BusError::Closed)
    }
}

impl MemorySubscriber {
    /// The next batch, or `None` once every publisher is gone and the bus is drained.
    pub fn next_batch(&self) -> Option<Vec<Observation>> {
        self.rx.recv().ok()
    }
}

impl Iterator for MemorySubscriber {
    type Item = Vec<Observation>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_domain::{EntityKind, EntityRef, Observation, Timestamp};

    fn obs(i: i64) -> Observation {
        Observation::EntityGone {
            at: Timestamp::from_second(i).unwrap(),
            entity: EntityRef::new(EntityKind::Pod, Some("ns"), "p"),
        }
    }

    #[test]
    fn batches_arrive_in_order_and_the_bus_closes_with_its_publishers() {
        let (tx, rx) = memory_bus(2);
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                tx.publish(vec![obs(i)]).unwrap();
            }
        });
        let seen: Vec<i64> = rx.flatten().map(|o| o.at().as_second()).collect();
        producer.join().unwrap();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn publishing_without_subscriber_is_an_error_not_a_silent_drop() {
        let (tx, rx) = memory_bus(1);
        drop(rx);
        assert_eq!(tx.publish(vec![obs(1)]), Err(BusError::Closed));
    }
}
