#[monitored_tool(name = "agent.step", skip(context), monitor = self.monitor)]
fn step(&mut self, context: &Context, (x, y): (i64, i64)) -> Option<&mut Self> {
    if x == y {
        return None;
    }
    Some(self)
}
