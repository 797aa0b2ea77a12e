use monitor_core::monitored_tool;

#[monitored_tool]
const fn answer() -> u32 {
    42
}

fn main() {}
