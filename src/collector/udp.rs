//! The collector's UDP listeners (Jaeger's agent ports): every datagram
//! goes to the intake registered for the listener; one it cannot read is
//! dropped and counted (`IntakeStats`), never fatal.

use std::future::Future;
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::intake::{IntakeContext, UdpIntake};
use super::ports::Listener;

/// Jaeger's agent reads datagrams of up to 65000 bytes; take any UDP size.
const MAX_DATAGRAM: usize = 65_535;

/// Read datagrams from `socket` into `handle` until `shutdown`.
pub async fn serve(
    socket: UdpSocket,
    listener: Listener,
    handle: UdpIntake,
    intake: Arc<IntakeContext>,
    shutdown: impl Future<Output = ()>,
) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                let Ok((length, _peer)) = received else {
                    // ICMP errors from an earlier send and the like: keep reading.
                    continue;
                };
                let result = handle(&buffer[..length], &intake);
                intake.stats.datagram(listener, &result);
            }
            () = &mut shutdown => break,
        }
    }
}
