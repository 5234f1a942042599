//! `collector --addr 127.0.0.1:8787 [flags]`: see `--help`.

use collector::config::{parse_args, Cli, HELP};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(Cli::Run(cfg)) => *cfg,
        Ok(Cli::Help) => {
            print!("{HELP}");
            return;
        }
        Err(e) => {
            eprintln!("collector: {e}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(&cfg.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("collector: cannot listen on {}: {e}", cfg.addr);
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(cfg.addr.clone());
    // Scripts wait for exactly this line; with port 0 it carries the real port.
    println!("collector listening on http://{addr}");
    println!("{}", cfg.keys_line());
    tokio::select! {
        _ = collector::serve(listener, cfg) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
