//! `#[monitored_tool]` on methods: every receiver kind, inherent and trait
//! impls, `async fn` in trait impls and `#[async_trait]`.

mod common;

use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use common::{debug_len, last, only};
use monitor_core::{ExecutionStatus, ToolExecutionMonitor, monitored_tool};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug, Default)]
struct Counter {
    count: u32,
    name: String,
}

impl Counter {
    #[monitored_tool(monitor = MONITOR)]
    fn by_ref(&self, add: u32) -> u32 {
        self.count + add
    }

    #[monitored_tool(monitor = MONITOR)]
    fn by_mut(&mut self, add: u32) -> u32 {
        self.count += add;
        self.count
    }

    /// Returns a reference reborrowed from `&mut self`: the body's closure
    /// must be `FnOnce` for this to compile.
    #[monitored_tool(monitor = MONITOR)]
    fn name_mut(&mut self, suffix: &str) -> &mut String {
        self.name.push_str(suffix);
        &mut self.name
    }

    #[monitored_tool(monitor = MONITOR)]
    fn first<'a>(&'a self, names: &'a [String]) -> Option<&'a String> {
        names.first().or(Some(&self.name))
    }

    #[monitored_tool(monitor = MONITOR)]
    fn by_value(self) -> u32 {
        self.count
    }

    #[monitored_tool(monitor = MONITOR)]
    fn by_mut_value(mut self, add: u32) -> Self {
        self.count += add;
        self
    }

    #[monitored_tool(monitor = MONITOR)]
    fn boxed(self: Box<Self>) -> u32 {
        self.count
    }

    #[monitored_tool(monitor = MONITOR)]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        let this = self.get_mut();
        this.count += 1;
        this.count
    }

    #[monitored_tool(monitor = MONITOR)]
    fn shared(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }

    #[monitored_tool(monitor = MONITOR)]
    async fn async_by_mut(&mut self, add: u32) -> &mut u32 {
        tokio::task::yield_now().await;
        self.count += add;
        &mut self.count
    }
}

#[test]
fn every_receiver_kind_works_and_self_is_not_measured() {
    let mut counter = Counter {
        count: 1,
        name: "c".to_owned(),
    };
    assert_eq!(counter.by_ref(2), 3);
    assert_eq!(only(&MONITOR, "by-ref").input_size_bytes, debug_len(&2u32));
    assert_eq!(counter.by_mut(2), 3);
    counter.name_mut("x").push('y');
    assert_eq!(counter.name, "cxy");
    let record = only(&MONITOR, "name-mut");
    assert_eq!(record.input_size_bytes, debug_len("x"));
    assert_eq!(record.output_size_bytes, debug_len("cx"));
    let names = vec!["a".to_owned()];
    assert_eq!(counter.first(&names), Some(&names[0]));
    assert_eq!(only(&MONITOR, "first").input_size_bytes, debug_len(&names));

    let counter = counter.by_mut_value(1);
    assert_eq!(counter.count, 4);
    assert_eq!(
        Box::new(Counter {
            count: 5,
            ..Counter::default()
        })
        .boxed(),
        5
    );
    let mut pinned = Counter::default();
    assert_eq!(Pin::new(&mut pinned).pinned(), 1);
    assert_eq!(Arc::new(Counter::default()).shared(), 1);
    assert_eq!(counter.by_value(), 4);
    for tool in [
        "by-mut",
        "by-mut-value",
        "boxed",
        "pinned",
        "shared",
        "by-value",
    ] {
        assert_eq!(
            only(&MONITOR, tool).status,
            ExecutionStatus::Success,
            "{tool}"
        );
    }
    assert_eq!(only(&MONITOR, "boxed").input_size_bytes, 0);
}

#[tokio::test]
async fn async_methods_can_return_borrows_of_self() {
    let mut counter = Counter::default();
    *counter.async_by_mut(2).await += 10;
    assert_eq!(counter.count, 12);
    let record = last(&MONITOR, "async-by-mut");
    assert_eq!(record.input_size_bytes, debug_len(&2u32));
    assert_eq!(record.output_size_bytes, debug_len(&2u32));
}

trait Tool {
    fn call(&self, input: &str) -> Result<usize, std::num::ParseIntError>;
    fn with_default(&self, x: u8) -> u8 {
        x
    }
    async fn call_async(&self, input: String) -> String;
}

struct Parser;

impl Tool for Parser {
    #[monitored_tool(monitor = MONITOR, name = "trait-call")]
    fn call(&self, input: &str) -> Result<usize, std::num::ParseIntError> {
        input.parse()
    }

    #[monitored_tool(monitor = MONITOR, name = "trait-async")]
    async fn call_async(&self, input: String) -> String {
        input.to_uppercase()
    }
}

trait Defaulted {
    #[monitored_tool(monitor = MONITOR, name = "trait-default")]
    fn with_default(&self, x: u8) -> u8 {
        x + 1
    }
}

impl Defaulted for Parser {}

#[tokio::test]
async fn trait_impls_and_default_methods_work() {
    assert_eq!(Parser.call("12"), Ok(12));
    assert!(Parser.call("x").is_err());
    let records = common::records(&MONITOR, "trait-call");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].status, ExecutionStatus::Success);
    assert_eq!(records[1].status, ExecutionStatus::Error);
    assert_eq!(
        records[1].error_message.as_deref(),
        Some("invalid digit found in string")
    );
    assert_eq!(Parser.call_async("ab".to_owned()).await, "AB");
    assert_eq!(
        only(&MONITOR, "trait-async").output_size_bytes,
        debug_len("AB")
    );
    assert_eq!(Defaulted::with_default(&Parser, 1), 2);
    assert_eq!(Tool::with_default(&Parser, 1), 1);
    assert_eq!(only(&MONITOR, "trait-default").output_size_bytes, 1);
}

#[async_trait::async_trait]
trait AsyncTool {
    async fn run(&self, query: String) -> anyhow::Result<usize>;

    async fn pair(&self, pair: (String, u8)) -> usize;

    #[monitored_tool(monitor = MONITOR, name = "async-trait-default")]
    async fn run_default(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        n
    }
}

struct Search {
    hits: usize,
}

#[async_trait::async_trait]
impl AsyncTool for Search {
    #[monitored_tool(monitor = MONITOR, name = "async-trait-run")]
    async fn run(&self, query: String) -> anyhow::Result<usize> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if query.is_empty() {
            anyhow::bail!("empty user query");
        }
        Ok(self.hits + query.len())
    }

    /// `#[async_trait]` renames the pattern argument (to `__arg1`) before
    /// this attribute sees it; it is still measured as the whole tuple.
    #[monitored_tool(monitor = MONITOR, name = "async-trait-pair")]
    async fn pair(&self, (text, n): (String, u8)) -> usize {
        text.len() + usize::from(n) + self.hits
    }
}

#[tokio::test]
async fn async_trait_methods_time_the_future_not_its_creation() {
    let search = Search { hits: 1 };
    let future = search.run("abc".to_owned());
    // Created but not polled: nothing recorded yet.
    assert!(common::records(&MONITOR, "async-trait-run").is_empty());
    assert_eq!(future.await.unwrap(), 4);
    let record = only(&MONITOR, "async-trait-run");
    assert!(record.duration_ms.unwrap() >= 15.0, "{record:?}");
    assert_eq!(record.input_size_bytes, debug_len("abc"));
    assert_eq!(record.output_size_bytes, debug_len(&4usize));

    assert_eq!(search.pair(("ab".to_owned(), 3)).await, 6);
    assert_eq!(
        only(&MONITOR, "async-trait-pair").input_size_bytes,
        debug_len(&("ab", 3u8))
    );
    assert_eq!(search.run_default(3).await, 3);
    assert_eq!(only(&MONITOR, "async-trait-default").output_size_bytes, 1);
    let error = search.run(String::new()).await.unwrap_err();
    assert_eq!(error.to_string(), "empty user query");
    let record = last(&MONITOR, "async-trait-run");
    assert_eq!(record.status, ExecutionStatus::Error);
    assert_eq!(
        record.error_category,
        Some(monitor_core::ErrorCategory::UserInput)
    );
}
