//! The listener's process: it serves HTTP and WebSocket upgrades on the server's
//! socket. Killed, it is restarted on the same socket (the server keeps it open), so
//! clients connected meanwhile are refused, never lost to another program.

use std::sync::Arc;

use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Reply};
use tokio::task::AbortHandle;

use crate::gateway::Gateway;
use crate::http;

pub(crate) struct Listener {
    gateway: Arc<Gateway>,
    serving: Option<AbortHandle>,
}

impl Listener {
    pub(crate) fn new(gateway: Arc<Gateway>) -> Listener {
        Listener {
            gateway,
            serving: None,
        }
    }
}

impl GenServer for Listener {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        let socket = match self.gateway.socket.lock().as_ref() {
            Some(socket) => socket.try_clone()?,
            None => return Err("the server has stopped".into()),
        };
        let socket = tokio::net::TcpListener::from_std(socket)?;
        let router = http::router(self.gateway.clone());
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(error) = axum::serve(socket, service).await {
                tracing::warn!(%error, "noex-server: the listener stopped");
            }
        });
        self.serving = Some(task.abort_handle());
        *self.gateway.serving.lock() = Some(task);
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
