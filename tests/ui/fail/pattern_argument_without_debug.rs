use monitor_core::monitored_tool;

struct Point {
    x: u32,
    y: u32,
}

#[monitored_tool]
fn norm(Point { x, y }: Point) -> u32 {
    x + y
}

fn main() {}
