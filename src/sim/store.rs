//! One virtual cluster's object store: objects by resource, a cluster-wide resourceVersion
//! counter (like etcd's revision), and a bounded history of changes that watches resume from.
//!
//! Every write is a read-modify-write under one lock, so the checks a write makes (exists,
//! resourceVersion matches) and the write itself are atomic.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use super::resource::StorageKey;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it. `object` carries the change's resourceVersion.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub key: StorageKey,
    pub object: Arc<Value>,
    /// The version before the change (for MODIFIED and DELETED), so a filtered watch can tell
    /// an object that stopped matching from one that never did.
    pub prev: Option<Arc<Value>>,
    pub rv: u64,
}

/// An object as the store keeps it: its compact JSON text. A parsed `serde_json::Value` costs
/// 5 to 10 times its JSON size (every map is a B-tree node sized for 11 entries), which at
/// 100,000 objects and their watch history is the difference between 100 MiB and well over 1 GiB.
#[derive(Debug, Clone)]
pub struct Doc(Arc<str>);

impl Doc {
    pub fn encode(value: &Value) -> Self {
        Doc(Arc::from(value.to_string()))
    }

    /// The object. The text was written by `encode`, so it always parses; were it ever not to,
    /// the object reads as `null` rather than taking the server down.
    pub fn decode(&self) -> Arc<Value> {
        Arc::new(serde_json::from_str(&self.0).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a stored object does not parse");
            Value::Null
        }))
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.0.len()
    }
}

/// One change as the store keeps it (history and feed): decoded by the watchers that want it.
#[derive(Debug)]
pub struct Record {
    pub kind: EventType,
    pub key: StorageKey,
    pub object: Doc,
    pub prev: Option<Doc>,
    pub rv: u64,
}

impl Record {
    pub fn decode(&self) -> Event {
        Event {
            kind: self.kind,
            key: self.key.clone(),
            object: self.object.decode(),
            prev: self.prev.as_ref().map(Doc::decode),
            rv: self.rv,
        }
    }
}

/// (namespace, name); "" namespace for cluster-scoped objects. Sorted like etcd keys.
pub type ObjectKey = (String, String);

type Table = BTreeMap<ObjectKey, Doc>;

struct Inner {
    rv: u64,
    tables: HashMap<StorageKey, Table>,
    /// The recent changes of each resource type, as kube-apiserver's watch cache keeps one
    /// window per type: a busy type never expires the watches of a quiet one.
    history: HashMap<StorageKey, History>,
    history_limit: usize,
}

#[derive(Default)]
struct History {
    events: VecDeque<Arc<Record>>,
    /// Every event of the type with rv > compacted is still in `events`.
    compacted: u64,
}

/// The store of one virtual cluster.
pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Record>>,
}

/// The outcome of a read-modify-write closure.
pub enum Change {
    /// Leave the object as it is (no write, no event, no new resourceVersion).
    Keep,
    /// Store this new version.
    Put(Value),
    /// Remove the object (its last version is `Value`, which the DELETED event carries).
    Remove(Value),
}

/// What a write did.
#[derive(Debug, Clone)]
pub enum Written {
    Unchanged(Arc<Value>),
    Created(Arc<Value>),
    Updated(Arc<Value>),
    Removed(Arc<Value>),
}

impl Written {
    pub fn object(&self) -> &Arc<Value> {
        match self {
            Written::Unchanged(o)
            | Written::Created(o)
            | Written::Updated(o)
            | Written::Removed(o) => o,
        }
    }
}

/// A consistent start for a watch: the events to replay, and the live feed after them.
pub struct Subscription {
    pub replay: Vec<Arc<Record>>,
    pub feed: broadcast::Receiver<Arc<Record>>,
    /// The resourceVersion the watch starts at.
    pub rv: u64,
}

/// The requested resourceVersion is older than the kept history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (events, _) = broadcast::channel(history_limit.max(1024));
        Self {
            inner: Mutex::new(Inner {
                rv: 1,
                tables: HashMap::new(),
                history: HashMap::new(),
                history_limit: history_limit.max(1),
            }),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (writes are single inserts).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, key: &StorageKey, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let inner = self.lock();
        inner
            .tables
            .get(key)?
            .get(&(namespace.to_string(), name.to_string()))
            .map(Doc::decode)
    }

    /// Objects of a resource (in one namespace, or all), sorted by namespace then name, from
    /// `after` (exclusive) on; and the resourceVersion of the read.
    pub fn list(
        &self,
        key: &StorageKey,
        namespace: Option<&str>,
        after: Option<&ObjectKey>,
    ) -> (Vec<Arc<Value>>, u64) {
        let (docs, rv, _) = self.list_with_last_change(key, namespace, after);
        (docs, rv)
    }

    /// Like [`Store::list`], with the resourceVersion of the last change to the resource (its
    /// state has been the same since): what an exact read at an older resourceVersion needs.
    pub fn list_with_last_change(
        &self,
        key: &StorageKey,
        namespace: Option<&str>,
        after: Option<&ObjectKey>,
    ) -> (Vec<Arc<Value>>, u64, u64) {
        let (docs, rv, changed) = {
            let inner = self.lock();
            let changed = inner
                .history
                .get(key)
                .map(|h| h.events.back().map_or(h.compacted, |e| e.rv))
                .unwrap_or(0);
            let docs = inner
                .tables
                .get(key)
                .map(|t| Self::range(t, namespace, after))
                .unwrap_or_default();
            (docs, inner.rv, changed)
        };
        (docs.iter().map(Doc::decode).collect(), rv, changed)
    }

    fn range(table: &Table, namespace: Option<&str>, after: Option<&ObjectKey>) -> Vec<Doc> {
        match (namespace, after) {
            (Some(ns), after) => {
                let start = match after {
                    Some(a) => std::ops::Bound::Excluded(a.clone()),
                    None => std::ops::Bound::Included((ns.to_string(), String::new())),
                };
                table
                    .range((start, std::ops::Bound::Unbounded))
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect()
            }
            (None, Some(a)) => table
                .range((
                    std::ops::Bound::Excluded(a.clone()),
                    std::ops::Bound::Unbounded,
                ))
                .map(|(_, v)| v.clone())
                .collect(),
            (None, None) => table.values().cloned().collect(),
        }
    }

    /// Every stored object, with its resource (for garbage collection and namespace cleanup).
    pub fn all(&self) -> Vec<(StorageKey, Arc<Value>)> {
        let docs: Vec<(StorageKey, Doc)> = {
            let inner = self.lock();
            inner
                .tables
                .iter()
                .flat_map(|(k, t)| t.values().map(move |v| (k.clone(), v.clone())))
                .collect()
        };
        docs.into_iter().map(|(k, d)| (k, d.decode())).collect()
    }

    /// Bytes of stored object text (what the objects themselves cost).
    pub fn bytes(&self) -> usize {
        self.lock()
            .tables
            .values()
            .flat_map(|t| t.values())
            .map(Doc::size)
            .sum()
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.lock().tables.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Read-modify-write of one object. `f` sees the current version (None if absent) and
    /// decides; it may fail, and then nothing is written. The new version gets the next
    /// resourceVersion, stamped into `metadata.resourceVersion`.
    pub fn write<E>(
        &self,
        key: &StorageKey,
        namespace: &str,
        name: &str,
        f: impl FnOnce(Option<&Arc<Value>>) -> Result<Change, E>,
    ) -> Result<Written, E> {
        let mut inner = self.lock();
        let okey = (namespace.to_string(), name.to_string());
        let current_doc = inner.tables.get(key).and_then(|t| t.get(&okey)).cloned();
        let current = current_doc.as_ref().map(Doc::decode);
        let change = f(current.as_ref())?;
        let written = match change {
            Change::Keep => match current {
                Some(c) => Written::Unchanged(c),
                None => return Ok(Written::Unchanged(Arc::new(Value::Null))),
            },
            Change::Put(mut obj) => {
                inner.rv += 1;
                let rv = inner.rv;
                stamp_rv(&mut obj, rv);
                let doc = Doc::encode(&obj);
                let obj = Arc::new(obj);
                inner
                    .tables
                    .entry(key.clone())
                    .or_default()
                    .insert(okey, doc.clone());
                let kind = if current.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                self.publish(&mut inner, kind, key, doc, current_doc, rv);
                if current.is_some() {
                    Written::Updated(obj)
                } else {
                    Written::Created(obj)
                }
            }
            Change::Remove(mut last) => {
                if current.is_none() {
                    return Ok(Written::Unchanged(Arc::new(Value::Null)));
                }
                inner.rv += 1;
                let rv = inner.rv;
                stamp_rv(&mut last, rv);
                let doc = Doc::encode(&last);
                let last = Arc::new(last);
                if let Some(t) = inner.tables.get_mut(key) {
                    t.remove(&okey);
                }
                self.publish(&mut inner, EventType::Deleted, key, doc, current_doc, rv);
                Written::Removed(last)
            }
        };
        Ok(written)
    }

    /// Drops a whole resource (a deleted CRD's objects), with a DELETED event for each.
    pub fn drop_resource(&self, key: &StorageKey) -> usize {
        let mut inner = self.lock();
        let Some(table) = inner.tables.remove(key) else {
            return 0;
        };
        let n = table.len();
        for (_, doc) in table {
            inner.rv += 1;
            let rv = inner.rv;
            let mut last = (*doc.decode()).clone();
            stamp_rv(&mut last, rv);
            self.publish(
                &mut inner,
                EventType::Deleted,
                key,
                Doc::encode(&last),
                Some(doc),
                rv,
            );
        }
        n
    }

    fn publish(
        &self,
        inner: &mut Inner,
        kind: EventType,
        key: &StorageKey,
        object: Doc,
        prev: Option<Doc>,
        rv: u64,
    ) {
        let event = Arc::new(Record {
            kind,
            key: key.clone(),
            object,
            prev,
            rv,
        });
        let limit = inner.history_limit;
        let history = inner.history.entry(key.clone()).or_insert_with(|| History {
            events: VecDeque::new(),
            compacted: 1,
        });
        history.events.push_back(event.clone());
        while history.events.len() > limit {
            if let Some(old) = history.events.pop_front() {
                history.compacted = old.rv;
            }
        }
        // No receivers is fine.
        let _ = self.events.send(event);
    }

    /// Starts a feed of every change after `from` (the type's history replayed, then live), or
    /// fails if `from` is older than the type's kept history.
    pub fn subscribe_from(&self, key: &StorageKey, from: u64) -> Result<Subscription, TooOld> {
        let inner = self.lock();
        let (replay, compacted) = match inner.history.get(key) {
            Some(h) => (
                h.events.iter().filter(|e| e.rv > from).cloned().collect(),
                h.compacted,
            ),
            None => (Vec::new(), 1),
        };
        if from < compacted {
            return Err(TooOld {
                requested: from,
                oldest: compacted,
            });
        }
        Ok(Subscription {
            replay,
            feed: self.events.subscribe(),
            rv: from.max(compacted),
        })
    }

    /// Starts a feed at the current state: the objects of `key` now (optionally in one
    /// namespace) and every change after.
    pub fn subscribe_now(
        &self,
        key: &StorageKey,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, Subscription) {
        let inner = self.lock();
        let docs: Vec<Doc> = inner
            .tables
            .get(key)
            .map(|t| {
                t.iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default();
        let sub = Subscription {
            replay: Vec::new(),
            feed: self.events.subscribe(),
            rv: inner.rv,
        };
        drop(inner);
        (docs.iter().map(Doc::decode).collect(), sub)
    }

    /// A feed of every change from now on (for the cluster's controllers).
    pub fn feed(&self) -> broadcast::Receiver<Arc<Record>> {
        self.events.subscribe()
    }
}

fn stamp_rv(obj: &mut Value, rv: u64) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> StorageKey {
        StorageKey {
            group: String::new(),
            plural: "configmaps".into(),
        }
    }

    fn put(store: &Store, ns: &str, name: &str) -> Written {
        store
            .write::<()>(&key(), ns, name, |_| {
                Ok(Change::Put(
                    json!({"metadata": {"name": name, "namespace": ns}}),
                ))
            })
            .unwrap()
    }

    #[test]
    fn writes_bump_the_version_and_list_in_key_order() {
        let s = Store::new(100);
        put(&s, "b", "x");
        put(&s, "a", "y");
        let w = put(&s, "a", "x");
        assert_eq!(w.object()["metadata"]["resourceVersion"], "4");
        let (items, rv) = s.list(&key(), None, None);
        let names: Vec<_> = items
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(names, ["a/x", "a/y", "b/x"]);
        assert_eq!(rv, 4);
        let (items, _) = s.list(&key(), Some("a"), Some(&("a".into(), "x".into())));
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn keep_writes_nothing() {
        let s = Store::new(100);
        put(&s, "a", "x");
        let w = s
            .write::<()>(&key(), "a", "x", |_| Ok(Change::Keep))
            .unwrap();
        assert!(matches!(w, Written::Unchanged(_)));
        assert_eq!(s.rv(), 2);
    }

    #[test]
    fn history_is_bounded_and_old_versions_are_gone() {
        let s = Store::new(3);
        for i in 0..10 {
            put(&s, "a", &format!("o{i}"));
        }
        assert!(s.subscribe_from(&key(), 2).is_err());
        let sub = s.subscribe_from(&key(), 8).unwrap();
        assert_eq!(
            sub.replay.iter().map(|e| e.rv).collect::<Vec<_>>(),
            [9, 10, 11]
        );
    }
}
