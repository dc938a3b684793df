//! SkipList beside BTreeMap on the same data: inserts/s and lookups/s for
//! 1M random u64 keys and 1M String keys, plus dump/load. Run with
//! `cargo bench -p skiplist --bench skiplist`; takes well under a minute. The byte-specialised
//! list, memory per entry and RSS are measured in `benches/memory.rs`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use skiplist::SkipList;

const N: usize = 1_000_000;

/// The two maps under the same three operations.
trait Map<K, V> {
    fn name() -> &'static str;
    fn empty() -> Self;
    fn put(&mut self, k: K, v: V);
    fn get(&self, k: &K) -> Option<&V>;
}

impl<K: Ord, V> Map<K, V> for SkipList<K, V> {
    fn name() -> &'static str {
        "SkipList"
    }
    fn empty() -> Self {
        SkipList::seeded(42)
    }
    fn put(&mut self, k: K, v: V) {
        self.insert(k, v);
    }
    fn get(&self, k: &K) -> Option<&V> {
        self.search(k)
    }
}

impl<K: Ord, V> Map<K, V> for BTreeMap<K, V> {
    fn name() -> &'static str {
        "BTreeMap"
    }
    fn empty() -> Self {
        BTreeMap::new()
    }
    fn put(&mut self, k: K, v: V) {
        self.insert(k, v);
    }
    fn get(&self, k: &K) -> Option<&V> {
        BTreeMap::get(self, k)
    }
}

fn per_sec(n: usize, took: Duration) -> String {
    format!("{:>6.2} M/s", n as f64 / took.as_secs_f64() / 1e6)
}

/// Inserts `keys` in their (random) order, then looks each up in a
/// different random order.
fn run<M: Map<K, u64>, K: Clone>(label: &str, keys: &[K], probes: &[K]) {
    let start = Instant::now();
    let mut map = M::empty();
    for (i, k) in keys.iter().enumerate() {
        map.put(k.clone(), i as u64);
    }
    let insert = start.elapsed();

    let start = Instant::now();
    let mut found = 0u64;
    for k in probes {
        if let Some(v) = map.get(black_box(k)) {
            found = found.wrapping_add(*v);
        }
    }
    let lookup = start.elapsed();
    black_box(found);
    println!(
        "{label:<12} {:<9} insert {}   lookup {}",
        M::name(),
        per_sec(keys.len(), insert),
        per_sec(probes.len(), lookup)
    );
}

fn dump_and_load(keys: &[u64]) {
    let list: SkipList<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
    let start = Instant::now();
    let bytes = list.dump().expect("u64 pairs always encode");
    let dump = start.elapsed();
    let start = Instant::now();
    let back = SkipList::<u64, u64>::load(&bytes).expect("our own dump loads");
    let load = start.elapsed();
    assert_eq!(back.len(), list.len());
    println!(
        "u64 keys     SkipList  dump   {}   load   {}   ({} MB)",
        per_sec(list.len(), dump),
        per_sec(list.len(), load),
        bytes.len() / 1_000_000
    );
}

fn main() {
    let mut rng = SmallRng::seed_from_u64(7);
    let keys: Vec<u64> = (0..N).map(|_| rng.random()).collect();
    let mut probes = keys.clone();
    probes.shuffle(&mut rng);
    println!("{N} keys, inserted in random order, looked up in another random order");
    run::<SkipList<u64, u64>, _>("u64 keys", &keys, &probes);
    run::<BTreeMap<u64, u64>, _>("u64 keys", &keys, &probes);
    dump_and_load(&keys);

    let skeys: Vec<String> = keys.iter().map(|k| format!("key-{k:020}")).collect();
    let sprobes: Vec<String> = probes.iter().map(|k| format!("key-{k:020}")).collect();
    run::<SkipList<String, u64>, _>("String keys", &skeys, &sprobes);
    run::<BTreeMap<String, u64>, _>("String keys", &skeys, &sprobes);
}
