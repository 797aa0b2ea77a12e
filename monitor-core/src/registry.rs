//! Tool name -> per-tool state, read-mostly; and the per-call-site cache
//! that lets `#[monitored_tool]` skip the name lookup on every call.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::limits::{MAX_TOOL_NAME_BYTES, OVERFLOW_TOOL_NAME, cut};
use crate::tool::Tool;

/// What the registry knows of a call site: the tool's name and a number,
/// given on first use, that indexes the cache of tools by site. A
/// `Callsite` in a `static` of each instrumented function holds one.
#[derive(Debug)]
pub(crate) struct SiteKey {
    pub(crate) name: &'static str,
    /// 0 until first use, then a process-unique number.
    id: AtomicU32,
}

static NEXT_SITE: AtomicU32 = AtomicU32::new(1);

impl SiteKey {
    pub(crate) const fn new(name: &'static str) -> Self {
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
                let fresh = NEXT_SITE.fetch_add(1, Ordering::Relaxed);
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
    pub(crate) fn for_site(&self, site: &SiteKey) -> ToolRef<'_> {
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
    #[cfg(feature = "test-hooks")]
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
    cut(name, MAX_TOOL_NAME_BYTES)
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
        static SITE: SiteKey = SiteKey::new("site");
        let registry = Registry::new(2, 10);
        let first = registry.for_site(&SITE).index;
        assert!(matches!(registry.for_site(&SITE), ToolRef::Cached(_)));
        assert_eq!(registry.for_site(&SITE).index, first);
        assert_eq!(registry.lookup("site").index, first);
    }
}
