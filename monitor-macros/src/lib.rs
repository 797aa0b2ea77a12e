//! The `#[monitored_tool]` attribute of `monitor-core`.
//!
//! Users depend on `monitor-core` and write `use monitor_core::monitored_tool;`
//! (`monitor_macros::monitored_tool` is the same attribute). The generated
//! code calls `monitor_core::__private`, so the two crates are released in
//! lockstep.

mod attr;
mod expand;
#[cfg(test)]
mod golden;
mod item;
mod rmcp;
mod types;
mod valid;

use proc_macro::TokenStream;

/// Records every call of the annotated function in a `ToolExecutionMonitor`:
/// its duration, status, error category and message, and the sizes of its
/// arguments and result. Nothing else about the function changes.
///
/// ```
/// use monitor_core::{global_monitor, monitored_tool};
///
/// #[monitored_tool]
/// fn search_tool(query: &str, limit: usize) -> Vec<String> {
///     (0..limit).map(|i| format!("{query} #{i}")).collect()
/// }
///
/// assert_eq!(search_tool("rust", 2).len(), 2);
/// let stats = global_monitor().tool_stats("search").expect("one call");
/// assert_eq!(stats.total_executions, 1);
/// assert_eq!(stats.avg_input_size_bytes, ("\"rust\"".len() + "2".len()) as f64);
/// ```
///
/// # What one call records
///
/// - **Tool name**: the function's name with a trailing `_tool` removed and
///   `_` replaced by `-` (`search_tool` → `search`, `get_user_info` →
///   `get-user-info`, `r#type` → `type`), or `name = "…"`. Unlike the Python
///   reference, which removes `_tool` anywhere in the name and so turns
///   `get_tools_list` into `get-s-list`, only a trailing `_tool` is removed.
/// - **Input size**: the sum over the arguments of the UTF-8 byte length of
///   `format!("{:?}", arg)`, counted without allocating. `self` is never
///   measured; a pattern argument (`(a, b): (u32, u32)`) is measured as the
///   whole value. An argument whose type has no `Debug` is a compile error
///   at that argument: leave it out with `skip(name)` or `skip_all`.
///   `skip_all` touches no `Debug` at all: it skips the result too.
/// - **Output size**: the same length for the returned value, or for the
///   `Ok` value of a `Result` (0 for an `Err`). Results are recognised by
///   type, so `io::Result<T>`, `anyhow::Result<T>` and other aliases count.
///   `skip_output` (or `skip_all`) turns it off (and the `Debug`
///   requirement with it).
/// - **Outcome**: a value or `Ok` is a success. An `Err(e)` is classified
///   by type: an error type that implements `monitor_core::ClassifyError`
///   chooses its status and category; `std::io::Error` maps by kind; any
///   other `std::error::Error` (or `anyhow::Error`, `Box<dyn Error>`) by its
///   type name, an `io::Error` in its `source()` chain, then its message; a
///   type with only `Display` or `Debug` by its name and message. The
///   message is the error's `Display` text (its `Debug` text without
///   `Display`), cut to 1 KiB on a char boundary. A generic error type is
///   classified by the bounds it is declared with.
/// - **Panics**: recorded with status `error`, category `SYSTEM_ERROR` and
///   the panic's message; the panic then keeps unwinding with its payload
///   unchanged.
/// - **Duration**: from the start of the call (the first poll for an async
///   call) to the end of the body; measuring the sizes is not counted.
/// - **Cancellation**: an async call whose future is dropped after its
///   first poll and before it finished records one `cancelled` execution; a
///   future that is never polled records nothing.
///
/// The success path allocates nothing and takes no lock: the tool's entry
/// is looked up once per call site and cached in a `static`.
///
/// # Where it applies
///
/// Free functions, inherent and trait-impl methods with any receiver
/// (`self`, `&self`, `&mut self`, `mut self`, `self: Box<Self>`,
/// `self: Pin<&mut Self>`, `self: Arc<Self>`), trait methods with a default
/// body, generics with bounds, `where` clauses, lifetimes and const
/// generics, `impl Trait` arguments and returns, `async fn` (also in trait
/// impls), `unsafe fn`, `extern "C" fn` with a body, and recursion. The
/// signature is re-emitted as written, and every other attribute and doc
/// comment stays in order, so it stacks with other attribute macros.
///
/// Under `#[async_trait]` (put the attribute on the methods of the
/// `#[async_trait]` impl, which expands first) and on any sync function
/// whose body ends in `Box::pin(async move { … })` or `async move { … }`
/// (a hand-written `-> impl Future`; for rmcp's `#[tool]`, see
/// [rmcp tools](#rmcp-tools)), the returned future is instrumented: the
/// call is timed while it runs, not while the future is created.
///
/// ```
/// use monitor_core::{global_monitor, monitored_tool};
///
/// #[async_trait::async_trait]
/// trait Tool {
///     async fn call(&self, input: String) -> Result<usize, std::io::Error>;
/// }
///
/// struct Count;
///
/// #[async_trait::async_trait]
/// impl Tool for Count {
///     #[monitored_tool(name = "count")]
///     async fn call(&self, input: String) -> Result<usize, std::io::Error> {
///         tokio::task::yield_now().await;
///         Ok(input.len())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// assert_eq!(Count.call("abc".to_owned()).await.unwrap(), 3);
/// assert_eq!(global_monitor().tool_stats("count").unwrap().avg_output_size_bytes, 1.0);
/// # });
/// ```
///
/// # rmcp tools
///
/// In a `#[tool_router]` impl of rmcp (the official Rust MCP SDK), put the
/// attribute **above** `#[tool(...)]`:
///
/// ```ignore
/// #[tool_router]
/// impl Server {
///     /// Returns `text` unchanged.
///     #[monitored_tool]
///     #[tool]
///     async fn echo(&self, Parameters(Echo { text }): Parameters<Echo>) -> String {
///         text
///     }
/// }
/// ```
///
/// (Not run here, which would need rmcp; `tests/mcp.rs` and
/// `examples/mcp_server.rs` of the workspace compile and run it, with the
/// `rmcp` feature of `monitor-core`.)
///
/// - `#[tool(...)]` and the doc comments stay as written, so rmcp lists the
///   same tool with the same schema; the tool's async execution is timed.
/// - The tool name is the one MCP clients call: the `name = "…"` of
///   `#[tool]`, else the fn's name exactly as rmcp takes it
///   (`word_count_tool` stays `word_count_tool`), not the `_tool`/hyphen
///   rule above. A `name = "…"` of `#[monitored_tool]` still wins.
/// - **Below** `#[tool]`, the attribute sees the fn `#[tool]` rewrote (it
///   returns `Box::pin(async move { … })`) and no longer sees its name: that
///   is a compile error asking to move the attribute above. Given a
///   `name = "…"`, it instruments the returned future instead. A sync tool
///   is not rewritten, so below `#[tool]` it cannot be told from any other
///   fn, and is named by the rule above.
/// - Arguments of type `RequestContext<_>` and `Peer<_>` (the session, not
///   the tool's input) and `Json<_>` (which has no `Debug`) are not
///   measured, as if in `skip(…)`. `Parameters<T>` is measured by its
///   `Debug`, like any argument (so `T` needs `Debug`, or `skip`).
/// - A result written `Json<T>` or `Result<Json<T>, E>` is measured as the
///   length of `T`'s JSON text (`T: Serialize`): the structured content
///   rmcp sends.
/// - With the `rmcp` feature of `monitor-core`,
///   `Ok(CallToolResult { is_error: Some(true), .. })` is recorded as an
///   error whose message is its first text content, a successful
///   `CallToolResult` is measured as its JSON text, and `Err(ErrorData)` is
///   classified by its JSON-RPC code.
///
/// The macro sees tokens, not types: like rmcp's own macros, it recognises
/// `#[tool]` and these types by the last segment of their path (types with
/// generic arguments), whatever the path before it. An alias such as
/// `type Ctx = RequestContext<RoleServer>` is not recognised, and a type of
/// your own named `Peer<…>` or `Json<…>` is treated as rmcp's.
///
/// # What it expands to
///
/// The body moves into a closure (an `async` block for an `async fn`); the
/// code around it measures, times and records. In order:
///
/// 1. each measured argument's size, before the clock starts: strings,
///    integers and `Vec`s/slices/`Option`s of them without `fmt` (the
///    `Fast` probe, autoref specialization), anything else through `Debug`
///    (`input_len`); `skip(…)` leaves arguments out;
/// 2. `user_id`, `session_id` and `metadata(…)`, then the guard from a
///    `static Callsite` (`start()`, or `start_in(monitor)` with
///    `monitor = …`), which reads the clock, and the sizes handed to it;
/// 3. the body in `catch_unwind_call` with an `FnOnce` closure (so that
///    returning a reborrow of `&mut self` compiles as in the plain
///    function); the unreachable typed `return` keeps `?` and `return` in
///    the body meaning what they meant; the clock stops as the body returns;
/// 4. the outcome, chosen by type: a `Result` or a plain value (`Split`), a
///    value that decides it itself (`Returned`: rmcp's `CallToolResult`),
///    the `Ok` value's size, or the error's classification and message
///    (`Classify`, `Message`); then `finish`, or `finish_panic` and the
///    panic resumed unchanged.
///
/// This is exactly what `#[monitored_tool] fn add(a: u32, b: u32) -> u32 {
/// a + b }` generates, pretty-printed (the crate's golden test keeps this
/// file equal to the macro's output; hygiene aside, it compiles as written,
/// which this example proves):
///
/// ```
#[doc = include_str!("../golden/add.expanded")]
/// assert_eq!(add(2, 3), 5);
/// let record = &monitor_core::global_monitor().recent_executions(Some("add"), 1)[0];
/// assert_eq!((record.input_size_bytes, record.output_size_bytes), (2, 1));
/// ```
///
/// `golden/` in the crate holds more: an `async fn` with a timeout, ids and
/// metadata; a method with a pattern argument, `skip` and `monitor = …`;
/// and the future an `#[async_trait]` method returns.
///
/// An `async fn` gets the same code inside its own body, with the body an
/// `async move { … }` block polled by `catch_unwind_future(…).await`
/// (under `with_deadline(…)` with `timeout`). A parked guard lives in the
/// future (`start_parked()`: 48 bytes, where the whole guard, made by
/// `resume()` once the body is done, is 136), so the clock starts at its
/// first poll and dropping the future mid-way drops the parked guard,
/// which records the cancellation.
///
/// # Arguments
///
/// All are optional, each at most once, separated by commas.
///
/// ## `name = "…"`
///
/// The tool name instead of the one derived from the function's name.
///
/// ```
/// use monitor_core::{global_monitor, monitored_tool};
///
/// #[monitored_tool(name = "web.search")]
/// fn search(query: &str) -> usize {
///     query.len()
/// }
///
/// search("q");
/// assert!(global_monitor().tool_stats("web.search").is_some());
/// ```
///
/// ## `skip(a, b)` and `skip_all`
///
/// Leave arguments out of the input size, and out of the `Debug`
/// requirement. A pattern argument is skipped by naming any binding in it.
/// `skip_all` measures nothing and touches no `Debug` at all: no argument,
/// and not the result either (as `skip_output`). It is the cheapest setting:
/// the call costs two clock reads and a few stores.
///
/// ```
/// use monitor_core::{global_monitor, monitored_tool};
///
/// struct Connection; // no `Debug`
///
/// #[monitored_tool(skip(connection))]
/// fn query(connection: &Connection, sql: &str) -> usize {
///     sql.len()
/// }
///
/// #[monitored_tool(skip_all)]
/// fn ping(connection: &Connection) -> Connection {
///     Connection // no `Debug` needed for the result either
/// }
///
/// query(&Connection, "select 1");
/// ping(&Connection);
/// let monitor = global_monitor();
/// assert_eq!(monitor.tool_stats("query").unwrap().avg_input_size_bytes, 10.0);
/// let ping = monitor.tool_stats("ping").unwrap();
/// assert_eq!((ping.avg_input_size_bytes, ping.avg_output_size_bytes), (0.0, 0.0));
/// ```
///
/// ## `skip_output`
///
/// Leave the result out of the output size (recorded as 0), and out of the
/// `Debug` requirement. Errors are still classified.
///
/// ```
/// use monitor_core::{global_monitor, monitored_tool};
///
/// struct Rows(Vec<u8>); // no `Debug`
///
/// #[monitored_tool(skip_output)]
/// fn load(n: u8) -> Result<Rows, String> {
///     if n == 0 { Err("empty".to_owned()) } else { Ok(Rows(vec![n])) }
/// }
///
/// assert!(load(1).is_ok());
/// assert!(load(0).is_err());
/// let errors = global_monitor().recent_errors(Some("load"), 1);
/// assert_eq!(errors[0].error_message.as_deref(), Some("empty"));
/// ```
///
/// ## `timeout = "5s"`
///
/// Runs the body of an `async fn` under a tokio deadline (`"250ms"`, `"5s"`,
/// `"2m"`, `"1h"`; whole numbers). On expiry the body's future is dropped,
/// the call returns `Err(E::from(monitor_core::TimeoutError))` and records
/// status `timeout` with category `TIMEOUT_ERROR`. The function must return
/// `Result<T, E>` with `E: From<TimeoutError>` (as `anyhow::Error` does),
/// and run on a tokio runtime with time enabled. Needs the `tokio` feature
/// of `monitor-core` (on by default). A sync function cannot be stopped,
/// so `timeout` on one is a compile error.
///
/// ```
/// use std::time::Duration;
/// use monitor_core::{ExecutionStatus, TimeoutError, global_monitor, monitored_tool};
///
/// #[monitored_tool(timeout = "50ms")]
/// async fn fetch(ms: u64) -> Result<u64, TimeoutError> {
///     tokio::time::sleep(Duration::from_millis(ms)).await;
///     Ok(ms)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// assert_eq!(fetch(1).await, Ok(1));
/// let error = fetch(10_000).await.unwrap_err();
/// assert_eq!(error.to_string(), "tool `fetch` timed out after 50ms");
/// let record = &global_monitor().recent_errors(Some("fetch"), 1)[0];
/// assert_eq!(record.status, ExecutionStatus::Timeout);
/// # });
/// ```
///
/// ## `user_id = expr`, `session_id = expr`, `metadata(key = expr, …)`
///
/// Per-call context. The expressions may read the arguments (by reference)
/// and are evaluated before the body runs; ids are converted with
/// `ToString`, metadata values with `serde_json::to_value` (a value that
/// fails to serialize is stored as the error's text). Keys are identifiers
/// or string literals.
///
/// ```
/// use monitor_core::{global_monitor, monitored_tool};
///
/// struct Request {
///     user: String,
///     session: u64,
/// }
///
/// #[monitored_tool(
///     skip(request),
///     user_id = request.user,
///     session_id = request.session,
///     metadata(region = "eu-west", "query-length" = query.len()),
/// )]
/// fn answer(request: &Request, query: String) -> String {
///     query.to_uppercase()
/// }
///
/// let request = Request { user: "ann".to_owned(), session: 7 };
/// answer(&request, "why".to_owned());
/// let record = &global_monitor().recent_executions(Some("answer"), 1)[0];
/// assert_eq!(record.user_id.as_deref(), Some("ann"));
/// assert_eq!(record.session_id.as_deref(), Some("7"));
/// assert_eq!(record.metadata["region"], "eu-west");
/// assert_eq!(record.metadata["query-length"], 3);
/// ```
///
/// ## `monitor = expr`
///
/// Records into another monitor than the global one: an expression of type
/// `ToolExecutionMonitor`, `&ToolExecutionMonitor`,
/// `Arc<ToolExecutionMonitor>`, a `static` `LazyLock<ToolExecutionMonitor>`,
/// or anything else that derefs to one. It is borrowed for the whole call,
/// so it may be a `static`, a field of `&self` or an argument the body does
/// not move. Without it, the call records into the global monitor as it is
/// when the call starts and ends, so `set_global_monitor` takes effect for
/// later calls.
///
/// ```
/// use std::sync::{Arc, LazyLock};
/// use monitor_core::{ToolExecutionMonitor, monitored_tool};
///
/// static TOOLS: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);
///
/// #[monitored_tool(monitor = TOOLS)]
/// fn add(a: i32, b: i32) -> i32 {
///     a + b
/// }
///
/// struct Agent {
///     monitor: Arc<ToolExecutionMonitor>,
/// }
///
/// impl Agent {
///     #[monitored_tool(monitor = self.monitor)]
///     fn step(&self, n: u8) -> u8 {
///         n + 1
///     }
/// }
///
/// add(1, 2);
/// let agent = Agent { monitor: Arc::new(ToolExecutionMonitor::new()) };
/// agent.step(1);
/// assert_eq!(TOOLS.tool_stats("add").unwrap().total_executions, 1);
/// assert_eq!(agent.monitor.tool_stats("step").unwrap().total_executions, 1);
/// ```
///
/// ## `crate = path`
///
/// Where `monitor-core` is, when the dependency is renamed or re-exported.
///
/// ```
/// extern crate monitor_core as telemetry;
///
/// #[telemetry::monitored_tool(crate = telemetry)]
/// fn ping() -> &'static str {
///     "pong"
/// }
///
/// fn main() {
///     assert_eq!(ping(), "pong");
///     assert!(telemetry::global_monitor().tool_stats("ping").is_some());
/// }
/// ```
///
/// # Compile errors
///
/// Each points at the offending token: an item that is not a function; a
/// `const fn`; a function without a body; a function returning `!`; an
/// unknown or duplicate argument (the message lists the valid ones);
/// `skip` of an argument that does not exist, or of `self`; `skip` with
/// `skip_all`; an argument or result without `Debug` (unless skipped);
/// `timeout` on a sync function, on a function that does not return a
/// `Result` whose error converts from `TimeoutError`, or with a duration
/// that does not parse; a `monitor` that is not a monitor; ids without
/// `Display`; metadata without `Serialize`; a `Json<T>` result whose `T`
/// is not `Serialize`; the attribute below rmcp's `#[tool]` without a
/// `name`.
///
/// # Limits
///
/// - A measured pattern argument is bound to a hidden name in the emitted
///   signature and destructured at the top of the body (its value must be
///   measured whole); skip it to keep the pattern in the signature.
/// - Under `#[async_trait]`, pattern arguments reach this attribute already
///   renamed by `#[async_trait]` (`__arg1`, …, by position): they are
///   measured whole, and skipped by that name or with `skip_all`.
/// - `monitor = expr` is borrowed for the whole call, so it cannot borrow
///   from an argument that the body moves, or from `self` in a `&mut self`
///   method whose body uses `self` (use a `static` or an `Arc` there).
/// - `#[track_caller]` on the function does not reach into the body, which
///   runs in a closure.
#[proc_macro_attribute]
pub fn monitored_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand::monitored_tool(args.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        // Keep the user's function so the rest of the crate and the IDE still see it.
        Err(err) => {
            let mut out = item;
            out.extend(err.into_compile_error());
            out.into()
        }
    }
}
