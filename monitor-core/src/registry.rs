//! Tool name -> per-tool state, read-mostly; and the per-call-site cache
//! that lets `#[monitored_tool]` skip the name lookup on every call.

use std::any::Any;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::shard::{Shard, Totals, Writer};
use crate::sink::SinkNames;
use crate::trend::Trend;

/// Where calls to tools beyond the monitor's maximum distinct tools are
/// counted.
pub const OVERFLOW_TOOL_NAME: &str = "__overflow__";

/// Tool names longer than this many bytes are cut (on a char boundary).
pub const MAX_TOOL_NAME_BYTES: usize = 256;

/// One tool's state: sharded counters and the trend.
#[derive(Debug)]
pub(crate) struct Tool {
    pub(crate) index: u32,
    pub(crate) name: Arc<str>,
    /// One shard per thread slot below the shard count, each written only
    /// by the thread holding that slot; the last one is shared by every
    /// other thread.
    shards: Box<[OnceLock<Box<Shard>>]>,
    /// Bumped by each reset; owned shards of an older epoch count as empty.
    epoch: AtomicU64,
    pub(crate) trend: Trend,
    pub(crate) sink_names: OnceLock<SinkNames>,
    /// What the monitor's sink keeps for this tool (metric handles).
    pub(crate) sink_state: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Tool {
    fn new(index: u32, name: Arc<str>, owned_shards: usize) -> Self {
        Self {
            index,
            name,
            shards: (0..=owned_shards).map(|_| OnceLock::new()).collect(),
            epoch: AtomicU64::new(0),
            trend: Trend::default(),
            sink_names: OnceLock::new(),
            sink_state: OnceLock::new(),
        }
    }

    /// The shard the thread holding `slot` writes to, allocated on its
    /// first use, and how it may write.
    #[inline]
    pub(crate) fn shard(&self, slot: u32) -> (&Shard, Writer) {
        let shared = self.shards.len() - 1;
        let (index, writer) = match usize::try_from(slot) {
            Ok(index) if index < shared => (
                index,
                // Relaxed: a stale epoch only delays clearing by one call,
                // which then counts as concurrent with the reset.
                Writer::Owner {
                    epoch: self.epoch.load(Ordering::Relaxed),
                },
            ),
            _ => (shared, Writer::Shared),
        };
        (self.shards[index].get_or_init(Box::default), writer)
    }

    /// The shards whose counters belong to the current epoch.
    fn live_shards(&self) -> impl Iterator<Item = &Shard> {
        // Acquire: pairs with the Release in `reset`.
        let epoch = self.epoch.load(Ordering::Acquire);
        let shared_index = self.shards.len() - 1;
        self.shards.iter().enumerate().filter_map(move |(i, slot)| {
            let shard = slot.get()?;
            (i == shared_index || shard.in_epoch(epoch)).then_some(shard.as_ref())
        })
    }

    /// The sum of every shard.
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for shard in self.live_shards() {
            shard.add_to(&mut totals);
        }
        totals
    }

    /// Cumulative (executions, successes).
    pub(crate) fn outcome_counts(&self) -> (u64, u64) {
        self.live_shards()
            .map(Shard::outcome_counts)
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    }

    /// Starts a new epoch (owned shards are cleared by their owners) and
    /// clears the shared shard and the trend.
    pub(crate) fn reset(&self) {
        // Release: a reader that sees the new epoch ignores older shards.
        self.epoch.fetch_add(1, Ordering::Release);
        if let Some(shared) = self.shards.last().and_then(OnceLock::get) {
            shared.clear();
        }
        self.trend.reset();
    }
}

/// A handle that `#[monitored_tool]` keeps in a `static` per function, so a
/// tool's name is looked up once per call site and monitor, not per call.
///
/// Not public API: generated code names it through
/// `monitor_core::__private`.
#[derive(Debug)]
pub struct Callsite {
    name: &'static str,
    /// 0 until first use, then a process-unique number.
    id: AtomicU32,
}

static NEXT_CALLSITE: AtomicU32 = AtomicU32::new(1);

impl Callsite {
    /// A call site for the tool `name`.
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            id: AtomicU32::new(0),
        }
    }

    #[inline]
    fn id(&self) -> u32 {
        // Relaxed: the id is only a number; nothing is published with it.
        match self.id.load(Ordering::Relaxed) {
            0 => {
                let fresh = NEXT_CALLSITE.fetch_add(1, Ordering::Relaxed);
                match self
                    .id
                    .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => fresh,
                    Err(winner) => winner,
                }
            }
            id => id,
        }
    }
}

const SITES_PER_CHUNK: usize = 64;
/// Call sites beyond 64 × 1024 fall back to a lookup by name on each call.
const SITE_CHUNKS: usize = 1024;

/// The tools of 64 consecutive call-site ids, filled on first use.
type SiteChunk = [OnceLock<Arc<Tool>>; SITES_PER_CHUNK];

/// A tool borrowed from the call-site cache, or looked up by name.
#[derive(Debug)]
pub(crate) enum ToolRef<'a> {
    Cached(&'a Arc<Tool>),
    Owned(Arc<Tool>),
}

impl Deref for ToolRef<'_> {
    type Target = Arc<Tool>;

    fn deref(&self) -> &Arc<Tool> {
        match self {
            Self::Cached(tool) => tool,
            Self::Owned(tool) => tool,
        }
    }
}

#[derive(Debug, Default)]
struct Names {
    by_name: HashMap<Arc<str>, Arc<Tool>>,
    by_index: Vec<Arc<Tool>>,
    /// Distinct tools registered, not counting the overflow entry.
    distinct: usize,
}

/// Every tool a monitor has seen.
#[derive(Debug)]
pub(crate) struct Registry {
    shard_count: usize,
    max_tools: usize,
    names: RwLock<Names>,
    sites: Box<[OnceLock<Box<SiteChunk>>]>,
}

impl Registry {
    pub(crate) fn new(shard_count: usize, max_tools: usize) -> Self {
        Self {
            shard_count,
            max_tools,
            names: RwLock::new(Names::default()),
            sites: (0..SITE_CHUNKS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The tool of a call site: two loads after the site's first call.
    #[inline]
    pub(crate) fn for_site(&self, site: &Callsite) -> ToolRef<'_> {
        let id = site.id() as usize;
        let Some(chunk) = self.sites.get(id / SITES_PER_CHUNK) else {
            return ToolRef::Owned(self.lookup(site.name));
        };
        let chunk = chunk.get_or_init(|| Box::new([const { OnceLock::new() }; SITES_PER_CHUNK]));
        ToolRef::Cached(chunk[id % SITES_PER_CHUNK].get_or_init(|| self.lookup(site.name)))
    }

    /// The tool named `name`, registered on first use. Past the maximum of
    /// distinct tools, the overflow entry.
    pub(crate) fn lookup(&self, name: &str) -> Arc<Tool> {
        let name = truncate_name(name);
        {
            let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(tool) = names.by_name.get(name) {
                return Arc::clone(tool);
            }
        }
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(tool) = names.by_name.get(name) {
            return Arc::clone(tool);
        }
        let name = if names.distinct >= self.max_tools {
            if let Some(tool) = names.by_name.get(OVERFLOW_TOOL_NAME) {
                return Arc::clone(tool);
            }
            OVERFLOW_TOOL_NAME
        } else {
            names.distinct += 1;
            name
        };
        let index = u32::try_from(names.by_index.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        let tool = Arc::new(Tool::new(index, Arc::clone(&name), self.shard_count));
        names.by_index.push(Arc::clone(&tool));
        names.by_name.insert(name, Arc::clone(&tool));
        tool
    }

    /// The tool named `name`, if it was ever registered.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Tool>> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        names.by_name.get(truncate_name(name)).cloned()
    }

    /// Every registered tool, in registration order.
    pub(crate) fn all(&self) -> Vec<Arc<Tool>> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        names.by_index.clone()
    }

    /// Panics while holding the write lock (for tests of poisoning).
    pub(crate) fn poison(&self) {
        let _names = self.names.write();
        panic!("poisoning the registry's lock on purpose");
    }

    /// Names by tool index, for turning records into metrics.
    pub(crate) fn names(&self) -> Vec<Arc<str>> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        names.by_index.iter().map(|t| Arc::clone(&t.name)).collect()
    }
}

fn truncate_name(name: &str) -> &str {
    if name.len() <= MAX_TOOL_NAME_BYTES {
        return name;
    }
    let mut end = MAX_TOOL_NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_maximum_share_the_overflow_entry() {
        let registry = Registry::new(4, 2);
        let a = registry.lookup("a");
        assert_eq!(registry.lookup("a").index, a.index);
        registry.lookup("b");
        let c = registry.lookup("c");
        let d = registry.lookup("d");
        assert_eq!(&*c.name, OVERFLOW_TOOL_NAME);
        assert_eq!(c.index, d.index);
        assert!(registry.get("c").is_none());
        assert_eq!(registry.all().len(), 3);
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let long = "é".repeat(200);
        let cut = truncate_name(&long);
        assert!(cut.len() <= MAX_TOOL_NAME_BYTES && cut.len() >= MAX_TOOL_NAME_BYTES - 1);
        let registry = Registry::new(1, 10);
        assert_eq!(registry.lookup(&long).index, registry.lookup(cut).index);
    }

    #[test]
    fn call_sites_resolve_once_per_registry() {
        static SITE: Callsite = Callsite::new("site");
        let registry = Registry::new(2, 10);
        let first = registry.for_site(&SITE).index;
        assert!(matches!(registry.for_site(&SITE), ToolRef::Cached(_)));
        assert_eq!(registry.for_site(&SITE).index, first);
        assert_eq!(registry.lookup("site").index, first);
    }
}
