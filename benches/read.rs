//! What the read side costs as the monitor grows: `all_tool_stats()` (what
//! `/stats` and the dashboard read), `render_prometheus()`, and a real
//! `GET /metrics` against the library's own `MetricsServer` over a loopback
//! TCP connection (kept alive, as Prometheus keeps it), for 10, 1 000 and
//! 10 000 tools recorded from 1, 8 and 64 threads (issue #18, "Also measure
//! how cost grows"). See BENCHMARKS.md, "How the read side grows".
//!
//! Each configuration gets a fresh monitor with a shard per recording
//! thread (`shards(64)`, the default of a 16-CPU machine) and a
//! `ManualClock`, so that every tool's calls have the same spread of
//! durations on every run: each recording thread makes eight calls to every
//! tool through `create_execution_context`, taking 0.3 ms to 38.4 ms (eight
//! octaves), one of them a failure with a message of its own. The recording
//! threads are a pool that lives for the whole run, so each keeps the
//! thread slot (and so the shard) it first took: the read side merges
//! `threads` shards per tool.
//!
//! ```sh
//! cargo bench --bench read
//! cargo bench --bench read -- --warm-up-time 1 --measurement-time 3
//! cargo bench --bench read -- 1000x    # one size only
//! ```
#![allow(missing_docs)] // criterion generates undocumented items
#![allow(clippy::unwrap_used)] // a benchmark: setup failures may panic

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use monitor_core::{
    ErrorCategory, ExecutionStatus, HttpConfig, ManualClock, MetricsServer, ToolExecutionMonitor,
};

const TOOLS: [usize; 3] = [10, 1_000, 10_000];
const THREADS: [usize; 3] = [1, 8, 64];
/// Calls per recording thread per tool; one of them fails.
const ROUNDS: usize = 8;

type Job = Box<dyn FnOnce() + Send>;

/// Recording threads that live as long as the benchmark, so that each one
/// keeps its thread slot: thread `t` of every configuration writes to the
/// same shard index, and no configuration's threads wait for the previous
/// one's slots to be freed.
struct Pool {
    workers: Vec<mpsc::Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize) -> Self {
        let (workers, handles) = (0..threads)
            .map(|t| {
                let (tx, rx) = mpsc::channel::<Job>();
                let handle = std::thread::Builder::new()
                    .name(format!("recorder-{t}"))
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    })
                    .unwrap();
                (tx, handle)
            })
            .unzip();
        Self { workers, handles }
    }

    /// Runs `job(t)` on the first `threads` workers at once and waits for all.
    fn run(&self, threads: usize, job: impl Fn(usize) + Send + Sync + 'static) {
        let job = Arc::new(job);
        let (done, finished) = mpsc::channel();
        for (t, worker) in self.workers.iter().take(threads).enumerate() {
            let job = Arc::clone(&job);
            let done = done.clone();
            worker
                .send(Box::new(move || {
                    job(t);
                    done.send(()).unwrap();
                }))
                .unwrap();
        }
        for _ in 0..threads {
            finished.recv().unwrap();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.workers.clear();
        for handle in self.handles.drain(..) {
            handle.join().unwrap();
        }
    }
}

/// The status a failure of `category` is recorded with.
fn status_of(category: ErrorCategory) -> ExecutionStatus {
    match category {
        ErrorCategory::TimeoutError => ExecutionStatus::Timeout,
        ErrorCategory::ValidationError => ExecutionStatus::ValidationFailed,
        ErrorCategory::SecurityError => ExecutionStatus::SecurityViolation,
        _ => ExecutionStatus::Error,
    }
}

/// A fresh monitor with `ROUNDS` calls to each of `tools` tools from each
/// of `threads` pool threads.
fn populated(pool: &Pool, tools: usize, threads: usize) -> Arc<ToolExecutionMonitor> {
    // Ending at about now, so the 7-day trend sees today and yesterday.
    let clock = ManualClock::new(chrono::Utc::now() - chrono::TimeDelta::hours(12));
    let monitor = ToolExecutionMonitor::builder()
        .shards(64)
        .max_tools(tools)
        .clock(clock.clone())
        .build_shared();
    let names: Arc<Vec<String>> = Arc::new((0..tools).map(|i| format!("tool-{i:05}")).collect());
    let target = Arc::clone(&monitor);
    pool.run(threads, move |t| {
        for round in 0..ROUNDS {
            for (i, name) in names.iter().enumerate() {
                let mut call = target.create_execution_context(name);
                call.set_input_size(64 + (i % 512) as u64);
                clock.advance(Duration::from_micros(300 << ((i + round) % ROUNDS)));
                if round == (i + t) % ROUNDS {
                    let category = ErrorCategory::ALL[(i + t) % ErrorCategory::ALL.len()];
                    call.finish_classified(
                        status_of(category),
                        category,
                        format!("{name}: call {round} of thread {t} failed: upstream refused"),
                    );
                } else {
                    call.set_output_size(256 + (round * i % 4096) as u64);
                    call.finish_success();
                }
            }
        }
    });
    monitor
}

/// One keep-alive HTTP/1.1 connection to the server, reconnecting if the
/// server closed it.
struct Scraper {
    addr: SocketAddr,
    connection: Option<BufReader<TcpStream>>,
    line: String,
    body: Vec<u8>,
}

impl Scraper {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            connection: None,
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// `GET /metrics`, the whole response read; the body's length.
    fn scrape(&mut self) -> usize {
        self.try_scrape().unwrap_or_else(|_| {
            self.connection = None;
            self.try_scrape().unwrap()
        })
    }

    fn try_scrape(&mut self) -> std::io::Result<usize> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        let connection = self.connection.as_mut().unwrap();
        connection
            .get_mut()
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        let mut length = None;
        let mut first = true;
        loop {
            self.line.clear();
            if connection.read_line(&mut self.line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = self.line.trim_end();
            if first {
                assert!(line.starts_with("HTTP/1.1 200"), "{line}");
                first = false;
            } else if line.is_empty() {
                break;
            } else if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().unwrap());
                }
            }
        }
        let length = length.expect("a Content-Length header");
        self.body.resize(length, 0);
        connection.read_exact(&mut self.body)?;
        Ok(length)
    }
}

fn read_side(c: &mut Criterion) {
    let pool = Pool::new(THREADS[THREADS.len() - 1]);
    // The server's own thread: the bench's thread is the client.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("read");
    group.sample_size(10);
    for tools in TOOLS {
        for threads in THREADS {
            let start = Instant::now();
            let monitor = populated(&pool, tools, threads);
            let setup = start.elapsed();
            let stats = monitor.all_tool_stats();
            assert_eq!(stats.len(), tools);
            let per_tool = (threads * ROUNDS) as u64;
            assert!(stats.values().all(|s| s.total_executions == per_tool));
            drop(stats);

            let config = HttpConfig::default()
                .addr("127.0.0.1:0".parse().unwrap())
                .connection_lifetime(Duration::from_secs(3600));
            let server = runtime
                .block_on(MetricsServer::bind(Arc::clone(&monitor), config))
                .unwrap();
            let mut scraper = Scraper::new(server.local_addr());
            let text = monitor.render_prometheus();
            assert_eq!(scraper.scrape(), text.len());
            eprintln!(
                "read/{tools}x{threads}: setup {setup:.2?}, /metrics body {} bytes",
                text.len()
            );
            drop(text);

            // Past ~1 ms per read, a fixed number of iterations per sample
            // keeps a run short.
            group.sampling_mode(if tools * threads >= 8_000 {
                SamplingMode::Flat
            } else {
                SamplingMode::Auto
            });
            let id = format!("{tools}x{threads}");
            group.bench_function(BenchmarkId::new("all_tool_stats", &id), |b| {
                b.iter(|| black_box(monitor.all_tool_stats()));
            });
            group.bench_function(BenchmarkId::new("render_prometheus", &id), |b| {
                b.iter(|| black_box(monitor.render_prometheus()));
            });
            group.bench_function(BenchmarkId::new("metrics_http", &id), |b| {
                b.iter(|| black_box(scraper.scrape()));
            });
            // Closed first, so the shutdown has no open connection to wait for.
            drop(scraper);
            runtime.block_on(server.shutdown());
        }
    }
    group.finish();
}

criterion_group!(benches, read_side);
criterion_main!(benches);
