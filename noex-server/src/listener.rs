//! The listener's process: it serves HTTP and WebSocket upgrades on the server's
//! socket. Killed, it is restarted on the same socket (the server keeps it open), so
//! clients connected meanwhile are refused, never lost to another program.

use std::net::TcpListener;
use std::sync::{Arc, Weak};

use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Reply};
use tokio::task::AbortHandle;

use crate::http;
use crate::server::Gateway;

pub(crate) struct Listener {
    gateway: Arc<Gateway>,
    socket: Weak<TcpListener>,
    serving: Option<AbortHandle>,
}

impl Listener {
    pub(crate) fn new(gateway: Arc<Gateway>, socket: Weak<TcpListener>) -> Listener {
        Listener {
            gateway,
            socket,
            serving: None,
        }
    }
}

impl GenServer for Listener {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        let socket = self.socket.upgrade().ok_or("the server has stopped")?;
        let socket = tokio::net::TcpListener::from_std(socket.try_clone()?)?;
        let router = http::router(self.gateway.clone());
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(error) = axum::serve(socket, service).await {
                tracing::warn!(%error, "noex-server: the listener stopped");
            }
        });
        self.serving = Some(task.abort_handle());
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    fn format_status(&self) -> Option<String> {
        Some(format!("listening on {}", self.gateway.local_addr))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
    }
}
