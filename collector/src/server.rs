//! Our own accept loop (instead of `axum::serve`) for one reason: a drop fault must close a
//! connection without answering, which needs a handle on the connection from inside a handler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

/// Per-connection facts handed to every request as an extension.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    dropper: Arc<Notify>,
}

impl ConnInfo {
    /// Asks the connection task to close the socket now, with no response written.
    pub fn drop_connection(&self) {
        // A stored permit: the task sees it even if it is not waiting yet.
        self.dropper.notify_one();
    }
}

/// Accepts connections until the task is dropped. Accept errors (e.g. out of file descriptors)
/// are waited out, never fatal: a test server must not vanish under load.
pub async fn accept_loop(listener: TcpListener, router: Router) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let dropper = Arc::new(Notify::new());
            let info = ConnInfo {
                peer,
                dropper: dropper.clone(),
            };
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(info.clone());
                router.clone().oneshot(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                // Slow or silent clients lose their connection instead of holding a task.
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = dropper.notified() => {}
            }
        });
    }
}
