//! Namespace partitions: how the work of one cluster is split between correlation
//! replicas. A namespace belongs to exactly one partition; facts about cluster-scoped
//! objects (nodes, etcd, CNI) and the topology belong to all of them.

/// Partition `index` of `count`: the namespaces it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl Partition {
    /// Whether the namespace's evidence is this partition's to analyse.
    pub fn owns(&self, namespace: &str) -> bool {
        partition_of(namespace, self.count) == self.index
    }
}

/// The partition of `count` that `namespace` belongs to: FNV-1a (32 bit) of its name,
/// modulo `count`. This is what NATS JetStream's `{{partition(count, …)}}` subject
/// transform computes from the namespace's subject token, which is the name itself for
/// every valid namespace (a DNS label), so the bus and the engines agree on it.
pub fn partition_of(namespace: &str, count: u32) -> u32 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let hash = namespace
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u32::from(b)).wrapping_mul(PRIME));
    hash % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_of_the_name_modulo_the_count() {
        // Reference values of FNV-1a 32: "" -> 0x811c9dc5, "a" -> 0xe40c292c.
        assert_eq!(partition_of("", u32::MAX), 0x811c_9dc5);
        assert_eq!(partition_of("a", u32::MAX), 0xe40c_292c);
        assert_eq!(partition_of("foobar", u32::MAX), 0xbf9c_f968);
        assert_eq!(partition_of("anything", 1), 0);
        assert_eq!(partition_of("anything", 0), 0, "no partitions means one");
        let p = Partition {
            index: partition_of("shop", 3),
            count: 3,
        };
        assert!(p.owns("shop"));
        assert_eq!(
            (0..3)
                .filter(|&i| Partition { index: i, count: 3 }.owns("shop"))
                .count(),
            1
        );
    }
}
