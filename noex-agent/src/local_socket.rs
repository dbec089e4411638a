//! The local socket the agent listens on: a Unix domain socket through tokio on Unix, a
//! named pipe through interprocess on Windows.
//!
//! The agent reads a connection in one future and writes it in another, so a
//! [`Stream`] is read and written through a shared reference (`&Stream`), as a file
//! descriptor allows.

#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
use windows as imp;

pub use imp::Stream;
#[cfg(feature = "client")]
pub use imp::connect;
#[cfg(feature = "server")]
pub use imp::{Listener, peer_uid};

#[cfg(unix)]
mod unix {
    use std::io;
    use std::path::Path;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::UnixStream;

    /// One connection.
    #[derive(Debug)]
    pub struct Stream(UnixStream);

    /// The most one read asks for: more than a socket's receive buffer holds.
    const MAX_READ: usize = 256 * 1024;

    #[cfg(feature = "client")]
    /// Connects to the socket at `path`.
    pub async fn connect(path: &Path) -> io::Result<Stream> {
        UnixStream::connect(path).await.map(Stream)
    }

    #[cfg(feature = "server")]
    /// The effective uid of the process at the other end, as the kernel recorded it
    /// when it connected.
    pub fn peer_uid(stream: &Stream) -> io::Result<Option<u32>> {
        Ok(Some(stream.0.peer_cred()?.uid()))
    }

    // Readiness and `try_*` take `&UnixStream`, so reading and writing through shared
    // references is what tokio's own borrowed halves do.
    impl AsyncRead for &Stream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            loop {
                ready!(self.0.poll_read_ready(cx))?;
                // Only as much as one read can bring: a codec waiting for a
                // 300 MB frame offers its whole spare capacity, and zeroing all of it
                // before every read made receiving a frame quadratic.
                let chunk = buf.remaining().min(MAX_READ);
                match self.0.try_read(buf.initialize_unfilled_to(chunk)) {
                    Ok(read) => {
                        buf.advance(read);
                        return Poll::Ready(Ok(()));
                    }
                    // A spurious wake-up: readiness is cleared, poll again.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
    }

    impl AsyncWrite for &Stream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            loop {
                ready!(self.0.poll_write_ready(cx))?;
                match self.0.try_write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    written => return Poll::Ready(written),
                }
            }
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            // A socket has no buffer of ours to flush.
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(socket2::SockRef::from(&self.0).shutdown(std::net::Shutdown::Write))
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut &*self).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut &*self).poll_write(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut &*self).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut &*self).poll_shutdown(cx)
        }
    }

    #[cfg(feature = "server")]
    /// A listening socket. Dropping it leaves the file: the agent removes the file
    /// itself, and only while it is still its own.
    #[derive(Debug)]
    pub struct Listener(tokio::net::UnixListener);

    #[cfg(feature = "server")]
    impl Listener {
        /// Binds `path` with mode 0600, first removing a file in the way if `overwrite`.
        /// The mode is set right after binding; the directory is private (0700), so
        /// nobody else can connect in between.
        pub fn bind(path: &Path, overwrite: bool) -> io::Result<Listener> {
            use std::os::unix::fs::PermissionsExt;
            if overwrite {
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            let listener = tokio::net::UnixListener::bind(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            Ok(Listener(listener))
        }

        /// The next connection.
        pub async fn accept(&self) -> io::Result<Stream> {
            self.0.accept().await.map(|(stream, _)| Stream(stream))
        }
    }
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::path::Path;

    use interprocess::local_socket::traits::tokio::Listener as _;
    use interprocess::local_socket::{ConnectOptions, GenericFilePath, ListenerOptions, ToFsName};

    /// One connection: a named pipe, read and written through `&Stream`.
    pub type Stream = interprocess::local_socket::tokio::Stream;

    #[cfg(feature = "client")]
    /// Connects to the pipe named `path`.
    pub async fn connect(path: &Path) -> io::Result<Stream> {
        let name = path.to_fs_name::<GenericFilePath>()?;
        ConnectOptions::new().name(name).connect_tokio().await
    }

    #[cfg(feature = "server")]
    /// No uids here: the pipe's own security decides who connects.
    pub fn peer_uid(_stream: &Stream) -> io::Result<Option<u32>> {
        Ok(None)
    }

    #[cfg(feature = "server")]
    /// A listening pipe; it goes away with the listener.
    #[derive(Debug)]
    pub struct Listener(interprocess::local_socket::tokio::Listener);

    #[cfg(feature = "server")]
    impl Listener {
        /// Creates the pipe named `path`; `overwrite` takes over a stale name.
        pub fn bind(path: &Path, overwrite: bool) -> io::Result<Listener> {
            ListenerOptions::new()
                .name(path.to_fs_name::<GenericFilePath>()?)
                .try_overwrite(overwrite)
                .create_tokio()
                .map(Listener)
        }

        /// The next connection.
        pub async fn accept(&self) -> io::Result<Stream> {
            self.0.accept().await
        }
    }
}
