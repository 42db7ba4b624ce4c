//! Time and teardown in the sans-IO core, with time passed in as a value: keepalive, the
//! idle, close and read deadlines, and when the transport ends (RFC 6455 section 7.1.1 and
//! 7.1.7). No sockets and no clocks: every instant here is written down.

use std::time::Duration;

use rfc6455::{
    CloseCode, Config, Connection, Event, Keepalive, ProtocolError, Role, State, Teardown,
    TimeoutError,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(keepalive: Keepalive, close_timeout: Duration) -> Config {
    let mut config = Config::default();
    config.keepalive = keepalive;
    config.close_timeout = close_timeout;
    config
}

fn pair(config: &Config) -> (Connection, Connection) {
    (
        Connection::with_seed(Role::Client, config.clone(), [3; 32]),
        Connection::new(Role::Server, config.clone()),
    )
}

fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// `role`'s connection and a peer for it.
fn with_peer(role: Role, config: &Config) -> (Connection, Connection) {
    let (client, server) = pair(config);
    match role {
        Role::Client => (client, server),
        Role::Server => (server, client),
    }
}

/// Everything `from` has queued, written into `to`.
fn transfer(from: &mut Connection, to: &mut Connection) {
    let out = from.pending_output().to_vec();
    from.consume_output(out.len());
    to.recv(&out);
}

/// Takes every event, returning how many pings and pongs came.
fn drain(conn: &mut Connection) -> (usize, usize) {
    let (mut pings, mut pongs) = (0, 0);
    while let Ok(Some(event)) = conn.next_event() {
        match event {
            Event::Ping(_) => pings += 1,
            Event::Pong(_) => pongs += 1,
            _ => {}
        }
    }
    (pings, pongs)
}

#[test]
fn the_clock_starts_at_the_first_handle_timeout() {
    let mut conn = Connection::new(Role::Server, Config::default());
    assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
    conn.handle_timeout(Duration::from_secs(100)).unwrap();
    // The default keepalive: a ping 20 s after the start.
    assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(120)));
    let mut quiet = Connection::new(Role::Server, config(Keepalive::off(), ms(5000)));
    quiet.handle_timeout(Duration::ZERO).unwrap();
    assert_eq!(quiet.poll_timeout(), None, "nothing is timed");
}

#[test]
fn keepalive_pings_after_silence_and_input_pushes_the_ping_back() {
    for role in [Role::Client, Role::Server] {
        let cfg = config(Keepalive::new(ms(100), ms(1000)), ms(5000));
        let (mut conn, mut peer) = with_peer(role, &cfg);
        conn.handle_timeout(ms(0)).unwrap();
        assert_eq!(conn.poll_timeout(), Some(ms(100)));
        // The peer speaks at 60 ms: the ping moves to 160 ms.
        peer.send_text("alive").unwrap();
        transfer(&mut peer, &mut conn);
        drain(&mut conn);
        conn.handle_timeout(ms(60)).unwrap();
        conn.handle_timeout(ms(159)).unwrap();
        assert!(
            conn.pending_output().is_empty(),
            "{role:?}: no ping before 160 ms"
        );
        assert_eq!(conn.poll_timeout(), Some(ms(160)));
        conn.handle_timeout(ms(160)).unwrap();
        transfer(&mut conn, &mut peer);
        assert_eq!(drain(&mut peer), (1, 0), "{role:?}: one ping");
        // The pong comes back: a sign of life, and the next ping is an interval later.
        transfer(&mut peer, &mut conn);
        assert_eq!(drain(&mut conn), (0, 1));
        conn.handle_timeout(ms(170)).unwrap();
        assert_eq!(conn.poll_timeout(), Some(ms(270)));
    }
}

#[test]
fn a_silent_peer_is_given_up_at_the_idle_timeout_and_the_transport_aborted() {
    for role in [Role::Client, Role::Server] {
        let cfg = config(Keepalive::new(ms(100), ms(300)), ms(5000));
        let mut conn = with_peer(role, &cfg).0;
        conn.handle_timeout(ms(0)).unwrap();
        conn.handle_timeout(ms(100)).unwrap(); // a ping, unanswered
        conn.handle_timeout(ms(200)).unwrap(); // another
        assert_eq!(conn.poll_timeout(), Some(ms(300)));
        assert_eq!(
            conn.handle_timeout(ms(300)),
            Err(TimeoutError::PeerUnresponsive(ms(300)))
        );
        assert_eq!(conn.state(), State::Failed);
        assert!(
            conn.pending_output().is_empty(),
            "unwritten pings discarded"
        );
        assert_eq!(conn.poll_teardown(), Some(Teardown::Abort));
        assert_eq!(conn.poll_teardown(), None, "handed out once");
        assert!(conn.is_finished());
        assert_eq!(conn.poll_timeout(), None);
        assert_eq!(conn.handle_timeout(ms(400)), Ok(()));
        assert_eq!(conn.next_event(), Ok(None));
    }
}

#[test]
fn the_close_deadline_is_absolute_however_the_bytes_trickle() {
    for role in [Role::Client, Role::Server] {
        let cfg = config(Keepalive::off(), ms(500));
        let (mut conn, mut peer) = with_peer(role, &cfg);
        conn.handle_timeout(ms(0)).unwrap();
        conn.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(conn.poll_timeout(), Some(ms(0)), "due to start");
        conn.handle_timeout(ms(10)).unwrap();
        assert_eq!(conn.poll_timeout(), Some(ms(510)));
        // The peer ignores the close and sends a small message every 20 ms.
        let mut t = 10;
        while t < 500 {
            t += 20;
            peer.send_binary(b"tick").unwrap();
            transfer(&mut peer, &mut conn);
            while let Ok(Some(_)) = conn.next_event() {}
            if t >= 510 {
                break;
            }
            assert_eq!(conn.handle_timeout(ms(t)), Ok(()), "{role:?} at {t} ms");
        }
        assert_eq!(conn.poll_timeout(), Some(ms(510)), "never moved");
        assert_eq!(
            conn.handle_timeout(ms(510)),
            Err(TimeoutError::CloseTimeout(ms(500)))
        );
        assert_eq!(conn.poll_teardown(), Some(Teardown::Abort));
    }
}

#[test]
fn no_keepalive_ping_and_no_ping_deadline_while_closing() {
    let cfg = config(Keepalive::new(ms(100), ms(10_000)), ms(1000));
    let (mut conn, _peer) = with_peer(Role::Server, &cfg);
    conn.handle_timeout(ms(0)).unwrap();
    conn.close(CloseCode::NORMAL, "").unwrap();
    let n = conn.pending_output().len();
    conn.consume_output(n);
    conn.handle_timeout(ms(0)).unwrap();
    // Only the close deadline: no ping is due (a ping after a close may not be sent).
    assert_eq!(conn.poll_timeout(), Some(ms(1000)));
    for t in (100..1000).step_by(100) {
        conn.handle_timeout(ms(t)).unwrap();
        assert!(conn.pending_output().is_empty(), "a frame after our close");
    }
}

#[test]
fn a_read_deadline_reports_once_and_leaves_the_connection_intact() {
    let cfg = config(Keepalive::off(), ms(5000));
    let (mut client, mut server) = pair(&cfg);
    server.handle_timeout(ms(0)).unwrap();
    server.set_read_deadline(Some(ms(200)));
    assert_eq!(server.poll_timeout(), Some(ms(200)));
    // Half a message by the deadline.
    client.send_text("hello, slowly").unwrap();
    let wire = client.pending_output().to_vec();
    server.recv(&wire[..7]);
    assert_eq!(server.next_event(), Ok(None));
    assert_eq!(server.handle_timeout(ms(200)), Err(TimeoutError::Read));
    assert_eq!(server.read_deadline(), None, "cleared");
    assert_eq!(server.state(), State::Open);
    assert_eq!(server.poll_teardown(), None);
    server.recv(&wire[7..]);
    assert_eq!(server.next_event(), Ok(Some(Event::Text("hello, slowly"))));
}

#[test]
fn durations_too_long_to_add_saturate() {
    let cfg = config(Keepalive::new(Duration::MAX, Duration::MAX), Duration::MAX);
    let mut conn = Connection::new(Role::Server, cfg);
    conn.handle_timeout(Duration::from_secs(1)).unwrap();
    conn.set_read_deadline(Some(Duration::MAX));
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.handle_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(conn.poll_timeout(), Some(Duration::MAX));
    assert_eq!(conn.handle_timeout(Duration::MAX - ms(1)), Ok(()));
}

#[test]
fn a_server_ends_tcp_as_soon_as_its_close_reply_is_written() {
    let (mut client, mut server) = pair(&Config::default());
    client.close(CloseCode::NORMAL, "bye").unwrap();
    transfer(&mut client, &mut server);
    assert!(matches!(server.next_event(), Ok(Some(Event::Close(_)))));
    assert_eq!(server.state(), State::Closing, "the reply is queued");
    assert!(!server.is_closed());
    assert_eq!(server.poll_teardown(), None);
    assert!(!server.is_finished());
    transfer(&mut server, &mut client);
    assert_eq!(server.state(), State::Closed);
    assert!(server.is_closed());
    assert_eq!(server.poll_teardown(), Some(Teardown::EndOutput));
    assert!(server.is_finished());
}

#[test]
fn a_client_waits_for_the_server_to_end_tcp_then_ends_its_own() {
    let cfg = config(Keepalive::off(), ms(500));
    let (mut client, mut server) = pair(&cfg);
    client.handle_timeout(ms(0)).unwrap();
    server.close(CloseCode::GOING_AWAY, "").unwrap();
    transfer(&mut server, &mut client);
    assert!(matches!(client.next_event(), Ok(Some(Event::Close(_)))));
    transfer(&mut client, &mut server);
    assert_eq!(client.state(), State::Closed);
    assert_eq!(
        client.poll_teardown(),
        None,
        "waiting for the server's end of TCP"
    );
    assert!(!client.is_finished());
    client.handle_timeout(ms(100)).unwrap();
    assert_eq!(client.poll_timeout(), Some(ms(600)));
    client.recv_eof();
    assert_eq!(
        client.next_event(),
        Ok(None),
        "EOF after the close handshake is normal"
    );
    assert_eq!(client.poll_teardown(), Some(Teardown::EndOutput));
    assert!(client.is_finished());
}

#[test]
fn a_client_whose_server_never_ends_tcp_ends_it_after_the_close_timeout() {
    let cfg = config(Keepalive::off(), ms(500));
    let (mut client, mut server) = pair(&cfg);
    client.handle_timeout(ms(0)).unwrap();
    client.close(CloseCode::NORMAL, "").unwrap();
    transfer(&mut client, &mut server);
    server.next_event().unwrap();
    transfer(&mut server, &mut client);
    assert!(matches!(client.next_event(), Ok(Some(Event::Close(_)))));
    client.handle_timeout(ms(100)).unwrap();
    assert_eq!(client.poll_teardown(), None);
    assert_eq!(client.poll_timeout(), Some(ms(600)));
    // Not an error: the handshake completed; the server was just slow to hang up.
    assert_eq!(client.handle_timeout(ms(600)), Ok(()));
    assert_eq!(client.poll_teardown(), Some(Teardown::EndOutput));
    assert!(client.is_finished());
}

#[test]
fn a_protocol_failure_ends_tcp_once_its_close_frame_is_written() {
    for role in [Role::Client, Role::Server] {
        let cfg = config(Keepalive::off(), ms(500));
        let mut conn = with_peer(role, &cfg).0;
        conn.handle_timeout(ms(0)).unwrap();
        // A frame with RSV2 set: 1002 from either side (masked as the peer must).
        let mut bad = Connection::with_seed(other(role), cfg.clone(), [9; 32]);
        bad.send_binary(b"x").unwrap();
        let mut wire = bad.pending_output().to_vec();
        wire[0] |= 0x20;
        conn.recv(&wire);
        assert_eq!(
            conn.next_event(),
            Err(ProtocolError::ReservedBits(0b010)),
            "{role:?}"
        );
        assert_eq!(
            conn.poll_teardown(),
            None,
            "the close frame is not written yet"
        );
        let n = conn.pending_output().len();
        assert!(n > 0);
        conn.consume_output(n);
        assert_eq!(conn.poll_teardown(), Some(Teardown::EndOutput));
        assert!(conn.is_finished() && conn.is_closed());
    }
}

#[test]
fn a_failure_whose_close_frame_is_never_taken_is_abandoned_at_the_close_timeout() {
    let cfg = config(Keepalive::off(), ms(500));
    let mut conn = Connection::new(Role::Server, cfg);
    conn.handle_timeout(ms(0)).unwrap();
    conn.recv(&[0x81, 0x01, b'x']); // unmasked, from a client: 1002
    assert_eq!(conn.next_event(), Err(ProtocolError::UnmaskedFrame));
    conn.handle_timeout(ms(10)).unwrap();
    assert_eq!(conn.poll_timeout(), Some(ms(510)));
    assert_eq!(
        conn.handle_timeout(ms(510)),
        Err(TimeoutError::CloseTimeout(ms(500)))
    );
    assert_eq!(conn.poll_teardown(), Some(Teardown::Abort));
}

#[test]
fn the_copy_free_send_path_is_public_and_resumable() {
    let (mut client, mut server) = pair(&Config::default());
    let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let head = server
        .send_unbuffered(rfc6455::MessageKind::Binary, payload.len())
        .unwrap()
        .expect("a server frame");
    // The socket took the header and part of the payload; the rest is queued.
    let mut wire = head.as_bytes().to_vec();
    wire.extend_from_slice(&payload[..30_000]);
    server.queue_unwritten(&[], &payload[30_000..]);
    wire.extend_from_slice(server.pending_output());
    client.recv(&wire);
    assert_eq!(client.next_event(), Ok(Some(Event::Binary(&payload[..]))));
    // A client masks, so it copies: no copy-free path.
    assert_eq!(
        client.send_unbuffered(rfc6455::MessageKind::Binary, 10),
        Ok(None)
    );
}
