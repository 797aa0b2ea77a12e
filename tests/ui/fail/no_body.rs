use monitor_core::monitored_tool;

trait Tool {
    #[monitored_tool]
    fn call(&self, input: u32) -> u32;
}

fn main() {}
