use monitor_core::monitored_tool;

#[monitored_tool]
fn serve(port: u16) -> ! {
    panic!("port {port}")
}

fn main() {}
