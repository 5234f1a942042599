fn main() {
    println!("collector: not built yet");
}
