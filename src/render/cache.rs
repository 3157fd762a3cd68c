//! A bounded, thread-safe cache of renders, keyed by (repository URL, commit SHA, path, render
//! options), so N Applications on one commit and path render once.
//!
//! - **Single flight:** each key has one slot (a `OnceLock`); concurrent lookups of a key being
//!   rendered wait for that render instead of starting their own.
//! - **Errors are cached** for the same key (a broken commit stays broken), except transient
//!   ones ([`RenderError::is_transient`]: timeouts, process start, temp dir), which the next
//!   lookup retries.
//! - **Compact:** a render is kept as compact JSON text, one `Box<str>` per object
//!   ([`Manifests`]), about 1.1× the JSON size instead of the several times more a
//!   `serde_json::Value` tree takes; [`Manifests::objects`] parses them back on demand.
//! - **Bounded** by entries and by bytes, least recently used first out.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use super::RenderError;
use crate::api::application::ApplicationSource;

/// What a render depends on. `options` is the canonical JSON of every source field that
/// changes the result (directory, kustomize, helm, plugin, chart): stored whole, not hashed,
/// so two different option sets can never share an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderKey {
    pub repo_url: Box<str>,
    pub commit_sha: Box<str>,
    pub path: Box<str>,
    pub options: Box<str>,
}

impl RenderKey {
    pub fn new(source: &ApplicationSource, commit_sha: &str) -> Self {
        let options = json!({
            "directory": source.directory,
            "kustomize": source.kustomize,
            "helm": source.helm,
            "plugin": source.plugin,
            "chart": source.chart,
        });
        let path = source.path.as_deref().unwrap_or("").trim();
        let path = path.trim_start_matches("./").trim_end_matches('/');
        RenderKey {
            repo_url: source.repo_url.as_str().into(),
            commit_sha: commit_sha.into(),
            path: if path == "." { "" } else { path }.into(),
            options: options.to_string().into(),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.repo_url.len() + self.commit_sha.len() + self.path.len() + self.options.len()
    }
}

/// The objects of one render, as compact JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifests {
    objects: Box<[Box<str>]>,
}

impl Manifests {
    pub fn from_objects(objects: &[Value]) -> Self {
        Manifests {
            objects: objects
                .iter()
                .map(|o| o.to_string().into_boxed_str())
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The objects, parsed.
    pub fn objects(&self) -> Vec<Value> {
        self.objects
            .iter()
            .map(|json| serde_json::from_str(json).expect("cached manifests are valid JSON"))
            .collect()
    }

    /// The compact JSON text of each object.
    pub fn json(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(|o| &**o)
    }

    /// Heap bytes held: the text plus one fat pointer per object.
    pub fn heap_bytes(&self) -> usize {
        self.objects
            .iter()
            .map(|o| o.len() + std::mem::size_of::<Box<str>>())
            .sum()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RenderCacheConfig {
    pub max_entries: usize,
    /// Approximate heap bytes of keys, manifests and errors together.
    pub max_bytes: usize,
}

impl Default for RenderCacheConfig {
    fn default() -> Self {
        RenderCacheConfig {
            max_entries: 20_000,
            max_bytes: 256 << 20,
        }
    }
}

type Outcome = Result<Arc<Manifests>, RenderError>;

struct Entry {
    slot: Arc<OnceLock<Outcome>>,
    tick: u64,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Arc<RenderKey>, Entry>,
    /// tick of last use → key: the least recently used entry comes first.
    lru: BTreeMap<u64, Arc<RenderKey>>,
    tick: u64,
    bytes: usize,
}

/// Fixed cost counted per entry besides its strings (maps, Arc, slot).
const ENTRY_OVERHEAD: usize = 160;

pub struct RenderCache {
    config: RenderCacheConfig,
    inner: Mutex<Inner>,
    renders: AtomicU64,
    hits: AtomicU64,
}

impl Default for RenderCache {
    fn default() -> Self {
        Self::new(RenderCacheConfig::default())
    }
}

impl RenderCache {
    pub fn new(config: RenderCacheConfig) -> Self {
        RenderCache {
            config,
            inner: Mutex::new(Inner::default()),
            renders: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// The cached outcome of `key`, or `render`'s, run once for all concurrent callers.
    pub fn get_or_render(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Result<Vec<Value>, RenderError>,
    ) -> Outcome {
        let (key, slot) = self.slot(key);
        let mut rendered_here = false;
        let outcome = slot
            .get_or_init(|| {
                rendered_here = true;
                self.renders.fetch_add(1, Ordering::Relaxed);
                render().map(|objects| Arc::new(Manifests::from_objects(&objects)))
            })
            .clone();
        if rendered_here {
            self.settle(&key, &slot, &outcome);
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// Renders `source` at `tree`'s commit through the cache.
    pub fn render(
        &self,
        renderer: &super::Renderer,
        tree: &dyn crate::git::tree::Tree,
        source: &ApplicationSource,
    ) -> Outcome {
        let key = RenderKey::new(source, tree.commit_sha());
        self.get_or_render(key, || renderer.render(tree, source))
    }

    /// How many renders ran (cache misses).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// How many lookups were answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held by the finished entries.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key's slot (new or existing), marked as just used.
    fn slot(&self, key: RenderKey) -> (Arc<RenderKey>, Arc<OnceLock<Outcome>>) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((key, entry)) = inner.entries.get_key_value(&key) {
            let (key, slot, old_tick) = (key.clone(), entry.slot.clone(), entry.tick);
            inner.lru.remove(&old_tick);
            inner.lru.insert(tick, key.clone());
            if let Some(entry) = inner.entries.get_mut(&key) {
                entry.tick = tick;
            }
            return (key, slot);
        }
        let key = Arc::new(key);
        let slot = Arc::new(OnceLock::new());
        inner.entries.insert(
            key.clone(),
            Entry {
                slot: slot.clone(),
                tick,
                bytes: 0,
            },
        );
        inner.lru.insert(tick, key.clone());
        self.evict(&mut inner);
        (key, slot)
    }

    /// After a render: account its size, or drop a transient error so it is retried.
    fn settle(&self, key: &Arc<RenderKey>, slot: &Arc<OnceLock<Outcome>>, outcome: &Outcome) {
        let mut inner = self.lock();
        let current = inner
            .entries
            .get(key)
            .is_some_and(|e| Arc::ptr_eq(&e.slot, slot));
        if !current {
            return; // evicted meanwhile
        }
        if let Err(e) = outcome
            && e.is_transient()
        {
            remove(&mut inner, key);
            return;
        }
        let bytes = ENTRY_OVERHEAD
            + key.heap_bytes()
            + match outcome {
                Ok(manifests) => manifests.heap_bytes(),
                Err(e) => e.to_string().len(),
            };
        if let Some(entry) = inner.entries.get_mut(key) {
            entry.bytes = bytes;
        }
        inner.bytes += bytes;
        self.evict(&mut inner);
    }

    fn evict(&self, inner: &mut Inner) {
        while inner.entries.len() > self.config.max_entries
            || (inner.bytes > self.config.max_bytes && !inner.entries.is_empty())
        {
            let Some((_, oldest)) = inner.lru.pop_first() else {
                break;
            };
            remove(inner, &oldest);
        }
    }
}

fn remove(inner: &mut Inner, key: &RenderKey) {
    if let Some(entry) = inner.entries.remove(key) {
        inner.lru.remove(&entry.tick);
        inner.bytes -= entry.bytes;
    }
}
