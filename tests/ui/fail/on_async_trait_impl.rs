use monitor_core::monitored_tool;

#[async_trait::async_trait]
trait Tool {
    async fn call(&self, input: u32) -> u32;
}

struct Double;

#[monitored_tool]
#[async_trait::async_trait]
impl Tool for Double {
    async fn call(&self, input: u32) -> u32 {
        input * 2
    }
}

fn main() {}
